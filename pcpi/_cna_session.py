"""CNA session: token from ``/issue`` with the CSPM token, on the
``public-api`` URL that ``/cnsConfig`` gives, namespaced by the Prisma ID."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Type, Union

from ._cspm_backed import CSPMBackedSession
from ._cspm_session import CSPMSession
from ._logins import CNALogin, Login
from ._origin import check_learned_url
from ._types import Proxies, Verify

__all__ = ["CNASession"]


class CNASession(CSPMBackedSession):
    """A Prisma Cloud CNA session; logs in when created."""

    login_class: Type[Login] = CNALogin

    api_url: str
    prisma_id: str

    def __init__(self, tenant_name: str, a_key: str, s_key: str, api_url: str, verify: Verify,
                 proxies: Optional[Proxies], logger: Any,
                 cspm_session: Optional[Union[CSPMSession, Dict[str, Any]]] = {},  # noqa: B006
                 **options: Any) -> None:  # (1.0.1 API: {} or None for a new CSPM session)
        """``cspm_session`` is reused when given (else one is created);
        ``options`` as for :class:`pcpi._cspm_session.CSPMSession`."""
        super().__init__(tenant_name, a_key, s_key, api_url, verify, proxies, logger,
                         cspm_session, **options)
        self.api_url, self.prisma_id = self._cna_metadata()
        self.headers: Dict[str, Any] = {
            "content-type": "application/json; charset=UTF-8",
            "X-Namespace": "/" + self.prisma_id,
            "Authorization": "Bearer ",
        }
        self._api_login_wrapper()

    def _cna_metadata(self) -> Tuple[str, str]:
        cns = self._json_of(self.cspm_session.request("GET", "/cnsConfig"), "GET /cnsConfig")
        lic = self._json_of(self.cspm_session.request("GET", "/license"), "GET /license")
        if not cns.get("public-api") or not lic.get("prismaId"):
            raise ValueError(f"tenant '{self.tenant}' gave no CNA API URL or Prisma ID: is "
                             "CNA enabled for it?")
        url = check_learned_url(cns["public-api"], self.cspm_session.api_url,
                                "the CNA URL (public-api of /cnsConfig)")
        return url, str(lic["prismaId"])
