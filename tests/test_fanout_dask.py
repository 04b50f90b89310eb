"""pcpi.fan_out on a Dask cluster: a LocalCluster of two worker processes,
started once for this module.  Dask unpickles a task's arguments in its
scheduler and pickles them again for a worker, so this is the round trip the
sessions and managers must survive.  dask[distributed] is in the dev extra: if
it is missing, these tests fail (they are not skipped)."""

from __future__ import annotations

import functools
import logging

import dask
import pytest
from distributed import Client, LocalCluster

from pcpi import fan_out
from pcpi.saas_session_manager import SaaSSessionManager

from ._fanout_items import add_items, calls_per_item, fetch, fetch_via_manager

# The suite shares two cores with timing-sensitive tests (pacing): no sampling
# profiler in the workers (a thread waking every 10 ms in each), no dashboards.
_QUIET = {"distributed.worker.profile.enabled": False,
          "distributed.admin.system-monitor.interval": "2s"}


@pytest.fixture(scope="module")
def dask_client():
    logging.getLogger("distributed").setLevel(logging.ERROR)
    with dask.config.set(_QUIET), \
            LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                         dashboard_address=None, worker_dashboard_address=None,
                         silence_logs=logging.ERROR) as cluster, \
            Client(cluster, timeout=60) as client:
        yield client


def _manager(tenant) -> SaaSSessionManager:
    return SaaSSessionManager("fake", tenant.access_key, tenant.secret_key, tenant.url,
                              verify=tenant.ca_path)


def test_a_dask_cluster_runs_a_fan_out_of_session_tasks(tenant, dask_client):
    add_items(tenant, 40)
    tenant.fail_next(404, path="/items/9")
    manager = _manager(tenant)
    session = manager.create_cspm_session()
    tenant.reset_stats()
    result = fan_out(functools.partial(fetch, session), range(40), workers=4,
                     executor=dask_client.get_executor())
    assert result.results == [None if i == 9 else {"item": i} for i in range(40)]
    [(item, exc)] = result.failures
    assert item == 9 and "404" in str(exc)
    assert all(n == 1 for n in calls_per_item(tenant).values())
    stats = tenant.stats()
    assert 1 <= stats["logins"] <= 2  # one per worker process that ran a task
    assert stats["max_requests_in_flight"] <= 4
    manager.close()


def test_a_dask_cluster_takes_a_manager_and_retries(tenant, dask_client):
    add_items(tenant, 20)
    tenant.fail_next(503, count=30, path="/items/4")  # beyond the retries of one call...
    manager = SaaSSessionManager("fake", tenant.access_key, tenant.secret_key, tenant.url,
                                 verify=tenant.ca_path, retries=0)
    manager.create_cspm_session()
    result = fan_out(functools.partial(fetch_via_manager, manager), range(20), workers=4,
                     executor=dask_client.get_executor(), retries=1)
    assert result.failed == 1 and result.rounds == 2  # ...and of the second round
    assert calls_per_item(tenant)[4] == 2
    tenant.clear_faults()
    again = fan_out(functools.partial(fetch_via_manager, manager), [4], workers=1,
                    executor=dask_client.get_executor())
    assert again.results == [{"item": 4}]
    manager.close()
