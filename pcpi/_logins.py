"""How each product logs in: one small :class:`~pcpi._auth.TokenSource` per product.

* :class:`CSPMLogin`: ``POST /login`` with the access key; ``GET
  /auth_token/extend`` with a token renews it, and its 401 says the token is dead.
* :class:`ComputeLogin` (SaaS) and :class:`CNALogin`: the CSPM session's token
  exchanged for the service's own (``/api/v1/authenticate``, ``/issue``); no
  extend, so a renewal is a new exchange.  A refused exchange is repaired once
  with a CSPM token that works (:meth:`CSPMBackedLogin.repair`).
* :class:`SelfHostedLogin`: a self-hosted Compute console's user and password.

Each exchange is one call through the session's attempt loop (a login call: no
token of its own, a 401 returned rather than judged), sent as the
:class:`~pcpi._auth.Exchange` says (a proactive refresh makes one attempt).
The session keeps 1.0.1's method names (``_api_login``, ``_api_refresh``,
``_expired_login``) as delegators to these.
"""

from __future__ import annotations

import json as jsonlib
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, cast

import requests

from ._auth import Credential, Exchange
from ._redact import SecretBytes, remember, without_query
from ._transport import valid_header_value
from .errors import AuthorizationError, CredentialsRejectedError, LoginError

if TYPE_CHECKING:
    from ._cspm_backed import CSPMBackedSession
    from ._onprem_cwp_session import CWPSession
    from ._session_base import Session

__all__ = ["Login", "CSPMLogin", "CSPMBackedLogin", "ComputeLogin", "CNALogin",
           "SelfHostedLogin", "MAX_TOKEN_BYTES"]

#: the largest token pcpi accepts from a login (Prisma Cloud's are about 1 KiB)
MAX_TOKEN_BYTES = 64 << 10

_JSON = {"content-type": "application/json; charset=UTF-8"}


class Login:
    """What every product's login shares: the session it logs in (its 1.0.1
    attributes are read live), how an exchange is sent and its token read."""

    can_extend = False
    #: how often a refused login may be repaired (:meth:`repair`) and tried again
    repairs = 2

    def __init__(self, session: "Session"):
        self.session = session

    # ------------------------------------------------------------------ TokenSource
    @property
    def what(self) -> str:
        return f"tenant '{getattr(self.session, 'tenant', '?')}'"

    @property
    def token_time(self) -> object:
        return self.session.token_time

    def header(self, token: str) -> str:
        return self.session.auth_style + token

    def present(self, credential: Credential) -> None:
        self.session._publish(credential)

    def warn(self, message: str) -> None:
        self.session._log.warning(message)

    def refused(self, where: str) -> str:
        return (f"{where} was refused (401) twice with a token the tenant accepts, for "
                f"tenant '{self.session.tenant}'. Check that the access key (or user) has "
                f"permission for this API, that the Prisma Cloud license is valid, and, for "
                f"a Compute project, that the project name is right.")

    def login(self, exchange: Exchange) -> str:
        """Log in, repairing a refused login where the product can (:meth:`repair`)."""
        session = self.session
        res, elapsed = self.exchange(exchange)
        for _ in range(self.repairs):
            if res.status_code != session.expired_code:
                break
            self.repair(exchange)  # raises, or repairs what the login depends on
            res, elapsed = self.exchange(exchange)
        token = self.token(res, "login")
        session._log.success(f"SUCCESS - {elapsed} seconds - {_call_of(res)}")
        return token

    def extend(self, token: str, exchange: Exchange) -> Optional[str]:
        raise NotImplementedError(f"{type(self).__name__} has no extend")

    # ------------------------------------------------------------------ per product
    def exchange(self, exchange: Exchange = Exchange()) -> List[Any]:
        """One login exchange: ``[response, seconds]`` (1.0.1's ``_api_login``)."""
        raise NotImplementedError  # pragma: no cover - every product defines it

    def repair(self, exchange: Exchange = Exchange()) -> None:
        """The login was refused (401): raise, or repair what it depends on
        (1.0.1's ``_expired_login``)."""
        raise NotImplementedError  # pragma: no cover - every product defines it

    # ------------------------------------------------------------------ shared
    def send(self, url: str, payload: Optional[Dict[str, Any]], exchange: Exchange,
             headers: Optional[Dict[str, Any]] = None, method: str = "POST") -> List[Any]:
        """One login-style exchange through the attempt loop: ``[response,
        seconds]``.  A 401 is returned, not retried: what it means depends on
        the product."""
        t0 = time.perf_counter()
        _remember_credentials(payload)  # however they were set: file, environment, by hand
        # encoded here, as requests' json= would, but as bytes whose repr hides them
        body = None if payload is None else SecretBytes(
            jsonlib.dumps(payload, allow_nan=False).encode("utf-8"))
        res = self.session._exchange_call(method, url, body, headers or dict(_JSON), exchange)
        return [res, round(time.perf_counter() - t0, 3)]

    def token(self, res: requests.Response, what: str) -> str:
        """The token of a login's answer; raises with what to fix."""
        session = self.session
        if res.status_code == session.expired_code:
            raise AuthorizationError(self.refused_login(what))
        # where the exchange was asked to go (res.url may be a path a server chose)
        where = without_query((res.history[0] if res.history else res).url)
        if res.status_code not in session.success_status:
            raise LoginError(
                f"{what} for tenant '{session.tenant}' failed with HTTP {res.status_code} at "
                f"{where}" + _retries_note(res.status_code, session))
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
        if not valid_header_value(self.header(token)):
            raise LoginError(
                f"{what} at {where} answered a token that is not a valid header value "
                f"(leading whitespace, CR/LF or another control character); pcpi will "
                f"not send it.  The answer did not come from Prisma Cloud as expected: check "
                f"the URL and any proxy in between.")
        return cast(str, token)

    def refused_login(self, what: str) -> str:
        return (f"{what} for tenant '{self.session.tenant}' was refused (401) again after a "
                f"fresh login; check that the credentials are valid and active")


