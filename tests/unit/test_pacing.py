"""Client-side pacing, the strategy (pcpi._pacing) with an injected clock: no
sockets, no waiting.  The bucket's arithmetic is tested in test_bucket.py and the
headers' reading in test_limit_headers.py."""

from __future__ import annotations

import heapq
import math
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import pcpi
from pcpi import Pacer, PacingPolicy
from pcpi._pacing import endpoint_key
from pcpi.testing._ratelimit import TokenBucket as TenantBucket

from .._fakes import Clock, limit_headers

KEY = ("GET", "api.example", "/cloud")


def limits(rate, burst, remaining):
    return limit_headers(rate, burst, remaining)


def waits(pacer, n, key=KEY):
    return [round(pacer.take(key)[0], 4) for _ in range(n)]


def settled(pacer, clock, remaining, rate=40, burst=10, seconds=5.0, key=KEY):
    """Answers saying ``remaining`` left, every 1/64 s for ``seconds``."""
    for _ in range(int(seconds * 64)):
        clock.now += 1 / 64
        pacer.observe(key, 200, limits(rate, burst, remaining))


# ---------------------------------------------------------------------- following headers
def test_an_endpoint_never_limited_has_no_bucket_and_no_wait():
    pacer = Pacer(clock=Clock())
    for _ in range(100):
        assert pacer.take(KEY) == (0.0, True)
        pacer.observe(KEY, 200, {})
    assert pacer.limit(KEY) is None and not pacer.governs(KEY)


def test_a_new_limit_is_taken_as_if_half_its_burst_were_left_until_more_answers_come():
    pacer = Pacer(clock=Clock())
    pacer.observe(KEY, 200, limits(40, 8, 7))
    share = math.exp(-3 * (8 - 2 - 4) / 8)
    assert pacer.limit(KEY) == (pytest.approx(40 * share), pytest.approx(8 * share))
    assert waits(pacer, 3) == [0.0] * 3  # 3.8 tokens
    assert pacer.take(KEY)[0] == pytest.approx(0.22 / (40 * share), abs=1e-3)
    assert pacer.governs(KEY)
    drawn = Pacer(clock=Clock())
    drawn.observe(KEY, 200, limits(40, 8, 6))  # one drawn by others before: one less
    assert drawn.limit(KEY)[0] == pytest.approx(40 * math.exp(-3 * 3 / 8))
    crowded = Pacer(clock=Clock())
    crowded.observe(KEY, 200, limits(40, 8, 3))  # four drawn: as if none were left
    assert crowded.limit(KEY)[0] == pytest.approx(40 * math.exp(-3 * 6 / 8))
    assert crowded.take(KEY) == (0.0, True)  # one token (its share of the burst is less)
    assert crowded.take(KEY)[0] > 0


def test_with_burst_minus_two_left_or_more_the_whole_rate_is_taken():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(40, 10, 9))
    settled(pacer, clock, 9, seconds=1.0)
    pacer.observe(KEY, 200, limits(40, 10, 8))
    assert pacer.limit(KEY) == (40.0, 10.0)


@pytest.mark.parametrize("left", [1, 2, 5, 7])
def test_with_fewer_left_the_share_falls_by_e_cubed_across_the_burst(left):
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(40, 10, 9))
    settled(pacer, clock, max(left, 2), seconds=1.0)  # (never below 2: no squeeze)
    settled(pacer, clock, left, seconds=0.5)
    share = math.exp(-3 * (8 - left) / 10)
    assert pacer.limit(KEY)[0] == pytest.approx(40 * share, rel=0.02)
    assert pacer.limit(KEY)[1] == pytest.approx(max(1.0, 10 * share), rel=0.02)


def test_remaining_is_smoothed_over_a_moment_not_taken_from_one_answer():
    clock = Clock()
    pacer = Pacer(clock=clock)  # 40/s, burst 10: smoothed over a quarter of a second
    pacer.observe(KEY, 200, limits(40, 10, 9))
    settled(pacer, clock, 9, seconds=1.0)
    clock.now += 1 / 64
    pacer.observe(KEY, 200, limits(40, 10, 0))  # one answer: a little slower only
    assert 30 < pacer.limit(KEY)[0] < 40


