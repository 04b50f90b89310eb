"""The session base class: 1.0.1's API over one retry loop.

Every pcpi call, logins and refreshes included, goes through
:meth:`Session._send`, the only retry loop:

* 401 on an authenticated call: re-authenticate once (one thread does it, the
  others wait and reuse the new token), then resend; a second 401 after a fresh
  login is fatal (:class:`~pcpi.errors.AuthorizationError`).
* 429 and 5xx: exponential backoff, ``Retry-After`` honoured, up to
  ``session.retries`` times.  Each call starts from the initial delay, so a job
  never inherits a long delay after the service recovers.  A call that is not
  safe to repeat is resent only after an answer that proves it was not
  processed (429, 503, 425; see :func:`pcpi._policy.may_resend_after`).
* connection errors and timeouts: a few retries when the call is safe to repeat,
  then requests' own exception (never ``''``).
* every attempt sends the same body (:class:`pcpi._body.Payload`); a body that
  cannot be read twice is never resent.

Subclasses say how they log in and which header carries the token; they keep
no per-call state on ``self``, so any number of threads can share one session.
"""

from __future__ import annotations

import json as jsonlib
import time
from typing import Any, Iterable, Optional, Tuple
from urllib.parse import urlsplit

import requests

from ._body import Payload
from ._log import Log
from ._pacing import endpoint_key
from ._policy import RetryPolicy, is_safe_to_repeat, may_resend_after
from ._redact import Secret, SecretBytes, redact, remember, secret
from ._rql import MAX_PAGES, config_search_pages, total_rows
from ._token import SingleFlight, token_due
from ._transport import Transport, valid_header_value
from .errors import AuthorizationError, LoginError

__all__ = ["Session", "VALID_METHODS"]

VALID_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")

# How many times one call may meet a 401 before giving up, counting 401s caused by
# other threads refreshing the token in between (each of those is not fatal).
_MAX_AUTH_ROUNDS = 3
# ... and how many in all when the tokens simply keep expiring before a slow call
# (a starved process, very short token lifetimes) gets through.
_MAX_EXPIRIES = 10

# How much of a body is redacted before a preview of it is cut to length.
_PREVIEW_WINDOW = 1 << 20

# A token refused younger than this is not counted as "expired" when learning how
# long this tenant's tokens live: a token refused at once (wrong project, missing
# permission) says nothing about its lifetime.
_MIN_LIFETIME_SAMPLE = 0.5


