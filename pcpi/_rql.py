"""RQL config search pages: every page, or an error that says what was delivered.

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
import hashlib
from typing import Any, Dict, Iterator, Optional, Set, Tuple

import requests

from ._answer import NotJSON, strict_json
from .errors import IncompleteResultError

__all__ = ["MAX_PAGES", "config_search_pages", "total_rows"]

#: pages one search may take (20 million rows at 2,000 a page)
MAX_PAGES = 10_000

Page = Tuple[Dict[str, Any], Dict[str, Any], int, int, Tuple[str, ...]]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _incomplete(why: str, pages: int, rows: int,
                res: Optional[requests.Response] = None) -> IncompleteResultError:
    return IncompleteResultError(
        f"RQL config search incomplete: {why}, after {_count(pages, 'page')} and "
        f"{_count(rows, 'row')} had been delivered", pages=pages, rows=rows, response=res)


def config_search_pages(session: Any, payload: Dict[str, Any], *, max_pages: int = MAX_PAGES,
                        max_bytes: Optional[int] = None, **send: Any) -> Iterator[Page]:
    """Yield ``(details, data, page_number, running_total_rows, keys)`` per page:
    ``details`` is the first page without its ``data`` (as 1.0.1 gave it to
    callbacks), ``keys`` the first page's keys in the server's order.

    ``session`` sends (its retry loop) and previews bodies (redacted);
    ``max_bytes`` bounds the pages' bodies in all (for a caller that keeps them);
    ``send`` holds ``verify``, ``proxies``, ``redlock_ignore``, ``status_ignore``.
    """
    if max_pages < 1:
        raise ValueError("max_pages must be at least 1")
    body = copy.deepcopy(payload)
    # What 1.0.1 always asked for: heuristic search, big pages, resource JSON.
    body.update({"heuristicSearch": True, "limit": 2000, "withResourceJson": True})
    base = session.api_url
    pages = rows = total = 0
    res = _fetch(session, f"{base}/search/config", body, send, pages, rows)
    details = _json(session, res, "the first page", pages, rows)
    keys = tuple(details)
    data = details.pop("data", None)
    if not isinstance(data, dict) or "items" not in data:
        raise _incomplete(f"the first page (HTTP {res.status_code}) has no 'data' with "
                          f"'items': {session._preview(res, 200)}", pages, rows, res)
    seen: Set[bytes] = set()
    size = len(res.content)
    while True:
        if max_bytes is not None and size > max_bytes:
            raise _incomplete(f"the pages add up to more than {max_bytes} bytes "
                              f"(max_response_bytes), too many to merge in memory; "
                              f"config_search_request_function() takes them one at a time",
                              pages, rows, res)
        items = data.get("items", [])
        if not isinstance(items, list):
            raise _incomplete(f"page {pages + 1} has 'items' that are not a list", pages, rows,
                              res)
        total += total_rows(data)
        yield details, data, pages, total, keys
        pages += 1
        rows += len(items)
        token = data.get("nextPageToken")
        if not token:
            return
        if not isinstance(token, str):
            raise _incomplete(f"page {pages} gave a nextPageToken that is not a string",
                              pages, rows, res)
        digest = hashlib.sha256(token.encode("utf-8", "replace")).digest()
        if digest in seen:
            raise _incomplete(f"the tenant repeated a page token it had given before "
                              f"(page {pages} pointed back to an earlier page)", pages, rows, res)
        if pages >= max_pages:
            raise _incomplete(f"the search has more than {_count(max_pages, 'page')} "
                              f"(max_pages; pass a larger max_pages= to read further)",
                              pages, rows, res)
        seen.add(digest)
        body["pageToken"] = token
        res = _fetch(session, f"{base}/search/config/page", body, send, pages, rows)
        size += len(res.content)
        data = _json(session, res, f"page {pages + 1}", pages, rows)
        if "items" not in data:
            raise _incomplete(f"page {pages + 1} (HTTP {res.status_code}) has no 'items': "
                              f"{session._preview(res, 200)}", pages, rows, res)


def _fetch(session: Any, url: str, body: Dict[str, Any], send: Dict[str, Any], pages: int,
           rows: int) -> requests.Response:
    """One page through the session's retry loop; a call that fails for good
    (connection, origin, size, deadline) ends the search like a failed page."""
    try:
        res: requests.Response = session._send("POST", url, json=body, **send)
        return res
    except requests.RequestException as exc:
        why = session._redact(f"{type(exc).__name__}: {exc}")
        raise _incomplete(f"page {pages + 1} failed ({why})", pages,
                          rows, getattr(exc, "response", None)) from exc


def total_rows(data: Dict[str, Any]) -> int:
    """A page's ``totalRows``, or 0 when it has none that is a number."""
    value = data.get("totalRows")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _json(session: Any, res: requests.Response, what: str, pages: int,
          rows: int) -> Dict[str, Any]:
    status = res.status_code
    if status not in session.success_status:
        raise _incomplete(f"{what} answered HTTP {status}: {session._preview(res, 200)}",
                          pages, rows, res)
    try:
        found = strict_json(res.content)
    except NotJSON as exc:  # (bytes that are not UTF-8 are never silently replaced)
        raise _incomplete(f"{what} (HTTP {status}) is not a JSON object ({exc}): "
                          f"{session._preview(res, 200)}", pages, rows, res) from None
    if not isinstance(found, dict):
        raise _incomplete(f"{what} (HTTP {status}) is not a JSON object: "
                          f"{session._preview(res, 200)}", pages, rows, res)
    return found