def test_every_answers_remaining_resyncs_the_bucket_downward_only():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(8, 10, 9))
    settled(pacer, clock, 9, rate=8, seconds=1.0)  # the whole rate, a full bucket
    pacer.observe(KEY, 200, limits(8, 10, 3))   # others drew meanwhile
    assert [w for w in waits(pacer, 4)][:3] == [0.0, 0.0, 0.0]  # three left, then queued
    assert waits(pacer, 1)[0] > 0
    pacer.observe(KEY, 200, limits(8, 10, 10))  # never upward: our reservations stand
    assert waits(pacer, 1)[0] > 0


def test_the_calls_sent_after_an_answered_one_come_off_the_tenants_count():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(8, 10, 9))
    settled(pacer, clock, 9, rate=8, seconds=1.0)  # the whole rate, a full bucket
    asked = clock.now
    clock.now += 0.25
    assert waits(pacer, 3) == [0.0] * 3  # three calls left after the one being answered
    pacer.observe(KEY, 200, limits(8, 10, 8), sent_at=asked)  # the tenant counted 8 then
    assert waits(pacer, 6) == [0.0] * 5 + [0.125]  # 8 less our 3 in flight
    pacer.observe(KEY, 200, limits(8, 10, 8), sent_at=clock.now)  # sent after them all
    assert waits(pacer, 1) == [0.25]  # (nothing more taken off)


def test_send_times_are_kept_for_two_seconds_and_2048_calls_at_most():
    clock = Clock()
    pacer = Pacer(clock=clock, round_seconds=1000)
    pacer.seed(KEY, 100_000, 100_000)
    sent = pacer._paces.peek(KEY).sent
    kept = []
    for _ in range(30):
        waits(pacer, 300)
        clock.now += 0.5
        kept.append(len(sent))
    assert max(kept) <= 2048
    clock.now += 20
    waits(pacer, 1)
    assert len(sent) == 1  # the ones more than 2 s old went


def test_limits_changed_by_the_tenant_are_followed():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(10, 5, 4))
    settled(pacer, clock, 3, rate=10, burst=5, seconds=1.0)
    settled(pacer, clock, 5, rate=20, burst=6, seconds=1.0)
    assert pacer.limit(KEY) == (20.0, 6.0)


def test_a_limit_that_stays_below_one_left_slows_every_client_by_e_a_second():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(64, 10, 9))
    settled(pacer, clock, 0, rate=64, seconds=1.0)  # smoothed below 1 within 0.1 s
    floor = 64 * math.exp(-3 * 8 / 10)  # the curve's lowest
    assert floor * math.exp(-1.0) < pacer.limit(KEY)[0] < floor * math.exp(-0.8)
    settled(pacer, clock, 0, rate=64, seconds=20.0)
    assert pacer.limit(KEY)[0] == 1.0  # a 64th of the tenant's rate at most
    settled(pacer, clock, 9, rate=64, seconds=2.0)  # room again: recovering by e a second
    assert pacer.limit(KEY)[0] == pytest.approx(math.exp(2), rel=0.05)
    settled(pacer, clock, 1.5, rate=64, seconds=1.0)  # between one and two left: held
    held = pacer.limit(KEY)[0]
    settled(pacer, clock, 1.5, rate=64, seconds=1.0)
    assert pacer.limit(KEY)[0] == pytest.approx(held, rel=1e-3)
    settled(pacer, clock, 9, rate=64, seconds=10.0)  # room: back to the whole rate
    assert pacer.limit(KEY)[0] == 64.0


def test_exactly_one_call_left_is_not_yet_below_one():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(64, 10, 5))  # half the burst less the 4 others drew: 1
    settled(pacer, clock, 1, rate=64, seconds=10.0)  # and 1 it stays: no slowing
    assert pacer.limit(KEY)[0] == pytest.approx(64 * math.exp(-3 * 7 / 10))


