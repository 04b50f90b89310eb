"""Small parts with edges of their own: pickled errors, credential values, the
log redaction filter, and RQL pagination driven by a fake session (no sockets)."""

from __future__ import annotations

import io
import json
import logging
import pickle

import pytest
import requests

from pcpi import errors
from pcpi._credentials import normalize_url, parse_flag, parse_verify
from pcpi._redact import _RedactingFilter, redact, remember
from pcpi._rql import config_search_pages, total_rows
from pcpi.errors import ConfigurationError, IncompleteResultError


# ---------------------------------------------------------------------- errors
def test_an_incomplete_result_survives_pickling_with_its_counts():
    exc = IncompleteResultError("RQL config search incomplete: page 3 failed", pages=2,
                                rows=4000)
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is IncompleteResultError and str(back) == str(exc)
    assert (back.pages, back.rows) == (2, 4000)
    assert isinstance(back, ValueError) and isinstance(back, requests.RequestException)


@pytest.mark.parametrize("cls,bases", [
    (errors.OriginError, (requests.RequestException,)),
    (errors.ResponseTooLargeError, (requests.RequestException,)),
    (errors.DeadlineExceeded, (requests.exceptions.ReadTimeout, requests.exceptions.Timeout)),
    (errors.IncompleteResultError, (ValueError, requests.RequestException)),
])
def test_error_classes_are_caught_where_requests_errors_are(cls, bases):
    for base in bases:
        assert issubclass(cls, base)


# ---------------------------------------------------------------------- credential values
@pytest.mark.parametrize("given,expect", [
    ("api.prismacloud.io", "https://api.prismacloud.io"),
    ("https://app.prismacloud.io/", "https://api.prismacloud.io"),
    ("https://app2.eu.prismacloud.io/home", "https://api2.eu.prismacloud.io"),
    (" https://console.example.com:8083/ ", "https://console.example.com:8083"),
    ("https://console.example.com/prefix", "https://console.example.com/prefix"),
])
def test_urls_are_normalised(given, expect):
    assert normalize_url(given) == expect


@pytest.mark.parametrize("given,match", [
    ("", "is empty"), ("   ", "is empty"), (None, "is empty"), (42, "is empty"),
    ("https://[::1", "is not a valid URL"), ("https://host:99999", "is not a valid URL"),
    ("ftp://host", "url"),
])
def test_unusable_urls_say_what_to_fix(given, match):
    with pytest.raises(ConfigurationError, match=match):
        normalize_url(given)


