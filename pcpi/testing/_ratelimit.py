"""The token bucket Prisma Cloud applies per user, as the fake tenant models it."""

from __future__ import annotations

import time
from typing import Callable, Tuple

__all__ = ["TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` banked; one token per call.

    :meth:`take` answers ``(allowed, remaining, retry_after)`` where
    ``retry_after`` is how long until one token is available again.
    """

    __slots__ = ("rate", "burst", "tokens", "last", "clock")

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self.tokens = float(burst)
        self.clock = clock
        self.last = clock()

    def take(self) -> Tuple[bool, float, float]:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True, self.tokens, 0.0
        return False, self.tokens, (1.0 - self.tokens) / self.rate