@pytest.mark.parametrize("burst,squeezed", [(1, False), (2, False), (3, False), (4, True)])
def test_a_burst_of_three_or_less_is_never_squeezed(burst, squeezed):
    # a client alone at the tenant's rate is told burst - 2 left: 0 with a burst of 1
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(0.5, burst, 0))
    settled(pacer, clock, 0, rate=0.5, burst=burst, seconds=30.0)
    rate = pacer.limit(KEY)[0]
    full = 0.5 * math.exp(-3 * max(0, burst - 2) / burst)  # the curve's lowest
    assert (rate < full / 2) == squeezed, rate


# ---------------------------------------------------------------------- clients sharing a limit
def share_one_limit(pacers, clocks, seconds, rate=50, burst=10, latency=0.03, threads=6,
                    stop=None):
    """Greedy clients (``threads`` callers each) against one tenant bucket on one
    fake clock; answers come back after ``latency``.  Returns (calls answered 200
    per client, 429s)."""
    now = [0.0]
    for c in clocks:
        c.now = 0.0
    tenant = TenantBucket(rate, burst, clock=lambda: now[0])
    done = [0] * len(pacers)
    refused = [0]
    events = []  # (time, seq, client, what)
    seq = [0]

    def at(t, client, what):
        seq[0] += 1
        heapq.heappush(events, (t, seq[0], client, what))

    for i in range(len(pacers)):
        at(0.0, i, "first")
    while events:
        t, _s, i, what = heapq.heappop(events)
        if t > seconds:
            break
        now[0] = clocks[i].now = t
        if stop and i in stop and t >= stop[i]:
            continue
        if what in ("ask", "first"):
            wait, taken = pacers[i].take(KEY)
            at(t + wait, i, ("send", what) if taken else "ask")
        elif what[0] == "send":
            ok, left, _retry = tenant.take()
            at(t + latency, i, ("answer", ok, left, what[1]))
        else:
            _answer, ok, left, first = what
            pacers[i].observe(KEY, 200 if ok else 429, limits(rate, burst, int(left)))
            done[i] += ok
            refused[0] += not ok
            for _ in range(threads if first == "first" else 1):  # (the others wait for it)
                at(t, i, "ask")
    return done, refused[0]


@pytest.mark.parametrize("clients", [1, 2, 4])
def test_clients_sharing_one_limit_fill_it_at_equal_shares_with_few_429s(clients):
    clocks = [Clock() for _ in range(clients)]
    pacers = [Pacer(clock=c) for c in clocks]
    done, refused = share_one_limit(pacers, clocks, seconds=20.0)
    assert sum(done) >= 0.97 * (50 * 20 + 10)  # the limit is used
    assert refused <= 0.01 * sum(done)  # (most of them as they all start at once)
    assert min(done) >= 0.9 * max(done)  # and shared evenly


def test_when_one_client_stops_the_others_take_up_its_share():
    clocks = [Clock() for _ in range(3)]
    pacers = [Pacer(clock=c) for c in clocks]
    done, refused = share_one_limit(pacers, clocks, seconds=20.0, stop={0: 5.0})
    assert sum(done) >= 0.97 * (50 * 20 + 10)
    assert refused <= 0.02 * sum(done)
    assert done[0] < 0.4 * done[1]


# ---------------------------------------------------------------------- 429s and Retry-After
def test_a_429_empties_the_bucket_even_when_its_headers_show_tokens_left():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(10, 5, 4))
    settled(pacer, clock, 4, rate=10, burst=5, seconds=2.0)
    pacer.observe(KEY, 429, limits(10, 5, 3))
    assert waits(pacer, 1) == [0.1]


def test_a_429s_retry_after_gives_no_turn_before_it_ends():
    clock = Clock()
    pacer = Pacer(clock=clock)  # 10/s, burst 5: turns held an eighth of a second ahead
    pacer.seed(KEY, 10, 5)
    pacer.observe(KEY, 429, {"Retry-After": "3"})
    assert pacer.take(KEY) == (2.875, False)  # ask again as the hold is about to end
    clock.now += 2.875
    assert pacer.take(KEY) == (pytest.approx(0.125 + 0.1), True)  # then the bucket's pace


