"""pcpi against servers that misbehave on purpose (tests/_hostile.py): raw sockets and
TLS, not the fake tenant's happy path.  One section per way a server (or careless
input) could leak a secret, lose data or hold a call forever.

Each test first asserts what a user would see go wrong (a secret reaching another
origin, rows silently missing, a body resent empty...), then the error pcpi gives.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import logging
import os
import threading
import time
import zlib

import pytest
import requests
from packaging.requirements import Requirement

from pcpi import errors
from pcpi.onprem_session_manager import CWPSessionManager

from . import _secrets
from ._fakes import Sleeps, in_forked_child, limit_headers, names, quiet_policy
from ._hostile import (
    CLOSE,
    COMPUTE_HERE,
    PASSWORD,
    SECRET_KEY,
    USERNAME,
    ConnectProxy,
    HostileServer,
    HostileTenant,
    answer,
    ca_path,
    cspm_on,
    jwt,
    manager_on,
    outcome,
    saas,
    self_hosted,
)

REDIRECTS = [301, 302, 307, 308]


@pytest.fixture
def evil():
    """Another origin (another port) that records whatever reaches it."""
    with HostileServer(lambda r: answer(200, json={"evil": True})) as s:
        yield s


@pytest.fixture
def evil_http():
    """Another origin on plain http."""
    with HostileServer(lambda r: answer(200, json={"evil": True}), tls=False) as s:
        yield s


def _targets(evil, evil_http):
    return {"other-port": evil.url, "other-host": f"https://localhost:{evil.port}",
            "plain-http": evil_http.url}


# ---------------------------------------------------------------------- 1. token on redirect
@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize("where", ["other-port", "other-host", "plain-http"])
def test_a_redirect_to_another_origin_never_carries_the_token(status, where, evil, evil_http):
    target = _targets(evil, evil_http)[where]
    routes = {("GET", "/cloud"): lambda r: answer(status, headers={
        "Location": target + "/steal?next=%2Fcloud"})}
    with cspm_on(routes) as (tenant, cspm):
        got = outcome(lambda: cspm.request("GET", "/cloud"))
    assert evil.hits() == [] and evil_http.hits() == []
    assert isinstance(got, errors.OriginError), got
    assert isinstance(got, requests.RequestException)  # per call, not fatal
    host = target.split("://", 1)[1]
    assert host in str(got) and "steal" not in str(got)  # names the origin, not the path
    assert len(tenant.hits("/cloud")) == 1  # not retried either


@pytest.mark.parametrize("location", [
    "https://localhost:{evil}\\@127.0.0.1:{tenant}/cloud",    # urllib3 and urlsplit disagree
    "https://localhost:{evil}\\.127.0.0.1:{tenant}/cloud",
    "https://[::1/cloud",                                       # unreadable
    "https://127.0.0.1:{tenant}/a b",                           # whitespace
])
@pytest.mark.parametrize("call", ["request", "login"])
def test_a_location_that_parsers_read_differently_is_not_followed(location, call, evil):
    def redirect(req):
        target = location.format(evil=evil.port, tenant=req.server.port)
        return answer(307, headers={"Location": target})

    if call == "login":
        with manager_on({("POST", "/login"): redirect}) as (tenant, m):
            got = outcome(m.create_cspm_session)
    else:
        with cspm_on({("POST", "/cloud"): redirect}) as (tenant, cspm):
            got = outcome(lambda: cspm.request("POST", "/cloud", json={"secret": "policy"}))
    assert evil.hits() == []
    assert isinstance(got, errors.OriginError), got
    names(got, "/login" if call == "login" else "/cloud", "307")  # the call it refused
    assert f":{evil.port}" not in str(got)  # nothing of a Location it could not read


def test_a_same_origin_redirect_is_followed_with_the_token_and_the_body():
    routes = {
        ("GET", "/cloud"): lambda r: answer(302, headers={"Location": "/cloud/v2"}),
        ("GET", "/cloud/v2"): lambda r: answer(200, json={"moved": True}),
        ("POST", "/v2/policy"): lambda r: answer(307, headers={"Location": "/v3/policy"}),
        ("POST", "/v3/policy"): lambda r: answer(200, json=r.json()),
    }
    with cspm_on(routes) as (tenant, cspm):
        assert cspm.request("GET", "/cloud").json() == {"moved": True}
        assert cspm.request("POST", "/v2/policy", json={"name": "p"}).json() == {"name": "p"}
    assert tenant.hits("/cloud/v2")[0].headers["x-redlock-auth"] == tenant.token
    assert tenant.hits("/v3/policy")[0].json() == {"name": "p"}


def test_a_same_origin_redirect_loop_is_bounded():
    routes = {("GET", "/cloud"): lambda r: answer(302, headers={"Location": "/cloud"})}
    with cspm_on(routes) as (tenant, cspm):
        got = outcome(lambda: cspm.request("GET", "/cloud"))
    assert len(tenant.hits("/cloud")) <= 6
    assert isinstance(got, requests.exceptions.TooManyRedirects), got


# ---------------------------------------------------------------------- 2. credentials on redirect
LOGINS = {"access-key": ("/login", lambda t: saas(t).create_cspm_session()),
          "self-hosted-password": ("/api/v1/authenticate",
                                   lambda t: self_hosted(t).create_cwp_session())}


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize("login", sorted(LOGINS))
def test_a_login_redirected_elsewhere_never_reposts_the_credentials(status, login, evil):
    path, log_in = LOGINS[login]
    routes = {("POST", path): lambda r: answer(status, headers={"Location": evil.url + path})}
    with HostileTenant(routes) as tenant:
        got = outcome(lambda: log_in(tenant))
    assert evil.hits() == []
    assert isinstance(got, errors.OriginError), got


def test_a_compute_authenticate_redirected_elsewhere_never_carries_the_cspm_token(evil):
    routes = {("POST", "/compute/api/v1/authenticate"): lambda r: answer(
        308, headers={"Location": evil.url + "/api/v1/authenticate"}), **COMPUTE_HERE}
    with manager_on(routes) as (tenant, m):
        got = outcome(m.create_cwp_session)
    assert evil.hits() == []
    assert isinstance(got, errors.OriginError), got


# ---------------------------------------------------------------------- 3. http learned
def test_an_http_compute_url_from_an_https_tenant_is_refused(evil_http):
    routes = {("GET", "/meta_info"): lambda r: answer(200, json={"twistlockUrl": evil_http.url})}
    with manager_on(routes) as (tenant, m):
        got = outcome(m.create_cwp_session)
    assert evil_http.hits() == []
    assert isinstance(got, errors.OriginError), got
    assert "http://" in str(got) and "twistlockUrl" in str(got)


def test_an_http_cna_url_from_an_https_tenant_is_refused(evil_http):
    routes = {("GET", "/cnsConfig"): lambda r: answer(200, json={"public-api": evil_http.url}),
              ("GET", "/license"): lambda r: answer(200, json={"prismaId": "806775"})}
    with manager_on(routes) as (tenant, m):
        got = outcome(m.create_cna_session)
    assert evil_http.hits() == []
    assert isinstance(got, errors.OriginError), got


def test_plain_http_works_where_the_user_wrote_it_with_one_warning(caplog):
    routes = {("GET", "/compute/api/v1/hosts"): lambda r: answer(200, json=[]),
              ("GET", "/cloud"): lambda r: answer(200, json=[]), **COMPUTE_HERE}
    with caplog.at_level(logging.WARNING, logger="pcpi"), \
            manager_on(tenant=HostileTenant(routes, tls=False)) as (tenant, m):
        cspm = m.create_cspm_session()
        cwp = m.create_cwp_session()
        for _ in range(3):
            assert cspm.request("GET", "/cloud").status_code == 200
            assert cwp.request("GET", "/api/v1/hosts").status_code == 200
    warnings = [r for r in caplog.records if "plain http" in r.getMessage()]
    assert len(warnings) == 1 and "hostile" in warnings[0].getMessage()


# ---------------------------------------------------------------------- 4. RQL pagination
FIRST_PAGE = {"query": "config from cloud.resource", "searchType": "config",
              "data": {"items": [{"id": 1}, {"id": 2}], "totalRows": 2, "nextPageToken": "p1"}}


def rql_routes(page):
    """A first RQL page of two rows that points at a second, answered by ``page``."""
    return {("POST", "/search/config"): lambda r: answer(200, json=FIRST_PAGE),
            ("POST", "/search/config/page"): page}


BAD_PAGES = {
    "400": lambda r: answer(400, json={"message": "bad token"}),
    "429": lambda r: answer(429, json={"message": "slow down"}),
    "503": lambda r: answer(503, b"unavailable"),
    "not-json": lambda r: answer(200, b"<html>gateway</html>",
                                 headers={"Content-Type": "text/html"}),
    "no-items": lambda r: answer(200, json={"message": "ok"}),
}


@pytest.mark.parametrize("kind", sorted(BAD_PAGES))
def test_a_page_that_fails_raises_with_what_was_delivered(kind):
    with cspm_on(rql_routes(BAD_PAGES[kind]), retries=2) as (tenant, cspm):
        got = outcome(lambda: cspm.config_search_request({"query": "config from cloud.resource"}))
    assert not isinstance(got, dict), "a truncated result was returned as if complete"
    assert isinstance(got, errors.IncompleteResultError), got
    assert (got.pages, got.rows) == (1, 2)
    assert "1 page" in str(got) and "2 rows" in str(got)


def test_the_page_callback_never_sees_an_error_body():
    seen = []
    with cspm_on(rql_routes(BAD_PAGES["400"])) as (tenant, cspm):
        got = outcome(lambda: cspm.config_search_request_function(
            {"query": "config from cloud.resource"}, lambda *page: seen.append(page)))
    assert [page[1]["items"] for page in seen] == [FIRST_PAGE["data"]["items"]]
    assert isinstance(got, errors.IncompleteResultError), got


def test_a_repeated_page_token_ends_with_a_clear_error():
    def same_token(req):  # bounded here so that a client that loops still ends
        if len(req.server.hits("/search/config/page")) > 50:
            return answer(400)
        return answer(200, json={"items": [{"id": 3}], "totalRows": 1, "nextPageToken": "p1"})

    with cspm_on(rql_routes(same_token)) as (tenant, cspm):
        got = outcome(lambda: cspm.config_search_request({"query": "q"}))
    assert len(tenant.hits("/search/config/page")) <= 2
    assert isinstance(got, errors.IncompleteResultError), got
    assert "repeated" in str(got)


def test_an_endless_run_of_pages_is_bounded():
    def endless(req):
        n = len(req.server.hits("/search/config/page"))
        if n > 30:
            return answer(400)
        return answer(200, json={"items": [{"id": n}], "totalRows": 1,
                                 "nextPageToken": f"p{n + 1}"})

    with cspm_on(rql_routes(endless)) as (tenant, cspm):
        got = outcome(lambda: cspm.config_search_request({"query": "q"}, max_pages=10))
    assert len(tenant.hits("/search/config/page")) == 9  # pages 2..10
    assert isinstance(got, errors.IncompleteResultError), got
    assert got.pages == 10 and "10 pages" in str(got)


# ---------------------------------------------------------------------- 5. bodies on retry
def _fail_first(status=503):
    def handle(req):
        if len(req.server.hits(req.path)) == 1:
            return answer(status, b"busy", headers={"Retry-After": "0"})
        return answer(200, json={"received": len(req.body)})
    return handle


def test_a_retried_multipart_upload_sends_the_same_bytes(tmp_path):
    path = tmp_path / "report.csv"
    path.write_bytes(b"id,name\n" + b"1,alpha\n" * 2000)
    with cspm_on({("POST", "/upload"): _fail_first()}) as (tenant, cspm):
        with open(path, "rb") as fh:
            res = cspm.request("POST", "/upload", files={"file": fh})
    first, second = tenant.hits("/upload")
    assert second.body == first.body and path.read_bytes() in second.body
    assert res.json() == {"received": len(first.body)}


def test_a_retried_file_body_is_rewound(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(50_000))
    with cspm_on({("PUT", "/blob"): _fail_first(502)}) as (tenant, cspm):
        with open(path, "rb") as fh:
            fh.read(10)  # the caller's position is where the body starts
            res = cspm.request("PUT", "/blob", data=fh)
    first, second = tenant.hits("/blob")
    assert first.body == second.body == path.read_bytes()[10:]
    assert res.status_code == 200


def test_a_body_that_cannot_be_replayed_is_not_resent_and_says_why(caplog):
    with cspm_on({("POST", "/upload"): _fail_first()}) as (tenant, cspm):
        res = cspm.request("POST", "/upload", data=(b"chunk%d" % i for i in range(3)))
    assert [h.body for h in tenant.hits("/upload")] == [b"chunk0chunk1chunk2"]
    assert res.status_code == 503
    said = [r for r in caplog.records if r.levelno == logging.ERROR and "/upload" in r.message]
    assert len(said) == 1
    names(said[0].message, "POST", "503", "generator", "bytes")  # which body, what to pass


# ---------------------------------------------------------------------- 6. idempotency
@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_state_changing_post_is_not_resent_after_a_gateway_error(status):
    with cspm_on({("POST", "/v2/policy"): _fail_first(status)}) as (tenant, cspm):
        res = cspm.request("POST", "/v2/policy", json={"name": "p"})
        explicit = cspm.request("POST", "/v2/policy", json={"name": "q"}, idempotent=False)
    assert len(tenant.hits("/v2/policy")) == 2  # one each, never resent
    assert res.status_code == status and explicit.status_code == 200


@pytest.mark.parametrize("status", [429, 503])
def test_a_state_changing_post_is_resent_when_the_answer_proves_it_was_not_processed(status):
    with cspm_on({("POST", "/v2/policy"): _fail_first(status)}) as (tenant, cspm):
        res = cspm.request("POST", "/v2/policy", json={"name": "p"})
    assert res.status_code == 200 and len(tenant.hits("/v2/policy")) == 2


def test_idempotent_true_and_false_decide_for_any_method():
    with cspm_on({("POST", "/v2/policy"): _fail_first(502),
                  ("GET", "/cloud"): _fail_first(502)}) as (tenant, cspm):
        post = cspm.request("POST", "/v2/policy", json={}, idempotent=True)
        get = cspm.request("GET", "/cloud", idempotent=False)
    assert post.status_code == 200 and len(tenant.hits("/v2/policy")) == 2
    assert get.status_code == 502 and len(tenant.hits("/cloud")) == 1


# ---------------------------------------------------------------------- 7. bounds
def _limited(rate, burst="1", remaining="0"):
    """A handler answering 200 with these rate-limit headers."""
    return lambda r: answer(200, json=[], headers=limit_headers(rate, burst, remaining))


@pytest.mark.parametrize("rate,remaining", [("0.000001", "0"), ("1e-300", "0"),
                                            ("10", "-1e308"), ("10", "-1e999"),
                                            ("nan", "0"), ("inf", "-5"), ("10", "nan")])
def test_pacing_waits_are_capped_whatever_the_headers_say(rate, remaining):
    sleeps = Sleeps()
    with cspm_on({("GET", "/cloud"): _limited(rate, "1", remaining)},
                 retry_policy=quiet_policy(sleep=sleeps)) as (tenant, cspm):
        for _ in range(4):
            assert cspm.request("GET", "/cloud").status_code == 200
    assert all(0 <= s <= 120 for s in sleeps), sleeps
    assert sum(sleeps) <= 4 * (120 + 0.5)  # max_wait per call in all, however it is cut up


def _trickle(head: bytes, body: bytes, *, every: float = 0.05, limit: float = 6.0):
    """Send ``head`` then ``body`` a byte at a time; after ``limit`` seconds the rest
    at once (so that a client without a total deadline still ends)."""
    def handle(req):
        sent, t0 = 0, time.monotonic()
        data = head + body
        while sent < len(data) and time.monotonic() - t0 < limit:
            if req.server.stopping.wait(every):
                return CLOSE
            req.conn.sendall(data[sent:sent + 1])
            sent += 1
        req.conn.sendall(data[sent:])
        return None
    return handle


@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_trickling_server_cannot_hold_a_call_past_its_timeout(part):
    body = json.dumps({"pad": "x" * 4000}).encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + \
        b"X-Padding: " + b"p" * 400 + b"\r\n" + f"Content-Length: {len(body)}\r\n\r\n".encode()
    if part == "body":
        handler = lambda r: (r.conn.sendall(head), _trickle(b"", body)(r))[1]  # noqa: E731
    else:
        handler = _trickle(head, body)
    policy = quiet_policy(connection_retries=0)
    with cspm_on({("GET", "/cloud"): handler}, retry_policy=policy,
                 timeout=(0.5, 0.25)) as (tenant, cspm):
        t0 = time.monotonic()
        got = outcome(lambda: cspm.request("GET", "/cloud"))
        took = time.monotonic() - t0
    assert not isinstance(got, requests.Response), f"answered after {took:.1f} s"
    assert isinstance(got, errors.DeadlineExceeded), got
    assert isinstance(got, requests.exceptions.ReadTimeout)  # a timeout like any other
    assert "0.75" in str(got)
    assert got.request is not None and got.request.method == "GET"


def _bomb() -> bytes:
    """1 MiB of gzip that inflates to 1 GiB of zeros."""
    out = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"]
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    mib = bytes(1 << 20)
    block = comp.compress(mib) + comp.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(1024):
        out.append(block)
        crc = zlib.crc32(mib, crc)
    out.append(comp.flush())
    out.append(crc.to_bytes(4, "little") + (1 << 30 & 0xFFFFFFFF).to_bytes(4, "little"))
    return b"".join(out)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = _bomb()
    assert len(data) < 2 << 20
    return data


def test_a_decompression_bomb_stops_at_the_size_limit(bomb):
    sent = answer(200, bomb, headers={"Content-Type": "application/json",
                                      "Content-Encoding": "gzip"})
    with cspm_on({("GET", "/cloud"): lambda r: sent},
                 max_response_bytes=16 << 20) as (tenant, cspm):
        got = outcome(lambda: cspm.request("GET", "/cloud"))
    assert not isinstance(got, requests.Response), "1 GiB was read into memory"
    assert isinstance(got, errors.ResponseTooLargeError), got
    assert "16 MiB" in str(got) and "max_response_bytes" in str(got)


def test_an_endless_chunked_body_stops_at_the_size_limit():
    sent = []

    def endless(req):
        req.conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (1 << 16, b"a" * (1 << 16))
        for _ in range(4096):  # 256 MiB at most, so that a client without a limit ends
            if req.server.stopping.is_set():
                return CLOSE
            try:
                req.conn.sendall(chunk)
            except OSError:  # the client stopped reading and closed: as it should
                return CLOSE
            sent.append(len(chunk))
        req.conn.sendall(b"0\r\n\r\n")
        return None

    with cspm_on({("GET", "/cloud"): endless}, max_response_bytes=8 << 20) as (tenant, cspm):
        got = outcome(lambda: cspm.request("GET", "/cloud"))
    assert not isinstance(got, requests.Response), "the whole body was read"
    assert isinstance(got, errors.ResponseTooLargeError), got
    assert f"GET {tenant.url}/cloud" in str(got)  # names the call
    # read as it came and dropped at the bound (socket buffers hold a few MiB more),
    # not read to its end first
    assert sum(sent) < 64 << 20, sum(sent)


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    def huge(req):
        req.conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n" + b"x" * 1000)

    with cspm_on({("GET", "/cloud"): huge}) as (tenant, cspm):
        got = outcome(lambda: cspm.request("GET", "/cloud"))
    assert isinstance(got, errors.ResponseTooLargeError), got
    assert "10000000000" in str(got)


# ---------------------------------------------------------------------- 8. secrets in text
BAD_TOKENS = {"crlf": "\r\nX-Injected: 1", "leading-space": " ", "tab": "\t", "nul": "\0"}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_a_malformed_token_never_appears_in_an_error_or_a_log(kind, caplog):
    token = jwt()
    bad = BAD_TOKENS[kind] + token if kind != "crlf" else token + BAD_TOKENS[kind]
    _secrets.remember(token)
    routes = {("POST", "/login"): lambda r: answer(200, json={"token": bad})}
    with manager_on(routes) as (tenant, m):
        got = outcome(m.create_cspm_session)
    assert isinstance(got, errors.LoginError), got
    assert token not in str(got) and token not in caplog.text
    names(got, f"{tenant.url}/login")  # where the bad token came from


def test_a_malformed_token_set_by_hand_is_reported_without_its_value(caplog):
    with cspm_on({("GET", "/cloud"): lambda r: answer(200, json=[])}) as (tenant, cspm):
        cspm.headers = dict(cspm.headers, **{"x-redlock-auth": " " + cspm.token})
        got = outcome(lambda: cspm.request("GET", "/cloud"))
    assert isinstance(got, requests.exceptions.InvalidHeader), got
    assert "x-redlock-auth" in str(got) and tenant.token not in str(got)
    assert tenant.token not in caplog.text


def test_an_echoed_error_body_is_logged_with_secrets_redacted(caplog):
    other = jwt()
    _secrets.remember(other)

    def echo(req):
        return answer(400, json={"error": "bad request", "echo": dict(req.headers),
                                 "seen": f"Bearer {other}", "key": SECRET_KEY})

    with cspm_on({("GET", "/cloud"): echo}) as (tenant, cspm):
        with caplog.at_level(logging.INFO, logger="pcpi"):
            res = cspm.request("GET", "/cloud")
    assert res.status_code == 400 and tenant.token in res.text  # the caller's to read
    text = caplog.text
    assert "RESPONSE TEXT" in text and "bad request" in text
    for secret in (tenant.token, other, SECRET_KEY):
        assert secret not in text
    assert "<redacted>" in text


# ---------------------------------------------------------------------- 9. short bodies
def test_urllib3_2_6_is_required():
    """1.26 returns a body cut short as a 200; before 2.6, chained encodings
    (gzip, gzip) decompress without bound."""
    reqs = [Requirement(r) for r in importlib.metadata.requires("pcpi") or []]
    urllib3 = [r for r in reqs if r.name == "urllib3" and not r.marker]
    assert urllib3 and not urllib3[0].specifier.contains("1.26.20")
    assert not urllib3[0].specifier.contains("2.5.0")


def test_a_body_cut_short_is_an_error_never_a_short_200():
    def cut(req):
        req.conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{"items": [1, 2')
        return CLOSE

    with cspm_on({("GET", "/cloud"): cut}) as (tenant, cspm):
        got = outcome(lambda: cspm.request("GET", "/cloud"))
    assert isinstance(got, (requests.exceptions.ChunkedEncodingError,
                            requests.exceptions.ConnectionError)), got
    assert len(tenant.hits("/cloud")) == 4  # retried (a GET), then raised


# ---------------------------------------------------------------------- bad local input
def test_an_ipv6_literal_url_works(tmp_path):
    from pcpi import session_loader

    with HostileTenant({("GET", "/api/v1/hosts"): lambda r: answer(200, json=[{"h": 1}])},
                       host="::1") as tenant:
        path = tmp_path / "creds.json"
        path.write_text(json.dumps([{"name": "v6", "url": tenant.url, "identity": USERNAME,
                                     "secret": PASSWORD, "verify": ca_path()}]))
        m = session_loader.load_config(str(path), retry_policy=quiet_policy())[0]
        assert m.api_url == tenant.url
        cwp = m.create_cwp_session()
        assert cwp.request("GET", "/api/v1/hosts").json() == [{"h": 1}]
        m.close()


@pytest.mark.parametrize("content", [
    "[" * 100_000 + "]" * 100_000,
    '[{"name": "x", "url": "https://api.prismacloud.io", "identity": "a", "secret": "b", '
    '"n": ' + "1" * 100_000 + "}]",
    '[{"url": "https://api.prismacloud.io", "identity": "a", "secret": "' + "s" * (2 << 20)
    + '"}]',
])
def test_hostile_json_in_a_credentials_file_is_a_clear_error(tmp_path, content):
    from pcpi import session_loader

    path = tmp_path / "credentials.json"
    path.write_text(content)
    got = outcome(lambda: session_loader.load_config(str(path)))
    assert isinstance(got, errors.CredentialsFileError), type(got)
    assert path.read_text() == content


def _in_thread(fn, seconds: float):
    box = []
    t = threading.Thread(target=lambda: box.append(outcome(fn)), daemon=True)
    t.start()
    t.join(seconds)
    return box[0] if box else None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this OS")
def test_a_credentials_path_that_is_a_fifo_is_refused_at_once(tmp_path):
    from pcpi import session_loader

    fifo = tmp_path / "credentials.json"
    os.mkfifo(fifo)
    try:
        got = _in_thread(lambda: session_loader.load_config(str(fifo)), 5)
    finally:  # release a reader that blocked in open()
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    assert got is not None, "load_config blocked on the FIFO"
    assert isinstance(got, errors.CredentialsFileError) and "regular file" in str(got), got


def test_a_credentials_path_that_is_a_device_is_refused():
    from pcpi import session_loader

    got = outcome(lambda: session_loader.load_config(os.devnull))
    assert isinstance(got, errors.CredentialsFileError) and "regular file" in str(got), got


# ---------------------------------------------------------------------- found by attacking the fix
def test_the_deadline_holds_through_an_https_proxy():
    def trickle(req):
        req.conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")
        for _ in range(40):  # 4 s in all, unless the client gives up
            if req.server.stopping.wait(0.1):
                return CLOSE
            req.conn.sendall(b" ")
        return None

    with ConnectProxy(tls=True) as proxy, \
            cspm_on({("GET", "/cloud"): trickle}, timeout=(0.3, 0.3), proxies={"https": proxy.url},
                    retry_policy=quiet_policy(connection_retries=0)) as (tenant, cspm):
        got = outcome(lambda: cspm.request("GET", "/cloud"))
    assert proxy.tunnels, "the proxy was not used"
    assert isinstance(got, errors.DeadlineExceeded), got


def test_one_deadline_covers_a_chain_of_redirects():
    def slow_hop(req):
        n = int(req.path.rsplit("/", 1)[1])
        if req.server.stopping.wait(0.2):
            return CLOSE
        return answer(307, headers={"Location": f"/hop/{n + 1}"}) if n < 5 else answer(200)

    hops = {("GET", f"/hop/{n}"): slow_hop for n in range(6)}
    with cspm_on(hops, timeout=(0.3, 0.5),
                 retry_policy=quiet_policy(connection_retries=0)) as (tenant, cspm):
        got = outcome(lambda: cspm.request("GET", "/hop/0"))
    assert isinstance(got, errors.DeadlineExceeded), got  # 6 hops of 0.2 s > 0.8 s in all
    assert got.request is not None and got.request.method == "GET"  # what requests carries
    assert len(tenant.hits()) - 1 <= 4  # the login, then at most the hops within 0.8 s


def test_a_token_echoed_by_the_server_never_reaches_exception_text(caplog):
    def redirect_to_token(req):
        return answer(302, headers={"Location": "/echo/" + req.headers["x-redlock-auth"]})

    def bad_status_line(req):
        req.conn.sendall(b"BAD " + req.headers["x-redlock-auth"].encode() + b"\r\n\r\n")
        return CLOSE

    def bad_header(req):
        token = req.headers["x-redlock-auth"].encode()
        req.conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + token + b"\r\n\r\n[]")
        return CLOSE

    with cspm_on({("GET", "/cloud"): redirect_to_token,
                  ("GET", "/status"): bad_status_line,
                  ("GET", "/header"): bad_header}, max_response_bytes=1000) as (tenant, cspm):
        token = cspm.token
        tenant.routes[("GET", "/echo/" + token)] = lambda r: answer(200, b"x" * 5000)
        logging.getLogger("urllib3").setLevel(logging.DEBUG)
        try:
            with caplog.at_level(logging.DEBUG):
                too_large = outcome(lambda: cspm.request("GET", "/cloud"))
                status = outcome(lambda: cspm.request("GET", "/status"))
                header = outcome(lambda: cspm.request("GET", "/header"))
        finally:
            logging.getLogger("urllib3").setLevel(logging.NOTSET)
    assert isinstance(too_large, errors.ResponseTooLargeError), too_large
    assert isinstance(status, requests.exceptions.ConnectionError), status
    for got in (too_large, status, header):
        chained = (getattr(got, "__context__", None), getattr(got, "__cause__", None))
        assert token not in f"{got!s} {got!r} {chained!r}"
    assert tenant.hits("/echo/" + token) and token not in caplog.text
    assert "<redacted>" in caplog.text


def test_a_token_path_a_server_redirected_to_never_reaches_errors_or_logs(caplog):
    routes = {("GET", "/cloud"): lambda r: answer(200, json=[]),
              ("GET", "/auth_token/extend"): lambda r: answer(
                  302, headers={"Location": "/extend/" + r.headers["x-redlock-auth"]})}
    with cspm_on(routes, retries=1) as (tenant, cspm):
        token = cspm.token
        tenant.routes[("GET", "/extend/" + token)] = lambda r: answer(500)
        cspm.token_time_stamp -= cspm.token_time + 1  # a refresh is due: it fails, calls go on
        assert cspm.request("GET", "/cloud").status_code == 200
        tenant.routes[("POST", "/login")] = lambda r: answer(
            307, headers={"Location": "/login/" + token})
        tenant.routes[("POST", "/login/" + token)] = lambda r: answer(500)
        cspm.token_time_stamp -= 10_000  # expired: a login is needed, and it fails
        got = outcome(lambda: cspm.request("GET", "/cloud"))
    assert tenant.hits("/extend/" + token) and tenant.hits("/login/" + token)
    assert isinstance(got, errors.LoginError), got
    assert token not in str(got) and "/login" in str(got) and token not in caplog.text


@pytest.mark.parametrize("length", ["\u00b2", "1" * 5000, "-5", "0x10"])
def test_a_strange_content_length_is_a_request_error_not_a_value_error(length):
    def weird(req):
        req.conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: " + length.encode("utf-8") +
                         b"\r\n\r\n[]")
        return CLOSE

    with cspm_on({("GET", "/cloud"): weird}, max_response_bytes=1000,
                 retry_policy=quiet_policy(connection_retries=0)) as (tenant, cspm):
        got = outcome(lambda: cspm.request("GET", "/cloud"))
    assert isinstance(got, (requests.RequestException, requests.Response)), repr(got)


PAGE_FAILURES = {
    "reset": lambda r: CLOSE,
    "redirect-elsewhere": lambda r: answer(307, headers={"Location": "https://localhost:1/"}),
    "too-large": lambda r: answer(200, json={"items": ["x" * 5000]}),
}


@pytest.mark.parametrize("kind", sorted(PAGE_FAILURES))
def test_a_page_whose_call_fails_raises_incomplete_with_counts(kind):
    seen = []
    with cspm_on(rql_routes(PAGE_FAILURES[kind]), max_response_bytes=4000,
                 retry_policy=quiet_policy(connection_retries=1)) as (tenant, cspm):
        got = outcome(lambda: cspm.config_search_request_function(
            {"query": "q"}, lambda *page: seen.append(page)))
    assert len(seen) == 1
    assert isinstance(got, errors.IncompleteResultError), got
    assert (got.pages, got.rows) == (1, 2) and isinstance(got.__cause__,
                                                          requests.RequestException)


def test_a_first_page_without_items_is_not_an_empty_result():
    first = {"data": {"totalRows": 5000, "nextPageToken": None}}
    with cspm_on({("POST", "/search/config"): lambda r: answer(200, json=first)}) as (t, cspm):
        got = outcome(lambda: cspm.config_search_request({"query": "q"}))
    assert isinstance(got, errors.IncompleteResultError), got


def test_a_server_cannot_talk_pcpi_into_resending_a_post():
    """Whether a failed call was sent is decided by the exception's type, never by
    text the server controls (here a status line naming urllib3's exception)."""
    def lie(req):
        req.conn.sendall(b"NewConnectionError NameResolutionError\r\n\r\n")
        return CLOSE

    with cspm_on({("POST", "/v2/policy"): lie}) as (tenant, cspm):
        got = outcome(lambda: cspm.request("POST", "/v2/policy", json={"name": "p"}))
    assert isinstance(got, requests.exceptions.ConnectionError), got
    assert len(tenant.hits("/v2/policy")) == 1


def test_head_and_204_are_not_judged_by_their_content_length():
    def head(req):
        req.conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 90000\r\n\r\n")
        return None

    with cspm_on({("HEAD", "/cloud"): head,
                  ("GET", "/empty"): lambda r: answer(204, headers={
                      "Content-Length": "0"})}, max_response_bytes=4096) as (tenant, cspm):
        assert cspm.request("HEAD", "/cloud").status_code == 200
        assert cspm.request("GET", "/empty").status_code == 204


def test_a_timeout_part_of_none_means_no_total_deadline_as_in_requests():
    def slow(req):
        if req.server.stopping.wait(0.5):
            return CLOSE
        return answer(200, json=[])

    with cspm_on({("GET", "/cloud"): slow}) as (tenant, cspm):
        assert cspm.request("GET", "/cloud", timeout=(0.3, None)).status_code == 200


def test_a_bytearray_body_is_replayed():
    with cspm_on({("POST", "/upload"): _fail_first()}) as (tenant, cspm):
        res = cspm.request("POST", "/upload", data=bytearray(b"abc" * 100))
    assert res.status_code == 200
    assert [h.body for h in tenant.hits("/upload")] == [b"abc" * 100] * 2


def _trickle_body(seconds: float = 12.0):
    def handle(req):
        req.conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")
        for _ in range(40):
            if req.server.stopping.wait(seconds / 40):
                return CLOSE
            req.conn.sendall(b" ")
        return None
    return handle


def test_a_huge_timeout_does_not_disable_deadlines_for_later_calls():
    from pcpi._deadline import watchdog

    huge = watchdog.start(1e12)  # beyond threading.TIMEOUT_MAX: must not kill the thread
    time.sleep(0.05)
    watchdog.finish(huge)
    with cspm_on({("GET", "/cloud"): lambda r: answer(200, json=[]),
                  ("GET", "/slow"): _trickle_body(4.0)},
                 retry_policy=quiet_policy(connection_retries=0)) as (tenant, cspm):
        assert cspm.request("GET", "/cloud", timeout=(1e6, 1e6)).status_code == 200
        got = outcome(lambda: cspm.request("GET", "/slow", timeout=(0.3, 0.3)))
    assert isinstance(got, errors.DeadlineExceeded), got


def test_the_watchdog_thread_ends_when_idle_and_comes_back(monkeypatch):
    from pcpi import _deadline

    monkeypatch.setattr(_deadline, "_IDLE", 0.1)  # 1 s in use

    def watchdogs():
        return [t for t in threading.enumerate() if t.name == "pcpi-deadlines"]

    with cspm_on({("GET", "/cloud"): lambda r: answer(200, json=[]),
                  ("GET", "/slow"): _trickle_body(4.0)},
                 retry_policy=quiet_policy(connection_retries=0)) as (tenant, cspm):
        assert cspm.request("GET", "/cloud").status_code == 200
        for _ in range(100):  # it ends about _IDLE after the last call
            if not watchdogs():
                break
            time.sleep(0.02)
        assert not watchdogs(), "the watchdog thread outlived the calls"
        got = outcome(lambda: cspm.request("GET", "/slow", timeout=(0.3, 0.3)))
    assert isinstance(got, errors.DeadlineExceeded), got


def test_a_chained_encoding_bomb_stops_at_the_size_limit():
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)
    once = inner.compress(bytes(64 << 20)) + inner.flush()   # 64 MiB of zeros
    outer = zlib.compressobj(9, zlib.DEFLATED, 31)
    twice = outer.compress(once) + outer.flush()
    sent = answer(200, twice, headers={"Content-Encoding": "gzip, gzip"})
    with cspm_on({("GET", "/cloud"): lambda r: sent}, max_response_bytes=1 << 20) as (tenant, cspm):
        got = outcome(lambda: cspm.request("GET", "/cloud"))
    assert len(twice) < 1 << 16
    assert isinstance(got, errors.ResponseTooLargeError), got


