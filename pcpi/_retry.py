"""The retry decision: what to do with the outcome of one attempt.  No I/O here.

:func:`decide` looks at what is fixed for a call (:class:`CallRules`), how far
the call has come (:class:`Progress`) and the outcome of its last attempt (an
HTTP status and headers, or an exception), and answers one :class:`Decision`:

* ``RETURN`` the response: a success, an ignored status, or a failure that is
  the caller's to see (``why`` says which, for the log);
* ``RAISE`` the exception;
* ``RETRY`` after ``delay`` seconds: a 429/5xx backoff, or a connection failure;
* ``REAUTH``: a 401 that the session's authenticator must judge before a resend
  (:meth:`pcpi._auth.Authenticator.after_401`).

It is the composition of small checks, as in botocore's standard retry mode:
is the outcome a success; may this call be sent again at all (idempotency,
proof that it was not processed, a body that can be replayed); are retries
left; how long to wait (:class:`~pcpi._policy.RetryPolicy`).
"""

from __future__ import annotations

import dataclasses
import random
from typing import Callable, Collection, Mapping, Optional, cast

import requests

from ._policy import DEFAULT_RETRIES, RetryPolicy, may_resend_after

__all__ = ["CallRules", "Progress", "Decision", "decide", "RETURN", "RAISE", "RETRY", "REAUTH"]

RETURN, RAISE, RETRY, REAUTH = "return", "raise", "retry", "reauth"

# why a response is returned (the retry loop words its log line from these)
SUCCESS, FAILED, EXHAUSTED, UNSAFE, PROCESSED, NOT_REPLAYABLE = (
    "success", "failed", "exhausted", "unsafe", "processed", "not-replayable")
# why a RETRY has no delay of its own: the pacer's turn is the wait
PACED = "paced"


@dataclasses.dataclass(frozen=True)
class Decision:
    action: str                 # RETURN, RAISE, RETRY or REAUTH
    delay: float = 0.0          # RETRY: seconds to wait first
    why: str = ""               # RETURN/RAISE: SUCCESS, FAILED, EXHAUSTED, ...; RETRY: PACED


@dataclasses.dataclass(frozen=True)
class CallRules:
    """What is fixed for one call: how safe it is to repeat, and the session's
    retry settings as they were when the call started."""

    policy: RetryPolicy
    safe: bool                          # idempotent, or declared so
    not_replayable: str = ""            # why its body cannot be sent twice ("" if it can)
    authenticated: bool = True
    retries: int = DEFAULT_RETRIES      # 429/5xx resends (session.retries)
    connection_retries: Optional[int] = None  # fewer connection retries than the policy's
    success: Collection[int] = range(200, 207)
    ignore: Collection[int] = ()
    expired_code: int = 401
    #: statuses that are backed off and resent (session.retry_delay_statuses and
    #: session.retry_statuses; the expired code is the authenticator's)
    backs_off: Collection[int] = (425, 429, 500, 502, 503, 504)
    also_backs_off: Collection[int] = ()
    retry_timer_max: float = 32.0


@dataclasses.dataclass
class Progress:
    """How far one call has come (kept by the retry loop, one per call)."""

    throttled: int = 0      # 429/5xx resends so far
    conn_failures: int = 0  # connection failures so far


def decide(rules: CallRules, progress: Progress, *, status: Optional[int] = None,
           headers: Optional[Mapping[str, str]] = None,
           error: Optional[requests.RequestException] = None, processed: bool = False,
           paced: bool = False, rand: Callable[[], float] = random.random) -> Decision:
    """What to do after one attempt (see the module docstring).

    ``processed``: the answer came after a redirect that turned the call into a
    GET (a 303, or a 301/302 to a POST), so the call itself was processed.
    ``paced``: the pacer governs the endpoint (:meth:`pcpi.Pacer.governs`), so a
    429 is resent with no backoff here: the pacer's turn is the wait.
    """
    policy = rules.policy
    if error is not None:
        failures = progress.conn_failures + 1
        if rules.connection_retries is not None and failures > rules.connection_retries or \
                not policy.retry_exception(error, rules.safe, failures):
            return Decision(RAISE, why=FAILED)
        if rules.not_replayable:
            return Decision(RAISE, why=NOT_REPLAYABLE)
        return Decision(RETRY, delay=policy.connection_backoff.delay(failures, rand=rand))
    if status in rules.success or status in rules.ignore:
        return Decision(RETURN, why=SUCCESS)
    may_repeat = rules.safe or not processed
    if status == rules.expired_code and rules.authenticated:
        if not may_repeat:
            return Decision(RETURN, why=PROCESSED)
        if rules.not_replayable:
            return Decision(RETURN, why=NOT_REPLAYABLE)
        return Decision(REAUTH)
    if status == rules.expired_code or (status not in rules.backs_off
                                        and status not in rules.also_backs_off):
        return Decision(RETURN, why=FAILED)
    if not rules.safe and not (may_repeat and
                               may_resend_after(cast(int, status), False, policy.not_processed)):
        return Decision(RETURN, why=PROCESSED if processed else UNSAFE)
    if progress.throttled >= rules.retries:
        return Decision(RETURN, why=EXHAUSTED if progress.throttled else FAILED)
    if rules.not_replayable:
        return Decision(RETURN, why=NOT_REPLAYABLE)
    if paced and status == 429:
        return Decision(RETRY, why=PACED)  # one controller decides the wait: the pacer's
    retry_after = (headers or {}).get("Retry-After")
    delay = policy.throttle_delay(progress.throttled + 1, retry_after, rules.retry_timer_max,
                                  rand=rand, status=cast(int, status))
    return Decision(RETRY, delay=delay)
