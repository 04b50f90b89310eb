"""Network-free tests of pcpi._pacing written against mutmut's survivors: identifier
segments of five characters, what a refused policy names, the squeeze held between
one and two calls left, calls queued behind an answered one, late answers and the
send times kept for them, first answers without headers (a bare 429, a forgotten
endpoint), and what a call finds when the pacer changed while it took the lock."""

from __future__ import annotations

import math
import threading

import pytest

from pcpi import Pacer, PacingPolicy
from pcpi._pacing import endpoint_key

from .._fakes import Clock, limit_headers, names

KEY = ("GET", "api.example", "/cloud")
OTHER = ("GET", "api.example", "/other")


class _Meanwhile:
    """Stands for the pacer's lock: the first time it is taken, ``action`` runs just
    before (``after=False``) or just after it is let go (``after=True``): what another
    thread could do in between."""

    def __init__(self, action, after: bool) -> None:
        self.lock, self.action, self.after = threading.Lock(), action, after

    def _run(self, now: bool) -> None:
        if now and self.action is not None:
            action, self.action = self.action, None
            action()

    def __enter__(self):
        self._run(not self.after)
        return self.lock.__enter__()

    def __exit__(self, *exc):
        self.lock.__exit__(*exc)
        self._run(self.after)
        return False


def meanwhile(pacer: Pacer, action, after: bool = False) -> None:
    pacer._lock = _Meanwhile(action, after)


def in_thread(fn):
    """``fn()`` started on a daemon thread: (the thread, the list its result lands in)."""
    got: list = []
    t = threading.Thread(target=lambda: got.append(fn()), daemon=True)
    t.start()
    return t, got


# ---------------------------------------------------------------------- keys and options
def test_a_five_character_segment_with_a_digit_is_an_identifier():
    assert endpoint_key("GET", "https://a/cloud/ab345")[2] == "/cloud/{}"
    assert endpoint_key("GET", "https://a/cloud/ab34")[2] == "/cloud/ab34"


@pytest.mark.parametrize("options,option", [
    (dict(max_wait=0), "max_wait"), (dict(probe_wait=-1), "probe_wait"),
    (dict(round_seconds=0), "round_seconds"), (dict(max_endpoints=0), "max_endpoints"),
])
def test_a_refused_policy_names_itself_and_the_option(options, option):
    with pytest.raises(ValueError) as info:
        PacingPolicy(**options)
    names(info.value, "PacingPolicy", option)


# ---------------------------------------------------------------------- following headers
def test_the_squeeze_holds_at_two_left_and_recovers_above():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limit_headers(40, 10, 0))
    clock.now += 2
    pacer.observe(KEY, 200, limit_headers(40, 10, 0))  # squeezed by e**-2
    clock.now += 100
    pacer.observe(KEY, 200, limit_headers(40, 10, 2))  # two left: neither slows nor recovers
    assert pacer.limit(KEY)[0] == pytest.approx(40 * math.exp(-3 * 6 / 10) * math.exp(-2))
    clock.now += 100
    pacer.observe(KEY, 200, limit_headers(40, 10, 3))  # more than two: recovered
    assert pacer.limit(KEY)[0] == pytest.approx(40 * math.exp(-3 * 5 / 10))


def test_a_call_answered_counts_only_the_calls_after_it_not_itself():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limit_headers(8, 10, 9))
    for _ in range(64):  # a second of answers saying 9 left: the whole rate, a full bucket
        clock.now += 1 / 64
        pacer.observe(KEY, 200, limit_headers(8, 10, 9))
    asked = clock.now
    assert pacer.take(KEY) == (0.0, True)  # the call to be answered
    clock.now += 0.25
    assert [pacer.take(KEY) for _ in range(3)] == [(0.0, True)] * 3  # three after it
    pacer.observe(KEY, 200, limit_headers(8, 10, 8), sent_at=asked)
    assert [round(pacer.take(KEY)[0], 4) for _ in range(6)] == [0.0] * 5 + [0.125]


def test_a_queued_call_counts_from_when_it_is_due_to_leave():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limit_headers(8, 10, 9))
    for _ in range(64):
        clock.now += 1 / 64
        pacer.observe(KEY, 200, limit_headers(8, 10, 9))
    start = clock.now  # nine tokens, then the calls queue an eighth of a second apart
    assert [pacer.take(KEY) for _ in range(11)] == [(0.0, True)] * 9 + [
        (0.125, True), (0.25, True)]
    clock.now = start + 0.5
    # the answer to the call that left at +0.125: the one due at +0.25 has left since
    pacer.observe(KEY, 200, limit_headers(8, 10, 2), sent_at=start + 0.125)
    assert pacer.take(KEY) == (0.0, True)  # of the two left, that call took one
    assert pacer.take(KEY) != (0.0, True)


# ---------------------------------------------------------------------- late answers
def _seeded_calls(clock, pacer, spans):
    """The seeded burst goes out: ``(seconds after the first, calls)`` per span; the
    first call leaves first, alone.  The first call's send time."""
    pacer.seed(KEY, 1.0, 4096.0)
    first = clock.now
    assert pacer.take(KEY) == (0.0, True)
    for after, calls in spans:
        clock.now = first + after
        assert [pacer.take(KEY) for _ in range(calls)] == [(0.0, True)] * calls
    return first


