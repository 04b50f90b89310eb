"""What a session shows of its login: ``token``, ``token_time_stamp``, the auth
header, and 1.0.1's login methods as delegators.

:class:`LoginSupport` is mixed into :class:`pcpi._session_base.Session`.  How a
product logs in lives in :mod:`pcpi._logins` (one class per product, set as the
session class's ``login_class``); the session's :class:`~pcpi._auth.Authenticator`
decides when.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional

from ._auth import Authenticator, Credential
from ._log import boundary, self_log
from ._logins import Login
from ._redact import Secret, pin

__all__ = ["LoginSupport"]


class LoginSupport:
    """The token as the session shows it; 1.0.1's login methods."""

    _auth: Authenticator
    _source: Login
    if TYPE_CHECKING:  # (what the session supplies)
        headers: Dict[str, Any]
        auth_key: str

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

    def _publish(self, cred: Credential) -> None:
        """Show a credential on the session: the auth header set in ``self.headers``
        itself (one assignment of one key), so that a change another thread makes
        to the dict meanwhile is kept; each call copies the headers it sends."""
        pin(cred.token, getattr(self, "_pinned", None))  # redacted while in use
        self._pinned = cred.token
        self.headers[self.auth_key] = Secret(cred.header)

    # ------------------------------------------------------------------ 1.0.1 login API
    @boundary(self_log)
    def _api_login_wrapper(self) -> str:
        """Log in now and publish the token; returns it."""
        return self._auth.login().token

    @boundary(self_log)
    def _api_refresh_wrapper(self) -> Optional[str]:
        """Refresh the token now (extend where the API can, log in otherwise)."""
        return self._auth.refresh().token

    def _api_login(self) -> List[Any]:
        """One login exchange: ``[response, seconds]``."""
        return self._source.exchange()

    def _expired_login(self) -> None:
        """The login was refused: raise, or repair what it depends on."""
        self._source.repair()
