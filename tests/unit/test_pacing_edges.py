"""Edges of client-side pacing (pcpi._pacing) that the main unit tests leave open:
boundaries of the rounds and of the merge of shared limits, the send-rate meter,
the CUBIC curve of the bare-429 fallback, the documented defaults.  Fake clock,
no sockets, no waiting.  Times are binary fractions so that boundaries are exact."""

from __future__ import annotations

import threading

import pytest

from pcpi import Pacer as _Pacer
from pcpi._pacing import endpoint_key

from .test_pacing import KEY, Clock, Pacer, limits

A, B = ("GET", "api.example", "/a"), ("GET", "api.example", "/b")


def rate(pacer, key=KEY):
    return pacer.limit(key)[0]


def answer(pacer, clock, status=200, rate=40, burst=10, remaining=0, key=KEY, sent_at="now"):
    """One answer to a paced call sent just now (``sent_at=None``: send time unknown)."""
    pacer.observe(key, status, limits(rate, burst, 0 if status == 429 else remaining),
                  sent_at=clock.now if sent_at == "now" else sent_at)


def waits(pacer, n, key=KEY):
    return [round(pacer.delay(key), 4) for _ in range(n)]


# ---------------------------------------------------------------------- endpoint keys
def test_segments_of_four_characters_are_kept_and_five_with_a_digit_are_identifiers():
    assert endpoint_key("GET", "https://a/api/v1.2/ab34")[2] == "/api/v1.2/ab34"
    assert endpoint_key("GET", "https://a/cloud/12345")[2] == "/cloud/{}"
    assert endpoint_key("GET", "https://a/cloud/abcde")[2] == "/cloud/abcde"  # no digit


def test_a_url_without_a_path_is_the_root_endpoint():
    assert endpoint_key("get", "https://API.example") == ("GET", "api.example", "/") == \
        endpoint_key("GET", "https://api.example/")


# ---------------------------------------------------------------------- the bucket
def test_a_caller_that_finds_a_token_never_gets_a_negative_wait():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(10, 5, 0))
    clock.now += 0.15  # one and a half tokens back
    assert pacer.take(KEY) == (0.0, True)
    assert waits(pacer, 2) == [0.05, 0.15]


def test_calls_queued_before_a_rate_change_keep_their_times_and_new_ones_follow():
    clock = Clock()
    pacer = Pacer(clock=clock, shared_limits=False)
    pacer.observe(KEY, 200, limits(1, 1, 0))
    assert waits(pacer, 3) == [1.0, 2.0, 3.0]
    pacer.observe(KEY, 200, limits(2, 1, 0))  # faster: the queue still ends at 3 s
    assert waits(pacer, 2) == [3.5, 4.0]

    slower = Pacer(clock=clock, shared_limits=False)
    slower.observe(KEY, 200, limits(4, 1, 0))
    assert waits(slower, 4) == [0.25, 0.5, 0.75, 1.0]
    slower.observe(KEY, 200, limits(2, 1, 0))
    assert waits(slower, 1) == [1.5]


def test_tokens_in_hand_are_not_multiplied_by_a_rate_change():
    clock = Clock()
    pacer = Pacer(clock=clock, shared_limits=False)
    pacer.observe(KEY, 200, limits(10, 5, 5))
    pacer.observe(KEY, 200, limits(20, 5, 5))
    assert waits(pacer, 6) == [0.0] * 5 + [0.05]

    part = Pacer(clock=clock, shared_limits=False)
    part.observe(KEY, 200, limits(10, 1, 0))
    clock.now += 0.05  # half a token
    part.observe(KEY, 200, limits(20, 1, 1))
    assert waits(part, 1) == [0.025]  # the other half, at the new rate


# ---------------------------------------------------------------------- following headers
def test_a_429_empties_the_bucket_even_when_its_headers_show_tokens_left():
    clock = Clock()
    pacer = Pacer(clock=clock, shared_limits=False)
    pacer.observe(KEY, 200, limits(10, 5, 5))
    pacer.observe(KEY, 429, limits(10, 5, 3))
    assert waits(pacer, 1) == [0.1]


