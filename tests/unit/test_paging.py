"""The paging policy (pcpi/_paging.py) and the pager (pcpi/_pager.py) driven by a
fake session that answers from a function, through no socket."""

from __future__ import annotations

import io
import json
import logging
import pickle
import re

import pytest
import requests

from pcpi._catalogue import Paging
from pcpi._pager import Pager, paginate
from pcpi._paging import (
    MAX_QUERY_TOKEN,
    Cursor,
    Page,
    PagingError,
    Unreadable,
    Walk,
    decode_resume,
    encode_resume,
    make_plan,
    read_page,
    shape_for,
)
from pcpi._redact import redact
from pcpi.errors import IncompleteResultError

from .._fakes import names


# ---------------------------------------------------------------------- a fake session
class Session:
    """Answers each page from ``answer(method, path, body, params)``: a
    ``(status, JSON or bytes, headers)`` tuple, or an exception to raise."""

    success_status = range(200, 207)
    logger = logging.getLogger("pcpi.test.paging")

    def __init__(self, answer):
        self.answer = answer
        self.sent = []

    def request(self, method, path, json=None, params=None, idempotent=None, **send):
        assert idempotent is True  # pages are asked again after a timeout, same token
        self.sent.append((method, path, None if json is None else dict(json),
                          list(params or [])))
        got = self.answer(method, path, dict(json or {}), dict(params or []))
        if isinstance(got, Exception):
            raise got
        status, body, headers = got
        res = requests.Response()
        res.status_code = status
        res.raw = io.BytesIO(body if isinstance(body, bytes) else _dumps(body))
        res.headers.update(headers)
        return res

    def _preview(self, res, limit):
        return res.text[:limit]

    def _redact(self, text):
        return redact(text)


def _dumps(obj) -> bytes:
    return json.dumps(obj).encode()


def alerts(n, *, total=True, final_token=True, fail=None):
    """/v2/alert over ``n`` items: tokens ``t<offset>``; ``fail(offset)`` may
    answer instead."""
    def answer(method, path, body, params):
        token = body.get("pageToken")
        offset = int(token[1:]) if token else 0
        if fail is not None and fail(offset) is not None:
            return fail(offset)
        size = body.get("limit", 10)
        items = [{"id": i} for i in range(offset, min(n, offset + size))]
        out = {"items": items}
        if total:
            out["totalRows"] = n
        if items and (final_token or offset + len(items) < n):
            out["nextPageToken"] = f"t{offset + len(items)}"
        return 200, out, {}
    return answer


def compute(n, cap=50, header=True):
    def answer(method, path, body, params):
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 50))
        items = [{"_id": i} for i in range(offset, min(n, offset + min(limit, cap)))]
        return 200, items, {"Total-Count": str(n)} if header else {}
    return answer


def pager(answer, method="POST", path="/v2/alert", body=None, params=None, style="body-token",
          **kwargs):
    session = Session(answer)
    p = paginate(session, method, path, body, params, style=style, **kwargs)
    return session, p


# ---------------------------------------------------------------------- shapes
def test_an_unknown_style_names_the_styles():
    with pytest.raises(ValueError, match="'rql', 'body-token', 'offset', 'query-token'"):
        shape_for("cursor")


def test_the_catalogue_shapes_a_style_it_agrees_with_and_nothing_else():
    audit = Paging("body-token", "nextPageToken", "nextPageToken", "value", "limit", "body", 500,
                   "", "")
    shape = shape_for("body-token", audit)
    assert (shape.token_in, shape.items, shape.cap, shape.total) == \
        ("nextPageToken", "value", 500, "")
    assert shape_for("query-token", audit) == shape_for("query-token")  # another style
    assert shape_for("body-token", audit, items_key="data.value").items == "data.value"
    with pytest.raises(ValueError, match="dotted path"):
        shape_for("body-token", items_key=3)


