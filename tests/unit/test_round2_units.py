"""Network-free tests of issue 20's policy parts: the decoder that knows when a
compressed stream ended (pcpi._decode), the bounded cache (pcpi._bounded), the
interim-answer reader (pcpi._interim), the redaction boundary (pcpi._redact) and
strict JSON (pcpi._answer)."""

from __future__ import annotations

import gzip
import io
import os
import zlib

import pytest

from pcpi import _redact
from pcpi._answer import NotJSON, strict_json
from pcpi._bounded import BoundedCache
from pcpi._decode import MAX_LAYERS, Corrupt, Decoder, Truncated
from pcpi._interim import MAX_INTERIM, FinalResponse, TooManyInterim, final_response_connection

from .._fakes import in_forked_child

DATA = b"".join(b"row %d of the answer\n" % i for i in range(5000))


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


ENCODED = {"gzip": gzip.compress(DATA), "x-gzip": gzip.compress(DATA),
           "deflate": zlib.compress(DATA), "raw-deflate": _raw_deflate(DATA),
           "gzip, deflate": zlib.compress(gzip.compress(DATA))}


def _decode(encoding, blob, step, limit=None):
    d = Decoder({"raw-deflate": "deflate"}.get(encoding, encoding), limit)
    out = b"".join(d.feed(blob[i:i + step]) for i in range(0, len(blob), step))
    return d, out


# ---------------------------------------------------------------------- the decoder
@pytest.mark.parametrize("encoding", sorted(ENCODED))
@pytest.mark.parametrize("step", [1, 3, 4096, 1 << 20])
def test_whole_streams_decode_in_any_slicing(encoding, step):
    d, out = _decode(encoding, ENCODED[encoding], step)
    d.finish()
    assert out == DATA and d.decodes


@pytest.mark.parametrize("encoding", sorted(ENCODED))
@pytest.mark.parametrize("cut", [1, 9, 0.5, -8, -1])
def test_a_stream_cut_anywhere_is_truncated(encoding, cut):
    blob = ENCODED[encoding]
    end = int(len(blob) * cut) if isinstance(cut, float) else cut % len(blob)
    d, _ = _decode(encoding, blob[:end], 7)
    with pytest.raises(Truncated, match={"raw-deflate": "deflate"}.get(
            encoding, encoding).split(",")[0]):
        d.finish()


def test_a_second_gzip_member_must_end_too_and_garbage_after_a_whole_one_is_ignored():
    two = gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:])
    d, out = _decode("gzip", two, 100)
    d.finish()
    assert out == DATA
    d, _ = _decode("gzip", two[:-3], 100)
    with pytest.raises(Truncated):
        d.finish()
    d, out = _decode("gzip", gzip.compress(DATA) + b"\0\0 trailing junk", 100)
    d.finish()
    assert out == DATA
    d, out = _decode("gzip", gzip.compress(DATA) + b"\x1f", 100)  # a member's first byte
    with pytest.raises(Truncated):
        d.finish()


def test_data_after_a_whole_deflate_stream_is_not_decoded():
    d, out = _decode("deflate", zlib.compress(DATA) + b"more", 50)
    d.finish()
    assert out == DATA


@pytest.mark.parametrize("limit", [0, 1, 100, len(DATA) - 1])
def test_output_is_bounded_at_every_layer(limit):
    for encoding in ("gzip", "gzip, deflate"):
        d = Decoder(encoding, limit)
        out = d.feed(ENCODED[encoding])
        assert limit < len(out) <= limit + 1  # the caller sees one byte too many, no more
    d = Decoder("gzip", len(DATA))
    assert d.feed(ENCODED["gzip"]) == DATA  # exactly at the limit: whole


def test_a_bomb_is_read_only_to_the_limit():
    bomb = gzip.compress(b"\0" * (50 << 20))
    d = Decoder("gzip, gzip", 1 << 16)
    out = d.feed(gzip.compress(bomb))
    assert len(out) == (1 << 16) + 1


def test_bytes_that_are_not_the_encoding_are_corrupt():
    with pytest.raises(Corrupt):
        Decoder("gzip").feed(b"this is not gzip at all")
    with pytest.raises(Corrupt):
        Decoder("deflate").feed(b"\xff" * 64)
    d = Decoder("gzip")
    blob = bytearray(ENCODED["gzip"])
    blob[30] ^= 0xFF  # a bit flipped inside the stream
    with pytest.raises((Corrupt, Truncated)):
        d.feed(bytes(blob))
        d.finish()


