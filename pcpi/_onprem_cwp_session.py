"""Self-hosted Compute (CWP) session: user/password login on the console,
``?project=`` added to every call when ``project_flag`` is set."""

from __future__ import annotations

from typing import Any, Dict, Optional, Type

from ._credentials import parse_flag
from ._logins import Login, SelfHostedLogin
from ._redact import remember, secret
from ._session_base import Session
from ._types import Proxies, Verify

__all__ = ["CWPSession"]


class CWPSession(Session):
    """A self-hosted Prisma Cloud Compute console session; logs in when created."""

    login_class: Type[Login] = SelfHostedLogin

    def __init__(self, tenant_name: str, api_url: str, uname: str, passwd: str, verify: Verify,
                 proxies: Optional[Proxies], project_flag: bool, logger: object,
                 **options: Any) -> None:
        """``options`` as for :class:`pcpi._cspm_session.CSPMSession`."""
        super().__init__(logger, **options)
        self.tenant = tenant_name
        self.uname = uname
        self.passwd: str = secret(passwd)
        remember(passwd, lasting=True)
        self.verify = verify
        self.proxies = proxies
        self.project_flag: bool = parse_flag(project_flag)  # ("false" is False)
        self.api_url: str = api_url.rstrip("/")
        self.headers: Dict[str, Any] = {
            "content-type": "application/json; charset=UTF-8",
            "Authorization": "Bearer ",
        }
        self._api_login_wrapper()