def test_an_rql_search_reads_its_first_page_where_the_catalogue_says():
    config = Paging("rql", "pageToken", "data.nextPageToken", "data.items", "limit", "body",
                    None, "data.totalRows", "/search/config/page")
    v2 = Paging("rql", "pageToken", "nextPageToken", "items", "limit", "body", None,
                "totalRows", "/search/config/page")
    for paging, first in ((config, "data.items"), (v2, "items"), (None, "data.items")):
        shape = shape_for("rql", paging)
        assert (shape.first_items, shape.items, shape.total) == (first, "items", "")
    assert shape_for("rql", config, items_key="rows").first_items == "data.rows"
    assert shape_for("rql", v2, items_key="rows").first_items == "rows"


def test_a_query_token_style_puts_the_page_size_in_the_query():
    odd = Paging("query-token", "pageToken", "nextPageToken", "items", "limit", "body", None,
                 "", "")
    assert shape_for("query-token", odd).size_in == "query"
    assert shape_for("offset", Paging("offset", "", "", "", "limit", "", 50, "", "")).size_in \
        == "query"


# ---------------------------------------------------------------------- plans and calls
@pytest.mark.parametrize("args,match", [
    (("FETCH", "/v2/alert", None, None), "invalid HTTP method"),
    ((None, "/v2/alert", None, None), "invalid HTTP method"),
    (("POST", " ", None, None), "non-empty path"),
    (("GET", "/v2/alert", None, None), "needs POST"),
    (("POST", "/v2/alert", [1, 2], None), "JSON object"),
    (("POST", "/v2/alert", None, 7), "list of \\(name, value\\) pairs"),
    (("POST", "/v2/alert", {"limit": "many"}, None), "limit must be an integer"),
    (("POST", "/v2/alert", {"limit": 0}, None), "limit must not be 0"),
])
def test_a_paging_call_with_bad_arguments_says_what_to_fix(args, match):
    with pytest.raises(ValueError, match=match):
        make_plan(*args, shape_for("body-token"), None)


@pytest.mark.parametrize("size", [0, -1, True, 2.5, "10"])
def test_page_size_must_be_a_positive_int(size):
    with pytest.raises(ValueError, match="page_size must be a positive int"):
        make_plan("POST", "/v2/alert", None, None, shape_for("body-token"), size)


def test_the_page_size_comes_from_the_call_then_the_cap_and_is_clamped_to_it():
    capped = shape_for("offset")  # Compute: 50
    assert make_plan("GET", "/api/v1/images", None, None, capped, None).size == 50
    assert make_plan("GET", "/api/v1/images?limit=100", None, None, capped, None).size == 50
    assert make_plan("GET", "/api/v1/images", None, {"limit": 20}, capped, None).size == 20
    assert make_plan("GET", "/api/v1/images", None, None, capped, 500).size == 50
    free = shape_for("body-token")
    assert make_plan("POST", "/v2/alert", None, None, free, None).size is None
    assert make_plan("POST", "/v2/alert", {"limit": 300}, None, free, None).size == 300
    assert make_plan("POST", "/v2/alert", {"limit": 300}, None, free, 40).size == 40


def test_the_callers_body_and_params_are_copied_never_changed():
    body, params = {"filters": [{"name": "x"}], "limit": 5}, {"detailed": "true"}
    plan = make_plan("post", "v2/alert?sort=asc", body, params, shape_for("body-token"), None)
    req = plan.request(Cursor(token="t5"))
    assert body == {"filters": [{"name": "x"}], "limit": 5} and params == {"detailed": "true"}
    assert plan.endpoint == "POST /v2/alert"
    assert req.params == [("sort", "asc"), ("detailed", "true")]


def test_after_the_first_page_only_the_token_and_the_page_size_travel():
    window = {"timeRange": {"type": "relative", "value": {"amount": 24, "unit": "hour"}},
              "filters": [], "limit": 100}
    plan = make_plan("POST", "/v2/alert", window, {"detailed": "true"},
                     shape_for("body-token"), None)
    first = plan.request(Cursor())
    later = plan.request(Cursor(token="abc", pages=1, items=100))
    assert first.json == window and first.first
    assert later.json == {"pageToken": "abc", "limit": 100} and not later.first
    assert later.params == [("detailed", "true")]  # the query goes with every page