@pytest.mark.parametrize("header", [None, "", "identity", "br", "zstd", "compress"])
def test_other_encodings_are_passed_as_they_came(header):
    d = Decoder(header)
    assert not d.decodes and d.feed(b"raw bytes") == b"raw bytes"
    d.finish()


@pytest.mark.parametrize("header,why", [
    ("gzip, br", "cannot decode"), (", ".join(["gzip"] * (MAX_LAYERS + 1)), "more than 5"),
    (", ".join(["identity"] * 5 + ["br", "gzip"]), "cannot decode")])
def test_a_chain_pcpi_cannot_decode_is_corrupt_not_passed(header, why):
    d = Decoder(header)
    assert why in d.unusable
    with pytest.raises(Corrupt, match=why):
        d.feed(b"")


def test_past_the_bound_nothing_more_is_decoded():
    d = Decoder("gzip", 100)
    assert len(d.feed(ENCODED["gzip"][:5000])) == 101
    assert d.feed(ENCODED["gzip"][5000:]) == b""


def test_a_deflate_stream_is_told_from_its_first_two_bytes_however_it_arrives():
    for blob in (ENCODED["deflate"], ENCODED["raw-deflate"]):
        d = Decoder("deflate")
        out = d.feed(blob[:1]) + d.feed(blob[1:2]) + d.feed(blob[2:])
        d.finish()
        assert out == DATA and d.ended


def test_a_decoder_knows_when_every_stream_ended():
    d = Decoder("gzip, deflate")
    d.feed(ENCODED["gzip, deflate"][:-10])
    assert not d.ended
    d.feed(ENCODED["gzip, deflate"][-10:])
    assert d.ended and not Decoder(None).ended


def test_encoding_names_are_read_without_case_or_spaces():
    d, out = _decode(" GZIP , Identity", ENCODED["gzip"], 1000)
    d.finish()
    assert out == DATA and d.encodings == ["gzip"]


def test_an_empty_body_marked_compressed_is_whole():
    d = Decoder("gzip")
    assert d.feed(b"") == b""
    d.finish()


# ---------------------------------------------------------------------- the bounded cache
def test_the_least_recently_used_entry_goes_first():
    cache = BoundedCache(3)
    for k in "abc":
        cache.put(k, k.upper())
    assert cache.get("a") == "A"  # a use: now the newest
    cache.put("d", "D")
    assert cache.keys() == ["c", "a", "d"] and "b" not in cache and len(cache) == 3
    assert cache.peek("c") == "C" and cache.keys()[0] == "c"  # a peek is not a use


def test_a_size_bound_evicts_until_it_holds_and_refuses_what_never_fits():
    cache = BoundedCache(100, size=10, sizeof=lambda k, v: len(v))
    cache.put("a", "x" * 4)
    cache.put("b", "x" * 4)
    cache.put("c", "x" * 4)  # 12 > 10: "a" goes
    assert cache.keys() == ["b", "c"] and cache.held == 8
    cache.put("b", "x")  # replaced: its old size is given back
    assert cache.held == 5
    cache.put("huge", "x" * 11)  # larger than the whole cache: not kept
    assert "huge" not in cache and cache.held == 5
    assert cache.pop("b") == "x" and cache.held == 4 and cache.pop("b", "gone") == "gone"
    cache.clear()
    assert len(cache) == 0 and cache.held == 0


def test_setdefault_items_iteration_and_defaults():
    cache = BoundedCache(2)
    assert cache.setdefault("a", 1) == 1 and cache.setdefault("a", 2) == 1
    assert cache.get("missing", 7) == 7 and cache.peek("missing") is None
    assert cache.items() == [("a", 1)] and list(cache) == ["a"]


def test_a_bounded_cache_needs_room_for_something():
    for bad in ({"entries": 0}, {"entries": 1, "size": 0}):
        with pytest.raises(ValueError):
            BoundedCache(**bad)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_cache_is_usable_in_a_child_forked_while_its_lock_was_held():
    cache = BoundedCache(2)
    cache.put("a", 1)
    held = cache._lock  # as a thread caught in the middle of a put holds it
    held.acquire()

    def child():
        cache.put("b", 2)
        return cache.items()

    try:
        assert in_forked_child(child) == [["a", 1], ["b", 2]]
    finally:
        held.release()


# ---------------------------------------------------------------------- interim answers
class _Sock:
    def __init__(self, data: bytes):
        self._file = io.BytesIO(data)

    def makefile(self, mode):
        return self._file


