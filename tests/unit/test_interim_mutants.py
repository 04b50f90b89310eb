"""Interim (1xx) answers (pcpi._interim) at their bounds: exactly as many as
allowed, header blocks of exactly the longest line and the most lines, bare LF
line ends, a connection closed inside one, what the errors say, and that a status
line echoing a secret is redacted (mutation testing, issue 21)."""

from __future__ import annotations

import http.client
import io

import pytest
from urllib3.connection import HTTPConnection, HTTPSConnection

from pcpi import _redact
from pcpi._interim import MAX_INTERIM, FinalResponse, TooManyInterim, final_response_connection

FINAL = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class _File(io.BytesIO):
    """A socket's read file: flushing it after close is a no-op, as for a real one
    (http.client closes it on a bad status line, and its ``__del__`` flushes)."""

    def flush(self) -> None:
        if not self.closed:
            super().flush()


class _Sock:
    """What http.client reads an answer from: one in-memory file."""

    def __init__(self, wire: bytes):
        self.file = _File(wire)

    def makefile(self, mode):
        return self.file


def _begin(wire: bytes) -> FinalResponse:
    res = FinalResponse(_Sock(wire), method="GET")
    res.begin()
    return res


def _ok(res: FinalResponse) -> bool:
    return res.status == 200 and res.read() == b"ok"


def test_exactly_the_most_interim_answers_allowed_are_read_past():
    assert _ok(_begin(b"HTTP/1.1 102 Processing\r\n\r\n" * MAX_INTERIM + FINAL))


def test_one_interim_answer_too_many_ends_the_answer_saying_why():
    with pytest.raises(TooManyInterim) as raised:
        _begin(b"HTTP/1.1 103 Early Hints\r\n\r\n" * (MAX_INTERIM + 1) + FINAL)
    assert str(raised.value) == ("more than 16 interim (1xx) answers before a final one; "
                                 "the server does not answer")


def test_a_switch_of_protocols_is_refused_saying_why():
    with pytest.raises(http.client.HTTPException) as raised:
        _begin(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n" + FINAL)
    assert str(raised.value) == ("an unsolicited 101 Switching Protocols: the server does "
                                 "not speak HTTP/1.1 here")


def test_an_interim_header_line_of_exactly_the_longest_length_is_read_past():
    line = b"A: " + b"b" * (65536 - 5) + b"\r\n"  # 65,536 bytes with its CRLF
    assert len(line) == 65536
    assert _ok(_begin(b"HTTP/1.1 103 Early Hints\r\n" + line + b"\r\n" + FINAL))


def test_a_longer_interim_header_line_is_refused_after_reading_one_byte_past_the_bound():
    status = b"HTTP/1.1 103 Early Hints\r\n"
    sock = _Sock(status + b"A: " + b"b" * (1 << 20) + b"\r\n\r\n" + FINAL)
    res = FinalResponse(sock, method="GET")
    with pytest.raises(http.client.LineTooLong) as raised:
        res.begin()
    assert str(raised.value) == "got more than 65536 bytes when reading header line"
    assert sock.file.tell() <= len(status) + 65537  # a megabyte line is not read whole


@pytest.mark.parametrize("lines,whole", [(100, True), (101, False)])
def test_an_interim_answer_carries_at_most_100_header_lines(lines, whole):
    wire = b"HTTP/1.1 103 Early Hints\r\n" + b"Link: </a>\r\n" * lines + b"\r\n" + FINAL
    if whole:
        assert _ok(_begin(wire))
        return
    with pytest.raises(http.client.HTTPException) as raised:
        _begin(wire)
    assert str(raised.value) == "an interim answer with more than 100 headers"


def test_interim_answers_ended_by_bare_line_feeds_are_read_past():
    assert _ok(_begin(b"HTTP/1.1 103 Early Hints\nLink: </a>\n\n" + FINAL))


def test_a_connection_closed_inside_an_interim_answer_is_a_closed_connection():
    with pytest.raises(http.client.RemoteDisconnected):
        _begin(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n")


def test_a_status_line_that_echoes_a_secret_is_redacted():
    secret = "status-line-secret-" + "k3" * 6
    _redact.remember(secret)
    with pytest.raises(http.client.BadStatusLine) as raised:
        _begin(f"HTTP/1.1 20 {secret}\r\n\r\n".encode())
    assert secret not in str(raised.value) and _redact.REDACTED in str(raised.value)


def test_each_connection_class_gets_its_own_final_class():
    plain, tls = final_response_connection(HTTPConnection), final_response_connection(
        HTTPSConnection)
    assert plain is not tls
    assert issubclass(plain, HTTPConnection) and not issubclass(plain, HTTPSConnection)
    assert issubclass(tls, HTTPSConnection) and tls.response_class is FinalResponse
    assert final_response_connection(HTTPConnection) is plain