def test_cookies_set_on_a_same_origin_redirect_go_to_the_next_hop_only():
    def start(req):
        return answer(302, headers={"Location": "/cloud/next", "Set-Cookie": "hop=1; Path=/"})

    def finish(req):
        return answer(200 if "hop=1" in req.headers.get("cookie", "") else 400, json=[])

    with cspm_on({("GET", "/cloud"): start, ("GET", "/cloud/next"): finish,
                  ("GET", "/other"): lambda r: answer(200, json=[])}) as (tenant, cspm):
        assert cspm.request("GET", "/cloud").status_code == 200
        assert cspm.request("GET", "/other").status_code == 200
    assert "cookie" not in tenant.hits("/other")[0].headers  # pcpi keeps no cookie jar


def test_the_not_processed_set_is_the_policys():
    with cspm_on({("POST", "/v2/policy"): _fail_first(503)},
                 retry_policy=quiet_policy(not_processed=frozenset({429}))) as (tenant, cspm):
        res = cspm.request("POST", "/v2/policy", json={})
    assert res.status_code == 503 and len(tenant.hits("/v2/policy")) == 1


# ---------------------------------------------------------------------- found by the second attack
@pytest.mark.parametrize("redirect", [303, 302, 301])
@pytest.mark.parametrize("then", [429, 503, 401])
def test_a_post_answered_by_a_redirect_is_never_sent_again(redirect, then):
    """The POST was processed (a 303 says so); what failed is the GET after it."""
    routes = {("POST", "/v2/policy"): lambda r: answer(redirect, headers={
                  "Location": "/v2/policy/42"}),
              ("GET", "/v2/policy/42"): _fail_first(then)}
    with cspm_on(routes) as (tenant, cspm):
        res = cspm.request("POST", "/v2/policy", json={"name": "p"})
    assert len(tenant.hits("/v2/policy")) == 1
    assert res.status_code == then


