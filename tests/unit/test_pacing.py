"""Client-side pacing (pcpi._pacing) with an injected clock: no sockets, no waiting."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from pcpi import Pacer as _Pacer
from pcpi._pacing import endpoint_key

KEY = ("GET", "api.example", "/cloud")


def Pacer(**options) -> _Pacer:
    """A pacer for one client alone: a new limit is followed at once (the slow
    start of a limit that may be shared is tested on its own, below)."""
    options.setdefault("initial_share", 1.0)
    return _Pacer(**options)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def limits(rate, burst, remaining):
    return {"X-RateLimit-Replenish-Rate": str(rate), "X-RateLimit-Burst-Capacity": str(burst),
            "X-RateLimit-Remaining": str(remaining)}


# ---------------------------------------------------------------------- policy, no network
def test_an_endpoint_never_limited_has_no_bucket_and_no_wait():
    pacer = Pacer(clock=Clock())
    for _ in range(100):
        assert pacer.delay(KEY) == 0.0
        pacer.observe(KEY, 200, {})
    assert pacer.limit(KEY) is None


def test_headers_set_the_bucket_and_waiting_callers_queue_at_the_rate():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(10, 5, 2))
    assert pacer.limit(KEY) == (10.0, 5.0)
    # two tokens left, then each caller is told to wait one more tenth of a second
    assert [round(pacer.delay(KEY), 3) for _ in range(5)] == [0.0, 0.0, 0.1, 0.2, 0.3]
    clock.now += 10  # refills to the burst, not beyond
    assert [round(pacer.delay(KEY), 3) for _ in range(6)] == [0.0] * 5 + [0.1]


def test_a_429_with_headers_empties_the_bucket():
    clock = Clock()
    pacer = Pacer(clock=clock, shared_limits=False)
    pacer.observe(KEY, 200, limits(10, 5, 5))
    pacer.observe(KEY, 429, limits(10, 5, 0))  # someone else drew from the same limit
    assert round(pacer.delay(KEY), 3) == 0.1  # the tenant's next token


# ---------------------------------------------------------------------- following the count
def test_every_answers_remaining_resyncs_the_bucket_downward_only():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(10, 10, 10))
    pacer.observe(KEY, 200, limits(10, 10, 3))  # others drew 7 meanwhile
    assert [round(pacer.delay(KEY), 3) for _ in range(5)] == [0.0, 0.0, 0.0, 0.1, 0.2]
    pacer.observe(KEY, 200, limits(10, 10, 10))  # never upward: our reservations stand
    assert round(pacer.delay(KEY), 3) == 0.3


# ---------------------------------------------------------------------- shared limits
def _answer(pacer, clock, status=200, rate=40, burst=10, remaining=0, n=1):
    for _ in range(n):
        pacer.observe(KEY, status, limits(rate, burst, 0 if status == 429 else remaining),
                      sent_at=clock.now)


def test_a_round_cuts_the_share_to_what_the_tenant_accepted():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(40, 10, 10))
    _answer(pacer, clock, status=429)  # the first refusal after a quiet spell: halved
    assert pacer.limit(KEY)[0] == 20.0
    clock.now += pacer.round_seconds  # past the calls queued before the cut
    _answer(pacer, clock)  # (closes the round of the cut)
    _answer(pacer, clock, n=2)
    _answer(pacer, clock, status=429)
    assert pacer.limit(KEY)[0] == 20.0  # judged at the end of the round
    clock.now += pacer.round_seconds
    _answer(pacer, clock)  # 3 of 4 taken: x 0.95 * 3/4
    assert pacer.limit(KEY)[0] == pytest.approx(20 * 0.95 * 0.75)
    rate = pacer.limit(KEY)[0]
    _answer(pacer, clock, status=429, n=9)  # queued under the old share: not counted
    clock.now += pacer.round_seconds
    _answer(pacer, clock)
    assert pacer.limit(KEY)[0] == pytest.approx(rate)
    _answer(pacer, clock, status=429, n=8)  # most refused: at most halved in a round
    clock.now += pacer.round_seconds
    _answer(pacer, clock)
    assert pacer.limit(KEY)[0] == pytest.approx(rate * 0.5)
    rate = pacer.limit(KEY)[0]
    clock.now += pacer.round_seconds
    _answer(pacer, clock)  # past the queue of that cut
    _answer(pacer, clock, n=39)
    _answer(pacer, clock, status=429)  # one stray 429 in 41: at most 0.9
    clock.now += pacer.round_seconds
    _answer(pacer, clock)
    assert pacer.limit(KEY)[0] == pytest.approx(rate * 0.9)


def test_the_share_grows_back_only_while_half_the_burst_is_spare():
    clock = Clock()
    pacer = Pacer(clock=clock, share_growth=0.1)
    pacer.observe(KEY, 200, limits(50, 10, 10))
    _answer(pacer, clock, status=429, rate=50)
    clock.now += pacer.round_seconds
    _answer(pacer, clock, rate=50)  # 1 of 2 taken: halved
    assert pacer.limit(KEY)[0] == 25.0
    clock.now += pacer.round_seconds
    _answer(pacer, clock, rate=50, remaining=2)  # saturated by others: no growth
    assert pacer.limit(KEY)[0] == 25.0
    clock.now += pacer.round_seconds
    _answer(pacer, clock, rate=50, remaining=6)  # half the burst spare: + 0.1/s
    assert pacer.limit(KEY)[0] == pytest.approx(50 * (0.5 + 0.1 * pacer.round_seconds))
    for _ in range(40):
        clock.now += pacer.round_seconds
        _answer(pacer, clock, rate=50, remaining=10)
    assert pacer.limit(KEY)[0] == 50.0  # never above the tenant's rate


def test_the_share_has_a_floor():
    clock = Clock()
    pacer = Pacer(clock=clock, min_share=0.25)
    pacer.observe(KEY, 200, limits(40, 10, 10))
    for _ in range(20):  # rounds of nothing but 429s
        clock.now += 2 * pacer.round_seconds
        _answer(pacer, clock, status=429)
    assert pacer.limit(KEY)[0] == 10.0


def test_a_new_limit_starts_slow_and_doubles_while_there_is_room():
    clock = Clock()
    pacer = _Pacer(clock=clock)  # initial_share 0.25: it may be shared with others
    pacer.observe(KEY, 200, limits(40, 8, 7))
    assert pacer.limit(KEY) == (10.0, 8.0)
    assert [pacer.delay(KEY) for _ in range(2)] == [0.0, 0.0]  # a quarter of the burst
    assert pacer.delay(KEY) > 0
    rates = []
    for _ in range(4):
        clock.now += pacer.round_seconds / 2  # slow start counts in half rounds
        pacer.observe(KEY, 200, limits(40, 8, 8), sent_at=clock.now)
        rates.append(pacer.limit(KEY)[0])
    assert rates == [20.0, 40.0, 40.0, 40.0]


def test_slow_start_ends_at_the_first_refusal():
    clock = Clock()
    pacer = _Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(40, 8, 7))
    clock.now += 1
    pacer.observe(KEY, 200, limits(40, 8, 8), sent_at=clock.now)  # doubled: 20/s
    assert pacer.limit(KEY)[0] == 20.0
    pacer.observe(KEY, 429, limits(40, 8, 0), sent_at=clock.now)
    clock.now += pacer.round_seconds
    pacer.observe(KEY, 200, limits(40, 8, 0), sent_at=clock.now)  # 1 of 2: halved
    assert pacer.limit(KEY)[0] == 10.0
    clock.now += 1
    pacer.observe(KEY, 200, limits(40, 8, 8), sent_at=clock.now)
    assert 10.0 < pacer.limit(KEY)[0] < 20.0  # grows additively now, no more doubling


def test_endpoints_that_draw_on_one_per_user_limit_share_one_bucket():
    clock = Clock()
    pacer = Pacer(clock=clock)
    cloud, alerts = ("GET", "api.example", "/cloud"), ("GET", "api.example", "/v2/alert")
    elsewhere = ("GET", "other.example", "/x")
    pacer.observe(cloud, 200, limits(20, 10, 9))        # a fresh limit: 9 left
    pacer.observe(elsewhere, 200, limits(20, 10, 3))    # another host: never merged
    pacer.observe(alerts, 200, limits(20, 10, 6))       # drawn on already: the same limit
    assert pacer._buckets[cloud] is pacer._buckets[alerts]
    assert pacer._buckets[elsewhere] is not pacer._buckets[cloud]
    waits = [pacer.delay(k) for k in (cloud, alerts) * 4]
    # one queue for both: the 6 tokens the tenant had, then 20/s
    assert [round(w, 3) for w in waits] == [0.0] * 6 + [0.05, 0.1]


def test_merged_endpoints_keep_the_rate_they_drew_together():
    """Endpoints in slow start, each sending at a quarter of one per-user limit,
    drew a quarter each from it: merged, they go on at the sum (never above the
    limit).  An endpoint called once, as /login, drew nothing and adds nothing."""
    clock = Clock()
    pacer = _Pacer(clock=clock, initial_share=0.25)
    login = ("POST", "api.example", "/login")
    keys = [("GET", "api.example", f"/e{i}") for i in range(5)]
    pacer.observe(login, 200, limits(40, 10, 9))
    pacer.observe(keys[0], 200, limits(40, 10, 8))  # drawn on: merged with /login...
    assert pacer.limit(keys[0])[0] == 10.0          # ...which is not in use: a quarter
    rates = []
    for i, key in enumerate(keys[1:], 1):
        pacer.delay(keys[i - 1])  # the previous endpoint is sending
        pacer.observe(key, 200, limits(40, 10, 8 - i))
        rates.append(pacer.limit(keys[0])[0])
    assert all(pacer._buckets[k] is pacer._buckets[login] for k in keys)
    assert rates == [20.0, 30.0, 40.0, 40.0]


def test_merged_endpoints_queue_new_calls_behind_all_of_their_queued_ones():
    clock = Clock()
    pacer = _Pacer(clock=clock, initial_share=0.25)
    a, b = ("GET", "api.example", "/a"), ("GET", "api.example", "/b")
    pacer.observe(a, 200, limits(40, 4, 3))      # 10/s for us, 1 token to start
    queued_a = [pacer.delay(a) for _ in range(5)]  # 1 now, 4 queued (0.1 s apart)
    assert queued_a[-1] == pytest.approx(0.4)
    pacer.observe(b, 200, limits(40, 4, 1))      # the same limit, drawn on: merged
    # a's 4 queued calls are still coming; at 20/s now a new call goes after them
    assert pacer.delay(b) == pytest.approx(5 / 20)


def test_a_refusal_merges_endpoints_that_announce_the_same_limit():
    clock = Clock()
    pacer = Pacer(clock=clock)
    a, b, c = (("GET", "api.example", p) for p in ("/a", "/b", "/c"))
    pacer.observe(a, 200, limits(20, 10, 9))
    pacer.observe(b, 200, limits(20, 10, 9))   # looked fresh: kept apart at first
    pacer.observe(c, 200, limits(30, 10, 9))   # another limit
    pacer.observe(b, 429, limits(20, 10, 0), sent_at=clock.now)
    assert pacer._buckets[a] is pacer._buckets[b] is not pacer._buckets[c]
    assert pacer.limit(a) == (20.0, 10.0)  # explained by ourselves: no cut


def test_without_shared_limits_a_refusal_only_empties_the_bucket():
    clock = Clock()
    pacer = Pacer(clock=clock, shared_limits=False)
    pacer.observe(KEY, 200, limits(50, 10, 10))
    pacer.observe(KEY, 429, limits(50, 10, 0), sent_at=clock.now)
    assert pacer.limit(KEY) == (50.0, 10.0)


def test_take_reaches_one_round_ahead_at_most():
    clock = Clock()
    pacer = Pacer(clock=clock, round_seconds=0.5)
    pacer.observe(KEY, 200, limits(10, 1, 0))
    got = [pacer.take(KEY) for _ in range(8)]
    assert [taken for _w, taken in got] == [True] * 5 + [False] * 3
    assert [round(w, 3) for w, _t in got] == [0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5, 0.5]
    clock.now += 0.5
    assert pacer.take(KEY) == (pytest.approx(0.1), True)  # the queue moved on


# ---------------------------------------------------------------------- cold start
def test_the_first_call_goes_alone_and_the_others_pace_from_its_answer():
    import threading

    clock = Clock()
    pacer = Pacer(clock=clock)
    assert pacer.delay(KEY) == 0.0  # the probe
    waits = []
    waiting = [threading.Thread(target=lambda: waits.append(pacer.delay(KEY)))
               for _ in range(4)]
    for t in waiting:
        t.start()
    for t in waiting:
        t.join(0.05)
    assert waits == [] and all(t.is_alive() for t in waiting)  # held for the answer
    pacer.observe(KEY, 200, limits(10, 3, 2))
    for t in waiting:
        t.join(5)
    assert sorted(round(w, 3) for w in waits) == [0.0, 0.0, 0.1, 0.2]


def test_an_endpoint_without_limits_pays_the_first_answer_once():
    pacer = Pacer(clock=Clock())
    assert pacer.delay(KEY) == 0.0
    pacer.observe(KEY, 200, {})
    assert pacer._probes == {}
    assert [pacer.delay(KEY) for _ in range(3)] == [0.0] * 3


def test_a_first_call_that_fails_releases_the_waiters():
    import threading

    pacer = Pacer(clock=Clock())
    assert pacer.delay(KEY) == 0.0
    waits = []
    t = threading.Thread(target=lambda: waits.append(pacer.delay(KEY)))
    t.start()
    pacer.release(KEY)  # the probe raised (connection refused, ...)
    t.join(5)
    assert waits == [0.0] and pacer._probes == {}


def test_waiting_for_a_first_answer_is_bounded():
    import time as _time

    pacer = Pacer(clock=Clock(), probe_wait=0.05)
    assert pacer.delay(KEY) == 0.0
    t0 = _time.monotonic()
    assert pacer.delay(KEY) == 0.0  # no answer came: go anyway
    assert _time.monotonic() - t0 >= 0.05


def test_limits_changed_by_the_tenant_are_followed():
    pacer = Pacer(clock=Clock())
    pacer.observe(KEY, 200, limits(10, 5, 5))
    pacer.observe(KEY, 200, limits(2, 1, 1))
    assert pacer.limit(KEY) == (2.0, 1.0)


@pytest.mark.parametrize("headers", [
    {"X-RateLimit-Replenish-Rate": "fast"},
    {"X-RateLimit-Replenish-Rate": "0", "X-RateLimit-Burst-Capacity": "5"},
])
def test_unreadable_headers_are_ignored(headers):
    pacer = Pacer(clock=Clock())
    pacer.observe(KEY, 200, headers)
    assert pacer.limit(KEY) is None


def test_a_bare_429_cuts_the_measured_rate_then_climbs_back_on_a_cubic_curve():
    clock = Clock()
    pacer = Pacer(clock=clock)
    for _ in range(200):  # 100 calls per second for two seconds, never limited
        pacer.observe(KEY, 200, {})
        clock.now += 0.01
    pacer.observe(KEY, 429, {})
    rate, _burst = pacer.limit(KEY)
    assert 65 <= rate <= 75  # beta (0.7) times the ~100/s measured
    k = (100 * (1 - 0.7) / 0.4) ** (1 / 3)  # seconds to get back to the rate before
    for _ in range(int(k / 0.02)):
        clock.now += 0.02
        pacer.observe(KEY, 200, {})
    rate, _burst = pacer.limit(KEY)
    assert 90 <= rate <= 110


def test_a_bare_429_never_paces_slower_than_min_rate():
    clock = Clock()
    pacer = Pacer(clock=clock, min_rate=0.5)
    pacer.observe(KEY, 429, {})
    pacer.observe(KEY, 429, {})
    assert pacer.limit(KEY)[0] == 0.5


def test_reservations_from_many_threads_are_spaced_by_the_rate():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(50, 1, 0))
    with ThreadPoolExecutor(16) as pool:
        delays = sorted(pool.map(lambda _: pacer.delay(KEY), range(200)))
    steps = {round(b - a, 6) for a, b in zip(delays, delays[1:])}
    assert steps == {0.02}
    assert round(delays[-1], 6) == 4.0


def test_endpoint_keys_group_identifiers_but_keep_versions():
    assert endpoint_key("get", "https://API.x.io/cloud/123456789012") == \
        endpoint_key("GET", "https://api.x.io/cloud/210987654321") == \
        ("GET", "api.x.io", "/cloud/{}")
    assert endpoint_key("GET", "https://a/v2/alert")[2] == "/v2/alert"
    assert endpoint_key("GET", "https://a/cloud/3fa85f64-5717-4562-b3fc-2c963f66afa6?x=1") == \
        ("GET", "a", "/cloud/{}")
    assert endpoint_key("POST", "https://a/cloud") != endpoint_key("GET", "https://a/cloud")




# ---------------------------------------------------------------------- bounds and edges
@pytest.mark.parametrize("options", [dict(max_wait=0), dict(max_wait=-1),
                                     dict(max_wait=float("nan")), dict(max_endpoints=0)])
def test_a_pacer_without_bounds_is_refused(options):
    with pytest.raises(ValueError, match="max_wait must be positive"):
        Pacer(**options)


def test_a_bare_429_on_a_bucket_from_headers_empties_it_and_keeps_the_tenants_rate():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(10, 5, 5))
    pacer.observe(KEY, 429, {})  # the tenant's headers said 10/s: keep them, take the hint
    assert pacer.limit(KEY) == (10.0, 5.0)
    assert round(pacer.delay(KEY), 3) == 0.1
    pacer.observe(KEY, 200, {})  # an answer without headers changes nothing either
    assert pacer.limit(KEY) == (10.0, 5.0)


def test_a_second_bare_429_cuts_from_the_current_pace_not_the_first_measure():
    clock = Clock()
    pacer = Pacer(clock=clock)
    for _ in range(100):  # 100 calls a second for a second
        pacer.observe(KEY, 200, {})
        clock.now += 0.01
    pacer.observe(KEY, 429, {})
    first = pacer.limit(KEY)[0]
    clock.now += 0.01
    pacer.observe(KEY, 429, {})
    second = pacer.limit(KEY)[0]
    assert second == pytest.approx(first * 0.7, rel=0.05)
    assert pacer.limit(KEY)[1] == 1.0  # no burst without headers


def test_after_a_bare_429_the_pace_climbs_no_faster_than_twice_the_measured_rate():
    clock = Clock()
    pacer = Pacer(clock=clock)
    for _ in range(100):
        pacer.observe(KEY, 200, {})
        clock.now += 0.01
    pacer.observe(KEY, 429, {})
    for _ in range(40):  # then only 2 calls a second, for 20 s: the curve would be far above
        clock.now += 0.5
        pacer.observe(KEY, 200, {})
    assert pacer.limit(KEY)[0] <= 2 * 2.0 + 0.5


def test_headers_after_a_bare_429_replace_the_guess():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 429, {})
    assert pacer.limit(KEY) == (0.7, 1.0)  # one call in (at least) a second, times beta
    pacer.observe(KEY, 200, limits(25, 10, 10))
    assert pacer.limit(KEY) == (25.0, 10.0)
    assert [pacer.delay(KEY) for _ in range(10)] == [0.0] * 10


def test_an_endpoint_updated_in_place_keeps_its_place_and_others_are_forgotten_first():
    pacer = Pacer(clock=Clock(), max_endpoints=2)
    a, b, c = (("GET", "h", f"/{n}") for n in "abc")
    pacer.observe(a, 200, limits(1, 1, 1))
    pacer.observe(b, 200, limits(2, 1, 1))
    pacer.observe(a, 200, limits(3, 1, 1))  # an update is not a new entry
    assert pacer.limit(a) == (3.0, 1.0) and pacer.limit(b) == (2.0, 1.0)
    pacer.observe(c, 200, limits(4, 1, 1))
    assert pacer.limit(a) is None  # the oldest entry went
    assert pacer.limit(b) == (2.0, 1.0) and pacer.limit(c) == (4.0, 1.0)


def test_no_wait_is_longer_than_max_wait_however_many_callers_queue():
    pacer = Pacer(clock=Clock(), max_wait=2.0)
    pacer.observe(KEY, 200, limits(1, 1, 0))
    waits = [pacer.delay(KEY) for _ in range(10)]
    assert waits[:2] == [1.0, 2.0] and waits[2:] == [2.0] * 8


@pytest.mark.parametrize("given,expect", [
    (limits(10, 5, 5), (10.0, 5.0)),
    ({"X-RateLimit-Replenish-Rate": "10"}, (10.0, 1.0)),  # no burst: one at a time
    (limits(1e9, 1e9, 1e9), (100_000.0, 100_000.0)),     # clamped
    (limits(0.5, 0, 0), (0.5, 1.0)),                     # the floor, believed
    (limits(0.49, 5, 5), None),                          # below it: not believed
    (limits(1e-9, 0, 0), None),
])
def test_header_values_are_clamped_to_sane_ranges(given, expect):
    pacer = Pacer(clock=Clock())
    pacer.observe(KEY, 200, given)
    assert pacer.limit(KEY) == expect


def test_the_pacers_lock_is_new_in_a_forked_child():
    pacer = Pacer(clock=Clock())
    pacer.observe(KEY, 200, limits(10, 5, 5))
    held = pacer._lock
    held.acquire()  # as if another thread held it when the process forked
    try:
        pacer._after_fork_in_child()
        assert pacer._lock is not held and pacer.delay(KEY) == 0.0  # usable at once
        assert pacer.limit(KEY) == (10.0, 5.0)  # what was learned is kept
    finally:
        held.release()


# ---------------------------------------------------------------------- merged limits, exactly
def test_calls_that_waited_for_a_first_answer_make_its_endpoint_count_as_in_use():
    clock = Clock()
    pacer = _Pacer(clock=clock, initial_share=0.25, probe_wait=0.01)
    a, b = ("GET", "api.example", "/a"), ("GET", "api.example", "/b")
    login = ("POST", "api.example", "/login")
    assert pacer.take(login) == (0.0, True)     # alone: nobody waited for it
    pacer.observe(login, 200, limits(40, 10, 9))
    assert pacer.take(a) == (0.0, True)         # the first call to /a goes...
    with ThreadPoolExecutor(1) as pool:         # ...another came meanwhile (and gave up)
        assert pool.submit(pacer.take, a).result(5) == (0.0, True)
    pacer.observe(a, 200, limits(40, 10, 8))    # /a's answer: merged with /login
    pacer.observe(b, 200, limits(40, 10, 7))    # /b: /a has calls waiting, /login none
    assert pacer.limit(b)[0] == 20.0            # /a's quarter + /b's, not /login's


def test_an_endpoint_used_exactly_one_round_ago_is_still_in_use():
    clock = Clock()
    pacer = _Pacer(clock=clock, initial_share=0.25, round_seconds=0.5)
    a, b = ("GET", "api.example", "/a"), ("GET", "api.example", "/b")
    pacer.observe(a, 200, limits(40, 10, 9))
    pacer.delay(a)
    clock.now += 0.5
    pacer.observe(b, 200, limits(40, 10, 7))
    assert pacer.limit(b)[0] == 20.0
    c = ("GET", "api.example", "/c")
    clock.now += 0.51  # nobody sent since: /c adds its quarter to the larger of theirs
    pacer.observe(c, 200, limits(40, 10, 5))
    assert pacer.limit(c)[0] == 20.0


def test_endpoints_merged_at_once_add_every_share_and_every_queued_call():
    clock = Clock()
    pacer = _Pacer(clock=clock, initial_share=0.25)
    a, b, c = (("GET", "api.example", p) for p in ("/a", "/b", "/c"))
    pacer.observe(a, 200, limits(40, 4, 3))     # fresh-looking: kept apart
    pacer.observe(b, 200, limits(40, 4, 3))
    for _ in range(3):                          # 1 token each, then 2 queued each
        pacer.delay(a)
        pacer.delay(b)
    pacer.observe(c, 200, limits(40, 4, 0))     # drawn on: all three are one limit
    assert pacer._buckets[a] is pacer._buckets[b] is pacer._buckets[c]
    assert pacer.limit(c)[0] == 30.0            # three quarters at once
    assert pacer.delay(c) == pytest.approx(5 / 30)  # behind the 2 + 2 queued calls


def test_a_long_wait_is_reported_once_a_minute_per_endpoint_within_a_bound():
    clock = Clock()
    pacer = _Pacer(clock=clock, max_endpoints=2)
    keys = [("GET", "api.example", f"/e{i}") for i in range(3)]
    assert pacer.report_due(keys[0]) is True
    clock.now += 59.9
    assert pacer.report_due(keys[0]) is False
    clock.now += 0.1  # a minute exactly, the default
    assert pacer.report_due(keys[0]) is True
    assert pacer.report_due(keys[0], every=0.0) is True
    for key in keys[1:]:
        assert pacer.report_due(key) is True
    assert len(pacer._reported) == 2  # the oldest is forgotten first


def test_spare_tokens_below_one_are_not_counted_as_queued_calls():
    clock = Clock()
    pacer = _Pacer(clock=clock, initial_share=0.25)
    a, b, c = (("GET", "api.example", p) for p in ("/a", "/b", "/c"))
    pacer.observe(a, 200, limits(40, 4, 0.5))   # half a token to spare
    pacer.observe(b, 200, limits(40, 4, 3))
    for _ in range(3):                          # b: 1 token, then 2 queued
        pacer.delay(b)
    pacer.observe(c, 200, limits(40, 4, 0))     # all three one limit, b's 2 queued
    assert pacer.limit(c)[0] == 20.0            # b's quarter and c's (a sent nothing)
    # a's half token is not a queued call: new calls line up behind b's two
    assert pacer.delay(c) == pytest.approx(3 / 20)
