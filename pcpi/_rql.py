"""RQL config search pages, on the pager (:mod:`pcpi._pager`): every page, or an
error that says what was delivered.

A search answers its first page on ``/search/config`` and the others on
``/search/config/page``, each naming the next by ``nextPageToken``.  A page
that fails (an HTTP error after the retries, a body that is not JSON, a body
without the page's data) raises :class:`~pcpi.errors.IncompleteResultError`
with how many pages and rows came before it, so a truncated result is never
returned as a whole one.  A page token seen before (a loop) or more than
``max_pages`` pages end the same way.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterator, Optional, Tuple

from ._pager import Legacy, Pager
from ._paging import MAX_PAGES, make_plan, shape_for

__all__ = ["MAX_PAGES", "config_search_pages", "total_rows"]

Page = Tuple[Dict[str, Any], Dict[str, Any], int, int, Tuple[str, ...]]


def config_search_pages(session: Any, payload: Dict[str, Any], *, max_pages: int = MAX_PAGES,
                        max_bytes: Optional[int] = None, **send: Any) -> Iterator[Page]:
    """Yield ``(details, data, page_number, running_total_rows, keys)`` per page:
    ``details`` is the first page without its ``data`` (as 1.0.1 gave it to
    callbacks), ``keys`` the first page's keys in the server's order.

    ``session`` sends (its ``request``) and previews bodies (redacted);
    ``max_bytes`` bounds the pages' bodies in all (for a caller that keeps them);
    ``send`` holds ``verify``, ``proxies``, ``redlock_ignore``, ``status_ignore``.
    Its errors' ``resume`` is None: the 1.0.1 return shapes cannot be resumed
    (``session.paginate(..., style="rql")`` can).
    """
    body = copy.deepcopy(payload)
    # What 1.0.1 always asked for: heuristic search, big pages, resource JSON.
    body.update({"heuristicSearch": True, "limit": 2000, "withResourceJson": True})
    plan = make_plan("POST", "/search/config", body, None, shape_for("rql"), None)
    pager = Pager(session, plan, max_pages=max_pages,
                  legacy=Legacy("RQL config search", "row", send, resumable=False))
    details: Dict[str, Any] = {}
    keys: Tuple[str, ...] = ()
    size = total = 0
    for page in pager._fetched():
        data = page.body
        if not keys:  # the first page
            details = data
            keys = tuple(details)
            data = details.pop("data")
        size += page.size
        if max_bytes is not None and size > max_bytes:
            raise pager._incomplete(f"the pages add up to more than {max_bytes} bytes "
                                    f"(max_response_bytes), too many to merge in memory; "
                                    f"config_search_request_function() takes them one at a "
                                    f"time")
        total += total_rows(data)
        counter = pager.pages_read
        pager._deliver(page.full, page.full)
        yield details, data, counter, total, keys


def total_rows(data: Dict[str, Any]) -> int:
    """A page's ``totalRows``, or 0 when it has none that is a number."""
    value = data.get("totalRows")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