def test_an_rql_search_asks_its_page_path_with_the_token_and_its_search_flags():
    body = {"query": "config from cloud.resource", "timeRange": {"type": "to_now"},
            "limit": 1000, "withResourceJson": False, "heuristicSearch": True}
    plan = make_plan("POST", "/search/config", body, None, shape_for("rql"), None)
    later = plan.request(Cursor(token="p2"))
    assert later.path == "/search/config/page"
    assert later.json == {"pageToken": "p2", "limit": 1000, "withResourceJson": False,
                          "heuristicSearch": True}
    iam = Paging("body-token", "nextPageToken", "data.nextPageToken", "data.items", "limit",
                 "query", None, "data.totalRows", "")
    plan = make_plan("POST", "/iam/api/v3/search/permission", {"query": "q"}, None,
                     shape_for("body-token", iam), 200)
    req = plan.request(Cursor(token="n2"))
    assert (req.json, req.params) == ({"nextPageToken": "n2"}, [("limit", 200)])


def test_an_offset_call_replaces_offset_and_limit_and_starts_where_asked():
    plan = make_plan("GET", "/api/v1/images?offset=10&limit=100&collections=a", None,
                     {"collections": ["b", "c"]}, shape_for("offset"), None)
    assert plan.start().offset == 10
    req = plan.request(Cursor(offset=60))
    assert req.json is None
    assert req.params == [("collections", "a"), ("collections", "b"), ("collections", "c"),
                          ("offset", 60), ("limit", 50)]
    body_offsets = shape_for("offset", Paging("offset", "", "", "data", "limit", "body", 100,
                                              "totalCount", ""))
    req = make_plan("POST", "/code/api/v1/x", {"q": 1}, None, body_offsets, None).request(
        Cursor(offset=100))
    assert req.json == {"q": 1, "offset": 100, "limit": 100} and req.params is None
    with pytest.raises(ValueError, match="offset must not be -1"):
        make_plan("GET", "/api/v1/images", None, {"offset": -1}, shape_for("offset"), None)


def test_a_query_token_travels_alone_and_a_long_one_is_refused():
    plan = make_plan("GET", "/v2/alert", None, {"timeType": "relative", "timeAmount": 1},
                     shape_for("query-token"), 500)
    assert plan.request(Cursor()).params == [("timeType", "relative"), ("timeAmount", 1),
                                             ("limit", 500)]
    later = plan.request(Cursor(token="t1"))
    assert (later.json, later.params) == (None, [("pageToken", "t1"), ("limit", 500)])
    plan.request(Cursor(token="x" * MAX_QUERY_TOKEN))  # at the bound: sent
    with pytest.raises(PagingError, match="too long for a URL.*style='body-token'"):
        plan.request(Cursor(token="x" * (MAX_QUERY_TOKEN + 1)))


# ---------------------------------------------------------------------- reading pages
@pytest.mark.parametrize("style,first,body,reason", [
    ("body-token", False, None, "is not a JSON object"),
    ("body-token", False, [1], "is not a JSON object"),
    ("offset", False, {"items": []}, "is not a JSON array"),
    ("rql", True, {"data": {"nope": 1}}, "has no 'data' with 'items'"),
    ("rql", True, {"data": 3}, "has no 'data' with 'items'"),
    ("rql", False, {"items": "nope"}, "has 'items' that are not a list"),
])
def test_a_page_that_does_not_read_as_its_style_says(style, first, body, reason):
    with pytest.raises(Unreadable, match=reason):
        read_page(shape_for(style), first, body, {})