def test_a_retry_after_longer_than_max_wait_holds_for_max_wait():
    clock = Clock()
    pacer = Pacer(clock=clock, max_wait=60)
    pacer.seed(KEY, 10, 5)
    pacer.observe(KEY, 429, {"Retry-After": "1e308"})
    assert pacer.take(KEY) == (59.875, False)
    clock.now += 59.875
    assert pacer.take(KEY) == (pytest.approx(0.125 + 0.1), True)


def test_a_bare_429_on_a_paced_endpoint_empties_it_and_keeps_the_tenants_rate():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(10, 5, 4))
    settled(pacer, clock, 4, rate=10, burst=5, seconds=2.0)
    pacer.observe(KEY, 429, {"Retry-After": "1"})
    assert pacer.limit(KEY) == (10.0, 5.0) and pacer.governs(KEY)
    assert pacer.take(KEY) == (0.875, False)
    clock.now += 0.875
    assert pacer.take(KEY) == (pytest.approx(0.125 + 0.1), True)
    pacer.observe(KEY, 200, {})  # an answer without headers changes nothing
    assert pacer.limit(KEY) == (10.0, 5.0)


def test_a_bare_429_elsewhere_is_left_to_the_retry_loops_backoff():
    pacer = Pacer(clock=Clock())
    assert pacer.take(KEY) == (0.0, True)
    pacer.observe(KEY, 429, {"Retry-After": "5"})
    assert not pacer.governs(KEY) and pacer.limit(KEY) is None
    assert pacer.take(KEY) == (0.0, True)  # and no first call to wait for any more


# ---------------------------------------------------------------------- seeds
def test_a_seeded_limit_paces_its_first_burst_before_any_answer():
    pacer = Pacer(clock=Clock())
    compute = ("GET", "console.example", "/api/v34.04/images")
    pacer.seed(compute, 1.0, 30.0)  # Compute's 30 calls per 30 s
    # paced, not governed: the tenant never announced it, so a 429 there is backed off
    assert not pacer.governs(compute) and pacer.limit(compute) == (1.0, 30.0)
    assert waits(pacer, 31, compute) == [0.0] * 30 + [0.5]  # (asks again: a second away)
    assert pacer.take(compute) == (0.5, False)


def test_a_seeded_limit_answers_bare_429s_by_waiting_for_its_next_token():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.seed(KEY, 1.0, 30.0)
    pacer.observe(KEY, 200, {})  # Compute announces nothing: the seed stays
    pacer.observe(KEY, 429, {})
    assert pacer.limit(KEY) == (1.0, 30.0)
    assert pacer.take(KEY) == (0.5, False)
    clock.now += 0.5
    assert pacer.take(KEY) == (0.5, True)


def test_headers_win_over_a_seed_and_a_seed_never_replaces_them():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.seed(KEY, 1.0, 30.0)
    pacer.observe(KEY, 200, limits(40, 8, 7))  # learned as any new limit
    share = math.exp(-3 * (8 - 2 - 4) / 8)
    assert pacer.limit(KEY) == (pytest.approx(40 * share), pytest.approx(8 * share))
    settled(pacer, clock, 7, rate=40, burst=8, seconds=1.0)
    pacer.seed(KEY, 1.0, 30.0)
    assert pacer.limit(KEY) == (40.0, 8.0)
    pacer.seed(("GET", "h", "/one"), 0.5, 1)  # the smallest seed there is
    assert pacer.limit(("GET", "h", "/one")) == (0.5, 1.0)


@pytest.mark.parametrize("rate,burst", [(0, 5), (-1, 5), (float("nan"), 5), (1, 0.5),
                                        (1, float("inf")), (float("inf"), 5)])
def test_a_seed_that_is_not_a_limit_is_refused_naming_what_to_fix(rate, burst):
    with pytest.raises(ValueError) as refused:
        Pacer(clock=Clock()).seed(KEY, rate, burst)
    assert "rate" in str(refused.value) and "burst" in str(refused.value)


