"""fan_out's parts without a network: the ledger, the checkpoint file, job
descriptions and keys, progress, the daemon threads, and fan_out itself over
plain functions (the tests over sockets are in tests/test_fanout*.py)."""

from __future__ import annotations

import functools
import io
import os
import pickle
import sqlite3
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from pcpi import FanOutInterrupted, FanOutResult, _fanout, _progress, fan_out
from pcpi._checkpoint import Checkpoint, describe_job, key_text
from pcpi._fanout import Ledger
from pcpi._session_pickle import _session_of
from pcpi._workers import DaemonThreads
from pcpi.errors import AuthorizationError

from .._fakes import names


# ---------------------------------------------------------------------- the ledger
def test_the_ledger_runs_failed_items_in_later_rounds_while_retries_last():
    ledger = Ledger(4, retries=1)
    ledger.resume(0, "stored")
    assert ledger.start() and list(ledger.pending) == [1, 2, 3] and ledger.round == 1
    ledger.pending.clear()
    ledger.succeed(1, "one")
    ledger.fail(2, ValueError("two"))
    ledger.fail(3, ValueError("three"))
    assert (ledger.done, ledger.failed) == (4, 2)
    assert ledger.start() and list(ledger.pending) == [2, 3] and ledger.round == 2
    ledger.pending.clear()
    ledger.succeed(3, "three")
    ledger.fail(2, ValueError("two again"))
    assert (ledger.done, ledger.failed) == (4, 1)  # a retried item is not counted twice
    assert not ledger.start()  # no retries left
    result = ledger.result(["a", "b", "c", "d"])
    assert result.results == ["stored", "one", None, "three"]
    assert [(item, str(exc)) for item, exc in result.failures] == [("c", "two again")]
    assert (result.succeeded, result.failed, result.resumed, result.unfinished,
            result.rounds) == (3, 1, 1, 0, 2)


def test_the_ledger_starts_no_round_when_everything_is_resumed():
    ledger = Ledger(2, retries=3)
    ledger.resume(0, 1)
    ledger.resume(1, 2)
    assert not ledger.start() and ledger.round == 0
    empty = Ledger(0, retries=0)
    assert not empty.start() and empty.result([]).succeeded == 0


def test_only_the_first_failures_keep_their_tracebacks(monkeypatch):
    monkeypatch.setattr(_fanout, "MAX_TRACEBACKS", 2)
    ledger = Ledger(4, retries=0)
    for i in range(4):
        try:
            raise ValueError(i)
        except ValueError as exc:
            ledger.fail(i, exc)
    kept = [ledger.errors[i].__traceback__ is not None for i in range(4)]
    assert kept == [True, True, False, False]


def test_a_result_and_an_interrupt_say_what_they_hold():
    result = FanOutResult([1, None, None], [("b", ValueError("x"))], resumed=1, unfinished=1)
    assert (result.succeeded, result.failed) == (1, 1)
    assert repr(result) == "<FanOutResult succeeded=1 failed=1 resumed=1, unfinished=1>"
    assert repr(FanOutResult([1], [])) == "<FanOutResult succeeded=1 failed=0 resumed=0>"
    stop = FanOutInterrupted(result)
    assert isinstance(stop, KeyboardInterrupt) and "1 succeeded, 1 failed, 1 not done" in str(stop)
    copy = pickle.loads(pickle.dumps(stop))
    assert copy.result.results == [1, None, None] and str(copy) == str(stop)


# ---------------------------------------------------------------------- keys and jobs
def test_keys_are_canonical_json_and_anything_else_says_to_pass_key():
    assert key_text({"b": 1, "a": [1, "x"]}, 0, None) == '{"a":[1,"x"],"b":1}'
    assert key_text(1, 0, 1) != key_text("1", 0, "1")
    with pytest.raises(TypeError, match=r"item 7 \(<object.*gives a object; pass key="):
        key_text(object(), 7, object())
    with pytest.raises(TypeError, match="gives a float"):
        key_text(float("nan"), 0, float("nan"))


class _Probe:
    def method(self, item):
        return item

    def __call__(self, item):
        return item


def _double(item):
    return 2 * item


