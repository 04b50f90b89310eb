"""Writing a listing's pages to stdout or to a file that ``--resume`` can finish.

Into a file, after each page: the page's rows are written at the end of what
the resume file says is written (the format's tail after them), flushed and
synced to disk; then the resume file is replaced (:mod:`.state`) with the new
length and the pager's resume point.  A kill at any moment leaves either the
old state, whose length the output has at least (the rows beyond it are
written again on resume, after the output is cut back to it), or the new one:
no row twice, none missing.  When the listing ends the tail is written and the
resume file removed.  The output is locked while an export writes it (POSIX),
so two exports cannot interleave in one file.

Memory: the page being written, encoded once; nothing of earlier pages.
"""

from __future__ import annotations

import os
import stat
from typing import IO, Any, Dict, List, Optional

from . import state as _state
from .formats import CsvWriter, Writer, writer_from_state
from .state import ExportState, StateError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None  # type: ignore[assignment]

__all__ = ["ExportError", "StreamError", "emit", "Output", "StreamOutput", "FileOutput",
           "unknown_columns_note"]


class ExportError(Exception):
    """An output that cannot be written or resumed as asked; the message says what
    to do."""


class StreamError(Exception):
    """Writing to stdout failed (``error``: its reader went away, a full disk)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(f"writing to stdout: {error.strerror or error}")
        self.error = error


def emit(stream: IO[bytes], data: bytes) -> None:
    """Write ``data`` to ``stream`` and flush it (:class:`StreamError` if that fails)."""
    try:
        stream.write(data)
        stream.flush()
    except OSError as exc:
        raise StreamError(exc) from exc


class Output:
    """Where an export's pages go."""

    writer: Writer
    #: rows and pages written, resumed ones included
    items = 0
    pages = 0
    #: the pager's resume point to start from (None: the listing's start)
    resume: Optional[Dict[str, Any]] = None

    def commit(self, rows: List[Any], resume: Optional[Dict[str, Any]], items: int,
               pages: int) -> None:  # pragma: no cover - interface
        """Write one page; ``resume``, ``items`` and ``pages`` stand after it."""
        raise NotImplementedError

    def finish(self) -> None:  # pragma: no cover - interface
        """The listing ended: make the output whole."""
        raise NotImplementedError

    def abandon(self) -> None:
        """The listing stopped early: leave the output as the rows delivered."""

    def close(self) -> None:
        """Release what the output holds."""


class StreamOutput(Output):
    """A binary stream (stdout): written and flushed page by page, no resume."""

    def __init__(self, stream: IO[bytes], writer: Writer) -> None:
        self._stream = stream
        self.writer = writer

    def commit(self, rows: List[Any], resume: Optional[Dict[str, Any]], items: int,
               pages: int) -> None:
        emit(self._stream, self.writer.page(rows))
        self.items, self.pages = items, pages

    def finish(self) -> None:
        emit(self._stream, self.writer.finish() + self.writer.tail())

    def abandon(self) -> None:
        # (a JSON array on stdout still closes: what was delivered, as valid JSON)
        emit(self._stream, self.writer.tail())


