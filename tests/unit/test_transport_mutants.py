"""The transport's small parts at their edges (mutation testing of pcpi._transport,
issue 21): how a body is counted against max_response_bytes (bytes as sent and as
decoded, across chunks), bytes after a whole compressed stream, which answers keep
a body that cannot be decoded, what read errors keep of their cause, the texts of
an answer that are redacted, proxy passwords and their parts, header values and
deadlines at their bounds."""

from __future__ import annotations

import gzip
import math
import random
import threading
import zlib

import pytest
import requests
import urllib3

from pcpi import _redact
from pcpi._decode import Decoder
from pcpi._transport import (
    _CHUNK,
    _TRAILING,
    Transport,
    _body,
    _Call,
    _raw_chunks,
    _redact_answer,
    remember_proxy_passwords,
    total_seconds,
    valid_header_value,
)
from pcpi.errors import ResponseTooLargeError, TruncatedBodyError

from .test_transport_edges import URL, _answer, _read_into, no_proxy_env  # noqa: F401

E = requests.exceptions
CALL = _Call("GET", URL, None)


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data)


def _read_body(res: requests.Response, limit=None):
    return _body(CALL, res, Decoder(res.headers.get("Content-Encoding"), limit), limit)


# -- counting against max_response_bytes -------------------------------------------

def test_bytes_as_sent_count_across_chunks_even_when_they_decode_smaller():
    """Random bytes grow a little when compressed: what the server sends passes the
    limit before what it decodes to does, a few chunks in."""
    data = random.Random(1).randbytes(5 * _CHUNK)
    sent = _gzip(data)
    assert len(sent) > len(data)
    res = _answer(sent, headers={"Content-Encoding": "gzip"})
    with pytest.raises(ResponseTooLargeError):
        _read_body(res, limit=len(data))  # decoded: exactly the limit; sent: over it


def test_decoded_bytes_count_across_chunks_when_each_chunk_is_under_the_limit():
    """Text that compresses about 2:1, sent in several chunks: each chunk decodes to
    less than the limit, all of them to more."""
    rng = random.Random(2)
    data = bytes(rng.choice(b"0123456789abcdef") for _ in range(16 * _CHUNK))
    sent = _gzip(data)
    assert 2 * _CHUNK < len(sent) < len(data) // 1.5
    limit = (len(sent) + len(data)) // 2  # over what is sent, under what it decodes to
    res = _answer(sent, headers={"Content-Encoding": "gzip"})
    with pytest.raises(ResponseTooLargeError):
        _read_body(res, limit=limit)


def test_a_body_under_the_limit_as_sent_and_as_decoded_is_read_whole():
    data = b"row\n" * 10_000
    res = _answer(_gzip(data), headers={"Content-Encoding": "gzip"})
    assert b"".join(_read_body(res, limit=len(data))) == data


# -- bytes after a whole compressed stream -------------------------------------------

def test_up_to_64_kib_after_a_whole_stream_are_read_and_the_connection_kept():
    data = b"payload " * 100
    sent = _gzip(data)
    # exactly 64 KiB counted after the stream: those in its last chunk are not counted
    after = (_CHUNK - len(sent)) + _TRAILING
    res = _answer(sent + b"\0" * after, headers={"Content-Encoding": "gzip"})
    assert b"".join(_read_body(res)) == data
    assert res.wire.taken == res.wire.size and not res.wire.closed


def test_the_64_kib_after_a_whole_stream_are_counted_to_the_byte():
    """64 KiB and one byte counted after the stream: all are read, the last one in a
    chunk of its own, before reading stops."""
    sent = _gzip(b"payload " * 100)
    after = (_CHUNK - len(sent)) + _TRAILING + 1
    res = _answer(sent + b"\0" * after, headers={"Content-Encoding": "gzip"})
    _read_body(res)
    assert res.wire.taken == res.wire.size


def test_more_than_64_kib_after_a_whole_stream_are_not_read_to_their_end():
    data = b"payload " * 100
    res = _answer(_gzip(data) + b"\0" * (64 * _CHUNK), headers={"Content-Encoding": "gzip"})
    assert b"".join(_read_body(res)) == data
    assert res.wire.closed  # the connection goes
    assert res.wire.taken <= len(_gzip(data)) + _TRAILING + 2 * _CHUNK


# -- which answers keep a body that cannot be decoded ----------------------------------

@pytest.mark.parametrize("status", [300, 302, 404, 500])
def test_an_error_or_redirect_answer_keeps_what_could_be_decoded(status):
    res = _answer(b"this is not gzip at all", status=status,
                  headers={"Content-Encoding": "gzip"})
    assert _read_body(res) == []  # its status says what matters


