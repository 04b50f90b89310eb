"""How a session crosses a process boundary: as its manager and its name there.

A session holds a token, sockets and locks, none of which may travel.  It
pickles as "session ``name`` of this manager" (``cspm_session``,
``saas_cwp_session``, ``cna_session`` or ``cwp_session``): the manager pickles
as its settings and credentials (:mod:`pcpi._manager_options`), and the copy is
a stand-in of the session's own class that becomes that manager's session on
first use, logging in then, once per process.  Unpickling never logs in: Dask
unpickles a task's arguments in its scheduler before it pickles them again for
a worker, so ``functools.partial(fn, session)`` may make any number of trips.

A session created directly (``CSPMSession(...)`` rather than
``manager.create_cspm_session()``) pickles as the session of the manager that
would have created it: the same tenant, credentials, retries, retry policy and
transport options.  Subclasses of the session classes are not pickled (pcpi
cannot know what they add): create them in the worker, or pickle the manager.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Tuple, Type

from . import _fork

__all__ = ["reduce_session"]

_lazy_types: Dict[type, type] = {}
_lazy_lock = threading.Lock()
#: what a stand-in answers itself; everything else is the session's
_OWN = frozenset({"__reduce__", "__reduce_ex__", "__class__", "__dict__", "_pcpi_ref"})


def reduce_session(session: Any) -> Tuple[Any, ...]:
    """``session.__reduce__()``: rebuilt as its manager's session ``name``."""
    cls = type(session)  # (a stand-in has its own __reduce__)
    owner = session.__dict__.get("_pcpi_manager")
    if owner is not None:
        manager, name = owner
        return _session_of, (manager, name, cls)
    from ._manager_options import _restore

    manager_cls, args, name = _settings(session)
    transport = session.transport
    options = {"pool_connections": transport.pool_connections,
               "pool_maxsize": transport.pool_maxsize, "timeout": transport.timeout,
               "retries": session.retries, "retry_policy": session.retry_policy,
               "pacing": transport.pacer is not None,
               "max_response_bytes": transport.max_response_bytes}
    return _session_from_settings, (_restore, (manager_cls, args, options, session.logger,
                                               (name,)), name, cls)


def _settings(session: Any) -> Tuple[type, Tuple[Any, ...], str]:
    """The manager class, its arguments and the session's name there, for a
    session created directly."""
    from ._session_types import CNASession, CSPMSession, CWPSession, SaaSCWPSession
    from .onprem_session_manager import CWPSessionManager
    from .saas_session_manager import SaaSSessionManager

    cls = type(session)
    if cls is CWPSession:
        return CWPSessionManager, (session.tenant, session.api_url, session.uname,
                                   str(session.passwd), session.verify, session.proxies,
                                   session.project_flag), "cwp_session"
    names = {CSPMSession: "cspm_session", SaaSCWPSession: "saas_cwp_session",
             CNASession: "cna_session"}
    if cls not in names:
        raise TypeError(
            f"a {cls.__module__}.{cls.__qualname__} is not pickled: pcpi pickles its own "
            f"session classes only; pickle the session manager instead (or create the "
            f"session in the other process)")
    # (a Compute or CNA session's api_url is the service's; the tenant's is its CSPM one)
    tenant_url = session.api_url if cls is CSPMSession else session.cspm_session.api_url
    return SaaSSessionManager, (session.tenant, session.a_key, str(session.s_key), tenant_url,
                                session.verify, session.proxies), names[cls]


def _session_from_settings(restore: Callable[..., Any], args: Tuple[Any, ...], name: str,
                           cls: type) -> Any:
    return _session_of(restore(*args), name, cls)


def _session_of(manager: Any, name: str, cls: type) -> Any:
    """A stand-in for ``getattr(manager, name)``: an instance of a subclass of
    ``cls`` that logs in (through the manager) on first use, not now."""
    stand_in: Any = object.__new__(_lazy_type(cls))
    object.__setattr__(stand_in, "_pcpi_ref", (manager, name, cls))
    return stand_in


def _real(stand_in: Any) -> Any:
    manager, name, _cls = object.__getattribute__(stand_in, "_pcpi_ref")
    return getattr(manager, name)  # (the manager creates it on first use, once)


def _get(self: Any, name: str) -> Any:
    if name in _OWN:
        return object.__getattribute__(self, name)
    return getattr(_real(self), name)


def _set(self: Any, name: str, value: Any) -> None:
    setattr(_real(self), name, value)


def _delete(self: Any, name: str) -> None:
    delattr(_real(self), name)


def _reduce(self: Any) -> Tuple[Any, ...]:
    return _session_of, object.__getattribute__(self, "_pcpi_ref")


def _reduce_ex(self: Any, protocol: int) -> Tuple[Any, ...]:
    return _reduce(self)


def _lazy_type(cls: Type[Any]) -> type:
    """A subclass of ``cls`` whose instances forward every attribute to the
    manager's session (so ``isinstance`` and the methods work as on it)."""
    with _lazy_lock:
        found = _lazy_types.get(cls)
        if found is None:
            found = _lazy_types[cls] = type(cls.__name__, (cls,), {
                "__module__": cls.__module__, "__qualname__": cls.__qualname__,
                "__doc__": cls.__doc__, "__getattribute__": _get, "__setattr__": _set,
                "__delattr__": _delete, "__reduce__": _reduce, "__reduce_ex__": _reduce_ex})
        return found


def _after_fork() -> None:
    global _lazy_lock
    _lazy_lock = threading.Lock()  # it may have been held at fork time


_fork.register_function(_after_fork)
