"""Managers across process boundaries: pickled without tokens, sockets or
locks; copies log in on first use, once per process; errors pickle too."""

from __future__ import annotations

import multiprocessing
import os
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

from pcpi import CNASession, CSPMSession, CWPSession, SaaSCWPSession, _manager_options
from pcpi.onprem_session_manager import CWPSessionManager
from pcpi.saas_session_manager import SaaSSessionManager


def _saas(tenant, **options) -> SaaSSessionManager:
    # the loopback URL: a spawned worker does not resolve the fake SaaS host name
    return SaaSSessionManager("fake", tenant.access_key, tenant.secret_key, tenant.url,
                              verify=tenant.ca_path, **options)


def test_a_pickled_manager_carries_settings_and_credentials_but_no_token(tenant):
    m = _saas(tenant, timeout=(3, 30), retries=7, pacing=False)
    cspm = m.create_cspm_session()
    data = pickle.dumps(m)
    assert cspm.token.encode() not in data
    assert tenant.secret_key.encode() in data  # the credentials go along (keep pickles private)
    copy = pickle.loads(data)
    assert copy is not m and copy.transport is not m.transport
    assert (copy.tenant, copy.a_key, copy.s_key, copy.api_url, copy.verify) == \
        (m.tenant, m.a_key, m.s_key, m.api_url, m.verify)
    assert repr(copy.s_key) == "'<redacted>'"
    assert copy.transport.timeout == m.transport.timeout and copy.transport.pacer is None
    assert copy.retries == 7
    logins = tenant.stats()["logins"]
    assert "cspm_session" not in vars(copy)  # not logged in yet
    assert tenant.stats()["logins"] == logins
    assert copy.cspm_session.request("GET", "/cloud").status_code == 200  # first use: login
    assert copy.cspm_session.retries == 7
    assert tenant.stats()["logins"] == logins + 1
    m.close()


def test_copies_unpickled_in_one_process_are_one_manager(tenant):
    m = _saas(tenant)
    m.create_cspm_session()
    data = pickle.dumps(m)
    first, second = pickle.loads(data), pickle.loads(data)
    assert first is second
    logins = tenant.stats()["logins"]
    for copy in (first, second, pickle.loads(data)):
        assert copy.cspm_session.request("GET", "/cloud").status_code == 200
    assert tenant.stats()["logins"] == logins + 1  # one login for every task of a worker
    other = _saas(tenant, retries=3)  # other settings: another copy
    assert pickle.loads(pickle.dumps(other)) is not first
    m.close()
    other.close()


def test_the_copies_kept_per_process_are_bounded(tenant):
    most = _manager_options.MAX_RESTORED
    managers = [_saas(tenant, retries=n) for n in range(most + 1)]  # as many settings
    copies = [pickle.loads(pickle.dumps(m)) for m in managers]
    assert pickle.loads(pickle.dumps(managers[most])) is copies[most]  # the newest: kept
    assert pickle.loads(pickle.dumps(managers[1])) is copies[1]  # the oldest of those kept
    assert pickle.loads(pickle.dumps(managers[0])) is not copies[0]  # one more: forgotten
    for m in managers + copies:
        m.close()


def test_a_manager_without_sessions_stays_without_them(tenant):
    m = _saas(tenant)
    copy = pickle.loads(pickle.dumps(m))
    assert copy.cspm_session == {} and copy.cna_session == {}
    with pytest.raises(AttributeError):
        copy.no_such_attribute  # noqa: B018
    m.close()


def test_a_self_hosted_manager_pickles_with_its_project(tenant):
    m = CWPSessionManager("project-a", tenant.compute_url, tenant.username, tenant.password,
                          tenant.ca_path, None, True)
    m.create_cwp_session()
    copy = pickle.loads(pickle.dumps(m))
    assert (copy.project_flag, copy.uname, copy.passwd) == (True, m.uname, m.passwd)
    assert copy.cwp_session.request("GET", "/api/v1/images").status_code == 200
    m.close()


def test_a_manager_unpickled_and_pickled_again_before_use_keeps_its_sessions(tenant):
    # Dask unpickles a task's arguments in its scheduler and pickles them again
    # for a worker: the copy of a copy must still have its sessions
    m = _saas(tenant)
    m.create_cspm_session()
    m.create_cwp_session()
    copy = m
    for _ in range(4):
        copy = pickle.loads(pickle.dumps(copy))
    assert "cspm_session" not in vars(copy)  # not logged in by the round trips
    assert copy.cspm_session.request("GET", "/cloud").status_code == 200
    assert copy.saas_cwp_session.request("GET", "/api/v1/images").status_code == 200
    assert copy.cna_session == {}  # the original had none
    m.close()


