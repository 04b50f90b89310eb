"""The session base class: 1.0.1's API over one short call path.

Every pcpi call, logins and refreshes included, is described once as a
:class:`~pcpi._call.Call` and sent by :meth:`Session._run`, a loop over named
steps: wait for the pacer (:mod:`pcpi._pacing`), authenticate (the session's
:class:`~pcpi._auth.Authenticator` makes sure the token is valid), attempt
(through the transport, :mod:`pcpi._transport`), decide
(:func:`pcpi._retry.decide`: return, raise, retry after a delay, or have the
authenticator judge a 401) and report (1.0.1's log lines).  ARCHITECTURE.md
follows a GET, a 401 and a 429 through them.

Subclasses only say how they log in (a :mod:`pcpi._logins` class) and which
header carries the token; no per-call state lives on ``self``, so any number of
threads can share one session.
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
    Union,
    cast,
)
from urllib.parse import urlsplit

import requests

from ._answer import NotJSON, strict_json
from ._auth import Authenticator, Exchange
from ._body import Payload
from ._call import Attempt, Call, CallState, Report
from ._catalogue import Endpoint, lookup, warn_deprecated
from ._log import Log, boundary, self_log
from ._login import LoginSupport
from ._logins import Login
from ._options import parse_verify
from ._pacing import Key, endpoint_key
from ._pager import Pager, paginate
from ._policy import DEFAULT_RETRIES, RetryPolicy, is_safe_to_repeat
from ._redact import redact, remember, secret
from ._retry import (
    EXHAUSTED,
    NOT_REPLAYABLE,
    PACED,
    PROCESSED,
    RAISE,
    REAUTH,
    RETURN,
    SUCCESS,
    UNSAFE,
    CallRules,
    Decision,
    decide,
)
from ._rql import MAX_PAGES, config_search_pages, total_rows
from ._session_pickle import reduce_session
from ._transport import Timeout, Transport
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
                 retry_policy: Optional[RetryPolicy] = None, retries: int = DEFAULT_RETRIES):
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
        url = self._url_of(endpoint_url)
        body = Payload.of(json=json, data=data, files=files)  # the same bytes every attempt
        headers = _snapshot(self.headers)  # (another thread may change them meanwhile)
        if acceptCsv:
            headers["Accept"] = "text/csv"
        endpoint = self._catalogue(method, url)
        return self._run(Call(
            method, url, body, self._with_project(params), self._verify_for(url, verify),
            self.proxies if proxies is None else proxies, timeout, headers,
            self._rules(method, url, idempotent, body, status_ignore, endpoint=endpoint),
            Report(custom_log, custom_error_message, tuple(redlock_ignore or ())),
            self._pace_key(method, url, endpoint)))

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

    # ------------------------------------------------------------------ building calls
    def _url_of(self, endpoint_url: Any) -> str:
        if not isinstance(endpoint_url, str) or not endpoint_url.strip():
            raise ValueError("endpoint_url must be a non-empty path such as '/cloud'")
        if not endpoint_url.startswith("/"):
            endpoint_url = "/" + endpoint_url
        return f"{self.api_url}{endpoint_url}"

    def _with_project(self, params: Any) -> Any:
        """Self-hosted Compute with ``project_flag``: ``?project=<tenant>`` on every call."""
        if getattr(self, "project_flag", False):
            params = dict(params or {})
            params["project"] = self.tenant
        return params

    def _verify_for(self, url: str, verify: Optional[Verify]) -> Union[bool, str]:
        """A per-call verify as the constructor reads it ("false" is False); an
        unverified origin is said once per transport."""
        verify = self.verify if verify is None else parse_verify(verify)
        if verify is False:
            self._transport.unverified(url, self.tenant)
        return verify

    def _pace_key(self, method: str, url: str,
                  endpoint: Optional[Endpoint] = None) -> Optional[Key]:
        """The pacer's key for this call (None: no pacer); an endpoint whose limit
        the specs document is paced at it until the tenant's headers say more."""
        pacer = self._transport.pacer
        if pacer is None:
            return None
        key = endpoint_key(method, url)
        if endpoint is not None and endpoint.rate is not None:
            pacer.seed(key, endpoint.rate, endpoint.burst or max(1.0, endpoint.rate))
        return key

    def _catalogue(self, method: str, url: str) -> Optional[Endpoint]:
        """What Prisma Cloud's specs say of this endpoint (None: not in them); a
        deprecated one is said once per endpoint and process."""
        endpoint = lookup(method, urlsplit(url).path)
        if endpoint is not None and endpoint.deprecated:
            warn_deprecated(endpoint)
        return endpoint

    def _rules(self, method: str, url: str, idempotent: Optional[bool], body: Payload,
               status_ignore: Collection[int], *, endpoint: Optional[Endpoint] = None,
               exchange: Optional[Exchange] = None) -> CallRules:
        """What is fixed for one call, from the 1.0.1 attributes as they are now
        (an ``exchange`` is a login's: no token of its own, its own resend cap)."""
        max_retries = exchange.max_retries if exchange is not None else None
        retries = self.retries if max_retries is None else min(self.retries, max_retries)
        read_only = endpoint is not None and endpoint.read_only
        safe = is_safe_to_repeat(method, urlsplit(url).path, idempotent, read_only=read_only)
        return CallRules(
            policy=self.retry_policy, safe=safe,
            not_replayable=body.not_replayable, authenticated=exchange is None,
            retries=retries, connection_retries=max_retries,
            success=self.success_status, ignore=status_ignore or (),
            expired_code=self.expired_code, backs_off=self.retry_delay_statuses,
            also_backs_off=self.retry_statuses, retry_timer_max=float(self.retry_timer_max))

    def _exchange_call(self, method: str, url: str, body: Optional[bytes],
                       headers: Dict[str, Any], exchange: Exchange) -> requests.Response:
        """One login or refresh exchange (no token of its own; a 401 is returned
        for the login to judge), sent as ``exchange`` says."""
        payload = Payload.of(data=body)
        return self._run(Call(
            method, url, payload, None, self._verify_for(url, None), self.proxies,
            exchange.timeout, dict(headers),
            self._rules(method, url, True, payload, (self.expired_code,), exchange=exchange),
            Report(quiet=True), self._pace_key(method, url)))

    # ------------------------------------------------------------------ the call path
    def _run(self, call: Call) -> requests.Response:
        """Send ``call``: each attempt waits its turn under the rate limit, leaves
        with a valid token, and its outcome is judged and acted on, until the
        decision is to return the answer or raise."""
        state = CallState()
        while True:
            attempt = self._authenticate(call, self._wait_turn(call))
            self._attempt(call, attempt)
            decision = self._decide(call, attempt, state)
            if decision.action == RETURN:
                return self._returned(call, attempt, decision.why, state)
            if decision.action == RAISE:
                self._report_error(call, attempt, decision.why)
                raise cast(requests.RequestException, attempt.error)
            if decision.action == REAUTH:
                self._reauthenticate(call, attempt, state)
            else:
                self._back_off(call, attempt, decision, state)

    def _wait_turn(self, call: Call) -> Optional[float]:
        """Wait for this call's turn under the tenant's rate limit (at most the
        pacer's ``max_wait`` in all); returns when it went (the pacer's clock)."""
        pacer, key = self._transport.pacer, call.pace_key
        if pacer is None or key is None:
            return None
        if call.rules.authenticated:
            # a due refresh first: a call that goes first to a new endpoint (the
            # others wait for its answer) must not wait for the refresh there
            self._auth.before_call()
        waited = 0.0
        while True:
            wait, taken = pacer.take(key)
            wait = min(wait, pacer.max_wait - waited)  # (max_wait in all, however cut up)
            if waited <= 1.0 < waited + wait and self._log.enabled(20) and \
                    pacer.report_due(key):
                self._report_wait(pacer, key, call)
            if wait > 0:
                self.retry_policy.sleep(wait)
                waited += wait
            if taken or waited >= pacer.max_wait:
                return pacer.clock()

    def _authenticate(self, call: Call, paced_at: Optional[float]) -> Attempt:
        """The headers of this attempt: the call's own, and (an API call) the
        session's token, valid when it leaves."""
        attempt = Attempt(headers=call.headers, paced_at=paced_at)
        if not call.rules.authenticated:
            return attempt
        auth = self._auth
        try:
            auth.before_call()
        except BaseException:
            pacer = self._transport.pacer
            if pacer is not None and call.pace_key is not None:
                pacer.release(call.pace_key)  # (a first call: the others go on without it)
            raise
        attempt.credential, attempt.sent_at = auth.credential, auth.clock()
        sent = attempt.sent = self.headers.get(self.auth_key)
        if call.headers.get(self.auth_key) is not sent:
            attempt.headers = {**call.headers, self.auth_key: sent}
        if attempt.credential is None or sent != attempt.credential.header:
            remember(sent)  # a token set by hand is a secret too
        return attempt

    def _attempt(self, call: Call, attempt: Attempt) -> None:
        """One attempt through the transport; its answer (or its failure, when it
        is requests') is kept in ``attempt`` for the decision, and fed to the pacer."""
        pacer = self._transport.pacer
        t0 = time.perf_counter()
        try:
            attempt.response = self._transport.send(
                call.method, call.url, headers=attempt.headers, body=call.body,
                params=call.params, verify=call.verify, proxies=call.proxies,
                timeout=call.timeout)
        except BaseException as exc:
            if pacer is not None and call.pace_key is not None:
                pacer.release(call.pace_key)  # calls waiting for a first answer go on
            if not isinstance(exc, requests.RequestException):
                raise
            attempt.error = exc
            return
        attempt.elapsed = round(time.perf_counter() - t0, 3)
        attempt.answered_at = self._auth.clock()
        if pacer is not None and call.pace_key is not None:
            res = attempt.response
            pacer.observe(call.pace_key, res.status_code, res.headers, sent_at=attempt.paced_at)

    def _decide(self, call: Call, attempt: Attempt, state: CallState) -> Decision:
        if attempt.error is not None:
            return decide(call.rules, state.progress, error=attempt.error)
        res = cast(requests.Response, attempt.response)
        pacer, key = self._transport.pacer, call.pace_key
        # one controller decides a 429's wait: the pacer, where it governs the endpoint
        paced = res.status_code == 429 and pacer is not None and key is not None and \
            pacer.governs(key)
        return decide(call.rules, state.progress, status=res.status_code, headers=res.headers,
                      processed=bool(res.history) and res.request.method != call.method,
                      paced=paced)

    def _back_off(self, call: Call, attempt: Attempt, decision: Decision,
                  state: CallState) -> None:
        """Wait before resending: a connection failure, or a 429/5xx answer."""
        progress, delay = state.progress, decision.delay
        if attempt.error is not None:
            progress.conn_failures += 1
            self._log.warning(f"{_describe(attempt.error)} on {call.where}; retrying in "
                              f"{delay:.1f} seconds ({progress.conn_failures} of "
                              f"{self.retry_policy.connection_retries})")
        else:
            res = cast(requests.Response, attempt.response)
            progress.throttled += 1
            self.retry_timer = delay
            report = call.report
            wait = "for the rate limit's next turn" if decision.why == PACED else \
                f"{delay:.1f} seconds"
            self._log.warning(
                f"FAILED {res.status_code} - {attempt.elapsed} seconds{report.suffix}"
                f"{report.error_suffix} - {call.where}; waiting {wait} "
                f"(retry {progress.throttled} of {call.rules.retries})")
            res.close()
        self.retry_policy.sleep(delay)

    def _reauthenticate(self, call: Call, attempt: Attempt, state: CallState) -> None:
        """A 401: the authenticator judges it (and logs in, or raises)."""
        res = cast(requests.Response, attempt.response)
        self._log.warning(f"FAILED {res.status_code} - {attempt.elapsed} seconds"
                          f"{call.report.suffix} - {call.where}")
        res.close()
        self._auth.after_401(attempt.sent, attempt.credential, state.auth, call.where,
                             answered_at=attempt.answered_at,
                             timeout=_pair(call.timeout or self._transport.timeout))

    # ------------------------------------------------------------------ reports
    def _report_wait(self, pacer: Any, key: Any, call: Call) -> None:
        limit = pacer.limit(key)
        pace = f", pacing at {limit[0]:.3g} calls per second" if limit else ""
        self._log.info(f"Waiting more than a second for the tenant's rate limit on "
                       f"{call.where}{pace} (said once a minute per endpoint)")

    def _report_error(self, call: Call, attempt: Attempt, why: str) -> None:
        """A failure that is raised: said at ERROR, as 1.0.1 logged before exit()."""
        not_sent = f"; not retried: {call.body.not_replayable}" if why == NOT_REPLAYABLE else ""
        self._log.error(f"FAILED {call.where} - {_describe(cast(BaseException, attempt.error))}"
                        f"{call.report.suffix}{not_sent}")

    def _returned(self, call: Call, attempt: Attempt, why: str,
                  state: CallState) -> requests.Response:
        """Log what a returned answer means (as 1.0.1 did) and return it."""
        log, report = self._log, call.report
        res = cast(requests.Response, attempt.response)
        if why == SUCCESS:
            if state.progress.throttled:
                self.retry_timer = 0  # recovered: the next throttle starts small
            if attempt.credential is not None and attempt.sent == attempt.credential.header:
                self._auth.accepted(attempt.credential, attempt.sent_at)  # (it was alive)
            if not report.quiet and log.success_enabled():  # (no message built for nowhere)
                log.success(f"SUCCESS - {attempt.elapsed} seconds{report.suffix} - "
                            f"{call.where}")
            return res
        if report.quiet:
            return res
        status = res.status_code
        if why == EXHAUSTED:
            log.error(f"ERROR. Max retries exceeded: {call.where} still answered {status} "
                      f"after {state.progress.throttled} retries")
        elif why == UNSAFE:
            log.warning(f"{call.where} answered {status} and was not resent: the call is not "
                        f"safe to repeat (it may have been applied); pass idempotent=True if "
                        f"it is")
        elif why == PROCESSED:
            log.warning(f"{call.where} was redirected to a GET that answered {status}; not "
                        f"resent, since the redirect says the call was processed")
        elif why == NOT_REPLAYABLE:
            log.error(f"FAILED {status} - {attempt.elapsed} seconds{report.suffix} - "
                      f"{call.where}; not retried: {call.body.not_replayable}")
            return res
        if not _redlock_matches(res, report.redlock_ignore):
            self._log_failure(call, attempt)
        return res

    def _log_failure(self, call: Call, attempt: Attempt) -> None:
        log, report = self._log, call.report
        res = cast(requests.Response, attempt.response)
        log.error(f"FAILED {res.status_code} - {attempt.elapsed} seconds{report.suffix}"
                  f"{report.error_suffix} - {call.where}")
        status = res.headers.get("x-redlock-status")
        if status:
            log.warning(f"x-redlock-status: {self._redact(status)}")
        if log.enabled(20):
            log.info(f"RESPONSE TEXT: {self._preview(res)}")

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

