"""Redaction: the one boundary every text leaving pcpi passes.

A proxy or an API error page can echo the request, token included; requests,
urllib3 and the standard library put what a server sent (a status line, a
host or path it redirected to, headers they could not parse) and what a user
set (a proxy URL, a header value) into their exception messages and log
records.  Before any such text leaves pcpi (an exception raised out of a public
call: :func:`scrub`; a log record: :class:`pcpi._log.Log` and
:func:`watch_logger`; a warning) every secret pcpi holds is replaced by
``<redacted>``:

* the secrets it was given or learned, however they were set: the tokens a
  tenant issued, a token or a proxy URL set by hand, secret keys and passwords
  from a credentials file, the environment or a constructor (:func:`remember`);
* in every form a text can hold them: as they are, in any letter case (host
  names are lower-cased), percent-encoded (URLs), escaped by ``repr`` or JSON,
  and as an IDNA host label;
* and anything shaped like a JWT, in any case (Prisma Cloud's tokens are JWTs,
  so this also catches one pcpi never saw).

The secrets are kept in two tables bounded in entries and bytes (oldest
forgotten first): tokens, replaced as they are renewed (:data:`TOKENS`), and
lasting ones, keys and passwords (:data:`LASTING`).  No I/O here.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import traceback
from typing import Any, Iterable, List, Optional, Pattern, Set, Tuple, overload
from urllib.parse import quote, quote_plus

from . import _fork
from ._bounded import BoundedCache

__all__ = ["redact", "remember", "scrub", "watch_logger", "without_query", "Secret",
           "SecretBytes", "secret", "REDACTED", "held_bytes", "MAX_SECRET_BYTES"]

REDACTED = "<redacted>"

# header.payload.signature, base64url; the header of every JWT starts with '{"' -> eyJ
# (in any case: a host name that carries one is lower-cased on its way into a message)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", re.IGNORECASE)

#: secrets remembered: (entries, bytes) of each table
TOKENS = (256, 1 << 20)
LASTING = (1024, 1 << 20)
#: bytes of secrets one table holds at most
MAX_SECRET_BYTES = 1 << 20

#: shorter secrets are not redacted: they cannot be told from ordinary text, and
#: replacing every "ab" would leave no message readable
MIN_SECRET = 4

# the characters requests leaves unquoted in a URL (requests.utils.requote_uri)
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


def _sizeof(secret: str, forms: Tuple[str, ...]) -> int:
    return len(secret) + sum(len(f) for f in forms)


_tokens: BoundedCache[str, Tuple[str, ...]] = BoundedCache(*TOKENS, sizeof=_sizeof)
_lasting: BoundedCache[str, Tuple[str, ...]] = BoundedCache(*LASTING, sizeof=_sizeof)
_version = [0]           # bumped when a table changes: the pattern is built again
_pattern: List[Any] = [None, -1]  # [compiled pattern or None, the version it was built for]
_lock = threading.Lock()


def forms(secret: str) -> Tuple[str, ...]:
    """The forms in which ``secret`` can appear in a text (JWTs need none: the
    JWT pattern finds them in every form, their alphabet being URL- and
    escape-safe)."""
    if _JWT.fullmatch(secret):
        return ()
    found: Set[str] = {secret, quote(secret, safe=""), quote(secret, safe=_URL_SAFE),
                       quote_plus(secret), repr(secret)[1:-1], json.dumps(secret)[1:-1]}
    try:
        found.add(secret.encode("idna").decode("ascii"))
    except (UnicodeError, ValueError):
        pass
    return tuple(sorted(f for f in found if f))


def remember(*secrets: Optional[str], lasting: bool = False) -> None:
    """Add secrets to those always redacted: tokens just issued or set, or
    (``lasting``) a secret key, a password or a proxy password."""
    table = _lasting if lasting else _tokens
    for secret in secrets:
        if isinstance(secret, str) and len(secret) >= MIN_SECRET:
            plain = str(secret)
            if table.peek(plain) is None:
                table.put(plain, forms(plain))
                with _lock:
                    _version[0] += 1
            else:
                table.get(plain)  # (a use: the newest are kept)


def held_bytes() -> int:
    """Bytes of secrets remembered (for the documented bound)."""
    return _tokens.held + _lasting.held


def _known() -> Optional[Pattern[str]]:
    """One pattern for every remembered form, longest first (so that a secret
    containing another is replaced whole); rebuilt only after a change."""
    with _lock:
        if _pattern[1] == _version[0]:
            found: Optional[Pattern[str]] = _pattern[0]
            return found
        version = _version[0]
    every = {f for table in (_lasting, _tokens) for _, fs in table.items() for f in fs}
    pattern = re.compile("|".join(re.escape(f) for f in sorted(every, key=len, reverse=True)),
                         re.IGNORECASE) if every else None
    with _lock:
        _pattern[0], _pattern[1] = pattern, version
    return pattern


def without_query(url: Optional[str]) -> str:
    """The URL without its query string (which could carry anything)."""
    return (url or "").split("?", 1)[0]


def redact(text: str, secrets: Iterable[Optional[str]] = ()) -> str:
    """``text`` with every remembered secret (and each of ``secrets``), in each
    of its forms, and every JWT-shaped string replaced by ``<redacted>``."""
    extra = [s for s in secrets if isinstance(s, str) and s]
    if extra:
        remember(*extra)
    pattern = _known()
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    return _JWT.sub(REDACTED, text)


def scrub(exc: BaseException, _depth: int = 0) -> None:
    """Redact an exception leaving pcpi, in place: its args (exceptions among
    them, as requests wraps urllib3's), a ``message`` attribute, notes, and the
    exceptions it was raised from or during (which a traceback prints too)."""
    if _depth > 8:  # (chains and nesting are short; a cycle is not followed forever)
        return
    seen: List[BaseException] = []
    while exc is not None and len(seen) < 8 and all(exc is not s for s in seen):
        seen.append(exc)
        _scrub_one(exc, _depth)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]


def _scrub_one(exc: BaseException, depth: int) -> None:
    args: List[Any] = []
    changed = False
    for arg in exc.args:
        if isinstance(arg, BaseException):
            scrub(arg, depth + 1)
        elif isinstance(arg, str):
            clean = redact(arg)
            changed = changed or clean != arg
            arg = clean
        elif not isinstance(arg, (int, float, bool, type(None))):
            text = str(arg)
            if redact(text) != text:
                arg, changed = redact(text), True
        args.append(arg)
    if changed:
        try:
            exc.args = tuple(args)
        except (AttributeError, TypeError):  # pragma: no cover - a read-only exception
            pass
    message = getattr(exc, "message", None)
    if isinstance(message, str) and redact(message) != message:
        try:
            exc.message = redact(message)  # type: ignore[attr-defined]
        except AttributeError:  # pragma: no cover - a read-only attribute
            pass
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list):
        notes[:] = [redact(n) if isinstance(n, str) else n for n in notes]


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