def test_a_page_gives_its_items_token_and_total():
    rql = shape_for("rql")
    assert read_page(rql, True, {"data": {"items": [1], "nextPageToken": "n",
                                          "totalRows": 1}}, {}) == Page([1], "n", None)
    assert read_page(rql, False, {"items": [2]}, {}) == Page([2], None, None)
    alerts_ = shape_for("body-token")
    assert read_page(alerts_, False, {"items": [], "totalRows": 9}, {}).total == 9
    offset = shape_for("offset")
    assert read_page(offset, False, [1, 2], {"Total-Count": " 120 "}) == Page([1, 2], None, 120)


@pytest.mark.parametrize("headers,body,expect", [
    ({"Total-Count": "many"}, {}, None), ({}, {}, None), ({"Total-Count": "-3"}, {}, None),
])
def test_a_total_that_is_not_a_count_is_no_total(headers, body, expect):
    assert read_page(shape_for("offset"), False, [], headers).total == expect


@pytest.mark.parametrize("total", [True, -1, "12", 1.5, None])
def test_a_total_in_the_body_must_be_a_count(total):
    assert read_page(shape_for("body-token"), False, {"items": [], "totalRows": total},
                     {}).total is None


# ---------------------------------------------------------------------- when pages end
def walk(style, max_pages=10, **plan):
    return Walk(make_plan(plan.pop("method", "POST" if style in ("rql", "body-token")
                                   else "GET"), "/x", None, None, shape_for(style), None),
                max_pages)


def test_a_body_token_run_ends_on_no_token_an_empty_page_or_the_total():
    w = walk("body-token")
    at = Cursor(token="t1", pages=1, items=10)
    assert w.after(at, Page([1] * 10, None, None)).next is None
    assert w.after(at, Page([], "t9", None)).next is None  # (the last page had a token)
    assert w.after(at, Page([1] * 5, "t9", 15)).next is None  # all announced items read
    nxt = w.after(at, Page([1] * 5, "t9", 100)).next
    assert nxt == Cursor(token="t9", pages=2, items=15, total=100)


def test_an_rql_page_that_is_empty_with_a_token_goes_on():
    w = walk("rql")
    assert w.after(Cursor(token="a"), Page([], "b", None)).next == Cursor(token="b", pages=1)


def test_an_offset_run_advances_by_what_was_received_and_ends_on_the_total_or_empty():
    w = walk("offset")
    at = Cursor(offset=100, pages=2, items=100)
    assert w.after(at, Page([1] * 20, None, 500)).next == \
        Cursor(offset=120, pages=3, items=120, total=500)
    assert w.after(at, Page([1] * 20, None, 120)).next is None
    assert w.after(at, Page([1] * 20, None, None)).next.offset == 120  # no total: go on
    assert w.after(at, Page([], None, None)).next is None


def test_an_empty_page_before_the_announced_total_is_noted():
    w = walk("offset")
    step = w.after(Cursor(offset=100, items=100, total=300), Page([], None, None))
    assert step.next is None and "empty after 100 of the 300 items" in step.note
    step = walk("body-token").after(Cursor(token="t", items=5), Page([], "u", 9))
    assert "empty after 5 of the 9" in step.note
    assert walk("offset").after(Cursor(), Page([], None, 0)).note == ""


def test_a_token_that_is_not_a_string_or_comes_back_ends_the_listing_for_good():
    w = walk("body-token")
    step = w.after(Cursor(), Page([1], 7, None))
    assert step.next is None and "not a string" in step.problem and not step.resumable
    w.request(Cursor(token="t1"))
    step = w.after(Cursor(token="t1", pages=1), Page([1], "t1", None))
    assert "repeated a page token" in step.problem and "page 2" in step.problem
    assert not step.resumable


def test_the_page_bound_ends_a_run_where_it_can_be_resumed():
    w = walk("offset", max_pages=2)
    assert not w.after(Cursor(), Page([1], None, None)).problem
    step = w.after(Cursor(offset=1, pages=1, items=1), Page([1], None, None))
    assert "more than 2 pages" in step.problem and step.resumable
    assert step.next == Cursor(offset=2, pages=2, items=2)
    for bad in (0, True, "3"):
        with pytest.raises(ValueError, match="max_pages must be at least 1"):
            walk("offset", max_pages=bad)


