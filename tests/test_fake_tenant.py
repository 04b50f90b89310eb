"""The fake tenant's own behaviour, observed over real TLS sockets."""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time

import pytest
import requests

from pcpi.testing import SAAS_HOST, FakeTenant, resolve_to_loopback

from .conftest import cspm_token, probe


def auth(token: str) -> dict:
    return {"x-redlock-auth": token}


# ------------------------------------------------------------------ CSPM basics
def test_login_issues_a_token_and_rejects_bad_credentials(tenant, http):
    token = cspm_token(http, tenant)
    assert token.count(".") == 2  # JWT-shaped
    bad = http.post(f"{tenant.url}/login", json={"username": tenant.access_key,
                                                  "password": "wrong"})
    assert bad.status_code == 401
    assert "invalid_credentials" in bad.headers["x-redlock-status"]
    st = tenant.stats()
    assert (st["logins"], st["login_failures"]) == (1, 1)


def test_api_calls_need_a_valid_token(tenant, http):
    assert http.get(f"{tenant.url}/cloud").status_code == 401
    assert http.get(f"{tenant.url}/cloud", headers=auth("nope")).status_code == 401
    token = cspm_token(http, tenant)
    res = http.get(f"{tenant.url}/cloud", headers=auth(token))
    assert res.status_code == 200
    assert len(res.json()) == 50
    one = res.json()[7]["accountId"]
    assert http.get(f"{tenant.url}/cloud/{one}", headers=auth(token)).json()["name"] == \
        "account-0007"


def test_tokens_expire_and_extend_replaces_them():
    with FakeTenant(token_lifetime=0.4) as tenant:
        http = probe(tenant)
        token = cspm_token(http, tenant)
        ext = http.get(f"{tenant.url}/auth_token/extend", headers=auth(token))
        assert ext.status_code == 200
        fresh = ext.json()["token"]
        assert fresh != token
        time.sleep(0.5)
        assert http.get(f"{tenant.url}/cloud", headers=auth(fresh)).status_code == 401
        assert http.get(f"{tenant.url}/auth_token/extend",
                        headers=auth(fresh)).status_code == 401
        assert tenant.stats()["extends"] == 1


def test_expire_tokens_invalidates_everything_issued(tenant, http):
    token = cspm_token(http, tenant)
    assert tenant.expire_tokens() == 1
    assert http.get(f"{tenant.url}/cloud", headers=auth(token)).status_code == 401


def test_csv_when_asked_for(tenant, http):
    token = cspm_token(http, tenant)
    res = http.get(f"{tenant.url}/cloud", headers={**auth(token), "Accept": "text/csv"})
    assert res.headers["Content-Type"].startswith("text/csv")
    lines = res.text.strip().splitlines()
    assert lines[0].startswith("accountId,") and len(lines) == 51
    assert http.get(f"{tenant.url}/cloud", headers=auth(token)).headers[
        "Content-Type"].startswith("application/json")


def test_meta_info_points_at_compute_which_takes_the_cspm_token(tenant, http):
    token = cspm_token(http, tenant)
    compute = http.get(f"{tenant.url}/meta_info", headers=auth(token)).json()["twistlockUrl"]
    assert compute == tenant.compute_url
    res = http.post(f"{compute}/api/v1/authenticate",
                    json={"username": None, "password": None, "token": token})
    assert res.status_code == 200
    ctoken = res.json()["token"]
    hosts = http.get(f"{compute}/api/v1/hosts", params={"limit": 10},
                     headers={"Authorization": f"Bearer {ctoken}"})
    assert hosts.status_code == 200 and len(hosts.json()) == 10
    assert hosts.headers["Total-Count"] == "120"
    assert http.get(f"{compute}/api/v1/hosts").status_code == 401


def test_self_hosted_login_and_projects(tenant, http):
    url = tenant.compute_url
    bad = http.post(f"{url}/api/v1/authenticate", json={"username": "admin", "password": "x"})
    assert bad.status_code == 401
    res = http.post(f"{url}/api/v1/authenticate",
                    json={"username": tenant.username, "password": tenant.password})
    bearer = {"Authorization": "Bearer " + res.json()["token"]}
    ok = http.get(f"{url}/api/v1/images", params={"project": "project-a"}, headers=bearer)
    assert ok.status_code == 200 and ok.json()[0]["project"] == "project-a"
    assert http.get(f"{url}/api/v1/images", params={"project": "nope"},
                    headers=bearer).status_code == 401
    assert tenant.stats()["compute_logins"] == 1


