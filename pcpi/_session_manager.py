"""The common base of the two session managers: the type the loaders return."""

from __future__ import annotations

from typing import NoReturn, Union

from ._manager_options import ManagerOptions
from ._session_types import CNASession, CSPMSession, CWPSession, SaaSCWPSession

__all__ = ["SessionManager"]


class SessionManager(ManagerOptions):
    """What :class:`~pcpi.saas_session_manager.SaaSSessionManager` and
    :class:`~pcpi.onprem_session_manager.CWPSessionManager` have in common, and
    what :func:`pcpi.session_loader.load_config` and the other loaders return:
    which of the two a credentials file gives is only known when it is read.

    Every manager has the three ``create_*`` methods, so code written for a SaaS
    tenant type-checks as it is; a self-hosted Compute console has no CSPM or CNA
    API, and its manager's :meth:`create_cspm_session` and
    :meth:`create_cna_session` raise :class:`AttributeError` (as they did in
    1.0.1, where the methods did not exist) saying so.  Use ``isinstance`` to
    tell the two apart.
    """

    def create_cspm_session(self) -> CSPMSession:
        """Log in to CSPM and return the session (SaaS tenants only)."""
        self._not_here("create_cspm_session", "CSPM")

    def create_cwp_session(self) -> Union[SaaSCWPSession, CWPSession]:
        """Log in to Compute and return the session."""
        self._not_here("create_cwp_session", "Compute")

    def create_cna_session(self) -> CNASession:
        """Log in to CNA and return the session (SaaS tenants only)."""
        self._not_here("create_cna_session", "CNA")

    def _not_here(self, method: str, api: str) -> NoReturn:
        raise AttributeError(
            f"{type(self).__name__} has no {method}(): tenant '{self.tenant}' "
            f"({self.api_url}) has no {api} API (a self-hosted Compute console has only "
            f"create_cwp_session(); SaaS tenants, *.prismacloud.io, have all three)")
