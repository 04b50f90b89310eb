"""The redaction boundary's bookkeeping and edges (pcpi._redact): the tokens
sessions hold (pinned while in use, then forgotten like any other), long
secrets found in any case and place, the bounds of scrubbing an exception,
the caller's own exception left alone, the logger filter and fork safety.
Each secret is new to the run, so that no other test's secrets decide it."""

from __future__ import annotations

import logging
import os
import sys
import traceback

import pytest
import urllib3

from pcpi._redact import (
    REDACTED,
    TOKENS,
    Secret,
    pin,
    redact,
    remember,
    scrub,
    secret,
    watch_logger,
    without_query,
)

from .._fakes import in_forked_child


def fresh(prefix: str = "tok", size: int = 8) -> str:
    """A token no other test remembered (not JWT-shaped: found by its forms)."""
    return f"{prefix}-{os.urandom(size).hex()}"


def hidden(token: str) -> bool:
    return redact(f"answer {token} end") == f"answer {REDACTED} end"


def forget_tokens() -> None:
    """Fill the table of tokens with new ones: every token it held is forgotten.
    (JWTs, which the JWT pattern finds without forms of their own: no pattern of
    hundreds of tokens is built; then one more token, which builds the matchers.)"""
    for _ in range(TOKENS[0]):
        remember(f"eyJ{os.urandom(4).hex()}.{os.urandom(4).hex()}.{os.urandom(4).hex()}")
    remember(fresh("last"))


# ---------------------------------------------------------------------- pinning
def test_each_sessions_token_is_redacted_as_soon_as_it_is_pinned():
    redact("warm")  # (the matchers are current before each pin)
    a, b = fresh(), fresh()
    pin(a)
    assert hidden(a)
    pin(b)
    assert hidden(a) and hidden(b)
    short = os.urandom(2).hex()  # (the shortest secret redacted: 4 characters)
    pin(short)
    assert hidden(short)
    pin(None)  # (no token yet, or one too short to tell from text: nothing to do)
    pin("ab")
    pin(fresh(), previous=fresh())  # (a previous token no session pinned)


def test_a_pin_and_a_remembered_secret_between_two_redactions_both_count():
    redact("warm")
    a, b = fresh(), fresh()
    pin(a)
    remember(b)
    assert hidden(a) and hidden(b)


def test_a_replaced_token_is_still_redacted_then_forgotten_like_any_other():
    old, new = fresh(), fresh()
    pin(old)
    pin(new, previous=old)
    assert hidden(old) and hidden(new)  # (an old token in an error message)
    forget_tokens()
    assert hidden(new)  # in use: never forgotten
    assert not hidden(old)  # released: the tables stay bounded
    pin(None, previous=new)


def test_a_token_two_sessions_share_is_pinned_until_both_release_it():
    shared = fresh()
    pin(shared)
    pin(shared)
    pin(fresh(), previous=shared)  # one session renews
    forget_tokens()
    assert hidden(shared)  # the other still uses it
    pin(fresh(), previous=shared)
    forget_tokens()
    assert not hidden(shared)


# ---------------------------------------------------------------------- URLs
def test_without_query_keeps_the_url_up_to_its_first_question_mark():
    assert without_query("https://api.example/a/b?token=x?y=z") == "https://api.example/a/b"
    assert without_query("https://api.example/a b?q=1") == "https://api.example/a b"
    assert without_query("https://api.example/a") == "https://api.example/a"
    assert without_query(None) == "" and without_query("") == ""


# ---------------------------------------------------------------------- long secrets
def long_secret() -> str:
    return "Long-" + os.urandom(40).hex() + "-SeCrEt"  # (over 64 characters)


def test_a_long_secret_is_replaced_everywhere_in_any_case_and_the_rest_kept():
    s = long_secret()
    remember(s, lasting=True)
    assert redact(s) == REDACTED
    assert redact(f"{s} {s.upper()} {s.lower()} end") == f"{REDACTED} {REDACTED} {REDACTED} end"
    assert redact(f"[{s}]({s})") == f"[{REDACTED}]({REDACTED})"


def test_a_long_secret_is_replaced_in_text_whose_lower_case_is_longer():
    s = long_secret()
    remember(s, lasting=True)
    # ('İ' lower-cases to two characters: positions in the lower-cased copy shift)
    assert redact(f"İ {s} end") == f"İ {REDACTED} end"
    assert redact(f"İ {s.upper()} x {s} end") == f"İ {REDACTED} x {REDACTED} end"


def test_text_after_a_replaced_secret_is_kept_even_when_it_repeats_the_secrets_tail():
    s = "dacted>" + os.urandom(32).hex()  # (starts as the marker ends)
    remember(s, lasting=True)
    assert redact(f"{s}{s[7:]}") == f"{REDACTED}{s[7:]}"


# ---------------------------------------------------------------------- scrub
def nested(depth: int, text: str) -> list:
    """Exceptions each holding the next among its args, ``depth`` + 1 of them."""
    chain = [ValueError(text)]
    for _ in range(depth):
        chain.insert(0, RuntimeError(chain[0]))
    return chain


def test_scrub_follows_exceptions_in_args_five_deep_and_no_deeper():
    s = fresh("scrub")
    remember(s)
    chain = nested(4, f"deep {s}")
    scrub(chain[0])
    assert str(chain[4]) == f"deep {REDACTED}"  # (what requests and urllib3 nest)
    chain = nested(5, f"deep {s}")
    chain[4].args = (f"deep {s}", chain[5])
    scrub(chain[0])
    assert chain[4].args[0] == f"deep {REDACTED}"
    assert str(chain[5]) == f"deep {s}"  # the bound on the work: deeper is not followed


