"""Output formats of the command line: items in, the bytes of a file out.  No I/O.

Three formats, chosen by the output file's extension (or ``--format``):

``jsonl``
    One item per line, compact JSON (what goes to stdout by default).
``json``
    One JSON array, an item per line.  The array's closing bracket is the
    *tail*: written after each page and overwritten by the next, so the file is
    a whole JSON array of the rows delivered after every page.
``csv``
    A header row, then one row per item: nested objects are flattened to dotted
    columns (``policy.severity``), lists and objects that stay whole are
    JSON-encoded in their cell, ``null`` is an empty cell, ``true``/``false`` and
    numbers are written as JSON writes them.  The columns are ``--columns`` when
    given, else the keys of the first page in the order they first appear; keys
    first seen later are left out, and counted (:attr:`CsvWriter.unknown`) so
    the command can say so.

A writer is told each page (:meth:`Writer.page`, the bytes to append), says what
makes the file whole after it (:meth:`Writer.tail`) and at the end
(:meth:`Writer.finish`), and describes itself as JSON (:meth:`Writer.state`) so
that a resumed export goes on exactly where the last one stopped.

Text is written as UTF-8; a string that cannot be (a lone surrogate, from a
``\\ud800`` escape in the tenant's JSON) is written as its ``\\uXXXX`` escape,
which in a JSON file is the same string again.
"""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Any, Dict, Iterable, List, Optional, Tuple

__all__ = ["FORMATS", "MAX_COLUMNS", "MAX_DEPTH", "MAX_UNKNOWN_NAMES", "FormatError",
           "format_of", "flatten", "cell", "json_line", "Writer", "JsonLinesWriter",
           "JsonArrayWriter", "CsvWriter", "make_writer", "writer_from_state", "items_of"]

#: the output formats, by the extension that selects each
FORMATS: Dict[str, str] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
                           ".csv": "csv"}

#: most CSV columns an export may have (a flattened resource JSON can have
#: thousands of keys: pick the ones wanted with --columns)
MAX_COLUMNS = 2000

#: deepest nesting flattened into columns; deeper objects are JSON in one cell
MAX_DEPTH = 32

#: names of keys first seen after the columns were fixed that are kept to report
#: (all are counted)
MAX_UNKNOWN_NAMES = 20


class FormatError(ValueError):
    """Data or a saved state that a writer cannot take; the message says why."""


def format_of(path: str) -> Optional[str]:
    """The format a file name's extension selects, or None."""
    return FORMATS.get(os.path.splitext(path)[1].lower())


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "backslashreplace")


def json_line(value: Any) -> str:
    """``value`` as compact JSON on one line (non-ASCII kept as it is)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def items_of(answer: Any) -> List[Any]:
    """The items of one answer (``pcpi request``): an array's elements, or the
    answer itself."""
    return answer if isinstance(answer, list) else [answer]


# ---------------------------------------------------------------------- flattening
def flatten(item: Any) -> Dict[str, Any]:
    """``{"a": {"b": 1}, "c": [1]}`` -> ``{"a.b": 1, "c": [1]}``: nested objects
    to dotted keys, in the item's order.  An empty object stays a value (``{}``);
    an object nested deeper than :data:`MAX_DEPTH` stays whole; an item that is
    not an object is ``{"value": item}``."""
    if not isinstance(item, dict):
        return {"value": item}
    out: Dict[str, Any] = {}
    # (iterative: the depth of a tenant's JSON is not Python's recursion limit)
    stack: List[Tuple[str, Iterable[Tuple[str, Any]], int]] = [("", iter(item.items()), 0)]
    while stack:
        prefix, entries, depth = stack[-1]
        for key, value in entries:
            name = prefix + str(key)
            if isinstance(value, dict) and value and depth + 1 < MAX_DEPTH:
                stack.append((name + ".", iter(value.items()), depth + 1))
                break
            out[name] = value
        else:
            stack.pop()
    return out


def _dig(item: Any, column: str) -> Any:
    """The value at a dotted path, or None (a column that names a whole object)."""
    found = item
    for part in column.split("."):
        if not isinstance(found, dict) or part not in found:
            return None
        found = found[part]
    return found


def cell(value: Any) -> str:
    """One CSV cell: strings as they are, ``null`` empty, the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json_line(value)


# ---------------------------------------------------------------------- writers
class Writer:
    """The bytes of one output format (see the module docstring)."""

    name = ""

    def page(self, items: List[Any]) -> bytes:  # pragma: no cover - interface
        """The bytes that append ``items`` to what was written before."""
        raise NotImplementedError

    def tail(self) -> bytes:
        """What follows the items to make the file whole (not counted as written:
        the next page overwrites it)."""
        return b""

    def finish(self) -> bytes:
        """The bytes that end the output, before the tail."""
        return b""

    def state(self) -> Dict[str, Any]:
        """What a resumed export needs to go on writing (JSON)."""
        return {"format": self.name}


class JsonLinesWriter(Writer):
    """One compact JSON item per line."""

    name = "jsonl"

    def page(self, items: List[Any]) -> bytes:
        return _encode("".join(json_line(item) + "\n" for item in items))


