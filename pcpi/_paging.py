"""Paging policy: what the next page's request is, how a page is read, when the
pages end, and resume points.  No I/O here (:mod:`pcpi._pager` sends).

Each style is a declarative :class:`Shape`, as botocore's paginators describe
theirs: the request field that carries the page token (input token), where the
next token is in an answer (output token), where the items are (result key),
and what says there is nothing more (no token, an empty page, the announced
total reached).  Prisma Cloud's four shapes:

``rql``
    ``POST /search/config`` answers ``data.items`` and ``data.nextPageToken``;
    later pages are ``POST /search/config/page`` with ``{pageToken, limit}``
    (plus ``withResourceJson`` / ``heuristicSearch`` as first sent) and answer
    ``items`` / ``nextPageToken`` at the top.  Its ``totalRows`` counts one page.
``body-token``
    The same endpoint again with the token in the body (``/v2/alert``:
    ``pageToken`` in, ``items``, ``nextPageToken``, ``totalRows``).  The last
    page with data still carries a token, so an empty page, or as many items as
    the tenant announced, ends it.
``offset``
    Compute's ``?offset=&limit=`` over a bare JSON array, with the total in a
    ``Total-Count`` header.  Compute answers at most 50 a page whatever
    ``limit`` says, so offsets advance by the items received, never by the
    number asked.
``query-token``
    A GET with the token in the query string.  Prisma's tokens can be tens of
    kilobytes, which no URL carries: such a token is refused
    (:data:`MAX_QUERY_TOKEN`) in favour of the endpoint's POST form.

After the first page only the token and the page size travel: a time window
sent again with a token makes Prisma answer empty pages.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Set, Tuple

__all__ = ["STYLES", "MAX_PAGES", "MAX_QUERY_TOKEN", "Shape", "DEFAULT_SHAPES", "shape_for",
           "Plan", "make_plan", "split_call", "Cursor", "PageRequest", "Page", "Step", "Walk",
           "read_page",
           "PagingError", "Unreadable", "encode_resume", "decode_resume"]

#: the paging styles :meth:`pcpi.Session.paginate` knows
STYLES = ("rql", "body-token", "offset", "query-token")

#: pages one run of a pager may take (20 million rows at 2,000 a page)
MAX_PAGES = 10_000

#: longest page token put into a URL, in bytes (servers refuse request lines
#: beyond 8 KiB or so with 414; Prisma answered a GET /v2/alert with a long
#: token 413)
MAX_QUERY_TOKEN = 8192

_RESUME_VERSION = 1
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")
_MISSING: Any = object()

Pairs = Tuple[Tuple[str, Any], ...]


class PagingError(ValueError):
    """A page request that cannot be sent (a token too long for a URL)."""


class Unreadable(Exception):
    """A page that does not read as its style says; ``reason`` completes
    "page N ...", and ``show`` says whether the answer's start helps."""

    def __init__(self, reason: str, show: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.show = show


@dataclasses.dataclass(frozen=True)
class Shape:
    """How one paging style asks and reads (dotted paths into the answer)."""

    style: str
    #: request field of the page token ("" for offset)
    token_in: str = ""
    #: where the next token is in an answer (for ``rql``: in the later pages)
    token_out: str = ""
    #: where the items are ("" for a bare array; for ``rql``: in the later pages)
    items: str = "items"
    #: request field of the page size ("" for none)
    size_field: str = "limit"
    #: where the page size and offset go: ``"body"`` or ``"query"``
    size_in: str = "body"
    #: largest page size the family serves
    cap: Optional[int] = None
    #: where the announced total is: a dotted path, ``"header:<name>"``, or ""
    total: str = ""
    #: ``rql``: the path of the later pages ("" for the first path + ``/page``)
    next_path: str = ""
    #: ``offset``: the request field of the offset
    offset_field: str = ""
    #: ``rql``: fields of the first body that go with every later page
    carry: Tuple[str, ...] = ()
    #: ``rql``: where the first page has its items and token, when not where the
    #: later pages do (``/search/config`` answers them under ``data``)
    first_items: Optional[str] = None
    first_token: Optional[str] = None


#: each style's shape where the catalogue does not say more
DEFAULT_SHAPES: Dict[str, Shape] = {
    "rql": Shape("rql", "pageToken", "nextPageToken", "items", "limit", "body",
                 carry=("withResourceJson", "heuristicSearch"), first_items="data.items",
                 first_token="data.nextPageToken"),
    "body-token": Shape("body-token", "pageToken", "nextPageToken", "items", "limit", "body",
                        total="totalRows"),
    "offset": Shape("offset", "", "", "", "limit", "query", cap=50, total="header:Total-Count",
                    offset_field="offset"),
    "query-token": Shape("query-token", "pageToken", "nextPageToken", "items", "limit", "query",
                         total="totalRows"),
}


def _strip_data(path: str) -> str:
    # the catalogue describes an RQL search by its first page (data.items); the
    # later pages (/search/config/page) answer at the top
    return path[5:] if path.startswith("data.") else path


def shape_for(style: str, paging: Any = None, items_key: Optional[str] = None) -> Shape:
    """``style``'s shape, with the catalogue's facts (``paging``, a
    ``pcpi._catalogue.Paging``) where they are of the same style, then
    ``items_key`` (a dotted path, "" for a bare array)."""
    if style not in DEFAULT_SHAPES:
        raise ValueError(f"unknown paging style {style!r}: use one of "
                         f"{', '.join(repr(s) for s in STYLES)}")
    shape = DEFAULT_SHAPES[style]
    if paging is not None and getattr(paging, "style", None) == style:
        token_out = paging.token_out or shape.token_out
        shape = dataclasses.replace(
            shape, token_in=paging.token_in or shape.token_in, token_out=token_out,
            items=paging.items, size_field=paging.size_field,
            size_in=paging.size_in or shape.size_in, cap=paging.cap, total=paging.total,
            next_path=paging.next_path)
        if style == "rql":  # the first page as catalogued, the later ones at the top
            shape = dataclasses.replace(shape, first_items=paging.items, first_token=token_out,
                                        items=_strip_data(paging.items),
                                        token_out=_strip_data(token_out))
    if style == "rql":
        shape = dataclasses.replace(shape, total="")  # (its totalRows counts one page)
    if items_key is not None:
        if not isinstance(items_key, str):
            raise ValueError("items_key must be a dotted path such as 'items' or 'data.items' "
                             "('' for an answer that is a bare array)")
        first = shape.first_items
        if first is not None:  # (rql) under "data" on the first page if it nests there
            first = "data." + items_key if first.startswith("data.") and items_key else \
                items_key
        shape = dataclasses.replace(shape, items=items_key, first_items=first)
    if style == "query-token" or shape.size_in not in ("body", "query"):
        shape = dataclasses.replace(shape, size_in="query" if style in ("offset", "query-token")
                                    else "body")
    return shape


class PageRequest(NamedTuple):
    """One page's call."""

    method: str
    path: str
    json: Optional[Dict[str, Any]]
    params: Optional[List[Tuple[str, Any]]]
    first: bool  # the call as the caller gave it (rql: answered under "data")


@dataclasses.dataclass(frozen=True)
class Cursor:
    """Where a listing stands: the next page to ask for, and what came before."""

    #: token of the next page (token styles); None: the first page
    token: Optional[str] = None
    #: offset of the next page (``offset``)
    offset: int = 0
    #: pages and items delivered before the next page
    pages: int = 0
    items: int = 0
    #: items of the next page delivered already (a resumed pager drops them)
    skip: int = 0
    #: the total the tenant announced, if any
    total: Optional[int] = None


class Page(NamedTuple):
    """What one answer holds."""

    items: List[Any]
    token: Any
    total: Optional[int]


class Step(NamedTuple):
    """What follows a page: the next cursor (None: the pages ended), or a
    problem that ends the listing once the page is delivered (``resumable``:
    ``next`` is a sound place to go on from later), and a note to log."""

    next: Optional[Cursor]
    problem: str = ""
    resumable: bool = False
    note: str = ""


# ---------------------------------------------------------------------- the call
@dataclasses.dataclass(frozen=True)
class Plan:
    """What is fixed for one listing: the call as given, its shape and page size."""

    method: str
    path: str
    shape: Shape
    body: Optional[Dict[str, Any]]
    params: Pairs
    size: Optional[int]
    start_offset: int = 0

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def next_path(self) -> str:
        return self.shape.next_path or self.path.rstrip("/") + "/page"

    def start(self) -> Cursor:
        """The cursor of a listing's first page."""
        return Cursor(offset=self.start_offset)

    def request(self, at: Cursor) -> PageRequest:
        """The call that fetches the page at ``at``; raises :class:`PagingError`
        for a token too long for a URL."""
        shape = self.shape
        size = [(shape.size_field, self.size)] if shape.size_field and self.size is not None \
            else []
        if shape.style == "offset":  # the call as given, at its offset
            return self._put(self.path, self.body, self.params,
                             [(shape.offset_field, at.offset)] + size, first=True)
        if at.token is None:  # the first page: the call as given, with the page size
            return self._put(self.path, self.body, self.params, size, first=True)
        # later pages: only the token and the page size travel
        if shape.style == "query-token":
            length = len(at.token.encode("utf-8", "replace"))
            if length > MAX_QUERY_TOKEN:
                raise PagingError(
                    f"the page token is {length:,} bytes, too long for a URL (pcpi puts at "
                    f"most {MAX_QUERY_TOKEN:,} bytes of token in a query string; servers "
                    f"answer 413/414): page the endpoint's POST form with style='body-token'")
            return self._put(self.path, None, (), [(shape.token_in, at.token)] + size)
        body = {key: self.body[key] for key in shape.carry
                if self.body is not None and key in self.body}
        body[shape.token_in] = at.token
        path = self.next_path if shape.style == "rql" else self.path
        return self._put(path, body, self.params, size)

    def _put(self, path: str, body: Optional[Dict[str, Any]], params: Pairs,
             fields: List[Tuple[str, Any]], first: bool = False) -> PageRequest:
        """The call with ``fields`` (page size, offset or token) where the shape
        puts them, replacing what the caller had there."""
        out_body = dict(body) if body is not None else None
        out_params = list(params)
        for key, value in fields:
            if self.shape.size_in == "body":
                out_body = out_body if out_body is not None else {}
                out_body[key] = value
            else:
                out_params = [(k, v) for k, v in out_params if k != key] + [(key, value)]
        return PageRequest(self.method, path, out_body, out_params or None, first)


def split_call(method: Any, endpoint_url: Any) -> Tuple[str, str, str]:
    """``(METHOD, /path, query)`` of a paging call, checked."""
    if not isinstance(method, str) or method.strip().upper() not in _METHODS:
        raise ValueError(f"invalid HTTP method {method!r}; use one of {', '.join(_METHODS)}")
    if not isinstance(endpoint_url, str) or not endpoint_url.strip():
        raise ValueError("endpoint_url must be a non-empty path such as '/v2/alert'")
    path, _, query = endpoint_url.strip().partition("?")
    path = path.split("#", 1)[0]
    return method.strip().upper(), path if path.startswith("/") else "/" + path, query


def make_plan(method: Any, endpoint_url: Any, json_body: Any, params: Any, shape: Shape,
              page_size: Any) -> Plan:
    """Check a paging call's arguments and fix its plan (``ValueError`` says what
    to change).  The caller's ``json`` and ``params`` are copied, never changed."""
    method, path, query = split_call(method, endpoint_url)
    if shape.style in ("rql", "body-token") and method != "POST":
        raise ValueError(f"style {shape.style!r} sends its page token in a JSON body, which "
                         f"needs POST (an endpoint with only a GET form pages with "
                         f"style='query-token')")
    if json_body is not None and not isinstance(json_body, Mapping):
        raise ValueError(f"json must be a JSON object (a dict) when paging, not "
                         f"{type(json_body).__name__}")
    body = copy.deepcopy(dict(json_body)) if json_body is not None else None
    pairs = _pairs(query, params)
    shape_size = _given(body, pairs, shape, shape.size_field)
    if page_size is not None:
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size must be a positive int, not {page_size!r}")
        size: Optional[int] = page_size
    else:
        size = shape_size if shape_size is not None else shape.cap
    if size is not None and shape.cap is not None:
        size = min(size, shape.cap)  # asking for more is capped (Compute: silently)
    start = 0
    if shape.style == "offset":
        start = _given(body, pairs, shape, shape.offset_field) or 0
    return Plan(method, path, shape, body, pairs, size, start)


def _pairs(query: str, params: Any) -> Pairs:
    from urllib.parse import parse_qsl

    pairs = parse_qsl(query, keep_blank_values=True)
    if params is None:
        return tuple(pairs)
    if isinstance(params, Mapping):
        items: List[Tuple[str, Any]] = []
        for key, value in params.items():
            if isinstance(value, (list, tuple)):
                items += [(key, v) for v in value]
            else:
                items.append((key, value))
    else:
        try:
            items = [(k, v) for k, v in params]
        except (TypeError, ValueError):
            raise ValueError("params must be a dict or a list of (name, value) pairs when "
                             "paging") from None
    return tuple(pairs + items)


def _given(body: Optional[Dict[str, Any]], pairs: Pairs, shape: Shape,
           field: str) -> Optional[int]:
    """The int the caller gave for ``field`` (page size or offset), if any."""
    if not field:
        return None
    value: Any = None
    if shape.size_in == "body":
        value = body.get(field) if body is not None else None
    else:
        for key, v in pairs:
            if key == field:
                value = v
    try:
        number = int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        raise ValueError(f"{field} must be an integer, not {value!r}") from None
    if number is not None and number < (0 if field == shape.offset_field else 1):
        raise ValueError(f"{field} must not be {number}")
    return number


# ---------------------------------------------------------------------- answers
def _dig(found: Any, path: str) -> Any:
    for part in path.split(".") if path else ():
        if not isinstance(found, dict) or part not in found:
            return _MISSING
        found = found[part]
    return found


def _name(path: str) -> str:
    """``data.items`` -> ``'data' with 'items'``."""
    return " with ".join(f"'{part}'" for part in path.split("."))


def read_page(shape: Shape, first: bool, body: Any, headers: Mapping[str, str]) -> Page:
    """The items, next token and announced total of one answer (``body`` is its
    parsed JSON, or None if it did not parse); raises :class:`Unreadable`."""
    items_path, token_path = shape.items, shape.token_out
    if first and shape.first_items is not None:
        items_path = shape.first_items
    if first and shape.first_token is not None:
        token_path = shape.first_token
    if items_path and not isinstance(body, dict):
        raise Unreadable("is not a JSON object")
    if not items_path and not isinstance(body, list):
        raise Unreadable("is not a JSON array")
    items = _dig(body, items_path)
    if items is _MISSING:
        raise Unreadable(f"has no {_name(items_path)}")
    if not isinstance(items, list):
        raise Unreadable(f"has {_name(items_path)} that are not a list", show=False)
    token = _dig(body, token_path) if token_path else None
    return Page(items, None if token is _MISSING else token, _total(shape, body, headers))


def _total(shape: Shape, body: Any, headers: Mapping[str, str]) -> Optional[int]:
    if not shape.total:
        return None
    if shape.total.startswith("header:"):
        value: Any = headers.get(shape.total[7:])
        try:
            value = int(value.strip()) if isinstance(value, str) else None
        except ValueError:
            return None
    else:
        value = _dig(body, shape.total)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return int(value)


class Walk:
    """The run of one pager: which page comes next and when the pages end.

    Counts this run's pages against ``max_pages`` and remembers the tokens it
    sent (digests, at most ``max_pages``), so a tenant pointing back to an
    earlier page ends the listing instead of looping.
    """

    def __init__(self, plan: Plan, max_pages: int = MAX_PAGES):
        if isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        self.plan = plan
        self.max_pages = max_pages
        self.pages = 0  # fetched in this run
        self._seen: Set[bytes] = set()

    def request(self, at: Cursor) -> PageRequest:
        """The call for the page at ``at`` (the token it sends is remembered)."""
        req = self.plan.request(at)
        if at.token is not None:
            self._seen.add(_digest(at.token))
        return req

    def after(self, at: Cursor, page: Page) -> Step:
        """What follows ``page``, the answer to the page at ``at``."""
        self.pages += 1
        style = self.plan.shape.style
        count = len(page.items)
        total = page.total if page.total is not None else at.total
        received = at.items + count
        number = at.pages + 1
        if style == "offset":
            offset = at.offset + count
            if count == 0:
                return Step(None, note=_short(number, offset, total))
            if total is not None and offset >= total:
                return Step(None)
            nxt = Cursor(offset=offset, pages=number, items=received, total=total)
            return self._bounded(nxt)
        token = page.token
        if not token:
            return Step(None)
        if style != "rql":  # the last page with data still carries a token
            if count == 0:
                return Step(None, note=_short(number, received, total))
            if total is not None and received >= total:
                return Step(None)
        if not isinstance(token, str):
            return Step(None, f"page {number} gave a {self.plan.shape.token_out} that is not "
                              f"a string")
        if _digest(token) in self._seen:
            return Step(None, f"the tenant repeated a page token it had given before (page "
                              f"{number} pointed back to an earlier page)")
        return self._bounded(Cursor(token=token, pages=number, items=received, total=total))

    def _bounded(self, nxt: Cursor) -> Step:
        if self.pages >= self.max_pages:
            return Step(nxt, f"the listing has more than {self.max_pages:,} pages (max_pages; "
                             f"pass a larger max_pages= to read further)", resumable=True)
        return Step(nxt)


def _short(number: int, received: int, total: Optional[int]) -> str:
    if total is None or received >= total:
        return ""
    return (f"page {number} was empty after {received:,} of the {total:,} items the tenant "
            f"announced; the listing ends there (items removed while paging, or the tenant "
            f"stopped early)")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


# ---------------------------------------------------------------------- resume points
def _fingerprint(plan: Plan) -> str:
    """The call a resume point belongs to: method, path, style, and the body and
    query without the fields paging sets (page size, offset, token)."""
    shape = plan.shape
    own = {shape.size_field, shape.offset_field, shape.token_in} - {""}
    body = {k: v for k, v in (plan.body or {}).items() if k not in own}
    params = sorted((str(k), str(v)) for k, v in plan.params if k not in own)
    text = json.dumps([plan.method, plan.path, shape.style, body, params], sort_keys=True,
                      default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def encode_resume(plan: Plan, at: Cursor) -> Dict[str, Any]:
    """A JSON-serialisable resume point for the page at ``at`` (``at.skip`` of
    its items delivered already).  It holds page tokens, never a session token."""
    if plan.shape.style == "offset" and at.skip:  # an offset says it exactly
        at = dataclasses.replace(at, offset=at.offset + at.skip, items=at.items + at.skip,
                                 skip=0)
    return {"pcpi_resume": _RESUME_VERSION, "endpoint": plan.endpoint,
            "style": plan.shape.style, "call": _fingerprint(plan), "token": at.token,
            "offset": at.offset, "pages": at.pages, "items": at.items, "skip": at.skip,
            "total": at.total}


def decode_resume(plan: Plan, resume: Any) -> Cursor:
    """The cursor a resume point stands for, checked against the call it is
    given to (``ValueError`` if it is another call's or not pcpi's)."""
    if not isinstance(resume, Mapping) or resume.get("pcpi_resume") != _RESUME_VERSION:
        raise ValueError("resume= takes a pager's .resume or an IncompleteResultError's "
                         ".resume (a dict with 'pcpi_resume': 1), as pcpi made it")
    theirs = f"{resume.get('endpoint')} (style {resume.get('style')!r})"
    ours = f"{plan.endpoint} (style {plan.shape.style!r})"
    if theirs != ours:
        raise ValueError(f"this resume point is from paging {theirs}, not {ours}: give it "
                         f"to the call it came from")
    if resume.get("call") != _fingerprint(plan):
        raise ValueError(f"this resume point is from paging {theirs} with another body or "
                         f"query: give it the same json= and params= as the first call")
    token = resume.get("token")
    if token is not None and not isinstance(token, str):
        raise ValueError("resume point: 'token' must be a string or None")
    if plan.shape.style == "offset" and token is not None:
        raise ValueError("resume point: an offset listing has no 'token'")
    numbers = {}
    for key in ("offset", "pages", "items", "skip"):
        value = resume.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"resume point: {key!r} must be an int >= 0, not {value!r}")
        numbers[key] = value
    total = resume.get("total")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int) or
                              total < 0):
        raise ValueError(f"resume point: 'total' must be an int >= 0 or None, not {total!r}")
    return Cursor(token=token, total=total, **numbers)
