"""The retry policy (pcpi._policy) as tables: backoff schedules and jitter,
Retry-After in both forms, what is safe to repeat, what proves a request was
never sent.  No sockets, no sleeping, no clock but the one passed in."""

from __future__ import annotations

import email.utils
import random
import time

import pytest
import requests
import urllib3

from pcpi import Backoff, RetryPolicy
from pcpi._policy import (
    IDEMPOTENT_METHODS,
    NOT_PROCESSED,
    is_safe_to_repeat,
    may_resend_after,
    never_sent,
    parse_retry_after,
)

E = requests.exceptions


# ---------------------------------------------------------------------- Backoff
@pytest.mark.parametrize("backoff,delays", [
    (Backoff(jitter=0), [1, 1, 2, 4, 8, 16, 32, 32, 32]),
    (Backoff(initial=0.25, jitter=0), [0.25, 0.25, 0.5, 1, 2, 4, 8, 16, 32]),
    (Backoff(initial=0.5, maximum=4, jitter=0), [0.5, 0.5, 1, 2, 4, 4, 4, 4, 4]),
    (Backoff(initial=1, multiplier=3, maximum=100, jitter=0), [1, 1, 3, 9, 27, 81, 100, 100, 100]),
    (Backoff(initial=2, multiplier=1, jitter=0), [2] * 9),
])
def test_schedules_grow_by_the_multiplier_up_to_the_maximum(backoff, delays):
    # attempt 0 and 1 are both the first retry: the schedule starts at ``initial``
    assert [backoff.delay(n) for n in range(9)] == delays


@pytest.mark.parametrize("cap,expect", [(None, 32), (64, 32), (10, 10), (0.5, 0.5), (0, 0)])
def test_the_sessions_cap_and_the_backoffs_own_maximum_both_hold(cap, expect):
    assert Backoff(jitter=0).delay(50, cap) == expect


@pytest.mark.parametrize("attempt", [1_000, 10**6, 10**18])
def test_any_number_of_retries_stays_at_the_cap(attempt):
    assert Backoff(jitter=0).delay(attempt) == 32
    assert Backoff(initial=1e-300, multiplier=1e300, jitter=0).delay(attempt) == 32


@pytest.mark.parametrize("draw,expect", [(0.0, 8.0), (0.25, 6.0), (0.5, 4.0), (0.999, 0.008)])
def test_full_jitter_takes_the_drawn_share_off_the_delay(draw, expect):
    assert Backoff().delay(4, rand=lambda: draw) == pytest.approx(expect)


@pytest.mark.parametrize("jitter,draw,expect", [(0.5, 1.0, 4.0), (0.5, 0.5, 6.0),
                                                (0.0, 0.9, 8.0), (0.1, 1.0, 7.2)])
def test_partial_jitter_takes_at_most_its_share(jitter, draw, expect):
    assert Backoff(jitter=jitter).delay(4, rand=lambda: draw) == pytest.approx(expect)


def test_full_jitter_is_the_default_everywhere():
    """Threads throttled together must not come back together: every default
    schedule draws its delay anywhere between zero and the schedule."""
    policy = RetryPolicy()
    for backoff in (Backoff(), policy.backoff, policy.server_error_backoff,
                    policy.connection_backoff):
        assert backoff.jitter == 1.0
        rng = random.Random(7)
        delays = [backoff.delay(3, rand=rng.random) for _ in range(500)]
        top = backoff.delay(3, rand=lambda: 0.0)
        assert all(0 <= d <= top for d in delays)
        assert min(delays) < top * 0.1 and max(delays) > top * 0.9  # the whole range
        assert len(set(delays)) > 450


def test_the_default_schedules():
    p = RetryPolicy()
    assert (p.backoff.initial, p.backoff.maximum, p.backoff.multiplier) == (1.0, 32.0, 2.0)
    assert (p.server_error_backoff.initial, p.server_error_backoff.maximum) == (0.25, 32.0)
    assert (p.connection_backoff.initial, p.connection_backoff.maximum) == (0.5, 4.0)
    assert p.connection_retries == 3 and p.retry_after_max == 120.0
    assert p.not_processed == NOT_PROCESSED == frozenset({425, 429, 503})
    assert p.sleep is time.sleep


