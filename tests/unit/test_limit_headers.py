"""What an answer says about its rate limit (pcpi._limit_headers): read, made sane."""

from __future__ import annotations

import pytest

from pcpi._limit_headers import BURST, RATE, REMAINING, Limits, read_limits

from .._fakes import limit_headers as limits


def test_the_three_headers_are_read_as_numbers():
    assert read_limits(limits(10, 5, 2)) == Limits(10.0, 5.0, 2.0)
    assert read_limits(limits("2.5", "10", "9")) == Limits(2.5, 10.0, 9.0)


def test_an_answer_without_a_rate_announces_no_limit():
    assert read_limits({}) is None
    assert read_limits({BURST: "5", REMAINING: "5"}) is None


def test_a_missing_burst_is_one_call_and_a_missing_remaining_is_none_left():
    assert read_limits({RATE: "10"}) == Limits(10.0, 1.0, 0.0)


@pytest.mark.parametrize("given,expect", [
    (limits(1e9, 100_000, 1e9), Limits(100_000.0, 100_000.0, 100_000.0)),  # clamped
    (limits(0.5, 0, 0), Limits(0.5, 1.0, 0.0)),   # the slowest rate believed; one call at least
    (limits(10, 5, 9), Limits(10.0, 5.0, 5.0)),   # never more left than the burst
    (limits(10, 5, -3), Limits(10.0, 5.0, 0.0)),  # nor fewer than none
])
def test_values_are_clamped_to_sane_ranges(given, expect):
    assert read_limits(given) == expect


@pytest.mark.parametrize("rate", ["0.49", "1e-9", "0", "-5", "1e-300"])
def test_a_rate_below_half_a_call_a_second_is_not_believed(rate):
    assert read_limits(limits(rate, 5, 5)) is None


@pytest.mark.parametrize("burst", ["100001", "1e308", "1e9"])
def test_a_burst_above_100_000_calls_is_not_believed(burst):
    # (with Remaining 0 it would hold an endpoint at a 64th of its rate)
    assert read_limits(limits(10, burst, 0)) is None


@pytest.mark.parametrize("bad", [limits("nan", 1, 0), limits("inf", 1, 0), limits(10, "nan", 0),
                                 limits(10, 1, "-inf"), limits("ten", 1, 0),
                                 limits(10, "five", 0)])
def test_values_that_are_not_finite_numbers_are_ignored(bad):
    assert read_limits(bad) is None


def test_empty_values_are_taken_as_not_said():
    assert read_limits(limits(10, "", "")) == Limits(10.0, 1.0, 0.0)