# ---------------------------------------------------------------------- turns
def test_a_turn_is_held_a_quarter_of_a_short_bursts_length_ahead_at_most():
    pacer = Pacer(clock=Clock(), round_seconds=0.5)
    pacer.seed(KEY, 10, 8)  # the burst lasts 0.8 s at the rate: turns 0.2 s ahead
    assert waits(pacer, 8) == [0.0] * 8
    assert [pacer.take(KEY) for _ in range(3)] == [(0.1, True), (0.2, True), (0.2, False)]


def test_with_a_long_burst_a_turn_is_held_round_seconds_ahead_at_most():
    pacer = Pacer(clock=Clock(), round_seconds=0.5)
    pacer.seed(KEY, 2, 10)  # 5 s of burst
    assert waits(pacer, 10) == [0.0] * 10
    assert [pacer.take(KEY) for _ in range(2)] == [(0.5, True), (0.5, False)]


def test_reservations_from_many_threads_are_spaced_by_the_rate():
    clock = Clock()
    pacer = Pacer(clock=clock, round_seconds=1000)
    pacer.seed(KEY, 50, 1000)  # turns held up to 5 s ahead
    waits(pacer, 1000)
    with ThreadPoolExecutor(16) as pool:
        got = sorted(w for w, _t in pool.map(lambda _: pacer.take(KEY), range(200)))
    steps = {round(b - a, 6) for a, b in zip(got, got[1:])}
    assert steps == {0.02} and round(got[-1], 6) == 4.0


def test_no_wait_is_longer_than_max_wait():
    pacer = Pacer(clock=Clock(), max_wait=0.5, round_seconds=1000)
    pacer.seed(KEY, 1, 100)  # turns held up to 25 s ahead
    assert waits(pacer, 103) == [0.0] * 100 + [0.5] * 3


# ---------------------------------------------------------------------- cold start
def test_the_first_call_goes_alone_and_the_others_pace_from_its_answer():
    clock = Clock()
    pacer = Pacer(clock=clock)
    assert pacer.take(KEY) == (0.0, True)  # the probe
    got = []
    waiting = [threading.Thread(target=lambda: got.append(pacer.take(KEY))) for _ in range(3)]
    for t in waiting:
        t.start()
    for t in waiting:
        t.join(0.05)
    assert got == [] and all(t.is_alive() for t in waiting)  # held for the answer
    pacer.observe(KEY, 200, limits(40, 8, 7))  # 3.8 tokens at first
    for t in waiting:
        t.join(5)
    assert got == [(0.0, True)] * 3


def test_an_endpoint_without_limits_pays_the_first_answer_once():
    pacer = Pacer(clock=Clock(), probe_wait=60)
    assert pacer.take(KEY) == (0.0, True)
    pacer.observe(KEY, 200, {})
    with ThreadPoolExecutor(2) as pool:  # would block for a minute if it waited again
        assert list(pool.map(lambda _: pacer.take(KEY), range(4))) == [(0.0, True)] * 4


def test_a_first_call_that_fails_releases_the_waiters():
    pacer = Pacer(clock=Clock(), probe_wait=60)
    assert pacer.take(KEY) == (0.0, True)
    got = []
    t = threading.Thread(target=lambda: got.append(pacer.take(KEY)))
    t.start()
    t.join(0.05)
    pacer.release(KEY)  # the probe raised (connection refused, ...)
    t.join(5)
    assert got == [(0.0, True)]


def test_waiting_for_a_first_answer_is_bounded():
    import time as _time

    pacer = Pacer(clock=Clock(), probe_wait=0.05)
    assert pacer.take(KEY) == (0.0, True)
    t0 = _time.monotonic()
    assert pacer.take(KEY) == (0.0, True)  # no answer came: go anyway
    assert _time.monotonic() - t0 >= 0.05


