"""One bounded cache for every table pcpi keeps per key.  No I/O here.

Whatever decides a table's keys (the endpoints a script calls, the origins a
tenant names, the tokens a server hands out), the table stays within a number
of entries and, where its values are server-chosen data, a number of bytes.
One eviction rule for all: the entry used least recently goes first (a
:meth:`BoundedCache.get` or :meth:`~BoundedCache.put` counts as a use).
"""

from __future__ import annotations

import collections
import threading
from typing import Callable, Generic, Hashable, Iterator, List, Optional, Tuple, TypeVar

from . import _fork

__all__ = ["BoundedCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """A thread-safe mapping of at most ``entries`` items and, when ``sizeof`` is
    given, at most ``size`` in the sum of ``sizeof(key, value)`` (bytes); the
    least recently used entries are forgotten first.  An entry larger than
    ``size`` by itself is not kept.

    :meth:`peek` reads without the lock and without counting a use: for hot
    paths that only need to know what is there.
    """

    def __init__(self, entries: int, size: Optional[int] = None,
                 sizeof: Optional[Callable[[K, V], int]] = None):
        if entries < 1 or (size is not None and size < 1):
            raise ValueError("a bounded cache holds at least one entry and one byte")
        self.entries = entries
        self.size = size
        self._sizeof = sizeof
        self._data: "collections.OrderedDict[K, Tuple[V, int]]" = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        _fork.register(self)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at fork time

    @property
    def held(self) -> int:
        """The sum of ``sizeof`` over the entries (0 without ``sizeof``)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def peek(self, key: K, default: Optional[V] = None) -> Optional[V]:
        """The value of ``key`` (or ``default``), not counted as a use."""
        found = self._data.get(key)
        return default if found is None else found[0]

    def get(self, key: K, default: Optional[V] = None) -> Optional[V]:
        """The value of ``key`` (or ``default``), counted as a use."""
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return default
            self._data.move_to_end(key)
            return found[0]

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` for ``key``, forgetting the least recently used entries
        until the bounds hold."""
        cost = self._sizeof(key, value) if self._sizeof is not None else 0
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if self.size is not None and cost > self.size:
                return  # larger than the whole cache: not kept
            self._data[key] = (value, cost)
            self._bytes += cost
            while len(self._data) > self.entries or \
                    (self.size is not None and self._bytes > self.size):
                _, (_, freed) = self._data.popitem(last=False)
                self._bytes -= freed

    def setdefault(self, key: K, value: V) -> V:
        """The value of ``key``, after storing ``value`` there if it had none."""
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
                return found[0]
        self.put(key, value)
        return value

    def pop(self, key: K, default: Optional[V] = None) -> Optional[V]:
        with self._lock:
            found = self._data.pop(key, None)
            if found is None:
                return default
            self._bytes -= found[1]
            return found[0]

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def keys(self) -> List[K]:
        """The keys, least recently used first (a copy)."""
        with self._lock:
            return list(self._data)

    def items(self) -> List[Tuple[K, V]]:
        with self._lock:
            return [(k, v) for k, (v, _) in self._data.items()]

    def __iter__(self) -> Iterator[K]:
        return iter(self.keys())