# ---------------------------------------------------------------------- Retry-After
NOW = 1_700_000_000.0


def http_date(offset: float) -> str:
    return email.utils.formatdate(NOW + offset, usegmt=True)


@pytest.mark.parametrize("value,expect", [
    ("7", 7.0), (" 7 ", 7.0), ("0", 0.0), ("1.5", 1.5), ("-5", 0.0), ("120", 120.0),
    ("inf", float("inf")),
    (None, None), ("", None), ("   ", None), ("nan", None), ("soon", None),
    ("Wed, 99 Foo 2015 07:28:00 GMT", None),
])
def test_retry_after_in_seconds(value, expect):
    assert parse_retry_after(value, now=NOW) == expect


@pytest.mark.parametrize("offset,expect", [(30, 30.0), (3600, 3600.0), (0, 0.0), (-30, 0.0)])
def test_retry_after_as_an_http_date(offset, expect):
    assert parse_retry_after(http_date(offset), now=NOW) == pytest.approx(expect)


def test_an_http_date_is_measured_from_the_wall_clock_by_default():
    value = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= parse_retry_after(value) <= 60


@pytest.mark.parametrize("hint,status,expect", [
    (None, 429, 4.0),            # the schedule (attempt 3, no jitter)
    ("1", 429, 4.0),             # a shorter hint does not shorten the schedule
    ("10", 429, 10.0),           # a longer one is honoured
    ("10", 503, 10.0),
    (None, 503, 1.0),            # 5xx schedule: 0.25 s doubling
    ("9999", 429, 120.0),        # ... up to retry_after_max
    ("inf", 429, 120.0),
    ("nonsense", 429, 4.0),
])
def test_throttle_delay_is_the_longer_of_schedule_and_hint(hint, status, expect):
    policy = RetryPolicy(backoff=Backoff(jitter=0), server_error_backoff=Backoff(0.25, jitter=0))
    assert policy.throttle_delay(3, hint, 32.0, status=status) == expect


def test_throttle_delay_honours_an_http_date_hint():
    policy = RetryPolicy(backoff=Backoff(jitter=0))
    hint = email.utils.formatdate(time.time() + 45, usegmt=True)
    assert 40 <= policy.throttle_delay(1, hint, 32.0) <= 45
    assert policy.throttle_delay(1, hint, 32.0, rand=lambda: 0.5) >= 40


# ---------------------------------------------------------------------- safe to repeat
@pytest.mark.parametrize("method,path,idempotent,safe", [
    ("GET", "/cloud", None, True),
    ("HEAD", "/cloud", None, True),
    ("OPTIONS", "/cloud", None, True),
    ("PUT", "/cloud/1", None, True),
    ("DELETE", "/cloud/1", None, True),
    ("POST", "/cloud", None, False),
    ("PATCH", "/cloud/1", None, False),
    ("POST", "/login", None, True),
    ("POST", "/search/config", None, True),
    ("POST", "/search/config/page", None, True),
    ("POST", "/search/history", None, True),
    ("POST", "/compute/api/v1/authenticate", None, True),
    ("POST", "/api/v1/authenticate", None, True),
    ("POST", "/issue", None, True),
    ("POST", "/search/config/other", None, False),
    ("POST", "/login/reset", None, False),
    ("PUT", "/login", None, True),
    ("GET", "/login", False, False),       # the caller's word wins both ways
    ("DELETE", "/cloud/1", False, False),
    ("POST", "/cloud", True, True),
    ("PATCH", "/x", True, True),
])
def test_what_is_safe_to_repeat(method, path, idempotent, safe):
    assert is_safe_to_repeat(method, path, idempotent) is safe


def test_idempotent_methods_are_rfc_9110s():
    assert IDEMPOTENT_METHODS == {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}


