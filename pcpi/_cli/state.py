"""The resume file kept beside an export (``FILE.pcpi-resume``).

It says how far the output stands: how many of its bytes hold the rows
delivered (:attr:`ExportState.length`; anything after them is the format's tail
or a write a kill cut short), the pager's resume point after those rows, the
writer's state (the CSV columns), and a fingerprint of the command, the tenant
and the format, so that ``--resume`` of another command into the same file is
refused.  It is replaced atomically (written beside, flushed to disk, renamed
over), so a kill at any moment leaves the previous state or the next, never a
torn one.  It holds page tokens and counts, never a session token or a key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
from typing import Any, Dict, Optional

__all__ = ["SUFFIX", "MAX_STATE_BYTES", "StateError", "ExportState", "state_path",
           "fingerprint", "save", "load", "remove"]

#: the resume file is the output's name with this added
SUFFIX = ".pcpi-resume"

#: largest resume file read or written (a page token of Prisma's can reach 43 kB;
#: the CSV columns are at most formats.MAX_COLUMNS)
MAX_STATE_BYTES = 4 << 20

_VERSION = 1
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class StateError(ValueError):
    """A resume file pcpi cannot use; the message says why."""


@dataclasses.dataclass
class ExportState:
    """Where an export into a file stands."""

    #: the command, for messages ("pcpi paginate POST /v2/alert")
    command: str
    #: of the command, the tenant and the output format (:func:`fingerprint`)
    fingerprint: str
    #: bytes of the output that hold the rows delivered
    length: int = 0
    #: rows and pages delivered
    items: int = 0
    pages: int = 0
    #: the pager's resume point after them; None: no page yet (start from the first)
    resume: Optional[Dict[str, Any]] = None
    #: the writer's state (:meth:`pcpi._cli.formats.Writer.state`)
    writer: Dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> Dict[str, Any]:
        return {"pcpi_export": _VERSION, **dataclasses.asdict(self)}


def state_path(output: str) -> str:
    """The resume file of the output file ``output``."""
    return output + SUFFIX


def fingerprint(parts: Dict[str, Any]) -> str:
    """A digest of what makes two exports the same (JSON values)."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def save(path: str, state: ExportState) -> None:
    """Replace the resume file at ``path`` atomically, on disk when this returns."""
    data = json.dumps(state.to_json(), ensure_ascii=True).encode("ascii")
    if len(data) > MAX_STATE_BYTES:
        raise StateError(f"the resume state is {len(data):,} bytes, more than "
                         f"{MAX_STATE_BYTES:,}: pick fewer CSV columns with --columns")
    temp = path + ".tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temp, path)
    sync_folder(path)


def load(path: str) -> Optional[ExportState]:
    """The state in the resume file at ``path``, or None when there is none."""
    try:
        # (non-blocking: a FIFO put there must not hang the command)
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"{path} cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StateError(f"{path} is not a regular file")
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(MAX_STATE_BYTES + 1)
    if len(data) > MAX_STATE_BYTES:
        raise StateError(f"{path} is larger than {MAX_STATE_BYTES:,} bytes: not a resume file "
                         f"pcpi wrote")
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raw = None
    if not isinstance(raw, dict) or raw.get("pcpi_export") != _VERSION:
        raise StateError(f"{path} is not a resume file of this pcpi")
    try:
        state = ExportState(command=raw["command"], fingerprint=raw["fingerprint"],
                            length=raw["length"], items=raw["items"], pages=raw["pages"],
                            resume=raw["resume"], writer=raw["writer"])
    except KeyError as exc:
        raise StateError(f"{path} has no {exc.args[0]!r}") from None
    counts = (state.length, state.items, state.pages)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts) \
            or not isinstance(state.command, str) or not isinstance(state.fingerprint, str) \
            or not (state.resume is None or isinstance(state.resume, dict)) \
            or not isinstance(state.writer, dict):
        raise StateError(f"{path} is malformed")
    return state


def remove(path: str) -> None:
    """Remove the resume file (the export is complete), durably, and the temporary
    file a kill in :func:`save` may have left beside it."""
    gone = False
    for name in (path, path + ".tmp"):
        try:
            os.remove(name)
            gone = True
        except FileNotFoundError:
            pass
    if gone:
        sync_folder(path)


def sync_folder(path: str) -> None:
    """Flush the folder holding ``path`` to disk (a rename or removal in it), where
    the system allows it (POSIX; not Windows)."""
    if os.name != "posix":  # pragma: no cover - Windows cannot open a folder
        return
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