# ---------------------------------------------------------------------- resume points
def test_a_resume_point_is_json_and_is_checked_against_its_call():
    plan = make_plan("POST", "/v2/alert", {"filters": [1], "limit": 10}, None,
                     shape_for("body-token"), None)
    at = Cursor(token="t10", pages=1, items=10, skip=3, total=40)
    point = json.loads(json.dumps(encode_resume(plan, at)))
    assert decode_resume(plan, point) == at
    other_size = make_plan("POST", "/v2/alert", {"filters": [1], "limit": 99}, None,
                           shape_for("body-token"), 5)
    assert decode_resume(other_size, point) == at  # the page size may change
    other_body = make_plan("POST", "/v2/alert", {"filters": [2]}, None,
                           shape_for("body-token"), None)
    with pytest.raises(ValueError, match="another body or query"):
        decode_resume(other_body, point)
    other_call = make_plan("GET", "/v2/alert", None, None, shape_for("query-token"), None)
    with pytest.raises(ValueError) as info:
        decode_resume(other_call, point)
    names(info.value, "POST /v2/alert", "'body-token'", "GET /v2/alert", "'query-token'")


def test_an_offset_resume_point_starts_after_the_items_delivered():
    plan = make_plan("GET", "/api/v1/images", None, None, shape_for("offset"), None)
    point = encode_resume(plan, Cursor(offset=100, pages=2, items=100, skip=7))
    assert (point["offset"], point["items"], point["skip"]) == (107, 107, 0)


@pytest.mark.parametrize("change,match", [
    ({"pcpi_resume": 2}, "as pcpi made it"),
    ({"token": 5}, "'token' must be a string"),
    ({"pages": -1}, "'pages' must be an int >= 0"),
    ({"skip": True}, "'skip' must be an int >= 0"),
    ({"total": "many"}, "'total' must be an int >= 0 or None"),
])
def test_a_resume_point_that_is_not_sound_is_refused(change, match):
    plan = make_plan("POST", "/v2/alert", None, None, shape_for("body-token"), None)
    point = dict(encode_resume(plan, Cursor(token="t")), **change)
    with pytest.raises(ValueError, match=match):
        decode_resume(plan, point)
    with pytest.raises(ValueError, match="as pcpi made it"):
        decode_resume(plan, "t")
    offsets = make_plan("GET", "/api/v1/images", None, None, shape_for("offset"), None)
    with pytest.raises(ValueError, match="an offset listing has no 'token'"):
        decode_resume(offsets, dict(encode_resume(offsets, Cursor()), token="t"))


# ---------------------------------------------------------------------- the pager
def test_items_come_lazily_one_page_at_a_time():
    session, p = pager(alerts(25), page_size=10)
    assert session.sent == []  # nothing before iteration
    it = iter(p)
    assert next(it) == {"id": 0} and len(session.sent) == 1
    rest = list(it)
    assert [i["id"] for i in rest] == list(range(1, 25))
    # the total ended it: no call for the empty page after the last one with data
    assert len(session.sent) == 3 and (p.items_read, p.pages_read, p.total) == (25, 3, 25)
    assert p.resume is None


def test_without_a_total_the_empty_page_after_the_last_token_ends_it():
    session, p = pager(alerts(20, total=False), page_size=10)
    assert len(list(p)) == 20 and len(session.sent) == 3 and p.pages_read == 3
    assert p.total is None


def test_a_loop_stopped_mid_page_resumes_with_exactly_the_rest():
    for stop in (1, 9, 10, 11, 24):
        session, p = pager(alerts(25), page_size=10)
        got = []
        for item in p:
            got.append(item["id"])
            if len(got) == stop:
                break
        assert p.items_read == stop
        point = json.loads(json.dumps(p.resume))
        _, again = pager(alerts(25), page_size=10, resume=point)
        got += [i["id"] for i in again]
        assert got == list(range(25)), stop
        assert again.items_read == 25 and again.resume is None


