"""pcpi: the Python client for the Prisma Cloud APIs.

::

    from pcpi import session_loader
    manager = session_loader.load_config()[0]
    cspm = manager.create_cspm_session()
    res = cspm.request("GET", "/cloud")

Every session of a tenant shares one pooled ``requests.Session``; calls retry
401s (one re-login for all threads), 429/5xx (backoff that resets after
recovery) and connection failures of calls that are safe to repeat.
:func:`fan_out` makes one call per item, bounded, with failures kept, retry
rounds, progress and a checkpoint, on threads, processes or Dask.
"""

from . import (  # noqa: E402
           errors,  # noqa: E402
           onprem_session_manager,
           saas_session_manager,
           session_loader,
)
from ._fanout import FanOutInterrupted, FanOutResult, fan_out  # noqa: E402
from ._pacing import Pacer, PacingPolicy  # noqa: E402
from ._pager import Pager  # noqa: E402
from ._policy import Backoff, RetryPolicy  # noqa: E402
from ._session_base import Session  # noqa: E402
from ._session_manager import SessionManager  # noqa: E402
from ._session_types import CNASession, CSPMSession, CWPSession, SaaSCWPSession  # noqa: E402
from ._transport import DEFAULT_TIMEOUT, Transport  # noqa: E402
from ._version import __version__  # noqa: E402
from .onprem_session_manager import CWPSessionManager  # noqa: E402
from .saas_session_manager import SaaSSessionManager  # noqa: E402

__all__ = ["__version__", "errors", "session_loader", "saas_session_manager",
           "onprem_session_manager", "Backoff", "RetryPolicy", "Pacer", "PacingPolicy",
           "Pager", "Transport", "DEFAULT_TIMEOUT", "Session", "CSPMSession", "SaaSCWPSession",
           "CWPSession", "CNASession", "SessionManager", "SaaSSessionManager",
           "CWPSessionManager", "fan_out", "FanOutResult", "FanOutInterrupted"]
