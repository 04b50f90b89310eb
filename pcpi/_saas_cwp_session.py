"""SaaS Compute (CWP) session: Compute token from the CSPM token, on the
``twistlockUrl`` that ``/meta_info`` gives."""

from __future__ import annotations

from typing import Any, Dict, Optional, Type, Union

from ._cspm_backed import CSPMBackedSession
from ._cspm_session import CSPMSession
from ._logins import ComputeLogin, Login
from ._origin import check_learned_url
from ._types import Proxies, Verify

__all__ = ["SaaSCWPSession"]


class SaaSCWPSession(CSPMBackedSession):
    """A Prisma Cloud Compute session on SaaS; logs in when created."""

    login_class: Type[Login] = ComputeLogin

    def __init__(self, tenant_name: str, a_key: str, s_key: str, api_url: str, verify: Verify,
                 proxies: Optional[Proxies], logger: Any,
                 cspm_session: Optional[Union[CSPMSession, Dict[str, Any]]] = {},  # noqa: B006
                 **options: Any) -> None:  # (1.0.1 API: {} or None for a new CSPM session)
        """``cspm_session`` is reused when given (else one is created);
        ``options`` as for :class:`pcpi._cspm_session.CSPMSession`."""
        super().__init__(tenant_name, a_key, s_key, api_url, verify, proxies, logger,
                         cspm_session, **options)
        self.api_url: str = self._compute_url()
        self.headers: Dict[str, Any] = {
            "content-type": "application/json; charset=UTF-8",
            "Authorization": "Bearer ",
        }
        self._api_login_wrapper()

    def _compute_url(self) -> str:
        res = self.cspm_session.request("GET", "/meta_info")
        url = self._json_of(res, "GET /meta_info").get("twistlockUrl")
        if not url:
            raise ValueError("GET /meta_info gave no twistlockUrl: is Compute enabled for "
                             f"tenant '{self.tenant}'?")
        return check_learned_url(url, self.cspm_session.api_url, "the Compute URL "
                                 "(twistlockUrl of /meta_info)")
