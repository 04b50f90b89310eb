"""The session base class: 1.0.1's API over one short I/O loop.

Every pcpi call, logins and refreshes included, goes through
:meth:`Session._send`.  For each attempt it asks the session's authenticator
(:mod:`pcpi._auth`) for a valid token, waits its turn under the rate limit
(:mod:`pcpi._pacing`), sends through the transport (:mod:`pcpi._transport`),
and asks :func:`pcpi._retry.decide` what the outcome calls for: return it,
raise, retry after a delay (429/5xx backoff with ``Retry-After``, connection
failures of calls safe to repeat), or have the authenticator judge a 401.

Subclasses only say how they log in (``_api_login``, ``_api_refresh``,
``_expired_login``) and which header carries the token; no per-call state
lives on ``self``, so any number of threads can share one session.
"""

from __future__ import annotations

import time
from typing import (
    Any,
    Callable,
    Collection,
    Dict,
    Iterable,
    List,
    Optional,
    Tuple,
    Type,
    cast,
)
from urllib.parse import urlsplit

import requests

from ._answer import NotJSON, strict_json
from ._auth import Authenticator, CallAuth, Exchange
from ._body import Payload
from ._log import Log, boundary, self_log
from ._login import LoginSupport
from ._logins import Login
from ._pacing import Key, endpoint_key
from ._pager import Pager, paginate
from ._policy import RetryPolicy, is_safe_to_repeat
from ._redact import redact, remember, secret, without_query
from ._retry import (
    EXHAUSTED,
    NOT_REPLAYABLE,
    PROCESSED,
    RAISE,
    REAUTH,
    RETRY,
    SUCCESS,
    UNSAFE,
    CallRules,
    Progress,
    decide,
)
from ._rql import MAX_PAGES, config_search_pages, total_rows
from ._session_pickle import reduce_session
from ._transport import Timeout, Transport, normalize_verify
from ._types import JSON, Proxies, Verify

__all__ = ["Session", "VALID_METHODS"]

VALID_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")

# How much of a body is redacted before a preview of it is cut to length.
_PREVIEW_WINDOW = 1 << 20


