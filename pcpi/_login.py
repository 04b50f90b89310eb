"""The login side of a session: the exchanges that get a token, and what the
session shows of it (``token``, ``token_time_stamp``, the auth header).

:class:`LoginSupport` is mixed into :class:`pcpi._session_base.Session`.  Its
``_obtain`` is the one call the :class:`~pcpi._auth.Authenticator` makes to get
a token: an extend where the API has one, else a login built from the 1.0.1
methods every session class defines (``_api_login``, ``_api_refresh``,
``_expired_login``), each one exchange through the retry loop.
"""

from __future__ import annotations

import json as jsonlib
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, cast

import requests

from ._auth import Authenticator, Credential
from ._log import boundary, self_log
from ._redact import Secret, SecretBytes, remember, without_query
from ._transport import valid_header_value
from .errors import AuthorizationError, LoginError

if TYPE_CHECKING:
    from ._log import Log

__all__ = ["LoginSupport"]


class LoginSupport:
    """Logging in and showing the token; the session supplies ``_send``,
    ``_redact``, ``_log``, ``headers``, ``auth_key``/``auth_style`` and the
    1.0.1 attributes (``tenant``, ``expired_code``, ``success_status``...)."""

    _auth: Authenticator
    if TYPE_CHECKING:  # (what the session supplies)
        tenant: str
        headers: Dict[str, Any]
        auth_key: str
        auth_style: str
        expired_code: int
        success_status: List[int]
        _log: Log
        _send: Callable[..., requests.Response]
        _redact: Callable[[str], str]

    @property
    def authenticator(self) -> Authenticator:
        """The session's :class:`~pcpi._auth.Authenticator` (its credential)."""
        return self._auth

    @property
    def token(self) -> str:
        """The current token ("" before the first login)."""
        cred = self._auth.credential
        return cred.token if cred is not None else ""

    @token.setter
    def token(self, value: str) -> None:
        if value:
            self._auth.adopt(str(value))  # use this token from now on
        else:
            self._auth.credential = None

    @property
    def token_time_stamp(self) -> float:
        """When the current token was issued (``time.time()``; 0 before a login)."""
        cred = self._auth.credential
        return cred.issued_at if cred is not None else 0

    @token_time_stamp.setter
    def token_time_stamp(self, value: float) -> None:
        self._auth.backdate(value)

    # ------------------------------------------------------------------ for the authenticator
    def _auth_name(self) -> str:
        return f"tenant '{getattr(self, 'tenant', '?')}'"

    def _publish(self, cred: Credential) -> None:
        """Show a credential on the session: one assignment of a new headers dict,
        so a thread reading ``self.headers`` sees the old token or the new one."""
        remember(cred.token)
        headers = dict(self.headers)
        headers[self.auth_key] = Secret(cred.header)
        self.headers = headers

    def _refused_message(self, where: str) -> str:
        return (f"{where} was refused (401) again right after a fresh login for tenant "
                f"'{self.tenant}'. Check that the access key (or user) has permission for "
                f"this API, that the Prisma Cloud license is valid, and, for a Compute "
                f"project, that the project name is right.")

    #: how often a refused login may be repaired by _expired_login() and retried
    _login_repairs = 2

    def _obtain(self, extend: bool) -> str:
        """One exchange for a new token: extend the current one (``extend``, where
        the API can), else log in, repairing a refused login where the session
        can (``_expired_login``).  Returns the token; raises on failure."""
        refresh = getattr(self, "_api_refresh", None)
        if extend and callable(refresh):
            res, elapsed = refresh()
            if res.status_code != self.expired_code:
                token = self._token_from(res, "token refresh")
                self._log.success(f"SUCCESS - {elapsed} seconds - {_call_of(res)}")
                return token
            self._log.warning("Session expired. Generating new token.")
        res, elapsed = self._api_login()
        for _ in range(self._login_repairs):
            if res.status_code != self.expired_code:
                break
            self._expired_login()  # raises, or repairs what the login depends on
            res, elapsed = self._api_login()
        token = self._token_from(res, "login")
        self._log.success(f"SUCCESS - {elapsed} seconds - {_call_of(res)}")
        return token

    # ------------------------------------------------------------------ 1.0.1 login API
    def _api_login(self) -> List[Any]:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def _expired_login(self) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    @boundary(self_log)
    def _api_login_wrapper(self) -> str:
        """Log in now and publish the token; returns it."""
        return self._auth.login().token

    @boundary(self_log)
    def _api_refresh_wrapper(self) -> Optional[str]:
        """Refresh the token now (extend where the API can, log in otherwise)."""
        return self._auth.refresh().token

    def _token_from(self, res: requests.Response, what: str) -> str:
        if res.status_code == self.expired_code:
            raise AuthorizationError(self._refused_login_message(what))
        # where the exchange was asked to go (res.url may be a path a server chose)
        where = self._redact(without_query((res.history[0] if res.history else res).url))
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
        if len(token) > MAX_TOKEN_BYTES:
            raise LoginError(
                f"{what} at {where} answered a token of {len(token)} characters, over the "
                f"{MAX_TOKEN_BYTES >> 10} KiB pcpi accepts (Prisma Cloud's are about 1 KiB); "
                f"pcpi will not keep or send it.  The answer did not come from Prisma Cloud "
                f"as expected: check the URL and any proxy in between.")
        if not valid_header_value(self.auth_style + token):
            raise LoginError(
                f"{what} at {where} answered a token that is not a valid header value "
                f"(leading whitespace, CR/LF or another control character); pcpi will "
                f"not send it.  The answer did not come from Prisma Cloud as expected: check "
                f"the URL and any proxy in between.")
        return cast(str, token)

    def _refused_login_message(self, what: str) -> str:
        return (f"{what} for tenant '{self.tenant}' was refused (401) again after a fresh "
                f"login; check that the credentials are valid and active")

    def _login_call(self, url: str, payload: Optional[Dict[str, Any]],
                    headers: Optional[Dict[str, Any]] = None,
                    method: str = "POST") -> List[Any]:
        """One login-style exchange through the retry loop: ``[response, seconds]``.
        A 401 is returned, not retried: what it means depends on the session."""
        t0 = time.perf_counter()
        # encoded here, as requests' json= would, but as bytes whose repr hides them
        _remember_credentials(payload)  # however they were set: file, environment, by hand
        body = None if payload is None else SecretBytes(
            jsonlib.dumps(payload, allow_nan=False).encode("utf-8"))
        res = self._send(method, url, data=body, authenticated=False,
                         headers=headers or {"content-type": "application/json; charset=UTF-8"},
                         status_ignore=(self.expired_code,), idempotent=True, quiet=True,
                         **self._auth.exchange_options())
        return [res, round(time.perf_counter() - t0, 3)]


#: the largest token pcpi accepts from a login (Prisma Cloud's are about 1 KiB)
MAX_TOKEN_BYTES = 64 << 10


def _remember_credentials(payload: Any) -> None:
    """The secrets a login body carries (a password, a secret key, a token) are
    redacted from every text."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key in ("password", "token") and isinstance(value, str):
                remember(value, lasting=key == "password")
            elif isinstance(value, dict):
                _remember_credentials(value)


def _retries_note(status: int, session: Any) -> str:
    if status in session.retry_delay_statuses:
        return f" after {session.retries} retries; the service is throttling or unavailable"
    return ""



def _call_of(res: Any) -> str:
    """``METHOD url`` (without a query) of the call that ``res`` answers."""
    request = getattr(res, "request", None)
    return f"{getattr(request, 'method', '?')} {without_query(str(getattr(res, 'url', '')))}"