class CSPMLogin(Login):
    """CSPM: ``x-redlock-auth`` token from ``/login``, extended via ``/auth_token/extend``."""

    can_extend = True

    def exchange(self, exchange: Exchange = Exchange()) -> List[Any]:
        session = self.session
        session._log.debug("API - Generating CSPM session token.")
        return self.send(f"{session.api_url}/login",
                         {"username": session.a_key, "password": session.s_key}, exchange)

    def repair(self, exchange: Exchange = Exchange()) -> None:
        session = self.session
        raise CredentialsRejectedError(
            f"Prisma Cloud at {session.api_url} rejected access key '{session.a_key}' for "
            f"tenant '{session.tenant}' (401 on /login). Check the access key ID and secret "
            f"key in your credentials file (default ~/.prismacloud/credentials.json) or "
            f"environment, and that the key is enabled and not expired.")

    def extend(self, token: str, exchange: Exchange) -> Optional[str]:
        res, elapsed = self.refresh_exchange(exchange, token)
        if res.status_code == self.session.expired_code:
            return None  # the tenant refuses the token: it is dead
        token = self.token(res, "token refresh")
        self.session._log.success(f"SUCCESS - {elapsed} seconds - {_call_of(res)}")
        return token

    def refresh_exchange(self, exchange: Exchange = Exchange(),
                         token: Optional[str] = None) -> List[Any]:
        """``GET /auth_token/extend`` with ``token`` (default: the session's
        headers): ``[response, seconds]`` (1.0.1's ``_api_refresh``)."""
        session = self.session
        session._log.debug("API - Refreshing CSPM session token.")
        headers = dict(session.headers)
        if token is not None:
            headers[session.auth_key] = self.header(token)
        return self.send(f"{session.api_url}/auth_token/extend", None, exchange,
                         headers=headers, method="GET")


