"""Session manager for a self-hosted Prisma Cloud Compute console."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

from ._credentials import parse_flag
from ._log import boundary, py_logger, self_logger
from ._manager_options import checked_proxies, not_a_logger
from ._options import DEFAULTS, Options, parse_verify
from ._pacing import Pacer
from ._policy import RetryPolicy
from ._redact import remember, secret
from ._session_manager import SessionManager
from ._session_types import CWPSession
from ._transport import Timeout, Transport
from ._types import Proxies, Verify

__all__ = ["CWPSessionManager", "py_logger"]


class CWPSessionManager(SessionManager):
    """Creates Compute sessions for one self-hosted console on one pooled transport.

    ``project_flag=True`` adds ``?project=<tenant_name>`` to every call.  Keyword-only
    options as for :class:`pcpi.saas_session_manager.SaaSSessionManager`.
    """

    def __init__(self, tenant_name: str, api_url: str, uname: str, passwd: str,
                 verify: Verify = True, proxies: Optional[Proxies] = None,
                 project_flag: bool = False,
                 logger: object = py_logger, *,
                 pool_connections: int = DEFAULTS.pool_connections,
                 pool_maxsize: int = DEFAULTS.pool_maxsize,
                 timeout: Timeout = DEFAULTS.timeout, retries: int = DEFAULTS.retries,
                 retry_policy: Optional[RetryPolicy] = DEFAULTS.retry_policy,
                 transport: Optional[Transport] = DEFAULTS.transport,
                 pacing: Union[bool, Pacer] = DEFAULTS.pacing,
                 max_response_bytes: Optional[int] = DEFAULTS.max_response_bytes) -> None:
        self.logger = logger
        self.tenant = tenant_name
        self.uname = uname
        self.passwd: str = secret(passwd)  # a str whose repr hides it
        remember(passwd, lasting=True)
        self.api_url: str = api_url.rstrip("/")
        self.verify: Verify = parse_verify(verify)
        signature = ("(tenant_name, api_url, uname, passwd, verify=True, proxies=None, "
                     "project_flag=False, logger=...)")
        self.proxies: Optional[Proxies] = checked_proxies(proxies, signature)
        self.project_flag: bool = parse_flag(not_a_logger(
            project_flag, "the 7th argument (project_flag)", signature))  # ("false": False)
        # (1.0.1's attribute: {} until the session is created)
        self.cwp_session: Union[CWPSession, Dict[str, Any]] = {}
        self._init_options(Options(pool_connections, pool_maxsize, timeout, retries,
                                   retry_policy, transport, pacing, max_response_bytes))

    _SESSIONS = {"cwp_session": "create_cwp_session"}

    def __repr__(self) -> str:
        return f"<CWPSessionManager tenant={self.tenant!r} api_url={self.api_url!r}>"

    def _constructor_args(self) -> Tuple[Any, ...]:
        return (self.tenant, self.api_url, self.uname, str(self.passwd), self.verify,
                self.proxies, self.project_flag)

    @boundary(self_logger)
    def create_cwp_session(self) -> CWPSession:
        """Log in to the console and return the session (kept as ``self.cwp_session``)."""
        session = CWPSession(self.tenant, self.api_url, self.uname, self.passwd, self.verify,
                             self.proxies, self.project_flag, self.logger,
                             **self._session_options())
        self._adopt("cwp_session", session)  # (it pickles as this manager's cwp_session)
        return session
