"""An answer's JSON, read strictly.  No I/O here.

``requests.Response.json()`` decodes a body that is not valid UTF-8 by
replacing the bad bytes with U+FFFD: data changed without a word.  Where pcpi
parses a body itself (pages of a listing), the body must be UTF-8 as JSON
requires (RFC 8259), or it is an error that says where it broke.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["strict_json", "NotJSON"]


class NotJSON(ValueError):
    """A body that is not UTF-8 JSON; the message says why (never the body)."""


def strict_json(content: bytes) -> Any:
    """The JSON value of ``content``: UTF-8 (a byte-order mark allowed), else
    :class:`NotJSON`."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotJSON(f"not valid UTF-8 (byte {exc.start} of {len(content)})") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise NotJSON("JSON nested deeper than Python reads") from None
    except ValueError as exc:
        raise NotJSON(f"not JSON ({type(exc).__name__} at {getattr(exc, 'pos', '?')})") \
            from None
