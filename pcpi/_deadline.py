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

import socket
import threading
import time
from typing import Any, Dict, Optional

from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from . import _fork
from ._interim import final_response_connection

__all__ = ["Attempt", "Watchdog", "watchdog", "tracked_pool_class"]

# How often the watchdog looks again at an expired attempt whose connection has
# no socket yet (still connecting: the connect timeout bounds that step).
_RECHECK = 0.05
# How long the watchdog thread waits for work before it ends (it is started
# again by the next call): an idle process is single-threaded again, so that a
# fork() after a job neither warns nor inherits a lock held by it.
_IDLE = 1.0

_GONE, _NOT_YET, _SHUT = 0, 1, 2


class Attempt:
    """One attempt in flight: its deadline and the pooled connection it holds."""

    __slots__ = ("deadline", "conn", "expired", "cut", "lock", "outer")

    def __init__(self, seconds: float, outer: Optional["Attempt"] = None):
        self.deadline = time.monotonic() + seconds
        self.conn: Any = None
        self.expired = False  # the deadline passed while the attempt was in flight
        self.cut = False      # ... and its socket was shut: whatever it read is suspect
        self.lock = threading.Lock()
        self.outer = outer    # an attempt this thread started first (a nested call)

    def shut(self) -> int:
        """Shut the attempt's socket down: ``_SHUT``, ``_NOT_YET`` (no connection
        or no socket yet: connecting) or ``_GONE`` (a connection whose socket
        cannot be reached: nothing to do but let the read timeout act)."""
        with self.lock:
            conn = self.conn
            sock = getattr(conn, "sock", None)
            for _ in range(3):  # TLS inside a TLS proxy tunnel: urllib3's SSLTransport
                if sock is None or isinstance(sock, socket.socket):
                    break
                sock = getattr(sock, "socket", None)
            if not isinstance(sock, socket.socket):
                return _NOT_YET if conn is None or getattr(conn, "sock", None) is None \
                    else _GONE
            try:
                # the plain socket's shutdown, not SSLSocket's, which would also
                # drop the TLS state under the thread that is reading
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
            self.cut = True
            return _SHUT


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
        """Track an attempt of at most ``seconds`` run by the calling thread.  (If
        no thread can be started, at interpreter shutdown, it is not tracked.)"""
        attempt = Attempt(seconds, getattr(self._local, "attempt", None))
        with self._cond:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="pcpi-deadlines",
                                          daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # "can't create new thread at interpreter shutdown"
                    return attempt
                self._thread = thread
            self._active[id(attempt)] = attempt
            if attempt.deadline < self._wake_at:
                self._cond.notify()
        self._local.attempt = attempt
        return attempt

    def finish(self, attempt: Attempt) -> None:
        if getattr(self._local, "attempt", None) is attempt:
            self._local.attempt = attempt.outer
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
        try:
            self._watch()
        finally:  # whatever ended it, the next call starts a new one
            with self._cond:
                if self._thread is threading.current_thread():
                    self._thread = None

    def _watch(self) -> None:
        cond = self._cond
        with cond:
            while True:
                now = time.monotonic()
                wake = float("inf")
                for attempt in list(self._active.values()):
                    if attempt.deadline <= now:
                        attempt.expired = True
                        state = attempt.shut()
                        if state != _NOT_YET:
                            del self._active[id(attempt)]
                            continue
                        attempt.deadline = now + _RECHECK
                    wake = min(wake, attempt.deadline)
                self._wake_at = wake
                if not self._active:
                    if not cond.wait(_IDLE) and not self._active:
                        # idle: end, saying so before the lock is let go, so that
                        # a start() right after begins a new thread
                        self._thread = None
                        return
                    continue
                # at least every _IDLE seconds, so that it notices when work has
                # stopped without every finished call waking it
                cond.wait(min(wake - now, _IDLE))


#: the process's watchdog
watchdog = Watchdog()

_tracked: Dict[type, type] = {}


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


class _OneWarningPool:
    """Mixed into urllib3's HTTPS pools: no InsecureRequestWarning per request
    without verification; pcpi says it once per manager and tenant instead
    (:meth:`pcpi._transport.Transport.unverified`).  The user's own requests
    calls keep urllib3's warnings: no global warning filter is changed."""

    def _validate_conn(self, conn: Any) -> None:
        # (HTTPS's adds only the warning; self is an HTTPS pool, this class a mixin)
        HTTPConnectionPool._validate_conn(self, conn)  # type: ignore[arg-type]
        if conn.is_closed:
            conn.connect()  # early, as urllib3 does, so that TLS errors come from here


def tracked_pool_class(cls: type) -> type:
    """``cls`` (a urllib3 connection pool class) with the watchdog's hooks."""
    if issubclass(cls, _TrackedPool):
        return cls
    sub = _tracked.get(cls)
    if sub is None:
        bases = (_TrackedPool, _OneWarningPool, cls) if issubclass(cls, HTTPSConnectionPool) \
            else (_TrackedPool, cls)
        # no lock: this runs in a forked child too, where a lock another thread
        # held at fork time would never be released; setdefault keeps one class
        connection = final_response_connection(cls.ConnectionCls)  # type: ignore[attr-defined]
        sub = _tracked.setdefault(cls, type(f"Tracked{cls.__name__}", bases,
                                            {"ConnectionCls": connection}))
    return sub


def _after_fork_in_child() -> None:
    # the watchdog thread does not exist in the child, and its lock may be held
    watchdog._reset()


_fork.register_function(_after_fork_in_child)
