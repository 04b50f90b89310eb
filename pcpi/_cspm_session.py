"""CSPM session: ``x-redlock-auth`` token from ``/login``, extended via
``/auth_token/extend``."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ._session_base import Session
from ._types import Proxies, Verify
from .errors import CredentialsRejectedError

__all__ = ["CSPMSession"]


class CSPMSession(Session):
    """A Prisma Cloud CSPM API session; logs in when created."""

    def __init__(self, tenant_name: str, a_key: str, s_key: str, api_url: str, verify: Verify,
                 proxies: Optional[Proxies], logger: Any, **options: Any) -> None:
        """``options`` (keyword-only): ``transport``, ``retry_policy``,
        ``retries`` (see :class:`pcpi._session_base.Session`)."""
        super().__init__(logger, **options)
        self._set_tenant(tenant_name, a_key, s_key, api_url, verify, proxies)
        self.auth_key = "x-redlock-auth"
        self.auth_style = ""
        self.headers: Dict[str, Any] = {
            "content-type": "application/json; charset=UTF-8",
            "x-redlock-auth": "",
        }
        self._api_login_wrapper()

    def _api_login(self) -> List[Any]:
        """POST /login with the access key: ``[response, seconds]``."""
        self._log.debug("API - Generating CSPM session token.")
        return self._login_call(f"{self.api_url}/login",
                                {"username": self.a_key, "password": self.s_key})

    def _expired_login(self) -> None:
        raise CredentialsRejectedError(
            f"Prisma Cloud at {self.api_url} rejected access key '{self.a_key}' for tenant "
            f"'{self.tenant}' (401 on /login). Check the access key ID and secret key in your "
            f"credentials file (default ~/.prismacloud/credentials.json) or environment, "
            f"and that the key is enabled and not expired.")

    def _api_refresh(self) -> List[Any]:
        """GET /auth_token/extend with the current token: ``[response, seconds]``."""
        self._log.debug("API - Refreshing CSPM session token.")
        return self._login_call(f"{self.api_url}/auth_token/extend", None,
                                headers=self.headers, method="GET")
