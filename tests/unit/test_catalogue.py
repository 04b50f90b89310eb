"""The endpoint catalogue: its generator on a small hand-written spec tree
(tests/fixtures/specs), and lookup() on the table pcpi ships, for the facts Prisma
Cloud documents (paging shapes, caps, rate limits, deprecations)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from typing import Any, Dict, Tuple

import pytest

from pcpi import _catalogue
from pcpi._catalogue import CACHE_SIZE, STYLES, Catalogue, Endpoint, Paging, lookup

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "specs")
PACKAGED = os.path.join(ROOT, "pcpi", "catalogue.json")


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location(
        "build_catalogue", os.path.join(ROOT, "tools", "build_catalogue.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_catalogue"] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop("build_catalogue", None)


@pytest.fixture(scope="module")
def built(tool) -> Dict[str, Any]:
    return tool.build(FIXTURE)


@pytest.fixture(scope="module")
def rows(built) -> Dict[Tuple[str, str], Dict[str, Any]]:
    """The fixture's records by (method, template), as dicts of the table's columns."""
    out = {}
    for row in built["endpoints"]:
        record = dict(zip(built["fields"], row))
        if record["paging"] is not None:
            record["paging"] = dict(zip(built["paging_fields"], record["paging"]))
        out[(record["method"], record["template"])] = record
    return out


# ------------------------------------------------------------ the generator's rules
def test_a_body_token_post_with_its_items_total_and_cap(rows):
    post = rows[("POST", "/v2/widget")]
    assert post["paging"] == {
        "style": "body-token", "token_in": "pageToken", "token_out": "nextPageToken",
        "items": "items", "size_field": "limit", "size_in": "body", "cap": 2000,
        "total": "totalRows", "next_path": ""}
    assert post["read_only"] is True and (post["rate"], post["burst"]) == (3.0, 6.0)


def test_a_token_in_the_query_and_a_cap_from_the_schema_maximum(rows):
    paging = rows[("GET", "/v2/widget")]["paging"]
    assert (paging["style"], paging["token_in"], paging["size_in"], paging["cap"]) == \
        ("query-token", "pageToken", "query", 2000)


def test_a_token_the_body_takes_wins_over_one_the_query_takes(rows):
    paging = rows[("POST", "/widget/search")]["paging"]
    assert (paging["style"], paging["token_in"], paging["items"], paging["total"]) == \
        ("body-token", "nextPageToken", "value", "totalCount")
    assert (paging["size_field"], paging["size_in"], paging["cap"]) == ("page_size", "query", 200)


def test_an_rql_pair_found_by_its_page_path(rows):
    first = rows[("POST", "/query/run")]["paging"]
    assert first == {
        "style": "rql", "token_in": "pageToken", "token_out": "data.nextPageToken",
        "items": "data.items", "size_field": "limit", "size_in": "body", "cap": None,
        "total": "data.totalRows", "next_path": "/query/run/page"}
    later = rows[("POST", "/query/run/page")]["paging"]
    assert (later["style"], later["token_in"], later["items"], later["cap"]) == \
        ("body-token", "pageToken", "items", 1000)  # "Valid Range: [10, 1,000]"


def test_an_rql_pair_found_by_the_description_that_links_the_page_operation(rows):
    paging = rows[("POST", "/query/api/v2/run")]["paging"]
    assert (paging["style"], paging["token_in"], paging["token_out"], paging["next_path"]) == \
        ("rql", "pageToken", "nextPageToken", "/query/run/page")


def test_a_compute_offset_get_with_its_cap_rate_and_total_header(rows, built):
    get = rows[("GET", "/api/v1/widgets")]
    assert get["product"] == "compute"
    assert get["paging"] == {
        "style": "offset", "token_in": "", "token_out": "", "items": "", "size_field": "limit",
        "size_in": "query", "cap": 50, "total": "header:Total-Count", "next_path": ""}
    assert (get["rate"], get["burst"]) == (1.0, 30.0)
    assert built["source"]["compute_version"] == "34.03"  # the newest; 33.00 is left
    assert built["source"]["compute_spec"] == "34.03.7"
    assert not any(t.startswith("/api/v1/gadgets") for _, t in rows)


@pytest.mark.parametrize("key,why", [
    (("GET", "/api/v1/widgets/download"), "a CSV answer, not a JSON array"),
    (("POST", "/api/v1/widgets/refresh"), "a POST that takes offset/limit changes something"),
    (("POST", "/widget/export"), "the request takes a token, the answer has none"),
    (("POST", "/widget/mixed"), "two tokens in the answer: undecided"),
    (("POST", "/widget"), "no token anywhere"),
])
def test_what_does_not_page(rows, key, why):
    assert rows[key]["paging"] is None, why


@pytest.mark.parametrize("key,read_only", [
    (("POST", "/widget"), False),                 # "Add ..."
    (("POST", "/widget/dismiss"), False),         # a changing word beats "Returns"
    (("POST", "/widget/export"), False),          # "Submit ... Job"
    (("POST", "/api/v1/widgets/refresh"), False),
    (("POST", "/widget/count"), True),            # by its description: "Returns ..."
    (("POST", "/widget/mixed"), True),            # by its summary: "Get ..."
    (("POST", "/widget/search"), True),           # it pages
    (("POST", "/login"), True),                   # "Returns a session token."
    (("POST", "/policy/rule/validate"), True),    # the override table
    (("POST", "/api/v1/authenticate"), True),
    (("GET", "/widget/archived"), True),
    (("PUT", "/widget/{id}"), False),
    (("DELETE", "/api/v1/widgets/{id}"), False),
])
def test_read_only_detection(rows, key, read_only):
    assert rows[key]["read_only"] is read_only


def test_a_rate_per_minute_without_a_burst(rows):
    assert (rows[("GET", "/widget/{id}")]["rate"], rows[("GET", "/widget/{id}")]["burst"]) == \
        (1.5, None)
    assert rows[("GET", "/widget/archived")]["rate"] is None


def test_deprecation_and_the_replacement_the_spec_names(rows):
    by_link = rows[("GET", "/widget/v1")]
    assert (by_link["deprecated"], by_link["replacement"]) == (True, "GET /v2/widget")
    by_summary = rows[("PUT", "/widget/{id}")]  # the link is dead, its text names one
    assert (by_summary["deprecated"], by_summary["replacement"]) == (True, "POST /widget")
    unnamed = rows[("DELETE", "/widget/{id}")]
    assert (unnamed["deprecated"], unnamed["replacement"]) == (True, None)
    assert rows[("GET", "/v2/widget")]["deprecated"] is False


def test_no_description_text_reaches_the_table(tool):
    text = tool.dumps(tool.build(FIXTURE))
    for phrase in ("Lists widgets", "session token", "30 requests", "Creates a widget"):
        assert phrase not in text


def test_a_description_outside_the_spec_folder_is_not_read(tool, tmp_path):
    base = tmp_path / "spec"
    (base / "desc").mkdir(parents=True)
    (base / "desc" / "a.md").write_text("Inside.", encoding="utf-8")
    (tmp_path / "outside.md").write_text("Outside.", encoding="utf-8")
    assert tool.description({"description": {"$ref": "desc/a.md"}}, str(base)) == "Inside."
    assert tool.description({"description": {"$ref": "../outside.md"}}, str(base)) == ""
    assert tool.description({"description": {"$ref": "desc/none.md"}}, str(base)) == ""
    assert tool.description({"description": 7}, str(base)) == ""


@pytest.mark.parametrize("text,expected", [
    ("#### Rate Limits ####\n* Request rate limit: 2/sec \n* Burst limit: 10/sec", (2.0, 10.0)),
    ("#### Rate Limits\n* Request rate limit: 80/sec \n* Burst Rate: 80/sec\n", (80.0, 80.0)),
    ("**Rate Limits**\n* Request Rate Limit: 80/minute\n", (80 / 60, None)),
    ("The API rate limit for this endpoint is 30 requests per 30 seconds.", (1.0, 30.0)),
    ("at most 120 requests per minute", (2.0, 120.0)),
    ("#### Rate Limits ####\n* Request rate limit: 2/fortnight", (None, None)),
    ("No limits are documented.", (None, None)),
])
def test_rate_limit_parsing(tool, text, expected):
    assert tool.rate_limit(text) == expected


@pytest.mark.parametrize("field,expected", [
    ({"maximum": 10}, 10),
    ({"maximum": True, "description": "Rows."}, None),
    ({"description": "The maximum cannot exceed 10,000. The default is 10,000."}, 10000),
    ({"description": "Valid Range: [100, 500]"}, 500),
    ({"description": "Valid range is 1-300 inclusive."}, 300),
    ({"description": "Values greater than 1000 are set to 1000."}, 1000),
    ({"description": "Default is 50 and max is 500."}, 500),
    ({"description": "Results per page"}, None),
    (None, None),
])
def test_page_cap_parsing(tool, field, expected):
    assert tool.page_cap(field) == expected


# ------------------------------------------------------------ the generator's output
def test_the_output_is_stable_and_sorted(tool, built):
    again = tool.build(FIXTURE)
    assert tool.dumps(again) == tool.dumps(built)
    keys = [(r[2], r[1], r[0]) for r in built["endpoints"]]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_the_output_loads_and_lookup_finds_its_operations(tool, built):
    table = Catalogue(json.loads(tool.dumps(built)))
    assert table.find("GET", "/widget/archived").template == "/widget/archived"
    assert table.find("GET", "/widget/abc").template == "/widget/{id}"
    assert table.find("GET", "/console/api/v34.03/widgets").paging.cap == 50
    assert table.find("GET", "/widget/abc/more") is None


def test_the_command_line_writes_the_table_with_its_source(tool, tmp_path, capsys):
    out = tmp_path / "catalogue.json"
    assert tool.main([FIXTURE, "-o", str(out), "--source-commit", "0123abc",
                      "--source-date", "2026-08-21", "--compute-version", "33.00"]) == 0
    table = json.loads(out.read_text(encoding="utf-8"))
    assert (table["source"]["commit"], table["source"]["date"]) == ("0123abc", "2026-08-21")
    assert table["source"]["compute_version"] == "33.00"
    assert ["GET", "/api/v1/gadgets"] in [r[:2] for r in table["endpoints"]]
    assert json.loads(capsys.readouterr().err) == table["source"]
    assert not os.path.exists(str(out) + ".tmp")


@pytest.mark.parametrize("args,message", [
    (["--source-date", "21/08/2026"], "YYYY-MM-DD"),
    (["--compute-version", "12.01"], "no Compute spec 12.01; found: 33.00, 34.03"),
])
def test_the_command_line_says_what_is_wrong(tool, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as raised:
        tool.main([FIXTURE, "-o", str(tmp_path / "c.json"), *args])
    assert message in str(raised.value) + capsys.readouterr().err


def test_a_tree_without_specs_is_refused(tool, tmp_path):
    with pytest.raises(SystemExit, match="no openapi-specs/cspm"):
        tool.build(str(tmp_path))
    shutil.copytree(os.path.join(FIXTURE, "openapi-specs", "cspm"),
                    tmp_path / "openapi-specs" / "cspm")
    with pytest.raises(SystemExit, match="no Compute spec"):
        tool.build(str(tmp_path))
    (tmp_path / "openapi-specs" / "compute").mkdir()
    (tmp_path / "openapi-specs" / "compute" / "openapi-1-00-1.json").write_text("[]")
    with pytest.raises(SystemExit, match="not an OpenAPI spec"):
        tool.build(str(tmp_path))


def test_an_operation_in_two_cspm_specs_is_refused(tool, tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "tree")
    cspm = tmp_path / "tree" / "openapi-specs" / "cspm"
    shutil.copy(cspm / "Widgets.json", cspm / "Again.json")
    with pytest.raises(SystemExit, match="is in two CSPM specs"):
        tool.build(str(tmp_path / "tree"))


def test_a_git_clone_gives_its_commit_and_date(tool, tmp_path):
    if shutil.which("git") is None:
        pytest.fail("git is needed to regenerate the catalogue from a clone")
    tree = tmp_path / "pan.dev"
    shutil.copytree(FIXTURE, tree)
    env = dict(os.environ, GIT_COMMITTER_DATE="2026-08-21T12:00:00Z",
               GIT_AUTHOR_DATE="2026-08-21T12:00:00Z", GIT_CONFIG_GLOBAL=os.devnull,
               GIT_CONFIG_NOSYSTEM="1")
    for args in (["init", "-q"], ["add", "."],
                 ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q",
                  "-m", "specs"]):
        subprocess.run(["git", "-C", str(tree), *args], check=True, env=env, timeout=60)
    head = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True, timeout=60).stdout.strip()
    source = tool.build(str(tree))["source"]
    assert (source["commit"], source["date"]) == (head, "2026-08-21")
    assert tool.build(FIXTURE)["source"]["commit"] is None  # not a clone: unknown


# ------------------------------------------------------------ the table pcpi ships
def packaged_text() -> str:
    with open(PACKAGED, encoding="utf-8") as fh:
        return fh.read()


def test_the_shipped_table_is_in_the_generators_exact_form(tool):
    text = packaged_text()
    data = json.loads(text)
    assert tool.dumps(data) == text  # nobody edited it by hand, nothing lost in a round trip
    assert (data["format"], tuple(data["fields"]), tuple(data["paging_fields"])) == \
        (tool.FORMAT, tool.FIELDS, tool.PAGING_FIELDS)


def test_every_record_is_well_formed_and_found_at_its_own_template():
    table = _catalogue.catalogue()
    assert len(table.endpoints) > 800
    for e in table.endpoints:
        assert e.product in ("cspm", "compute") and e.method.isupper()
        if e.paging is not None:
            assert e.paging.style in STYLES and e.read_only
            assert (e.paging.next_path != "") == (e.paging.style == "rql")
            assert (e.paging.token_in == "") == (e.paging.style == "offset")
        if e.replacement is not None:
            method, path = e.replacement.split(" ")
            assert e.deprecated and lookup(method, path).template == path
        path = re.sub(r"\{[^}]+\}", "x1", e.template)
        found = [lookup(e.method, path)]
        if e.product == "compute":
            assert e.template.startswith("/api/v1/")
            found += [lookup(e.method.lower(), "/compute" + path),
                      lookup(e.method, "/eu-west1" + path.replace("/api/v1/", "/api/v34.04/"))]
        assert all(f is e for f in found), e


def test_the_source_says_what_the_table_was_built_from():
    source = _catalogue.SOURCE
    assert source["commit"] == "481855cc20059b737ac0f443676b5a94b37f47fd"
    assert source["date"] == "2026-08-21" and source["compute_version"] == "34.04"
    endpoints = _catalogue.catalogue().endpoints
    assert source["operations"] == {
        "cspm": sum(e.product == "cspm" for e in endpoints),
        "compute": sum(e.product == "compute" for e in endpoints)}
    assert source["paged"] == {s: sum(bool(e.paging and e.paging.style == s) for e in endpoints)
                               for s in sorted(STYLES)}
    assert source["deprecated"] == sum(e.deprecated for e in endpoints)
    source["commit"] = "changed"  # a copy: the next reader sees the table's own
    assert _catalogue.SOURCE["commit"] == "481855cc20059b737ac0f443676b5a94b37f47fd"
    with pytest.raises(AttributeError):
        _catalogue.NO_SUCH_NAME  # noqa: B018


def test_post_v2_alert_pages_with_a_body_token():
    e = lookup("POST", "/v2/alert")
    assert e.paging == Paging("body-token", "pageToken", "nextPageToken", "items", "limit",
                              "body", 10000, "totalRows", "")
    assert (e.rate, e.burst, e.read_only, e.deprecated) == (2.0, 10.0, True, False)


def test_get_v2_alert_pages_with_a_query_token():
    e = lookup("get", "/v2/alert")
    assert (e.paging.style, e.paging.token_in, e.paging.size_in, e.paging.cap) == \
        ("query-token", "pageToken", "query", 10000)


def test_the_rql_config_search_is_a_two_step():
    e = lookup("POST", "/search/config")
    assert (e.paging.style, e.paging.next_path, e.paging.items, e.paging.token_out,
            e.paging.token_in, e.paging.total) == \
        ("rql", "/search/config/page", "data.items", "data.nextPageToken", "pageToken",
         "data.totalRows")
    assert e.read_only
    page = lookup("POST", "/search/config/page")
    assert (page.paging.style, page.paging.items) == ("body-token", "items")
    event = lookup("POST", "/search/event")
    assert (event.paging.style, event.paging.next_path) == ("rql", "/search/event/page")
    permission = lookup("POST", "/api/v1/permission")
    assert permission.paging.next_path == "/api/v1/permission/page"


def test_scan_info_items_are_resources():
    e = lookup("POST", "/v2/resource/scan_info")
    assert (e.paging.style, e.paging.items, e.paging.total, e.paging.cap) == \
        ("body-token", "resources", "totalMatchedCount", 10000)


def test_audit_logs_items_are_value_with_a_cap_of_500():
    e = lookup("POST", "/audit/api/v1/log")
    assert (e.paging.style, e.paging.token_in, e.paging.items, e.paging.cap) == \
        ("body-token", "nextPageToken", "value", 500)
    assert (e.rate, e.burst) == (10.0, 10.0)


@pytest.mark.parametrize("path", ["/compute/api/v1/images", "/us-east1/api/v32.07/hosts",
                                  "/api/v1/containers", "/api/v34.04/images/"])
def test_compute_lists_page_by_offset_at_50_and_30_per_30_seconds(path):
    e = lookup("GET", path)
    assert e.product == "compute"
    assert e.paging == Paging("offset", "", "", "", "limit", "query", 50,
                              "header:Total-Count", "")
    assert (e.rate, e.burst) == (1.0, 30.0)


def test_a_write_post_is_not_read_only():
    for path in ("/alert/dismiss", "/cloud/group", "/alert/jobs", "/compute/api/v1/images/scan"):
        e = lookup("POST", path)
        assert e is not None and e.read_only is False and e.paging is None, path


def test_unknown_operations_are_none():
    assert lookup("GET", "/no/such/endpoint") is None
    assert lookup("PATCH", "/v2/alert") is None
    assert lookup("GET", "/compute/api/v1/no-such-list") is None
    assert lookup("GET", "/") is None


def test_a_literal_segment_beats_a_parameter():
    assert lookup("GET", "/alert/policy").template == "/alert/policy"
    assert lookup("GET", "/alert/policy").rate == 1.0
    e = lookup("GET", "/alert/P-12345")
    assert (e.template, e.rate, e.burst) == ("/alert/{id}", 5.0, 10.0)
    assert lookup("GET", "/cloud/group/name/aws").template == "/cloud/group/name/{cloud_type}"
    assert lookup("GET", "/cloud/group/name").template == "/cloud/group/name"
    assert lookup("GET", "/alert//") is None  # a parameter is never empty


def test_a_literal_that_leads_nowhere_gives_way_to_the_parameter():
    def record(template):
        return ["GET", template, "cspm", True, None, None, None, False, None]
    data = good_table()
    data["endpoints"] = [record("/a/list/x"), record("/a/{id}/y"), record("/a/{id}/x")]
    table = Catalogue(data)
    assert table.find("GET", "/a/list/x").template == "/a/list/x"
    assert table.find("GET", "/a/list/y").template == "/a/{id}/y"   # backs up to {id}
    assert table.find("GET", "/a/other/x").template == "/a/{id}/x"
    assert table.find("GET", "/a/list/z") is None
    assert table.find("POST", "/a/list/x") is None


def test_a_deprecated_operation_names_its_replacement():
    e = lookup("POST", "/resource/scan_info")
    assert (e.deprecated, e.replacement) == (True, "POST /v2/resource/scan_info")
    assert lookup("GET", "/v2/inventory").replacement == "GET /v3/inventory"


@pytest.mark.parametrize("method,path", [
    ("GET", "v2/alert"), ("GET", "https://api.prismacloud.io/v2/alert"),
    ("GET", "/v2/alert?pageToken=abc"), ("GET", "/v2/alert#x"), ("", "/v2/alert"),
    (" ", "/v2/alert"), (None, "/v2/alert"), ("GET", None),
])
def test_bad_arguments_say_what_lookup_takes(method, path):
    with pytest.raises(ValueError, match="lookup\\(\\)"):
        lookup(method, path)


def test_answers_are_cached_in_a_bounded_cache(monkeypatch):
    assert CACHE_SIZE == 4096
    assert lookup("GET", "/v2/alert") is lookup("GET", "/v2/alert")
    asked = []
    monkeypatch.setattr(Catalogue, "find", lambda self, method, path: asked.append(path))
    first = f"/cache-test-{os.urandom(4).hex()}"  # (not looked up before in this process)
    for _ in range(3):
        lookup("GET", first)
    assert asked == [first]  # the table was searched once
    for i in range(CACHE_SIZE - 1):  # the cache is full, the first answer still in it
        lookup("GET", f"{first}/{i}")
    lookup("GET", first)
    assert len(asked) == CACHE_SIZE
    for i in range(CACHE_SIZE):  # as many newer answers: the first is the oldest, gone
        lookup("GET", f"{first}/later/{i}")
    lookup("GET", first)
    assert asked[-1] == first and len(asked) == 2 * CACHE_SIZE + 1


def test_the_table_is_read_once_whatever_the_threads(monkeypatch):
    reads = []
    real = json.loads

    def counting_loads(text, *args, **kwargs):
        reads.append(1)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(_catalogue, "_loaded", [])
    monkeypatch.setattr(_catalogue.json, "loads", counting_loads)
    start = threading.Barrier(8)
    got = []

    def read():
        start.wait(timeout=10)
        got.append(_catalogue.catalogue())

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(got) == 8 and all(g is got[0] for g in got) and len(reads) == 1


def test_endpoints_and_paging_are_frozen():
    e = lookup("POST", "/v2/alert")
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.rate = 100.0  # type: ignore[misc]
    assert isinstance(e, Endpoint) and hash(e) == hash(lookup("POST", "/v2/alert"))


# ------------------------------------------------------------ a malformed table
def good_table() -> Dict[str, Any]:
    return json.loads(packaged_text())


def _broken(change) -> Dict[str, Any]:
    data = good_table()
    change(data)
    return data


def _set_record(n, column, value):
    def change(data):
        data["endpoints"][n][column] = value
    return change


def _set_paging(column, value):
    def change(data):
        row = next(r for r in data["endpoints"] if r[4] is not None)
        row[4][column] = value
    return change


@pytest.mark.parametrize("change,why", [
    (lambda d: d.update(format=2), "not format 1"),
    (lambda d: d.update(fields=d["fields"][:-1]), "columns"),
    (lambda d: d.update(paging_fields=[]), "columns"),
    (lambda d: d.pop("endpoints"), "no endpoints"),
    (lambda d: d.update(source=[]), "no endpoints list or source"),
    (lambda d: d["endpoints"].append("GET /x"), "not a list of 9"),
    (_set_record(0, 0, "get"), "upper-case"),
    (_set_record(0, 0, 7), "upper-case"),
    (_set_record(0, 1, "api/v1/x"), "template or product"),
    (_set_record(0, 2, "cna"), "template or product"),
    (_set_record(0, 3, 1), "boolean"),
    (_set_record(0, 7, None), "boolean"),
    (_set_record(0, 5, "2/sec"), "rate or burst"),
    (_set_record(0, 6, True), "rate or burst"),
    (_set_record(0, 8, ["GET", "/x"]), "replacement"),
    (_set_record(0, 4, ["offset"]), "paging is not a list"),
    (_set_record(0, 4, "offset"), "paging is not a list"),
    (_set_paging(0, "cursor"), "wrong kind"),
    (_set_paging(1, None), "wrong kind"),
    (_set_paging(5, "header"), "wrong kind"),
    (_set_paging(6, 0), "positive integer"),
    (_set_paging(6, 50.5), "positive integer"),
    (_set_paging(6, True), "positive integer"),
])
def test_a_malformed_table_is_refused_with_what_to_do(change, why):
    with pytest.raises(ValueError) as raised:
        Catalogue(_broken(change))
    assert why in str(raised.value) and "tools/build_catalogue.py" in str(raised.value)


def test_two_records_for_one_path_are_refused():
    data = good_table()
    data["endpoints"] = [["GET", t, "cspm", True, None, None, None, False, None]
                         for t in ("/a/{id}", "/a/{name}")]
    with pytest.raises(ValueError, match="GET /a/{name} and /a/{id} are one path"):
        Catalogue(data)


def test_a_table_that_is_not_an_object_is_refused():
    with pytest.raises(ValueError, match="not format 1"):
        Catalogue([])  # type: ignore[arg-type]