def test_a_job_is_described_the_same_in_every_run_without_addresses():
    assert describe_job(_double) == f"{__name__}._double"
    assert describe_job(functools.partial(_double)) == f"partial({__name__}._double)"
    part = functools.partial(_double, [1, "a"], flag=True, other=object())
    assert describe_job(part) == \
        f'partial({__name__}._double, [1,"a"], flag=true, other=object)'
    assert describe_job(_Probe().method) == f"{__name__}._Probe.method of _Probe"
    assert describe_job(_Probe()) == f"{__name__}._Probe"
    assert describe_job(lambda i: i).endswith("<lambda>")

    class Tenanted:
        tenant, api_url = "prod", "https://api.prismacloud.io"
    text = describe_job(functools.partial(_double, Tenanted()))
    assert "Tenanted(tenant='prod', url='https://api.prismacloud.io')" in text
    # a session unpickled in a worker and not used yet: its manager describes it
    manager = type("M", (), {"tenant": "t2", "api_url": "u2"})()
    stand_in = _session_of(manager, "cspm_session", Tenanted)
    assert "M(tenant='t2', url='u2')" in describe_job(functools.partial(_double, stand_in))


# ---------------------------------------------------------------------- the checkpoint file
def test_a_checkpoint_records_results_and_is_private(tmp_path):
    path = tmp_path / "job.db"
    store = Checkpoint(path, "job-a")
    store.record([('"a"', "1"), ('"b"', '{"x":2}')])
    store.record([])
    assert store.recorded(['"a"', '"b"', '"c"']) == {'"a"': "1", '"b"': '{"x":2}'}
    assert store.count() == 2
    store.close()
    assert os.stat(path).st_mode & 0o777 == 0o600
    again = Checkpoint(str(path), "job-a")
    assert again.recorded(['"b"']) == {'"b"': '{"x":2}'}
    again.close()


def test_a_checkpoint_refuses_another_jobs_file_and_other_files(tmp_path):
    path = tmp_path / "job.db"
    Checkpoint(path, "job-a").close()
    with pytest.raises(ValueError) as info:
        Checkpoint(path, "job-b")
    names(info.value, str(path), "job-a", "job-b", "job=")  # whose file, and what to pass
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ValueError, match="is not a pcpi checkpoint"):
        Checkpoint(junk, "job-a")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    with pytest.raises(ValueError, match="is not a pcpi checkpoint"):
        Checkpoint(other, "job-a")
    future = tmp_path / "future.db"
    Checkpoint(future, "job-a").close()
    with sqlite3.connect(future) as db:
        db.execute("UPDATE pcpi_fan_out SET value = '9' WHERE name = 'format'")
    db.close()
    with pytest.raises(ValueError, match="checkpoint format '9'"):
        Checkpoint(future, "job-a")
    with pytest.raises(ValueError, match="cannot open checkpoint"):
        Checkpoint(tmp_path / "no" / "such" / "dir.db", "job-a")