def test_without_shared_limits_a_new_limit_is_followed_in_full_at_once():
    pacer = _Pacer(clock=Clock(), shared_limits=False)  # initial_share stays a quarter
    pacer.observe(KEY, 200, limits(40, 8, 7))
    assert pacer.limit(KEY) == (40.0, 8.0)
    assert waits(pacer, 8) == [0.0] * 7 + [0.025]


def test_a_shared_limit_starts_with_one_token_even_when_its_share_of_the_burst_is_less():
    pacer = _Pacer(clock=Clock())
    pacer.observe(KEY, 200, limits(40, 2, 2))  # a quarter of a burst of 2: half a token
    assert waits(pacer, 2) == [0.0, 0.1]


def test_slow_start_doubles_once_per_quarter_round_not_on_every_answer():
    clock = Clock()
    pacer = _Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(40, 8, 7))
    answer(pacer, clock, burst=8, remaining=8)
    assert rate(pacer) == 10.0  # answered at once: the round has not begun
    clock.now += 7 / 64  # less than a quarter of the 0.5 s round
    answer(pacer, clock, burst=8, remaining=8)
    assert rate(pacer) == 10.0
    clock.now += 1 / 64  # a quarter round, exactly
    answer(pacer, clock, burst=8, remaining=8)
    assert rate(pacer) == 20.0


def test_without_shared_limits_endpoints_drawn_on_keep_their_own_buckets():
    pacer = Pacer(clock=Clock(), shared_limits=False)
    pacer.observe(A, 200, limits(20, 10, 9))
    pacer.observe(B, 200, limits(20, 10, 3))
    assert waits(pacer, 9, A) == [0.0] * 9
    assert waits(pacer, 3, B) == [0.0] * 3


def test_endpoints_whose_first_answers_look_fresh_keep_their_own_buckets():
    pacer = Pacer(clock=Clock())
    pacer.observe(A, 200, limits(20, 10, 9))  # burst - 1 left: the first call's own token
    pacer.observe(B, 200, limits(20, 10, 9))
    assert waits(pacer, 9, A) == [0.0] * 9
    assert waits(pacer, 9, B) == [0.0] * 9


def test_an_endpoint_found_two_below_its_burst_joins_the_limit_it_matches():
    pacer = Pacer(clock=Clock(), probe_wait=0)  # (a lost bucket fails fast, not in 10 s)
    pacer.observe(A, 200, limits(20, 10, 9))
    pacer.observe(B, 200, limits(20, 10, 8))  # one more than its own call: drawn on
    assert waits(pacer, 4, A) + waits(pacer, 5, B) == [0.0] * 8 + [0.05]


# ---------------------------------------------------------------------- merged limits
def _merged(pacer, clock):
    pacer.observe(A, 200, limits(20, 10, 9))
    pacer.observe(B, 200, limits(20, 10, 9))
    answer(pacer, clock, 429, rate=20, key=B)  # the same limit: merged, not cut
    assert pacer.limit(A) == pacer.limit(B) == (20.0, 10.0)


def test_refusals_of_calls_queued_before_a_merge_do_not_cut_the_share():
    clock = Clock()
    pacer = Pacer(clock=clock)
    _merged(pacer, clock)
    for key in (A, B, A):  # sent before the merge (or with it)
        answer(pacer, clock, 429, rate=20, key=key)
    clock.now += 0.5
    answer(pacer, clock, rate=20, key=A)  # the round after the merge: nothing refused
    assert rate(pacer, A) == rate(pacer, B) == 20.0


def test_after_a_merge_a_round_lasts_round_seconds_even_from_a_whole_share():
    clock = Clock()
    pacer = Pacer(clock=clock)  # initial_share 1: no slow start
    _merged(pacer, clock)
    clock.now += 0.5
    answer(pacer, clock, rate=20, key=A)  # closes the round of the merge
    clock.now += 0.125
    answer(pacer, clock, 429, rate=20, key=B)
    clock.now += 0.125
    answer(pacer, clock, rate=20, key=A)
    assert rate(pacer, A) == 20.0  # judged at the end of the round only
    clock.now += 0.25
    answer(pacer, clock, rate=20, key=A)
    assert rate(pacer, A) == pytest.approx(20 * 0.95 * 2 / 3)


