"""Resolve chosen host names to 127.0.0.1 inside this process, for a while.

pcpi (like 1.0.1) decides SaaS vs self-hosted by ``prismacloud.io`` in the URL,
so a test of the SaaS path needs a ``*.prismacloud.io`` name that reaches the
fake tenant on loopback.  This patches :func:`socket.getaddrinfo` (which urllib3
calls for every new connection) for the names given, and nothing else.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import Counter
from typing import Iterator

__all__ = ["resolve_to_loopback"]

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
            _names.subtract(keys)
            for k in keys:
                if _names[k] <= 0:
                    del _names[k]
            if not _names:
                socket.getaddrinfo = _original