class Session:
    """Base of the CSPM, Compute and CNA sessions (``pcpi._session_base.Session``)."""

    #: header carrying the token, and its prefix; set by subclasses
    auth_key = "Authorization"
    auth_style = "Bearer "

    def __init__(self, logger, *, transport: Optional[Transport] = None,
                 retry_policy: Optional[RetryPolicy] = None, retries: int = 20):
        """``transport`` is shared with the session manager's other sessions;
        ``retry_policy`` tunes backoff and connection retries."""
        # 1.0.1 attributes, read live by the retry loop
        self.retries = retries
        self.retry_statuses = [401, 425, 429, 500, 502, 503, 504]
        self.retry_delay_statuses = [429, 500, 502, 503, 504]
        self.success_status = [200, 201, 202, 203, 204, 205, 206]
        self.expired_code = 401
        self.retry_timer = 0  # the last backoff delay used; 0 again after recovery
        self.retry_timer_max = 32
        self.token_time = 360  # seconds before a token is refreshed proactively
        self.empty_res = ""
        self.u_count = 1
        self.unknown_error_max = 5
        self.logger = logger

        self.token = ""
        self.token_time_stamp = 0
        self._lifetime_seen: Optional[float] = None  # shortest age at which a token expired
        self.retry_policy = retry_policy or RetryPolicy()
        self._transport = transport if transport is not None else Transport()
        self._auth_flight = SingleFlight()

    # ------------------------------------------------------------------ attributes
    @property
    def logger(self):
        return self._log.logger

    @logger.setter
    def logger(self, value) -> None:
        self._log = Log(value)

    @property
    def transport(self) -> Transport:
        """The pooled transport this session sends through."""
        return self._transport

    def _set_tenant(self, tenant_name: str, a_key: str, s_key: str, api_url: str,
                    verify: Any, proxies: Optional[dict]) -> None:
        """The 1.0.1 attributes that say which tenant this is and how to reach it."""
        self.tenant = tenant_name
        self.a_key = a_key
        self.s_key = secret(s_key)
        remember(s_key, lasting=True)
        self.api_url = api_url.rstrip("/")
        self.verify = verify
        self.proxies = proxies
        self.token_time_stamp = 0

    def _auth_value(self) -> Optional[str]:
        return self.headers.get(self.auth_key)

    def _set_token(self, token: str) -> None:
        """Publish a new token: one assignment of a new dict, so a thread
        reading ``self.headers`` sees either the old token or the new one."""
        remember(token)
        self.token = Secret(token)
        self.token_time_stamp = time.time()
        headers = dict(self.headers)
        headers[self.auth_key] = Secret(self.auth_style + token)
        self.headers = headers

    # ------------------------------------------------------------------ 1.0.1 login API
    def _api_login(self):  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def _expired_login(self) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    #: how often a refused login may be repaired by _expired_login() and retried
    _login_repairs = 2

    def _api_login_wrapper(self) -> str:
        """Log in (through the retry loop) and publish the token; returns it."""
        res, elapsed = self._api_login()
        for _ in range(self._login_repairs):
            if res.status_code != self.expired_code:
                break
            self._expired_login()  # raises, or repairs what the login depends on
            res, elapsed = self._api_login()
        token = self._token_from(res, "login")
        self._set_token(token)
        self._log.success(f"SUCCESS - {elapsed} seconds")
        return token

    def _api_refresh_wrapper(self) -> Optional[str]:
        """Refresh the token: extend it where the API can, log in otherwise."""
        refresh = getattr(self, "_api_refresh", None)
        if not callable(refresh):
            return self._api_login_wrapper()
        res, elapsed = refresh()
        if res.status_code == self.expired_code:
            self._log.warning("Session expired. Generating new token.")
            return self._api_login_wrapper()
        token = self._token_from(res, "token refresh")
        self._set_token(token)
        self._log.success(f"SUCCESS - {elapsed} seconds")
        return token

    def _token_from(self, res: requests.Response, what: str) -> str:
        if res.status_code == self.expired_code:
            raise AuthorizationError(
                f"{what} for tenant '{self.tenant}' was refused (401) again after a fresh "
                f"login; check that the credentials are valid and active")
        # where the exchange was asked to go (res.url may be a path a server chose)
        where = self._redact(_no_query((res.history[0] if res.history else res).url))
        if res.status_code not in self.success_status:
            raise LoginError(
                f"{what} for tenant '{self.tenant}' failed with HTTP {res.status_code} at "
                f"{where}" + _retries_note(res.status_code, self))
        try:
            token = res.json().get("token")
        except (ValueError, AttributeError, RecursionError):  # (deeply nested JSON)
            token = None
        if not token or not isinstance(token, str):
            raise LoginError(
                f"{what} at {where} answered without a token; check that the "
                f"URL is the API URL (for SaaS https://api*.prismacloud.io, not app*)")
        if not valid_header_value(self.auth_style + token):
            raise LoginError(
                f"{what} at {where} answered a token that is not a valid header value "
                f"(leading whitespace, CR/LF or another control character); pcpi will "
                f"not send it.  The answer did not come from Prisma Cloud as expected: check "
                f"the URL and any proxy in between.")
        return token

    def _login_call(self, url: str, payload: dict, headers: Optional[dict] = None,
                    method: str = "POST") -> list:
        """One login-style exchange through the retry loop: ``[response, seconds]``.
        A 401 is returned, not retried: what it means depends on the session."""
        t0 = time.perf_counter()
        # encoded here, as requests' json= would, but as bytes whose repr hides them
        body = None if payload is None else SecretBytes(
            jsonlib.dumps(payload, allow_nan=False).encode("utf-8"))
        res = self._send(method, url, data=body, authenticated=False,
                         headers=headers or {"content-type": "application/json; charset=UTF-8"},
                         status_ignore=(self.expired_code,), idempotent=True, quiet=True)
        return [res, round(time.perf_counter() - t0, 3)]

    # ------------------------------------------------------------------ re-authentication
    def _reauthenticate(self, used: Optional[str]) -> None:
        """After a 401 for a call sent with auth value ``used``: log in again,
        unless another thread already replaced that token."""
        self._auth_flight.run(lambda: self._auth_value() == used, self._relogin)

    def _relogin(self) -> None:
        self._log.warning("Session expired. Generating new token and retrying.")
        self._api_login_wrapper()

    def _refresh_if_due(self) -> None:
        def due() -> bool:
            return token_due(self.token_time_stamp, time.time(), self.token_time)

        if due():
            self._auth_flight.run(due, self._proactive_refresh)

    def _proactive_refresh(self) -> None:
        self._log.info("Session refresh timer - generating new token.")
        self._api_refresh_wrapper()

    # ------------------------------------------------------------------ public API
    def request(self, method: str, endpoint_url: str, json: dict = None, data: dict = None,
                params: dict = None, files: dict = None, verify=None, proxies=None,
                acceptCsv=False, redlock_ignore: list = None, status_ignore: list = [],  # noqa: B006
                custom_log="", custom_error_message="", *, timeout=None,
                idempotent: Optional[bool] = None) -> requests.Response:
        """Call the API at ``api_url + endpoint_url`` with this session's token.

        Same arguments as 1.0.1 (and ``requests.request`` minus ``headers``), plus
        ``timeout`` (seconds, or ``(connect, read)``) and ``idempotent`` (whether
        a call that failed mid-way may be resent; by default GET/PUT/DELETE and
        Prisma Cloud's read-only POSTs are).  Returns the ``requests.Response``;
        raises requests' exception when the connection keeps failing.
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

    def config_search_request(self, json: dict, verify=None, proxies=None,
                              redlock_ignore: list = None,
                              status_ignore: list = [], *,  # noqa: B006
                              max_pages: int = MAX_PAGES) -> dict:
        """Run an RQL config search and return every page merged into the first
        response (``data.items`` and ``data.totalRows`` cover all pages).  The
        caller's ``json`` is not modified.  A page that fails, a repeated page
        token or more than ``max_pages`` pages raise
        :class:`~pcpi.errors.IncompleteResultError`: never a partial result."""
        rows = 0
        items: list = []
        first: Optional[dict] = None
        for details, data, _counter, _total in config_search_pages(
                self, json, max_pages=max_pages, verify=verify, proxies=proxies,
                max_bytes=self._transport.max_response_bytes,
                redlock_ignore=redlock_ignore, status_ignore=status_ignore):
            if first is None:
                first = details
                first["data"] = data
            items.extend(data.get("items") or [])
            rows += total_rows(data)
        assert first is not None  # the generator yields the first page or raises
        first["data"].update({"totalRows": rows, "items": items})
        return first

    def config_search_request_function(self, json, function, verify=None, proxies=None,
                                       redlock_ignore: list = None,
                                       status_ignore: list = [], *,  # noqa: B006
                                       max_pages: int = MAX_PAGES) -> int:
        """Run an RQL config search, calling ``function(details, data, page,
        total_rows)`` for each page as it arrives; returns the total row count.
        The caller's ``json`` is not modified.  The callback only ever sees
        pages; a failure raises :class:`~pcpi.errors.IncompleteResultError`
        saying how many pages it was given."""
        total = 0
        for details, data, counter, total in config_search_pages(
                self, json, max_pages=max_pages, verify=verify, proxies=proxies,
                redlock_ignore=redlock_ignore, status_ignore=status_ignore):
            function(details, data, counter, total)
        return total

    # ------------------------------------------------------------------ the retry loop
    def _send(self, method: str, url: str, *, json: Any = None, data: Any = None,
              params: Any = None, files: Any = None, verify: Any = None,
              proxies: Optional[dict] = None, accept_csv: bool = False,
              redlock_ignore: Optional[Iterable[str]] = None,
              status_ignore: Iterable[int] = (), custom_log: str = "",
              custom_error_message: str = "", timeout=None,
              idempotent: Optional[bool] = None, authenticated: bool = True,
              headers: Optional[dict] = None, quiet: bool = False) -> requests.Response:
        """Send one call with pcpi's retry rules; see the module docstring."""
        log = self._log
        policy = self.retry_policy
        transport = self._transport
        pacer = transport.pacer
        pace_key = endpoint_key(method, url) if pacer is not None else None
        verify = self.verify if verify is None else verify
        proxies = self.proxies if proxies is None else proxies
        note = f" - {custom_log}" if custom_log else ""
        body = Payload.of(json=json, data=data, files=files)  # the same bytes every attempt
        safe = is_safe_to_repeat(method, urlsplit(url).path, idempotent)
        throttled = 0
        conn_failures = 0
        auth_rounds = 0
        expiries = 0  # 401s of tokens that had merely lived out their lifetime
        reauthed = False
        while True:
            if authenticated:
                self._refresh_if_due()
                issued = self.token_time_stamp
                call_headers = self.headers
                used = call_headers.get(self.auth_key)
            else:
                call_headers = headers or {}
                used = None
            if accept_csv:
                call_headers = dict(call_headers)
                call_headers["Accept"] = "text/csv"
            if pacer is not None:
                wait = pacer.delay(pace_key)
                if wait > 0:
                    policy.sleep(wait)  # our turn under the tenant's rate limit
            t0 = time.perf_counter()
            try:
                res = transport.send(method, url, headers=call_headers, body=body,
                                     params=params, verify=verify, proxies=proxies,
                                     timeout=timeout)
            except requests.RequestException as exc:
                conn_failures += 1
                what = self._redact(_describe(exc))
                if not policy.retry_exception(exc, safe, conn_failures):
                    log.error(f"FAILED {method} {_no_query(url)} - {what}{note}")
                    raise
                if not body.replayable:
                    log.error(f"FAILED {method} {_no_query(url)} - {what}{note}; "
                              f"not retried: {body.not_replayable}")
                    raise
                delay = policy.connection_backoff.delay(conn_failures)
                log.warning(f"{what} on {method} {_no_query(url)}; retrying in "
                            f"{delay:.1f} seconds ({conn_failures} of "
                            f"{policy.connection_retries})")
                policy.sleep(delay)
                continue
            elapsed = round(time.perf_counter() - t0, 3)
            status = res.status_code
            if pacer is not None:
                pacer.observe(pace_key, status, res.headers)

            if status in self.success_status or status in status_ignore:
                if throttled:
                    self.retry_timer = 0  # recovered: the next throttle starts small
                if not quiet:
                    log.success(f"SUCCESS - {elapsed} seconds{note}")
                return res

            # after a 303 (or a 301/302 to a POST) the call was processed: what
            # failed is the GET that followed, and resending would repeat the call
            processed = bool(res.history) and res.request.method != method
            resend = self._backs_off(status) and (
                safe or not processed and may_resend_after(status, safe, policy.not_processed))
            relogin = authenticated and status == self.expired_code and (safe or not processed)
            if relogin or resend and throttled < self.retries:
                if not body.replayable:
                    log.error(f"FAILED {status} - {elapsed} seconds{note} - {method} "
                              f"{_no_query(url)}; not retried: {body.not_replayable}")
                    return res

            if relogin:
                aged = reauthed and self._aged_out(issued)
                auth_rounds += 1
                expiries += aged
                if (auth_rounds - expiries > _MAX_AUTH_ROUNDS or auth_rounds > _MAX_EXPIRIES
                        or (reauthed and used == self._auth_value() and not aged)):
                    raise AuthorizationError(_second_401_message(self, method, url))
                if not reauthed:
                    self._learn_lifetime(issued)
                log.warning(f"FAILED {status} - {elapsed} seconds{note}")
                res.close()
                self._reauthenticate(used)
                reauthed = True
                continue

            if resend and throttled < self.retries:
                throttled += 1
                delay = policy.throttle_delay(throttled, res.headers.get("Retry-After"),
                                              float(self.retry_timer_max), status=status)
                self.retry_timer = delay
                err = f" - {custom_error_message}" if custom_error_message else ""
                log.warning(f"FAILED {status} - {elapsed} seconds{note}{err}; waiting "
                            f"{delay:.1f} seconds (retry {throttled} of {self.retries})")
                res.close()
                policy.sleep(delay)
                continue

            if quiet:
                return res
            if throttled and resend:
                log.error(f"ERROR. Max retries exceeded: {method} {_no_query(url)} still "
                          f"answered {status} after {throttled} retries")
            elif self._backs_off(status) and not resend:
                log.warning(f"{method} {_no_query(url)} answered {status} and was not resent: "
                            f"the call is not safe to repeat (it may have been applied); pass "
                            f"idempotent=True if it is")
            if redlock_ignore and _redlock_matches(res, redlock_ignore):
                return res
            self._log_failure(res, method, url, elapsed, note, custom_error_message)
            return res

    def _learn_lifetime(self, issued: float) -> None:
        age = time.time() - issued  # at the refusal: the token lived at least this long
        if issued and age >= _MIN_LIFETIME_SAMPLE and (
                self._lifetime_seen is None or age < self._lifetime_seen):
            self._lifetime_seen = age

    def _aged_out(self, issued: float) -> bool:
        """Whether a token refused after a re-login had simply lived about as long
        as this tenant's tokens do (short lifetimes under load: another thread's
        refresh can be old by the time a slow call resends with it), rather than
        being refused outright, which is what makes a second 401 fatal."""
        age = time.time() - issued
        return bool(issued) and self._lifetime_seen is not None and \
            age >= 0.5 * self._lifetime_seen

    def _backs_off(self, status: int) -> bool:
        return status != self.expired_code and (
            status in self.retry_delay_statuses or status in self.retry_statuses)

    def _log_failure(self, res: requests.Response, method: str, url: str, elapsed: float,
                     note: str, custom_error_message: str) -> None:
        log = self._log
        err = f" - {custom_error_message}" if custom_error_message else ""
        log.error(f"FAILED {res.status_code} - {elapsed} seconds{note}{err} - "
                  f"{method} {_no_query(url)}")
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

    def _json_of(self, res: requests.Response, what: str) -> dict:
        """The JSON object of an answer the session needs (metadata lookups)."""
        try:
            body = res.json()
        except (ValueError, RecursionError):
            raise ValueError(f"{what} answered HTTP {res.status_code} with a body that is not "
                             f"JSON: {self._preview(res, 200)}") from None
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


def _no_query(url: Optional[str]) -> str:
    """The URL without its query string (which could carry anything)."""
    return (url or "").split("?", 1)[0]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _redlock_matches(res: requests.Response, ignore: Iterable[str]) -> bool:
    status = res.headers.get("x-redlock-status", "")
    return any(el in status for el in ignore)


def _retries_note(status: int, session: Session) -> str:
    if status in session.retry_delay_statuses:
        return f" after {session.retries} retries; the service is throttling or unavailable"
    return ""


def _second_401_message(session: Session, method: str, url: str) -> str:
    return (f"{method} {_no_query(url)} was refused (401) again right after a fresh login "
            f"for tenant '{session.tenant}'. Check that the access key (or user) has "
            f"permission for this API, that the Prisma Cloud license is valid, and, for a "
            f"Compute project, that the project name is right.")