class Session(LoginSupport):
    """Base of the CSPM, Compute and CNA sessions (``pcpi._session_base.Session``)."""

    #: header carrying the token, and its prefix; set by subclasses
    auth_key = "Authorization"
    auth_style = "Bearer "
    #: how this product logs in (:mod:`pcpi._logins`)
    login_class: Type[Login] = Login

    def __init__(self, logger: Any, *, transport: Optional[Transport] = None,
                 retry_policy: Optional[RetryPolicy] = None, retries: int = 20):
        """``transport`` is shared with the session manager's other sessions;
        ``retry_policy`` tunes backoff and connection retries."""
        # 1.0.1 attributes, read live by every call
        self.retries = retries
        self.retry_statuses: List[int] = [401, 425, 429, 500, 502, 503, 504]
        self.retry_delay_statuses: List[int] = [429, 500, 502, 503, 504]
        self.success_status: List[int] = [200, 201, 202, 203, 204, 205, 206]
        self.expired_code = 401
        #: the delay last waited before resending a 429/5xx answer; 0 again as soon
        #: as a resent call succeeds (1.0.1's timer, which never came down)
        self.retry_timer: float = 0
        self.retry_timer_max = 32
        #: refresh a token at least this often (seconds); a token that states no
        #: expiry is taken to live this long
        self.token_time = 360
        self.empty_res = ""
        self.u_count = 1
        self.unknown_error_max = 5
        self.logger = logger
        self.headers: Dict[str, Any] = {}

        self.retry_policy: RetryPolicy = retry_policy or RetryPolicy()
        self._transport = transport if transport is not None else Transport()
        self._source = self.login_class(self)
        self._auth = Authenticator(self._source)

    # ------------------------------------------------------------------ attributes
    @property
    def logger(self) -> Any:
        return self._log.logger

    @logger.setter
    def logger(self, value: Any) -> None:
        self._log = Log(value)

    @property
    def transport(self) -> Transport:
        """The pooled transport this session sends through."""
        return self._transport

    def __reduce__(self) -> Tuple[Any, ...]:  # as its manager's session (no token, no socket)
        return reduce_session(self)

    def _set_tenant(self, tenant_name: str, a_key: str, s_key: str, api_url: str,
                    verify: Any, proxies: Optional[Proxies]) -> None:
        """The 1.0.1 attributes that say which tenant this is and how to reach it."""
        self.tenant = tenant_name
        self.a_key = a_key
        self.s_key: str = secret(s_key)
        remember(s_key, lasting=True)
        self.api_url: str = api_url.rstrip("/")
        self.verify = verify
        self.proxies = proxies

    def _auth_value(self) -> Optional[str]:
        return self.headers.get(self.auth_key)

    # ------------------------------------------------------------------ public API
    @boundary(self_log)
    def request(self, method: str, endpoint_url: str, json: JSON = None, data: Any = None,
                params: Any = None, files: Any = None, verify: Optional[Verify] = None,
                proxies: Optional[Proxies] = None, acceptCsv: bool = False,
                redlock_ignore: Optional[Iterable[str]] = None,
                status_ignore: Collection[int] = [],  # noqa: B006
                custom_log: str = "", custom_error_message: str = "", *,
                timeout: Optional[Timeout] = None,
                idempotent: Optional[bool] = None) -> requests.Response:
        """Call the API at ``api_url + endpoint_url`` with this session's token.

        Same arguments as 1.0.1 (and ``requests.request`` minus ``headers``), plus
        ``timeout`` (seconds, or ``(connect, read)``) and ``idempotent`` (whether
        the call may be sent twice; by default GET/PUT/DELETE and Prisma Cloud's
        read-only POSTs are).  Returns the ``requests.Response``; raises
        requests' exception when the connection keeps failing.
        """
        method = _check_method(method)
        if not isinstance(endpoint_url, str) or not endpoint_url.strip():
            raise ValueError("endpoint_url must be a non-empty path such as '/cloud'")
        if not endpoint_url.startswith("/"):
            endpoint_url = "/" + endpoint_url
        if getattr(self, "project_flag", False):
            params = dict(params or {})
            params["project"] = self.tenant
        return self._send(method, f"{self.api_url}{endpoint_url}", json=json, data=data,
                          params=params, files=files, verify=verify, proxies=proxies,
                          accept_csv=acceptCsv, redlock_ignore=redlock_ignore,
                          status_ignore=status_ignore, custom_log=custom_log,
                          custom_error_message=custom_error_message, timeout=timeout,
                          idempotent=idempotent)

    def paginate(self, method: str, endpoint_url: str, json: Optional[Dict[str, Any]] = None,
                 params: Any = None, *, style: Optional[str] = None,
                 items_key: Optional[str] = None, page_size: Optional[int] = None,
                 max_items: Optional[int] = None, resume: Optional[Dict[str, Any]] = None,
                 max_pages: int = MAX_PAGES) -> Pager:
        """A lazy :class:`~pcpi.Pager` over a listing: iterate it for the items
        (one page in memory at a time) or ``.pages()`` for lists of them.

        ``style`` is ``"rql"``, ``"body-token"``, ``"offset"`` or ``"query-token"``;
        None takes it from pcpi's catalogue of Prisma Cloud endpoints
        (``ValueError`` for an endpoint it does not know).  ``items_key`` (a
        dotted path, "" for a bare array) and ``page_size`` (clamped to the
        family's cap) override the catalogue; ``max_items`` ends the listing
        early; ``resume`` (a pager's or an ``IncompleteResultError``'s
        ``.resume``) goes on after what was delivered; ``max_pages`` bounds one
        run.  Nothing is sent until the pager is iterated.  README, "Paging".
        """
        return paginate(self, method, endpoint_url, json, params, style=style,
                        items_key=items_key, page_size=page_size, max_items=max_items,
                        resume=resume, max_pages=max_pages)

    @boundary(self_log)
    def config_search_request(self, json: Dict[str, Any], verify: Optional[Verify] = None,
                              proxies: Optional[Proxies] = None,
                              redlock_ignore: Optional[Iterable[str]] = None,
                              status_ignore: Collection[int] = [], *,  # noqa: B006
                              max_pages: int = MAX_PAGES) -> Dict[str, Any]:
        """Run an RQL config search and return every page merged into the first
        response (``data.items`` and ``data.totalRows`` cover all pages).  The
        caller's ``json`` is not modified.  A page that fails, a repeated page
        token or more than ``max_pages`` pages raise
        :class:`~pcpi.errors.IncompleteResultError`: never a partial result."""
        rows = 0
        items: List[Any] = []
        first: Optional[Dict[str, Any]] = None
        for details, data, _counter, _total, keys in config_search_pages(
                self, json, max_pages=max_pages, verify=verify, proxies=proxies,
                max_bytes=self._transport.max_response_bytes,
                redlock_ignore=redlock_ignore, status_ignore=status_ignore):
            if first is None:  # in the server's order, "data" where it was
                first = {k: data if k == "data" else details[k] for k in keys}
            items.extend(data.get("items") or [])
            rows += total_rows(data)
        assert first is not None  # the generator yields the first page or raises
        first["data"].update({"totalRows": rows, "items": items})
        return first

    @boundary(self_log)
    def config_search_request_function(self, json: Dict[str, Any],
                                       function: Callable[[Dict[str, Any], Dict[str, Any],
                                                           int, int], Any],
                                       verify: Optional[Verify] = None,
                                       proxies: Optional[Proxies] = None,
                                       redlock_ignore: Optional[Iterable[str]] = None,
                                       status_ignore: Collection[int] = [], *,  # noqa: B006
                                       max_pages: int = MAX_PAGES) -> int:
        """Run an RQL config search, calling ``function(details, data, page,
        total_rows)`` for each page as it arrives; returns the total row count.
        The caller's ``json`` is not modified.  The callback only ever sees
        pages; a failure raises :class:`~pcpi.errors.IncompleteResultError`
        saying how many pages it was given."""
        total = 0
        for details, data, counter, total, _keys in config_search_pages(
                self, json, max_pages=max_pages, verify=verify, proxies=proxies,
                redlock_ignore=redlock_ignore, status_ignore=status_ignore):
            function(details, data, counter, total)
        return total

    # ------------------------------------------------------------------ the I/O loop
    def _send(self, method: str, url: str, *, json: Any = None, data: Any = None,
              params: Any = None, files: Any = None, verify: Any = None,
              proxies: Optional[Proxies] = None, accept_csv: bool = False,
              redlock_ignore: Optional[Iterable[str]] = None,
              status_ignore: Collection[int] = (), custom_log: str = "",
              custom_error_message: str = "", timeout: Optional[Timeout] = None,
              idempotent: Optional[bool] = None, authenticated: bool = True,
              headers: Optional[Dict[str, Any]] = None, quiet: bool = False,
              max_retries: Optional[int] = None) -> requests.Response:
        """Send one call: attempts until :func:`pcpi._retry.decide` says to stop
        (``max_retries`` caps resends of any kind, for a proactive refresh)."""
        log = self._log
        policy = self.retry_policy
        transport = self._transport
        pacer = transport.pacer
        # (used only when there is a pacer)
        pace_key = cast(Key, endpoint_key(method, url) if pacer is not None else None)
        # a per-call verify as the constructor reads it ("false" is False, "" True)
        verify = self.verify if verify is None else normalize_verify(verify)
        if verify is False:
            transport.unverified(url, self.tenant)  # (once per origin)
        proxies = self.proxies if proxies is None else proxies
        note = f" - {custom_log}" if custom_log else ""
        body = Payload.of(json=json, data=data, files=files)  # the same bytes every attempt
        rules = self._rules(method, url, idempotent, body, authenticated, status_ignore,
                            max_retries)
        progress = Progress()
        auth = self._auth
        call_auth: Optional[CallAuth] = None
        # the headers as they are now: another thread may change session.headers in
        # place while this call is in flight (the token is read per attempt, below)
        own = _snapshot(self.headers) if authenticated else dict(headers or {})
        if accept_csv:
            own["Accept"] = "text/csv"
        while True:
            sent_at = None
            checked = False  # the token was checked, and no wait came after it
            if pacer is not None:
                if authenticated:
                    # a due refresh first: a call that goes first to a new endpoint
                    # (the others wait for its answer) must not wait for it there
                    auth.before_call()
                    checked = True
                started = pacer.clock()
                waited = 0.0
                while True:  # our turn under the tenant's rate limit (max_wait in all)
                    wait, taken = pacer.take(pace_key)
                    if waited <= 1.0 < waited + wait and log.enabled(20) and \
                            pacer.report_due(pace_key):
                        self._report_wait(pacer, pace_key, method, url)
                    if wait > 0:
                        policy.sleep(wait)
                        waited += wait
                    if taken or waited >= pacer.max_wait:
                        break
                sent_at = pacer.clock()
                checked = checked and sent_at - started < 0.05  # (a first answer waited for)
            try:
                call_headers = own
                if authenticated:
                    if not checked:  # after a wait: the token must be valid when it leaves
                        auth.before_call()
                    sent_cred = auth.credential
                    sent_clock = auth.clock()
                    used = self.headers.get(self.auth_key)
                    if own.get(self.auth_key) is not used:
                        call_headers = {**own, self.auth_key: used}
                    if sent_cred is None or used != sent_cred.header:
                        remember(used)  # a token set by hand is a secret too
                t0 = time.perf_counter()
                res = transport.send(method, url, headers=call_headers, body=body,
                                     params=params, verify=verify, proxies=proxies,
                                     timeout=timeout)
            except BaseException as exc:
                if pacer is not None:
                    pacer.release(pace_key)  # calls waiting for a first answer go on
                if not isinstance(exc, requests.RequestException):
                    raise
                decision = decide(rules, progress, error=exc)
                what = self._redact(_describe(exc))
                if decision.action == RAISE:
                    why = f"; not retried: {body.not_replayable}" \
                        if decision.why == NOT_REPLAYABLE else ""
                    log.error(f"FAILED {method} {without_query(url)} - {what}{note}{why}")
                    raise
                progress.conn_failures += 1
                log.warning(f"{what} on {method} {without_query(url)}; retrying in "
                            f"{decision.delay:.1f} seconds ({progress.conn_failures} of "
                            f"{policy.connection_retries})")
                policy.sleep(decision.delay)
                continue
            elapsed = round(time.perf_counter() - t0, 3)
            answered_clock = auth.clock()
            status = res.status_code
            if pacer is not None:
                pacer.observe(pace_key, status, res.headers, sent_at=sent_at)
            decision = decide(rules, progress, status=status, headers=res.headers,
                              processed=bool(res.history) and res.request.method != method,
                              paced=status == 429 and pacer is not None and
                              pacer.governs(pace_key))
            if decision.action == RETRY:
                progress.throttled += 1
                self.retry_timer = decision.delay
                err = f" - {custom_error_message}" if custom_error_message else ""
                log.warning(f"FAILED {status} - {elapsed} seconds{note}{err} - {method} "
                            f"{without_query(url)}; waiting {decision.delay:.1f} seconds "
                            f"(retry {progress.throttled} of {rules.retries})")
                res.close()
                policy.sleep(decision.delay)
                continue
            if decision.action == REAUTH:
                log.warning(f"FAILED {status} - {elapsed} seconds{note} - {method} "
                            f"{without_query(url)}")
                res.close()
                if call_auth is None:
                    call_auth = CallAuth()
                auth.after_401(used, sent_cred, call_auth, f"{method} {without_query(url)}",
                               answered_at=answered_clock,
                               timeout=_pair(timeout or transport.timeout))
                continue
            if authenticated and decision.why == SUCCESS and sent_cred is not None and \
                    used == sent_cred.header:
                auth.accepted(sent_cred, sent_clock)  # (proof the token was alive then)
            return self._returned(res, decision.why, progress, method, url, elapsed, note,
                                  custom_error_message, body, redlock_ignore, quiet)

    def _report_wait(self, pacer: Any, key: Any, method: str, url: str) -> None:
        limit = pacer.limit(key)
        pace = f", pacing at {limit[0]:.3g} calls per second" if limit else ""
        self._log.info(f"Waiting more than a second for the tenant's rate limit on {method} "
                       f"{without_query(url)}{pace} (said once a minute per endpoint)")

    def _rules(self, method: str, url: str, idempotent: Optional[bool], body: Payload,
               authenticated: bool, status_ignore: Collection[int],
               max_retries: Optional[int] = None) -> CallRules:
        """What is fixed for one call, from the 1.0.1 attributes as they are now."""
        retries = self.retries if max_retries is None else min(self.retries, max_retries)
        return CallRules(
            policy=self.retry_policy,
            safe=is_safe_to_repeat(method, urlsplit(url).path, idempotent),
            not_replayable=body.not_replayable, authenticated=authenticated,
            retries=retries, connection_retries=max_retries,
            success=self.success_status, ignore=status_ignore or (),
            expired_code=self.expired_code, backs_off=self.retry_delay_statuses,
            also_backs_off=self.retry_statuses, retry_timer_max=float(self.retry_timer_max))

    def _returned(self, res: requests.Response, why: str, progress: Progress, method: str,
                  url: str, elapsed: float, note: str, custom_error_message: str,
                  body: Payload, redlock_ignore: Optional[Iterable[str]],
                  quiet: bool) -> requests.Response:
        """Log what a returned answer means (as 1.0.1 did) and return it."""
        log = self._log
        if why == SUCCESS:
            if progress.throttled:
                self.retry_timer = 0  # recovered: the next throttle starts small
            if not quiet and log.success_enabled():  # (no message built for nowhere)
                log.success(f"SUCCESS - {elapsed} seconds{note} - {method} {without_query(url)}")
            return res
        if quiet:
            return res
        status = res.status_code
        where = f"{method} {without_query(url)}"
        if why == EXHAUSTED:
            log.error(f"ERROR. Max retries exceeded: {where} still answered {status} after "
                      f"{progress.throttled} retries")
        elif why == UNSAFE:
            log.warning(f"{where} answered {status} and was not resent: the call is not safe "
                        f"to repeat (it may have been applied); pass idempotent=True if it is")
        elif why == PROCESSED:
            log.warning(f"{where} was redirected to a GET that answered {status}; not resent, "
                        f"since the redirect says the call was processed")
        elif why == NOT_REPLAYABLE:
            log.error(f"FAILED {status} - {elapsed} seconds{note} - {where}; not retried: "
                      f"{body.not_replayable}")
            return res
        if redlock_ignore and _redlock_matches(res, redlock_ignore):
            return res
        self._log_failure(res, method, url, elapsed, note, custom_error_message)
        return res

    def _log_failure(self, res: requests.Response, method: str, url: str, elapsed: float,
                     note: str, custom_error_message: str) -> None:
        log = self._log
        err = f" - {custom_error_message}" if custom_error_message else ""
        log.error(f"FAILED {res.status_code} - {elapsed} seconds{note}{err} - "
                  f"{method} {without_query(url)}")
        status = res.headers.get("x-redlock-status")
        if status:
            log.warning(f"x-redlock-status: {self._redact(status)}")
        if log.enabled(20):
            log.info(f"RESPONSE TEXT: {self._preview(res)}")

    def _exchange_call(self, method: str, url: str, body: Optional[bytes],
                       headers: Dict[str, Any], exchange: Exchange) -> requests.Response:
        """One login or refresh exchange (no token of its own; a 401 is returned
        for the login to judge), sent as ``exchange`` says."""
        return self._send(method, url, data=body, authenticated=False, headers=headers,
                          status_ignore=(self.expired_code,), idempotent=True, quiet=True,
                          timeout=exchange.timeout, max_retries=exchange.max_retries)

    # ------------------------------------------------------------------ text from servers
    def _secret_values(self) -> Tuple[Optional[str], ...]:
        """What must never reach a log line or an error message verbatim."""
        return (self.token, getattr(self, "cspm_token", None), getattr(self, "s_key", None),
                getattr(self, "passwd", None), self._auth_value())

    def _redact(self, text: str) -> str:
        return redact(text, self._secret_values())

    def _preview(self, res: requests.Response, limit: int = 500) -> str:
        """The start of an answer's body, secrets redacted, for logs and errors."""
        try:
            text = res.text
        except Exception:  # undecodable body
            return "<unreadable body>"
        # Redact before cutting, and far past the cut: each secret redacted shortens
        # the text, and a secret cut in two would not be recognised.
        text = self._redact(text[:_PREVIEW_WINDOW])
        return text if len(text) <= limit else text[:limit] + "..."

    def _json_of(self, res: requests.Response, what: str) -> Dict[str, Any]:
        """The JSON object of an answer the session needs (metadata lookups)."""
        try:
            body = strict_json(res.content)  # (bytes that are not UTF-8 are never replaced)
        except NotJSON as exc:
            raise ValueError(f"{what} answered HTTP {res.status_code} with a body that is not "
                             f"UTF-8 JSON ({exc}): {self._preview(res, 200)}") from None
        if not isinstance(body, dict):
            raise ValueError(f"{what} answered HTTP {res.status_code} with unexpected JSON: "
                             f"{self._preview(res, 200)}")
        return body


