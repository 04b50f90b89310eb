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
* **Shared limits.**  Prisma Cloud limits each user, and one user may run
  several processes or scripts, or be under one limit for several endpoints.
  So a limit newly learned is taken slowly: this client starts at
  ``initial_share`` (a quarter) of its rate and burst and doubles its share
  every quarter round (``round_seconds``, 0.5 s) in which the tenant had half its
  burst to spare, until the first refusal.  A call that was paced and still got
  a 429 proves that others draw on the same limit: the first such refusal after
  a quiet spell halves the share at once; after that, the answers to paced
  calls are counted in rounds, and after a round in which a part ``f`` of them
  was refused the share becomes ``0.95 * (1 - f)`` of itself (between half and
  0.9 of it, at least ``min_share``): the tenant took ``1 - f`` of what was
  sent.  Calls queued before a cut do not count.  After a round without 429s
  in which half the burst was spare the share grows by ``share_growth`` (0.05)
  per second.  Clients sharing a limit thus converge on splitting it without
  talking to each other.  Endpoints of one host that announce the same limit
  are taken as one per-user limit, with one bucket, when the first answer of
  one of them shows the limit drawn on already (a fresh one has ``burst - 1``
  left) or when a paced call to one is refused.
* Reservations reach at most ``round_seconds`` ahead (:meth:`Pacer.take`): a
  caller further back in the queue waits that long and asks again, so that a
  cut takes effect within a round however many threads are queued; when the
  rate changes, the calls already queued keep their times.
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
between 0 and the burst), and a rate below half a call per second is not
believed at all; at most ``max_endpoints`` endpoints (1,024) are
tracked, the oldest forgotten first.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, cast
from urllib.parse import urlsplit

from . import _fork

__all__ = ["Pacer", "endpoint_key"]

Key = Tuple[str, str, str]

RATE = "X-RateLimit-Replenish-Rate"
BURST = "X-RateLimit-Burst-Capacity"
REMAINING = "X-RateLimit-Remaining"