def test_a_short_password_echoed_by_the_server_is_redacted(caplog):
    password = "pw7char"

    def echo_status(req):
        req.conn.sendall(b"BAD " + password.encode() + b"\r\n\r\n")
        return CLOSE

    with HostileTenant({("GET", "/api/v1/hosts"): echo_status}) as tenant:
        m = CWPSessionManager("hostile", tenant.url, USERNAME, password, verify=ca_path(),
                              retry_policy=quiet_policy(connection_retries=0))
        cwp = m.create_cwp_session()
        got = outcome(lambda: cwp.request("GET", "/api/v1/hosts"))
        m.close()
    assert isinstance(got, requests.RequestException), got
    assert password not in f"{got!s} {got!r}" and password not in caplog.text


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_child_forked_while_a_pacer_lock_is_held_does_not_hang():
    with manager_on({("GET", "/cloud"): _limited("50", "10", "10")}) as (tenant, m):
        cspm = m.create_cspm_session()
        assert cspm.request("GET", "/cloud").status_code == 200  # the endpoint is paced now
        pacer, held, release = m.transport.pacer, threading.Event(), threading.Event()

        def hold():  # as a thread caught in the middle of pacing a call
            with pacer._lock:
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert held.wait(5)
            # the child paces a call (a lock it does not have would hold it for ever)
            assert in_forked_child(lambda: cspm.request("GET", "/cloud").status_code, 5) == 200
        finally:
            release.set()
            holder.join(10)


