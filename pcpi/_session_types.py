"""The session classes in one place (as in 1.0.1)."""

from ._cna_session import CNASession
from ._cspm_session import CSPMSession
from ._onprem_cwp_session import CWPSession
from ._saas_cwp_session import SaaSCWPSession

__all__ = ["CSPMSession", "SaaSCWPSession", "CWPSession", "CNASession"]
