"""The command line's output formats, without a network: flattening, cells, each
writer's bytes, and a writer rebuilt from its saved state going on exactly."""

from __future__ import annotations

import csv
import io
import json

import pytest

from pcpi._cli import formats
from pcpi._cli.export import unknown_columns_note
from pcpi._cli.formats import (
    CsvWriter,
    FormatError,
    JsonArrayWriter,
    JsonLinesWriter,
    cell,
    flatten,
    format_of,
    make_writer,
    writer_from_state,
)

ALERTS = [
    {"id": "P-1", "status": "open", "policy": {"name": "p one", "severity": "high"},
     "resource": {"id": "r-1", "tags": ["a", "b"]}},
    {"id": "P-2", "status": "resolved", "policy": {"name": "p two", "severity": "low"},
     "resource": {"id": "r-2", "tags": []}},
]


def whole(writer, pages):
    """What a file holds after ``pages`` were written, then the listing ended."""
    data = b"".join(writer.page(p) for p in pages)
    return data + writer.finish() + writer.tail()


# ---------------------------------------------------------------------- flattening
def test_nested_objects_flatten_to_dotted_keys_in_the_items_order():
    item = {"b": 1, "a": {"y": {"z": None}, "x": 2}, "c": [1, {"d": 3}], "e": {}}
    assert list(flatten(item).items()) == [("b", 1), ("a.y.z", None), ("a.x", 2),
                                           ("c", [1, {"d": 3}]), ("e", {})]


def test_an_item_that_is_not_an_object_is_one_value_column():
    assert flatten("x") == {"value": "x"} and flatten([1, 2]) == {"value": [1, 2]}


def test_objects_nested_past_the_depth_bound_stay_whole():
    deep = {}
    inner = deep
    for _ in range(formats.MAX_DEPTH + 5):
        inner["k"] = {}
        inner = inner["k"]
    inner["leaf"] = 1
    flat = flatten(deep)
    [(key, value)] = flat.items()
    assert key == ".".join(["k"] * formats.MAX_DEPTH)
    assert isinstance(value, dict) and json.dumps(value).count("{") == 6


@pytest.mark.parametrize("value,text", [
    (None, ""), ("text, with \"quotes\"", "text, with \"quotes\""), (True, "true"),
    (False, "false"), (3, "3"), (2.5, "2.5"), ([1, "a"], '[1,"a"]'),
    ({"k": "é"}, '{"k":"é"}'), ({}, "{}"), ("", "")])
def test_cells_are_strings_as_they_are_and_everything_else_as_json(value, text):
    assert cell(value) == text


@pytest.mark.parametrize("name,fmt", [("a.jsonl", "jsonl"), ("a.ndjson", "jsonl"),
                                      ("A.JSON", "json"), ("dir.d/a.csv", "csv"),
                                      ("a.txt", None), ("a", None), ("a.csv.gz", None)])
def test_the_extension_selects_the_format(name, fmt):
    assert format_of(name) == fmt


# ---------------------------------------------------------------------- writers
def test_json_lines_are_one_compact_item_a_line_in_utf8():
    writer = JsonLinesWriter()
    data = whole(writer, [ALERTS, [{"name": "café ☕"}]])
    lines = data.decode("utf-8").splitlines()
    assert [json.loads(x) for x in lines] == ALERTS + [{"name": "café ☕"}]
    assert "café ☕" in lines[2]  # (not \u-escaped)


def test_a_lone_surrogate_is_written_as_its_escape_and_reads_back_the_same():
    odd = {"name": "bad \ud800 half"}  # (what json.loads makes of "\ud800")
    for writer in (JsonLinesWriter(), JsonArrayWriter()):
        data = whole(writer, [[odd]])
        data.decode("utf-8")  # valid UTF-8
        back = json.loads(data)
        assert (back[0] if isinstance(back, list) else back) == odd


def test_a_json_array_is_whole_after_every_page():
    writer = JsonArrayWriter()
    written = b""
    delivered = []
    for page in ([ALERTS[0]], [], [ALERTS[1], {"id": "P-3"}]):
        written += writer.page(page)
        delivered += page
        assert json.loads(written + writer.tail()) == delivered
    assert json.loads(written + writer.finish() + writer.tail()) == delivered
    assert written.count(b"\n") == 3  # an item a line, after the bracket
    assert whole(JsonArrayWriter(), []) == b"[\n]\n"


def test_csv_flattens_with_a_header_once_and_lists_as_json():
    writer = CsvWriter()
    data = whole(writer, [ALERTS[:1], ALERTS[1:]])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows == [
        ["id", "status", "policy.name", "policy.severity", "resource.id", "resource.tags"],
        ["P-1", "open", "p one", "high", "r-1", '["a","b"]'],
        ["P-2", "resolved", "p two", "low", "r-2", "[]"],
    ]
    assert data.endswith(b"\r\n") and writer.unknown_count == 0


def test_csv_cells_with_commas_quotes_and_newlines_read_back_exactly():
    item = {"id": "x", "text": 'a, "b"\nc\r\nd', "formula": "=1+1"}
    data = whole(CsvWriter(), [[item]])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[1] == ["x", 'a, "b"\nc\r\nd', "=1+1"]
    # (a NUL is written as it is, quoted or not by Python's version; Python's own reader
    # takes it back from 3.11 on)
    assert whole(CsvWriter(), [[{"nul": "a\x00b"}]]) in (b"nul\r\na\x00b\r\n",
                                                        b'nul\r\n"a\x00b"\r\n')


