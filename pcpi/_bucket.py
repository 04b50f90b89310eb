"""A client-side token bucket: the arithmetic only.  No I/O, no lock, no clock.

Calls reserve tokens; the count may go below zero, and a caller whose token is
not there yet is told how long until it is, so queued callers leave one by one
at the rate instead of all together.  Every method takes the time (``now``)
from its caller, which owns the clock and the lock (:class:`pcpi._pacing.Pacer`).
"""

from __future__ import annotations

import math
from typing import Tuple

__all__ = ["TokenBucket"]


class TokenBucket:
    """``rate`` tokens a second, at most ``capacity`` held; ``tokens`` below zero
    are calls already queued.  No token accrues before ``held_until``."""

    __slots__ = ("rate", "capacity", "tokens", "stamp", "held_until")

    def __init__(self, rate: float, capacity: float, tokens: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = tokens
        self.stamp = now
        self.held_until = -math.inf

    def refill(self, now: float) -> None:
        """Bring ``tokens`` up to date."""
        start = max(self.stamp, self.held_until)
        if now > start:
            self.tokens = min(self.capacity, self.tokens + (now - start) * self.rate)
        if now > self.stamp:
            self.stamp = now

    def reserve(self, now: float, horizon: float) -> Tuple[float, bool]:
        """Take a token due within ``horizon`` seconds: ``(wait, True)``; or, when
        the queue already reaches further, ``(seconds to ask again after, False)``
        without taking one."""
        self.refill(now)
        held = max(0.0, self.held_until - now)
        if held > horizon:  # come back when the hold is about to end
            return max(horizon, held - horizon), False
        if self.tokens - 1.0 < -horizon * self.rate:
            return horizon, False
        self.tokens -= 1.0
        return held + max(0.0, -self.tokens / self.rate), True

    def at_most(self, tokens: float, now: float) -> None:
        """No more than ``tokens`` left (what the tenant says it has)."""
        self.refill(now)
        self.tokens = min(self.tokens, tokens)

    def hold(self, until: float, now: float) -> None:
        """No token before ``until`` (a ``Retry-After``): the bucket is empty now
        and starts to refill then; the calls queued keep their places."""
        self.at_most(0.0, now)
        self.held_until = max(self.held_until, until)

    def set_rate(self, rate: float, capacity: float) -> None:
        """A new rate and capacity; the calls already queued keep their times (the
        queue is as long in seconds as before), and new ones line up behind them."""
        if self.tokens < 0:
            self.tokens *= rate / self.rate
        self.rate = rate
        self.capacity = capacity
        self.tokens = min(self.tokens, capacity)
