"""Interim (1xx) answers are read and dropped; the caller gets the final one.

http.client skips ``100 Continue`` before the real answer, but takes any other
1xx (``102 Processing``, ``103 Early Hints``, ...) for the answer itself: the
caller would get a 103 with an empty body while the real ``200`` waits, unread,
on the connection.  The connections of pcpi's pools read their answers with
:class:`FinalResponse`, which skips every 1xx (100 included, so that a server
cannot loop http.client on them either) up to :data:`MAX_INTERIM` of them; the
call's deadline (:mod:`pcpi._deadline`) bounds the time they take.  A ``101
Switching Protocols``, which pcpi never asks for, ends the answer with an error.
"""

from __future__ import annotations

import http.client
from typing import Any, Dict, Tuple

from ._redact import scrub

__all__ = ["FinalResponse", "final_response_connection", "MAX_INTERIM"]

#: interim answers skipped before one call's final answer
MAX_INTERIM = 16

# http.client's own bounds on a header block
_MAX_LINE = 65536
_MAX_HEADERS = 100


class TooManyInterim(http.client.HTTPException):
    """More interim (1xx) answers than :data:`MAX_INTERIM` before a final one."""


class FinalResponse(http.client.HTTPResponse):
    """An ``http.client.HTTPResponse`` that reads past interim answers."""

    def _read_status(self) -> Tuple[str, int, str]:
        for _ in range(MAX_INTERIM + 1):
            try:
                version, status, reason = super()._read_status()  # type: ignore[misc]
            except http.client.HTTPException as exc:
                scrub(exc)  # a status line the server sent may echo a token
                raise
            if not 100 <= status < 200:
                return version, status, reason
            if status == 101:  # pcpi never asks to switch protocols
                raise http.client.HTTPException("an unsolicited 101 Switching Protocols: "
                                                "the server does not speak HTTP/1.1 here")
            _skip_header_block(self.fp)
        raise TooManyInterim(f"more than {MAX_INTERIM} interim (1xx) answers before a final "
                             f"one; the server does not answer")


def _skip_header_block(fp: Any) -> None:
    """Read and drop one header block, within http.client's bounds."""
    for _ in range(_MAX_HEADERS + 1):
        line = fp.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            return
    raise http.client.HTTPException(f"an interim answer with more than {_MAX_HEADERS} headers")


_classes: Dict[type, type] = {}


def final_response_connection(cls: type) -> type:
    """``cls`` (a urllib3 connection class) reading answers with :class:`FinalResponse`."""
    if issubclass(cls, _Final):
        return cls
    sub = _classes.get(cls)
    if sub is None:
        # (no lock: this runs in forked children too; setdefault keeps one class)
        sub = _classes.setdefault(cls, type(f"Final{cls.__name__}", (_Final, cls), {}))
    return sub


class _Final:
    response_class = FinalResponse
