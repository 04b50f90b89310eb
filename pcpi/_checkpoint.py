"""A fan-out's checkpoint: every success, with its result, in one SQLite file.

Why SQLite (the standard library's ``sqlite3``) rather than an append-only file:
a commit is atomic and, with ``synchronous=FULL``, on disk when it returns, so a
``kill -9`` or a power cut leaves every committed row and no torn one, with no
recovery code of pcpi's own; a resumed 50,000-item job looks its keys up in an
index instead of replaying a log; and the file can be read while the job runs
(``sqlite3 job.db 'select count(*) from results'``).  The write-ahead log lets
a commit be one sequential write and one fsync; several results that finish
together go in one commit.

The file holds, besides the results, the job it was written for (see
:func:`describe_job`): a checkpoint never applies to another job.  It is created
with mode 0600, as results may be inventory data; it never holds a token, key or
password unless ``fn`` returns one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import time
from typing import Any, Callable, Dict, Iterable, Sequence, Tuple, Union

__all__ = ["Checkpoint", "describe_job", "key_text", "result_text", "PathLike"]

PathLike = Union[str, "os.PathLike[str]"]

_FORMAT = "1"  # the layout below
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS pcpi_fan_out (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, result TEXT NOT NULL, "
    "recorded_at REAL NOT NULL)",
)
_MAX_DESCRIPTION = 500  # characters of the job's description kept for messages


def key_text(key: Any, index: int, item: Any) -> str:
    """A key as the checkpoint stores it: canonical JSON (so ``1`` and ``"1"``
    differ, and dicts are equal whatever their order)."""
    try:
        return json.dumps(key, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError):
        raise TypeError(
            f"fan_out(checkpoint=...) names each item in the checkpoint by key(item), by "
            f"default the item itself, and that must be a JSON value (a string, number, "
            f"bool, None, or a list or dict of them): item {index} ({_short(item)}) gives a "
            f"{type(key).__name__}; pass key=... returning a string or number that names the "
            f"item, the same in every run") from None


def result_text(result: Any, index: int, item: Any) -> str:
    """A result as the checkpoint stores it (JSON)."""
    try:
        return json.dumps(result, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"fan_out(checkpoint=...) stores each result as JSON, and the result for item "
            f"{index} ({_short(item)}) is a {type(result).__name__} that JSON cannot hold "
            f"({exc}): have fn return plain data (a dict, list, string, number, bool or "
            f"None), such as res.json() rather than the Response") from None


def _short(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def describe_job(fn: Callable[..., Any]) -> str:
    """What a checkpoint knows its job by: ``fn``'s module and qualified name,
    and for ``functools.partial`` or a bound method what it is bound to, as far
    as it is the same in every run (pcpi sessions and managers by tenant and
    URL, JSON values as JSON, anything else by its type)."""
    if isinstance(fn, functools.partial):
        parts = [describe_job(fn.func)] + [_stable(a) for a in fn.args]
        parts += [f"{k}={_stable(v)}" for k, v in sorted(fn.keywords.items())]
        return f"partial({', '.join(parts)})"
    bound_to = getattr(fn, "__self__", None)
    func = getattr(fn, "__func__", None)
    if func is not None and bound_to is not None:
        return f"{describe_job(func)} of {_stable(bound_to)}"
    kind = fn if hasattr(fn, "__qualname__") else type(fn)
    return f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', '?')}"


def _stable(value: Any) -> str:
    """``value`` described the same in every run (no memory addresses)."""
    state = getattr(value, "__dict__", None)
    ref = state.get("_pcpi_ref") if isinstance(state, dict) else None
    if ref is not None:  # a session unpickled and not used yet: its manager says
        value = ref[0]
    tenant, url = getattr(value, "tenant", None), getattr(value, "api_url", None)
    if isinstance(tenant, str) and isinstance(url, str):
        return f"{type(value).__name__}(tenant={tenant!r}, url={url!r})"
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return type(value).__qualname__


class Checkpoint:
    """The results recorded for one job in one file; used by one thread."""

    def __init__(self, path: PathLike, job: str) -> None:
        self.path = os.fspath(path)
        self.job = job
        self._job_id = hashlib.sha256(job.encode("utf-8", "surrogatepass")).hexdigest()
        try:
            if not os.path.exists(self.path):
                # results may be inventory data: readable by the owner only (SQLite
                # gives its -wal and -shm files the same mode)
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0,
                                       check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise ValueError(f"fan_out cannot open checkpoint {self.path!r}: {exc}") from None
        try:
            self._setup()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise ValueError(f"{self.path!r} is not a pcpi checkpoint ({exc}): give fan_out "
                             f"a new file, or one an earlier run of this job wrote") from None
        except BaseException:
            self._db.close()
            raise

    def _setup(self) -> None:
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # committed is on disk, power cut included
        tables = {row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "pcpi_fan_out" not in tables:
            raise sqlite3.DatabaseError("a SQLite file of something else")
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                db.execute(statement)
            meta = dict(db.execute("SELECT name, value FROM pcpi_fan_out").fetchall())
            if not meta:
                db.executemany("INSERT INTO pcpi_fan_out VALUES (?, ?)", [
                    ("format", _FORMAT), ("job_id", self._job_id),
                    ("job", self.job[:_MAX_DESCRIPTION]), ("created_at", repr(time.time()))])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if not meta:
            return
        if meta.get("format") != _FORMAT:
            raise sqlite3.DatabaseError(f"checkpoint format {meta.get('format')!r}, not "
                                        f"{_FORMAT!r}")
        if meta.get("job_id") != self._job_id:
            raise ValueError(
                f"checkpoint {self.path!r} was written for another job ({meta.get('job')}), "
                f"not this one ({self.job[:_MAX_DESCRIPTION]}): give this job its own file, "
                f"delete that one to start again, or pass job= the name that job was given")

    def recorded(self, keys: Iterable[str]) -> Dict[str, str]:
        """The stored result (JSON text) of each of ``keys`` that has one."""
        wanted = set(keys)
        return {k: r for k, r in self._db.execute("SELECT key, result FROM results")
                if k in wanted}

    def count(self) -> int:
        """How many results the file holds (this job's, whatever the items)."""
        return int(self._db.execute("SELECT count(*) FROM results").fetchone()[0])

    def record(self, rows: Sequence[Tuple[str, str]]) -> None:
        """Store ``(key, result)`` rows in one transaction, on disk when this returns."""
        if not rows:
            return
        now = time.time()
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)",
                           [(k, r, now) for k, r in rows])
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()
