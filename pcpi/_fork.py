"""One at-fork registry: what a forked child must re-create before it runs.

After ``os.fork()`` only the forking thread exists in the child.  A lock that
another thread held at that moment stays held forever, and pooled sockets
belong to the parent.  Everything in pcpi that owns a lock or a pool
registers here (:func:`register` for objects with an ``_after_fork_in_child``
method, :func:`register_function` for module state), and the one handler
below re-creates all of it in the child: module state first, then each object,
whose reset touches only its own state (so their order does not matter).
"""

from __future__ import annotations

import os
import weakref
from typing import Any, Callable, List

__all__ = ["register", "register_function"]

_objects: "weakref.WeakSet[Any]" = weakref.WeakSet()
_functions: List[Callable[[], None]] = []


def register(obj: Any) -> None:
    """Call ``obj._after_fork_in_child()`` in every forked child while it lives."""
    _objects.add(obj)


def register_function(fn: Callable[[], None]) -> None:
    """Call ``fn()`` in every forked child (module-level state)."""
    _functions.append(fn)


def _after_fork_in_child() -> None:
    for fn in list(_functions):
        fn()
    for obj in list(_objects):
        obj._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