def test_cna_issue_and_namespace_header(tenant, http):
    token = cspm_token(http, tenant)
    cna_url = http.get(f"{tenant.url}/cnsConfig", headers=auth(token)).json()["public-api"]
    prisma_id = http.get(f"{tenant.url}/license", headers=auth(token)).json()["prismaId"]
    res = http.post(f"{cna_url}/issue", json={"realm": "PCIdentityToken",
                                              "metadata": {"token": token}})
    assert res.status_code == 200
    bearer = {"Authorization": "Bearer " + res.json()["token"]}
    assert http.get(f"{cna_url}/namespaces", headers=bearer).status_code == 401
    ns = http.get(f"{cna_url}/namespaces", headers={**bearer, "X-Namespace": "/" + prisma_id})
    assert ns.status_code == 200 and len(ns.json()) == 5


# ------------------------------------------------------------------ search pagination
def test_config_search_pages_return_every_item_exactly_once():
    with FakeTenant(search_items=1234, search_page_size=100) as tenant:
        http = probe(tenant)
        token = cspm_token(http, tenant)
        res = http.post(f"{tenant.url}/search/config", headers=auth(token),
                        json={"query": "config from cloud.resource where api.name = 'x'",
                              "limit": 2000})
        data = res.json()["data"]
        ids = [i["id"] for i in data["items"]]
        total = data["totalRows"]
        pages = 1
        while "nextPageToken" in data:
            data = http.post(f"{tenant.url}/search/config/page", headers=auth(token),
                             json={"pageToken": data["nextPageToken"], "limit": 2000}).json()
            ids += [i["id"] for i in data["items"]]
            total += data["totalRows"]
            pages += 1
            assert pages < 50
        assert len(ids) == len(set(ids)) == total == 1234
        assert pages == 13


def test_bad_requests_get_prisma_like_statuses_not_hangs(tenant, http):
    token = cspm_token(http, tenant)
    assert http.get(f"{tenant.url}/no/such/path", headers=auth(token)).status_code == 404
    assert http.delete(f"{tenant.url}/cloud", headers=auth(token)).status_code == 405
    bad_json = http.post(f"{tenant.url}/search/config", data=b"{not json",
                         headers={**auth(token), "Content-Type": "application/json"})
    assert bad_json.status_code == 400 and "x-redlock-status" in bad_json.headers
    assert http.post(f"{tenant.url}/login", data=b"[1,2").status_code == 400
    assert http.post(f"{tenant.url}/search/config/page", headers=auth(token),
                     json={"pageToken": "garbage"}).status_code == 400
    assert http.post(f"{tenant.url}/search/config", headers=auth(token),
                     json={"limit": 5}).status_code == 400


