"""Retry policy: when to retry, and how long to wait.  No I/O here.

Modelled on urllib3's ``util/retry.py`` (a small documented policy object) and
botocore's standard retry mode (decisions as small checks).  The one retry loop
in :mod:`pcpi._session_base` asks these questions and does the sleeping.
"""

from __future__ import annotations

import dataclasses
import email.utils
import random
import time
from typing import Callable, Optional

import requests
import urllib3

__all__ = ["Backoff", "RetryPolicy", "DEFAULT_RETRIES", "parse_retry_after", "is_safe_to_repeat",
           "may_resend_after", "never_sent", "IDEMPOTENT_METHODS", "READ_ONLY_POSTS",
           "NOT_PROCESSED"]

#: resends of a 429/5xx answer per call (``session.retries``, the managers' ``retries=``)
DEFAULT_RETRIES = 20

#: methods whose repeat cannot change state twice (RFC 9110 section 9.2.2)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

#: Prisma Cloud POST endpoints that only read or authenticate: safe to resend
READ_ONLY_POSTS = ("/login", "/search/config", "/search/config/page", "/search/history",
                   "/api/v1/authenticate", "/issue")


@dataclasses.dataclass(frozen=True)
class Backoff:
    """Exponential backoff: ``initial`` doubling (``multiplier``) up to ``maximum``.

    ``jitter`` takes a random part, up to that fraction, off each delay so
    threads throttled together do not come back together.  The default 1.0 is
    "full jitter" (anywhere from 0 to the scheduled delay), which spreads
    retries best and halves the average wait (see AWS's "Exponential Backoff
    And Jitter"); 0 gives the bare schedule.  Delays never exceed ``maximum``.
    """

    initial: float = 1.0
    maximum: float = 32.0
    multiplier: float = 2.0
    jitter: float = 1.0

    def delay(self, attempt: int, maximum: Optional[float] = None,
              rand: Callable[[], float] = random.random) -> float:
        """Delay before retry number ``attempt`` (1 for the first retry); at most
        ``maximum`` (the session's ``retry_timer_max``) as well as ``self.maximum``."""
        cap = self.maximum if maximum is None else min(self.maximum, maximum)
        try:
            # (a float power: instant for any attempt, and OverflowError past the cap)
            base = min(cap, self.initial * float(self.multiplier) ** max(0, attempt - 1))
        except OverflowError:  # thousands of retries: long past the cap
            base = cap
        return base * (1.0 - self.jitter * rand())


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def is_safe_to_repeat(method: str, url_path: str, idempotent: Optional[bool] = None, *,
                      read_only: bool = False) -> bool:
    """Whether a call may be sent again after a connection failed mid-way.

    ``idempotent`` (the caller's word) wins; otherwise idempotent methods are
    safe, and a POST that only reads: ``read_only`` (Prisma Cloud's specs say so:
    :mod:`pcpi._catalogue`) or one of the logins and searches in
    :data:`READ_ONLY_POSTS`.
    """
    if idempotent is not None:
        return idempotent
    if method in IDEMPOTENT_METHODS:
        return True
    return method == "POST" and (read_only or url_path.endswith(READ_ONLY_POSTS))


#: answers that say the request was not processed, so even a call that is not
#: safe to repeat may be sent again: 429 (a rate limiter turns the request away
#: before the API sees it), 425 (RFC 8470: the server did not process it) and
#: 503 (RFC 9110 15.6.4: the server is unable to handle the request, from
#: overload or maintenance; it is what load balancers and gateways answer when
#: no backend took the request).  RetryPolicy(not_processed=...) changes the set.
NOT_PROCESSED = frozenset({425, 429, 503})


def may_resend_after(status: int, safe: bool,
                     not_processed: frozenset[int] = NOT_PROCESSED) -> bool:
    """Whether a call may be sent again after a retryable ``status`` answer.

    A call that is safe to repeat may be resent after any of them.  One that is
    not (a state-changing POST, or ``idempotent=False``) only after an answer
    that says it was not processed (``not_processed``): a 500, 502 or 504 may
    come from a gateway after the change was applied, so resending it could
    apply it twice.
    """
    return safe or status in not_processed


def never_sent(exc: requests.RequestException) -> bool:
    """The request cannot have reached the server: the connection never opened
    (judged by the exception's type, never by its text, which a server can fill)."""
    if getattr(exc, "_pcpi_after_redirect", False):
        return False  # an earlier hop of the call reached the server
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError) or \
            isinstance(exc, requests.exceptions.ProxyError):
        return False
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # requests wraps urllib3's MaxRetryError
    return isinstance(reason, urllib3.exceptions.NewConnectionError)  # DNS failures too


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """What pcpi retries, besides the 1.0.1 attributes on each session.

    A 429 waits by ``backoff`` (1 s doubling) and a 5xx by ``server_error_backoff``
    (0.25 s doubling): "too fast" deserves a real pause, while a 502/503 is most
    often one failed backend that answers on the next try, and one that keeps
    failing reaches the same long delays a few retries later.  Both are capped
    by the session's ``retry_timer_max`` and counted against ``session.retries``.
    ``Retry-After`` is
    honoured up to ``retry_after_max`` seconds.  Connection errors and timeouts
    are retried ``connection_retries`` times with ``connection_backoff`` when the
    call is safe to repeat, or when the request never left this machine.
    ``sleep`` does the waiting (inject one to observe delays without waiting).
    """

    backoff: Backoff = Backoff()
    server_error_backoff: Backoff = Backoff(initial=0.25)
    retry_after_max: float = 120.0
    connection_retries: int = 3
    connection_backoff: Backoff = Backoff(initial=0.5, maximum=4.0)
    #: answers after which even a call that is not safe to repeat is resent
    #: (drop 503 here if a service of yours can answer it after a change)
    not_processed: frozenset[int] = NOT_PROCESSED
    #: how to wait; tests inject a recorder instead of sleeping
    sleep: Callable[[float], None] = time.sleep

    def throttle_delay(self, attempt: int, retry_after: Optional[str], maximum: float,
                       rand: Callable[[], float] = random.random, status: int = 429) -> float:
        """Wait before retry ``attempt`` of a 429 or 5xx (``status``) answer."""
        schedule = self.backoff if status == 429 else self.server_error_backoff
        delay = schedule.delay(attempt, maximum, rand)
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            delay = max(delay, min(hinted, self.retry_after_max))
        return delay

    def retry_exception(self, exc: BaseException, safe: bool, failures: int) -> bool:
        """Whether to resend after ``exc`` (the ``failures``-th for this call)."""
        if failures > self.connection_retries:
            return False
        if isinstance(exc, requests.exceptions.SSLError):
            return False  # a certificate problem does not go away by asking again
        if not isinstance(exc, (requests.exceptions.ConnectionError,
                                requests.exceptions.Timeout,
                                requests.exceptions.ChunkedEncodingError)):
            return False  # invalid URL, bad proxy scheme, ...: asking again cannot help
        return safe or never_sent(exc)
