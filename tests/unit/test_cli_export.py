"""The resume file and the file output, without a network: an export cut short
at every point of a page's write, then resumed, holds every row once; what
--resume refuses, and why."""

from __future__ import annotations

import csv
import io
import json
import os
import stat

import pytest

from pcpi._cli import state as _state
from pcpi._cli.export import ExportError, FileOutput, StreamOutput
from pcpi._cli.formats import make_writer
from pcpi._cli.state import ExportState, StateError

PAGES = [[{"id": f"i-{p}-{i}", "n": {"v": i}} for i in range(3)] for p in range(4)]
IDS = [item["id"] for page in PAGES for item in page]


def resume_point(pages):
    """A stand-in for a pager's resume point after ``pages`` pages."""
    return {"pcpi_resume": 1, "after": pages}


def output(path, fmt="jsonl", *, resume=False, fingerprint="fp", columns=None):
    return FileOutput(str(path), make_writer(fmt, columns), command="pcpi test",
                      fingerprint=fingerprint, resume=resume)


def read_ids(path, fmt):
    data = open(path, "rb").read().decode("utf-8")
    if fmt == "jsonl":
        return [json.loads(line)["id"] for line in data.splitlines()]
    if fmt == "json":
        return [item["id"] for item in json.loads(data)]
    rows = list(csv.reader(io.StringIO(data, newline="")))
    assert rows[0] == ["id", "n.v"]  # (the header once)
    return [row[0] for row in rows[1:]]


def export(path, fmt, pages, *, resume=False, start=0, end=None):
    """Write ``pages[start:end]`` through a FileOutput; finish when ``end`` is None."""
    out = output(path, fmt, resume=resume)
    out.open()
    assert out.items == sum(len(p) for p in pages[:start])
    stop = len(pages) if end is None else end
    for n in range(start, stop):
        done = n + 1
        out.commit(pages[n], resume_point(done) if done < len(pages) else None,
                   sum(len(p) for p in pages[:done]), done)
    if end is None:
        out.finish()
    out.close()
    return out


# ---------------------------------------------------------------------- the resume file
def test_the_resume_file_round_trips_is_private_and_leaves_no_temp_file(tmp_path):
    path = str(tmp_path / "out.csv.pcpi-resume")
    state = ExportState("pcpi rql 'x'", "f" * 64, length=10, items=3, pages=1,
                        resume={"pcpi_resume": 1, "token": "t"}, writer={"format": "jsonl"})
    _state.save(path, state)
    assert _state.load(path) == state
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["out.csv.pcpi-resume"]
    _state.remove(path)
    _state.remove(path)  # (gone already: fine)
    assert _state.load(path) is None
    # a kill inside save() leaves its temporary file; the end of the export removes it
    _state.save(path, state)
    with open(path + ".tmp", "wb") as fh:
        fh.write(b'{"pcpi_export": 1, "comm')
    assert _state.load(path) == state
    _state.remove(path)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("content,why", [
    (b"not json", "not a resume file"), (b'{"pcpi_export": 2}', "not a resume file"),
    (b"[1]", "not a resume file"), (b"\xff\xfe", "not a resume file"),
    (b'{"pcpi_export": 1, "command": "c"}', "has no 'fingerprint'"),
    (b'{"pcpi_export": 1, "command": "c", "fingerprint": "f", "length": -1, "items": 0, '
     b'"pages": 0, "resume": null, "writer": {}}', "malformed"),
    (b'{"pcpi_export": 1, "command": "c", "fingerprint": "f", "length": 0, "items": true, '
     b'"pages": 0, "resume": null, "writer": {}}', "malformed"),
    (b'{"pcpi_export": 1, "command": "c", "fingerprint": "f", "length": 0, "items": 0, '
     b'"pages": 0, "resume": [], "writer": {}}', "malformed"),
])
def test_a_resume_file_that_is_not_one_is_refused(tmp_path, content, why):
    path = tmp_path / "x.pcpi-resume"
    path.write_bytes(content)
    with pytest.raises(StateError, match=why):
        _state.load(str(path))


