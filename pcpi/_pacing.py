"""Client-side pacing to the tenant's rate limit: the strategy.  No I/O here.

A :class:`Pacer` keeps one client-side token bucket (:mod:`pcpi._bucket`) per
endpoint that the tenant limits, paced from what the tenant's answers say
(:mod:`pcpi._limit_headers`), and tells a caller how long to wait for its
turn *before* sending, so that a fan-out runs at the allowed rate instead of
bouncing off 429s.

* **Cold start.** The first call to an endpoint goes alone: calls that arrive
  meanwhile wait for its answer (at most ``probe_wait``) and then pace from
  what it said, as if at most half the burst were left until more answers come
  (other clients may be starting at the same moment), less what others drew
  before it (a limit nobody else draws on has ``burst - 1`` left then).  An endpoint that turns
  out not to be limited costs that wait once, and then two dictionary lookups a
  call.
* **The tenant's count decides.**  Every answer's ``Remaining`` is what the
  tenant had left, less this client's calls sent after the answered one (not
  counted yet); the bucket never holds more.  Prisma Cloud limits each user,
  and other processes, scripts or endpoints of the same user draw on the same
  limit unseen: what they draw shows as a low ``Remaining``.  So the share of
  the tenant's rate this client takes is a fixed function of ``Remaining``
  (smoothed over half the time the burst lasts at the rate, a second at most):
  the whole rate while ``burst - 2`` or more are
  left, falling by a factor of e**3 (about 20) across the burst as fewer are.
  Clients that share a limit each see the same ``Remaining``, so they settle
  together on the pace that leaves a few calls spare, at equal shares, and
  speed up together when one of them stops; no client has to know the
  others.  Should that leave less than one call spare (more clients than the
  curve spans), every client also slows by ``e`` each second until it does
  (to a 64th of the tenant's rate at most), and recovers as fast once two are
  left.  A burst of 3 or less never leaves a client alone at the tenant's rate
  a call spare, so it is not squeezed (a 429 paces it, below).
* A 429 empties the bucket, and its ``Retry-After`` holds it: no turn is given
  on that endpoint before then (calls already told when to go, at most
  ``round_seconds`` ahead, still go).  Where the tenant announced the limit
  the pacer *governs* the endpoint (:meth:`Pacer.governs`): the retry loop
  resends without a backoff of its own and the wait happens here, so one
  controller decides a 429's wait.
* An endpoint's documented limit can be given before its first answer
  (:meth:`Pacer.seed`, from the endpoint catalogue); headers, once they come,
  win (the seed's calls in flight still count).  A seed paces calls but does
  not govern: a bare 429 (Compute's) is the retry loop's backoff, as a 429
  without headers is anywhere, and empties the bucket for the others.
* A call waits for a turn at most ``round_seconds`` ahead (less for a limit
  whose burst lasts under two seconds at its rate: a quarter of ``burst /
  rate``); further back, it waits that long and asks again, so that a change
  of pace applies to every queued call within that time.

Bounds: no wait longer than ``max_wait``, none for a first answer longer than
``probe_wait``, at most ``max_endpoints`` endpoints remembered (the least
recently used forgotten first); header values are made sane by
:func:`pcpi._limit_headers.read_limits`.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from . import _fork
from ._bounded import BoundedCache
from ._bucket import TokenBucket
from ._limit_headers import Limits, read_limits
from ._policy import parse_retry_after

__all__ = ["Pacer", "PacingPolicy", "endpoint_key"]

Key = Tuple[str, str, str]

#: the share of the tenant's rate falls by e**SPREAD across the burst ...
SPREAD = 3.0
#: ... from whole while at least ``burst - SPARE`` calls are left
SPARE = 2.0
#: below one call left (smoothed) every client slows by e a second; above two it
#: recovers as fast; never below MIN_SHARE of the tenant's rate in all
SQUEEZE_BELOW, RELAX_ABOVE, MIN_SHARE = 1.0, 2.0, 1 / 64
#: send times kept per endpoint to count the calls an answer's Remaining has not
#: seen yet (trimmed to the last 2 s once the oldest is 10 s old; at most this many)
SENT_KEPT = 2048


def endpoint_key(method: str, url: str) -> Key:
    """``(METHOD, host, path template)``: the unit pacing is kept for.

    Path segments that look like identifiers (a digit and more than four
    characters: account numbers, UUIDs, project ids) become ``{}`` so
    ``/cloud/123456789012`` and ``/cloud/210987654321`` share one limit, while
    ``/v2/alert`` keeps its version segment.
    """
    parts = urlsplit(url)
    segments = [("{}" if len(s) > 4 and any(c.isdigit() for c in s) else s)
                for s in parts.path.split("/")]
    return method.upper(), parts.netloc.lower(), "/".join(segments) or "/"


@dataclasses.dataclass(frozen=True)
class PacingPolicy:
    """The pacer's tunables (README, "Pacing", and its Limits table).

    ``max_wait``: the longest a call waits for its turn, in all (seconds).
    ``probe_wait``: the longest the calls that come while an endpoint's first
    call is out wait for its answer.  ``max_endpoints``: endpoints remembered
    per pacer, the least recently used forgotten first.  ``round_seconds``: how
    far ahead a call may hold its turn; a call further back waits that long and
    asks again, so a change of pace reaches every queued call within it.
    """

    max_wait: float = 120.0
    probe_wait: float = 10.0
    max_endpoints: int = 1024
    round_seconds: float = 0.5

    def __post_init__(self) -> None:
        if not (self.max_wait > 0 and self.probe_wait >= 0 and self.round_seconds > 0):
            raise ValueError("PacingPolicy: max_wait and round_seconds must be positive "
                             "and probe_wait not negative (seconds)")
        if self.max_endpoints < 1:
            raise ValueError("PacingPolicy: max_endpoints must be at least 1")


class _Probe:
    """The first call to an endpoint is out: the calls that came meanwhile wait."""

    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = threading.Event()


class _Pace:
    """One paced endpoint: its bucket, and what the tenant said of its limit."""

    __slots__ = ("bucket", "rate", "burst", "announced", "level", "squeeze", "heard", "sent")

    def __init__(self, rate: float, burst: float, tokens: float, now: float,
                 announced: bool, share: float = 1.0) -> None:
        self.bucket = TokenBucket(rate * share, max(1.0, burst * share), tokens, now)
        self.rate = rate            # the tenant's (or the seed's) rate and burst
        self.burst = burst
        self.announced = announced  # by the tenant's headers, not a seed
        self.level = burst          # Remaining, smoothed
        self.squeeze = 1.0
        self.heard = now            # the last answer
        self.sent: List[float] = []  # when our recent calls were due to leave (in order)

    @classmethod
    def learned(cls, limits: Limits, now: float) -> "_Pace":
        """A limit first heard of: taken as if at most half its burst were left
        (others may be starting too), less what others drew before our first
        call, until the answers say more."""
        level = max(0.0, min(limits.remaining, limits.burst / 2) -
                    (limits.burst - 1 - limits.remaining))  # (less what others drew)
        share = _share(level, limits.burst)
        pace = cls(limits.rate, limits.burst, min(limits.remaining, max(1.0, limits.burst * share)),
                   now, True, share)
        pace.level = level
        return pace

    def horizon(self, most: float) -> float:
        """How far ahead a call may hold its turn."""
        return min(most, self.burst / self.rate / 4)

    def follow(self, limits: Limits, now: float, most: float) -> None:
        """Pace from one answer's ``Remaining`` (see the module docstring)."""
        self.rate, self.burst = limits.rate, limits.burst
        elapsed, self.heard = max(0.0, now - self.heard), now
        self.level += (limits.remaining - self.level) * \
            (1.0 - math.exp(-elapsed / (2 * self.horizon(most))))
        # (a client alone at the tenant's rate is told burst - 2 left; with a burst of 3
        # or less that is below one, so a small burst is never squeezed: its 429s pace it)
        if self.level < min(SQUEEZE_BELOW, self.burst - SPARE - 1):
            self.squeeze = max(MIN_SHARE, self.squeeze * math.exp(-min(elapsed, 60.0)))
        elif self.level > RELAX_ABOVE:
            self.squeeze = min(1.0, self.squeeze * math.exp(min(elapsed, 60.0)))
        share = max(MIN_SHARE, _share(self.level, self.burst) * self.squeeze)
        self.bucket.set_rate(self.rate * share, max(1.0, self.burst * share))


