"""The threads a fan-out runs on when it is given no executor.

Why not ``concurrent.futures.ThreadPoolExecutor``: at interpreter exit Python
joins its threads, so after Ctrl-C a script would still wait for every call in
flight to finish its retries and pacing waits (minutes, at worst).  These
threads are daemons: an interrupted fan-out returns at once, and the process
can end without them.  Otherwise they behave as that pool does: up to
``workers`` threads, started as work arrives, each running one call at a time.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Executor, Future
from typing import Any, Callable, List, Optional, Tuple, TypeVar

__all__ = ["DaemonThreads"]

_T = TypeVar("_T")
_Work = Optional[Tuple["Future[Any]", Callable[..., Any], Tuple[Any, ...], Any]]


class DaemonThreads(Executor):
    """A minimal thread pool of daemon threads (see the module docstring)."""

    def __init__(self, workers: int, name: str = "pcpi-fan-out") -> None:
        self._workers = workers
        self._name = name
        self._queue: "queue.SimpleQueue[_Work]" = queue.SimpleQueue()
        self._threads: List[threading.Thread] = []
        self._idle = 0  # threads waiting for work (guarded by _lock)
        self._lock = threading.Lock()
        self._shut = False

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> "Future[_T]":
        future: "Future[_T]" = Future()
        with self._lock:
            if self._shut:
                raise RuntimeError("cannot submit to a fan-out's threads after shutdown")
            if self._idle:
                self._idle -= 1
            elif len(self._threads) < self._workers:
                thread = threading.Thread(target=self._run, daemon=True,
                                          name=f"{self._name}-{len(self._threads)}")
                self._threads.append(thread)
                thread.start()
        self._queue.put((future, fn, args, kwargs))
        return future

    def _run(self) -> None:
        get = self._queue.get
        while True:
            work = get()
            if work is None:
                return
            future, fn, args, kwargs = work
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
                del work, future, fn, args, kwargs  # (hold no result while idle)
            with self._lock:
                self._idle += 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the threads once their current call is done; ``wait`` joins them."""
        with self._lock:
            self._shut = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    work = self._queue.get_nowait()
                except queue.Empty:
                    break
                if work is not None:
                    work[0].cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()
