"""What SaaS Compute and CNA sessions share: they log in with a CSPM token."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union, cast

from ._cspm_session import CSPMSession
from ._session_base import Session
from ._types import Proxies, Verify
from .errors import AuthorizationError

__all__ = ["CSPMBackedSession"]


class CSPMBackedSession(Session):
    """A session whose login exchanges the CSPM session's token for its own."""

    def __init__(self, tenant_name: str, a_key: str, s_key: str, api_url: str, verify: Verify,
                 proxies: Optional[Proxies], logger: Any,
                 cspm_session: Optional[Union[CSPMSession, Dict[str, Any]]],
                 **options: Any) -> None:
        # the CSPM session's transport (and pool, and pacer) unless told otherwise
        if options.get("transport") is None and cspm_session:
            options["transport"] = cast(CSPMSession, cspm_session).transport
        super().__init__(logger, **options)
        self._set_tenant(tenant_name, a_key, s_key, api_url, verify, proxies)
        self._attach_cspm(cspm_session)

    def _attach_cspm(self, cspm_session: Optional[Union[CSPMSession, Dict[str, Any]]]) -> None:
        self.cspm_session: CSPMSession = {}  # type: ignore[assignment]  # (until set below)
        self.cspm_token: str = ""
        if not cspm_session:
            self.cspm_session = CSPMSession(
                self.tenant, self.a_key, self.s_key, self.api_url, self.verify, self.proxies,
                self.logger, transport=self._transport, retry_policy=self.retry_policy,
                retries=self.retries)
        else:
            self.cspm_session = cast(CSPMSession, cspm_session)  # (a session, not {})
        self.cspm_token = self.cspm_session.token

    def _expired_login(self) -> None:
        """Our login was refused (401): get a CSPM token that works, once.  If ours
        is not the CSPM session's current one (replaced, or set by hand), take
        that; if it is, and it is older than this login, have the CSPM session log
        in again (one thread for all); if even a CSPM token newer than this login
        is refused, the refusal is this service's: raise, without blaming the
        CSPM credentials."""
        cspm = self.cspm_session
        current = cspm.authenticator.credential
        if current is not None and current.token != self.cspm_token:
            self.cspm_token = current.token
            return
        refused = cspm.authenticator.refused_by
        if current is not None and (refused.get(self.api_url) is current or
                                    current.issued >= self._auth.flight_started):
            # a CSPM token newer than this login, or one this service refused
            # before: the refusal is this service's, and another CSPM login won't help
            refused[self.api_url] = current
            raise AuthorizationError(self._refused_login_message("login"))
        self._log.warning("CSPM session expired. Generating new session.")
        cspm.authenticator.relogin(current)
        self.cspm_token = cspm.token

    def _refused_login_message(self, what: str) -> str:
        return (f"{type(self).__name__} {what} at {self.api_url} refused tenant "
                f"'{self.tenant}''s CSPM token, even one issued for this login. The CSPM "
                f"login works: check that the access key's role includes this service "
                f"(Compute or CNA) and that the tenant is licensed for it.")

    def _api_refresh(self) -> List[Any]:
        """A valid CSPM token (renewed by the CSPM session if needed), then our own
        login with it: ``[response, seconds]``."""
        self._log.debug("API - Refreshing session token via CSPM.")
        self.cspm_token = self.cspm_session.authenticator.valid_token()
        return self._api_login()