def test_max_items_ends_normally_and_a_resume_reads_on():
    session, p = pager(compute(140), method="GET", path="/api/v1/images", style="offset",
                       max_items=75)
    first = [i["_id"] for i in p]
    assert first == list(range(75)) and p.pages_read == 1 and len(session.sent) == 2
    _, q = pager(compute(140), method="GET", path="/api/v1/images", style="offset",
                 resume=p.resume, max_items=30)
    assert [[i["_id"] for i in page] for page in q.pages()] == [list(range(75, 105))]
    assert (q.items_read, q.resume["offset"]) == (105, 105)
    session, none = pager(alerts(25), max_items=0)
    assert list(none) == [] and session.sent == [] and none.resume is not None
    with pytest.raises(ValueError, match="max_items must be an int >= 0"):
        pager(alerts(5), max_items=-1)


def test_pages_come_as_lists_and_empty_ones_are_not_yielded():
    session, p = pager(alerts(20, total=False), page_size=10)
    assert [len(page) for page in p.pages()] == [10, 10] and p.pages_read == 3


def test_a_pager_is_consumed_once():
    _, p = pager(alerts(5))
    list(p)
    for again in (lambda: iter(p), p.pages):
        with pytest.raises(RuntimeError, match="consumed once.*resume=pager.resume"):
            again()
    assert "POST /v2/alert" in repr(p) and "items_read=5" in repr(p)


def test_a_failed_page_raises_with_a_resume_point_that_reads_exactly_the_rest():
    def broken(offset):
        return (500, b"busy", {}) if offset == 20 else None

    session, p = pager(alerts(35, fail=broken), page_size=10)
    got = []
    with pytest.raises(IncompleteResultError) as info:
        for item in p:
            got.append(item["id"])
    exc = info.value
    assert (exc.pages, exc.rows) == (2, 20) and got == list(range(20))
    assert "page 3 answered HTTP 500: busy" in str(exc) and "resume=exc.resume" in str(exc)
    assert exc.resume == p.resume and exc.resume["token"] == "t20"
    back = pickle.loads(pickle.dumps(exc))
    assert back.resume == exc.resume and (back.pages, back.rows) == (2, 20)
    _, q = pager(alerts(35), page_size=10, resume=exc.resume)
    assert got + [i["id"] for i in q] == list(range(35))


@pytest.mark.parametrize("answer,why", [
    (requests.exceptions.ConnectionError("reset"), "page 2 failed (ConnectionError: reset)"),
    ((200, b"<html>", {}),
     "page 2 (HTTP 200) is not a JSON object (not JSON (JSONDecodeError at 0)): <html>"),
    ((200, b"[" * 100_000 + b"]" * 100_000, {}), "page 2 (HTTP 200) is not a JSON object"),
    ((200, {"nope": 1}, {}), "page 2 (HTTP 200) has no 'items'"),
    ((200, {"items": {"a": 1}}, {}), "page 2 has 'items' that are not a list"),
])
def test_a_page_that_cannot_be_read_is_incomplete_and_resumable(answer, why):
    def broken(offset):
        return answer if offset == 5 else None

    _, p = pager(alerts(20, fail=broken), page_size=5)
    with pytest.raises(IncompleteResultError, match=re.escape(why)) as info:
        list(p)
    assert (info.value.pages, info.value.rows, info.value.resume["token"]) == (1, 5, "t5")


def test_a_repeated_token_is_raised_after_its_page_with_no_resume_point():
    def loop(method, path, body, params):
        return 200, {"items": [{"id": 1}], "nextPageToken": "same"}, {}

    session, p = pager(loop)
    got = []
    with pytest.raises(IncompleteResultError, match="repeated a page token") as info:
        for item in p:
            got.append(item)
            assert p.resume is None or p.items_read == 1
    assert len(got) == 2 and len(session.sent) == 2
    assert info.value.resume is None and p.resume is None and "resume=" not in str(info.value)


