"""A request body prepared once, so that every attempt of a call sends the same bytes.

requests encodes ``json=``, ``data=`` and ``files=`` when a request is prepared.
Preparing again for a retry reads ``files`` (and any file passed as ``data``)
from where the first attempt left them, at the end, and sends an empty body.
:class:`Payload` encodes once: JSON, forms and multipart uploads become bytes;
a seekable file is rewound to where it started before each attempt; anything
else (a generator, a pipe) is marked as not replayable, so the retry loop
never resends it.  No I/O here.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import requests
from requests.structures import CaseInsensitiveDict

__all__ = ["Payload", "EMPTY"]


class Payload:
    """The body of one call: ``data`` (bytes, str, a stream or None) and the
    ``content_type`` requests would give it."""

    __slots__ = ("data", "content_type", "_start", "not_replayable")

    def __init__(self, data: Any = None, content_type: Optional[Union[str, bytes]] = None,
                 start: Optional[int] = None, not_replayable: str = ""):
        self.data: Any = data
        self.content_type: Optional[Union[str, bytes]] = content_type
        self._start = start
        #: why this body cannot be sent twice ("" when it can)
        self.not_replayable: str = not_replayable

    @classmethod
    def of(cls, *, json: Any = None, data: Any = None, files: Any = None) -> "Payload":
        """Encode a body as requests would (same bytes, same Content-Type)."""
        if json is None and data is None and not files:
            return EMPTY
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)  # requests would stream these; as bytes they replay
        prep = requests.PreparedRequest()
        prep.headers = CaseInsensitiveDict()
        prep.prepare_body(data, files, json)
        body = prep.body
        content_type = prep.headers.get("Content-Type")
        if body is None or isinstance(body, (bytes, str)):
            return cls(body, content_type)
        start = _position(body)
        if start is None:
            return cls(body, content_type, None,
                       f"its body (a {type(body).__name__}) cannot be sent again; pass "
                       f"bytes or a seekable file to allow retries")
        return cls(body, content_type, start)

    @property
    def replayable(self) -> bool:
        return not self.not_replayable

    def rewind(self) -> None:
        """Put a file body back where the call's first attempt started."""
        if self._start is not None:
            self.data.seek(self._start)


def _position(stream: Any) -> Optional[int]:
    """Where a seekable stream is now, or None when it cannot be rewound."""
    try:
        if hasattr(stream, "seekable") and not stream.seekable():
            return None
        position: int = stream.tell()
        return position
    except (AttributeError, OSError, ValueError):
        return None


EMPTY = Payload()
