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
from typing import (
    Any,
    Dict,
    Iterable,
    List,
    NamedTuple,
    Optional,
    Pattern,
    Set,
    Tuple,
    overload,
)
from urllib.parse import quote, quote_plus

from . import _fork
from ._bounded import BoundedCache

try:  # the compiler behind re.compile, without re's cache of compiled patterns
    from re import _compiler as _sre  # type: ignore[attr-defined]  # (3.11+)
except ImportError:  # pragma: no cover - Python 3.9 and 3.10
    import sre_compile as _sre

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


#: secrets up to this long are matched by one regular expression (each character
#: as it is or percent-encoded); longer ones by substring search of a few literal
#: forms (a regular expression of long literals is slow to build and to keep)
SHORT = 64

# the characters requests leaves unquoted in a URL (requests.utils.requote_uri)
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


# characters some JSON writers escape as \uXXXX (Gson's HTML-safe default)
_HTML_SAFE = {c: f"\\u{ord(c):04x}" for c in "<>&='"}


def _idna_2003(secret: str) -> str:
    return secret.encode("idna").decode("ascii")


def _idna_2008(secret: str) -> str:  # what urllib3 writes for a non-ASCII host
    import idna  # (requests' own dependency)

    return idna.encode(secret.lower(), strict=True, std3_rules=True).decode("ascii")


_IDNA = (_idna_2003, _idna_2008)


class _Forms(NamedTuple):
    patterns: Tuple[str, ...]   # regular expressions (short secrets)
    literals: Tuple[str, ...]   # lower-cased literal forms (long secrets)


def _sizeof(secret: str, forms: _Forms) -> int:
    return len(secret) + sum(map(len, forms.patterns)) + sum(map(len, forms.literals))


_tokens: BoundedCache[str, _Forms] = BoundedCache(*TOKENS, sizeof=_sizeof)
_lasting: BoundedCache[str, _Forms] = BoundedCache(*LASTING, sizeof=_sizeof)
# the tokens sessions hold now, however large: never forgotten while in use
# (token -> [forms, how many sessions hold it])
_pinned: Dict[str, List[Any]] = {}
_version = [0]  # bumped when a table gains forms: the matchers are built again
# [short secrets' pattern or None, long secrets' literal forms, the version they are for]
_matchers: List[Any] = [None, (), -1]
_lock = threading.Lock()
_build = threading.Lock()  # one thread builds the matchers; the others wait for them


def forms(secret: str) -> _Forms:
    """The forms in which ``secret`` can appear in a text: as it is or
    percent-encoded (any safe set, any hex case, ``+`` for a space), escaped by
    ``repr`` or JSON, its UTF-8 read as Latin-1 (a header line), or as an IDNA
    host label; all matched in any letter case.
    JWTs need none: the JWT pattern finds them in every form, their alphabet
    being URL- and escape-safe."""
    if _JWT.fullmatch(secret):
        return _Forms((), ())
    inner = json.dumps(secret)[1:-1]
    escaped: Set[str] = {repr(secret)[1:-1], inner, json.dumps(secret, ensure_ascii=False)[1:-1],
                         # its UTF-8 bytes read as Latin-1, as http.client reads a header
                         secret.encode("utf-8", "surrogatepass").decode("latin-1"),
                         inner.replace("/", "\\/"),
                         "".join(_HTML_SAFE.get(c, c) for c in inner)}  # (Gson's escapes)
    if not secret.isascii():  # (an ASCII host is only lower-cased)
        for encode in _IDNA:
            try:
                escaped.add(encode(secret))
            except Exception as exc:  # not a host name in that standard  # noqa: BLE001
                exc._pcpi_replaced = True  # type: ignore[attr-defined]  # (never leaves)
    if len(secret) <= SHORT:
        found = {"".join(_char(c) for c in secret)}
        found.update(re.escape(e) for e in escaped if e.lower() != secret.lower())
        return _Forms(tuple(sorted(found)), ())
    literal = escaped | {secret, quote(secret, safe=""), quote(secret, safe=_URL_SAFE),
                         quote_plus(secret)}
    return _Forms((), tuple(sorted({f.lower() for f in literal if f})))


def _compile(source: str, flags: int) -> Pattern[str]:
    compiled: Pattern[str] = _sre.compile(source, flags)
    return compiled


def _char(c: str) -> str:
    """One character of a secret, as it is or percent-encoded."""
    encoded = "".join(f"%{b:02x}" for b in c.encode("utf-8", "surrogatepass"))
    plus = "|\\+" if c == " " else ""
    return f"(?:{re.escape(c)}|{encoded}{plus})"


def remember(*secrets: Optional[str], lasting: bool = False) -> None:
    """Add secrets to those always redacted: tokens just issued or set, or
    (``lasting``) a secret key, a password or a proxy password."""
    table = _lasting if lasting else _tokens
    for secret in secrets:
        if isinstance(secret, str) and len(secret) >= MIN_SECRET:
            plain = str(secret)
            if table.peek(plain) is None:
                found = forms(plain)
                table.put(plain, found)
                if found.patterns or found.literals:  # (a JWT changes no matcher)
                    with _lock:
                        _version[0] += 1
            else:
                table.get(plain)  # (a use: the newest are kept)