# ---------------------------------------------------------------------- rounds
def _halved(pacer, clock, rate=40):
    """A first refusal at 100 s halves the share; the answer at 100.5 s closes that round."""
    pacer.observe(KEY, 200, limits(rate, 10, 10))
    answer(pacer, clock, 429, rate=rate)
    assert pacer.limit(KEY)[0] == rate / 2
    clock.now += 0.5
    answer(pacer, clock, rate=rate)
    assert pacer.limit(KEY)[0] == rate / 2


def test_every_refusal_in_a_round_counts():
    clock = Clock()
    pacer = Pacer(clock=clock)
    _halved(pacer, clock)
    clock.now += 0.125
    for status in (200, 429, 429, 200, 200):
        answer(pacer, clock, status)
    clock.now += 0.375
    answer(pacer, clock)  # 4 of 6 taken
    assert rate(pacer) == pytest.approx(20 * 0.95 * 4 / 6)


def test_a_refusal_one_round_after_the_cut_is_counted_in_its_round_not_taken_as_new():
    clock = Clock()
    pacer = Pacer(clock=clock)
    _halved(pacer, clock)
    for _ in range(3):
        clock.now += 0.125
        answer(pacer, clock)
    clock.now += 0.125  # 101.0: the queue of the cut (until 100.5) is a round old
    answer(pacer, clock, 429)  # 3 of 4 taken, not another halving
    assert rate(pacer) == pytest.approx(20 * 0.95 * 3 / 4)


def test_answers_without_a_send_time_count_from_the_cut_on():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(40, 10, 10))
    answer(pacer, clock, 429, sent_at=None)  # halved: a new round begins
    clock.now += 0.25
    for status in (200, 200, 429):
        answer(pacer, clock, status, sent_at=None)
    clock.now += 0.25
    answer(pacer, clock, sent_at=None)  # 3 of 4 taken
    assert rate(pacer) == pytest.approx(20 * 0.95 * 3 / 4)

    merged_clock = Clock()
    merged = Pacer(clock=merged_clock)
    _merged(merged, merged_clock)
    merged_clock.now += 0.25
    for key, status in ((A, 200), (B, 200), (A, 429)):
        answer(merged, merged_clock, status, rate=20, key=key, sent_at=None)
    merged_clock.now += 0.25
    answer(merged, merged_clock, rate=20, key=B, sent_at=None)
    assert rate(merged, A) == pytest.approx(20 * 0.95 * 3 / 4)


def test_the_share_grows_with_half_the_burst_spare_and_not_with_less():
    clock = Clock()
    pacer = Pacer(clock=clock)  # share_growth 0.05 a second
    pacer.observe(KEY, 200, limits(40, 10, 10))
    answer(pacer, clock, 429)
    clock.now += 0.5
    answer(pacer, clock, remaining=5)  # exactly half the burst
    assert rate(pacer) == pytest.approx(40 * (0.5 + 0.05 * 0.5))
    grown = rate(pacer)
    clock.now += 0.5
    answer(pacer, clock, remaining=4)
    assert rate(pacer) == grown


def test_by_default_the_share_falls_to_a_64th_at_most():
    clock = Clock()
    pacer = _Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(64, 10, 9))
    for _ in range(20):
        clock.now += 1.0
        answer(pacer, clock, 429, rate=64)
    assert rate(pacer) == 1.0


# ---------------------------------------------------------------------- bare 429s
def _calls(pacer, clock, times):
    for t in times:
        clock.now = t
        pacer.observe(KEY, 200, {})


def test_a_bare_429_paces_at_beta_times_the_rate_of_the_last_half_second_window():
    clock = Clock()
    pacer = Pacer(clock=clock)
    _calls(pacer, clock, [100.0, 100.25, 100.5])  # 3 calls in the first half second
    pacer.observe(KEY, 429, {})
    assert pacer.limit(KEY) == (pytest.approx(0.7 * 6), 1.0)


