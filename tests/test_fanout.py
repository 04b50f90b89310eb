"""pcpi.fan_out over real sockets against the fake tenant, on threads: order and
failures (injected 4xx/5xx, pcpi's own errors), the in-flight bound, retry
rounds, progress, the checkpoint (what it holds, resuming, other jobs)."""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from pcpi import fan_out
from pcpi.errors import AuthorizationError, PcpiError

from ._fakes import quiet_policy
from ._fanout_items import add_items, calls_per_item, fetch
from .conftest import saas_manager


@pytest.fixture
def cspm(tenant):
    manager = saas_manager(tenant, retries=1)
    session = manager.create_cspm_session()
    yield session
    manager.close()


def test_results_come_in_input_order_with_each_failure_kept_with_its_item(tenant, cspm):
    add_items(tenant, 40)
    tenant.fail_next(404, path="/items/5")
    tenant.fail_next(503, count=2, path="/items/7")  # one resend allowed (retries=1)
    tenant.fail_next(401, count=2, path="/items/9")  # a valid token refused: AuthorizationError
    tenant.fail_next(500, count=1, path="/items/11")  # resent by pcpi, then fine

    def task(item):
        if item == 13:
            raise ValueError("not this one")
        return fetch(cspm, item)

    result = fan_out(task, range(40), workers=8)
    failed = {5, 7, 9, 13}
    assert result.results == [None if i in failed else {"item": i} for i in range(40)]
    assert [item for item, _exc in result.failures] == sorted(failed)
    errors = dict(result.failures)
    assert isinstance(errors[5], requests.HTTPError) and \
        errors[5].response.status_code == 404
    assert errors[7].response.status_code == 503
    assert isinstance(errors[9], AuthorizationError) and isinstance(errors[9], SystemExit)
    assert isinstance(errors[13], ValueError)
    assert (result.succeeded, result.failed) == (36, 4)
    assert calls_per_item(tenant)[11] == 2  # pcpi's own resend, inside one fan_out call


@pytest.mark.parametrize("executor", [None, "thread pool of 16"])
def test_never_more_calls_in_flight_than_workers(tenant, cspm, executor):
    tenant.configure(latency=0.03)
    add_items(tenant, 48)
    tenant.reset_stats()
    with ThreadPoolExecutor(16) as pool:
        result = fan_out(functools.partial(fetch, cspm), range(48), workers=4,
                         executor=pool if executor else None)
    assert result.succeeded == 48
    peak = tenant.stats()["max_requests_in_flight"]
    assert 2 <= peak <= 4  # concurrent, and never more than workers


def test_failed_items_are_tried_again_in_later_rounds(tenant, cspm):
    add_items(tenant, 10)
    tenant.fail_next(404, count=2, path="/items/3")  # fails twice, then answers
    tenant.fail_next(404, count=5, path="/items/6")  # fails every round
    result = fan_out(functools.partial(fetch, cspm), range(10), workers=4, retries=2)
    assert result.results[3] == {"item": 3} and result.results[6] is None
    assert [item for item, _exc in result.failures] == [6]
    assert result.rounds == 3
    calls = calls_per_item(tenant)
    assert (calls[3], calls[6]) == (3, 3)
    assert all(calls[i] == 1 for i in range(10) if i not in (3, 6))


def test_progress_reaches_a_function_with_done_total_and_failed(tenant, cspm):
    add_items(tenant, 30)
    tenant.fail_next(404, count=2, path="/items/4")
    seen = []
    result = fan_out(functools.partial(fetch, cspm), range(30), workers=5, retries=1,
                     progress=lambda done, total, failed: seen.append((done, total, failed)))
    assert result.succeeded == 29
    assert seen[0] == (0, 30, 0) and seen[-1] == (30, 30, 1)
    assert all(total == 30 for _d, total, _f in seen)
    assert [d for d, _t, _f in seen] == sorted(d for d, _t, _f in seen)  # never back
    assert max(f for _d, _t, f in seen) == 1


def test_the_progress_bar_is_drawn_on_stderr_only(tenant, cspm, capsys):
    add_items(tenant, 20)
    tenant.fail_next(404, path="/items/2")
    result = fan_out(functools.partial(fetch, cspm), range(20), workers=5, progress=True)
    out, err = capsys.readouterr()
    assert result.failed == 1
    assert out == ""
    assert "fan_out" in err and "20/20" in err and "failed=1" in err and "item/s" in err


def test_a_checkpointed_job_resumes_without_calling_recorded_items(tenant, cspm, tmp_path):
    add_items(tenant, 30)
    tenant.fail_next(404, count=1, path="/items/8")
    path = tmp_path / "job.db"
    task = functools.partial(fetch, cspm)
    first = fan_out(task, range(30), workers=6, checkpoint=path)
    assert first.failed == 1
    second = fan_out(task, range(30), workers=6, checkpoint=path)
    assert (second.resumed, second.succeeded, second.failed) == (29, 30, 0)
    assert second.results == [{"item": i} for i in range(30)]
    calls = calls_per_item(tenant)
    assert calls[8] == 2 and all(calls[i] == 1 for i in range(30) if i != 8)


def test_a_checkpoint_holds_results_and_no_secret(tenant, cspm, tmp_path):
    add_items(tenant, 12)
    path = tmp_path / "job.db"
    result = fan_out(functools.partial(fetch, cspm), range(12), checkpoint=path)
    assert result.succeeded == 12
    with sqlite3.connect(path) as db:
        rows = dict(db.execute("SELECT key, result FROM results"))
        job = dict(db.execute("SELECT name, value FROM pcpi_fan_out"))["job"]
    db.close()
    assert rows == {str(i): f'{{"item":{i}}}' for i in range(12)}
    assert "tenant='fake'" in job and tenant.saas_url in job  # the tenant, not its keys
    written = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in tenant.issued_secrets():
        assert secret.encode() not in written
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_checkpoint_for_another_tenant_is_refused(tenant, cspm, tmp_path):
    add_items(tenant, 3)
    path = tmp_path / "job.db"
    fan_out(functools.partial(fetch, cspm), range(3), checkpoint=path)
    other = saas_manager(tenant)
    other.tenant = "staging"  # (another tenant's session, as far as the job can tell)
    staging = other.create_cspm_session()
    with pytest.raises(ValueError, match="written for another job"):
        fan_out(functools.partial(fetch, staging), range(3), checkpoint=path)
    other.close()


def test_pcpi_errors_ending_every_call_are_kept_not_raised(tenant, tmp_path):
    manager = saas_manager(tenant, retry_policy=quiet_policy())
    cspm = manager.create_cspm_session()
    add_items(tenant, 6)
    tenant.fail_next(401, count=50, path="/items/*")  # every call refused: AuthorizationError
    result = fan_out(functools.partial(fetch, cspm), range(6), workers=2)
    assert result.failed == 6 and result.succeeded == 0
    assert all(isinstance(exc, PcpiError) for _item, exc in result.failures)
    manager.close()


def test_a_fan_out_from_many_threads_at_once_keeps_each_jobs_results(tenant, cspm):
    add_items(tenant, 20)
    outcomes = {}

    def job(offset):
        outcomes[offset] = fan_out(lambda i: fetch(cspm, (i + offset) % 20)["item"],
                                   range(20), workers=3).results

    threads = [threading.Thread(target=job, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes == {k: [(i + k) % 20 for i in range(20)] for k in range(3)}
