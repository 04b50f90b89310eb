"""Client-side pacing to the tenant's rate limit.  No I/O here.

Prisma Cloud limits each user per endpoint with a token bucket and describes it
on its answers (``X-RateLimit-Replenish-Rate``, ``-Burst-Capacity``,
``-Remaining``).  A :class:`Pacer` keeps a matching bucket on the client side,
one per endpoint, and tells a caller how long to wait for its token *before*
sending, so a fan-out runs at the allowed rate instead of bouncing off 429s.

* **Cold start.** The first call to an endpoint goes alone: calls that arrive
  meanwhile wait for its answer (at most ``probe_wait``, 10 s) and then pace
  from the headers it brought, instead of a first wave of 429s.  An endpoint
  that turns out not to be limited costs that wait once.
* With the headers the bucket copies the tenant's rate and burst, and every
  answer's ``Remaining`` re-synchronises it downward: the tenant's count is the
  truth when something else (another process, another script of the same user,
  another endpoint sharing a per-user limit) draws from the same limit.
* **Shared limits.** A call that was paced and still got a 429 proves that
  others draw from the same limit: the endpoint's share of the tenant's rate is
  cut (by ``shared_beta``, 0.7, at most once per round of calls, down to
  ``min_share``), and grows back (``share_growth`` per second) while answers show
  tokens to spare.  Clients sharing a limit thus converge on splitting it
  without talking to each other.
* A 429 without the headers starts the fallback of botocore's adaptive retry
  mode: the rate drops to ``beta`` times the rate measured before the throttle
  and climbs back on a CUBIC curve.
* An endpoint that was never limited has no bucket: after its first answer
  :meth:`Pacer.delay` is two dictionary lookups, with no lock and no sleep.

Waiting is a reservation: each caller takes its token (the count may go below
zero) and is told how long until that token exists, so waiting threads leave in
order and at the rate, never all at once.

Bounds: no wait is longer than ``max_wait`` (120 s by default), whatever the
headers say, and no wait for a first call's answer longer than ``probe_wait``;
header values that are not finite numbers are ignored and the others are
clamped to sane ranges (:data:`RATE_RANGE`, :data:`BURST_RANGE`, ``Remaining``
between 0 and the burst); at most ``max_endpoints`` endpoints (1,024) are
tracked, the oldest forgotten first.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from typing import Callable, Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from . import _fork

__all__ = ["Pacer", "endpoint_key"]

Key = Tuple[str, str, str]

RATE = "X-RateLimit-Replenish-Rate"
BURST = "X-RateLimit-Burst-Capacity"
REMAINING = "X-RateLimit-Remaining"

#: calls per second a tenant's headers may set (outside: clamped)
RATE_RANGE = (0.01, 100_000.0)
#: burst sizes a tenant's headers may set (outside: clamped)
BURST_RANGE = (1.0, 100_000.0)


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


@dataclasses.dataclass
class _Bucket:
    rate: float                 # tokens per second (the tenant's, times ``share``)
    capacity: float             # most tokens held (the burst)
    tokens: float               # may be negative: reservations not yet due
    stamp: float                # when ``tokens`` was last brought up to date
    from_headers: bool          # rate and burst were given by the tenant
    w_max: float = 0.0          # CUBIC: the rate at the last throttle
    throttled_at: float = 0.0
    limit: float = 0.0          # the tenant's rate (from_headers)
    share: float = 1.0          # of ``limit`` this client takes (cut when shared)
    cut_at: float = -math.inf   # when ``share`` was last cut
    grown_at: float = 0.0       # when ``share`` last grew

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def reserve(self, now: float) -> float:
        self.refill(now)
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


@dataclasses.dataclass
class _Meter:
    """Smoothed send rate of one endpoint, in tumbling windows (as botocore)."""

    start: float
    count: int = 0
    rate: float = 0.0

    def add(self, now: float, window: float = 0.5, smooth: float = 0.8) -> None:
        self.count += 1
        elapsed = now - self.start
        if elapsed >= window:
            current = self.count / elapsed
            self.rate = current if not self.rate else smooth * current + (1 - smooth) * self.rate
            self.count, self.start = 0, now


class Pacer:
    """Per-endpoint client-side token buckets shared by one tenant's sessions.

    ``delay(key)`` answers how long the caller must wait before sending (it has
    then taken its token); ``observe(key, status, headers)`` feeds every answer
    back.  ``clock`` is injectable so the policy can be tested without waiting.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, beta: float = 0.7,
                 scale: float = 0.4, min_rate: float = 0.5, max_wait: float = 120.0,
                 max_endpoints: int = 1024, probe_wait: float = 10.0,
                 shared_beta: float = 0.7, min_share: float = 1 / 64,
                 share_growth: float = 0.1) -> None:
        if not max_wait > 0 or max_endpoints < 1 or not probe_wait >= 0:
            raise ValueError("max_wait must be positive, probe_wait not negative and "
                             "max_endpoints at least 1")
        if not (0 < shared_beta < 1 and 0 < min_share <= 1 and share_growth >= 0):
            raise ValueError("shared_beta must be between 0 and 1, min_share in (0, 1] and "
                             "share_growth not negative")
        self.clock = clock
        self.beta = beta            # share of the rate kept after a throttle
        self.scale = scale          # CUBIC scaling constant (botocore's C)
        self.min_rate = min_rate    # never slower than this many calls per second
        self.max_wait = max_wait    # longest single wait, whatever the headers say
        self.max_endpoints = max_endpoints
        self.probe_wait = probe_wait      # longest wait for a first call's answer
        self.shared_beta = shared_beta    # share kept after a paced call got a 429
        self.min_share = min_share
        self.share_growth = share_growth  # share regained per second with tokens to spare
        self._buckets: Dict[Key, _Bucket] = {}
        self._meters: Dict[Key, _Meter] = {}
        self._probes: Dict[Key, threading.Event] = {}
        self._lock = threading.Lock()
        _fork.register(self)

    def delay(self, key: Key) -> float:
        """Seconds to wait before sending on ``key`` (0 when not limited; at most
        ``max_wait``).  The first call to an endpoint returns at once and the
        calls that come meanwhile block (at most ``probe_wait``) until its answer
        was observed."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if key in self._meters:  # answered before, not limited
                return 0.0
            with self._lock:
                bucket = self._buckets.get(key)
                if bucket is None and key not in self._meters:
                    probe = self._probes.get(key)
                    if probe is None:  # this call goes first, alone
                        _make_room(self._probes, self.max_endpoints)
                        self._probes[key] = threading.Event()
                        return 0.0
            if bucket is None:
                if key in self._meters:
                    return 0.0
                probe.wait(self.probe_wait)  # the first call's answer, or give up waiting
                bucket = self._buckets.get(key)
                if bucket is None:
                    return 0.0
        with self._lock:
            return min(bucket.reserve(self.clock()), self.max_wait)

    def observe(self, key: Key, status: int, headers: Mapping[str, str],
                sent_at: Optional[float] = None) -> None:
        """Learn from one answer: its rate-limit headers, or a bare 429.
        ``sent_at`` (this pacer's clock) is when the call left: a 429 for a call
        that left before the last cut of the endpoint's share cuts no further."""
        limits = _limits(headers)
        if limits is None and status != 429 and key not in self._buckets:
            # Not limited: only measure the send rate, without the lock (a lost
            # count under a race blurs the estimate a little, nothing more).
            now = self.clock()
            meter = self._meters.get(key)
            if meter is None:
                with self._lock:
                    meter = self._meter(key, now)
            meter.add(now)
            if key in self._probes:
                self.release(key)
            return
        with self._lock:
            now = self.clock()
            if limits is not None:
                self._follow_headers(key, status, limits, now, sent_at)
            else:
                self._adapt(key, status, now)
            probe = self._probes.pop(key, None)
        if probe is not None:
            probe.set()

    def release(self, key: Key) -> None:
        """The call to ``key`` ended without an answer (it raised): calls waiting
        for a first answer there go on without one."""
        with self._lock:
            probe = self._probes.pop(key, None)
        if probe is not None:
            probe.set()

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at fork time
        self._probes = {}  # the threads waiting for a first answer are the parent's

    def limit(self, key: Key) -> Optional[Tuple[float, float]]:
        """The ``(rate, burst)`` currently paced for ``key``, or None."""
        bucket = self._buckets.get(key)
        return None if bucket is None else (bucket.rate, bucket.capacity)

    # ------------------------------------------------------------------ bounded state
    def _meter(self, key: Key, now: float) -> _Meter:
        """The meter of ``key``, created if needed (call with the lock held)."""
        meter = self._meters.get(key)
        if meter is None:
            _make_room(self._meters, self.max_endpoints)
            meter = self._meters[key] = _Meter(now)
        return meter

    def _new_bucket(self, key: Key, bucket: _Bucket) -> _Bucket:
        if key not in self._buckets:
            _make_room(self._buckets, self.max_endpoints)
        self._buckets[key] = bucket
        return bucket

    # ------------------------------------------------------------------ policy
    def _follow_headers(self, key: Key, status: int, limits: Tuple[float, float, float],
                        now: float, sent_at: Optional[float]) -> None:
        rate, burst, remaining = limits
        bucket = self._buckets.get(key)
        if bucket is None or not bucket.from_headers:
            self._new_bucket(key, _Bucket(rate, burst, remaining, now, True, limit=rate,
                                          grown_at=now))
            return
        bucket.refill(now)
        # the tenant's count is the truth: others may draw from the same limit
        bucket.tokens = min(bucket.tokens, remaining)
        if status == 429:
            bucket.tokens = min(bucket.tokens, 0.0)
            if sent_at is None or sent_at >= bucket.cut_at:
                # paced, and still refused: the limit is shared; take less of it
                bucket.share = max(self.min_share, bucket.share * self.shared_beta)
                bucket.cut_at = bucket.grown_at = now
        elif remaining >= 1 and bucket.share < 1:
            # tokens to spare at the tenant: take back some of the rate
            bucket.share = min(1.0, bucket.share + (now - bucket.grown_at) * self.share_growth)
            bucket.grown_at = now
        else:
            bucket.grown_at = now
        bucket.limit, bucket.capacity = rate, burst
        bucket.rate = max(self.min_rate, min(rate, rate * bucket.share))

    def _adapt(self, key: Key, status: int, now: float) -> None:
        meter = self._meter(key, now)
        meter.add(now)
        bucket = self._buckets.get(key)
        if bucket is not None and bucket.from_headers:
            if status == 429:
                bucket.refill(now)
                bucket.tokens = min(bucket.tokens, 0.0)
            return
        if status == 429:
            # no full window yet: count over at least a second (errs slow, not fast)
            measured = meter.rate or (meter.count / max(now - meter.start, 1.0))
            current = measured if bucket is None else min(bucket.rate, measured or bucket.rate)
            current = max(current, self.min_rate)
            rate = max(self.min_rate, current * self.beta)
            if bucket is None:
                bucket = self._new_bucket(key, _Bucket(rate, 1.0, 0.0, now, False))
            else:
                bucket.refill(now)
                bucket.rate, bucket.tokens = rate, min(bucket.tokens, 0.0)
            bucket.w_max, bucket.throttled_at = current, now
        elif bucket is not None:
            bucket.refill(now)
            rate = self._cubic(bucket, now)
            if meter.rate:
                rate = min(rate, 2.0 * meter.rate)
            bucket.rate = max(self.min_rate, rate)

    def _cubic(self, bucket: _Bucket, now: float) -> float:
        k = (bucket.w_max * (1.0 - self.beta) / self.scale) ** (1.0 / 3.0)
        return self.scale * (now - bucket.throttled_at - k) ** 3 + bucket.w_max


def _make_room(table: dict, most: int) -> None:
    """Forget the oldest entries of ``table`` until one more fits under ``most``."""
    while len(table) >= most:
        del table[next(iter(table))]


def _clamp(value: float, bounds: Tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def _limits(headers: Mapping[str, str]) -> Optional[Tuple[float, float, float]]:
    """``(rate, burst, remaining)`` from an answer's headers, made sane; None when
    there are none, or when they are not numbers (ignored, never fatal)."""
    value = headers.get(RATE)
    if value is None:
        return None
    try:
        rate = float(value)
        burst = float(headers.get(BURST) or 1.0)
        remaining = float(headers.get(REMAINING) or 0.0)
    except ValueError:
        return None
    if not (math.isfinite(rate) and math.isfinite(burst) and math.isfinite(remaining)):
        return None
    if rate <= 0:
        return None
    burst = _clamp(burst, BURST_RANGE)
    return _clamp(rate, RATE_RANGE), burst, _clamp(remaining, (0.0, burst))
