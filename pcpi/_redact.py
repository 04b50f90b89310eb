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
from typing import Iterable, Optional, overload

from . import _fork

__all__ = ["redact", "remember", "watch_logger", "without_query", "Secret", "SecretBytes",
           "secret", "REDACTED"]

REDACTED = "<redacted>"

# header.payload.signature, base64url; the header of every JWT starts with '{"' -> eyJ
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")

# The secrets this process holds, in two bounded tables (oldest forgotten first):
# tokens, replaced as they are refreshed, so only the newest can still be echoed;
# and lasting ones (secret keys, passwords), kept as long as there is room.
_TOKENS, _LASTING = 256, 1024
_tokens: "collections.OrderedDict[str, None]" = collections.OrderedDict()
_lasting: "collections.OrderedDict[str, None]" = collections.OrderedDict()
_lock = threading.Lock()


def remember(*secrets: Optional[str], lasting: bool = False) -> None:
    """Add secrets to those always redacted: tokens just issued, or (``lasting``)
    a secret key or a password."""
    table, most = (_lasting, _LASTING) if lasting else (_tokens, _TOKENS)
    with _lock:
        for secret in secrets:
            if isinstance(secret, str) and secret:
                table[str(secret)] = None
                table.move_to_end(str(secret))
                while len(table) > most:
                    table.popitem(last=False)


def without_query(url: Optional[str]) -> str:
    """The URL without its query string (which could carry anything)."""
    return (url or "").split("?", 1)[0]


def redact(text: str, secrets: Iterable[Optional[str]] = ()) -> str:
    """``text`` with each of ``secrets``, every secret :func:`remember` was given
    and every JWT-shaped string replaced by ``<redacted>``."""
    with _lock:
        known = [*_lasting, *_tokens]
    # longest first, so that a secret containing another is replaced whole
    for secret in sorted({s for s in (*secrets, *known) if isinstance(s, str) and s},
                         key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _JWT.sub(REDACTED, text)


class Secret(str):
    """A ``str`` whose ``repr`` hides it.  Tokens, secret keys and passwords are
    kept as these, so that a traceback that prints local variables (loguru's
    default ``diagnose=True``, IDEs, ``cgitb``) shows ``'<redacted>'`` instead.
    Everything else about the string is unchanged."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"'{REDACTED}'"


class SecretBytes(bytes):
    """``bytes`` whose ``repr`` hides them: a login body, encoded."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"b'{REDACTED}'"


@overload
def secret(value: str) -> str: ...
@overload
def secret(value: None) -> None: ...


def secret(value: Optional[str]) -> Optional[str]:
    """``value`` as a :class:`Secret` (None and non-strings unchanged)."""
    return Secret(value) if isinstance(value, str) and not isinstance(value, Secret) \
        else value


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


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at fork time


_fork.register_function(_after_fork_in_child)
