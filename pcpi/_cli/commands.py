"""What ``pcpi request``, ``pcpi paginate`` and ``pcpi rql`` do, once their
arguments are parsed (:mod:`pcpi.cli` parses them and maps outcomes to exit
codes)."""

from __future__ import annotations

import dataclasses
import json
import traceback
from typing import IO, Any, Callable, Dict, List, Optional, TextIO, Tuple

from .. import _pager
from .._answer import NotJSON, strict_json
from .._catalogue import lookup
from .._paging import MAX_PAGES, STYLES, split_call
from .._redact import redact
from ..errors import IncompleteResultError, PcpiError
from . import formats
from .export import (
    ExportError,
    FileOutput,
    Output,
    StreamOutput,
    emit,
    unknown_columns_note,
)
from .formats import FormatError, Writer, make_writer
from .progress import Bar
from .state import StateError, fingerprint
from .tenant import TenantError, api_for, load_manager, session_for

__all__ = ["UsageError", "Failure", "Incomplete", "Interrupted", "Console", "Call",
           "MAX_JSON_BYTES", "read_json", "parse_param", "parse_columns", "output_format",
           "rql_call", "run_request", "run_export"]

#: largest --json @FILE read
MAX_JSON_BYTES = 16 << 20

#: the time window of an event search when --json gives none
EVENT_WINDOW = {"type": "relative", "value": {"amount": 24, "unit": "hour"}}


class UsageError(Exception):
    """The command line is wrong (exit 2); no credentials were read, nothing was sent
    or written."""


class Failure(Exception):
    """The command could not be carried out (exit 1)."""


class Incomplete(Exception):
    """The listing stopped before its end (exit 3); the output holds the rows
    delivered."""


class Interrupted(Exception):
    """Ctrl-C (exit 130); the output holds the rows delivered."""