def _share(remaining: float, burst: float) -> float:
    """The part of the tenant's rate taken with ``remaining`` calls left."""
    short = burst - SPARE - remaining
    return 1.0 if short <= 0 else math.exp(-SPREAD * short / burst)


class Pacer:
    """Per-endpoint client-side token buckets shared by one tenant's sessions.

    The retry loop calls :meth:`take` before each attempt (and sleeps what it
    says, until it says the call may go), :meth:`observe` with every answer
    (and when the call left), :meth:`release` when an attempt raised, and
    :meth:`governs` on a 429: when True the pacer alone decides the wait
    before the resend.  ``policy`` holds the tunables; the keyword
    arguments README documents (``max_wait=``, ``probe_wait=``,
    ``max_endpoints=``, ``round_seconds=``) fill it too.  ``clock`` is
    injectable so the policy can be tested without waiting.
    """

    def __init__(self, policy: Optional[PacingPolicy] = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 max_wait: Optional[float] = None, probe_wait: Optional[float] = None,
                 max_endpoints: Optional[int] = None,
                 round_seconds: Optional[float] = None) -> None:
        given: Dict[str, Any] = {
            k: v for k, v in (("max_wait", max_wait), ("probe_wait", probe_wait),
                              ("max_endpoints", max_endpoints),
                              ("round_seconds", round_seconds)) if v is not None}
        self.policy: PacingPolicy = dataclasses.replace(policy or PacingPolicy(), **given)
        self.clock = clock
        most = self.policy.max_endpoints
        self._paces: BoundedCache[Key, _Pace] = BoundedCache(most)
        self._free: BoundedCache[Key, bool] = BoundedCache(most)  # answered unlimited
        self._probes: BoundedCache[Key, _Probe] = BoundedCache(most)
        self._reported: BoundedCache[Key, float] = BoundedCache(most)
        self._lock = threading.Lock()
        _fork.register(self)

    @property
    def max_wait(self) -> float:
        """The longest a call waits for its turn, in all."""
        return self.policy.max_wait

    # ------------------------------------------------------------------ the loop's calls
    def take(self, key: Key) -> Tuple[float, bool]:
        """``(seconds to wait, taken)`` before sending on ``key``: when ``taken``
        the call goes once the wait is over; else it waits and asks again.  The
        first call to an endpoint goes at once, and the calls that come while it
        is out block here (at most ``probe_wait``) until its answer is observed."""
        if self._pace_for(key) is None:
            return 0.0, True
        with self._lock:
            pace = self._paces.peek(key)  # (again: replaced or forgotten meanwhile?)
            if pace is None:
                return 0.0, True
            now = self.clock()
            wait, taken = pace.bucket.reserve(now, pace.horizon(self.policy.round_seconds))
            if taken:
                sent = pace.sent
                sent.append(now + wait)
                if sent[0] < now - 10.0 or len(sent) > SENT_KEPT:  # (now and then: cheap)
                    del sent[:max(bisect.bisect_left(sent, now - 2.0), len(sent) - SENT_KEPT)]
        return min(wait, self.policy.max_wait), taken

    def observe(self, key: Key, status: int, headers: Mapping[str, str],
                sent_at: Optional[float] = None) -> None:
        """Learn from one answer to ``key``: its rate-limit headers, or a 429.
        ``sent_at`` (this pacer's clock): when the call left; the calls sent after
        it had not reached the tenant's count yet."""
        limits = read_limits(headers)
        if limits is None and (status != 429 or self._paces.peek(key) is None):
            if self._paces.peek(key) is None and key not in self._free:
                self._free.put(key, True)  # not limited (or only a bare 429: the backoff's)
            self.release(key)
            return
        with self._lock:
            now = self.clock()
            pace = self._paces.get(key)
            if limits is not None and (pace is None or not pace.announced):
                seeded, pace = pace, _Pace.learned(limits, now)  # the first word on it
                self._paces.put(key, pace)
                if seeded is None:
                    limits = None  # (learned from already)
                else:  # a seed's calls in flight still come off the tenant's count
                    pace.sent = seeded.sent
            if pace is not None:  # (None: forgotten meanwhile)
                self._answered(pace, status, limits, headers, now, sent_at)
        self.release(key)

    def _answered(self, pace: _Pace, status: int, limits: Optional[Limits],
                  headers: Mapping[str, str], now: float, sent_at: Optional[float]) -> None:
        """What one answer changes (with the lock held)."""
        bucket = pace.bucket
        if limits is not None:
            after = 0 if sent_at is None else \
                bisect.bisect_right(pace.sent, now) - bisect.bisect_right(pace.sent, sent_at)
            # the tenant's count is the truth, less our calls that it has not seen yet
            # (those beyond it will be refused, and take nothing)
            bucket.at_most(max(0.0, limits.remaining - after), now)
            pace.follow(limits, now, self.policy.round_seconds)
        if status == 429:
            hold = parse_retry_after(headers.get("Retry-After")) or 0.0
            bucket.hold(now + min(hold, self.policy.max_wait), now)

    def release(self, key: Key) -> None:
        """The call to ``key`` ended: calls waiting for a first answer there go on
        (with one, or without it when the call raised)."""
        if self._probes.peek(key) is None:
            return
        probe = self._probes.pop(key)
        if probe is not None:
            probe.event.set()

    def governs(self, key: Key) -> bool:
        """Whether the pacer paces ``key`` at a limit the tenant announced: then it
        alone decides when a call refused with a 429 is sent again (:meth:`take`
        waits for it).  A seeded limit the tenant never announced does not govern:
        its bare 429s are backed off by the retry loop, as elsewhere."""
        pace = self._paces.peek(key)
        return pace is not None and pace.announced

    def seed(self, key: Key, rate: float, burst: float) -> None:
        """Pace ``key`` (:func:`endpoint_key` of a method and URL) at a documented
        limit (``rate`` calls a second, ``burst`` at most) before its first
        answer; what the tenant's headers say, once they come, wins.  A key whose
        limit is known already (seeded, or announced) keeps it."""
        if not (rate > 0 and math.isfinite(rate) and burst >= 1 and math.isfinite(burst)):
            raise ValueError(f"a seeded limit needs a rate above 0 and a burst of at least 1, "
                             f"not rate={rate!r}, burst={burst!r}")
        if self._paces.peek(key) is not None:
            return  # (a limit known already: seeded, or announced)
        with self._lock:
            if self._paces.peek(key) is None:
                self._paces.put(key, _Pace(rate, burst, burst, self.clock(), False))

    # ------------------------------------------------------------------ reading
    def report_due(self, key: Key, every: float = 60.0) -> bool:
        """Whether a long wait on ``key`` should be reported now: once per
        ``every`` seconds and endpoint (at most ``max_endpoints`` remembered)."""
        now = self.clock()
        with self._lock:
            last = self._reported.peek(key)
            if last is not None and now - last < every:
                return False
            self._reported.put(key, now)
        return True

    def limit(self, key: Key) -> Optional[Tuple[float, float]]:
        """The ``(rate, burst)`` this client paces ``key`` at now, or None."""
        pace = self._paces.peek(key)
        return None if pace is None else (pace.bucket.rate, pace.bucket.capacity)

    # ------------------------------------------------------------------ internals
    def _pace_for(self, key: Key) -> Optional[_Pace]:
        """The pace of ``key`` (None when not limited); a first call goes alone."""
        pace = self._paces.peek(key)
        if pace is not None or key in self._free:
            return pace
        with self._lock:
            pace = self._paces.peek(key)
            if pace is not None or key in self._free:
                return pace
            probe = self._probes.peek(key)
            if probe is None:  # this call goes first, alone
                self._probes.put(key, _Probe())
                return None
        probe.event.wait(self.policy.probe_wait)  # the first answer, or give up waiting
        return self._paces.peek(key)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at fork time
        self._probes.clear()  # the threads waiting for a first answer are the parent's
