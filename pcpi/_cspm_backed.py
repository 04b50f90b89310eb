"""What SaaS Compute and CNA sessions share: they log in with a CSPM token."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union, cast

from ._cspm_session import CSPMSession
from ._logins import CSPMBackedLogin
from ._session_base import Session
from ._types import Proxies, Verify

__all__ = ["CSPMBackedSession"]


class CSPMBackedSession(Session):
    """A session whose login exchanges the CSPM session's token for its own."""

    _source: CSPMBackedLogin

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

    def _api_refresh(self) -> List[Any]:
        """A valid CSPM token (renewed by the CSPM session if needed), then our own
        login with it: ``[response, seconds]``."""
        return self._source.renew()