@pytest.mark.parametrize("status", [200, 299])
def test_a_data_answer_that_cannot_be_decoded_is_an_error_carrying_the_answer(status):
    res = _answer(b"this is not gzip at all", status=status,
                  headers={"Content-Encoding": "deflate, gzip"})
    with pytest.raises(E.ContentDecodingError) as raised:
        _read_body(res)
    assert raised.value.response is res
    assert "deflate" in str(raised.value) and "gzip" in str(raised.value)
    assert "deflate, gzip" in str(raised.value) or "gzip, deflate" in str(raised.value)


def test_a_cut_stream_in_a_data_answer_is_an_error_naming_its_encodings():
    sent = _gzip(_deflate(b"x" * 50_000))
    res = _answer(sent[: len(sent) // 2], headers={"Content-Encoding": "deflate, gzip"})
    with pytest.raises(TruncatedBodyError) as raised:
        _read_body(res)
    assert raised.value.response is res
    assert "deflate, gzip" in str(raised.value) or "gzip, deflate" in str(raised.value)


def test_a_cut_stream_in_an_error_answer_keeps_what_was_decoded():
    sent = _gzip(b"error text " * 5000)
    res = _answer(sent[: len(sent) // 2], status=503, headers={"Content-Encoding": "gzip"})
    kept = b"".join(_read_body(res))
    assert kept and (b"error text " * 5000).startswith(kept)


# -- reading the raw body -----------------------------------------------------------

def test_the_body_is_decoded_once_by_pcpi_never_by_urllib3_first():
    """The in-memory answer is built with urllib3's default (decode_content=True):
    pcpi asks for the raw bytes whatever that default is."""
    data = b'{"items": []}' * 1000
    res = _answer(_gzip(data), headers={"Content-Encoding": "gzip"})
    assert res.raw.decode_content  # (the default this test is about)
    _read_into(res, None)
    assert res.content == data


def test_the_raw_body_is_read_in_16_kib_chunks():
    res = _answer(b"z" * (4 * _CHUNK))
    assert [len(c) for c in _raw_chunks(res)] == [_CHUNK] * 4


class _Broken:
    """A raw answer whose stream fails the way urllib3's do."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def stream(self, amt=None, decode_content=None):
        yield b"first"
        raise self.exc


@pytest.mark.parametrize("raised,becomes", [
    (urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead(5 bytes read)"),
     E.ChunkedEncodingError),
    (urllib3.exceptions.ReadTimeoutError(None, URL, "Read timed out: cause-text"),
     E.ConnectionError),
    (urllib3.exceptions.SSLError("cause-text: bad record mac"), E.SSLError),
    (urllib3.exceptions.DecodeError("cause-text: incorrect header check"),
     E.ContentDecodingError),
])
def test_a_broken_read_becomes_requests_error_keeping_its_cause(raised, becomes):
    res = requests.Response()
    res.raw = _Broken(raised)
    chunks = _raw_chunks(res)
    assert next(chunks) == b"first"
    with pytest.raises(becomes) as caught:
        next(chunks)
    cause = "IncompleteRead" if isinstance(raised, urllib3.exceptions.ProtocolError) \
        else "cause-text"
    assert cause in str(caught.value)


# -- the texts of an answer that are redacted ------------------------------------------

SECRET = "answer-text-secret-" + "q7" * 8


def _plain(reason, url=URL, history=()) -> requests.Response:
    res = requests.Response()
    res.status_code = 400
    res.reason = reason
    res.url = url
    res.history = list(history)
    return res


def test_a_reason_phrase_of_the_servers_own_is_redacted():
    _redact.remember(SECRET)
    res = _plain(f"Bad token {SECRET}")
    _redact_answer(res)
    assert SECRET not in res.reason and res.reason.startswith("Bad token ")


def test_a_standard_reason_phrase_and_none_are_kept_as_they_are():
    for reason in ("Bad Request", None, ""):
        res = _plain(reason)
        _redact_answer(res)
        assert res.reason == reason


def test_the_url_a_redirect_led_to_is_redacted_and_kept():
    _redact.remember(SECRET)
    res = _plain("Bad Request", url=f"{URL}?next={SECRET}", history=[requests.Response()])
    _redact_answer(res)
    assert res.url.startswith(f"{URL}?next=") and SECRET not in res.url


def test_the_callers_own_url_is_not_rewritten_without_a_redirect():
    _redact.remember(SECRET)
    res = _plain("Bad Request", url=f"{URL}?mine={SECRET}")
    _redact_answer(res)
    assert res.url == f"{URL}?mine={SECRET}"


# -- proxy passwords ------------------------------------------------------------------

def _hidden(text: str) -> bool:
    """Whether all of ``text`` is redacted as one secret (not only some parts)."""
    return _redact.redact(f"<{text}>") == f"<{_redact.REDACTED}>"


def test_a_proxy_password_is_redacted_as_written_decoded_and_in_parts():
    remember_proxy_passwords([None, 8080, "http://user:pa:ss%40w0rd/tail-part#frag-part"
                                          "@proxy.example:99999"])
    assert _hidden("pa:ss%40w0rd/tail-part#frag-part")  # as written
    assert _hidden("pa:ss@w0rd/tail-part#frag-part")    # decoded
    assert _hidden("pa:ss%40w0rd")                      # where a parser cut at "/"
    assert _hidden("tail-part") and _hidden("frag-part")
    assert _redact.redact("user@proxy.example") == "user@proxy.example"


def test_a_proxy_url_without_a_password_adds_nothing():
    before = _redact.held_bytes()
    remember_proxy_passwords(["http://only-a-user@proxy.example:3128",
                              "http://user:@proxy.example:3128", "http://proxy.example:3128"])
    assert _redact.held_bytes() == before


def test_a_proxy_password_outlasts_any_number_of_tokens():
    remember_proxy_passwords(["https://user:lasting-proxy-password@proxy.example:3128"])
    for n in range(300):  # more than the tokens' table holds (1 MiB)
        _redact.remember(f"flood-{n:04d}-" + "t" * 4096)
    assert _hidden("lasting-proxy-password")


# -- header values and deadlines at their bounds ---------------------------------------

@pytest.mark.parametrize("value", [" token", "\ttoken", "\u00a0token", "\u0085token",
                                   b" token"])
def test_a_header_value_starting_with_one_whitespace_character_is_refused(value):
    assert not valid_header_value(value)


def test_a_header_value_of_latin_1_bytes_is_read_as_latin_1():
    assert valid_header_value("caf\u00e9".encode("latin-1"))


@pytest.mark.parametrize("timeout", [(threading.TIMEOUT_MAX, 0), (1e300, 1), (1, math.inf),
                                     (math.nan, 1)])
def test_a_deadline_too_long_to_wait_for_is_no_deadline(timeout):
    assert total_seconds(timeout) is None


def test_a_deadline_just_under_the_longest_wait_is_kept():
    assert total_seconds((threading.TIMEOUT_MAX - 10, 1)) == threading.TIMEOUT_MAX - 9


# -- what a transport is built with reaches what sends --------------------------------

def test_every_call_accepts_any_type_unless_the_caller_says_otherwise():
    from .test_transport_edges import _unsent

    assert _unsent(headers={}).request.headers["Accept"] == "*/*"


def test_a_pacer_given_to_a_transport_is_the_one_it_uses():
    from pcpi._pacing import Pacer

    pacer = Pacer()
    transport = Transport(pacing=pacer)
    assert transport.pacer is pacer
    transport.close()


def test_the_pool_sizes_reach_the_connection_pools():
    transport = Transport(pool_connections=3, pool_maxsize=7, pacing=False)
    manager = transport._adapter.poolmanager  # (the one reach: no public handle on pools)
    assert manager.connection_pool_kw["maxsize"] == 7
    for n in range(5):  # pools for 5 origins (no connection is opened): 3 are kept
        manager.connection_from_host(f"h{n}.example", 443, "https")
    assert len(manager.pools) == 3
    transport.close()


@pytest.fixture
def proxy_env(no_proxy_env):  # noqa: F811  (the environment without proxies, to set)
    return no_proxy_env


def test_a_callers_none_proxy_drops_the_environments_for_that_scheme_only(proxy_env):
    proxy_env.setenv("HTTPS_PROXY", "http://proxy-a.example:3128")
    proxy_env.setenv("HTTP_PROXY", "http://proxy-h.example:3128")
    transport = Transport(pacing=False)
    assert transport.proxies_for(URL, {"https": None}) == {"http": "http://proxy-h.example:3128"}
    assert transport.proxies_for(URL, {"ftp": None, "http": ""}) == \
        {"https": "http://proxy-a.example:3128", "http": ""}  # (not there: nothing to drop)
    transport.close()


def test_a_compression_bomb_is_decoded_no_further_than_the_limit():
    """16 KiB chunks of zeros decode to about 16 MiB each: the decoder stops at the
    limit instead of handing over the whole chunk first."""
    import tracemalloc

    sent = _gzip(bytes(64 << 20))
    res = _answer(sent, headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError):
            _read_into(res, 1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # a few times the 1 MiB limit, never the chunk's 16 MiB