def test_a_copy_unpickled_first_without_sessions_creates_them_when_a_later_pickle_has_them(
        tenant):
    m = _saas(tenant)
    bare = pickle.loads(pickle.dumps(m))  # pickled before any session existed
    assert bare.cspm_session == {}
    m.create_cspm_session()
    copy = pickle.loads(pickle.dumps(m))
    assert copy is bare  # one manager per settings in a process
    assert copy.cspm_session.request("GET", "/cloud").status_code == 200
    m.close()


def test_a_session_pickles_as_its_managers_session_without_logging_in(tenant):
    m = _saas(tenant)
    cspm = m.create_cspm_session()
    cwp = m.create_cwp_session()
    data = pickle.dumps(cspm)
    assert cspm.token.encode() not in data and cwp.token.encode() not in pickle.dumps(cwp)
    logins = tenant.stats()["logins"]
    copy = cspm
    for _ in range(3):
        copy = pickle.loads(pickle.dumps(copy))
    assert tenant.stats()["logins"] == logins  # unpickling never logs in
    assert isinstance(copy, CSPMSession) and copy is not cspm
    assert copy.request("GET", "/cloud").status_code == 200  # first use: one login
    assert tenant.stats()["logins"] == logins + 1
    assert copy.token and copy.token != cspm.token and copy.tenant == "fake"
    copy.retry_timer_max = 4  # attributes are the session's, set and read
    real = pickle.loads(pickle.dumps(m)).cspm_session
    assert real.retry_timer_max == 4 and "retry_timer_max" not in vars(copy)
    copy.custom = 1
    del copy.custom
    assert not hasattr(real, "custom")
    # the Compute session of the same copy of the manager, with its own login
    cwp_copy = pickle.loads(pickle.dumps(cwp))
    assert isinstance(cwp_copy, SaaSCWPSession)
    assert cwp_copy.request("GET", "/api/v1/images").status_code == 200
    assert tenant.stats()["logins"] == logins + 1  # the copy's CSPM token, not a new login
    m.close()


def test_a_session_created_directly_pickles_as_an_equivalent_managers(tenant):
    cspm = CSPMSession("fake", tenant.access_key, tenant.secret_key, tenant.url,
                       tenant.ca_path, None, None, retries=6)
    cna = CNASession("fake", tenant.access_key, tenant.secret_key, tenant.url, tenant.ca_path,
                     None, None, cspm_session=cspm)
    cwp = CWPSession("project-a", tenant.compute_url, tenant.username, tenant.password,
                     tenant.ca_path, None, True, None)
    for session in (cspm, cna, cwp):
        data = pickle.dumps(session)
        assert session.token.encode() not in data
        copy = pickle.loads(pickle.dumps(pickle.loads(data)))
        assert type(copy).__mro__[1] is type(session)
        assert (copy.tenant, copy.api_url, copy.verify) == \
            (session.tenant, session.api_url, session.verify)
    copy = pickle.loads(pickle.dumps(cspm))
    assert copy.request("GET", "/cloud").status_code == 200 and copy.retries == 6
    assert pickle.loads(pickle.dumps(cwp)).request(
        "GET", "/api/v1/images").status_code == 200
    assert pickle.loads(pickle.dumps(cna)).request("GET", "/namespaces").status_code == 200
    for session in (cspm, cwp):
        session.transport.close()


def test_a_subclass_of_a_session_is_not_pickled_and_says_what_to_do(tenant):
    class Mine(CSPMSession):
        pass

    mine = Mine("fake", tenant.access_key, tenant.secret_key, tenant.url, tenant.ca_path, None,
                None)
    with pytest.raises(TypeError, match="pickle the session manager instead"):
        pickle.dumps(mine)
    mine.transport.close()


def _task(manager, n):
    res = manager.cspm_session.request("GET", "/cloud")
    return os.getpid(), res.status_code, n


def test_a_manager_fans_out_over_spawned_worker_processes(tenant):
    m = _saas(tenant)
    m.create_cspm_session()
    tenant.reset_stats()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        results = list(pool.map(_task, [m] * 20, range(20)))
    assert sorted(n for _pid, _status, n in results) == list(range(20))
    assert {status for _pid, status, _n in results} == {200}
    workers = {pid for pid, _status, _n in results}
    assert os.getpid() not in workers
    assert tenant.stats()["logins"] == len(workers)  # once per worker, not per task
    m.close()