#: calls per second a tenant's headers may set: a rate below the floor is not
#: believed (Prisma Cloud's lowest documented limit is one call a second; Compute's
#: 30 in 30 s), and the endpoint is paced by its 429s instead; above, clamped
RATE_RANGE = (0.5, 100_000.0)
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
    slow_start: bool = False    # doubling ``share`` each round until a refusal
    round_start: float = 0.0    # the current round of answers to paced calls
    round_ok: int = 0
    round_refused: int = 0
    counts_from: float = -math.inf  # calls sent before this (queued before a cut) don't count
    used: float = -math.inf     # when it last gave a call its turn (or had calls waiting)

    def reserve_within(self, now: float, horizon: float) -> Tuple[float, bool]:
        """A token due within ``horizon`` seconds, or how long to wait to ask again."""
        self.refill(now)
        if self.tokens - 1.0 < -horizon * self.rate:
            return horizon, False
        return self.reserve(now), True

    def refill(self, now: float) -> None:
        if now > self.stamp:
            # one token of a tenant's burst is left to it: calls that arrive a
            # little closer together than they were sent still find one
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def set_rate(self, rate: float) -> None:
        """A new rate; the calls already queued keep their times (the queue is
        as long in seconds as before), and new ones line up behind them."""
        if self.tokens < 0 and self.rate > 0:
            self.tokens *= rate / self.rate
        self.rate = rate

    def reserve(self, now: float) -> float:
        self.refill(now)
        self.used = now
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class _Probe:
    """The first call to an endpoint is out: the calls that came meanwhile wait."""

    __slots__ = ("event", "waited")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.waited = False  # other calls came meanwhile


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
                 shared_limits: bool = True, round_seconds: float = 0.5,
                 initial_share: float = 0.25, min_share: float = 1 / 64,
                 share_growth: float = 0.05) -> None:
        if not max_wait > 0 or max_endpoints < 1 or not probe_wait >= 0:
            raise ValueError("max_wait must be positive, probe_wait not negative and "
                             "max_endpoints at least 1")
        if not (round_seconds > 0 and 0 < min_share <= initial_share <= 1 and
                share_growth >= 0):
            raise ValueError("round_seconds must be positive, 0 < min_share <= initial_share "
                             "<= 1 and share_growth not negative")
        self.clock = clock
        self.beta = beta            # share of the rate kept after a throttle
        self.scale = scale          # CUBIC scaling constant (botocore's C)
        self.min_rate = min_rate    # never slower than this many calls per second
        self.max_wait = max_wait    # longest single wait, whatever the headers say
        self.max_endpoints = max_endpoints
        self.probe_wait = probe_wait      # longest wait for a first call's answer
        self.shared_limits = shared_limits  # False: follow the headers as if alone
        self.round_seconds = round_seconds  # a round of answers; the reservation horizon
        self.initial_share = initial_share  # where a new limit starts (doubling from there)
        self.min_share = min_share
        self.share_growth = share_growth  # share regained per second with tokens to spare
        self._buckets: Dict[Key, _Bucket] = {}
        self._meters: Dict[Key, _Meter] = {}
        self._probes: Dict[Key, _Probe] = {}
        self._reported: Dict[Key, float] = {}  # when a long wait was last reported
        self._lock = threading.Lock()
        _fork.register(self)

    def take(self, key: Key) -> Tuple[float, bool]:
        """``(seconds to wait, taken)`` before sending on ``key``: when ``taken``
        the caller has its token once the wait is over; else it waits and asks
        again (the queue reaches at most ``round_seconds`` ahead, so that a cut
        of the rate applies to the next round, not after the whole queue).  As
        :meth:`delay` otherwise."""
        bucket = self._bucket_for(key)
        if bucket is None:
            return 0.0, True
        with self._lock:
            wait, taken = bucket.reserve_within(self.clock(), self.round_seconds)
        return min(wait, self.max_wait), taken

    def delay(self, key: Key) -> float:
        """Seconds to wait before sending on ``key`` (0 when not limited; at most
        ``max_wait``), however long the queue.  The first call to an endpoint
        returns at once and the calls that come meanwhile block (at most
        ``probe_wait``) until its answer was observed."""
        bucket = self._bucket_for(key)
        if bucket is None:
            return 0.0
        with self._lock:
            return min(bucket.reserve(self.clock()), self.max_wait)

    def _bucket_for(self, key: Key) -> Optional[_Bucket]:
        """The bucket of ``key`` (None when not limited); a first call goes alone."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if key in self._meters:  # answered before, not limited
                return None
            with self._lock:
                bucket = self._buckets.get(key)
                if bucket is None and key not in self._meters:
                    probe = self._probes.get(key)
                    if probe is None:  # this call goes first, alone
                        _make_room(self._probes, self.max_endpoints)
                        self._probes[key] = _Probe()
                        return None
                    probe.waited = True
            if bucket is None:
                if key in self._meters:
                    return None
                # the first answer, or give up waiting
                cast(_Probe, probe).event.wait(self.probe_wait)
                bucket = self._buckets.get(key)
        return bucket

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
            probe.event.set()

    def release(self, key: Key) -> None:
        """The call to ``key`` ended without an answer (it raised): calls waiting
        for a first answer there go on without one."""
        with self._lock:
            probe = self._probes.pop(key, None)
        if probe is not None:
            probe.event.set()

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at fork time
        self._probes = {}  # the threads waiting for a first answer are the parent's

    def report_due(self, key: Key, every: float = 60.0) -> bool:
        """Whether a long wait on ``key`` should be reported now: once per
        ``every`` seconds and endpoint (at most ``max_endpoints`` remembered)."""
        now = self.clock()
        with self._lock:
            last = self._reported.get(key)
            if last is not None and now - last < every:
                return False
            if last is None:
                _make_room(self._reported, self.max_endpoints)
            self._reported[key] = now
        return True

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
            share = self.initial_share if self.shared_limits else 1.0
            probe = self._probes.get(key)
            bucket = self._new_bucket(key, _Bucket(
                self._paced(rate, share), burst,
                min(remaining, max(1.0, burst * share)),
                now, True, limit=rate, share=share, slow_start=share < 1, round_start=now,
                used=now if probe is not None and probe.waited else -math.inf))
            if self.shared_limits and remaining < burst - 1:
                # drawn on already (a fresh limit has burst - 1 left): if other
                # endpoints of the host announce the same limit, it is theirs too
                self._merge_alike(key, bucket, now)
            return
        bucket.refill(now)
        # the tenant's count is the truth: others may draw from the same limit
        bucket.tokens = min(bucket.tokens, remaining)
        if status == 429:
            bucket.tokens = min(bucket.tokens, 0.0)
        bucket.limit, bucket.capacity = rate, burst
        if self.shared_limits and (sent_at is None or sent_at >= bucket.counts_from):
            if not (status == 429 and self._merge_alike(key, bucket, now)):
                self._count_round(bucket, status == 429, remaining, now)
        bucket.set_rate(self._paced(rate, bucket.share))

    def _paced(self, rate: float, share: float) -> float:
        """Our rate: ``share`` of the tenant's, not below ``min_rate`` unless the
        tenant's own rate is lower."""
        return max(min(rate, self.min_rate), rate * share)

    def _merge_alike(self, key: Key, bucket: _Bucket, now: float) -> Dict[int, _Bucket]:
        """Take the endpoints of ``key``'s host that announce the same limit as
        one per-user limit: they share ``bucket`` from now on.  Returns whether
        there were any.  The share kept is the sum of the shares of those in use
        (calls sent or waiting in the last round), at most all: each drew its
        share from this one limit, so together they drew the sum (an endpoint
        called once, as ``/login``, draws nothing; what others draw is found
        again by the rounds)."""
        merged: Dict[int, _Bucket] = {}
        for other, alike in list(self._buckets.items()):
            if other[1] == key[1] and alike is not bucket and alike.from_headers and \
                    alike.limit == bucket.limit and alike.capacity == bucket.capacity:
                self._buckets[other] = bucket
                merged[id(alike)] = alike  # (endpoints merged before share one)
        bucket.refill(now)
        tokens = [bucket.tokens]
        for alike in merged.values():
            in_use = alike.used >= now - self.round_seconds
            alike.refill(now)
            tokens.append(alike.tokens)
            bucket.share = min(1.0, bucket.share + alike.share) if in_use else \
                max(bucket.share, alike.share)
        if merged:
            # Tokens count calls: the tenant's spare ones are one pool (the least
            # seen), the calls queued in each are all still coming (their sum).
            queued = sum(-t for t in tokens if t < 0)
            bucket.tokens = -queued if queued else min(tokens)
            bucket.rate = self._paced(bucket.limit, bucket.share)  # (behind all of them)
            bucket.counts_from = now + self.round_seconds  # what was queued before
            bucket.round_start, bucket.round_ok, bucket.round_refused = now, 0, 0
        return merged

    def _count_round(self, bucket: _Bucket, refused: bool, remaining: float,
                     now: float) -> None:
        """Count one answer to a paced call; at the end of a round, cut the share
        by the part refused, or grow it when the tenant had tokens to spare.  The
        first refusal after a quiet spell (or in slow start) halves it at once."""
        if refused:
            if not bucket.round_refused and bucket.counts_from < now - self.round_seconds:
                # the first refusal after a quiet spell: halve at once, then count
                bucket.slow_start = False
                bucket.share = max(self.min_share, bucket.share * 0.5)
                bucket.counts_from = now + self.round_seconds
                bucket.round_start, bucket.round_ok, bucket.round_refused = now, 0, 0
                return
            bucket.round_refused += 1
        else:
            bucket.round_ok += 1
        elapsed = now - bucket.round_start
        if elapsed < (self.round_seconds / 4 if bucket.slow_start else self.round_seconds):
            return
        answered = bucket.round_ok + bucket.round_refused
        if bucket.round_refused:
            # the tenant took this part of what was sent: about what is left for us
            accepted = bucket.round_ok / answered
            cut = min(0.9, max(0.5, 0.95 * accepted))
            bucket.share = max(self.min_share, bucket.share * cut)
            bucket.counts_from = now + self.round_seconds  # the queue under the old share
        elif remaining >= bucket.capacity / 2:
            # half the burst to spare at the end of a round: capacity nobody uses
            # (a whole share stays whole: the share is never above 1)
            grown = bucket.share * 2 if bucket.slow_start else \
                bucket.share + self.share_growth * elapsed
            bucket.share = min(1.0, grown)
        bucket.round_start, bucket.round_ok, bucket.round_refused = now, 0, 0

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
            bucket.set_rate(max(self.min_rate, rate))

    def _cubic(self, bucket: _Bucket, now: float) -> float:
        k = (bucket.w_max * (1.0 - self.beta) / self.scale) ** (1.0 / 3.0)
        cubed: float = (now - bucket.throttled_at - k) ** 3
        return self.scale * cubed + bucket.w_max


def _make_room(table: Dict[Any, Any], most: int) -> None:
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
    if rate < RATE_RANGE[0]:
        return None  # absurd (or zero): learn from the 429s instead
    burst = _clamp(burst, BURST_RANGE)
    return _clamp(rate, RATE_RANGE), burst, _clamp(remaining, (0.0, burst))