def test_the_measured_rate_is_smoothed_over_windows():
    clock = Clock()
    pacer = Pacer(clock=clock)
    _calls(pacer, clock, [100.0, 100.5, 100.625, 100.75, 100.875, 101.0])  # 4/s, then 8/s
    pacer.observe(KEY, 429, {})
    assert rate(pacer) == pytest.approx(0.7 * (0.8 * 8 + 0.2 * 4))


def test_a_bare_429_leaves_no_token_for_the_next_call():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 429, {})  # one call in a second, times beta: 0.7/s
    assert pacer.delay(KEY) == pytest.approx(1 / 0.7)

    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 429, {})
    clock.now += 10  # a token back
    pacer.observe(KEY, 429, {})  # ... that this refusal takes back; min_rate 0.5/s
    assert pacer.limit(KEY) == (0.5, 1.0)
    assert pacer.delay(KEY) == 2.0


def test_a_second_bare_429_cuts_from_the_measured_rate_when_calls_slowed_below_the_pace():
    clock = Clock()
    pacer = Pacer(clock=clock)
    _calls(pacer, clock, [100 + i / 64 for i in range(65)])  # 64 calls a second
    pacer.observe(KEY, 429, {})
    _calls(pacer, clock, [clock.now + i / 8 for i in range(1, 41)])  # then 8 a second
    assert 8 < rate(pacer) <= 2 * 8.5  # the pace is above the calls made
    pacer.observe(KEY, 429, {})
    assert rate(pacer) == pytest.approx(0.7 * 8, rel=0.05)


def test_after_a_bare_429_the_pace_follows_botocores_cubic_curve():
    """rate(t) = C (t - K)^3 + W, K = cbrt(W (1 - beta) / C): beta W at once, W again
    after K seconds, above it after (W: the rate measured before the 429)."""
    clock = Clock()
    pacer = Pacer(clock=clock)
    _calls(pacer, clock, [100 + i / 64 for i in range(129)])  # 64 calls a second
    pacer.observe(KEY, 429, {})
    w = rate(pacer) / 0.7
    assert w == pytest.approx(64, rel=0.05)
    k = (w * 0.3 / 0.4) ** (1 / 3)
    start = clock.now
    seen = {}
    for i in range(1, 64 * 7):  # calls go on at 64 a second
        _calls(pacer, clock, [start + i / 64])
        seen[i / 64] = rate(pacer)
    for t in (0.25, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0):
        assert seen[t] == pytest.approx(0.4 * (t - k) ** 3 + w, rel=0.01), t


# ---------------------------------------------------------------------- defaults and fork
def test_by_default_no_wait_is_longer_than_two_minutes():
    pacer = _Pacer(clock=Clock(), shared_limits=False)
    pacer.observe(KEY, 200, limits(0.5, 1, 0))  # the slowest rate believed: one in 2 s
    got = waits(pacer, 62)
    assert got[:2] == [2.0, 4.0] and got[59] == 120.0 and got[60:] == [120.0, 120.0]


def test_by_default_1024_endpoints_are_tracked():
    pacer = _Pacer(clock=Clock())
    keys = [("GET", "h", f"/{n}") for n in range(1025)]
    for n, key in enumerate(keys):
        pacer.observe(key, 200, limits(n + 1, 1, 1))
    assert pacer.limit(keys[0]) is None
    assert pacer.limit(keys[1]) is not None and pacer.limit(keys[-1]) is not None


def test_by_default_a_first_answer_is_waited_for_ten_seconds_at_most():
    assert _Pacer().probe_wait == 10.0


def test_a_first_call_in_flight_at_fork_time_does_not_hold_up_the_child():
    pacer = Pacer(clock=Clock(), probe_wait=30)
    assert pacer.delay(KEY) == 0.0  # the parent's first call, still unanswered
    pacer._after_fork_in_child()
    got = []
    child = threading.Thread(target=lambda: got.append(pacer.delay(KEY)), daemon=True)
    child.start()
    child.join(5)
    assert got == [0.0]  # the child's own first call, at once
    pacer.observe(KEY, 200, limits(10, 5, 4))
    assert pacer.limit(KEY) == (10.0, 5.0)


def test_a_short_max_wait_is_accepted_and_bounds_every_wait():
    pacer = Pacer(clock=Clock(), max_wait=0.5)
    pacer.observe(KEY, 200, limits(1, 1, 0))
    assert waits(pacer, 2) == [0.5, 0.5]


