"""CSPM session: ``x-redlock-auth`` token from ``/login``, extended via
``/auth_token/extend``."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Type

from ._logins import CSPMLogin, Login
from ._session_base import Session
from ._types import Proxies, Verify

__all__ = ["CSPMSession"]


class CSPMSession(Session):
    """A Prisma Cloud CSPM API session; logs in when created."""

    login_class: Type[Login] = CSPMLogin
    _source: CSPMLogin
    auth_key = "x-redlock-auth"
    auth_style = ""

    def __init__(self, tenant_name: str, a_key: str, s_key: str, api_url: str, verify: Verify,
                 proxies: Optional[Proxies], logger: Any, **options: Any) -> None:
        """``options`` (keyword-only): ``transport``, ``retry_policy``,
        ``retries`` (see :class:`pcpi._session_base.Session`)."""
        super().__init__(logger, **options)
        self._set_tenant(tenant_name, a_key, s_key, api_url, verify, proxies)
        self.headers: Dict[str, Any] = {
            "content-type": "application/json; charset=UTF-8",
            "x-redlock-auth": "",
        }
        self._api_login_wrapper()

    def _api_refresh(self) -> List[Any]:
        """GET /auth_token/extend with the current token: ``[response, seconds]``."""
        return self._source.refresh_exchange()
