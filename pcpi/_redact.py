"""Redaction: what a server sends back may echo secrets; logs must not.

A proxy or an API error page can echo the request, token included, and
requests and urllib3 put what a server sent (a status line, a path it
redirected to, headers they could not parse) into their exception messages
and log records.  Before such text reaches a log line or an exception, pcpi
replaces the secrets it knows (the tokens it was issued, secret keys and
passwords: :func:`remember`) and anything shaped like a JWT (Prisma Cloud's
tokens are JWTs, so this also catches one pcpi never saw) with
``<redacted>``.  :func:`watch_logger` does the same for another library's
log records.  No I/O here.
"""

from __future__ import annotations

import collections
import logging
import re
import threading
import traceback
from typing import Deque, Iterable, Optional

__all__ = ["redact", "remember", "watch_logger", "REDACTED"]

REDACTED = "<redacted>"

# header.payload.signature, base64url; the header of every JWT starts with '{"' -> eyJ
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")

# shorter values are not worth hiding and would blank out ordinary words
_MIN_SECRET = 8


# The secrets this process holds, newest last; bounded (tokens are replaced as
# they are refreshed, so only the newest few can still be echoed).
_known: Deque[str] = collections.deque(maxlen=256)
_lock = threading.Lock()


def remember(*secrets: Optional[str]) -> None:
    """Add secrets (a token just issued, a secret key) to those always redacted."""
    with _lock:
        for secret in secrets:
            if isinstance(secret, str) and len(secret) >= _MIN_SECRET and secret not in _known:
                _known.append(secret)


def redact(text: str, secrets: Iterable[Optional[str]] = ()) -> str:
    """``text`` with each of ``secrets``, every secret :func:`remember` was given
    and every JWT-shaped string replaced by ``<redacted>``."""
    with _lock:
        known = list(_known)
    for secret in (*secrets, *known):
        if isinstance(secret, str) and len(secret) >= _MIN_SECRET and secret in text:
            text = text.replace(secret, REDACTED)
    return _JWT.sub(REDACTED, text)


class _RedactingFilter(logging.Filter):
    """Redacts a record's text before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a malformed record is its logger's problem, not a leak
            return True
        clean = redact(text)
        if record.exc_info and record.exc_info[1] is not None:
            trace = "".join(traceback.format_exception(*record.exc_info))
            if redact(trace) != trace:
                # fold the redacted traceback into the message: a handler that
                # formats exc_info itself would otherwise print the secret
                clean = f"{clean}\n{redact(trace).rstrip()}"
                record.exc_info, record.exc_text = None, None
        if clean != text:
            record.msg, record.args = clean, None
        return True


_filter = _RedactingFilter()


def watch_logger(name: str) -> None:
    """Redact the records of logger ``name`` (only that logger's own records:
    filters on a logger do not see its children's)."""
    logger = logging.getLogger(name)
    if _filter not in logger.filters:
        logger.addFilter(_filter)