@pytest.mark.parametrize("late", [4.0, 10.0])
def test_a_late_answer_still_counts_the_calls_sent_after_it(late):
    clock = Clock()
    pacer = Pacer(clock=clock)
    first = _seeded_calls(clock, pacer, [(1.0, 10), (late, 1)])
    clock.now = first + late + 0.5
    # 11 left when the first call was counted, and our 11 after it take them all
    pacer.observe(KEY, 200, limit_headers(1, 30, 11), sent_at=first)
    assert pacer.take(KEY) != (0.0, True)


def test_once_the_oldest_is_over_10_s_old_only_the_last_2_s_of_calls_are_counted():
    clock = Clock()
    pacer = Pacer(clock=clock)
    first = _seeded_calls(clock, pacer, [(1.0, 10), (8.0, 5), (10.5, 1)])
    clock.now = first + 11
    # 6 left when the first call was counted; of our 16 calls after it only the last
    # (at +10.5) is still counted: the five at +8, over 2 s old, are forgotten
    pacer.observe(KEY, 200, limit_headers(1, 30, 6), sent_at=first)
    assert pacer.take(KEY) == (0.0, True)


def test_2048_send_times_are_kept_whatever_their_age():
    clock = Clock()
    pacer = Pacer(clock=clock)
    first = _seeded_calls(clock, pacer, [(1.0, 2046), (4.0, 1)])  # 2048 in all
    clock.now = first + 4.5
    # half the burst left when the first call was counted: ours after it take all but one
    pacer.observe(KEY, 200, limit_headers(1, 4096, 2048), sent_at=first)
    assert pacer.take(KEY) == (0.0, True)
    assert pacer.take(KEY) != (0.0, True)


# ---------------------------------------------------------------------- first answers
def test_a_bare_429_as_the_first_answer_leaves_the_endpoint_unpaced():
    pacer = Pacer(clock=Clock(), probe_wait=60)
    assert pacer.take(KEY) == (0.0, True)
    pacer.observe(KEY, 429, {})  # the retry loop's backoff decides this one
    assert pacer.take(KEY) == (0.0, True)
    t, got = in_thread(lambda: pacer.take(KEY))  # not held for another first answer
    t.join(5)
    pacer.release(KEY)
    assert got == [(0.0, True)] and not pacer.governs(KEY)


@pytest.mark.parametrize("headers", [{}, limit_headers(40, 8, 7)])
def test_a_first_answer_lets_the_call_waiting_for_it_go(headers):
    pacer = Pacer(clock=Clock(), probe_wait=60)
    assert pacer.take(KEY) == (0.0, True)  # the first call
    # the second call finds it out; its answer lands as the second starts to wait
    meanwhile(pacer, lambda: pacer.observe(KEY, 200, headers), after=True)
    t, got = in_thread(lambda: pacer.take(KEY))
    t.join(5)
    pacer.release(KEY)
    assert got == [(0.0, True)]


def test_a_call_that_waited_for_the_first_answer_is_paced_by_it():
    pacer = Pacer(clock=Clock(), probe_wait=5)
    assert pacer.take(KEY) == (0.0, True)
    meanwhile(pacer, lambda: pacer.observe(KEY, 200, limit_headers(40, 8, 0)), after=True)
    assert pacer.take(KEY) == (0.05, False)  # no token: asks again a turn later


def test_a_forgotten_endpoint_is_learned_again_from_a_first_call_alone():
    pacer = Pacer(clock=Clock(), probe_wait=60, max_endpoints=1)
    pacer.seed(KEY, 10, 5)
    pacer.observe(KEY, 200, {})  # an answer without headers: still the seeded limit
    pacer.observe(OTHER, 200, limit_headers(10, 5, 4))  # KEY forgotten
    assert pacer.limit(KEY) is None
    assert pacer.take(KEY) == (0.0, True)  # the first call again
    t, got = in_thread(lambda: pacer.take(KEY))
    t.join(0.2)
    held = list(got)
    pacer.observe(KEY, 200, limit_headers(40, 8, 7))
    t.join(5)
    assert held == [] and got == [(0.0, True)]


# ---------------------------------------------------------------------- races
def test_a_call_whose_endpoint_is_forgotten_as_it_takes_the_lock_goes_at_once():
    pacer = Pacer(clock=Clock(), max_endpoints=1)
    pacer.observe(KEY, 200, limit_headers(40, 8, 0))
    meanwhile(pacer, lambda: pacer.observe(OTHER, 200, limit_headers(10, 5, 4)))
    assert pacer.take(KEY) == (0.0, True)
    assert pacer.limit(KEY) is None


def test_a_seed_never_replaces_a_limit_announced_meanwhile():
    pacer = Pacer(clock=Clock())
    meanwhile(pacer, lambda: pacer.observe(KEY, 200, limit_headers(40, 8, 7)))
    pacer.seed(KEY, 1, 30)
    assert pacer.governs(KEY) is True
    assert pacer.limit(KEY)[0] == pytest.approx(40 * math.exp(-3 * 2 / 8))


def test_a_seeded_limit_does_not_govern():
    pacer = Pacer(clock=Clock())
    pacer.seed(KEY, 1, 30)
    assert pacer.governs(KEY) is False
