"""Prisma Cloud's endpoint catalogue: what each documented operation is.

The facts come from Prisma Cloud's published OpenAPI specs (the pan.dev repository):
whether an operation only reads, how it pages, its documented rate limit and burst,
whether it is deprecated and what replaces it.  ``tools/build_catalogue.py`` writes them
to ``catalogue.json``, which ships with pcpi; :data:`SOURCE` says which specs.  The
table is read once, on first use, and nothing else here does I/O.

:func:`lookup` answers for the path of a URL a session calls.  A CSPM template
matches the whole path.  Compute consoles serve their API under a prefix (SaaS
``/<region-id>/api/v1/...``, self-hosted ``/api/v1/...``) and in every version
(``/api/v34.03/...``), so a Compute template (written ``/api/v1/...``) matches the
path from its ``/api/v<N>/`` on, whatever the version.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib.resources
import json
import re
import threading
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ._bounded import BoundedCache
from ._stack import outside_pcpi
from .errors import DeprecatedEndpointWarning

__all__ = ["Paging", "Endpoint", "Catalogue", "lookup", "catalogue", "SOURCE", "CACHE_SIZE",
           "STYLES", "warn_deprecated", "MAX_WARNED"]

#: answers :func:`lookup` keeps (method and path; least recently used forgotten first)
CACHE_SIZE = 4096

#: the paging styles: RQL two-step, token in the body, token in the query, offset/limit
STYLES = ("rql", "body-token", "query-token", "offset")

FORMAT = 1
FIELDS = ("method", "template", "product", "read_only", "paging", "rate", "burst",
          "deprecated", "replacement")
PAGING_FIELDS = ("style", "token_in", "token_out", "items", "size_field", "size_in", "cap",
                 "total", "next_path")
PRODUCTS = ("cspm", "compute")

_VERSION = re.compile(r"v\d+(?:\.\d+)?")

#: what the packaged table was built from (pan.dev commit and date, Compute version,
#: counts); a fresh copy on every access, read on first use
SOURCE: Dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Paging:
    """How an operation pages, declaratively (as botocore's paginators describe pages)."""

    style: str          #: "rql" | "body-token" | "query-token" | "offset"
    token_in: str       #: request field carrying the page token ("" for offset)
    token_out: str      #: dotted path of the next token in the answer
    items: str          #: dotted path of the items in the answer; "" = a bare JSON array
    size_field: str     #: request field of the page size ("limit", "size"); "" if none
    size_in: str        #: where the size (and an offset) go: "body" or "query"
    cap: Optional[int]  #: the largest page size documented, if any
    total: str          #: dotted answer path of the total, or "header:<Name>"; "" if none
    next_path: str      #: "rql" only: the template the later pages are asked from


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One documented operation."""

    method: str              #: "GET", "POST", ...
    template: str            #: its path template ("/cloud/{cloud_type}/{id}", "/api/v1/images")
    product: str             #: "cspm" | "compute"
    read_only: bool          #: it only reads (GET, or a POST that searches, lists, counts...)
    paging: Optional[Paging]
    rate: Optional[float]    #: documented requests per second
    burst: Optional[float]   #: documented burst
    deprecated: bool
    replacement: Optional[str]  #: "METHOD /path" the spec names as the replacement


def _malformed(where: str, why: str) -> ValueError:
    return ValueError(f"endpoint catalogue {where} is malformed ({why}): reinstall pcpi, or "
                      "regenerate it with tools/build_catalogue.py")


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _is_number(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _paging(row: object, where: str) -> Optional[Paging]:
    if row is None:
        return None
    if not isinstance(row, list) or len(row) != len(PAGING_FIELDS):
        raise _malformed(where, f"paging is not a list of {len(PAGING_FIELDS)}")
    style, token_in, token_out, items, size_field, size_in, cap, total, next_path = row
    texts = (token_in, token_out, items, size_field, size_in, total, next_path)
    if style not in STYLES or not all(map(_is_text, texts)) or size_in not in ("", "body",
                                                                                "query"):
        raise _malformed(where, "paging fields of the wrong kind")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1):
        raise _malformed(where, "paging cap is not a positive integer")
    return Paging(style, token_in, token_out, items, size_field, size_in, cap, total,
                  next_path)


def _endpoint(row: object, where: str) -> Endpoint:
    if not isinstance(row, list) or len(row) != len(FIELDS):
        raise _malformed(where, f"not a list of {len(FIELDS)}")
    method, template, product, read_only, paging, rate, burst, deprecated, replacement = row
    if not (_is_text(method) and method and method == method.upper()):
        raise _malformed(where, "method is not an upper-case name")
    if not (_is_text(template) and template.startswith("/")) or product not in PRODUCTS:
        raise _malformed(where, "template or product of the wrong kind")
    if not (isinstance(read_only, bool) and isinstance(deprecated, bool)):
        raise _malformed(where, "read_only or deprecated is not a boolean")
    if not (_is_number(rate) and _is_number(burst)):
        raise _malformed(where, "rate or burst is not a number")
    if replacement is not None and not _is_text(replacement):
        raise _malformed(where, "replacement is not text")
    return Endpoint(method, template, product, read_only, _paging(paging, where),
                    None if rate is None else float(rate),
                    None if burst is None else float(burst), deprecated, replacement)


def _segments(path: str) -> List[str]:
    """A path's segments, without the leading slash and a trailing one."""
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    return path.split("/")[1:]


class _Node:
    """A segment trie: literal children by name, one child for any ``{parameter}``."""

    __slots__ = ("literal", "param", "endpoint")

    def __init__(self) -> None:
        self.literal: Dict[str, _Node] = {}
        self.param: Optional[_Node] = None
        self.endpoint: Optional[Endpoint] = None

    def add(self, segments: Sequence[str], endpoint: Endpoint) -> None:
        node = self
        for s in segments:
            if s.startswith("{") and s.endswith("}"):
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                node = node.literal.setdefault(s, _Node())
        if node.endpoint is not None:
            raise _malformed("table", f"{endpoint.method} {endpoint.template} and "
                             f"{node.endpoint.template} are one path")
        node.endpoint = endpoint

    def match(self, segments: Sequence[str], i: int = 0) -> Optional[Endpoint]:
        """The endpoint at ``segments[i:]``; a literal segment is tried before a parameter,
        which takes one non-empty segment (depth: at most the longest template's)."""
        if i == len(segments):
            return self.endpoint
        child = self.literal.get(segments[i])
        found = child.match(segments, i + 1) if child is not None else None
        if found is None and self.param is not None and segments[i]:
            found = self.param.match(segments, i + 1)
        return found


class Catalogue:
    """A catalogue table, indexed for :meth:`find` by product and method, then segments.

    ``data`` is the JSON object ``tools/build_catalogue.py`` writes; a malformed one
    raises ``ValueError`` saying so.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise _malformed("table", f"not format {FORMAT}")
        if tuple(data.get("fields") or ()) != FIELDS or \
                tuple(data.get("paging_fields") or ()) != PAGING_FIELDS:
            raise _malformed("table", "its columns are not the ones this pcpi reads")
        rows = data.get("endpoints")
        source = data.get("source")
        if not isinstance(rows, list) or not isinstance(source, dict):
            raise _malformed("table", "no endpoints list or source object")
        self.source: Dict[str, Any] = source
        self.endpoints: Tuple[Endpoint, ...] = tuple(
            _endpoint(row, f"record {n}") for n, row in enumerate(rows, 1))
        self._index: Dict[Tuple[str, str], _Node] = {}
        for e in self.endpoints:
            self._index.setdefault((e.product, e.method), _Node()).add(
                _segments(e.template), e)

    def _match(self, product: str, method: str, segments: Sequence[str]) -> Optional[Endpoint]:
        root = self._index.get((product, method))
        return root.match(segments) if root is not None else None

    def find(self, method: str, path: str) -> Optional[Endpoint]:
        """The operation a call of ``method`` (upper case) on ``path`` is, or None."""
        segments = _segments(path)
        found = self._match("cspm", method, segments)
        if found is not None:
            return found
        for i in range(len(segments) - 1):
            if segments[i] == "api" and _VERSION.fullmatch(segments[i + 1]):
                return self._match("compute", method, ["api", "v1", *segments[i + 2:]])
        return None


_lock = threading.Lock()
_loaded: List[Catalogue] = []


def catalogue() -> Catalogue:
    """The catalogue that ships with pcpi, read on first use (once, whatever the threads)."""
    if not _loaded:
        with _lock:
            if not _loaded:
                text = importlib.resources.files("pcpi").joinpath("catalogue.json").read_text(
                    encoding="utf-8")
                _loaded.append(Catalogue(json.loads(text)))
    return _loaded[0]


def lookup(method: str, path: str) -> Optional[Endpoint]:
    """The documented operation a call is, or None when the specs do not have it.

    ``method`` in any case; ``path`` is the path of the URL (``/v2/alert``,
    ``/us-east1/api/v32.07/hosts``), without host or query.  ``{param}`` segments of a
    template match any one non-empty segment, and a literal segment beats a parameter
    (``/alert/policy`` is not ``/alert/{id}``).  The last :data:`CACHE_SIZE` answers are
    kept.
    """
    return _lookup(method, path)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _lookup(method: str, path: str) -> Optional[Endpoint]:
    if not isinstance(method, str) or not method.strip():
        raise ValueError("lookup() needs an HTTP method such as 'GET'")
    if not isinstance(path, str) or not path.startswith("/") or "?" in path or "#" in path:
        raise ValueError("lookup() takes the path of a URL, starting with '/' and without "
                         "host, query or fragment (e.g. '/v2/alert')")
    return catalogue().find(method.strip().upper(), path)


#: deprecated endpoints already warned about in this process (at most this many)
MAX_WARNED = 1024
_warned: BoundedCache[Tuple[str, str], bool] = BoundedCache(MAX_WARNED)


def warn_deprecated(endpoint: Endpoint) -> None:
    """Say once per endpoint and process that Prisma Cloud's specs deprecate it,
    naming the replacement when they give one (:class:`~pcpi.errors.DeprecatedEndpointWarning`)."""
    key = (endpoint.method, endpoint.template)
    if key in _warned:
        return
    _warned.put(key, True)  # (before warning: where warnings are errors, it raises once)
    instead = f"; use {endpoint.replacement} instead" if endpoint.replacement else ""
    warnings.warn(f"pcpi: Prisma Cloud's API specs deprecate {endpoint.method} "
                  f"{endpoint.template}{instead}", DeprecatedEndpointWarning,
                  stacklevel=outside_pcpi())


def __getattr__(name: str) -> Any:
    if name == "SOURCE":
        return copy.deepcopy(catalogue().source)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
