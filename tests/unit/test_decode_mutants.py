"""Network-free tests of pcpi._decode written against mutmut's survivors: a body
labelled gzip that is not gzip, deflate bodies told zlib from raw by their first two
bytes, the output bound across gzip members, passes and feeds, chains whose inner
stream ends first, and the most layers decoded."""

from __future__ import annotations

import gzip
import random
import struct
import zlib

import pytest

from pcpi._decode import MAX_LAYERS, Corrupt, Decoder

DATA = b"".join(b"row %d of the answer\n" % i for i in range(5000))
#: bytes that do not compress (gzip makes them a little longer)
NOISE = random.Random(20).randbytes(6000)


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


def _stored_raw_deflate(first: int, payload: bytes) -> bytes:
    """A raw deflate stream (RFC 1951) of one stored block then an empty final one;
    ``first`` is its first byte: BFINAL 0, BTYPE 00 in the low three bits, the
    rest padding that inflaters skip."""
    assert first & 0x07 == 0 and len(payload) < 256
    n = len(payload)
    return bytes([first]) + struct.pack("<HH", n, n ^ 0xFFFF) + payload + b"\x03\x00"


def _feed(d: Decoder, blob: bytes, step: int) -> bytes:
    return b"".join(d.feed(blob[i:i + step]) for i in range(0, len(blob), step))


# ---------------------------------------------------------------------- what is gzip
@pytest.mark.parametrize("encoding", ["gzip", "x-gzip"])
def test_a_zlib_stream_labelled_gzip_is_corrupt_not_decoded(encoding):
    with pytest.raises(Corrupt):
        Decoder(encoding).feed(zlib.compress(DATA))


def test_corrupt_says_what_zlib_found():
    bad = b"this is not gzip at all"
    with pytest.raises(zlib.error) as found:
        zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(bad)
    with pytest.raises(Corrupt) as info:
        Decoder("gzip").feed(bad)
    assert str(found.value) and str(found.value) in str(info.value)


# ---------------------------------------------------------------------- zlib or raw deflate
def test_a_two_byte_raw_deflate_body_is_whole():
    empty = _raw_deflate(b"")
    assert len(empty) == 2
    d = Decoder("deflate")
    assert d.feed(empty) == b""
    assert d.ended
    d.finish()


@pytest.mark.parametrize("first,payload", [
    (0x88, bytes(range(28))),  # 0x881c: a valid check, but a window of 2**16 (CINFO 8)
    (0x78, bytes(28)),         # 0x781c: CM 8, CINFO 7, but the check fails
])
def test_two_first_bytes_that_are_not_a_zlib_header_start_raw_deflate(first, payload):
    blob = _stored_raw_deflate(first, payload)
    assert blob[1] == 28  # LEN's low byte is the would-be FLG
    for step in (1, 2, len(blob)):
        d = Decoder("deflate")
        assert _feed(d, blob, step) == payload
        d.finish()


# ---------------------------------------------------------------------- after the end
def test_bytes_fed_after_a_whole_stream_decode_to_nothing():
    d = Decoder("gzip")
    assert d.feed(gzip.compress(DATA)) == DATA
    assert d.ended
    assert d.feed(b"\0\0 trailing junk") == b""
    assert d.feed(b"more") == b""
    d.finish()


def test_a_chain_ends_when_its_inner_stream_ends():
    junk = b"\0" + NOISE  # not a gzip member's first byte
    body = zlib.compress(gzip.compress(DATA) + junk)  # "gzip, deflate"
    d = Decoder("gzip, deflate")
    out, fed = b"", 0
    while not d.ended and fed < len(body):
        out += d.feed(body[fed:fed + 256])
        fed += 256
    assert d.ended and fed < len(body)  # the junk's deflate is never needed
    assert out == DATA
    d.finish()  # whole, though the outer stream was not read to its end


# ---------------------------------------------------------------------- the bound
@pytest.mark.parametrize("limit", [999, 1500, 3000])
def test_every_gzip_member_counts_toward_the_bound(limit):
    two = gzip.compress(DATA[:1000]) + gzip.compress(DATA[1000:])
    out = Decoder("gzip", limit).feed(two)
    assert out == DATA[:limit + 1]


def test_the_bound_holds_across_feeds():
    d = Decoder("gzip", 1500)
    out = _feed(d, gzip.compress(DATA), 200)
    assert out == DATA[:1501]


def test_a_bounded_chain_goes_on_where_it_stopped():
    # 400 empty gzip members, then the data: the outer layer's content is far larger
    # than what it decodes to, so each feed takes the outer layer several passes
    inner = gzip.compress(b"") * 400 + gzip.compress(DATA[:2000])
    d = Decoder("gzip, gzip", 3000)
    assert _feed(d, gzip.compress(inner), 64) == DATA[:2000]
    assert d.ended
    d.finish()


@pytest.mark.parametrize("split", [100, len(NOISE) + 1])
def test_a_bounded_chain_decodes_whole_across_passes(split):
    # the outer gzip (two members) holds more than the limit, its content less:
    # the outer layer stops at the bound and goes on in the next passes
    inner = gzip.compress(NOISE)
    outer = gzip.compress(inner[:split]) + gzip.compress(inner[split:])
    for step in (len(outer), 1000):
        d = Decoder("gzip, gzip", len(NOISE))
        assert _feed(d, outer, step) == NOISE
        assert d.ended
        d.finish()


# ---------------------------------------------------------------------- names and layers
def test_the_most_layers_are_decoded():
    blob = DATA
    for _ in range(MAX_LAYERS):
        blob = gzip.compress(blob)
    d = Decoder(", ".join(["gzip"] * MAX_LAYERS))
    assert d.decodes and not d.unusable
    assert d.feed(blob) == DATA
    d.finish()


@pytest.mark.parametrize("header", [None, ""])
def test_no_content_encoding_names_no_encoding(header):
    d = Decoder(header)
    assert d.encodings == [] and d.unusable == ""
    assert d.feed(b"raw") == b"raw"