def _response(wire: bytes) -> FinalResponse:
    res = FinalResponse(_Sock(wire), method="GET")
    res.begin()
    return res


def test_interim_answers_are_read_past():
    res = _response(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                    b"HTTP/1.1 100 Continue\r\n\r\n"
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert res.status == 200 and res.read() == b"ok"


def test_more_interim_answers_than_the_bound_end_the_answer():
    with pytest.raises(TooManyInterim, match="interim"):
        _response(b"HTTP/1.1 102 Processing\r\n\r\n" * (MAX_INTERIM + 1) +
                  b"HTTP/1.1 200 OK\r\n\r\n")


def test_an_interim_answer_with_endless_headers_is_refused():
    import http.client

    with pytest.raises(http.client.HTTPException):
        _response(b"HTTP/1.1 103 X\r\n" + b"A: b\r\n" * 200 + b"\r\nHTTP/1.1 200 OK\r\n\r\n")
    with pytest.raises(http.client.LineTooLong):
        _response(b"HTTP/1.1 103 X\r\nA: " + b"b" * 70000 + b"\r\n\r\n")


def test_an_unsolicited_switch_of_protocols_is_an_error():
    import http.client

    with pytest.raises(http.client.HTTPException, match="101"):
        _response(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n")


def test_a_connection_class_is_made_once_and_kept():
    from urllib3.connection import HTTPSConnection

    one = final_response_connection(HTTPSConnection)
    assert final_response_connection(HTTPSConnection) is one
    assert final_response_connection(one) is one and one.response_class is FinalResponse


# ---------------------------------------------------------------------- redaction
def test_a_secret_is_found_in_every_form_a_text_can_hold_it():
    secret = "Pa ss/wörd:é&=" + "Zq9"
    _redact.remember(secret, lasting=True)
    from urllib.parse import quote, quote_plus

    for form in (secret, secret.upper(), quote(secret, safe=""), quote(secret).lower(),
                 quote_plus(secret), repr(secret)[1:-1], f"{secret!r}"):
        assert secret not in _redact.redact(f"x {form} y") and \
            form not in _redact.redact(f"x {form} y"), form


def test_short_secrets_are_not_redacted_and_jwts_are_in_any_case():
    _redact.remember("abc")
    assert _redact.redact("abc abc") == "abc abc"
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    assert _redact.redact(f"https://{jwt.lower()}.evil/") == "https://<redacted>.evil/"


def test_scrub_redacts_args_nested_exceptions_messages_notes_and_chains():
    from pcpi.errors import LoginError

    secret = "scrub-me-" + "q7" * 8
    _redact.remember(secret)
    inner = ValueError(f"inner {secret}")
    outer = RuntimeError(inner, f"outer {secret}", 5, object())
    try:
        try:
            raise KeyError(secret)
        except KeyError:
            raise outer from LoginError(f"why {secret}")
    except RuntimeError:
        pass
    if hasattr(outer, "add_note"):
        outer.add_note(f"note {secret}")
    _redact.scrub(outer)
    texts = [str(outer), repr(outer.args), str(outer.__cause__),
             str(outer.__cause__.message), repr(inner), str(getattr(outer, "__notes__", ""))]
    assert not any(secret in t for t in texts), texts


def test_an_exception_that_cycles_through_its_context_is_scrubbed_once():
    a, b = ValueError("a"), ValueError("b")
    a.__context__, b.__context__ = b, a
    _redact.scrub(a)  # returns: the chain is followed a bounded number of times


def test_held_bytes_count_both_tables():
    before = _redact.held_bytes()
    # (new each run, and larger than any secret the suite remembers: a table full by
    # count drops one of those for it, so what is held still grows)
    _redact.remember(f"held-bytes-{os.urandom(8).hex()}" + "z" * 5000, lasting=True)
    assert _redact.held_bytes() > before


# ---------------------------------------------------------------------- strict JSON
def test_strict_json_reads_utf8_and_refuses_the_rest_saying_where():
    assert strict_json('{"a": "café"}'.encode()) == {"a": "café"}
    assert strict_json(b'\xef\xbb\xbf[1]') == [1]  # a byte-order mark is allowed
    with pytest.raises(NotJSON, match=r"not valid UTF-8 \(byte 10 of"):
        strict_json(b'{"a": "caf\xe9"}')
    with pytest.raises(NotJSON, match="not JSON"):
        strict_json(b"<html>")
    with pytest.raises(NotJSON, match="nested deeper"):
        strict_json(b"[" * 100_000 + b"]" * 100_000)
