"""pcpi.fan_out across processes, over real sockets: a ProcessPoolExecutor (the
in-flight bound, order, failures, sessions and managers as arguments), a child
killed with SIGKILL mid-run and then resumed, and a child stopped by SIGINT."""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import requests

from pcpi import fan_out
from pcpi.saas_session_manager import SaaSSessionManager

from ._fanout_items import add_items, calls_per_item, fetch, fetch_via_manager

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_fanout_child.py")


def _manager(tenant, **options) -> SaaSSessionManager:
    # the loopback URL: a spawned worker does not resolve the fake SaaS host name
    return SaaSSessionManager("fake", tenant.access_key, tenant.secret_key, tenant.url,
                              verify=tenant.ca_path, **options)


def test_a_process_pool_keeps_order_failures_and_the_in_flight_bound(tenant):
    tenant.configure(latency=0.03)
    add_items(tenant, 24)
    tenant.fail_next(404, path="/items/6")
    manager = _manager(tenant)
    session = manager.create_cspm_session()
    tenant.reset_stats()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=context) as pool:
        # a session as the task's argument (it pickles as its manager's session)
        by_session = fan_out(functools.partial(fetch, session), range(24), workers=2,
                             executor=pool)
        peak = tenant.stats()["max_requests_in_flight"]
        by_manager = fan_out(functools.partial(fetch_via_manager, manager), range(24),
                             workers=3, executor=pool)
    assert peak <= 2 and tenant.stats()["max_requests_in_flight"] <= 3
    assert by_session.results == [None if i == 6 else {"item": i} for i in range(24)]
    [(item, exc)] = by_session.failures
    assert item == 6 and isinstance(exc, requests.HTTPError) and "404" in str(exc)
    assert by_manager.results == [{"item": i} for i in range(24)]
    assert tenant.stats()["logins"] <= 4  # once per worker process, not per task
    manager.close()


def _start_child(tenant, checkpoint, items, workers):
    proc = subprocess.Popen([sys.executable, CHILD], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    cfg = {"url": tenant.url, "ca_path": tenant.ca_path, "access_key": tenant.access_key,
           "secret_key": tenant.secret_key, "items": items, "workers": workers,
           "checkpoint": str(checkpoint)}
    proc.stdin.write(json.dumps(cfg) + "\n")
    proc.stdin.flush()
    return proc


def _wait_for_progress(proc, at_least, seconds=60.0):
    """Read the child's ``done N`` lines until N >= at_least (bounded in time)."""
    found = []

    def read():
        for line in proc.stdout:
            if line.startswith("done ") and int(line.split()[1]) >= at_least:
                found.append(line)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(seconds)
    assert found, f"the child made no progress in {seconds} s: {proc.poll()}"


def _recorded(path):
    with sqlite3.connect(path) as db:
        keys = {int(k) for (k,) in db.execute("SELECT key FROM results")}
    db.close()
    return keys


def test_a_job_killed_mid_run_resumes_without_calling_a_recorded_item_again(tenant, tmp_path):
    tenant.configure(latency=0.04)
    items, workers = 120, 4
    add_items(tenant, items)
    path = tmp_path / "job.db"
    proc = _start_child(tenant, path, items, workers)
    try:
        _wait_for_progress(proc, 20)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    time.sleep(0.3)  # calls the child left in flight reach the tenant
    recorded = _recorded(path)
    before = calls_per_item(tenant)
    assert 20 <= len(recorded) < items  # killed mid-run
    assert all(before[i] == 1 for i in recorded)
    lost = set(before) - recorded
    assert len(lost) <= workers  # only the calls in flight were lost

    manager = _manager(tenant)
    result = fan_out(functools.partial(fetch, manager.create_cspm_session()), range(items),
                     workers=workers, checkpoint=path, job="items")
    manager.close()
    after = calls_per_item(tenant)
    assert result.results == [{"item": i} for i in range(items)]
    assert result.resumed == len(recorded)
    assert all(after[i] == 1 for i in recorded)  # no recorded item called again
    assert all(after[i] == before.get(i, 0) + 1 for i in range(items) if i not in recorded)
    assert _recorded(path) == set(range(items))


def test_ctrl_c_stops_a_child_at_once_and_keeps_what_is_done(tenant, tmp_path):
    tenant.configure(latency=0.04)
    items, workers = 400, 4
    add_items(tenant, items)
    path = tmp_path / "job.db"
    proc = _start_child(tenant, path, items, workers)
    try:
        _wait_for_progress(proc, 12)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["interrupted"] and report["failed"] == 0
    assert report["unfinished"] == items - report["succeeded"] > 0
    recorded = _recorded(path)
    assert set(report["done"]) <= recorded  # every success is in the checkpoint
    time.sleep(0.3)  # calls abandoned in flight reach the tenant
    called = calls_per_item(tenant)
    # nothing started after Ctrl-C: at most the calls in flight then went past
    # what was done
    assert len(called) <= len(recorded) + workers < items
