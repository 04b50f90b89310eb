"""pcpi's client behaviour, proven over real sockets against the fake tenant."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from pcpi.errors import AuthorizationError, CredentialsRejectedError, PcpiError
from pcpi.onprem_session_manager import CWPSessionManager
from pcpi.testing import FakeTenant

from ._fakes import Sleeps, names, quiet_policy
from .conftest import saas_manager


@pytest.fixture
def manager(tenant):
    m = saas_manager(tenant)
    yield m
    m.close()


@pytest.fixture
def cspm(manager):
    return manager.create_cspm_session()


def sleeps_of(obj) -> Sleeps:
    """The recording sleep of a session's or manager's retry policy."""
    return obj.retry_policy.sleep


# ------------------------------------------------------------------ 1.0.1 recovery cases
def test_assigning_stale_headers_is_recovered_on_the_next_call(tenant, cspm):
    old_token = cspm.token
    tenant.expire_tokens()
    cspm.headers = {"content-type": "application/json; charset=UTF-8",
                    "x-redlock-auth": old_token}
    res = cspm.request("GET", "/cloud")
    assert res.status_code == 200
    assert cspm.token != old_token
    assert cspm.headers["x-redlock-auth"] == cspm.token
    assert tenant.stats()["logins"] == 2


def test_bad_cwp_cspm_token_is_recovered_on_the_next_call(tenant, manager):
    cwp = manager.create_cwp_session()
    cwp.cspm_token = "not-a-token"
    cwp.headers = {"content-type": "application/json; charset=UTF-8",
                   "Authorization": "Bearer stale"}
    res = cwp.request("GET", "/api/v1/hosts")
    assert res.status_code == 200  # resent with the session's current (valid) token
    st = tenant.stats()
    assert st["compute_logins"] == 1 and st["logins"] == 1  # no login was needed for that
    cwp.authenticator.login()  # the next Compute login meets the bad CSPM token: repaired
    assert cwp.cspm_token == manager.cspm_session.token
    st = tenant.stats()
    assert st["compute_logins"] == 2 and st["logins"] == 1  # refused once, then accepted


def test_cwp_recovers_when_the_cspm_token_expired_too(tenant, manager):
    cwp = manager.create_cwp_session()
    tenant.expire_tokens()
    assert cwp.request("GET", "/api/v1/hosts").status_code == 200
    st = tenant.stats()
    assert st["logins"] == 2 and st["compute_logins"] == 2


def test_cna_session_recovers_from_expiry(tenant, manager):
    cna = manager.create_cna_session()
    tenant.expire_tokens()
    assert cna.request("GET", "/namespaces").status_code == 200
    assert tenant.stats()["cna_logins"] == 2


def test_self_hosted_project_flag_adds_project_and_keeps_params(tenant):
    m = CWPSessionManager("project-a", tenant.compute_url, tenant.username, tenant.password,
                          verify=tenant.ca_path, project_flag=True)
    cwp = m.create_cwp_session()
    params = {"limit": 5}
    res = cwp.request("GET", "/api/v1/images", params=params)
    assert res.status_code == 200 and res.json()[0]["project"] == "project-a"
    assert len(res.json()) == 5
    assert params == {"limit": 5}
    tenant.expire_tokens()
    assert cwp.request("GET", "api/v1/images").status_code == 200


def test_self_hosted_wrong_project_is_a_fatal_repeat_401(tenant):
    m = CWPSessionManager("no-such-project", tenant.compute_url, tenant.username,
                          tenant.password, verify=tenant.ca_path, project_flag=True)
    cwp = m.create_cwp_session()
    with pytest.raises(AuthorizationError) as info:
        cwp.request("GET", "/api/v1/images")
    names(info.value, "/api/v1/images", "'no-such-project'")  # the call, the project to check


# ------------------------------------------------------------------ fan-out
def test_150_threads_share_one_session_one_login_and_the_pool(tenant, cspm):
    tenant.configure(latency=0.01)
    tenant.reset_stats()
    ids = [f"{100000000000 + i % 50}" for i in range(300)]
    with ThreadPoolExecutor(150) as pool:
        results = list(pool.map(lambda a: cspm.request("GET", f"/cloud/{a}"), ids))
    assert all(r.status_code == 200 for r in results)
    assert [r.json()["accountId"] for r in results] == ids
    st = tenant.stats()
    assert st["logins"] == 0 and st["extends"] == 0
    assert st["connections_accepted"] <= 150
    assert st["requests"] == 300


def test_a_token_expiring_mid_fan_out_costs_one_login(tenant, cspm):
    tenant.configure(latency=0.01)
    tenant.reset_stats()
    done = []

    def call(i):
        if i == 100:
            tenant.expire_tokens()
        res = cspm.request("GET", "/cloud")
        done.append(res.status_code)
        return res.status_code

    with ThreadPoolExecutor(150) as pool:
        codes = list(pool.map(call, range(300)))
    assert codes == [200] * 300
    st = tenant.stats()
    assert st["logins"] == 1, st
    assert st["responses_by_status"].get("401", 0) >= 1


def test_proactive_refresh_is_single_flight(tenant, cspm):
    tenant.configure(latency=0.005)
    cspm.token_time = 0.2
    tenant.reset_stats()
    t0 = time.monotonic()
    deadline = t0 + 0.8

    def worker(_):
        n = 0
        while time.monotonic() < deadline and n < 500:
            assert cspm.request("GET", "/license").status_code == 200
            n += 1
        return n

    with ThreadPoolExecutor(50) as pool:
        calls = sum(pool.map(worker, range(50)))
    elapsed = time.monotonic() - t0
    st = tenant.stats()
    assert calls > 100
    # one extend per token life for all 50 threads (not one each); +2 for a
    # refresh in flight at either end when a loaded machine stretches the run
    assert 1 <= st["extends"] <= elapsed / 0.2 + 2, (st, elapsed)
    assert st["logins"] == 0


def test_fan_out_with_csv_and_json_mixed_never_crosses(tenant, cspm):
    def call(i):
        csv = i % 2 == 0
        res = cspm.request("GET", "/cloud", acceptCsv=csv)
        return csv, res.headers["Content-Type"]

    with ThreadPoolExecutor(40) as pool:
        for csv, ctype in pool.map(call, range(200)):
            assert ctype.startswith("text/csv" if csv else "application/json")
    assert "Accept" not in cspm.headers


def test_accept_csv_does_not_leak_into_later_calls(cspm):
    assert cspm.request("GET", "/cloud", acceptCsv=True).text.startswith("accountId,")
    assert isinstance(cspm.request("GET", "/cloud").json(), list)


# ------------------------------------------------------------------ backoff
@pytest.fixture
def unpaced(tenant):
    """A CSPM session with pacing off: its sleeps are the backoff's alone (pacing
    on a bare 429 adds its own short waits; tests/test_pacing.py covers those)."""
    m = saas_manager(tenant, pacing=False)
    yield m.create_cspm_session()
    m.close()


def test_429_burst_then_recovery_resets_the_backoff(tenant, unpaced):
    cspm = unpaced
    sleeps = sleeps_of(cspm)
    tenant.fail_next(429, 4, path="/cloud")
    assert cspm.request("GET", "/cloud").status_code == 200
    assert sleeps == [1.0, 2.0, 4.0, 8.0]
    assert cspm.retry_timer == 0
    sleeps.clear()
    tenant.fail_next(429, 1, path="/cloud")
    assert cspm.request("GET", "/cloud").status_code == 200
    assert sleeps == [1.0]  # the initial delay again, not 16 or 32


def test_backoff_is_capped_by_retry_timer_max(tenant, cspm):
    sleeps = sleeps_of(cspm)
    cspm.retry_timer_max = 1
    tenant.fail_next(503, 5, path="/cloud")
    assert cspm.request("GET", "/cloud").status_code == 200
    assert sleeps == [0.25, 0.5, 1.0, 1.0, 1.0]


def test_retry_after_is_honoured(tenant, unpaced):
    cspm = unpaced
    sleeps = sleeps_of(cspm)
    tenant.fail_next(429, 1, path="/cloud", headers={"Retry-After": "7"})
    assert cspm.request("GET", "/cloud").status_code == 200
    assert sleeps == [7.0]


def test_5xx_then_success(tenant, cspm):
    sleeps = sleeps_of(cspm)
    tenant.fail_next(500, 1, path="/cloud")
    tenant.fail_next(502, 1, path="/cloud")
    tenant.fail_next(504, 1, path="/cloud")
    assert cspm.request("GET", "/cloud").status_code == 200
    assert sleeps == [0.25, 0.5, 1.0]  # server errors start at 0.25 s, 429s at 1 s
    assert cspm.retry_timer == 0


@pytest.mark.contract  # a 1.0.1 log line
def test_retries_exhausted_returns_the_last_response(tenant, cspm, caplog):
    cspm.retries = 2
    tenant.fail_next(503, 5, path="/cloud")
    res = cspm.request("GET", "/cloud")
    assert res.status_code == 503
    assert sleeps_of(cspm) == [0.25, 0.5]
    assert "Max retries exceeded" in caplog.text


def test_login_backs_off_on_429(tenant):
    tenant.fail_next(429, 2, path="/login")
    m = saas_manager(tenant, pacing=False)
    cspm = m.create_cspm_session()
    assert cspm.token
    assert sleeps_of(cspm) == [1.0, 2.0]
    assert tenant.stats()["logins"] == 1


def test_login_retries_exhausted_is_a_named_error(tenant):
    from pcpi.errors import LoginError

    tenant.fail_next(503, 10, path="/login")
    m = saas_manager(tenant, retries=3)
    with pytest.raises(LoginError, match="503"):
        m.create_cspm_session()


def test_status_ignore_and_non_retryable_statuses_return_at_once(tenant, cspm):
    tenant.fail_next(429, 1, path="/cloud")
    assert cspm.request("GET", "/cloud", status_ignore=[429]).status_code == 429
    assert sleeps_of(cspm) == []
    tenant.fail_next(403, 1, path="/cloud")
    assert cspm.request("GET", "/cloud").status_code == 403


@pytest.mark.contract  # a 1.0.1 log line
def test_redlock_ignore_returns_quietly(tenant, cspm, caplog):
    tenant.fail_next(400, 1, path="/cloud", headers={"x-redlock-status": "[\"dup_entry\"]"})
    res = cspm.request("GET", "/cloud", redlock_ignore=["dup_entry"])
    assert res.status_code == 400
    assert "FAILED 400" not in caplog.text


# ------------------------------------------------------------------ 401s
def test_second_401_for_the_same_call_is_fatal(tenant, cspm):
    tenant.fail_next(401, 2, path="/cloud")
    with pytest.raises(AuthorizationError) as info:
        cspm.request("GET", "/cloud")
    assert isinstance(info.value, SystemExit) and isinstance(info.value, PcpiError)
    assert "permission" in str(info.value)
    st = tenant.stats()  # the first 401 asked the tenant (an extend): alive; the second
    assert st["logins"] == 1 and st["extends"] == 1, st  # refused the token it gave


def test_one_401_costs_one_question_to_the_tenant(tenant, cspm):
    tenant.fail_next(401, 1, path="/cloud")
    assert cspm.request("GET", "/cloud").status_code == 200
    st = tenant.stats()  # the token lived (the extend said so): no login, one resend
    assert st["logins"] == 1 and st["extends"] == 1, st


def test_bad_credentials_fail_after_one_attempt(tenant):
    from pcpi.saas_session_manager import SaaSSessionManager

    m = SaaSSessionManager("t", tenant.access_key, "wrong-secret", tenant.saas_url,
                           verify=tenant.ca_path)
    with pytest.raises(CredentialsRejectedError) as info:
        m.create_cspm_session()
    assert tenant.access_key in str(info.value)
    assert "wrong-secret" not in str(info.value)
    assert tenant.stats()["login_failures"] == 1


# ------------------------------------------------------------------ RQL search helpers
def test_config_search_merges_pages_and_keeps_the_payload():
    with FakeTenant(search_items=4321, search_page_size=1000) as tenant:
        cspm = saas_manager(tenant).create_cspm_session()
        payload = {"query": "config from cloud.resource where cloud.type = 'aws'"}
        before = dict(payload)
        out = cspm.config_search_request(payload)
        assert payload == before
        items = out["data"]["items"]
        assert len(items) == len({i["id"] for i in items}) == 4321
        assert out["data"]["totalRows"] == 4321
        assert out["query"] == payload["query"]
        # the merged data is the first page's (as 1.0.1 returns it): its nextPageToken
        # is still the one pointing at the second page (offset 1000 in the fake tenant)
        import base64
        import json

        state = json.loads(base64.urlsafe_b64decode(out["data"]["nextPageToken"].encode()))
        assert (state["q"], state["o"]) == (payload["query"], 1000)


def test_config_search_function_calls_back_per_page():
    with FakeTenant(search_items=2500, search_page_size=1000) as tenant:
        cspm = saas_manager(tenant).create_cspm_session()
        payload = {"query": "config from cloud.resource"}
        calls = []

        def on_page(details, data, counter, total_rows):
            calls.append((counter, len(data["items"]), total_rows, "data" in details))

        total = cspm.config_search_request_function(payload, on_page)
        assert total == 2500
        assert calls == [(0, 1000, 1000, False), (1, 1000, 2000, False),
                         (2, 500, 2500, False)]
        assert payload == {"query": "config from cloud.resource"}


# ------------------------------------------------------------------ connections, timeouts
def test_connection_refused_raises_after_bounded_retries(tenant):
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cspm = saas_manager(tenant).create_cspm_session()
    cspm.api_url = f"https://127.0.0.1:{port}"
    with pytest.raises(requests.exceptions.ConnectionError) as info:
        cspm.request("GET", "/cloud")
    assert f"127.0.0.1', port={port}" in str(info.value) or str(port) in str(info.value)
    assert tenant.secret_key not in str(info.value)
    assert sleeps_of(cspm) == [0.5, 1.0, 2.0]


def test_read_timeout_retries_a_get_then_raises(tenant):
    from pcpi import Backoff

    policy = quiet_policy(connection_retries=1,
                          connection_backoff=Backoff(initial=0.01, jitter=0.0))
    cspm = saas_manager(tenant, retry_policy=policy, timeout=(2, 0.3)).create_cspm_session()
    tenant.stall_next(10, 2, path="/cloud")
    t0 = time.perf_counter()
    with pytest.raises(requests.exceptions.ReadTimeout):
        cspm.request("GET", "/cloud")
    # two attempts of 0.3 s (and the login), never the 10 s stall; the bound is far
    # from 0.6 s because a loaded CI machine took 1.8 s here
    assert time.perf_counter() - t0 < 5.0
    assert tenant.stats()["requests_by_endpoint"]["GET /cloud"] == 2


def test_per_call_timeout_overrides_the_default(tenant):
    m = saas_manager(tenant, timeout=(2, 0.2),
                     retry_policy=quiet_policy(connection_retries=0))
    cspm = m.create_cspm_session()
    tenant.stall_next(0.5, 1, path="/cloud")
    with pytest.raises(requests.exceptions.ReadTimeout):  # the default holds without one
        cspm.request("GET", "/cloud")
    tenant.stall_next(0.5, 1, path="/cloud")
    assert cspm.request("GET", "/cloud", timeout=2).status_code == 200  # longer: it waits
    tenant.stall_next(0.5, 1, path="/cloud")
    with pytest.raises(requests.exceptions.ReadTimeout):  # and a shorter one is kept too
        cspm.request("GET", "/cloud", timeout=(2, 0.1), params={"shorter": 1})
    m.close()


def test_a_timed_out_post_is_not_resent(tenant, cspm):
    tenant.stall_next(1.0, 1, path="/v2/thing")
    tenant.add_route("POST", "/v2/thing", status=201, json={"ok": True})
    with pytest.raises(requests.exceptions.ReadTimeout):
        cspm.request("POST", "/v2/thing", json={"a": 1}, timeout=(2, 0.2))
    assert tenant.stats()["requests_by_endpoint"]["POST /v2/thing"] == 1


# ------------------------------------------------------------------ verify and proxies
def test_explicit_verify_wins_over_requests_ca_bundle(tenant, monkeypatch):
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # does not hold the tenant CA
    m = saas_manager(tenant)
    assert m.create_cspm_session().request("GET", "/cloud").status_code == 200


def test_verify_true_uses_requests_ca_bundle_like_requests(tenant, monkeypatch):
    from pcpi.saas_session_manager import SaaSSessionManager

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tenant.ca_path)
    m = SaaSSessionManager("t", tenant.access_key, tenant.secret_key, tenant.saas_url)
    assert m.create_cspm_session().request("GET", "/cloud").status_code == 200


def test_wrong_ca_fails_once_with_a_certificate_error(tenant):
    import certifi

    from pcpi.saas_session_manager import SaaSSessionManager

    m = SaaSSessionManager("t", tenant.access_key, tenant.secret_key, tenant.saas_url,
                           verify=certifi.where(), retry_policy=quiet_policy())
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        m.create_cspm_session()
    st = tenant.stats()
    assert st["connections_accepted"] == 1  # one attempt, not 20
    assert st["requests"] == 0
    assert sleeps_of(m) == []


def test_per_call_verify_false_and_proxies(tenant, cspm):
    from urllib3.exceptions import InsecureRequestWarning

    with pytest.warns(InsecureRequestWarning):  # urllib3's warning still reaches the user
        assert cspm.request("GET", "/cloud", verify=False).status_code == 200
    with pytest.raises(requests.exceptions.ProxyError):
        cspm.request("GET", "/cloud", proxies={"https": "http://127.0.0.1:9"})


# ------------------------------------------------------------------ fork
def _child_calls(manager, queue):
    try:
        cspm = manager.cspm_session
        codes = [cspm.request("GET", "/cloud").status_code for _ in range(5)]
        queue.put(("ok", codes, id(manager.transport.session)))
    except BaseException as exc:  # report, do not hang the parent
        queue.put(("error", repr(exc), None))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_opens_its_own_connections(tenant, manager):
    cspm = manager.create_cspm_session()
    assert cspm.request("GET", "/cloud").status_code == 200
    parent_session = id(manager.transport.session)
    before = tenant.stats()["connections_accepted"]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child_calls, args=(manager, queue))
    proc.start()
    status, codes, child_session = queue.get(timeout=60)
    proc.join(30)
    assert status == "ok", codes
    assert codes == [200] * 5
    assert tenant.stats()["connections_accepted"] >= before + 1
    assert child_session != parent_session
    # the parent's own pooled connection was not disturbed by the child
    assert cspm.request("GET", "/cloud").status_code == 200


# ------------------------------------------------------------------ requests and logging
def test_method_and_path_handling(cspm):
    assert cspm.request("get", "cloud").status_code == 200
    with pytest.raises(ValueError, match="invalid HTTP method"):
        cspm.request("FETCH", "/cloud")
    with pytest.raises(ValueError, match="non-empty path"):
        cspm.request("GET", "")


@pytest.mark.contract  # a 1.0.1 log line
def test_success_lines_go_to_a_stdlib_logger(tenant):
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger = logging.getLogger("pcpi-test-client")
    logger.setLevel(logging.INFO)
    logger.addHandler(Keep())
    from pcpi.saas_session_manager import SaaSSessionManager

    m = SaaSSessionManager("t", tenant.access_key, tenant.secret_key, tenant.saas_url,
                           verify=tenant.ca_path, logger=logger)
    m.create_cspm_session().request("GET", "/cloud", custom_log="listing accounts")
    # 1.0.1's shape, then which call it was
    assert any(r.startswith("SUCCESS - ") and r.endswith(
        f" seconds - listing accounts - GET {tenant.saas_url}/cloud") for r in records), records


@pytest.mark.contract  # a 1.0.1 log line
def test_loguru_success_is_used(tenant):
    loguru = pytest.importorskip("loguru")
    from pcpi.saas_session_manager import SaaSSessionManager

    logger = loguru.logger
    seen = []
    sink = logger.add(lambda m: seen.append((m.record["level"].name, m.record["message"])))
    try:
        m = SaaSSessionManager("t", tenant.access_key, tenant.secret_key, tenant.saas_url,
                               verify=tenant.ca_path, logger=logger)
        m.create_cspm_session().request("GET", "/cloud")
    finally:
        logger.remove(sink)
    assert ("SUCCESS", seen[-1][1]) == seen[-1] and seen[-1][1].startswith("SUCCESS - ")


@pytest.mark.contract  # a 1.0.1 log line
def test_default_logger_prints_like_1_0_1(tmp_path):
    import subprocess
    import sys

    code = (
        "from pcpi.testing import FakeTenant\n"
        "from pcpi.saas_session_manager import SaaSSessionManager\n"
        "with FakeTenant() as t:\n"
        "    m = SaaSSessionManager('t', t.access_key, t.secret_key, t.saas_url,\n"
        "                           verify=t.ca_path)\n"
        "    m.create_cspm_session().request('GET', '/cloud')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "INFO:pcpi:SUCCESS - " in out.stderr


def test_uncaught_fatal_error_ends_a_script_with_its_message(tmp_path):
    import subprocess
    import sys

    code = (
        "from pcpi.testing import FakeTenant\n"
        "from pcpi.saas_session_manager import SaaSSessionManager\n"
        "with FakeTenant() as t:\n"
        "    print(t.access_key, flush=True)\n"
        "    m = SaaSSessionManager('t', t.access_key, 'bad', t.saas_url, verify=t.ca_path)\n"
        "    m.create_cspm_session()\n"
        "print('not reached')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 1
    assert "not reached" not in out.stdout
    names(out.stderr, out.stdout.split()[0], "'t'")  # its message: the key and tenant to fix


def test_no_per_call_state_on_the_session(tenant, cspm):
    """A call's options (CSV, params, a 429's backoff) leave no trace on the
    session: 1.0.1 switched ``headers`` to CSV in place, which a concurrent call
    then sent.  Values are compared, not only attribute names."""
    import copy

    def state():
        plain = (dict, list, str, int, float, bool, type(None))
        return {k: copy.deepcopy(v) for k, v in vars(cspm).items() if isinstance(v, plain)}

    before = state()
    assert "headers" in before and "retry_timer" in before
    tenant.fail_next(429, 1, path="/cloud")
    res = cspm.request("GET", "/cloud", acceptCsv=True, params={"a": 1}, custom_log="x")
    assert res.headers["Content-Type"].startswith("text/csv")
    assert state() == before
    assert cspm.request("GET", "/cloud").headers["Content-Type"].startswith("application/json")
    assert threading.active_count() < 50


# ------------------------------------------------------------------ metadata the tenant gives
@pytest.mark.parametrize("answer,match", [
    (dict(json={"licenseType": "x"}), "gave no twistlockUrl"),
    (dict(body="<html>maintenance</html>"), "not JSON"),
    (dict(json=["https://compute.example"]), "unexpected JSON"),
])
def test_unusable_compute_metadata_says_what_is_wrong(tenant, answer, match):
    m = saas_manager(tenant)
    m.create_cspm_session()
    tenant.add_route("GET", "/meta_info", 200, **answer)
    with pytest.raises(ValueError, match=match):
        m.create_cwp_session()
    m.close()


def test_cna_metadata_without_its_url_says_what_is_wrong(tenant):
    m = saas_manager(tenant)
    m.create_cspm_session()
    tenant.add_route("GET", "/cnsConfig", 200, json={"status": "ok"})
    with pytest.raises(ValueError, match="gave no CNA API URL or Prisma ID"):
        m.create_cna_session()
    m.close()


@pytest.mark.parametrize("method", [None, 1, b"GET"])
def test_a_method_that_is_not_a_string_is_refused_before_sending(tenant, cspm, method):
    tenant.reset_stats()
    with pytest.raises(ValueError, match="method must be a string"):
        cspm.request(method, "/cloud")
    assert tenant.stats()["requests"] == 0


def test_a_response_says_how_long_its_answer_took(tenant):
    """``res.elapsed``, as requests sets it: from sending to the answer's headers."""
    tenant.configure(latency=0.05)
    m = saas_manager(tenant)
    res = m.create_cspm_session().request("GET", "/cloud")
    m.close()
    assert 0.05 <= res.elapsed.total_seconds() < 10