class FileOutput(Output):
    """A regular file with its resume file beside it (see the module docstring).

    :meth:`check` looks before anything is sent (read-only); :meth:`open`
    starts the file, or with ``resume=True`` picks up where its resume file says,
    under the lock.
    """

    def __init__(self, path: str, writer: Writer, *, command: str, fingerprint: str,
                 resume: bool) -> None:
        self.path = path
        self.state_path = _state.state_path(path)
        self.writer = writer
        self.command = command
        self.fingerprint = fingerprint
        self.wants_resume = resume
        #: what :meth:`open` found: "new", "over" (an unfinished export started
        #: over), "fresh" (--resume with nothing to resume) or "resumed"
        self.how = ""
        self._fh: Optional[IO[bytes]] = None
        self._state: Optional[ExportState] = None

    # ------------------------------------------------------------------ opening
    def check(self) -> Optional[ExportState]:
        """Raise :class:`ExportError` now if the export cannot go ahead; the
        state a resume would start from, if any."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise ExportError(f"{self.path}: {exc.strerror}") from None
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise ExportError(f"{self.path} is not a regular file: -o writes files (leave "
                              f"-o out to write to stdout, for a pipe)")
        if not self.wants_resume:
            return None
        try:
            found = _state.load(self.state_path)
        except StateError as exc:
            raise ExportError(f"{exc}; remove it to start the export over") from None
        if found is None:
            if info is not None and info.st_size > 0:
                raise ExportError(
                    f"{self.path} has no {os.path.basename(self.state_path)} beside it, so "
                    f"there is nothing to resume (the export finished, or the file is not "
                    f"one pcpi wrote): remove it or write to another file")
            return None
        if found.fingerprint != self.fingerprint:
            raise ExportError(
                f"{self.path} is the unfinished output of another command ({found.command}, "
                f"or with other options, tenant or format): --resume it with that command, "
                f"or leave --resume out to start over")
        if info is None:
            raise ExportError(f"{self.path} is gone but its "
                              f"{os.path.basename(self.state_path)} is there: remove that "
                              f"to start over")
        if info.st_size < found.length:
            raise ExportError(f"{self.path} is shorter than its resume file says ("
                              f"{info.st_size:,} of {found.length:,} bytes): it was changed; "
                              f"leave --resume out to start over")
        return found

    def open(self) -> None:
        """Start writing: a new file, or the resumed one cut back to its last page."""
        found = self.check()
        try:
            if found is None:
                self._start()
            else:
                self._reopen()
        except OSError as exc:
            self.close()
            raise ExportError(f"{self.path}: {exc.strerror or exc}") from None

    def _start(self) -> None:
        unfinished = os.path.exists(self.state_path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        fh = self._fh = os.fdopen(fd, "r+b")
        self._lock(fh)
        self._state = ExportState(self.command, self.fingerprint, writer=self.writer.state())
        _state.save(self.state_path, self._state)  # (first: a kill after it can resume)
        fh.truncate(0)
        fh.write(self.writer.tail())
        self._sync()
        self.how = "fresh" if self.wants_resume else "over" if unfinished else "new"

    def _reopen(self) -> None:
        fd = os.open(self.path, os.O_RDWR)
        fh = self._fh = os.fdopen(fd, "r+b")
        self._lock(fh)
        found = self.check()  # (again, under the lock)
        assert found is not None
        try:
            self.writer = writer_from_state(found.writer)
        except ValueError as exc:
            raise ExportError(f"{self.state_path}: {exc}; remove it to start over") from None
        self._state = found
        self.items, self.pages, self.resume = found.items, found.pages, found.resume
        fh.seek(found.length)
        fh.write(self.writer.tail())  # (the cut-short page goes; the file is whole again)
        fh.truncate()
        self._sync()
        self.how = "resumed"

    def _lock(self, fh: IO[bytes]) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            return
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExportError(f"{self.path} is being written by another pcpi export: wait "
                              f"for it, or write to another file") from None

    # ------------------------------------------------------------------ writing
    def commit(self, rows: List[Any], resume: Optional[Dict[str, Any]], items: int,
               pages: int) -> None:
        fh, state = self._fh, self._state
        assert fh is not None and state is not None, "open() first"
        data = self.writer.page(rows)
        fh.seek(state.length)
        fh.write(data)
        fh.write(self.writer.tail())
        fh.truncate()
        self._sync()
        self.items, self.pages = items, pages
        if resume is None:
            # The listing has ended (or cannot go on): the resume file keeps the
            # point before this page until finish() removes it.
            return
        state.length += len(data)
        state.items, state.pages, state.resume = items, pages, resume
        state.writer = self.writer.state()
        _state.save(self.state_path, state)

    def finish(self) -> None:
        fh, state = self._fh, self._state
        assert fh is not None and state is not None, "open() first"
        end = fh.seek(0, os.SEEK_END) - len(self.writer.tail())
        fh.seek(end)
        fh.write(self.writer.finish() + self.writer.tail())
        fh.truncate()
        self._sync()
        _state.remove(self.state_path)

    def _sync(self) -> None:
        assert self._fh is not None
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            fh, self._fh = self._fh, None
            try:
                fh.close()  # (and the lock with it)
            except OSError:
                # Bytes a failed write left in the buffer, failing again: they are
                # past the length recorded, which is all that counts.
                pass


def unknown_columns_note(writer: Writer, where: str) -> str:
    """The warning for keys a CSV export left out, or ""."""
    if not isinstance(writer, CsvWriter) or not writer.unknown_count:
        return ""
    names = ", ".join(writer.unknown)
    more = writer.unknown_count - len(writer.unknown)
    if more > 0:
        names += f" and {more:,} more"
    key = "key" if writer.unknown_count == 1 else "keys"
    return (f"{writer.unknown_count:,} {key} first seen after the first page "
            f"{'is' if writer.unknown_count == 1 else 'are'} not in the columns of {where}: "
            f"{names} (name the columns with --columns to include them)")
