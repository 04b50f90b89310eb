"""Content-Encoding decoding that knows when a compressed stream is whole.  No I/O here.

urllib3 decodes ``gzip`` and ``deflate`` bodies but does not check that the
compressed stream ended: when a server's HTTP framing is complete (a matching
Content-Length, or a last chunk) but the gzip stream inside stops early, the
caller gets the part that was decoded, as if it were the whole answer.  pcpi
reads bodies raw and decodes them here instead:

* each layer of a (possibly chained) encoding must reach the end of its stream
  (a gzip member's trailer, a zlib or raw deflate stream's end block), or
  :meth:`Decoder.finish` raises :class:`Truncated`;
* output is produced in bounded pieces (``zlib``'s ``max_length``), so a
  decompression bomb stops at the caller's size limit, at every layer;
* pcpi asks for ``gzip`` and ``deflate`` only (its ``Accept-Encoding``); a body
  in one other encoding (``br``, ``zstd``, unknown) is returned as it came,
  undecoded, as requests does when it has no decoder for it; a chain with such
  a layer, or of more than :data:`MAX_LAYERS`, is :class:`Corrupt`.

Bytes after a complete stream are ignored (as urllib3 and browsers do), unless
they start another gzip member, which must then be whole too; the transport
reads at most a little of them.
"""

from __future__ import annotations

import zlib
from typing import Any, List, Optional

__all__ = ["Decoder", "Truncated", "Corrupt", "DECODED", "MAX_LAYERS"]

#: encodings pcpi decodes (what its Accept-Encoding asks for)
DECODED = frozenset({"gzip", "x-gzip", "deflate"})
#: most layers of a chained encoding decoded (urllib3's bound too)
MAX_LAYERS = 5

_GZIP_MAGIC = b"\x1f\x8b"


class Truncated(Exception):
    """A compressed stream ended before its end marker: the body was cut short."""


class Corrupt(Exception):
    """Bytes that are not valid data of their encoding."""


class _Layer:
    """One encoding's decompressor: bounded output, and whether its stream ended."""

    def __init__(self, encoding: str):
        self.gzip = encoding in ("gzip", "x-gzip")
        self._obj: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if self.gzip else None
        self._head = b""       # deflate: its first two bytes, which tell zlib from raw
        self._fed = False      # any input at all
        self._ended = False    # a stream (gzip: a member) reached its end
        self._pending = b""    # input not yet consumed (output was bounded)
        self._done = False     # the rest of the input is ignored

    def _start(self, data: bytes) -> bytes:
        """Deflate: a zlib stream (RFC 1950) when its first two bytes are a zlib
        header, else a raw deflate stream (RFC 1951), as some servers send."""
        data = self._head + data
        if len(data) < 2:
            self._head = data
            return b""
        cmf, flg = data[0], data[1]
        zlib_header = cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf << 8 | flg) % 31 == 0
        self._obj = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        self._head = b""
        return data

    def decompress(self, data: bytes, most: int) -> bytes:
        """Up to ``most`` bytes (0: any amount) decoded from what was fed so far."""
        if self._done:
            return b""
        data = self._pending + data
        self._pending = b""
        if data:
            self._fed = True
        if self._obj is None:
            data = self._start(data)
        out: List[bytes] = []
        room = most
        while data and not self._done:
            if self._ended:  # a stream ended before these bytes
                if self.gzip and data[:2] == _GZIP_MAGIC[: len(data[:2])]:
                    # another member follows (or its first bytes): it must end too
                    self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    self._ended = False
                else:
                    self._done = True  # what follows a whole stream is not ours
                    break
            if most and room <= 0:
                self._pending = data  # (0 would mean "no bound" to zlib)
                break
            try:
                piece = self._obj.decompress(data, room if most else 0)
            except zlib.error as exc:
                raise Corrupt(str(exc)) from None
            out.append(piece)
            room -= len(piece)
            if self._obj.unconsumed_tail:
                self._pending = self._obj.unconsumed_tail
                break  # the output bound was reached; more comes on the next call
            data = self._obj.unused_data
            self._ended = self._obj.eof
        return b"".join(out)

    @property
    def has_more(self) -> bool:
        return bool(self._pending) and not self._done

    @property
    def done(self) -> bool:
        """The stream ended and the rest of the input is ignored."""
        return self._done

    @property
    def ended(self) -> bool:
        """The stream (every gzip member begun) reached its end."""
        return self._done or (self._ended and not self._pending)

    def stop(self) -> None:
        """Ignore what is left: an inner layer's stream ended."""
        self._done, self._pending = True, b""

    @property
    def whole(self) -> bool:
        """Whether the stream ended (an empty body has nothing to end)."""
        return not self._fed or self.ended


class Decoder:
    """Decodes one answer's body; :meth:`feed` raw bytes, then :meth:`finish`.

    ``limit`` bounds the output (None: no bound): :meth:`feed` never returns
    more than ``limit + 1`` bytes in all, so the caller can tell "too large".
    """

    def __init__(self, content_encoding: Optional[str], limit: Optional[int] = None):
        names = [e.strip().lower() for e in (content_encoding or "").split(",")]
        names = [n for n in names if n and n != "identity"]
        self.encodings = names
        #: why the body cannot be decoded (more layers than MAX_LAYERS, or a chain
        #: with a layer pcpi does not decode); "" when it can, or is passed as it came
        self.unusable = ""
        if len(names) > MAX_LAYERS:
            self.unusable = f"{len(names)} content encodings, more than {MAX_LAYERS}"
        elif len(names) > 1 and not all(n in DECODED for n in names):
            self.unusable = f"a chain of encodings pcpi cannot decode ({', '.join(names)})"
        usable = bool(names) and not self.unusable and all(n in DECODED for n in names)
        # applied in order, so decoded in reverse
        self._layers = [_Layer(n) for n in reversed(names)] if usable else []
        self._limit = limit
        self._out = 0

    @property
    def decodes(self) -> bool:
        """Whether the body is decoded (False: returned as it came)."""
        return bool(self._layers)

    def feed(self, data: bytes) -> bytes:
        """What ``data`` (the next raw bytes) decodes to; raises :class:`Corrupt`."""
        if self.unusable:
            raise Corrupt(self.unusable)
        if not self._layers:
            return data
        pieces: List[bytes] = []
        while True:  # each pass moves every layer's pending input on, within the bound
            most = 0 if self._limit is None else self._limit + 1 - self._out
            if self._limit is not None and most <= 0:
                break  # past the bound already: nothing more is decoded
            piece = data
            data = b""
            for i, layer in enumerate(self._layers):
                piece = layer.decompress(piece, most)
                if layer.done:  # what the outer layers still hold is not ours
                    for outer in self._layers[:i]:
                        outer.stop()
            pieces.append(piece)
            self._out += len(piece)
            if self._limit is not None and self._out > self._limit:
                break  # the caller sees more than its limit and stops reading
            if not any(layer.has_more for layer in self._layers):
                break
        return b"".join(pieces)

    @property
    def ended(self) -> bool:
        """Every layer's stream ended: what comes after is not part of the body."""
        return bool(self._layers) and all(layer.ended for layer in self._layers)

    def finish(self) -> None:
        """Raise :class:`Truncated` unless every layer's stream ended."""
        for layer in self._layers:
            if not layer.whole:
                raise Truncated(", ".join(self.encodings))