@pytest.mark.parametrize("excluded", [None, "proxies", "NO_PROXY", "no_proxy"])
def test_environment_proxies_and_no_proxy_are_honoured_as_in_requests(excluded, monkeypatch):
    with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        if excluded in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(excluded, "example.com,127.0.0.1")
        proxies = {"no_proxy": "127.0.0.1"} if excluded == "proxies" else None
        with cspm_on({("GET", "/cloud"): lambda r: answer(200, json=[])},
                     proxies=proxies) as (tenant, cspm):
            assert cspm.request("GET", "/cloud").status_code == 200
    assert bool(proxy.tunnels) is (excluded is None)


def test_loguru_tracebacks_with_variables_do_not_show_secrets():
    loguru = pytest.importorskip("loguru")
    out = io.StringIO()
    logger = loguru.logger
    sink = logger.add(out, colorize=False, backtrace=True, diagnose=True)  # loguru's defaults
    try:
        with manager_on({("GET", "/cloud"): lambda r: CLOSE}, logger=logger,
                        retry_policy=quiet_policy(connection_retries=0)) as (tenant, m):
            cspm = m.create_cspm_session()
            token = cspm.token
            try:
                cspm.request("GET", "/cloud")
            except requests.RequestException:
                logger.exception("the call failed")
            tenant.routes[("POST", "/login")] = lambda r: CLOSE
            try:
                m.create_cspm_session()
            except requests.RequestException:
                logger.exception("the login failed")
    finally:
        logger.remove(sink)
    text = out.getvalue()
    assert "the call failed" in text and "the login failed" in text and "<redacted>" in text
    assert token not in text and SECRET_KEY not in text