def test_a_seeded_endpoint_needs_no_first_call_alone():
    pacer = Pacer(clock=Clock(), probe_wait=60)
    pacer.seed(KEY, 10, 5)
    with ThreadPoolExecutor(2) as pool:
        assert [t for _w, t in pool.map(lambda _: pacer.take(KEY), range(4))] == [True] * 4


class _AnswerLandsFirst:
    """Stands for the pacer's lock: the first time it is taken, the first call's
    answer is recorded just before (the race a second look under the lock is for)."""

    def __init__(self, answer) -> None:
        self._lock, self._answer = threading.Lock(), answer

    def __enter__(self):
        answer, self._answer = self._answer, None
        if answer is not None:
            answer()
        return self._lock.__enter__()

    def __exit__(self, *exc):
        return self._lock.__exit__(*exc)


def test_a_call_that_arrives_as_the_first_answer_lands_is_paced_by_it():
    pacer = Pacer(clock=Clock())
    assert pacer.take(KEY) == (0.0, True)  # the first call
    pacer._lock = _AnswerLandsFirst(lambda: pacer.observe(KEY, 200, limits(40, 8, 0)))
    assert pacer.take(KEY) == (0.05, False)  # not a second first call, unpaced


def test_a_first_call_in_flight_at_fork_time_does_not_hold_up_the_child():
    pacer = Pacer(clock=Clock(), probe_wait=30)
    assert pacer.take(KEY) == (0.0, True)  # the parent's first call, still unanswered
    pacer._after_fork_in_child()
    got = []
    child = threading.Thread(target=lambda: got.append(pacer.take(KEY)), daemon=True)
    child.start()
    child.join(5)
    assert got == [(0.0, True)]  # the child's own first call, at once


def test_the_pacers_lock_is_new_in_a_forked_child():
    pacer = Pacer(clock=Clock())
    pacer.observe(KEY, 200, limits(10, 5, 4))
    held = pacer._lock
    held.acquire()  # as if another thread held it when the process forked
    try:
        pacer._after_fork_in_child()
        assert pacer.take(KEY) == (0.0, True)  # usable at once
        assert pacer.limit(KEY) is not None  # what was learned is kept
    finally:
        held.release()


# ---------------------------------------------------------------------- bounds and reading
def test_endpoints_are_forgotten_least_recently_used_first():
    pacer = Pacer(clock=Clock(), max_endpoints=2)
    a, b, c = (("GET", "h", f"/{n}") for n in "abc")
    pacer.observe(a, 200, limits(1, 1, 1))
    pacer.observe(b, 200, limits(2, 1, 1))
    pacer.observe(a, 200, limits(3, 1, 1))  # a used again: b is the least recent
    pacer.observe(c, 200, limits(4, 1, 1))
    assert pacer.limit(b) is None
    assert pacer.limit(a) is not None and pacer.limit(c) is not None


def test_a_long_wait_is_reported_once_a_minute_per_endpoint():
    clock = Clock()
    pacer = Pacer(clock=clock)
    assert pacer.report_due(KEY) is True
    clock.now += 59.9
    assert pacer.report_due(KEY) is False
    clock.now += 0.1  # a minute exactly, the default
    assert pacer.report_due(KEY) is True
    assert pacer.report_due(KEY, every=0.0) is True


def test_unreadable_headers_leave_the_endpoint_unlimited():
    pacer = Pacer(clock=Clock())
    pacer.observe(KEY, 200, limits("fast", 5, 5))
    pacer.observe(KEY, 200, limits(0, 5, 5))
    assert pacer.limit(KEY) is None and pacer.take(KEY) == (0.0, True)


def test_endpoint_keys_group_identifiers_but_keep_versions():
    assert endpoint_key("get", "https://API.x.io/cloud/123456789012") == \
        endpoint_key("GET", "https://api.x.io/cloud/210987654321") == \
        ("GET", "api.x.io", "/cloud/{}")
    assert endpoint_key("GET", "https://a/v2/alert")[2] == "/v2/alert"
    assert endpoint_key("GET", "https://a/cloud/3fa85f64-5717-4562-b3fc-2c963f66afa6?x=1") == \
        ("GET", "a", "/cloud/{}")
    assert endpoint_key("POST", "https://a/cloud") != endpoint_key("GET", "https://a/cloud")
    assert endpoint_key("GET", "https://a/api/v1.2/ab34")[2] == "/api/v1.2/ab34"
    assert endpoint_key("GET", "https://a/cloud/abcde")[2] == "/cloud/abcde"  # no digit
    assert endpoint_key("get", "https://API.example") == ("GET", "api.example", "/") == \
        endpoint_key("GET", "https://api.example/")


