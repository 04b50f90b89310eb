"""Edges of the policy modules that mutation testing found unasserted (issue 21):
``100 Continue`` answers count against the bound on interim answers like any
other 1xx (pcpi._interim), and a 429 resent on the pacer's turn is decided as
such, so the retry loop says it waits for the rate limit's next turn rather
than "0.0 seconds" (pcpi._retry)."""

from __future__ import annotations

import http.client
import io

import pytest

from pcpi._interim import MAX_INTERIM, FinalResponse, TooManyInterim
from pcpi._retry import PACED, RETRY, CallRules, Progress, decide

from .._fakes import quiet_policy

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
FINAL = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class _Wire:
    """What http.client reads an answer from: the bytes a server sent, in memory."""

    def __init__(self, wire: bytes):
        self.file = io.BytesIO(wire)

    def makefile(self, mode):
        return self.file


def _answer(wire: bytes) -> http.client.HTTPResponse:
    res = FinalResponse(_Wire(wire), method="GET")
    res.begin()
    return res


def test_as_many_100_continue_answers_as_allowed_are_read_past():
    res = _answer(CONTINUE * MAX_INTERIM + FINAL)
    assert (res.status, res.read()) == (200, b"ok")


@pytest.mark.parametrize("wire", [
    CONTINUE * (MAX_INTERIM + 1) + FINAL,
    b"HTTP/1.1 103 Early Hints\r\n\r\n" * (MAX_INTERIM - 1) + CONTINUE * 2 + FINAL,
], ids=["continues", "hints-then-continues"])
def test_100_continue_answers_count_against_the_bound_on_interim_answers(wire):
    # http.client would skip 100s by itself for ever: a server could hold the call
    with pytest.raises(TooManyInterim):
        _answer(wire)


def test_a_429_resent_on_the_pacers_turn_is_decided_as_paced():
    rules = CallRules(policy=quiet_policy(), safe=True)
    paced = decide(rules, Progress(), status=429, headers={}, paced=True)
    assert (paced.action, paced.delay, paced.why) == (RETRY, 0.0, PACED)
    own = decide(rules, Progress(), status=429, headers={})  # not paced: the loop's backoff
    assert (own.action, own.delay) == (RETRY, 1.0) and own.why != PACED


def test_a_slow_backoff_keeps_growing_to_its_maximum_however_many_retries():
    # (the exponent was capped at 1024: 1.0001 ** 1024 is 1.11, so the schedule froze
    # far below its maximum)
    from pcpi import Backoff

    slow = Backoff(initial=1.0, multiplier=1.0001, maximum=32.0, jitter=0)
    assert slow.delay(5000) == pytest.approx(1.0001 ** 4999)
    assert slow.delay(10**6) == 32.0 and slow.delay(10**12) == 32.0