def test_a_failed_commit_records_nothing(tmp_path):
    store = Checkpoint(tmp_path / "job.db", "job")
    with pytest.raises(sqlite3.Error):
        store.record([('"a"', None)])  # (NOT NULL)
    assert store.count() == 0
    other = sqlite3.connect(tmp_path / "job.db", timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # no transaction was left open: the file is not locked
    other.execute("ROLLBACK")
    other.close()
    store.record([('"a"', "1")])
    assert store.recorded(['"a"']) == {'"a"': "1"}
    store.close()


# ---------------------------------------------------------------------- progress
def test_progress_takes_a_function_true_or_nothing():
    assert _progress.reporter(False, 3, 0, 0) is None
    assert _progress.reporter(None, 3, 0, 0) is None
    seen = []
    report = _progress.reporter(lambda *a: seen.append(a), 3, 1, 0)
    report.update(2, 1)
    report.note("ignored")
    report.close()
    assert seen == [(1, 3, 0), (2, 3, 1)]
    with pytest.raises(TypeError, match="progress must be True"):
        _progress.reporter("yes", 3, 0, 0)


def test_the_bar_draws_on_stderr_and_slowly_when_stderr_is_a_file(monkeypatch):
    from tqdm import tqdm

    bars = []

    class Seen(tqdm):  # tqdm itself, noting the bars made
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(_progress, "require_tqdm", lambda: Seen)
    bar = _progress.reporter(True, 10, 2, 0)
    assert [b.mininterval for b in bars] == [_progress.FILE_INTERVAL]  # not a terminal
    bar.update(5, 1)
    bar.note("retry 1 of 2")
    bar.update(10, 1)
    bar.close()
    text = err.getvalue()
    assert "10/10" in text and "failed=1, retry 1 of 2" in text


def test_without_tqdm_the_bar_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    with pytest.raises(ImportError, match=r'pip install "pcpi\[progress\]"'):
        fan_out(_double, [1], progress=True)


# ---------------------------------------------------------------------- daemon threads
def _threads_named(name):
    return [t for t in threading.enumerate() if t.name.startswith(name + "-")]


def test_the_daemon_threads_run_calls_and_stop():
    pool = DaemonThreads(3, name="unit-daemons")
    futures = [pool.submit(_double, i) for i in range(10)]
    assert [f.result(timeout=10) for f in futures] == [2 * i for i in range(10)]
    threads = _threads_named("unit-daemons")
    assert 1 <= len(threads) <= 3 and all(t.daemon for t in threads)
    failing = pool.submit(_fail, "boom")
    with pytest.raises(ValueError, match="boom"):
        failing.result(timeout=10)
    pool.shutdown(wait=True)
    assert not any(t.is_alive() for t in threads) and _threads_named("unit-daemons") == []
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(_double, 1)


def test_the_daemon_threads_cancel_what_has_not_started():
    pool = DaemonThreads(1)
    gate, started, ran_in = threading.Event(), threading.Event(), []

    def run():
        ran_in.append(threading.current_thread())
        started.set()
        return gate.wait(10)

    running = pool.submit(run)
    assert started.wait(10)
    waiting = pool.submit(_double, 1)
    pool.shutdown(wait=False, cancel_futures=True)
    assert waiting.cancelled()
    gate.set()
    assert running.result(timeout=10) is True
    ran_in[0].join(10)
    assert not ran_in[0].is_alive()


def _fail(message):
    raise ValueError(message)


# ---------------------------------------------------------------------- fan_out, no network
def _pick(item):
    if item == 3:
        raise AuthorizationError("refused")  # a SystemExit
    if item == 5:
        raise SystemExit(2)
    if item == 6:
        raise ValueError("six")
    return item * 10


@pytest.mark.parametrize("executor", [None, "threads"])
def test_every_exception_is_kept_with_its_item_in_input_order(executor):
    with ThreadPoolExecutor(4) as pool:
        result = fan_out(_pick, range(8), workers=3,
                         executor=pool if executor else None)
    assert result.results == [0, 10, 20, None, 40, None, None, 70]
    assert [(i, type(e)) for i, e in result.failures] == \
        [(3, AuthorizationError), (5, SystemExit), (6, ValueError)]
    assert (result.succeeded, result.failed, result.rounds) == (5, 3, 1)


def test_items_may_be_any_iterable_but_not_a_string():
    assert fan_out(_double, (i for i in range(3))).results == [0, 2, 4]
    assert fan_out(_double, []).results == []
    with pytest.raises(TypeError, match="items is a string"):
        fan_out(_double, "abc")


@pytest.mark.parametrize("kwargs, error, match", [
    ({"workers": 0}, ValueError, "workers must be"),
    ({"workers": True}, ValueError, "workers must be"),
    ({"retries": -1}, ValueError, "retries must be"),
    ({"executor": "threads"}, TypeError, "executor must be"),
    ({"on_result": 3}, TypeError, "on_result must be"),
    ({"progress": "yes"}, TypeError, "progress must be"),
])
def test_bad_arguments_say_what_to_fix(kwargs, error, match):
    with pytest.raises(error, match=match):
        fan_out(_double, [1], **kwargs)


def test_a_keyboard_interrupt_in_fn_stops_without_starting_more_items():
    started = []

    def fn(item):
        started.append(item)
        if item == 4:
            raise KeyboardInterrupt
        return item

    with pytest.raises(FanOutInterrupted) as caught:
        fan_out(fn, range(10), workers=1)
    result = caught.value.result
    assert started == [0, 1, 2, 3, 4]
    assert result.results == [0, 1, 2, 3] + [None] * 6
    assert (result.succeeded, result.failed, result.unfinished) == (4, 0, 6)


def test_a_checkpointed_rerun_calls_only_what_is_not_recorded(tmp_path):
    path = tmp_path / "job.db"
    calls = []

    def fn(item):
        calls.append(item)
        if item == 2 and calls.count(2) == 1:
            raise ValueError("first time")
        return {"n": item, "t": (item, "x")}

    first = fan_out(fn, range(5), checkpoint=path, job="j")
    assert first.results[0] == {"n": 0, "t": [0, "x"]}  # what JSON gives back, every run
    assert first.failed == 1 and first.resumed == 0
    seen = []
    second = fan_out(fn, range(6), checkpoint=path, job="j",
                     on_result=lambda item, r: seen.append(item))
    assert sorted(calls) == [0, 1, 2, 2, 3, 4, 5]  # 2 and the new 5 only
    assert second.results == first.results[:2] + [{"n": 2, "t": [2, "x"]}] + \
        first.results[3:] + [{"n": 5, "t": [5, "x"]}]
    assert (second.resumed, second.failed, second.rounds) == (4, 0, 1)
    assert seen[:4] == [0, 1, 3, 4] and sorted(seen[4:]) == [2, 5]  # the checkpoint's first
    third = fan_out(fn, range(6), checkpoint=path, job="j")
    assert third.resumed == 6 and third.rounds == 0 and len(calls) == 7


def test_keys_name_items_and_must_be_unique(tmp_path):
    path = tmp_path / "job.db"
    items = [{"id": 1, "blob": object()}, {"id": 2, "blob": object()}]
    result = fan_out(lambda it: it["id"], items, checkpoint=path, key=lambda it: it["id"])
    assert result.results == [1, 2]
    with pytest.raises(TypeError, match="item 0 .* gives a dict; pass key="):
        fan_out(lambda it: it["id"], items, checkpoint=tmp_path / "b.db")
    with pytest.raises(ValueError, match="items 0 and 2 have the same checkpoint key '1'"):
        fan_out(_double, [1, 2, 1], checkpoint=tmp_path / "c.db")


def test_a_result_json_cannot_hold_stops_the_job_naming_the_item(tmp_path):
    path = tmp_path / "job.db"
    with pytest.raises(TypeError) as info:
        fan_out(lambda i: {i} if i == 2 else i, range(3), workers=1, checkpoint=path, job="j")
    names(info.value, "item 2", "set", "res.json()")  # the item, its result, what to return
    store = Checkpoint(path, "j")
    assert store.recorded(["0", "1", "2"]) == {"0": "0", "1": "1"}  # the others are kept
    store.close()


def test_an_error_in_a_callback_stops_the_job():
    def on_result(item, result):
        raise RuntimeError("callback")

    with pytest.raises(RuntimeError, match="callback"):
        fan_out(_double, range(5), on_result=on_result)


def test_the_default_threads_are_bounded_by_workers():
    lock = threading.Lock()
    now, peak = [0], [0]
    gate = threading.Barrier(3, timeout=10)

    def fn(item):
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        if item < 3:
            gate.wait()  # three at once, at least
        with lock:
            now[0] -= 1
        return item

    assert fan_out(fn, range(30), workers=3).succeeded == 30
    assert peak[0] == 3


class _Broken:
    def __repr__(self):
        raise RuntimeError("no repr")


def test_an_item_without_a_repr_is_still_named_in_errors_and_logs(tmp_path, caplog):
    with pytest.raises(TypeError, match=r"item 0 \(<_Broken>\) gives a _Broken"):
        fan_out(_double, [_Broken()], checkpoint=tmp_path / "job.db")

    def fn(item):
        raise ValueError("x" * 300)

    with caplog.at_level("WARNING", logger="pcpi"):
        result = fan_out(fn, [_Broken()])
    assert result.failed == 1
    assert "the first: <_Broken>: ValueError: " + "x" * 200 + "..." in caplog.text


class _CountingPool(ThreadPoolExecutor):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.submitted = threading.Semaphore(0)

    def submit(self, *args, **kwargs):
        future = super().submit(*args, **kwargs)
        self.submitted.release()
        return future


def test_an_executor_shut_down_under_the_job_cancels_its_items_then_stops_it():
    pool = _CountingPool(1)
    seen = []

    def fn(item):
        if item == 0:
            for _ in range(3):  # items 1 and 2 are queued behind this one
                assert pool.submitted.acquire(timeout=10)
            pool.shutdown(wait=False, cancel_futures=True)
        return item

    with pytest.raises(RuntimeError, match="shutdown"):
        fan_out(fn, range(6), workers=3, executor=pool,
                progress=lambda done, total, failed: seen.append(failed))
    assert seen[-1] == 2  # the two items it cancelled: failures (CancelledError)


def test_progress_is_checked_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    calls = []
    with pytest.raises(ImportError, match="pcpi"):
        fan_out(calls.append, [1], progress=True, checkpoint=tmp_path / "job.db")
    assert calls == [] and not (tmp_path / "job.db").exists()