class JsonArrayWriter(Writer):
    """A JSON array, one item per line; whole after every page."""

    name = "json"

    def __init__(self, written: int = 0) -> None:
        self.written = written  # items written so far

    def page(self, items: List[Any]) -> bytes:
        if not items:
            return b""
        first = "[\n" if self.written == 0 else ",\n"
        self.written += len(items)
        return _encode(first + ",\n".join(json_line(item) for item in items))

    def tail(self) -> bytes:
        return b"\n]\n" if self.written else b"[\n]\n"

    def state(self) -> Dict[str, Any]:
        return {"format": self.name, "written": self.written}


class CsvWriter(Writer):
    """A header row, then one flattened row per item."""

    name = "csv"

    def __init__(self, columns: Optional[List[str]] = None, *, chosen: bool = False,
                 header: bool = False, unknown: Optional[List[str]] = None,
                 unknown_count: int = 0) -> None:
        if columns is not None:
            _check_columns(columns)
        #: the columns; None until the first page fixes them
        self.columns = list(columns) if columns is not None else None
        #: whether the user named them (then other keys are not reported)
        self.chosen = chosen
        self.header = header  # whether the header row is written
        #: keys first seen after the columns were fixed: the first names, and how many
        self.unknown: List[str] = list(unknown or [])
        self.unknown_count = unknown_count
        self._known = set(self.columns or ()) | set(self.unknown)

    def page(self, items: List[Any]) -> bytes:
        flat = [flatten(item) for item in items]
        if self.columns is None:
            if not flat:
                return b""
            self.columns = _first_seen(flat)
            self._known.update(self.columns)
        out = io.StringIO()
        rows = csv.writer(out)
        if not self.header:
            rows.writerow(self.columns)
            self.header = True
        for item, keys in zip(items, flat):
            if not self.chosen:
                self._note_unknown(keys)
            rows.writerow([cell(keys[c] if c in keys else _dig(item, c))
                           for c in self.columns])
        return _encode(out.getvalue())

    def finish(self) -> bytes:
        if self.header or not self.columns:  # (no items and no columns: an empty file)
            return b""
        self.header = True
        out = io.StringIO()
        csv.writer(out).writerow(self.columns)
        return _encode(out.getvalue())

    def _note_unknown(self, keys: Dict[str, Any]) -> None:
        for key in keys:
            if key not in self._known:
                self._known.add(key)
                self.unknown_count += 1
                if len(self.unknown) < MAX_UNKNOWN_NAMES:
                    self.unknown.append(key)

    def state(self) -> Dict[str, Any]:
        return {"format": self.name, "columns": self.columns, "chosen": self.chosen,
                "header": self.header, "unknown": self.unknown,
                "unknown_count": self.unknown_count}


def _first_seen(flat: List[Dict[str, Any]]) -> List[str]:
    columns: Dict[str, None] = {}
    for keys in flat:
        for key in keys:
            if key not in columns:
                if len(columns) >= MAX_COLUMNS:
                    raise FormatError(
                        f"the first page has more than {MAX_COLUMNS:,} distinct keys once "
                        f"flattened, too many CSV columns: pick the ones you want with "
                        f"--columns (or write .jsonl)")
                columns[key] = None
    return list(columns)


def _check_columns(columns: List[str]) -> None:
    if not columns or any(not isinstance(c, str) or not c for c in columns):
        raise FormatError("columns must be non-empty names (--columns a,b.c)")
    if len(columns) > MAX_COLUMNS:
        raise FormatError(f"{len(columns):,} columns: at most {MAX_COLUMNS:,}")
    if len(set(columns)) != len(columns):
        raise FormatError("a column is named twice in --columns")


def make_writer(fmt: str, columns: Optional[List[str]] = None) -> Writer:
    """A writer for a new output in ``fmt`` (``columns``: CSV only)."""
    if fmt == "csv":
        return CsvWriter(columns, chosen=columns is not None)
    if columns is not None:
        raise FormatError("--columns picks CSV columns: write to a .csv file (or --format csv)")
    if fmt == "json":
        return JsonArrayWriter()
    if fmt == "jsonl":
        return JsonLinesWriter()
    raise FormatError(f"unknown output format {fmt!r}: use jsonl, json or csv")


def writer_from_state(state: Any) -> Writer:
    """The writer a saved :meth:`Writer.state` describes (:class:`FormatError` if
    it is not one)."""
    if not isinstance(state, dict):
        raise FormatError("the writer's state is not an object")
    fmt = state.get("format")
    if fmt == "jsonl":
        return JsonLinesWriter()
    if fmt == "json":
        written = state.get("written")
        if not isinstance(written, int) or not _count(written):
            raise FormatError("the JSON writer's count is not a whole number >= 0")
        return JsonArrayWriter(written)
    if fmt == "csv":
        columns, unknown = state.get("columns"), state.get("unknown")
        flags = (state.get("chosen"), state.get("header"))
        if (columns is not None and not isinstance(columns, list)) or \
                not isinstance(unknown, list) or not all(isinstance(u, str) for u in unknown) \
                or not all(isinstance(f, bool) for f in flags) or \
                not _count(state.get("unknown_count")) or \
                (columns is None and flags[1]):
            raise FormatError("the CSV writer's state is malformed")
        return CsvWriter(columns, chosen=bool(flags[0]), header=bool(flags[1]),
                         unknown=unknown, unknown_count=state["unknown_count"])
    raise FormatError(f"unknown output format {fmt!r} in the writer's state")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
