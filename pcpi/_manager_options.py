"""What the session managers share: their options (:mod:`pcpi._options`) made
into a transport, and how a manager crosses a process boundary.

A manager pickles as its tenant settings, credentials and options: never a
token, a socket, a lock or a pool.  Unpickled in another process (a
``ProcessPoolExecutor`` worker, multiprocessing with spawn, Dask, Ray) it gets
its own transport, and each session the original had logs in on first use.
Copies with the same settings unpickled in one process are one manager (at
most :data:`MAX_RESTORED` are kept), so a worker that receives it with every
task logs in once, not once per task.  A copy pickled again before its first
use carries the sessions it has still to create (Dask unpickles a task's
arguments in its scheduler and pickles them again for a worker), so any number
of round trips give the same manager.  Sessions pickle through their manager
(:mod:`pcpi._session_pickle`).
"""

from __future__ import annotations

import collections
import collections.abc
import hashlib
import pickle
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, TypeVar
from urllib.parse import urlsplit

from . import _fork
from ._bounded import BoundedCache
from ._log import Log
from ._options import Options
from ._origin import describe
from ._policy import RetryPolicy
from ._types import Proxies, Verify

__all__ = ["ManagerOptions", "MAX_RESTORED", "checked_proxies", "not_a_logger"]

#: managers kept per process for unpickled copies (the least recently used go first)
MAX_RESTORED = 64
_restored: "BoundedCache[bytes, ManagerOptions]" = BoundedCache(MAX_RESTORED)
_M = TypeVar("_M", bound="ManagerOptions")


def _is_logger(value: Any) -> bool:
    return callable(getattr(value, "info", None)) and callable(getattr(value, "error", None))


def not_a_logger(value: Any, what: str, signature: str) -> Any:
    """``value``, unless it is a logger: a positional call in the style of pcpi
    0.x, which took the logger earlier; say which argument and what 1.0.1 expects."""
    if _is_logger(value):
        raise TypeError(f"{what} is a logger: pcpi 1.0.1 and later take {signature}; pass "
                        f"the logger by name, logger=...")
    return value


def checked_proxies(proxies: Any, signature: str) -> Any:
    """``proxies`` as given, if it can be one: a dict, or empty (None, ``""``,
    as 1.0.1 scripts pass)."""
    if not proxies or isinstance(proxies, collections.abc.Mapping):
        return proxies
    not_a_logger(proxies, "the 6th argument (proxies)", signature)
    raise TypeError(f"proxies must be a dict such as {{'https': 'http://proxy:3128'}} or None, "
                    f"not {type(proxies).__name__}")


class ManagerOptions:
    """Owns the tenant's transport and hands the same options to every session."""

    #: session attributes, and the method that creates each (subclasses)
    _SESSIONS: Dict[str, str] = {}

    # set by the subclasses' __init__
    tenant: str
    api_url: str
    verify: Verify
    proxies: Optional[Proxies]
    logger: Any

    def _init_options(self, options: Options) -> None:
        self._options = options.for_copy()  # (what a pickled copy is rebuilt with)
        self._lazy = threading.RLock()  # sessions of an unpickled copy, created on first use
        _fork.register(self)
        transport = options.transport if options.transport is not None else \
            options.new_transport()
        self.transport = transport
        if self.verify is False:
            transport.unverified(self.api_url, self.tenant)
        if urlsplit(self.api_url).scheme.lower() == "http":
            # the user wrote http: allowed, said once per manager
            Log(self.logger).warning(
                f"tenant '{self.tenant}' is reached over plain http ({describe(self.api_url)}): "
                f"its token and credentials cross the network unencrypted; use https unless "
                f"this network is trusted")
        self.retries: int = options.retries
        self.retry_policy: RetryPolicy = options.retry_policy or RetryPolicy()

    def _adopt(self, name: str, session: Any) -> None:
        """Keep ``session`` as attribute ``name``, and tell the session which
        manager and attribute it is, so that it pickles as them."""
        session._pcpi_manager = (self, name)
        setattr(self, name, session)

    def _session_options(self) -> Dict[str, Any]:
        return {"transport": self.transport, "retries": self.retries,
                "retry_policy": self.retry_policy}

    # ------------------------------------------------------------------ other processes
    def _constructor_args(self) -> Tuple[Any, ...]:  # pragma: no cover - subclasses
        raise NotImplementedError

    def __reduce__(self) -> Tuple[Any, ...]:
        # a session it has, or one an unpickled copy has still to create (left out
        # of its __dict__ until then)
        state = self.__dict__
        sessions = tuple(name for name in self._SESSIONS
                         if state.get(name) or name not in state)
        return _restore, (type(self), self._constructor_args(), self._options, self.logger,
                          sessions)

    if not TYPE_CHECKING:  # (hidden from type checkers: it is no catch-all)
        def __getattr__(self, name: str) -> Any:
            # Only for a session attribute an unpickled copy left out: create it (log
            # in) on first use, once for all threads.
            state = self.__dict__
            if name not in type(self)._SESSIONS or "_lazy" not in state:
                raise AttributeError(
                    f"{type(self).__name__!r} object has no attribute {name!r}")
            with state["_lazy"]:
                if name not in state:
                    getattr(self, self._SESSIONS[name])()
            return state[name]

    def _after_fork_in_child(self) -> None:
        self._lazy = threading.RLock()  # another thread may have held it at fork time

    def close(self) -> None:
        """Close the pooled connections (they reopen on the next call)."""
        self.transport.close()

    def __enter__(self: _M) -> _M:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _restore(cls: Callable[..., ManagerOptions], args: Tuple[Any, ...],
             options: Dict[str, Any], logger: Any,
             sessions: Tuple[str, ...]) -> "ManagerOptions":
    """Rebuild a pickled manager, or return the copy this process already has
    (with ``sessions`` it had not created yet now to be created on first use)."""
    key = hashlib.sha256(pickle.dumps((cls.__module__, cls.__qualname__, args, options,
                                       getattr(logger, "name", repr(type(logger)))))
                         ).digest()
    found = _restored.get(key)
    if found is None:
        manager = cls(*args, logger=logger, **options)
        found = _restored.setdefault(key, manager)
        if found is not manager:  # another thread restored the same one meanwhile
            manager.close()
    _expect(found, sessions)
    return found


def _expect(manager: ManagerOptions, sessions: Tuple[str, ...]) -> None:
    """Have ``manager`` create ``sessions`` on first use, those it has not yet."""
    state = manager.__dict__
    with state["_lazy"]:
        for name in sessions:
            if name in state and not state[name]:  # ({} until created, as in 1.0.1)
                del state[name]  # created (logged in) on first use


