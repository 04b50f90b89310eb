"""The client-side token bucket's arithmetic (pcpi._bucket): times given, no clock.
Times and rates are binary fractions so that boundaries are exact."""

from __future__ import annotations

import math

import pytest

from pcpi._bucket import TokenBucket


def waits(bucket: TokenBucket, n: int, now: float = 0.0, horizon: float = math.inf):
    return [bucket.reserve(now, horizon) for _ in range(n)]


def test_tokens_in_hand_go_at_once_then_callers_queue_at_the_rate():
    bucket = TokenBucket(rate=4.0, capacity=2.0, tokens=2.0, now=0.0)
    assert waits(bucket, 5) == [(0.0, True), (0.0, True), (0.25, True), (0.5, True),
                                (0.75, True)]
    assert bucket.tokens == -3.0  # three calls queued


def test_the_bucket_refills_at_its_rate_up_to_its_capacity_only():
    bucket = TokenBucket(rate=4.0, capacity=2.0, tokens=0.0, now=0.0)
    bucket.refill(0.25)
    assert bucket.tokens == 1.0
    bucket.refill(100.0)
    assert bucket.tokens == 2.0
    bucket.refill(50.0)  # a clock read late by another thread: nothing goes back
    assert (bucket.tokens, bucket.stamp) == (2.0, 100.0)


def test_a_caller_that_finds_part_of_a_token_waits_for_the_rest_only():
    bucket = TokenBucket(rate=4.0, capacity=1.0, tokens=0.5, now=0.0)
    assert bucket.reserve(0.0, math.inf) == (0.125, True)


def test_no_token_is_held_further_ahead_than_the_horizon():
    bucket = TokenBucket(rate=4.0, capacity=1.0, tokens=0.0, now=0.0)
    got = waits(bucket, 4, horizon=0.5)
    assert got == [(0.25, True), (0.5, True), (0.5, False), (0.5, False)]
    assert bucket.tokens == -2.0  # the callers told to ask again hold nothing
    assert bucket.reserve(0.25, 0.5) == (0.5, True)  # the queue moved on


def test_calls_queued_before_a_rate_change_keep_their_times_and_new_ones_follow():
    faster = TokenBucket(rate=1.0, capacity=1.0, tokens=0.0, now=0.0)
    assert [w for w, _ in waits(faster, 3)] == [1.0, 2.0, 3.0]
    faster.set_rate(2.0, 1.0)  # the queue still ends at 3 s
    assert [w for w, _ in waits(faster, 2)] == [3.5, 4.0]

    slower = TokenBucket(rate=4.0, capacity=1.0, tokens=0.0, now=0.0)
    assert [w for w, _ in waits(slower, 4)] == [0.25, 0.5, 0.75, 1.0]
    slower.set_rate(2.0, 1.0)
    assert [w for w, _ in waits(slower, 1)] == [1.5]


def test_tokens_in_hand_are_not_multiplied_by_a_rate_change_but_cut_to_the_capacity():
    bucket = TokenBucket(rate=8.0, capacity=4.0, tokens=4.0, now=0.0)
    bucket.set_rate(16.0, 4.0)
    assert bucket.tokens == 4.0
    bucket.set_rate(16.0, 1.0)
    assert bucket.tokens == 1.0
    part = TokenBucket(rate=8.0, capacity=1.0, tokens=0.5, now=0.0)
    part.set_rate(16.0, 1.0)
    assert part.reserve(0.0, math.inf) == (1 / 32, True)  # the other half, at the new rate


def test_at_most_lowers_the_count_and_never_raises_it():
    bucket = TokenBucket(rate=1.0, capacity=8.0, tokens=8.0, now=0.0)
    bucket.at_most(3.0, 0.0)
    assert bucket.tokens == 3.0
    bucket.at_most(6.0, 0.0)
    assert bucket.tokens == 3.0
    bucket.reserve(0.0, math.inf)
    bucket.at_most(8.0, 1.0)  # refilled first: one token back
    assert bucket.tokens == 3.0


def test_a_hold_empties_the_bucket_and_no_token_accrues_before_it_ends():
    bucket = TokenBucket(rate=2.0, capacity=4.0, tokens=4.0, now=0.0)
    bucket.hold(3.0, 0.0)
    assert bucket.tokens == 0.0
    bucket.refill(2.5)
    assert bucket.tokens == 0.0
    assert bucket.reserve(2.5, 1.0) == (1.0, True)  # the hold's last half second, then a token
    bucket.refill(4.0)
    assert bucket.tokens == 1.0  # one second of refill after the hold, less the call queued


def test_callers_further_from_a_hold_than_the_horizon_come_back_as_it_ends():
    bucket = TokenBucket(rate=2.0, capacity=4.0, tokens=4.0, now=0.0)
    bucket.hold(30.0, 0.0)
    assert bucket.reserve(0.0, 0.5) == (29.5, False)
    assert bucket.reserve(29.0, 0.5) == (0.5, False)  # (still further than 0.5 s)
    assert bucket.reserve(29.5, 0.5) == (1.0, True)
    assert bucket.reserve(29.9, 0.5) == (0.5, False)  # the queue reaches past the horizon


def test_a_shorter_hold_never_shortens_a_longer_one():
    bucket = TokenBucket(rate=1.0, capacity=1.0, tokens=1.0, now=0.0)
    bucket.hold(10.0, 0.0)
    bucket.hold(5.0, 1.0)
    assert bucket.held_until == 10.0


@pytest.mark.parametrize("tokens", [-3.0, 0.0, 0.5])
def test_a_wait_is_never_negative(tokens):
    bucket = TokenBucket(rate=4.0, capacity=1.0, tokens=tokens, now=0.0)
    wait, taken = bucket.reserve(10.0, math.inf)  # long refilled
    assert (wait, taken) == (0.0, True)
