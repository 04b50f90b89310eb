"""What a Prisma Cloud answer says about its rate limit.  No I/O here.

Prisma Cloud limits each user per endpoint with a token bucket and describes it
on its answers: ``X-RateLimit-Replenish-Rate`` (tokens a second),
``X-RateLimit-Burst-Capacity`` (most tokens held) and ``X-RateLimit-Remaining``
(tokens left after this call; 0 on a 429).  A server may send anything there,
so values are made sane before the pacer believes them: not finite numbers are
ignored, a rate below :data:`RATE_RANGE`'s floor is not believed at all (the
lowest limit Prisma Cloud documents is one call a second, Compute's 30 in 30 s;
such an endpoint is paced by its 429s instead), nor is a burst above
:data:`BURST_RANGE`'s ceiling, and the rest is clamped.
"""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple, Optional, Tuple

__all__ = ["Limits", "read_limits", "RATE", "BURST", "REMAINING", "RATE_RANGE", "BURST_RANGE"]

RATE = "X-RateLimit-Replenish-Rate"
BURST = "X-RateLimit-Burst-Capacity"
REMAINING = "X-RateLimit-Remaining"

#: calls per second a tenant's headers may set: below the floor not believed,
#: above the ceiling clamped
RATE_RANGE = (0.5, 100_000.0)
#: burst sizes a tenant's headers may set (below: one call; above: not believed)
BURST_RANGE = (1.0, 100_000.0)


class Limits(NamedTuple):
    """One answer's limit: ``rate`` tokens a second, ``burst`` at most, and the
    ``remaining`` the tenant had left when it answered (0 to ``burst``)."""

    rate: float
    burst: float
    remaining: float


def read_limits(headers: Mapping[str, str]) -> Optional[Limits]:
    """The limit an answer announces, made sane; None when it announces none or
    its values are not numbers (ignored, never fatal)."""
    value = headers.get(RATE)
    if value is None:
        return None
    try:
        rate = float(value)
        burst = float(headers.get(BURST) or 1.0)
        remaining = float(headers.get(REMAINING) or 0.0)  # (none said: none left)
    except ValueError:
        return None
    if not (math.isfinite(rate) and math.isfinite(burst) and math.isfinite(remaining)):
        return None
    if rate < RATE_RANGE[0] or burst > BURST_RANGE[1]:
        return None  # absurd (or zero): paced by its 429s instead
    burst = max(burst, BURST_RANGE[0])
    return Limits(_clamp(rate, RATE_RANGE), burst, _clamp(remaining, (0.0, burst)))


def _clamp(value: float, bounds: Tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])