# ---------------------------------------------------------------------- helpers
def _check_method(method: Any) -> str:
    if not isinstance(method, str):
        raise ValueError(f"method must be a string such as 'GET', not {type(method).__name__}")
    upper = method.strip().upper()
    if upper not in VALID_METHODS:
        raise ValueError(f"invalid HTTP method {method!r}; use one of {', '.join(VALID_METHODS)}")
    return upper


def _snapshot(headers: Any) -> Dict[str, Any]:
    """A copy of ``headers`` taken while another thread may change it in place
    (a dict copies at once; another mapping is copied item by item, and tried again
    if it changed meanwhile)."""
    for _ in range(16):
        try:
            return dict(headers)
        except (RuntimeError, KeyError):  # changed size, or lost a key, while copied
            continue
    raise RuntimeError("session.headers kept changing while a call copied it")


def _pair(timeout: Any) -> Optional[Tuple[float, float]]:
    """``(connect, read)`` of a timeout, or None when it is not two numbers."""
    if isinstance(timeout, (int, float)):
        return float(timeout), float(timeout)
    if isinstance(timeout, tuple) and len(timeout) == 2 and \
            all(isinstance(x, (int, float)) for x in timeout):
        return float(timeout[0]), float(timeout[1])
    return None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _redlock_matches(res: requests.Response, ignore: Iterable[str]) -> bool:
    status = res.headers.get("x-redlock-status", "")
    return any(el in status for el in ignore)