def pin(token: Optional[str], previous: Optional[str] = None) -> None:
    """``token`` is a session's current token (in place of ``previous``): it is
    redacted for as long as it is in use, whatever the tables forget; the
    previous one goes back to the table of tokens."""
    changed = False
    with _lock:
        if isinstance(token, str) and len(token) >= MIN_SECRET:
            held = _pinned.get(token)
            if held is None:
                _pinned[str(token)] = [forms(str(token)), 1]
                changed = True
            else:
                held[1] += 1
        if isinstance(previous, str) and previous in _pinned:
            held = _pinned[previous]
            held[1] -= 1
            if held[1] <= 0:
                del _pinned[previous]
                changed = True
        if changed:
            _version[0] += 1
    if isinstance(previous, str):
        remember(previous)


def held_bytes() -> int:
    """Bytes of secrets remembered (for the documented bound)."""
    return _tokens.held + _lasting.held


def _known() -> Tuple[Optional[Pattern[str]], Tuple[str, ...]]:
    """The short secrets' pattern (longest forms first, so that a secret
    containing another is replaced whole) and the long secrets' literal forms
    (longest first); built again, by one thread, only after a change."""
    while True:
        with _lock:
            if _matchers[2] == _version[0]:
                return _matchers[0], _matchers[1]
            version = _version[0]
        with _build:
            with _lock:
                if _matchers[2] == _version[0]:
                    continue  # another thread built them meanwhile
            every = [f for table in (_lasting, _tokens) for _, f in table.items()]
            with _lock:
                every += [held[0] for held in _pinned.values()]
            patterns = {p for f in every for p in f.patterns}
            literals = {s for f in every for s in f.literals}
            # (compiled outside the re module's cache, which would keep every
            # pattern replaced)
            pattern = _compile("|".join(sorted(patterns, key=len, reverse=True)),
                               re.IGNORECASE) if patterns else None
            with _lock:
                _matchers[:] = [pattern, tuple(sorted(literals, key=len, reverse=True)),
                                version]


def without_query(url: Optional[str]) -> str:
    """The URL without its query string (which could carry anything)."""
    return (url or "").split("?", 1)[0]


def redact(text: str, secrets: Iterable[Optional[str]] = ()) -> str:
    """``text`` with every remembered secret (and each of ``secrets``), in each
    of its forms, and every JWT-shaped string replaced by ``<redacted>``."""
    extra = [s for s in secrets if isinstance(s, str) and s]
    if extra:
        remember(*extra)
    pattern, literals = _known()
    if literals:  # (first: a long secret may hold a short one, never the reverse)
        text = _replace_literals(text, literals)
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    return _JWT.sub(REDACTED, text)


def _replace_literals(text: str, literals: Tuple[str, ...]) -> str:
    """``text`` with each of ``literals`` (lower-case), in any case, replaced."""
    low = text.lower()
    if len(low) != len(text):  # (lower-casing changed a length: find them the slow way)
        for literal in literals:
            text = re.sub(re.escape(literal), REDACTED, text, flags=re.IGNORECASE)
        return text
    for literal in literals:
        at = low.find(literal)
        while at >= 0:
            text = text[:at] + REDACTED + text[at + len(literal):]
            low = low[:at] + REDACTED + low[at + len(literal):]
            at = low.find(literal, at + len(REDACTED))
    return text


def scrub(exc: BaseException, stop: Optional[BaseException] = None, _depth: int = 0) -> None:
    """Redact an exception leaving pcpi, in place: the strings among its args
    (and in the exceptions among them, as requests wraps urllib3's), the
    attributes that hold text (``message``, ``url``, ``location``, ``filename``),
    its notes, and the exceptions it was raised from or during, which a
    traceback prints too, up to ``stop``: the exception the caller was handling
    when it called pcpi is the caller's, and is left alone."""
    if _depth > 4:  # (nesting is shallow; a cycle is not followed forever)
        return
    seen: List[BaseException] = []
    while exc is not None and exc is not stop and len(seen) < 8 and \
            all(exc is not s for s in seen):
        seen.append(exc)
        _scrub_one(exc, stop, _depth)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]


_TEXT_ATTRIBUTES = ("message", "url", "location", "filename", "filename2")


def _scrub_one(exc: BaseException, stop: Optional[BaseException], depth: int) -> None:
    args = list(exc.args)
    changed = False
    for i, arg in enumerate(args):
        if isinstance(arg, BaseException):
            scrub(arg, stop, depth + 1)
        elif isinstance(arg, str) and redact(arg) != arg:
            args[i], changed = redact(arg), True
    if changed:
        try:
            exc.args = tuple(args)
        except (AttributeError, TypeError):  # pragma: no cover - a read-only exception
            pass
    for name in _TEXT_ATTRIBUTES:
        value = getattr(exc, name, None)
        if isinstance(value, str) and redact(value) != value:
            try:
                setattr(exc, name, redact(value))
            except (AttributeError, TypeError):  # pragma: no cover - read-only
                pass
    reason = getattr(exc, "reason", None)  # (urllib3's MaxRetryError, ProxyError)
    if isinstance(reason, BaseException):
        scrub(reason, stop, depth + 1)
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