def test_csv_columns_come_from_the_first_page_and_later_keys_are_counted_not_written():
    writer = CsvWriter()
    data = whole(writer, [[{"id": 1}, {"id": 2, "b": {"c": 1}}],
                          [{"id": 3, "late": 1, "b": {"c": 2, "d": 3}}, {"late": 2, "z": 0}]])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows == [["id", "b.c"], ["1", ""], ["2", "1"], ["3", "2"], ["", ""]]
    assert (writer.unknown, writer.unknown_count) == (["late", "b.d", "z"], 3)
    note = unknown_columns_note(writer, "out.csv")
    assert note.startswith("3 keys first seen after the first page are not in the columns "
                           "of out.csv: late, b.d, z") and "--columns" in note


def test_the_names_of_late_keys_kept_are_bounded_but_all_are_counted():
    writer = CsvWriter()
    writer.page([{"id": 0}])
    writer.page([{f"k{i}": i for i in range(formats.MAX_UNKNOWN_NAMES + 30)}])
    assert len(writer.unknown) == formats.MAX_UNKNOWN_NAMES
    assert writer.unknown_count == formats.MAX_UNKNOWN_NAMES + 30
    assert unknown_columns_note(writer, "f.csv").count(", ") == formats.MAX_UNKNOWN_NAMES - 1
    assert " and 30 more " in unknown_columns_note(writer, "f.csv")
    one = CsvWriter()
    one.page([{"a": 1}, {"a": 2, "b": 1}])  # (the first page's keys are all columns)
    assert unknown_columns_note(one, "f.csv") == ""
    one.page([{"a": 3, "c": 1}])
    assert unknown_columns_note(one, "f.csv").startswith("1 key first seen after the first "
                                                         "page is not")
    assert unknown_columns_note(JsonLinesWriter(), "f") == ""


def test_chosen_columns_keep_their_order_name_whole_objects_and_report_nothing():
    writer = make_writer("csv", ["policy", "id", "resource.tags", "missing", "policy.name"])
    data = whole(writer, [ALERTS])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[0] == ["policy", "id", "resource.tags", "missing", "policy.name"]
    assert rows[1] == ['{"name":"p one","severity":"high"}', "P-1", '["a","b"]', "",
                       "p one"]
    assert writer.unknown_count == 0


def test_an_empty_listing_is_an_empty_csv_or_only_the_chosen_header():
    assert whole(CsvWriter(), []) == b""
    assert whole(CsvWriter(), [[], []]) == b""
    assert whole(make_writer("csv", ["a", "b.c"]), []) == b"a,b.c\r\n"


def test_too_many_columns_are_refused_with_what_to_do():
    wide = {f"k{i}": i for i in range(formats.MAX_COLUMNS + 1)}
    with pytest.raises(FormatError, match="--columns"):
        CsvWriter().page([wide])
    CsvWriter().page([{f"k{i}": i for i in range(formats.MAX_COLUMNS)}])  # (the bound itself)
    with pytest.raises(FormatError):
        CsvWriter([f"c{i}" for i in range(formats.MAX_COLUMNS + 1)])


@pytest.mark.parametrize("columns", [[], [""], ["a", "a"], ["a", 3]])
def test_bad_column_lists_are_refused(columns):
    with pytest.raises(FormatError):
        CsvWriter(columns)


def test_columns_are_for_csv_only_and_formats_are_known():
    with pytest.raises(FormatError, match="--columns picks CSV columns"):
        make_writer("jsonl", ["a"])
    with pytest.raises(FormatError, match="unknown output format"):
        make_writer("xml")
    assert isinstance(make_writer("json"), JsonArrayWriter)
    assert isinstance(make_writer("jsonl"), JsonLinesWriter)


@pytest.mark.parametrize("fmt,columns", [("jsonl", None), ("json", None), ("csv", None),
                                         ("csv", ["id", "policy.name"])])
def test_a_writer_rebuilt_from_its_state_goes_on_exactly(fmt, columns):
    pages = [ALERTS[:1], [{"id": "P-9", "late": 1}], ALERTS[1:]]
    straight = whole(make_writer(fmt, columns), pages)
    first = make_writer(fmt, columns)
    data = first.page(pages[0])
    state = json.loads(json.dumps(first.state()))  # (through the resume file's JSON)
    again = writer_from_state(state)
    data += again.page(pages[1]) + again.page(pages[2])
    assert data + again.finish() + again.tail() == straight
    assert again.state() == make_writer_after(fmt, columns, pages).state()


def make_writer_after(fmt, columns, pages):
    writer = make_writer(fmt, columns)
    for page in pages:
        writer.page(page)
    return writer


@pytest.mark.parametrize("state", [
    None, [], {}, {"format": "xml"}, {"format": "json"}, {"format": "json", "written": -1},
    {"format": "json", "written": True}, {"format": "csv"},
    {"format": "csv", "columns": "a", "chosen": False, "header": True, "unknown": [],
     "unknown_count": 0},
    {"format": "csv", "columns": None, "chosen": False, "header": True, "unknown": [],
     "unknown_count": 0},
    {"format": "csv", "columns": ["a"], "chosen": 1, "header": True, "unknown": [],
     "unknown_count": 0},
    {"format": "csv", "columns": ["a"], "chosen": False, "header": True, "unknown": [1],
     "unknown_count": 0},
    {"format": "csv", "columns": ["a"], "chosen": False, "header": True, "unknown": [],
     "unknown_count": "0"},
    {"format": "csv", "columns": [""], "chosen": False, "header": True, "unknown": [],
     "unknown_count": 0},
])
def test_a_malformed_writer_state_is_refused(state):
    with pytest.raises(FormatError):
        writer_from_state(state)


def test_items_of_an_answer():
    assert formats.items_of([1, 2]) == [1, 2] and formats.items_of({"a": 1}) == [{"a": 1}]