def test_malformed_http_gets_400_and_a_close(tenant):
    ctx = ssl.create_default_context(cafile=tenant.ca_path)
    with socket.create_connection(("127.0.0.1", tenant.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"THIS IS NOT HTTP\r\n\r\n")
            answer = tls.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400 ")


def test_chunked_request_bodies_are_read(tenant, http):
    body = json.dumps({"username": tenant.access_key, "password": tenant.secret_key}).encode()
    res = http.post(f"{tenant.url}/login", data=iter([body[:10], body[10:]]),
                    headers={"Content-Type": "application/json"})
    assert res.status_code == 200


# ------------------------------------------------------------------ rate limiting
def test_rate_limit_throttles_above_the_rate_with_prisma_headers():
    with FakeTenant(rate_limit=(5, 3), retry_after=True) as tenant:
        http = probe(tenant)
        token = cspm_token(http, tenant)
        codes = [http.get(f"{tenant.url}/cloud", headers=auth(token)) for _ in range(6)]
        assert [r.status_code for r in codes[:3]] == [200, 200, 200]
        assert 429 in [r.status_code for r in codes[3:]]
        ok = codes[0]
        assert ok.headers["X-RateLimit-Replenish-Rate"] == "5"
        assert ok.headers["X-RateLimit-Burst-Capacity"] == "3"
        assert int(ok.headers["X-RateLimit-Remaining"]) == 2
        throttled = next(r for r in codes if r.status_code == 429)
        assert int(throttled.headers["Retry-After"]) >= 1
        assert tenant.stats()["throttled"] >= 1


def test_rate_limit_does_not_throttle_below_the_rate():
    with FakeTenant(rate_limit=(50, 1)) as tenant:
        http = probe(tenant)
        token = cspm_token(http, tenant)
        codes = []
        for _ in range(10):  # at most 25/s against 50/s: never throttled
            codes.append(http.get(f"{tenant.url}/cloud", headers=auth(token)).status_code)
            time.sleep(0.04)
        assert codes == [200] * 10
        assert tenant.stats()["throttled"] == 0


def test_per_endpoint_limits_are_separate_buckets():
    with FakeTenant(endpoint_rate_limits={"GET /cloud": (1, 1)}) as tenant:
        http = probe(tenant)
        token = cspm_token(http, tenant)
        assert [http.get(f"{tenant.url}/cloud", headers=auth(token)).status_code
                for _ in range(2)] == [200, 429]
        assert http.get(f"{tenant.url}/license", headers=auth(token)).status_code == 200


def test_rate_limit_is_per_endpoint_by_default_as_prisma_documents_it():
    with FakeTenant(rate_limit=(1, 2)) as tenant:
        http = probe(tenant)
        token = cspm_token(http, tenant)
        cloud = [http.get(f"{tenant.url}/cloud", headers=auth(token)) for _ in range(3)]
        assert [r.status_code for r in cloud] == [200, 200, 429]
        lic = http.get(f"{tenant.url}/license", headers=auth(token))
        assert lic.status_code == 200  # its own bucket, full
        assert lic.headers["X-RateLimit-Requested-Tokens"] == "1"
        assert lic.headers["X-RateLimit-Remaining"] == "1"


def test_one_bucket_per_user_on_request():
    with FakeTenant(rate_limit=(1, 3), rate_limit_scope="user") as tenant:
        http = probe(tenant)
        token = cspm_token(http, tenant)  # the login draws on it too
        codes = [http.get(f"{tenant.url}/{path}", headers=auth(token)).status_code
                 for path in ("cloud", "license", "cloud/123456789012")]
        assert codes == [200, 200, 429]  # the endpoints drew on one bucket
    with pytest.raises(ValueError, match="rate_limit_scope"):
        FakeTenant(rate_limit_scope="tenant").configure(rate_limit_scope="tenant")


def test_login_is_limited_like_the_rest():
    with FakeTenant(rate_limit=(1, 2)) as tenant:
        http = probe(tenant)
        body = {"username": tenant.access_key, "password": tenant.secret_key}
        codes = [http.post(f"{tenant.url}/login", json=body).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert tenant.stats()["logins"] == 2


def test_compute_answers_a_bare_429_and_announces_no_limit():
    with FakeTenant(rate_limit=(1, 1)) as tenant:
        http = probe(tenant)
        token = cspm_token(http, tenant)
        url = f"{tenant.compute_url}/api/v1/images"
        first, second = (http.get(url, headers={"Authorization": f"Bearer {token}"})
                         for _ in range(2))
        assert (first.status_code, second.status_code) == (200, 429)
        for res in (first, second):
            assert not [h for h in res.headers if h.lower().startswith("x-ratelimit")]


# ------------------------------------------------------------------ faults
def test_fail_next_answers_k_matching_requests(tenant, http):
    token = cspm_token(http, tenant)
    tenant.fail_next(503, 2, path="/cloud")
    tenant.fail_next(429, 1, path="/license", headers={"Retry-After": "3"})
    assert [http.get(f"{tenant.url}/cloud", headers=auth(token)).status_code
            for _ in range(3)] == [503, 503, 200]
    lic = http.get(f"{tenant.url}/license", headers=auth(token))
    assert lic.status_code == 429 and lic.headers["Retry-After"] == "3"
    st = tenant.stats()
    assert st["responses_by_status"]["503"] == 2 and st["faults_injected"] == 3


def test_error_rate_is_a_probability():
    with FakeTenant(error_rate=1.0, error_statuses=(502,), seed=1) as tenant:
        http = probe(tenant)
        assert http.post(f"{tenant.url}/login", json={}).status_code == 502
        tenant.configure(error_rate=0.3)
        token = None
        for _ in range(20):
            res = http.post(f"{tenant.url}/login", json={"username": tenant.access_key,
                                                         "password": tenant.secret_key})
            if res.status_code == 200:
                token = res.json()["token"]
                break
        codes = [http.get(f"{tenant.url}/cloud", headers=auth(token)).status_code
                 for _ in range(200)]
        errors = codes.count(502)
        assert 20 <= errors <= 100, errors  # 30% of 200, with a wide margin
        assert set(codes) == {200, 502}


def test_latency_and_rtt_are_added():
    with FakeTenant(latency=0.1, rtt=0.05) as tenant:
        http = probe(tenant)
        t0 = time.perf_counter()
        http.post(f"{tenant.url}/login", json={})  # new connection: 2 RTT + 1 RTT + latency
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        http.post(f"{tenant.url}/login", json={})  # reused: 1 RTT + latency
        second = time.perf_counter() - t0
        assert first >= 0.25
        assert second >= 0.15
        assert first - second >= 0.08  # the handshake delay is paid once


def test_rate_limits_can_answer_bare_429s_everywhere():
    with FakeTenant(rate_limit=(0.01, 1), rate_limit_headers=False) as tenant:
        http = probe(tenant)
        token = cspm_token(http, tenant)  # (the login's own bucket)
        first, second = (http.get(f"{tenant.url}/cloud", headers=auth(token)) for _ in range(2))
        assert (first.status_code, second.status_code) == (200, 429)
        assert not [h for r in (first, second) for h in r.headers if h.startswith("X-RateLimit")]


def test_a_throttled_call_can_be_refused_without_the_service_time():
    from pcpi.testing._server import Request

    with FakeTenant(rate_limit=(0.01, 2), latency=0.5, rtt=0.01,
                    throttled_latency=0.0) as tenant:
        token = cspm_token(probe(tenant), tenant)

        def call():
            return tenant.app.handle(Request("GET", "/cloud", {"x-redlock-auth": token}, b"",
                                             True))

        answers = [call() for _ in range(3)]
        assert [a.status for a in answers] == [200, 200, 429]
        assert answers[0].delay == pytest.approx(0.51)  # service time + round trip
        assert answers[2].delay == pytest.approx(0.01)  # the round trip alone
        assert answers[2].headers["X-RateLimit-Remaining"] == "0"
        tenant.configure(throttled_latency=None)  # (default) a 429 takes the service time too
        assert call().delay == pytest.approx(0.51)


def test_close_after_n_requests_forces_new_connections():
    with FakeTenant(max_requests_per_connection=3) as tenant:
        http = probe(tenant)
        for _ in range(7):
            assert http.post(f"{tenant.url}/login", json={}).status_code == 401
        st = tenant.stats()
        assert st["connections_accepted"] == 3  # 3 + 3 + 1
        assert st["tls_handshakes"] == 3


def test_idle_connections_are_closed():
    with FakeTenant(idle_timeout=0.2) as tenant:
        http = probe(tenant)
        http.post(f"{tenant.url}/login", json={})
        assert tenant.stats()["open_connections"] == 1
        deadline = time.monotonic() + 5
        while tenant.stats()["open_connections"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tenant.stats()["open_connections"] == 0


def test_reset_mid_response_breaks_the_call(tenant, http):
    token = cspm_token(http, tenant)
    tenant.reset_next(1, path="/cloud")
    with pytest.raises(requests.exceptions.RequestException):
        http.get(f"{tenant.url}/cloud", headers=auth(token))
    assert tenant.stats()["connections_reset"] == 1
    assert http.get(f"{tenant.url}/cloud", headers=auth(token)).status_code == 200


def test_close_instead_of_answering(tenant, http):
    tenant.close_next(1, path="/login")
    with pytest.raises(requests.exceptions.ConnectionError):
        http.post(f"{tenant.url}/login", json={})


def test_stall_lets_a_client_read_timeout_fire(tenant, http):
    tenant.stall_next(10, path="/login")
    t0 = time.perf_counter()
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.post(f"{tenant.url}/login", json={}, timeout=(2, 0.3))
    assert time.perf_counter() - t0 < 5.0  # the 0.3 s timeout, never the 10 s stall
    assert http.post(f"{tenant.url}/login", json={}).status_code == 401


# ------------------------------------------------------------------ counters and routes
def test_counters_track_connections_and_reset(tenant):
    sessions = [probe(tenant) for _ in range(4)]
    barrier = threading.Barrier(4)

    def hit(s):
        barrier.wait(5)
        s.post(f"{tenant.url}/login", json={})

    tenant.configure(latency=0.2)
    threads = [threading.Thread(target=hit, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    st = tenant.stats()
    assert st["connections_accepted"] == st["tls_handshakes"] == 4
    assert st["max_concurrent_connections"] == 4
    assert st["requests_by_endpoint"] == {"POST /login": 4}
    assert st["responses_by_status"] == {"401": 4}
    tenant.reset_stats()
    st = tenant.stats()
    assert st["requests"] == 0 and st["connections_accepted"] == 0
    for s in sessions:
        s.close()


def test_custom_routes(tenant, http):
    tenant.add_route("GET", "/v2/alert", json={"items": [1, 2]}, headers={"X-Test": "yes"})
    tenant.add_route("POST", "/open/*", status=201, body="made", auth=False)
    token = cspm_token(http, tenant)
    assert http.get(f"{tenant.url}/v2/alert").status_code == 401
    res = http.get(f"{tenant.url}/v2/alert", headers=auth(token))
    assert res.json() == {"items": [1, 2]} and res.headers["X-Test"] == "yes"
    res = http.post(f"{tenant.url}/open/thing")
    assert (res.status_code, res.text) == (201, "made")


def test_configure_rejects_unknown_settings(tenant):
    with pytest.raises(ValueError):
        tenant.configure(no_such_setting=1)


# ------------------------------------------------------------------ SaaS host name, process mode
def test_saas_host_name_resolves_to_loopback_inside_the_context(tenant, http):
    assert SAAS_HOST in tenant.saas_url
    res = http.post(f"{tenant.saas_url}/login", json={"username": tenant.access_key,
                                                       "password": tenant.secret_key})
    assert res.status_code == 200


def test_resolver_is_removed_when_the_last_context_closes():
    original = socket.getaddrinfo
    with resolve_to_loopback("a.example.prismacloud.io"):
        with resolve_to_loopback("a.example.prismacloud.io"):
            assert socket.getaddrinfo("a.example.prismacloud.io", 443)[0][4][0] == "127.0.0.1"
        assert socket.getaddrinfo("a.example.prismacloud.io", 443)[0][4][0] == "127.0.0.1"
    assert socket.getaddrinfo is original


def test_spawned_tenant_in_its_own_process():
    with FakeTenant.spawn(latency=0.01) as tenant:
        import os

        assert tenant.info["pid"] != os.getpid()
        http = probe(tenant)
        token = cspm_token(http, tenant)
        tenant.fail_next(500, 1, path="/cloud")
        codes = [http.get(f"{tenant.saas_url}/cloud", headers=auth(token)).status_code
                 for _ in range(2)]
        assert codes == [500, 200]
        st = tenant.stats()
        assert st["logins"] == 1 and st["responses_by_status"]["500"] == 1
        assert token in tenant.issued_secrets()
        with pytest.raises(ValueError):
            tenant.configure(bogus=True)
        proc = tenant.process
    assert proc.poll() is not None


def test_command_line_prints_json_and_stops_on_sigterm():
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "pcpi.testing", "--latency", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert {"url", "saas_url", "ca_path", "access_key", "secret_key",
                "control_url"} <= set(info)
        res = requests.post(f"{info['url']}/login", verify=info["ca_path"],
                            json={"username": info["access_key"],
                                  "password": info["secret_key"]}, timeout=10)
        assert res.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        proc.stdout.close()


# ------------------------------------------------------------------ fidelity options
def test_compute_can_be_served_from_its_own_host_and_port():
    with FakeTenant(compute_host=True) as tenant:
        http = probe(tenant)
        token = cspm_token(http, tenant)
        compute = http.get(f"{tenant.url}/meta_info", headers=auth(token)).json()["twistlockUrl"]
        assert compute == tenant.compute_url
        cspm_origin, compute_origin = (requests.utils.urlparse(u) for u in (tenant.url, compute))
        assert compute_origin.hostname != cspm_origin.hostname
        assert compute_origin.port != cspm_origin.port
        res = http.post(f"{compute}/api/v1/authenticate", json={"token": token})
        assert res.status_code == 200
        # each API is only where it lives
        assert http.post(f"{tenant.url}/compute/api/v1/authenticate",
                         json={"token": token}).status_code == 404
        base = compute.rsplit("/compute", 1)[0]
        assert http.get(f"{base}/cloud", headers=auth(token)).status_code == 404
        st = tenant.stats()
        assert st["connections_accepted"] >= 2 and st["compute_logins"] == 1


def test_gzip_and_chunked_replies_on_request():
    import gzip as _gzip

    with FakeTenant(gzip=True, chunked=True, accounts=200) as tenant:
        http = probe(tenant)
        token = cspm_token(http, tenant)
        res = http.get(f"{tenant.url}/cloud", headers=auth(token), stream=True)
        assert res.headers["Content-Encoding"] == "gzip"
        assert res.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in res.headers
        raw = res.raw.read(decode_content=False)
        assert len(json.loads(_gzip.decompress(raw))) == 200
        # a client that does not accept gzip gets plain JSON
        plain = http.get(f"{tenant.url}/cloud",
                         headers={**auth(token), "Accept-Encoding": "identity"})
        assert "Content-Encoding" not in plain.headers and len(plain.json()) == 200


def test_page_tokens_expire_when_asked_to():
    with FakeTenant(search_items=300, search_page_size=100, page_token_lifetime=0.3) as tenant:
        http = probe(tenant)
        token = cspm_token(http, tenant)
        first = http.post(f"{tenant.url}/search/config", headers=auth(token),
                          json={"query": "config from cloud.resource where x", "limit": 100}).json()
        page = http.post(f"{tenant.url}/search/config/page", headers=auth(token),
                         json={"pageToken": first["data"]["nextPageToken"], "limit": 100})
        assert page.status_code == 200  # in time
        time.sleep(0.4)
        late = http.post(f"{tenant.url}/search/config/page", headers=auth(token),
                         json={"pageToken": page.json()["nextPageToken"], "limit": 100})
        assert late.status_code == 400
        assert "expired" in late.json()["error"]


def test_a_proxy_in_the_environment_is_not_asked_for_the_tenant(monkeypatch):
    from pcpi.saas_session_manager import SaaSSessionManager

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # a dead corporate proxy
    monkeypatch.setenv("NO_PROXY", "intranet.example")
    monkeypatch.delenv("no_proxy", raising=False)
    with FakeTenant() as tenant:
        assert "intranet.example" in os.environ["NO_PROXY"]  # theirs kept
        for url in (tenant.url, tenant.saas_url):
            m = SaaSSessionManager("t", tenant.access_key, tenant.secret_key, url,
                                   verify=tenant.ca_path)
            assert m.create_cspm_session().request("GET", "/cloud").status_code == 200
            m.close()
        with FakeTenant():  # nested: still bypassed after the inner one closes
            pass
        assert SAAS_HOST in os.environ["NO_PROXY"]
    after = os.environ["NO_PROXY"].split(",")
    assert after[0] == "intranet.example" and SAAS_HOST not in after  # (loopback: the suite's)
    assert "no_proxy" not in os.environ


def test_a_tenant_leaves_no_folder_behind_started_or_not(monkeypatch):
    import gc
    import sys
    import tempfile

    made = []  # the folders the tenants make, as they make them
    real_mkdtemp = tempfile.mkdtemp
    monkeypatch.setattr(tempfile, "mkdtemp", lambda **kw: made.append(real_mkdtemp(**kw)) or
                        made[-1])

    never = FakeTenant()
    path = made[-1]
    assert os.path.isdir(path)
    del never
    gc.collect()
    assert not os.path.exists(path)  # never started, dropped: gone

    with FakeTenant() as tenant:
        path = made[-1]
        assert os.path.isfile(tenant.ca_path) and tenant.ca_path.startswith(path)
    assert not os.path.exists(path)

    made.clear()
    monkeypatch.setitem(sys.modules, "trustme", None)  # not installed
    with pytest.raises(ImportError, match=r"pcpi\[testing\]"):
        FakeTenant()
    assert made and not any(os.path.exists(p) for p in made)


# ------------------------------------------------------------------ paged listings and their traps
def test_alerts_carry_a_token_on_the_last_page_with_data_then_answer_an_empty_page():
    with FakeTenant(alerts=25) as tenant:
        http = probe(tenant)
        token = cspm_token(http, tenant)
        window = {"timeRange": {"type": "relative", "value": {"amount": 24, "unit": "hour"}},
                  "limit": 10}
        page = http.post(f"{tenant.url}/v2/alert", headers=auth(token), json=window).json()
        ids = [i["id"] for i in page["items"]]
        while page["items"]:
            page = http.post(f"{tenant.url}/v2/alert", headers=auth(token),
                             json={"pageToken": page["nextPageToken"], "limit": 10}).json()
            ids += [i["id"] for i in page["items"]]
            if page["items"] and len(ids) == 25:
                last_with_data = page
            assert len(ids) <= 25
        assert "nextPageToken" in last_with_data and page == {"items": [], "totalRows": 25}
        assert len(set(ids)) == 25
        # the trap: the window sent again with a token answers an empty page, no token
        second = http.post(f"{tenant.url}/v2/alert", headers=auth(token),
                           json=dict(window, pageToken=last_with_data["nextPageToken"]))
        assert second.json() == {"items": [], "totalRows": 0}
        too_many = http.post(f"{tenant.url}/v2/alert", headers=auth(token),
                             json={"limit": 10_001})
        assert too_many.status_code == 400 and "10,000" in too_many.text
        http.close()


def test_alerts_by_get_take_the_token_in_the_query_and_a_long_line_is_414():
    with FakeTenant(alerts=30, page_token_bytes=9000) as tenant:
        http = probe(tenant)
        headers = auth(cspm_token(http, tenant))
        first = http.get(f"{tenant.url}/v2/alert", headers=headers,
                         params={"timeType": "relative", "limit": 20}).json()
        assert len(first["items"]) == 20 and len(first["nextPageToken"]) >= 9000
        late = http.get(f"{tenant.url}/v2/alert", headers=headers,
                        params={"pageToken": first["nextPageToken"]})
        assert late.status_code == 414
        tenant.configure(page_token_bytes=0)
        first = http.get(f"{tenant.url}/v2/alert", headers=headers, params={"limit": 20}).json()
        rest = http.get(f"{tenant.url}/v2/alert", headers=headers,
                        params={"pageToken": first["nextPageToken"], "limit": 20}).json()
        assert [i["id"] for i in rest["items"]] == [f"P-{i:07d}" for i in range(20, 30)]
        stray = http.get(f"{tenant.url}/v2/alert", headers=headers,
                         params={"pageToken": first["nextPageToken"], "timeType": "relative"})
        assert stray.json()["items"] == []
        http.close()


def test_scan_info_and_the_audit_log_answer_in_their_own_shapes():
    with FakeTenant(scan_resources=12, audit_logs=150, item_bytes=1000) as tenant:
        http = probe(tenant)
        headers = auth(cspm_token(http, tenant))
        scan = http.post(f"{tenant.url}/v2/resource/scan_info", headers=headers,
                         json={"limit": 10}).json()
        assert (len(scan["resources"]), scan["totalMatchedCount"], scan["pageSize"]) == \
            (10, 12, 10)
        assert 950 <= len(json.dumps(scan["resources"][0], separators=(",", ":"))) <= 1050
        audit = http.post(f"{tenant.url}/audit/api/v1/log", headers=headers, json={}).json()
        assert len(audit["value"]) == 150 and "nextPageToken" not in audit  # (500 a page)
        for limit in (99, 501):
            res = http.post(f"{tenant.url}/audit/api/v1/log", headers=headers,
                            json={"limit": limit})
            assert res.status_code == 400 and "between 100 and 500" in res.text
        audit = http.post(f"{tenant.url}/audit/api/v1/log", headers=headers,
                          json={"limit": 100}).json()
        rest = http.post(f"{tenant.url}/audit/api/v1/log", headers=headers,
                         json={"nextPageToken": audit["nextPageToken"], "limit": 100}).json()
        assert len(rest["value"]) == 50 and "nextPageToken" not in rest
        # a token of another listing is no token here
        wrong = http.post(f"{tenant.url}/v2/resource/scan_info", headers=headers,
                          json={"pageToken": audit["nextPageToken"]})
        assert wrong.status_code == 400 and "invalid pageToken" in wrong.text
        tenant.configure(paging_totals=False)
        scan = http.post(f"{tenant.url}/v2/resource/scan_info", headers=headers, json={}).json()
        assert "totalMatchedCount" not in scan and len(scan["resources"]) == 12
        http.close()


def test_an_event_search_pages_on_its_own_path():
    with FakeTenant(search_events=150, search_page_size=100) as tenant:
        http = probe(tenant)
        headers = auth(cspm_token(http, tenant))
        first = http.post(f"{tenant.url}/search/event", headers=headers,
                          json={"query": "event from cloud.audit_logs"}).json()
        assert first["searchType"] == "event" and len(first["data"]["items"]) == 100
        token = first["data"]["nextPageToken"]
        page = http.post(f"{tenant.url}/search/event/page", headers=headers,
                         json={"pageToken": token}).json()
        assert [i["id"] for i in page["items"]] == [f"evt-{i:07d}" for i in range(100, 150)]
        assert http.post(f"{tenant.url}/search/config/page", headers=headers,
                         json={"pageToken": token}).status_code == 400
        http.close()


def test_compute_lists_answer_50_a_page_whatever_limit_asks():
    with FakeTenant(compute_items=130) as tenant:
        http = probe(tenant)
        headers = {"Authorization": "Bearer " + cspm_token(http, tenant)}
        url = f"{tenant.url}/compute/api/v1/defenders"
        page = http.get(url, headers=headers, params={"offset": 0, "limit": 100})
        assert len(page.json()) == 50 and page.headers["Total-Count"] == "130"
        # a script advancing by the 100 it asked for skips objects 50 to 99
        skipped = http.get(url, headers=headers, params={"offset": 100, "limit": 100}).json()
        assert skipped[0]["_id"] == "defenders-00100"
        tenant.configure(compute_page_cap=20, paging_totals=False)
        page = http.get(url, headers=headers, params={"limit": 50})
        assert len(page.json()) == 20 and "Total-Count" not in page.headers
        http.close()


def test_compute_rate_limit_answers_bare_429s_per_endpoint():
    with FakeTenant(compute_rate_limit=(0.01, 3)) as tenant:
        http = probe(tenant)
        headers = {"Authorization": "Bearer " + cspm_token(http, tenant)}
        hosts = [http.get(f"{tenant.url}/compute/api/v1/hosts", headers=headers)
                 for _ in range(4)]
        assert [r.status_code for r in hosts] == [200, 200, 200, 429]
        assert not any(k.lower().startswith(("x-ratelimit", "retry-after"))
                       for k in hosts[-1].headers)
        # each list endpoint has its own budget; other Compute calls none
        assert http.get(f"{tenant.url}/compute/api/v1/images",
                        headers=headers).status_code == 200
        assert all(http.get(f"{tenant.url}/compute/api/v1/version",
                            headers=headers).status_code == 200 for _ in range(4))
        assert tenant.stats()["throttled"] == 1
        http.close()


def test_page_tokens_of_every_style_expire():
    with FakeTenant(alerts=30, audit_logs=300, page_token_lifetime=0.2) as tenant:
        http = probe(tenant)
        headers = auth(cspm_token(http, tenant))
        alerts = http.post(f"{tenant.url}/v2/alert", headers=headers, json={"limit": 10}).json()
        audit = http.post(f"{tenant.url}/audit/api/v1/log", headers=headers,
                          json={"limit": 100}).json()
        time.sleep(0.3)
        for path, body in (("/v2/alert", {"pageToken": alerts["nextPageToken"]}),
                           ("/audit/api/v1/log", {"nextPageToken": audit["nextPageToken"]})):
            late = http.post(f"{tenant.url}{path}", headers=headers, json=body)
            assert late.status_code == 400 and "expired" in late.text
        http.close()