def test_max_items_reached_with_a_page_ends_normally_whatever_follows_it():
    def loop(method, path, body, params):
        return 200, {"items": [{"id": 1}, {"id": 2}], "nextPageToken": "same"}, {}

    session, p = pager(loop, max_items=4)
    assert len(list(p)) == 4 and len(session.sent) == 2 and p.resume is None


def test_the_page_bound_is_raised_with_a_resume_point_that_reads_on():
    session, p = pager(alerts(30), page_size=5, max_pages=2)
    got = []
    with pytest.raises(IncompleteResultError, match="more than 2 pages") as info:
        for item in p:
            got.append(item["id"])
    assert info.value.pages == 2 and len(session.sent) == 2
    _, q = pager(alerts(30), page_size=5, resume=info.value.resume)
    got += [i["id"] for i in q]
    assert got == list(range(30))


def test_a_token_too_long_for_a_url_is_not_sent():
    def long_tokens(method, path, body, params):
        return 200, {"items": [{"id": 1}], "nextPageToken": "x" * 20_000}, {}

    session, p = pager(long_tokens, method="GET", style="query-token")
    with pytest.raises(IncompleteResultError) as info:
        list(p)
    names(info.value, "page 2", "20,000 bytes")  # which page, and its token's size
    assert len(session.sent) == 1 and info.value.resume["token"] == "x" * 20_000


def test_a_short_listing_is_logged(caplog):
    def shrinking(method, path, body, params):
        return 200, [], {"Total-Count": "80"}

    _, p = pager(shrinking, method="GET", path="/api/v1/images", style="offset")
    with caplog.at_level(logging.WARNING, logger="pcpi.test.paging"):
        assert list(p) == []
    names(caplog.text, "GET /api/v1/images", "page 1", " 80 ")  # the call, the page, the total


def test_the_catalogue_decides_the_style_and_an_unknown_endpoint_needs_one():
    session = Session(compute(60))
    p = paginate(session, "GET", "/api/v1/containers", page_size=200)
    assert [len(page) for page in p.pages()] == [50, 10]  # clamped to Compute's cap
    with pytest.raises(ValueError) as info:
        paginate(session, "POST", "/v9/things")
    names(info.value, "POST /v9/things", "style=", "'rql'", "'body-token'", "'offset'")
    asked = []

    def audit_log(method, path, body, params):  # its own fields, as the catalogue has them
        asked.append(body)
        if "nextPageToken" not in body:
            return 200, {"value": [{"id": 1}], "nextPageToken": "n2"}, {}
        return 200, {"value": [{"id": 2}]}, {}

    audit = paginate(Session(audit_log), "POST", "/audit/api/v1/log")
    assert [item["id"] for item in audit] == [1, 2]
    assert asked[0]["limit"] == 500 and asked[1]["nextPageToken"] == "n2"


def test_a_pager_made_directly_counts_from_its_resume_point():
    plan = make_plan("POST", "/v2/alert", None, None, shape_for("body-token"), 10)
    point = encode_resume(plan, Cursor(token="t10", pages=1, items=10, skip=4, total=25))
    p = Pager(Session(alerts(25)), plan, resume=point)
    assert (p.items_read, p.pages_read, p.total) == (14, 1, 25)
    assert [i["id"] for i in p] == list(range(14, 25))


def test_a_family_without_a_page_size_field_is_sent_none():
    sizeless = shape_for("body-token", Paging("body-token", "pageToken", "nextPageToken",
                                              "items", "", "body", None, "", ""))
    plan = make_plan("POST", "/v2/things", {"limit": 5}, None, sizeless, 20)
    assert plan.request(Cursor()).json == {"limit": 5}  # (the caller's own field, untouched)
    assert plan.request(Cursor(token="t")).json == {"pageToken": "t"}