def test_a_body_whose_secret_straddles_the_preview_window_is_still_redacted(caplog):
    def echo(req):  # JWTs (redacted to a few characters each), then the secret key
        noise = ""  # placed so that its first 21 characters end 2,000 characters in
        while len(noise) < 1800:
            noise += jwt() + " "
        return answer(400, (noise.ljust(2000 - 21) + SECRET_KEY).encode())

    with cspm_on({("GET", "/cloud"): echo}) as (tenant, cspm):
        with caplog.at_level(logging.INFO, logger="pcpi"):
            assert cspm.request("GET", "/cloud").status_code == 400
    assert "RESPONSE TEXT" in caplog.text and SECRET_KEY[:21] not in caplog.text


def test_a_merged_search_is_bounded_in_memory_and_the_callback_is_not():
    page = {"items": [{"pad": "x" * (1 << 20)}], "totalRows": 1, "nextPageToken": "p"}

    def pages(req):  # p1 (from the first page), then q1 .. q5, the last one final
        token = req.json()["pageToken"]
        n = 1 if token == "p1" else int(token[1:]) + 1
        return answer(200, json=dict(page, nextPageToken=f"q{n}" if n < 5 else None))

    with cspm_on(rql_routes(pages), max_response_bytes=3 << 20) as (tenant, cspm):
        merged = outcome(lambda: cspm.config_search_request({"query": "q"}))
        streamed = cspm.config_search_request_function({"query": "q"}, lambda *a: None)
    assert isinstance(merged, errors.IncompleteResultError), merged
    assert "config_search_request_function" in str(merged) and merged.pages <= 3
    assert streamed == 2 + 5 * 1  # every page (totalRows 2, then 1 each), one at a time


def test_a_redirect_body_is_not_kept():
    routes = {("GET", "/cloud"): lambda r: answer(302, b"x" * (1 << 20), headers={
                  "Location": "/cloud/v2"}),
              ("GET", "/cloud/v2"): lambda r: answer(200, json=[])}
    with cspm_on(routes) as (tenant, cspm):
        res = cspm.request("GET", "/cloud")
    assert res.status_code == 200 and len(res.history) == 1
    assert len(res.history[0].content) <= 64 << 10


def test_deeply_nested_json_from_the_server_is_a_clear_error():
    deep = b"[" * 100_000 + b"]" * 100_000
    with manager_on(rql_routes(lambda r: answer(200, deep))) as (tenant, m):
        cspm = m.create_cspm_session()
        page = outcome(lambda: cspm.config_search_request({"query": "q"}))
        tenant.routes[("POST", "/login")] = lambda r: answer(200, deep)
        login = outcome(m.create_cspm_session)
    assert isinstance(page, errors.IncompleteResultError), page
    assert isinstance(login, errors.LoginError), login
