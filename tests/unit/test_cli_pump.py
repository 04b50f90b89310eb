"""An export's page loop (pcpi/_cli/commands.py) on the real pager, driven by a fake
session that answers from a function, through no socket: rows a CSV cannot take and
a resume state too large are errors that say what to do, and a file keeps what was
delivered."""

from __future__ import annotations

import io
import json
import logging

import pytest
import requests

from pcpi import _pager
from pcpi._cli import formats, state
from pcpi._cli.commands import Call, Console, Failure, _pump
from pcpi._cli.export import FileOutput, StreamOutput
from pcpi._cli.formats import make_writer

_json = json  # (request's own json= argument hides the module there)


class Session:
    """``POST /v2/alert`` in pages of ``pages`` (lists of items), tokens ``t<n>``."""

    success_status = range(200, 207)
    logger = logging.getLogger("pcpi.test.cli")

    def __init__(self, pages):
        self.pages = pages

    def request(self, method, path, json=None, params=None, idempotent=None, **send):
        token = (json or {}).get("pageToken")
        n = int(token[1:]) if token else 0
        body = {"items": self.pages[n] if n < len(self.pages) else []}
        if n < len(self.pages):
            body["nextPageToken"] = f"t{n + 1}"
        res = requests.Response()
        res.status_code = 200
        res._content = _json.dumps(body).encode()
        return res

    def paginate(self, *args, **kwargs):
        return _pager.paginate(self, *args, **kwargs)


CALL = Call("paginate", "pcpi paginate POST /v2/alert", "POST", "/v2/alert", {}, None)


def console():
    return Console(io.StringIO(), 0, progress=False)


def wide(n, name_bytes=8):
    return {f"k{i:0{name_bytes}d}": i for i in range(n)}


def test_rows_with_too_many_columns_stop_a_file_export_with_what_to_do(tmp_path):
    path = tmp_path / "out.csv"
    out = FileOutput(str(path), make_writer("csv"), command="c", fingerprint="f",
                     resume=False)
    out.open()
    with pytest.raises(Failure, match=r"--columns .* holds the 0 rows delivered: --resume"):
        _pump(CALL, Session([[wide(formats.MAX_COLUMNS + 1)]]), out, console(), True)
    out.close()
    assert state.load(str(path) + state.SUFFIX).items == 0


def test_rows_with_too_many_columns_stop_a_stdout_export():
    stream = io.BytesIO()
    out = StreamOutput(stream, make_writer("csv"))
    with pytest.raises(Failure, match="too many CSV columns: pick the ones you want with "
                                      "--columns") as info:
        _pump(CALL, Session([[wide(formats.MAX_COLUMNS + 1)]]), out, console(), False)
    assert "holds" not in str(info.value) and stream.getvalue() == b""


def test_a_listing_written_whole_through_the_loop(tmp_path):
    stream = io.BytesIO()
    out = StreamOutput(stream, make_writer("json"))
    _pump(CALL, Session([[{"id": 1}, {"id": 2}], [{"id": 3}]]), out, console(), False)
    assert json.loads(stream.getvalue()) == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert (out.items, out.pages) == (3, 2)


def test_a_resume_state_too_large_stops_the_export_and_keeps_the_rows_before(tmp_path):
    path = tmp_path / "out.csv"
    out = FileOutput(str(path), make_writer("csv"), command="c", fingerprint="f",
                     resume=False)
    out.open()
    # 2,000 columns of 2,100-character names: a resume state over 4 MiB
    item = wide(formats.MAX_COLUMNS, 2100)
    with pytest.raises(Failure, match=r"more than 4,194,304: pick fewer CSV columns"):
        _pump(CALL, Session([[item], [item]]), out, console(), True)
    out.close()
    assert state.load(str(path) + state.SUFFIX).items == 0