# ---------------------------------------------------------------------- the policy
def test_the_policy_is_a_documented_frozen_value_exported_from_pcpi():
    policy = pcpi.PacingPolicy()
    assert (policy.max_wait, policy.probe_wait, policy.max_endpoints, policy.round_seconds) == \
        (120.0, 10.0, 1024, 0.5)
    with pytest.raises(AttributeError):
        policy.max_wait = 1  # type: ignore[misc]
    assert PacingPolicy.__doc__ and "max_wait" in PacingPolicy.__doc__
    assert Pacer().policy == policy


def test_the_keyword_arguments_readme_documents_fill_the_policy():
    base = PacingPolicy(max_wait=30, probe_wait=1)
    pacer = Pacer(base, round_seconds=0.25, max_endpoints=8)
    assert pacer.policy == PacingPolicy(max_wait=30, probe_wait=1, max_endpoints=8,
                                        round_seconds=0.25)
    assert Pacer(max_wait=60, probe_wait=2).policy == PacingPolicy(max_wait=60, probe_wait=2)
    assert Pacer(max_wait=60).max_wait == 60


@pytest.mark.parametrize("gone", ["beta", "scale", "min_rate", "shared_limits", "initial_share",
                                  "min_share", "share_growth"])
def test_the_undocumented_knobs_are_gone(gone):
    with pytest.raises(TypeError, match=gone):
        Pacer(**{gone: 1})


@pytest.mark.parametrize("options,names", [
    (dict(max_wait=0), "max_wait"), (dict(max_wait=float("nan")), "max_wait"),
    (dict(round_seconds=0), "round_seconds"), (dict(probe_wait=-1), "probe_wait"),
    (dict(max_endpoints=0), "max_endpoints"),
])
def test_options_out_of_range_are_refused_naming_them(options, names):
    with pytest.raises(ValueError, match=names):
        PacingPolicy(**options)
    with pytest.raises(ValueError, match=names):
        Pacer(**options)


def test_the_smallest_bounds_are_accepted():
    pacer = Pacer(clock=Clock(), max_endpoints=1, probe_wait=0, round_seconds=0.001)
    assert pacer.take(KEY) == (0.0, True)
    assert pacer.take(KEY) == (0.0, True)  # not held for the first answer
    pacer.observe(KEY, 200, limits(10, 5, 4))
    other = ("GET", "api.example", "/other")
    pacer.observe(other, 200, limits(20, 5, 4))
    assert pacer.limit(KEY) is None and pacer.limit(other) is not None  # one endpoint kept


def test_a_limit_heard_of_again_after_a_long_silence_is_followed():
    # (the recovery factor e**elapsed overflowed a float after 12 idle minutes)
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(50, 10, 9))
    clock.now += 800
    pacer.observe(KEY, 200, limits(50, 10, 9))
    clock.now += 1e6
    pacer.observe(KEY, 200, limits(50, 10, 0))
    assert pacer.limit(KEY)[0] > 0


def test_the_first_headers_after_a_seed_count_the_seeds_calls_in_flight():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.seed(KEY, 1.0, 30.0)
    first = clock.now
    for _ in range(30):  # the seeded burst goes out
        assert pacer.take(KEY) == (0.0, True)
        clock.now += 0.001
    # the first call's answer: 29 left then, but our 29 later calls are not counted yet
    pacer.observe(KEY, 200, limits(1, 30, 29), sent_at=first)
    wait, _ = pacer.take(KEY)
    assert wait > 0.1  # (a fresh bucket would have let another burst go at once)