@pytest.mark.parametrize("status", [425, 429, 500, 502, 503, 504])
def test_a_safe_call_may_be_resent_after_any_retryable_status(status):
    assert may_resend_after(status, True)


@pytest.mark.parametrize("status,expect", [(425, True), (429, True), (503, True),
                                           (500, False), (502, False), (504, False)])
def test_an_unsafe_call_only_after_proof_it_was_not_processed(status, expect):
    assert may_resend_after(status, False) is expect
    assert may_resend_after(status, False, frozenset({500})) is (status == 500)


# ---------------------------------------------------------------------- never sent
def _wrapped(reason: Exception, cls=E.ConnectionError) -> requests.RequestException:
    """As requests raises it: its exception around urllib3's MaxRetryError."""
    return cls(urllib3.exceptions.MaxRetryError(None, "/cloud", reason))


def _new_conn() -> urllib3.exceptions.NewConnectionError:
    return urllib3.exceptions.NewConnectionError(None, "Connection refused")


def _dns() -> urllib3.exceptions.NameResolutionError:
    return urllib3.exceptions.NameResolutionError("host", None, OSError("no such host"))


@pytest.mark.parametrize("make,expect", [
    (lambda: E.ConnectTimeout("slow connect"), True),
    (lambda: _wrapped(_new_conn()), True),
    (lambda: _wrapped(_dns()), True),
    (lambda: E.ConnectionError(_new_conn()), True),           # unwrapped, too
    (lambda: _wrapped(urllib3.exceptions.ProtocolError("reset")), False),
    (lambda: _wrapped(urllib3.exceptions.ReadTimeoutError(None, "/", "slow")), False),
    (lambda: E.ReadTimeout("slow answer"), False),
    (lambda: E.ChunkedEncodingError("cut"), False),
    (lambda: _wrapped(_new_conn(), E.ProxyError), False),     # the proxy may have sent it
    (lambda: E.ConnectionError("NewConnectionError: Connection refused"), False),  # text only
    (lambda: E.ConnectionError(), False),
    (lambda: E.SSLError("bad certificate"), False),
])
def test_never_sent_is_judged_by_type(make, expect):
    assert never_sent(make()) is expect


def test_after_a_redirect_nothing_is_never_sent():
    exc = _wrapped(_new_conn())
    exc._pcpi_after_redirect = True  # an earlier hop reached the server
    assert never_sent(exc) is False


# ---------------------------------------------------------------------- retry_exception
@pytest.mark.parametrize("make,safe,expect", [
    (lambda: E.ReadTimeout("slow"), True, True),
    (lambda: E.ReadTimeout("slow"), False, False),
    (lambda: _wrapped(urllib3.exceptions.ProtocolError("reset")), True, True),
    (lambda: _wrapped(urllib3.exceptions.ProtocolError("reset")), False, False),
    (lambda: E.ChunkedEncodingError("cut"), True, True),
    (lambda: E.ChunkedEncodingError("cut"), False, False),
    (lambda: _wrapped(_new_conn()), False, True),       # never sent: even a POST
    (lambda: E.ConnectTimeout("x"), False, True),
    (lambda: E.SSLError("bad certificate"), True, False),
    (lambda: E.InvalidURL("x"), True, False),
    (lambda: E.InvalidSchema("x"), True, False),
    (lambda: E.TooManyRedirects("x"), True, False),
    (lambda: E.ContentDecodingError("x"), True, False),
])
def test_which_exceptions_are_retried(make, safe, expect):
    assert RetryPolicy().retry_exception(make(), safe, 1) is expect


@pytest.mark.parametrize("retries,failures,expect", [(3, 1, True), (3, 3, True), (3, 4, False),
                                                     (0, 1, False), (1, 1, True)])
def test_connection_retries_run_out(retries, failures, expect):
    policy = RetryPolicy(connection_retries=retries)
    assert policy.retry_exception(E.ReadTimeout("slow"), True, failures) is expect