def test_scrub_follows_reasons_five_deep_and_no_deeper():
    s = fresh("reason")
    remember(s)
    errors = [RuntimeError(f"level {i} {s}") for i in range(6)]
    for outer, inner in zip(errors, errors[1:]):
        outer.reason = inner  # (urllib3's MaxRetryError, ProxyError)
    scrub(errors[0])
    assert [str(e) for e in errors[:5]] == [f"level {i} {REDACTED}" for i in range(5)]
    assert str(errors[5]) == f"level 5 {s}"


def test_scrub_redacts_urllib3s_reason():
    s = fresh("why")
    remember(s)
    err = urllib3.exceptions.MaxRetryError(None, "/x", reason=ValueError(f"refused {s}"))
    scrub(err)
    assert s not in str(err) and str(err.reason) == f"refused {REDACTED}"


def test_scrub_returns_on_exceptions_that_hold_each_other():
    s = fresh("cycle")
    remember(s)
    a, b = ValueError(f"a {s}"), ValueError(f"b {s}")
    a.args, b.args = (b, f"a {s}"), (a, f"b {s}")
    scrub(a)
    assert a.args[1] == f"a {REDACTED}" and b.args[1] == f"b {REDACTED}"
    c, d = ValueError(f"c {s}"), ValueError(f"d {s}")
    c.reason, d.reason = d, c
    scrub(c)
    assert str(c) == f"c {REDACTED}" and str(d) == f"d {REDACTED}"


def test_scrub_follows_a_chain_of_eight_causes_and_no_further():
    s = fresh("cause")
    remember(s)
    chain = [KeyError(f"{i} {s}") for i in range(9)]
    for later, earlier in zip(chain, chain[1:]):
        later.__cause__ = earlier
    scrub(chain[0])
    assert all(s not in str(e) for e in chain[:8])
    assert s in str(chain[8])


def test_scrub_leaves_the_callers_exception_alone_however_it_is_reached():
    s = fresh("caller")
    remember(s)
    theirs = KeyError(f"the caller's {s}")
    inner = ValueError(f"inner {s}")
    inner.__context__ = theirs
    ours = RuntimeError(inner)
    ours.__context__ = theirs
    scrub(ours, stop=theirs)
    assert str(inner) == f"inner {REDACTED}" and theirs.args == (f"the caller's {s}",)
    inner.__context__ = theirs
    why = RuntimeError("pool")
    why.reason = inner
    inner.args = (f"inner {s}",)
    scrub(why, stop=theirs)
    assert str(inner) == f"inner {REDACTED}" and theirs.args == (f"the caller's {s}",)


def test_scrub_keeps_notes_that_are_not_text():
    s = fresh("note")
    remember(s)
    err = ValueError("x")
    err.__notes__ = [f"note {s}", 42]
    scrub(err)
    assert err.__notes__ == [f"note {REDACTED}", 42]


# ---------------------------------------------------------------------- Secret
def test_secret_wraps_strings_once_and_leaves_the_rest():
    wrapped = secret("hunter22-pw")
    assert isinstance(wrapped, Secret) and wrapped == "hunter22-pw"
    assert repr(wrapped) == f"'{REDACTED}'"
    assert secret(wrapped) is wrapped
    assert secret(None) is None and secret(42) == 42 and not isinstance(secret(42), str)


# ---------------------------------------------------------------------- logging
@pytest.fixture
def watched():
    """A logger of its own, watched, with a handler that formats exc_info itself."""
    logger = logging.getLogger(f"pcpi.test.redact.{os.urandom(4).hex()}")
    lines: list = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Keep()
    logger.addHandler(handler)
    logger.propagate = False
    watch_logger(logger.name)
    watch_logger(logger.name)
    yield logger, lines
    logger.removeHandler(handler)


def test_a_watched_logger_redacts_its_records_once(watched):
    logger, lines = watched
    assert len(logger.filters) == 1
    s = fresh("log")
    remember(s)
    logger.warning("GET /x?auth=%s", s)
    assert lines == [f"GET /x?auth={REDACTED}"]


def test_an_exception_logged_unraised_is_folded_into_the_message_whole(watched):
    logger, lines = watched
    s = fresh("trace")
    remember(s)
    err = ValueError(f"bad answer {s}")  # (never raised: no traceback)
    logger.error("failed", exc_info=err)
    trace = "".join(traceback.format_exception(type(err), err, None))
    assert lines == [f"failed\n{redact(trace).rstrip()}"]
    try:
        raise err
    except ValueError:
        logger.exception("failed again")
        trace = "".join(traceback.format_exception(*sys.exc_info()))
    assert trace.startswith("Traceback") and s in trace
    assert lines[1] == f"failed again\n{redact(trace).rstrip()}"


# ---------------------------------------------------------------------- fork
def test_redaction_works_in_a_forked_child():
    s = fresh("child")

    def child():
        pin(s)
        return redact(f"in the child {s}")

    assert in_forked_child(child) == f"in the child {REDACTED}"


# (a prefix: both match where it starts; in the middle: replaced one after the other)
@pytest.mark.parametrize("size,at", [(12, 0), (80, 1), (200, 1), (200, 0)])
def test_a_secret_that_contains_another_is_replaced_whole(size, at):
    import os as _os

    from pcpi._redact import redact, remember

    rest = _os.urandom(size).hex()
    outer = ("az" + rest)[1 - at: size + 1 - at]  # "z..." or "az..."
    inner = outer[at: at + size // 2]  # (first in reverse alphabetical order too)
    remember(inner, outer, lasting=True)
    assert outer[at + size // 2:] not in redact(f"key={outer};")
