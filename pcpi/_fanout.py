"""``pcpi.fan_out``: one call of ``fn`` per item, bounded, with failures kept.

The loop every pcpi script writes by hand, once: at most ``workers`` calls in
flight on any ``concurrent.futures.Executor`` (daemon threads by default, a
process pool, Dask), every exception kept with its item, failed items tried
again in later rounds, progress, and a checkpoint that lets a killed job resume
without calling a recorded item again.

One thread (the caller's) coordinates: it submits, collects what finished,
records successes in the checkpoint (one commit for all that finished
together), and only then counts them done and submits more.  The bookkeeping
is :class:`Ledger`, which does no I/O.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import queue
from concurrent.futures import CancelledError, Executor, Future
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
    Generic,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

from ._checkpoint import Checkpoint, PathLike, describe_job, key_text, result_text
from ._log import Log
from ._progress import Progress, ProgressArg, reporter
from ._progress import check as check_progress
from ._workers import DaemonThreads

__all__ = ["fan_out", "FanOutResult", "FanOutInterrupted", "Ledger", "MAX_TRACEBACKS"]

_I = TypeVar("_I")
_R = TypeVar("_R")

#: failures that keep their traceback; later ones drop it (a traceback holds its
#: frames and whatever they referenced: responses, bodies)
MAX_TRACEBACKS = 100


class FanOutResult(Generic[_I, _R]):
    """What :func:`fan_out` did.

    ``results``: one entry per item, in input order; ``None`` where the item
    failed (or, after an interrupt, has no outcome).  ``failures``: ``(item,
    exception)`` for each item whose last try raised, in input order.
    ``succeeded`` and ``failed`` count them; ``resumed`` is how many results
    came from the checkpoint, ``unfinished`` how many items have no outcome
    (0 unless interrupted), ``rounds`` how many rounds ran.
    """

    __slots__ = ("results", "failures", "resumed", "unfinished", "rounds")

    def __init__(self, results: List[Optional[_R]], failures: List[Tuple[_I, BaseException]],
                 resumed: int = 0, unfinished: int = 0, rounds: int = 0) -> None:
        self.results: List[Optional[_R]] = results
        self.failures: List[Tuple[_I, BaseException]] = failures
        self.resumed: int = resumed
        self.unfinished: int = unfinished
        self.rounds: int = rounds

    @property
    def failed(self) -> int:
        """Items whose last try raised."""
        return len(self.failures)

    @property
    def succeeded(self) -> int:
        """Items with a result (from this run or the checkpoint)."""
        return len(self.results) - len(self.failures) - self.unfinished

    def __repr__(self) -> str:
        extra = f", unfinished={self.unfinished}" if self.unfinished else ""
        return (f"<FanOutResult succeeded={self.succeeded} failed={self.failed} "
                f"resumed={self.resumed}{extra}>")


class FanOutInterrupted(KeyboardInterrupt):
    """Ctrl-C (or a ``KeyboardInterrupt`` in a worker) stopped a fan-out: no item
    was started after it, the successes so far are in the checkpoint, and
    ``result`` holds what was done (its ``unfinished`` items have no outcome).
    A ``KeyboardInterrupt``, so a script that does not catch it ends as usual."""

    def __init__(self, result: FanOutResult[Any, Any]) -> None:
        super().__init__(f"fan_out interrupted: {result.succeeded} succeeded, {result.failed} "
                         f"failed, {result.unfinished} not done")
        self.result: FanOutResult[Any, Any] = result

    def __reduce__(self) -> Tuple[Any, ...]:
        return type(self), (self.result,)


class Ledger:
    """The bookkeeping of one fan-out, without I/O: which items are still to
    run in this round, and the outcome of each."""

    def __init__(self, count: int, retries: int) -> None:
        self.count = count
        self.retries = retries
        self.results: List[Any] = [None] * count
        self.errors: Dict[int, BaseException] = {}
        self.has_result = bytearray(count)  # (a bytearray: 50,000 items are 50 kB)
        self.done = 0  # items with an outcome (a failure waiting for a retry counts)
        self.round = 0
        self.resumed = 0
        self.pending: Deque[int] = collections.deque()
        self._tracebacks = 0

    def resume(self, index: int, result: Any) -> None:
        """An item whose result a checkpoint already holds."""
        self._succeed(index, result)
        self.resumed += 1

    def start(self) -> bool:
        """Begin the next round (the first: every item without a result; later
        ones: the failed items, while retries are left).  False when none is due."""
        if self.round == 0:
            todo = [i for i in range(self.count) if not self.has_result[i]]
        elif self.round <= self.retries:
            todo = sorted(self.errors)
        else:
            return False
        if not todo:
            return False
        self.round += 1
        self.pending.extend(todo)
        return True

    def succeed(self, index: int, result: Any) -> None:
        self._succeed(index, result)
        self.errors.pop(index, None)

    def _succeed(self, index: int, result: Any) -> None:
        if index not in self.errors:
            self.done += 1
        self.results[index] = result
        self.has_result[index] = 1

    def fail(self, index: int, error: BaseException) -> None:
        if index not in self.errors:
            self.done += 1
        if self._tracebacks >= MAX_TRACEBACKS:
            error.__traceback__ = None
        elif error.__traceback__ is not None:
            self._tracebacks += 1
        self.errors[index] = error

    @property
    def failed(self) -> int:
        return len(self.errors)

    def result(self, items: Sequence[Any]) -> FanOutResult[Any, Any]:
        failures = [(items[i], self.errors[i]) for i in sorted(self.errors)]
        unfinished = self.count - sum(self.has_result) - len(self.errors)
        return FanOutResult(self.results, failures, self.resumed, unfinished, self.round)


def fan_out(fn: Callable[[_I], _R], items: Iterable[_I], *, workers: int = 32,
            executor: Optional[Executor] = None, progress: ProgressArg = False,
            checkpoint: Optional[PathLike] = None, key: Optional[Callable[[_I], Any]] = None,
            retries: int = 0, on_result: Optional[Callable[[_I, _R], Any]] = None,
            job: Optional[str] = None, logger: Any = None) -> FanOutResult[_I, _R]:
    """Call ``fn(item)`` for every item, at most ``workers`` at a time, and
    return a :class:`FanOutResult` (``results`` in input order, ``failures``
    as ``(item, exception)``, ``succeeded``, ``failed``).

    Every exception ``fn`` raises is kept with its item, pcpi's ``SystemExit``
    based errors included, and the others go on; ``fan_out`` returns normally.
    A ``Response`` is not a failure whatever its status: have ``fn`` call
    ``res.raise_for_status()`` (or raise) where it should count as one.
    Ctrl-C raises :class:`FanOutInterrupted` (a ``KeyboardInterrupt``) at once:
    no item starts after it, calls in flight are abandoned, and what was done
    is kept (in its ``result`` and the checkpoint).

    ``executor``: any ``concurrent.futures.Executor`` (a ``ProcessPoolExecutor``,
    Dask's ``Client.get_executor()``; ``fn`` and the items must pickle there,
    as pcpi managers and sessions do); by default ``workers`` daemon threads.
    At most ``workers`` items are submitted to it at a time.
    ``retries``: failed items are tried again in up to that many more rounds,
    after the others.  ``progress``: True for a tqdm bar on stderr (``pip
    install "pcpi[progress]"``), or a function called with ``(done, total,
    failed)``.  ``checkpoint``: a file (SQLite) where each success is committed
    with its result, as JSON, before it counts as done; a run with the same
    job takes recorded items' results from it instead of calling ``fn``.
    ``key(item)`` names an item there (default: the item, which must then be a
    JSON value).  ``job`` names the job in the checkpoint (default: from
    ``fn``, see the README).  ``on_result(item, result)`` is called in this
    thread for each success, the checkpoint's first.  ``logger`` as for the
    session managers.
    """
    _check(workers, retries, executor, on_result)
    check_progress(progress)
    if isinstance(items, (str, bytes)):
        raise TypeError("items is a string: pass a list (or any iterable) of items")
    seq: Sequence[_I] = items if isinstance(items, (list, tuple)) else list(items)
    run = _Run(fn, seq, Ledger(len(seq), retries), Log(logger), on_result=on_result)
    if checkpoint is not None:
        run.keys = _keys(seq, key)
        run.store = Checkpoint(checkpoint, job if job is not None else describe_job(fn))
    try:
        if run.store is not None:
            _resume(run.store, run.keys, seq, run.ledger, on_result, run.log)
        run.report = reporter(progress, run.ledger.count, run.ledger.done, run.ledger.failed)
        try:
            _execute(run, executor, workers)
        finally:
            if run.report is not None:
                run.report.close()
    finally:
        if run.store is not None:
            run.store.close()
    result = run.ledger.result(seq)
    if result.failures:
        item, exc = result.failures[0]
        run.log.warning(f"fan_out: {result.failed} of {run.ledger.count} items failed (the "
                        f"first: {_short(item)}: {type(exc).__name__}: {_short(exc, 200)})")
    return result


@dataclasses.dataclass
class _Run:
    """One fan_out in progress: what it calls, on what, and where it records."""

    fn: Callable[[Any], Any]
    items: Sequence[Any]
    ledger: Ledger
    log: Log
    store: Optional[Checkpoint] = None
    keys: List[str] = dataclasses.field(default_factory=list)
    report: Optional[Progress] = None
    on_result: Optional[Callable[[Any, Any], Any]] = None


def _execute(run: _Run, executor: Optional[Executor], workers: int) -> None:
    """Run the rounds on ``executor``, or on ``workers`` daemon threads of its own."""
    own = executor is None
    pool: Executor = DaemonThreads(workers) if executor is None else executor
    try:
        _run(run, pool, workers)
    except BaseException:
        if own:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    if own:
        pool.shutdown(wait=False)


def _check(workers: int, retries: int, executor: Any, on_result: Any) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number of at least 1 (calls in flight at "
                         f"once), not {workers!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a whole number of rounds, 0 or more, not "
                         f"{retries!r}")
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(f"executor must be a concurrent.futures.Executor (a "
                        f"ProcessPoolExecutor, Dask's client.get_executor(), ...), not "
                        f"{type(executor).__name__}")
    if on_result is not None and not callable(on_result):
        raise TypeError("on_result must be a function of (item, result)")


def _keys(items: Sequence[Any], key: Optional[Callable[[Any], Any]]) -> List[str]:
    keys: List[str] = []
    seen: Dict[str, int] = {}
    for index, item in enumerate(items):
        text = key_text(item if key is None else key(item), index, item)
        first = seen.setdefault(text, index)
        if first != index:
            raise ValueError(f"items {first} and {index} have the same checkpoint key "
                             f"{_short(text)}: a key must name one item; pass key=... that "
                             f"tells them apart, or leave out the repeated item")
        keys.append(text)
    return keys


def _resume(store: Checkpoint, keys: List[str], items: Sequence[Any], ledger: Ledger,
            on_result: Optional[Callable[[Any, Any], Any]], log: Log) -> None:
    stored = store.recorded(keys)
    if not stored:
        return
    for index, text in enumerate(keys):
        found = stored.get(text)
        if found is not None:
            result = json.loads(found)
            ledger.resume(index, result)
            if on_result is not None:
                on_result(items[index], result)
    log.info(f"fan_out: {ledger.resumed} of {ledger.count} items already done in checkpoint "
             f"{store.path} (not called again)")


def _run(run: _Run, pool: Executor, workers: int) -> None:
    """The rounds: keep up to ``workers`` items submitted, record what finishes."""
    submit = _submitter(pool)
    finished: "queue.SimpleQueue[Future[Any]]" = queue.SimpleQueue()
    in_flight: Dict["Future[Any]", int] = {}
    ledger, report = run.ledger, run.report
    pending = ledger.pending
    try:
        while ledger.start():
            if ledger.round > 1:
                run.log.warning(f"fan_out: trying {len(pending)} failed items again (round "
                                f"{ledger.round} of {ledger.retries + 1})")
                if report is not None:
                    report.note(f"retry {ledger.round - 1} of {ledger.retries}")
            while pending or in_flight:
                while pending and len(in_flight) < workers:
                    index = pending.popleft()
                    future = submit(run.fn, run.items[index])
                    in_flight[future] = index
                    future.add_done_callback(finished.put)
                batch = [finished.get()]
                while True:
                    try:
                        batch.append(finished.get_nowait())
                    except queue.Empty:
                        break
                _collect(batch, in_flight, run.items, ledger, run.store, run.keys,
                         run.on_result)
                if report is not None:
                    report.update(ledger.done, ledger.failed)
    except KeyboardInterrupt:
        for future in in_flight:
            future.cancel()  # (those not started yet; the others are abandoned)
        result = ledger.result(run.items)
        store = run.store
        run.log.warning(f"fan_out interrupted: {result.succeeded} succeeded, {result.failed} "
                        f"failed, {result.unfinished} not done"
                        + (f" (successes are in checkpoint {store.path})" if store else ""))
        raise FanOutInterrupted(result) from None
    except BaseException:
        for future in in_flight:
            future.cancel()
        raise


def _submitter(pool: Executor) -> Callable[..., "Future[Any]"]:
    """``pool.submit``; for Dask's executor, asking for a new task each time: by
    default Dask takes a task with the same function and arguments as one it
    already has for the same task, and would hand a retry round the failure
    of the round before without calling anything."""
    kind = type(pool)
    if kind.__name__ == "ClientExecutor" and kind.__module__.startswith("distributed."):
        return functools.partial(pool.submit, pure=False)
    return pool.submit


def _collect(batch: List["Future[Any]"], in_flight: Dict["Future[Any]", int],
             items: Sequence[Any], ledger: Ledger, store: Optional[Checkpoint],
             keys: List[str], on_result: Optional[Callable[[Any, Any], Any]]) -> None:
    """Record a batch of finished calls: successes committed first, then counted."""
    successes: List[Tuple[int, Any]] = []
    interrupted = False
    for future in batch:
        index = in_flight.pop(future)
        try:
            successes.append((index, future.result()))
        except CancelledError as exc:  # (by a user's executor shutting down)
            ledger.fail(index, exc)
        except KeyboardInterrupt:  # in a worker process: stop, as for Ctrl-C here
            interrupted = True
        except BaseException as exc:  # SystemExit (pcpi's errors) included
            ledger.fail(index, exc)
    unstorable: Optional[TypeError] = None
    if store is not None and successes:
        rows = []
        stored: List[Tuple[int, Any]] = []
        for index, result in successes:
            try:
                text = result_text(result, index, items[index])
            except TypeError as exc:  # fn's mistake, the same for every item: stop
                unstorable = unstorable or exc
                continue
            rows.append((keys[index], text))
            stored.append((index, json.loads(text)))  # (what a resumed run returns)
        store.record(rows)
        successes = stored
    for index, result in successes:
        ledger.succeed(index, result)
        if on_result is not None:
            on_result(items[index], result)
    if unstorable is not None:
        raise unstorable
    if interrupted:
        raise KeyboardInterrupt


def _short(value: Any, limit: int = 80) -> str:
    try:
        text = str(value) if isinstance(value, BaseException) else repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."
