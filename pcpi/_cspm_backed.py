"""What SaaS Compute and CNA sessions share: they log in with a CSPM token."""

from __future__ import annotations

from ._cspm_session import CSPMSession
from ._session_base import Session

__all__ = ["CSPMBackedSession"]


class CSPMBackedSession(Session):
    """A session whose login exchanges the CSPM session's token for its own."""

    def __init__(self, tenant_name: str, a_key: str, s_key: str, api_url: str, verify: bool,
                 proxies: dict, logger, cspm_session, **options):
        # the CSPM session's transport (and pool, and pacer) unless told otherwise
        if options.get("transport") is None and cspm_session:
            options["transport"] = cspm_session.transport
        super().__init__(logger, **options)
        self._set_tenant(tenant_name, a_key, s_key, api_url, verify, proxies)
        self._attach_cspm(cspm_session)

    def _attach_cspm(self, cspm_session) -> None:
        self.cspm_session = {}
        self.cspm_token = ""
        if not cspm_session:
            self.cspm_session = CSPMSession(
                self.tenant, self.a_key, self.s_key, self.api_url, self.verify, self.proxies,
                self.logger, transport=self._transport, retry_policy=self.retry_policy,
                retries=self.retries)
        else:
            self.cspm_session = cspm_session
        self.cspm_token = self.cspm_session.token

    def _expired_login(self) -> None:
        """Our login was refused: get a CSPM token that works.  If ours differs
        from the CSPM session's (it was replaced, or set by hand), take the CSPM
        session's; if it is the same, that token has expired, so have the CSPM
        session log in again (once, whichever thread gets there first)."""
        cspm = self.cspm_session
        used = self.cspm_token
        if cspm.token == used:
            self._log.warning("CSPM session expired. Generating new session.")
            cspm._reauthenticate(cspm._auth_value())
        self.cspm_token = cspm.token

    def _api_refresh(self) -> object:
        """A fresh CSPM token (extended if due), then our own login with it."""
        self._log.debug("API - Refreshing session token via CSPM.")
        self.cspm_session._refresh_if_due()
        self.cspm_token = self.cspm_session.token
        return self._api_login()
