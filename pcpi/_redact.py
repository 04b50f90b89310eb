"""Redaction: what a server sends back may echo secrets; logs must not.

A proxy or an API error page can echo the request, token included.  Before
pcpi puts any part of an answer into a log line or an exception message, it
replaces the session's own secrets (token, secret key, password) and anything
shaped like a JWT (Prisma Cloud's tokens are JWTs, so this also catches an
older token, or another session's) with ``<redacted>``.  No I/O here.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

__all__ = ["redact", "REDACTED"]

REDACTED = "<redacted>"

# header.payload.signature, base64url; the header of every JWT starts with '{"' -> eyJ
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")

# shorter values are not worth hiding and would blank out ordinary words
_MIN_SECRET = 8


def redact(text: str, secrets: Iterable[Optional[str]] = ()) -> str:
    """``text`` with each of ``secrets`` and every JWT-shaped string replaced."""
    for secret in secrets:
        if isinstance(secret, str) and len(secret) >= _MIN_SECRET and secret in text:
            text = text.replace(secret, REDACTED)
    return _JWT.sub(REDACTED, text)