class CSPMBackedLogin(Login):
    """SaaS Compute and CNA: the CSPM session's token exchanged for this service's."""

    session: "CSPMBackedSession"

    def login(self, exchange: Exchange) -> str:
        session = self.session
        cspm = session.cspm_session.authenticator
        current = cspm.credential
        if current is not None and session.cspm_token == current.token:
            # (a token set by hand is tried as it is, and repaired if refused)
            session.cspm_token = cspm.valid_token()  # renewed first if it has expired
        return super().login(exchange)

    def repair(self, exchange: Exchange = Exchange()) -> None:
        """Our login was refused (401): get a CSPM token that works.  If ours is
        not the CSPM session's current one (replaced, or set by hand), take that.
        If it is, and older than this login, have the CSPM session log in again
        (one thread for all).  If it is newer than this login, or one this service
        refused before, ask the CSPM tenant whether it lives (an extend with it):
        revoked, the CSPM session logs in and this login is tried again; alive,
        the refusal is this service's: raise, without blaming the CSPM
        credentials (and remember it, so that the next refusal costs a question,
        not a CSPM login)."""
        session = self.session
        cspm = session.cspm_session.authenticator
        current = cspm.credential
        if current is not None and current.token != session.cspm_token:
            session.cspm_token = current.token
            return
        refused = cspm.refused_by
        if current is not None and (refused.get(session.api_url) is current or
                                    current.issued >= exchange.started):
            if cspm.alive(current):
                refused[session.api_url] = cast(Credential, cspm.credential)
                raise AuthorizationError(self.refused_login("login"))
            session.cspm_token = session.cspm_session.token  # (a new login's)
            return
        session._log.warning("CSPM session expired. Generating new session.")
        cspm.relogin(current)
        session.cspm_token = session.cspm_session.token

    def refused_login(self, what: str) -> str:
        session = self.session
        return (f"{type(session).__name__} {what} at {session.api_url} refused tenant "
                f"'{session.tenant}''s CSPM token, even one issued for this login. The CSPM "
                f"login works: check that the access key's role includes this service "
                f"(Compute or CNA) and that the tenant is licensed for it.")

    def renew(self) -> List[Any]:
        """A valid CSPM token (renewed by the CSPM session if needed), then our own
        login with it: ``[response, seconds]`` (1.0.1's ``_api_refresh``)."""
        session = self.session
        session._log.debug("API - Refreshing session token via CSPM.")
        session.cspm_token = session.cspm_session.authenticator.valid_token()
        return self.exchange()


class ComputeLogin(CSPMBackedLogin):
    """SaaS Compute: ``POST /api/v1/authenticate`` with the CSPM token."""

    def exchange(self, exchange: Exchange = Exchange()) -> List[Any]:
        session = self.session
        session._log.debug("API - Generating SaaS CWPP session token.")
        return self.send(f"{session.api_url}/api/v1/authenticate",
                         {"username": None, "password": None, "token": session.cspm_token},
                         exchange)


class CNALogin(CSPMBackedLogin):
    """CNA: ``POST /issue`` with the CSPM token."""

    def exchange(self, exchange: Exchange = Exchange()) -> List[Any]:
        session = self.session
        session._log.debug("API - Generating CNA session token.")
        return self.send(f"{session.api_url}/issue",
                         {"realm": "PCIdentityToken",
                          "metadata": {"token": session.cspm_token}}, exchange)


class SelfHostedLogin(Login):
    """A self-hosted Compute console: ``POST /api/v1/authenticate`` with user and password."""

    session: "CWPSession"

    def exchange(self, exchange: Exchange = Exchange()) -> List[Any]:
        session = self.session
        session._log.debug("API - Generating CWP session token.")
        return self.send(f"{session.api_url}/api/v1/authenticate",
                         {"username": session.uname, "password": session.passwd}, exchange)

    def repair(self, exchange: Exchange = Exchange()) -> None:
        session = self.session
        raise CredentialsRejectedError(
            f"the Compute console at {session.api_url} rejected user '{session.uname}' (401 "
            f"on /api/v1/authenticate). Check the user name and password in your credentials "
            f"file or environment.")


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
