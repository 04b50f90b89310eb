"""Edges of the retry decision (pcpi._retry) and of the throttle delay
(pcpi._policy) that the tables of test_decisions.py and test_policy.py leave
open: a call's own connection-retry limit, statuses the session adds to
retry_statuses, the connection backoff's jitter, answers without headers.
No sockets, no sleeping."""

from __future__ import annotations

import pytest
import requests

from pcpi import Backoff, RetryPolicy
from pcpi._retry import FAILED, RAISE, RETRY, RETURN, CallRules, Progress, decide

POLICY = RetryPolicy(backoff=Backoff(jitter=0.0),
                     server_error_backoff=Backoff(initial=0.25, jitter=0.0),
                     connection_backoff=Backoff(initial=0.5, maximum=4.0, jitter=0.0))
TIMEOUT = requests.exceptions.ReadTimeout("slow answer")


def rules(**kw) -> CallRules:
    kw.setdefault("policy", POLICY)
    kw.setdefault("safe", True)
    return CallRules(**kw)


@pytest.mark.parametrize("error,safe", [
    (requests.exceptions.SSLError("bad certificate"), True),
    (requests.exceptions.InvalidURL("no host"), True),
    (TIMEOUT, False),                      # may have been processed: not resent
])
def test_a_connection_failure_not_retried_is_raised_as_a_plain_failure(error, safe):
    # the retry loop adds "not retried: <why the body cannot be replayed>" to
    # its log line only for NOT_REPLAYABLE; these failures must not say that
    d = decide(rules(safe=safe), Progress(), error=error)
    assert (d.action, d.why) == (RAISE, FAILED)


@pytest.mark.parametrize("limit,failures_so_far,expect", [
    (2, 0, RETRY), (2, 1, RETRY), (2, 2, RAISE),
    (1, 0, RETRY), (1, 1, RAISE),
    (0, 0, RAISE),                         # max_retries=0: the first failure is final
    (10, 3, RAISE),                        # a larger limit does not lift the policy's 3
])
def test_a_calls_max_retries_bounds_its_connection_retries(limit, failures_so_far, expect):
    d = decide(rules(connection_retries=limit), Progress(conn_failures=failures_so_far),
               error=TIMEOUT)
    assert d.action == expect


@pytest.mark.parametrize("draw,expect", [(0.0, 2.0), (0.75, 0.5), (0.5, 1.0)])
def test_connection_retry_delays_are_fully_jittered(draw, expect):
    # third failure: 0.5 s doubling gives 2 s, of which the draw takes its share
    d = decide(rules(policy=RetryPolicy()), Progress(conn_failures=2), error=TIMEOUT,
               rand=lambda: draw)
    assert d.action == RETRY and d.delay == pytest.approx(expect)


def test_a_status_added_to_retry_statuses_is_backed_off_like_a_5xx():
    r = rules(also_backs_off=frozenset({408}))
    assert [decide(r, Progress(throttled=n), status=408).delay
            for n in range(4)] == [0.25, 0.5, 1.0, 2.0]
    assert decide(r, Progress(throttled=20), status=408).action == RETURN  # retries count


def test_a_401_without_a_token_to_renew_is_returned_even_if_listed_for_retry():
    # a login answered 401: the credentials are wrong, asking again cannot help
    for also in ((), (401,)):
        d = decide(rules(authenticated=False, backs_off=frozenset({401, 429}),
                         also_backs_off=frozenset(also)), Progress(), status=401)
        assert (d.action, d.why) == (RETURN, FAILED)


def test_an_answer_without_headers_is_backed_off_by_the_schedule():
    d = decide(rules(), Progress(throttled=2), status=429)
    assert (d.action, d.delay) == (RETRY, 4.0)
    assert decide(rules(), Progress(), status=503, headers=None).delay == 0.25


def test_a_throttle_delay_asked_without_a_status_is_a_429s():
    """throttle_delay(attempt, retry_after, maximum) is the 429 schedule (1 s
    doubling), not the 5xx one (0.25 s doubling)."""
    assert POLICY.throttle_delay(1, None, 32.0) == 1.0
    assert POLICY.throttle_delay(3, None, 32.0) == 4.0
    assert POLICY.throttle_delay(3, None, 32.0, status=502) == 1.0