def test_the_resume_file_is_bounded_in_size(tmp_path, monkeypatch):
    path = tmp_path / "x.pcpi-resume"
    path.write_bytes(b" " * (_state.MAX_STATE_BYTES + 1))
    with pytest.raises(StateError, match="larger than"):
        _state.load(str(path))
    big = ExportState("c", "f", writer={"columns": ["x" * 1000] * 5000})
    with pytest.raises(StateError, match="--columns"):
        _state.save(str(path), big)


def test_an_unreadable_resume_file_says_so(tmp_path):
    folder = tmp_path / "d.pcpi-resume"
    folder.mkdir()
    with pytest.raises(StateError, match="not a regular file"):
        _state.load(str(folder))


def test_a_resume_file_that_is_a_symbolic_link_is_not_followed(tmp_path):
    real = tmp_path / "elsewhere.json"
    _state.save(str(real), ExportState("c", "f"))
    link = tmp_path / "out.jsonl.pcpi-resume"
    link.symlink_to(real)
    with pytest.raises(StateError, match="cannot be read"):
        _state.load(str(link))


def test_the_fingerprint_is_of_json_values_in_any_key_order():
    one = _state.fingerprint({"a": 1, "b": [1, {"c": None}]})
    assert one == _state.fingerprint({"b": [1, {"c": None}], "a": 1})
    assert one != _state.fingerprint({"a": 1, "b": [1, {"c": 0}]})