# ---------------------------------------------------------------------- headers read
def test_an_answer_without_remaining_is_taken_as_none_left():
    pacer = Pacer(clock=Clock())
    pacer.observe(KEY, 200, {"X-RateLimit-Replenish-Rate": "10",
                             "X-RateLimit-Burst-Capacity": "5"})
    assert waits(pacer, 1) == [0.1]


# ---------------------------------------------------------------------- first answers, locks
def test_the_callers_held_for_a_first_answer_leave_as_soon_as_it_comes():
    pacer = Pacer(clock=Clock(), probe_wait=60)
    assert pacer.delay(KEY) == 0.0
    got = []
    held = threading.Thread(target=lambda: got.append(pacer.delay(KEY)), daemon=True)
    held.start()
    held.join(0.05)
    pacer.observe(KEY, 200, limits(10, 2, 1))
    held.join(5)
    assert got == [0.0]


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
    assert pacer.delay(KEY) == 0.0  # the first call
    pacer._lock = _AnswerLandsFirst(lambda: pacer.observe(KEY, 200, limits(10, 1, 0)))
    assert round(pacer.delay(KEY), 4) == 0.1  # not a second first call, unpaced


def test_an_unlimited_endpoint_is_measured_and_called_without_the_pacers_lock():
    pacer = Pacer(clock=Clock())
    pacer.observe(KEY, 200, {})
    done = []

    def calls():
        for _ in range(10):
            done.append(pacer.delay(KEY))
            pacer.observe(KEY, 200, {})

    with pacer._lock:  # as if another thread were queueing on a limited endpoint
        caller = threading.Thread(target=calls, daemon=True)
        caller.start()
        caller.join(5)
        assert done == [0.0] * 10


# ---------------------------------------------------------------------- options
BOUNDS = "max_wait must be positive, probe_wait not negative and max_endpoints at least 1"
SHARES = ("round_seconds must be positive, 0 < min_share <= initial_share <= 1 and "
          "share_growth not negative")


@pytest.mark.parametrize("options,message", [
    (dict(probe_wait=-1), BOUNDS), (dict(max_endpoints=-1), BOUNDS),
    (dict(round_seconds=0), SHARES), (dict(min_share=0), SHARES),
    (dict(initial_share=0.5, min_share=0.6), SHARES), (dict(initial_share=1.5), SHARES),
    (dict(share_growth=-0.01), SHARES),
])
def test_options_out_of_range_are_refused_with_the_rule_they_break(options, message):
    with pytest.raises(ValueError) as refused:
        _Pacer(**options)
    assert str(refused.value) == message


def test_the_smallest_bounds_are_accepted():
    clock = Clock()
    pacer = _Pacer(clock=clock, max_endpoints=1, probe_wait=0, round_seconds=0.001,
                   min_share=1, initial_share=1, share_growth=0)
    assert pacer.delay(KEY) == 0.0
    assert pacer.delay(KEY) == 0.0  # not held for the first answer
    pacer.observe(KEY, 200, limits(10, 5, 4))
    assert pacer.limit(KEY) == (10.0, 5.0)
    other = ("GET", "api.example", "/other")
    pacer.observe(other, 200, limits(20, 5, 4))
    assert pacer.limit(KEY) is None and pacer.limit(other) == (20.0, 5.0)  # one endpoint kept


def test_take_lets_a_first_call_and_an_unlimited_endpoint_go_at_once():
    pacer = Pacer(clock=Clock())
    assert pacer.take(KEY) == (0.0, True)  # the first call
    pacer.observe(KEY, 200, {})
    assert pacer.take(KEY) == (0.0, True)  # not limited


def test_a_failed_call_with_no_first_answer_pending_is_released_harmlessly():
    pacer = Pacer(clock=Clock())
    pacer.release(KEY)  # never called before
    assert pacer.delay(KEY) == 0.0
    pacer.release(KEY)  # the first call failed
    pacer.release(KEY)  # ... and so did a later one
    assert pacer.delay(KEY) == 0.0  # a first call again, alone
