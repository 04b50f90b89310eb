"""Token lifecycle: when a token is due, and refreshing it in one thread only.

With 150 threads on one session, an expired token must cost one login, not 150.
:class:`SingleFlight` lets the first thread that finds the token bad refresh it
while the others wait; when they wake they re-check, see the new token and go
on.  If the refresh failed, they get the same error instead of each trying
again (no storm of failing logins).  No I/O happens here; the refresh itself is
a callable.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Callable, Optional

__all__ = ["SingleFlight", "token_due"]


def token_due(issued_at: float, now: float, lifetime: Optional[float]) -> bool:
    """Whether a token issued at ``issued_at`` should be refreshed at ``now``."""
    return bool(lifetime) and now - issued_at >= lifetime


class SingleFlight:
    """Runs an action in one thread at a time, only while it is still needed."""

    def __init__(self) -> None:
        self._init_state()
        _instances.add(self)

    def _init_state(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._running = False
        self._flight = 0  # number of actions started
        self._failed_flight = -1
        self._failure: Optional[BaseException] = None

    def run(self, needed: Callable[[], bool], action: Callable[[], None]) -> bool:
        """Run ``action`` if ``needed()`` is still true once no other thread is
        running it.  Returns whether this thread ran it.  If the action a waiting
        thread waited on failed, that thread raises the same error."""
        with self._cond:
            if self._running:
                waited_on = self._flight
                while self._running:
                    self._cond.wait()
                if self._failed_flight == waited_on and self._failure is not None:
                    raise self._failure
            if not needed():
                return False
            self._running = True
            self._flight += 1
            flight = self._flight
        try:
            action()
        except BaseException as exc:
            with self._cond:
                self._failure, self._failed_flight = exc, flight
            raise
        finally:
            with self._cond:
                self._running = False
                self._cond.notify_all()
        return True


_instances: "weakref.WeakSet[SingleFlight]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # A thread that held a lock at fork time does not exist in the child.
    for flight in list(_instances):
        flight._init_state()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
