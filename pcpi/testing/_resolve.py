"""Resolve chosen host names to 127.0.0.1 inside this process, for a while.

pcpi (like 1.0.1) decides SaaS vs self-hosted by ``prismacloud.io`` in the URL,
so a test of the SaaS path needs a ``*.prismacloud.io`` name that reaches the
fake tenant on loopback.  This patches :func:`socket.getaddrinfo` (which urllib3
calls for every new connection) for the names given, and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections import Counter
from typing import Iterator

__all__ = ["resolve_to_loopback", "bypass_proxies"]

_lock = threading.Lock()
_names: Counter = Counter()
_original = socket.getaddrinfo


def _getaddrinfo(host, *args, **kwargs):
    if isinstance(host, (bytes, bytearray)):
        name = bytes(host).decode("ascii", "replace")
    else:
        name = host
    if name is not None and name.lower().rstrip(".") in _names:
        host = "127.0.0.1"
    return _original(host, *args, **kwargs)


def _forget(names: Counter, keys: list) -> None:
    """One context's names out of the count (nested contexts keep theirs)."""
    names.subtract(keys)
    for k in keys:
        if names[k] <= 0:
            del names[k]


@contextlib.contextmanager
def resolve_to_loopback(*hostnames: str) -> Iterator[None]:
    """While the context is open, ``hostnames`` resolve to 127.0.0.1 in this
    process.  Nesting and use from several threads are fine."""
    keys = [h.lower().rstrip(".") for h in hostnames]
    with _lock:
        _names.update(keys)
        socket.getaddrinfo = _getaddrinfo
    try:
        yield
    finally:
        with _lock:
            _forget(_names, keys)
            if not _names:
                socket.getaddrinfo = _original


_bypass: Counter = Counter()
_added: dict = {}  # per variable: the names pcpi.testing put there, and whether it made it


@contextlib.contextmanager
def bypass_proxies(*hostnames: str) -> Iterator[None]:
    """While the context is open, ``hostnames`` are added to the proxy
    exclusions requests reads (``no_proxy``, else ``NO_PROXY``), so that a
    proxy set in the environment (``HTTPS_PROXY`` on a corporate laptop) is not
    asked for the fake tenant.  What was there stays; the names added are taken
    out again when the last context closes."""
    keys = [h.lower().rstrip(".") for h in hostnames]
    with _lock:
        _bypass.update(keys)
        _apply()
    try:
        yield
    finally:
        with _lock:
            _forget(_bypass, keys)
            _apply()


def _apply() -> None:
    for name, (ours, created) in list(_added.items()):  # take ours out first
        items = [h for h in os.environ.get(name, "").split(",") if h.strip()]
        rest = [h for h in items if h.strip().lower() not in ours]
        if rest or not created:
            os.environ[name] = ",".join(rest)
        else:
            os.environ.pop(name, None)
    _added.clear()
    if not _bypass:
        return
    name = "no_proxy" if os.environ.get("no_proxy") else "NO_PROXY"  # requests' order
    current = os.environ.get(name)
    items = [h for h in (current or "").split(",") if h.strip()]
    present = {h.strip().lower() for h in items}
    ours = [h for h in sorted(_bypass) if h not in present]
    os.environ[name] = ",".join(items + ours)
    _added[name] = (set(ours), current is None)
