"""The pager: one listing read lazily through ``session.request``, a page at a time.

:mod:`pcpi._paging` decides what each page's call is and when the pages end;
this module sends the calls (through the session's retry loop, as calls that
are safe to repeat: a page that timed out is asked again with the same token,
so a search is never restarted), reads the answers and hands the items over.

Delivery and resume points.  A page is *delivered* once its last item has been
yielded (``pager.pages()`` yields it whole).  ``pager.resume`` stands right after
the last item yielded: after the last page delivered, plus, when a loop stopped
in the middle of a page (``max_items``, a ``break``), how many items of the next
page it had, which a resumed pager asks for again and drops (an offset listing
simply starts further on).  So ``paginate(..., resume=pager.resume)`` yields
exactly the items not yielded yet: nothing twice, nothing skipped.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple, TypeVar

import requests

from ._answer import NotJSON, strict_json
from ._catalogue import lookup
from ._log import Log
from ._paging import (
    MAX_PAGES,
    STYLES,
    Cursor,
    Page,
    PagingError,
    Plan,
    Step,
    Unreadable,
    Walk,
    decode_resume,
    encode_resume,
    make_plan,
    read_page,
    shape_for,
    split_call,
)
from ._redact import scrub
from .errors import IncompleteResultError

__all__ = ["Pager", "paginate"]


class Fetched(NamedTuple):
    """One page as read: the items still to deliver, the parsed answer and its size."""

    items: List[Any]
    full: int  # items in the page (a resumed page's first ones are not delivered again)
    body: Any
    size: int


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


@dataclasses.dataclass(frozen=True)
class Legacy:
    """How ``config_search_request*`` (1.0.1's RQL calls) run on a pager: their
    words in errors, the 1.0.1 arguments each page is sent with, and no resume
    point (their return shapes cannot be resumed)."""

    label: str = ""
    noun: str = "item"
    send: Optional[Dict[str, Any]] = None
    resumable: bool = True


class Pager:
    """One listing, read lazily: iterate for items, or :meth:`pages` for pages.

    Made by :meth:`pcpi.Session.paginate`.  A pager is consumed once and is
    not shared between threads.  A page that fails (after the session's
    retries), that does not read as its style says, a repeated page token or
    more than ``max_pages`` pages raise
    :class:`~pcpi.errors.IncompleteResultError`, whose ``resume`` continues
    the listing later.
    """

    #: items delivered so far (a resumed pager counts from the listing's start)
    items_read: int
    #: pages delivered so far (likewise)
    pages_read: int
    #: the number of items the tenant announced (``totalRows``, ``Total-Count``...), or None
    total: Optional[int]

    def __init__(self, session: Any, plan: Plan, *, resume: Any = None,
                 max_items: Optional[int] = None, max_pages: int = MAX_PAGES,
                 legacy: Optional["Legacy"] = None) -> None:
        legacy = legacy or Legacy()
        label, noun, send, resumable = legacy.label, legacy.noun, legacy.send, legacy.resumable
        if max_items is not None and (isinstance(max_items, bool) or
                                      not isinstance(max_items, int) or max_items < 0):
            raise ValueError(f"max_items must be an int >= 0 or None, not {max_items!r}")
        self._session = session
        self._plan = plan
        self._walk = Walk(plan, max_pages)
        start = decode_resume(plan, resume) if resume is not None else plan.start()
        self._at: Optional[Cursor] = start  # the page being read or next; None: no more
        self._in_page = start.skip  # items of that page delivered
        self._step: Step = Step(None)
        self._problem: Optional[IncompleteResultError] = None
        self.items_read = start.items + start.skip
        self.pages_read = start.pages
        self.total = start.total
        self._stop_at = None if max_items is None else self.items_read + max_items
        self._label = label or f"paging {plan.endpoint}"
        self._noun = noun
        self._send = dict(send or {})
        self._log = Log(getattr(session, "logger", None))
        self._resumable = resumable
        self._claimed = False

    # ------------------------------------------------------------------ public
    @property
    def resume(self) -> Optional[Dict[str, Any]]:
        """A JSON-serialisable point to go on from (``paginate(..., resume=...)``):
        right after the last item yielded.  None once the pages have ended."""
        if self._at is None:
            return None
        return encode_resume(self._plan, dataclasses.replace(self._at, skip=self._in_page))

    def __iter__(self) -> Iterator[Any]:
        """The items, one page in memory at a time."""
        self._claim()
        return _redacted(self._items())

    def pages(self) -> Iterator[List[Any]]:
        """The pages, as lists of items (empty pages are not yielded)."""
        self._claim()
        return _redacted(self._pages())

    def __repr__(self) -> str:
        return (f"<Pager {self._plan.endpoint} style={self._plan.shape.style!r} "
                f"items_read={self.items_read} pages_read={self.pages_read}>")

    # ------------------------------------------------------------------ delivery
    def _claim(self) -> None:
        if self._claimed:
            raise RuntimeError("this pager has been iterated already: a pager is consumed "
                               "once (make another with paginate(), resume=pager.resume "
                               "to go on after what it delivered)")
        self._claimed = True

    def _items(self) -> Iterator[Any]:
        stop = self._stop_at
        for page in self._fetched():
            if not page.items:
                self._deliver(0, page.full)
            for item in page.items:
                if stop is not None and self.items_read >= stop:
                    return
                self._deliver(1, page.full)  # (the last one delivers the page)
                yield item
            del page

    def _pages(self) -> Iterator[List[Any]]:
        for page in self._fetched():
            items = page.items
            if self._stop_at is not None:
                items = items[:self._stop_at - self.items_read]
            self._deliver(len(items), page.full)
            del page
            if items:
                yield items
            del items

    def _deliver(self, count: int, full: int) -> None:
        self._in_page += count
        self.items_read += count
        if self._in_page < full:
            return
        step = self._step
        self.pages_read += 1
        self._in_page = 0
        self._at = step.next if not step.problem or step.resumable else None
        if step.problem:  # raised when the next page is asked for
            self._problem = self._incomplete(step.problem)

    # ------------------------------------------------------------------ I/O
    def _fetched(self) -> Iterator[Fetched]:
        """Each page, fetched when the one before has been delivered."""
        while True:
            if self._stop_at is not None and self.items_read >= self._stop_at:
                return  # (max_items: an end, whatever the page after would have been)
            if self._problem is not None:
                raise self._problem
            at = self._at
            if at is None:
                return
            number = at.pages + 1
            try:
                req = self._walk.request(at)
            except PagingError as exc:
                raise self._incomplete(f"page {number} cannot be asked for: {exc}") from None
            try:
                res: requests.Response = self._session.request(
                    req.method, req.path, json=req.json, params=req.params, idempotent=True,
                    **self._send)
            except requests.RequestException as exc:
                why = self._session._redact(f"{type(exc).__name__}: {exc}")
                raise self._incomplete(f"page {number} failed ({why})",
                                       getattr(exc, "response", None)) from exc
            what = "the first page" if number == 1 else f"page {number}"
            page, body = self._read(res, req.first, what)
            size = len(res.content)
            del res
            step = self._walk.after(at, page)
            if step.note:
                self._log.warning(f"{self._plan.endpoint}: {step.note}")
            self._step = step
            if page.total is not None:
                self.total = page.total
            yield Fetched(page.items[at.skip:] if at.skip else page.items, len(page.items),
                          body, size)
            del page, body  # delivered: nothing of it stays while the next one is read

    def _read(self, res: requests.Response, first: bool, what: str) -> Tuple[Page, Any]:
        """The page in an answer, and its parsed JSON."""
        status = res.status_code
        if status not in self._session.success_status:
            raise self._incomplete(f"{what} answered HTTP {status}: "
                                   f"{self._session._preview(res, 200)}", res)
        try:
            body = strict_json(res.content)  # (bytes that are not UTF-8 are never replaced)
        except NotJSON as exc:
            raise self._incomplete(f"{what} (HTTP {status}) is not a JSON object ({exc}): "
                                   f"{self._session._preview(res, 200)}", res) from None
        try:
            return read_page(self._plan.shape, first, body, res.headers), body
        except Unreadable as exc:
            if not exc.show:
                raise self._incomplete(f"{what} {exc.reason}", res) from None
            raise self._incomplete(f"{what} (HTTP {status}) {exc.reason}: "
                                   f"{self._session._preview(res, 200)}", res) from None

    def _incomplete(self, why: str, res: Optional[requests.Response] = None,
                    ) -> IncompleteResultError:
        resume = self.resume if self._resumable else None
        hint = "; session.paginate(..., resume=exc.resume) reads the rest" \
            if resume is not None else ""
        return IncompleteResultError(
            f"{self._label} incomplete: {why}, after {_count(self.pages_read, 'page')} and "
            f"{_count(self.items_read, self._noun)} had been delivered{hint}",
            pages=self.pages_read, rows=self.items_read, response=res, resume=resume)


_T = TypeVar("_T")


def _redacted(items: Iterator[_T]) -> Iterator[_T]:
    """``items``, with every exception leaving them redacted (the boundary every
    text leaving pcpi passes: :func:`pcpi._redact.scrub`)."""
    try:
        yield from items
    except BaseException as exc:
        scrub(exc)
        raise


def plan_listing(method: str, endpoint_url: str, json: Any = None, params: Any = None, *,
                 style: Optional[str] = None, items_key: Optional[str] = None,
                 page_size: Optional[int] = None) -> Plan:
    """How ``method endpoint_url`` pages: ``style`` and ``items_key`` as given, or
    the catalogue's (see :meth:`pcpi.Session.paginate`)."""
    upper, path, _query = split_call(method, endpoint_url)
    entry = lookup(upper, path)
    paging = entry.paging if entry is not None else None
    if style is None:
        if paging is None:
            raise ValueError(f"pcpi's catalogue does not know how {upper} {path} pages: pass "
                             f"style= one of {', '.join(repr(s) for s in STYLES)}")
        style = paging.style
    return make_plan(method, endpoint_url, json, params, shape_for(style, paging, items_key),
                     page_size)


def paginate(session: Any, method: str, endpoint_url: str, json: Any = None,
             params: Any = None, **options: Any) -> Pager:
    """A :class:`Pager` over ``method endpoint_url``: ``options`` are
    :meth:`pcpi.Session.paginate`'s keyword arguments (``style``, ``items_key``
    and ``page_size`` make the plan; ``resume``, ``max_items`` and ``max_pages``
    bound the run)."""
    listing = {k: options.pop(k) for k in ("style", "items_key", "page_size") if k in options}
    return Pager(session, plan_listing(method, endpoint_url, json, params, **listing),
                 **options)