class Console:
    """Lines on stderr: notes and warnings (not with ``-q``), errors; each passes
    pcpi's redaction, so no secret pcpi holds reaches the screen."""

    def __init__(self, stream: IO[str], verbosity: int, progress: bool) -> None:
        self.stream = stream
        self.verbosity = verbosity
        #: whether to draw a progress bar (stderr is a terminal, and not -q)
        self.progress = progress

    def _line(self, text: str) -> None:
        self.stream.write(redact(text) + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        if self.verbosity >= 0:
            self._line(f"pcpi: {text}")

    def warn(self, text: str) -> None:
        if self.verbosity >= 0:
            self._line(f"pcpi: warning: {text}")

    def error(self, text: str, exc: Optional[BaseException] = None) -> None:
        """One line; with ``-v``, the traceback of ``exc`` before it."""
        if exc is not None and self.verbosity > 0:
            self.stream.write(redact("".join(traceback.format_exception(
                type(exc), exc, exc.__traceback__))))
        self._line(f"pcpi: error: {text}")


# ---------------------------------------------------------------------- arguments
def read_json(text: str, stdin: Optional[TextIO]) -> Any:
    """The JSON of ``--json``: the text itself, or ``@FILE`` (``@-``: stdin)."""
    if not text.startswith("@"):
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise UsageError(f"--json is not JSON ({_why(exc)}): give a JSON value, or "
                             f"@FILE to read it from a file") from None
    path = text[1:]
    try:
        if path == "-":
            if stdin is None:
                raise Failure("--json @- reads stdin, and there is none")
            data = stdin.buffer.read(MAX_JSON_BYTES + 1)
        else:
            with open(path, "rb") as fh:
                data = fh.read(MAX_JSON_BYTES + 1)
    except OSError as exc:
        raise Failure(f"--json {text}: {exc.strerror or exc}") from None
    where = "stdin" if path == "-" else path
    if len(data) > MAX_JSON_BYTES:
        raise Failure(f"--json: {where} is larger than {MAX_JSON_BYTES:,} bytes")
    try:
        return strict_json(data)
    except NotJSON as exc:
        raise Failure(f"--json: {where} is {exc}") from None


def _why(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, ValueError) else "nested too deeply"


def parse_param(text: str) -> Tuple[str, str]:
    """``K=V`` of ``--param``."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"{text!r} is not NAME=VALUE")
    return key, value


def parse_columns(text: str) -> List[str]:
    """``a,b.c`` of ``--columns``."""
    columns = [c.strip() for c in text.split(",")]
    if not columns or any(not c for c in columns):
        raise ValueError(f"{text!r} names an empty column: give names separated by commas, "
                         f"such as id,policy.name")
    if len(set(columns)) != len(columns):
        raise ValueError(f"{text!r} names a column twice")
    if len(columns) > formats.MAX_COLUMNS:
        raise ValueError(f"{len(columns):,} columns: at most {formats.MAX_COLUMNS:,}")
    return columns


def output_format(output: Optional[str], fmt: Optional[str]) -> str:
    """The format to write: ``--format``, else the output's extension, else
    ``jsonl`` (stdout)."""
    if fmt:
        return fmt
    if output is None or output == "-":
        return "jsonl"
    found = formats.format_of(output)
    if found is None:
        raise UsageError(f"cannot tell the format of {output!r} from its name: end it in "
                         f".jsonl, .json or .csv, or add --format")
    return found


def _writer(args: Any) -> Writer:
    try:
        return make_writer(output_format(args.output, args.format), args.columns)
    except FormatError as exc:
        raise UsageError(str(exc)) from None


def _to_stdout(args: Any) -> bool:
    return args.output is None or args.output == "-"


# ---------------------------------------------------------------------- request
def run_request(args: Any, console: Console, stdin: Optional[TextIO],
                stdout: IO[bytes]) -> int:
    """``pcpi request``: one call, its answer written out."""
    writer = _writer(args)
    body = read_json(args.json, stdin) if args.json is not None else None
    manager = _manager(args, console, stdin)
    with manager:
        api = _api(args, manager, args.method, args.endpoint)
        session = session_for(manager, api)
        res = session.request(args.method, args.endpoint, json=body, params=args.param or None)
        if res.status_code not in session.success_status:
            raise Failure(f"{args.method} {_path(args.endpoint)} answered HTTP "
                          f"{res.status_code}: {session._preview(res, 300)}")
        try:
            data = _answer_bytes(res.content, writer)
        except FormatError as exc:
            raise Failure(str(exc)) from None
    if _to_stdout(args):
        emit(stdout, data)
        return 0
    try:
        with open(args.output, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        raise Failure(f"{args.output}: {exc.strerror or exc}") from None
    return 0


def _answer_bytes(content: bytes, writer: Writer) -> bytes:
    """An answer in the output's format; one that is not JSON, as it came."""
    if not content.strip():
        return b""
    try:
        answer = strict_json(content)
    except NotJSON:
        return content
    if writer.name == "json" and not isinstance(answer, list):
        return _line(answer)
    return writer.page(formats.items_of(answer)) + writer.finish() + writer.tail()


def _line(answer: Any) -> bytes:
    return (formats.json_line(answer) + "\n").encode("utf-8", "backslashreplace")


def _path(endpoint: str) -> str:
    return endpoint.split("?", 1)[0]


# ---------------------------------------------------------------------- exports
@dataclasses.dataclass
class Call:
    """One listing to export."""

    command: str  # "paginate" or "rql"
    label: str  # the command, for messages
    method: str
    endpoint: str
    body: Optional[Dict[str, Any]]
    params: Optional[List[Tuple[str, str]]]
    style: Optional[str] = None
    items_key: Optional[str] = None
    page_size: Optional[int] = None
    max_items: Optional[int] = None
    max_pages: int = MAX_PAGES

    def options(self) -> Dict[str, Any]:
        """The keyword arguments of ``paginate`` (without ``resume``)."""
        return {"style": self.style, "items_key": self.items_key,
                "page_size": self.page_size, "max_items": self.max_items,
                "max_pages": self.max_pages}


def paginate_call(args: Any, stdin: Optional[TextIO]) -> Call:
    """The listing of ``pcpi paginate``."""
    body = read_json(args.json, stdin) if args.json is not None else None
    if body is not None and not isinstance(body, dict):
        raise UsageError(f"--json must be a JSON object when paging, not a JSON "
                         f"{type(body).__name__}")
    return Call("paginate", f"pcpi paginate {args.method} {_path(args.endpoint)}", args.method,
                args.endpoint, body, args.param or None, style=args.style,
                items_key=args.items_key, page_size=args.page_size, max_items=args.max_items,
                max_pages=args.max_pages)


def rql_call(query: str, extra: Any = None) -> Tuple[str, Dict[str, Any]]:
    """The endpoint and body of an RQL search: ``config from iam ...`` on
    ``/api/v1/permission``, other ``config`` queries on ``/search/config`` (with
    heuristic search and resource JSON, as ``config_search_request()`` asks),
    ``event`` queries on ``/search/event`` (the last 24 hours unless ``extra``
    has a ``timeRange``).  ``extra`` (``--json``) is merged over the body."""
    words = query.lower().split()
    if not words:
        raise UsageError("the RQL query is empty")
    if extra is not None and not isinstance(extra, dict):
        raise UsageError(f"--json must be a JSON object of fields to add to the search, not "
                         f"a JSON {type(extra).__name__}")
    body: Dict[str, Any] = {"query": query}
    if words[0] == "config" and words[1:3] == ["from", "iam"]:
        endpoint = "/api/v1/permission"
    elif words[0] == "config":
        endpoint = "/search/config"
        body.update({"heuristicSearch": True, "withResourceJson": True})
    elif words[0] == "event":
        endpoint = "/search/event"
        body["timeRange"] = EVENT_WINDOW
    else:
        raise UsageError(f"pcpi rql pages config, IAM and event searches ('config from ...', "
                         f"'event from ...'), not {words[0]!r} queries: page other searches "
                         f"with pcpi paginate --style rql")
    body.update(extra or {})
    return endpoint, body


def rql(args: Any, stdin: Optional[TextIO]) -> Call:
    """The listing of ``pcpi rql``."""
    extra = read_json(args.json, stdin) if args.json is not None else None
    endpoint, body = rql_call(args.query, extra)
    short = args.query if len(args.query) <= 60 else args.query[:57] + "..."
    return Call("rql", f"pcpi rql {short!r}", "POST", endpoint, body, None, style="rql",
                page_size=args.page_size, max_items=args.max_items, max_pages=args.max_pages)


def _check_call(call: Call) -> None:
    """The checks ``paginate`` makes, before anything is read or sent."""
    if call.style is None:
        method, path, _query = split_call(call.method, call.endpoint)
        entry = lookup(method, path)
        if entry is None or entry.paging is None:
            raise UsageError(f"pcpi does not know how {method} {path} pages: add --style, one "
                             f"of {', '.join(STYLES)}")
    try:
        _pager.paginate(None, call.method, call.endpoint, call.body, call.params,
                        **call.options())
    except ValueError as exc:
        raise UsageError(str(exc).replace("style=", "--style ")) from None


def run_export(args: Any, call: Call, console: Console, stdin: Optional[TextIO],
               stdout: IO[bytes]) -> int:
    """``pcpi paginate`` and ``pcpi rql``: every page, written as it arrives."""
    writer = _writer(args)
    _check_call(call)
    to_file = not _to_stdout(args)
    if args.resume and not to_file:
        raise UsageError("--resume goes on with an export into a file: add -o FILE")
    manager = _manager(args, console, stdin)
    with manager:
        api = _api(args, manager, call.method, call.endpoint)
        out: Output
        if to_file:
            out = FileOutput(args.output, writer, command=call.label, resume=args.resume,
                             fingerprint=_fingerprint(call, args, manager, api, writer))
            _checked(out.check)
        else:
            out = StreamOutput(stdout, writer)
        session = session_for(manager, api)  # (logs in)
        try:
            if isinstance(out, FileOutput):
                _checked(out.open)
                _say_how(out, console)
            _pump(call, session, out, console, to_file)
        finally:
            out.close()
    where = args.output if to_file else "stdout"
    note = unknown_columns_note(out.writer, where)
    if note:
        console.warn(note)
    return 0


def _pump(call: Call, session: Any, out: Output, console: Console, to_file: bool) -> None:
    where = out.path if isinstance(out, FileOutput) else "stdout"
    remaining = None if call.max_items is None else max(0, call.max_items - out.items)
    options = dict(call.options(), max_items=remaining)
    pager = session.paginate(call.method, call.endpoint, call.body, call.params,
                             resume=out.resume, **options)
    bar = Bar(console.stream, show=console.progress, desc=call.command, items=out.items,
              pages=out.pages, note=console.note)
    start = out.pages
    try:
        for page in pager.pages():
            out.commit(page, pager.resume, pager.items_read, pager.pages_read)
            bar.total(_expected(pager.total, call.max_items))
            bar.update(len(page), pager.pages_read)
            del page  # (written: not held while the next page is read)
        out.finish()
    except IncompleteResultError as exc:
        out.abandon()
        stuck = out.resume is not None and out.pages == start  # (a resume that got nowhere)
        raise Incomplete(_incomplete(exc, out.items, where, to_file, stuck)) from exc
    except KeyboardInterrupt:
        out.abandon()
        raise Interrupted(f"interrupted: {_holds(where, out.items, to_file)}") from None
    except (PcpiError, OSError, FormatError, StateError) as exc:
        # (a refused token, a full disk, rows a CSV cannot take, a resume state too large)
        if isinstance(exc, PcpiError) and not to_file:
            raise
        why = f"writing {where}: {exc.strerror or exc}" if isinstance(exc, OSError) else \
            str(exc)
        if not to_file:
            raise Failure(why) from exc
        raise Failure(f"{why}; {where} holds the {out.items:,} rows delivered: --resume "
                      f"finishes it once that is fixed") from exc
    finally:
        bar.close()


def _expected(total: Optional[int], max_items: Optional[int]) -> Optional[int]:
    if total is None:
        return None
    return total if max_items is None else min(total, max_items)


def _incomplete(exc: IncompleteResultError, items: int, where: str, to_file: bool,
                stuck: bool = False) -> str:
    reason = str(exc).split("; session.paginate(", 1)[0]
    hint = " (a page token expires after a while: if the same page fails again, leave " \
        "out --resume to start over)" if stuck else ""
    return f"{reason}; {_holds(where, items, to_file)}{hint}"


def _rows(items: int) -> str:
    return f"{items:,} row{'' if items == 1 else 's'}"


def _holds(where: str, items: int, to_file: bool) -> str:
    rows = _rows(items)
    if to_file:
        return f"{where} holds the {rows} delivered: run the same command with --resume " \
               f"to finish it"
    return f"stdout got the {rows} delivered (write to a file with -o to be able to --resume)"


def _say_how(out: FileOutput, console: Console) -> None:
    if out.how == "resumed":
        console.note(f"resuming {out.path} after {_rows(out.items)} ({out.pages:,} "
                     f"page{'' if out.pages == 1 else 's'})")
    elif out.how == "over":
        console.note(f"starting {out.path} over (it held an unfinished export, which "
                     f"--resume would have continued)")


def _fingerprint(call: Call, args: Any, manager: Any, api: str, writer: Writer) -> str:
    """What makes a resumed export the same export: the listing, the tenant, the
    API and the output (the page size may change between runs)."""
    return fingerprint({
        "command": call.command, "tenant": [manager.tenant, manager.api_url], "api": api,
        "method": call.method, "endpoint": call.endpoint, "body": call.body,
        "params": call.params, "style": call.style, "items_key": call.items_key,
        "max_items": call.max_items, "format": writer.name, "columns": args.columns})


def _checked(step: Callable[[], Any]) -> Any:
    try:
        return step()
    except (ExportError, StateError) as exc:
        raise Failure(str(exc)) from None


# ---------------------------------------------------------------------- tenant
def _manager(args: Any, console: Console, stdin: Optional[TextIO]) -> Any:
    try:
        return load_manager(args.config, args.env, args.tenant, stdin=stdin,
                            stderr=console.stream)
    except TenantError as exc:
        raise Failure(str(exc)) from None


def _api(args: Any, manager: Any, method: str, endpoint: str) -> str:
    try:
        return api_for(args.api, manager, method, endpoint)
    except TenantError as exc:
        raise Failure(str(exc)) from None

