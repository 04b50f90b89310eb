"""A total deadline per attempt, whatever the server does with its bytes.

requests' read timeout bounds each wait for bytes, not the whole answer: a
server that sends one byte of headers or body just before each timeout holds
a call forever.  Here one watchdog thread (per process, started on first use,
idle while no call is in flight) keeps the deadline of every attempt in flight
and, when one passes, shuts down that attempt's socket.  The blocked read then
fails at once, and the transport reports :class:`~pcpi.errors.DeadlineExceeded`.

Which socket belongs to which attempt is learned from the connection pool: a
connection taken from the pool (``_get_conn``) by the thread running an attempt
is that attempt's until it goes back (``_put_conn``, in the same thread, before
any other thread can take it), so the watchdog never touches a connection that
another call is using.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any, Dict, Optional

__all__ = ["Attempt", "Watchdog", "watchdog", "tracked_pool_class"]

# How often the watchdog looks again at an expired attempt whose connection has
# no socket yet (still connecting: the connect timeout bounds that step).
_RECHECK = 0.05


class Attempt:
    """One attempt in flight: its deadline and the pooled connection it holds."""

    __slots__ = ("deadline", "seconds", "conn", "expired", "cut", "lock")

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.conn: Any = None
        self.expired = False  # the deadline passed while the attempt was in flight
        self.cut = False      # ... and its socket was shut: whatever it read is suspect
        self.lock = threading.Lock()

    def shut(self) -> bool:
        """Shut the attempt's socket down; False if it has none (yet)."""
        with self.lock:
            sock = getattr(self.conn, "sock", None)
            if not isinstance(sock, socket.socket):
                return False
            try:
                # the plain socket's shutdown, not SSLSocket's, which would also
                # drop the TLS state under the thread that is reading
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
            self.cut = True
            return True


class Watchdog:
    """Ends attempts that outlive their deadline (see the module docstring)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._active: Dict[int, Attempt] = {}
        self._wake_at = float("inf")
        self._thread: Optional[threading.Thread] = None
        self._local = threading.local()

    def start(self, seconds: float) -> Attempt:
        """Track an attempt of at most ``seconds`` run by the calling thread."""
        attempt = Attempt(seconds)
        with self._cond:
            self._active[id(attempt)] = attempt
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pcpi-deadlines",
                                                daemon=True)
                self._thread.start()
            if attempt.deadline < self._wake_at:
                self._cond.notify()
        self._local.attempt = attempt
        return attempt

    def finish(self, attempt: Attempt) -> None:
        self._local.attempt = None
        with attempt.lock:
            attempt.conn = None
        with self._cond:
            self._active.pop(id(attempt), None)

    # called by the pool, in the thread that runs the attempt
    def took(self, conn: Any) -> None:
        attempt = getattr(self._local, "attempt", None)
        if attempt is not None:
            attempt.conn = conn

    def gave_back(self, conn: Any) -> None:
        attempt = getattr(self._local, "attempt", None)
        if attempt is not None and attempt.conn is conn:
            with attempt.lock:
                attempt.conn = None

    def _run(self) -> None:
        cond = self._cond
        with cond:
            while True:
                now = time.monotonic()
                wake = float("inf")
                for attempt in list(self._active.values()):
                    if attempt.deadline <= now:
                        attempt.expired = True
                        if attempt.shut():
                            del self._active[id(attempt)]
                            continue
                        attempt.deadline = now + _RECHECK
                    wake = min(wake, attempt.deadline)
                self._wake_at = wake
                cond.wait(None if wake == float("inf") else wake - now)


#: the process's watchdog
watchdog = Watchdog()

_tracked: Dict[type, type] = {}
_tracked_lock = threading.Lock()


class _TrackedPool:
    """Mixed into urllib3's pool classes: tells the watchdog who holds which
    connection."""

    def _get_conn(self, timeout=None):  # type: ignore[no-untyped-def]
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        watchdog.took(conn)
        return conn

    def _put_conn(self, conn) -> None:  # type: ignore[no-untyped-def]
        watchdog.gave_back(conn)
        super()._put_conn(conn)  # type: ignore[misc]


def tracked_pool_class(cls: type) -> type:
    """``cls`` (a urllib3 connection pool class) with the watchdog's hooks."""
    if issubclass(cls, _TrackedPool):
        return cls
    with _tracked_lock:
        sub = _tracked.get(cls)
        if sub is None:
            sub = _tracked[cls] = type(f"Tracked{cls.__name__}", (_TrackedPool, cls), {})
        return sub


def _after_fork_in_child() -> None:
    # the watchdog thread does not exist in the child, and its lock may be held
    watchdog._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
