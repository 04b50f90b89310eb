"""The origin rule: a token, credential or body goes only where the caller asked.

An origin is (scheme, host, port), as browsers define it (RFC 6454).  pcpi
sends a call's headers and body to the origin of the URL it was given, and to
no other, whatever a server answers:

* a redirect is followed only to the same origin (:func:`same_origin`);
* a URL learned from the tenant (Compute's ``twistlockUrl``, CNA's
  ``public-api``) must be https when the tenant is (:func:`check_learned_url`).

No I/O here.
"""

from __future__ import annotations

from typing import Optional, Tuple

from urllib3.util import parse_url

from .errors import OriginError

__all__ = ["Origin", "origin_of", "same_origin", "describe", "check_learned_url"]

Origin = Tuple[str, str, Optional[int]]

_DEFAULT_PORTS = {"http": 80, "https": 443}

# Characters no URL pcpi follows may hold: parsers disagree on them (a backslash
# ends the host for urllib3, not for urllib.parse), or they were never meant to
# be sent (whitespace and controls).
_NEVER_IN_URLS = frozenset("\\") | frozenset(map(chr, range(0x21))) | {"\x7f"}


def origin_of(url: str) -> Optional[Origin]:
    """``(scheme, host, port)`` of ``url`` (default ports filled in), or None when
    the URL has no usable origin (no host, an unknown scheme, a bad port).

    Parsed by urllib3, the parser that decides where requests connects: a URL
    that another parser reads differently (``https://evil\\@tenant/``) is judged
    by where it would really go."""
    if not isinstance(url, str) or any(c in url for c in _NEVER_IN_URLS):
        return None
    try:
        parts = parse_url(url)
    except ValueError:  # urllib3's LocationParseError is one
        return None
    scheme = (parts.scheme or "").lower()
    host = (parts.host or "").lower().strip("[]").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    port = parts.port
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme]


def same_origin(url: str, other: str) -> bool:
    """Whether both URLs have one and the same (valid) origin."""
    mine = origin_of(url)
    return mine is not None and mine == origin_of(other)


def describe(url: str) -> str:
    """``scheme://host:port`` of ``url``: where it points, without its path and
    query (which could carry anything)."""
    origin = origin_of(url)
    if origin is None:
        return "an unusable URL"
    scheme, host, port = origin
    return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}"


def check_learned_url(url: object, tenant_url: str, what: str) -> str:
    """Check a URL the tenant gave (``what`` names where it came from) before any
    token goes to it: an absolute http(s) URL, https when the tenant is.
    Returns it without a trailing slash; raises :class:`~pcpi.errors.OriginError`."""
    if not isinstance(url, str) or origin_of(url) is None:
        raise OriginError(f"{what} from the tenant at {describe(tenant_url)} is not an "
                          f"absolute http(s) URL; pcpi will not send a token to it")
    tenant = origin_of(tenant_url)
    learned = origin_of(url)
    if tenant is not None and tenant[0] == "https" and learned and learned[0] != "https":
        raise OriginError(f"{what} from the tenant at {describe(tenant_url)} is "
                          f"{describe(url)}, plain http: pcpi will not send the tenant's "
                          f"token there in clear text.  Ask your administrator to serve it "
                          f"over https.")
    return url.rstrip("/")