# ---------------------------------------------------------------------- exports
@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_an_export_writes_every_page_and_removes_its_resume_file(tmp_path, fmt):
    path = tmp_path / f"out.{fmt}"
    out = export(path, fmt, PAGES)
    assert out.how == "new"
    assert read_ids(path, fmt) == IDS
    assert not os.path.exists(str(path) + ".pcpi-resume")


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
@pytest.mark.parametrize("cut", ["nothing", "half a page", "a page and its tail"])
def test_a_page_cut_short_by_a_kill_is_written_again_and_only_once(tmp_path, fmt, cut):
    # Two pages committed, then a kill while the third is written: some of its
    # bytes, or all of them synced but the resume file not yet replaced.
    path = tmp_path / f"out.{fmt}"
    export(path, fmt, PAGES, end=2)
    before = open(path, "rb").read()
    writer = make_writer(fmt)
    for page in PAGES[:2]:
        writer.page(page)
    third = writer.page(PAGES[2]) + writer.tail()
    torn = {"nothing": b"", "half a page": third[:len(third) // 2],
            "a page and its tail": third}[cut]
    length = _state.load(str(path) + ".pcpi-resume").length
    with open(path, "r+b") as fh:
        fh.seek(length)
        fh.write(torn)
        fh.truncate()
    if cut == "nothing":
        assert open(path, "rb").read() == before[:length]
    out = export(path, fmt, PAGES, resume=True, start=2)
    assert out.how == "resumed"
    assert read_ids(path, fmt) == IDS


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_a_file_interrupted_between_pages_holds_the_rows_delivered(tmp_path, fmt):
    path = tmp_path / f"out.{fmt}"
    export(path, fmt, PAGES, end=2)
    assert read_ids(path, fmt) == IDS[:6]  # (a .json file is a whole array meanwhile)


def test_a_kill_before_the_first_page_resumes_from_the_start(tmp_path):
    path = tmp_path / "out.jsonl"
    export(path, "jsonl", PAGES, end=0)
    state = _state.load(str(path) + ".pcpi-resume")
    assert (state.length, state.items, state.resume) == (0, 0, None)
    out = output(path, resume=True)
    out.open()
    assert (out.resume, out.items, out.how) == (None, 0, "resumed")
    out.close()


def test_the_last_page_leaves_the_resume_file_at_the_page_before_until_finished(tmp_path):
    # After the last page the pager has no resume point: a kill before finish()
    # must read that page again, not take the export as complete.
    path = tmp_path / "out.jsonl"
    out = output(path)
    out.open()
    out.commit(PAGES[0], resume_point(1), 3, 1)
    out.commit(PAGES[1], None, 6, 2)
    state = _state.load(str(path) + ".pcpi-resume")
    assert (state.items, state.resume) == (3, resume_point(1))
    out.finish()
    out.close()
    assert read_ids(path, "jsonl") == IDS[:6]


def test_resume_without_a_resume_file_starts_a_missing_or_empty_file(tmp_path):
    path = tmp_path / "out.jsonl"
    out = export(path, "jsonl", PAGES, resume=True)
    assert out.how == "fresh" and read_ids(path, "jsonl") == IDS
    path.write_bytes(b"")
    assert export(path, "jsonl", PAGES, resume=True).how == "fresh"


def test_resume_refuses_a_file_with_no_resume_file(tmp_path):
    path = tmp_path / "out.jsonl"
    export(path, "jsonl", PAGES)
    before = path.read_bytes()
    with pytest.raises(ExportError, match="nothing to resume"):
        output(path, resume=True).open()
    assert path.read_bytes() == before


def test_resume_refuses_another_commands_export(tmp_path):
    path = tmp_path / "out.jsonl"
    export(path, "jsonl", PAGES, end=2)
    before = path.read_bytes()
    with pytest.raises(ExportError, match=r"another command \(pcpi test"):
        output(path, resume=True, fingerprint="other").open()
    assert path.read_bytes() == before


def test_resume_refuses_an_output_that_is_gone_or_shorter(tmp_path):
    path = tmp_path / "out.jsonl"
    export(path, "jsonl", PAGES, end=2)
    data = path.read_bytes()
    path.write_bytes(data[:10])
    with pytest.raises(ExportError, match="shorter than its resume file"):
        output(path, resume=True).open()
    path.unlink()
    with pytest.raises(ExportError, match="is gone"):
        output(path, resume=True).open()


def test_a_broken_resume_file_is_reported_with_what_to_do(tmp_path):
    path = tmp_path / "out.jsonl"
    export(path, "jsonl", PAGES, end=1)
    (tmp_path / "out.jsonl.pcpi-resume").write_text("{")
    with pytest.raises(ExportError, match="remove it to start the export over"):
        output(path, resume=True).open()
    state = ExportState("pcpi test", "fp", writer={"format": "xml"})
    _state.save(str(path) + ".pcpi-resume", state)
    with pytest.raises(ExportError, match="remove it to start over"):
        output(path, resume=True).open()


def test_without_resume_an_unfinished_export_starts_over(tmp_path):
    path = tmp_path / "out.jsonl"
    export(path, "jsonl", PAGES, end=2)
    out = export(path, "jsonl", PAGES[2:])
    assert out.how == "over"
    assert read_ids(path, "jsonl") == IDS[6:]


def test_only_a_regular_file_is_written(tmp_path):
    with pytest.raises(ExportError, match="not a regular file"):
        output(tmp_path).check()


def test_an_output_under_a_file_is_an_export_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="Not a directory"):
        output(tmp_path / "file" / "out.jsonl").check()


def test_two_exports_into_one_file_do_not_interleave(tmp_path):
    path = tmp_path / "out.jsonl"
    first = output(path)
    first.open()
    with pytest.raises(ExportError, match="being written by another pcpi export"):
        output(path).open()
    first.commit(PAGES[0], None, 3, 1)
    first.finish()
    first.close()
    assert read_ids(path, "jsonl") == IDS[:3]


def test_an_output_pcpi_cannot_create_is_an_export_error(tmp_path):
    with pytest.raises(ExportError, match="No such file or directory"):
        output(tmp_path / "missing" / "out.jsonl").open()


def test_a_stream_gets_each_page_and_a_json_array_closes_even_when_abandoned():
    stream = io.BytesIO()
    out = StreamOutput(stream, make_writer("json"))
    out.commit(PAGES[0], resume_point(1), 3, 1)
    out.abandon()
    assert [i["id"] for i in json.loads(stream.getvalue())] == IDS[:3]
    stream = io.BytesIO()
    out = StreamOutput(stream, make_writer("csv"))
    out.commit(PAGES[0], resume_point(1), 3, 1)
    out.finish()
    out.close()
    assert stream.getvalue().decode().splitlines()[0] == "id,n.v" and out.items == 3