def test_verify_values_from_files_and_prompts(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert parse_verify(True) is True and parse_verify(False) is False
    assert parse_verify(None) is True and parse_verify("") is True
    assert parse_verify(" True ") is True and parse_verify("FALSE") is False
    assert parse_verify(str(bundle)) == str(bundle)
    with pytest.raises(ConfigurationError, match="existing CA bundle file"):
        parse_verify(str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigurationError, match="not int"):
        parse_verify(1)
    # one reader for files and constructors alike: yes/no and 1/0 are words too
    assert parse_verify("yes") is True and parse_verify(" No ") is False


@pytest.mark.parametrize("given,expect", [(True, True), (False, False), (None, False),
                                          ("true", True), ("True", True), ("false", False),
                                          ("", False), ("yes", False)])
def test_project_flags(given, expect):
    assert parse_flag(given) is expect


# ---------------------------------------------------------------------- the log filter
def _record(msg, *args, exc=None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("urllib3.connectionpool", logging.DEBUG, __file__, 1, msg, args,
                             exc_info)


def test_the_filter_redacts_the_message_and_keeps_the_record():
    token = "tok-" + "f1lter" * 4
    remember(token)
    rec = _record("GET /x?auth=%s HTTP/1.1", token)
    assert _RedactingFilter().filter(rec) is True
    assert token not in rec.getMessage() and "<redacted>" in rec.getMessage()


def test_the_filter_folds_a_traceback_with_a_secret_into_the_message():
    token = "tok-" + "tr4ce" * 5
    remember(token)
    try:
        raise ValueError(f"bad answer {token}")
    except ValueError as exc:
        rec = _record("failed", exc=exc)
    _RedactingFilter().filter(rec)
    assert rec.exc_info is None and token not in rec.getMessage()
    assert "ValueError: bad answer <redacted>" in rec.getMessage()


def test_the_filter_leaves_clean_records_and_broken_ones_alone():
    try:
        raise ValueError("nothing secret")
    except ValueError as exc:
        rec = _record("plain %s", "text", exc=exc)
    _RedactingFilter().filter(rec)
    assert rec.exc_info is not None and rec.args == ("text",)
    broken = _record("%d items", "many")  # a malformed record: its logger's problem
    assert _RedactingFilter().filter(broken) is True and broken.args == ("many",)


def test_redact_takes_extra_secrets_and_ignores_empty_ones():
    assert redact("user bob pass hunter22", ["hunter22", None, ""]) == "user bob pass <redacted>"


# ---------------------------------------------------------------------- RQL pages
class Pages:
    """A session that answers RQL pages from a list, through no socket."""

    api_url = "https://api.example"
    success_status = range(200, 207)

    def __init__(self, *bodies):
        self.bodies = list(bodies)
        self.sent = []

    def request(self, method, url, json=None, **send):  # (the session's public call)
        self.sent.append((url, dict(json)))
        body = self.bodies.pop(0)
        if isinstance(body, Exception):
            raise body
        res = requests.Response()
        res.status_code = 200
        res.raw = io.BytesIO(body if isinstance(body, bytes) else _dumps(body))
        return res

    def _preview(self, res, limit):
        return res.text[:limit]

    def _redact(self, text):
        return redact(text)


def _dumps(obj) -> bytes:
    return json.dumps(obj).encode()


def _page(items, token=None, first=False):
    data = {"items": items, "totalRows": len(items)}
    if token is not None:
        data["nextPageToken"] = token
    return {"data": data, "query": "q"} if first else data


def test_pages_are_read_until_there_is_no_token_and_the_payload_is_left_alone():
    session = Pages(_page([1, 2], "t1", first=True), _page([3], "t2"), _page([4]))
    payload = {"query": "config from cloud.resource"}
    got = [(n, total, data["items"]) for _d, data, n, total, _keys
           in config_search_pages(session, payload)]
    assert got == [(0, 2, [1, 2]), (1, 3, [3]), (2, 4, [4])]
    assert payload == {"query": "config from cloud.resource"}
    assert [url.rsplit("/", 2)[-2:] for url, _ in session.sent] == \
        [["search", "config"], ["config", "page"], ["config", "page"]]
    assert [body.get("pageToken") for _, body in session.sent] == [None, "t1", "t2"]
    assert session.sent[0][1]["limit"] == 2000 and session.sent[0][1]["heuristicSearch"]


@pytest.mark.parametrize("pages,why,delivered", [
    ([_page([1], "t1", first=True), {"items": "nope"}], "not a list", (1, 1)),
    ([_page([1], 7, first=True)], "not a string", (1, 1)),
    ([_page([1], "t1", first=True), _page([2], "t1")], "repeated a page token", (2, 2)),
    ([_page([1], "t1", first=True), {"no": "items"}], "has no 'items'", (1, 1)),
    ([_page([1], "t1", first=True), b"<html>"], "is not a JSON object", (1, 1)),
    ([_page([1], "t1", first=True), requests.exceptions.ConnectionError("reset")],
     "failed (ConnectionError: reset)", (1, 1)),
    ([{"data": {"nope": 1}}], "has no 'data' with 'items'", (0, 0)),
    ([b"[" * 100_000 + b"]" * 100_000], "is not a JSON object", (0, 0)),
])
def test_a_page_that_is_wrong_ends_the_search_with_what_was_delivered(pages, why, delivered):
    session = Pages(*pages)
    with pytest.raises(IncompleteResultError) as info:
        for _ in config_search_pages(session, {"query": "q"}):
            pass
    assert why in str(info.value)
    assert (info.value.pages, info.value.rows) == delivered


def test_max_pages_is_a_bound_and_must_be_positive():
    session = Pages(_page([1], "t1", first=True), _page([2], "t2"), _page([3], "t3"))
    with pytest.raises(IncompleteResultError, match="more than 2 pages"):
        list(config_search_pages(session, {"query": "q"}, max_pages=2))
    with pytest.raises(ValueError, match="max_pages must be at least 1"):
        list(config_search_pages(Pages(), {"query": "q"}, max_pages=0))


def test_merged_pages_are_bounded_in_bytes():
    session = Pages(_page(["x" * 100], "t1", first=True), _page(["y" * 100], "t2"))
    with pytest.raises(IncompleteResultError, match="max_response_bytes"):
        list(config_search_pages(session, {"query": "q"}, max_bytes=150))


@pytest.mark.parametrize("data,expect", [({"totalRows": 5}, 5), ({"totalRows": "5"}, 0),
                                         ({"totalRows": True}, 0), ({}, 0),
                                         ({"totalRows": None}, 0)])
def test_total_rows_counts_only_numbers(data, expect):
    assert total_rows(data) == expect


@pytest.mark.parametrize("error", [
    errors.PcpiError("fatal"),
    errors.ConfigurationError("bad option"),
    errors.CredentialsFileError("/home/u/.prismacloud/credentials.json", "is not JSON"),
    errors.MissingEnvironmentError(["PRISMA_PCPI_ID", "PRISMA_PCPI_SECRET"]),
    errors.LoginError("gave up"),
    errors.CredentialsRejectedError("rejected"),
    errors.AuthorizationError("refused"),
    errors.OriginError("https://elsewhere:443"),
    errors.ResponseTooLargeError("too large"),
    errors.DeadlineExceeded("too slow"),
], ids=lambda e: type(e).__name__)
def test_every_error_crosses_a_process_boundary(error):
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and str(back) == str(error)
    assert back.args == error.args and vars(back) == vars(error)
    if isinstance(error, SystemExit):
        assert back.code == error.code
