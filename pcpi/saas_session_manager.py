"""Session manager for a Prisma Cloud SaaS tenant (CSPM, Compute, CNA)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

from ._log import boundary, py_logger, self_logger
from ._manager_options import checked_proxies
from ._options import DEFAULTS, Options, parse_verify
from ._pacing import Pacer
from ._policy import RetryPolicy
from ._redact import remember, secret
from ._session_manager import SessionManager
from ._session_types import CNASession, CSPMSession, SaaSCWPSession
from ._transport import Timeout, Transport
from ._types import Proxies, Verify

__all__ = ["SaaSSessionManager", "py_logger"]


class SaaSSessionManager(SessionManager):
    """Creates the sessions of one SaaS tenant; they all share one pooled transport.

    Keyword-only options (defaults): ``pool_connections=200``, ``pool_maxsize=200``
    (at least your thread count), ``timeout=(10, 180)`` seconds (connect, read),
    ``retries=20`` (for 429/5xx), ``retry_policy`` (:class:`pcpi.RetryPolicy`),
    ``transport`` (share one between managers), ``pacing=True`` (wait for the
    tenant's rate limit before sending instead of bouncing off 429s; False, or
    a :class:`pcpi.Pacer`; ignored when ``transport`` is given, which has its own),
    ``max_response_bytes=512 MiB`` (largest answer read, after decompression;
    None for no bound; also ignored when ``transport`` is given).
    """

    def __init__(self, tenant_name: str, a_key: str, s_key: str, api_url: str,
                 verify: Verify = True, proxies: Optional[Proxies] = None,
                 logger: Any = py_logger, *,
                 pool_connections: int = DEFAULTS.pool_connections,
                 pool_maxsize: int = DEFAULTS.pool_maxsize,
                 timeout: Timeout = DEFAULTS.timeout, retries: int = DEFAULTS.retries,
                 retry_policy: Optional[RetryPolicy] = DEFAULTS.retry_policy,
                 transport: Optional[Transport] = DEFAULTS.transport,
                 pacing: Union[bool, Pacer] = DEFAULTS.pacing,
                 max_response_bytes: Optional[int] = DEFAULTS.max_response_bytes) -> None:
        self.logger = logger
        self.tenant = tenant_name
        self.a_key = a_key
        self.s_key: str = secret(s_key)  # a str whose repr hides it
        remember(s_key, lasting=True)
        self.api_url: str = api_url.rstrip("/")
        self.verify: Verify = parse_verify(verify)
        self.proxies: Optional[Proxies] = checked_proxies(
            proxies, "(tenant_name, a_key, s_key, api_url, verify=True, proxies=None, logger=...)")
        # (1.0.1's attributes: {} until the session is created)
        self.cspm_session: Union[CSPMSession, Dict[str, Any]] = {}
        self.saas_cwp_session: Union[SaaSCWPSession, Dict[str, Any]] = {}
        self.cna_session: Union[CNASession, Dict[str, Any]] = {}
        self._init_options(Options(pool_connections, pool_maxsize, timeout, retries,
                                   retry_policy, transport, pacing, max_response_bytes))

    _SESSIONS = {"cspm_session": "create_cspm_session", "saas_cwp_session": "create_cwp_session",
                 "cna_session": "create_cna_session"}

    def __repr__(self) -> str:
        return f"<SaaSSessionManager tenant={self.tenant!r} api_url={self.api_url!r}>"

    def _constructor_args(self) -> Tuple[Any, ...]:
        return (self.tenant, self.a_key, str(self.s_key), self.api_url, self.verify,
                self.proxies)

    @boundary(self_logger)
    def create_cspm_session(self) -> CSPMSession:
        """Log in to CSPM and return the session (kept as ``self.cspm_session``)."""
        session = CSPMSession(self.tenant, self.a_key, self.s_key, self.api_url, self.verify,
                              self.proxies, logger=self.logger, **self._session_options())
        self._adopt("cspm_session", session)  # (it pickles as this manager's cspm_session)
        return session

    @boundary(self_logger)
    def create_cwp_session(self) -> SaaSCWPSession:
        """Log in to Compute with the CSPM token (creating the CSPM session if needed)."""
        if not self.cspm_session:
            self.create_cspm_session()
        session = SaaSCWPSession(self.tenant, self.a_key, self.s_key, self.api_url,
                                 self.verify, self.proxies, logger=self.logger,
                                 cspm_session=self.cspm_session, **self._session_options())
        self._adopt("saas_cwp_session", session)  # (it pickles as this manager's saas_cwp_session)
        return session

    @boundary(self_logger)
    def create_cna_session(self) -> CNASession:
        """Log in to CNA with the CSPM token (creating the CSPM session if needed)."""
        if not self.cspm_session:
            self.create_cspm_session()
        session = CNASession(self.tenant, self.a_key, self.s_key, self.api_url, self.verify,
                             self.proxies, logger=self.logger, cspm_session=self.cspm_session,
                             **self._session_options())
        self._adopt("cna_session", session)  # (it pickles as this manager's cna_session)
        return session
