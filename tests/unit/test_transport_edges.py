"""The transport's edges, without sending anything: the exact bounds on what is
read from an answer (and from a redirect's body), what its errors say and carry,
and how the environment's proxies are resolved once per origin.  Answers are
``requests.Response`` objects built by hand over an in-memory body, as the
adapter hands them over (``stream=True``)."""

from __future__ import annotations

import io
import os

import pytest
import requests
import urllib3

import pcpi
from pcpi._body import Payload
from pcpi._redact import remember
from pcpi._transport import (
    Transport,
    _Call,
    _declared_length,
    _read_redirect,
    _size,
    _without_secrets,
)
from pcpi.errors import DeadlineExceeded, ResponseTooLargeError

from .._fakes import in_forked_child, names

E = requests.exceptions
URL = "https://api.example/v1/things"
MiB = 1 << 20


class _Body(io.BytesIO):
    """A body that counts how many bytes were taken from it, and can break.  Like
    http.client's response, it reports itself closed once read to its end."""

    def __init__(self, data: bytes, broken_after: int = -1) -> None:
        super().__init__(data)
        self.size = len(data)
        self.taken = 0
        self.broken_after = broken_after

    def read(self, amt=None):
        if 0 <= self.broken_after <= self.taken:
            raise ConnectionResetError("connection reset by peer")
        data = super().read(amt)
        self.taken += len(data)
        return data

    def isclosed(self) -> bool:
        return self.closed or self.taken >= self.size


def _answer(data: bytes, *, status: int = 200, headers: dict = None,
            method: str = "GET", broken_after: int = -1) -> requests.Response:
    body = _Body(data, broken_after)
    res = requests.Response()
    res.status_code = status
    res.url = URL
    res.request = requests.Request(method, URL).prepare()
    res.raw = urllib3.HTTPResponse(body=body, headers=headers or {}, status=status,
                                   preload_content=False)
    res.headers = requests.structures.CaseInsensitiveDict(headers or {})
    res.wire = body  # type: ignore[attr-defined]  # (the test's handle on what was read)
    return res


def _read_into(res: requests.Response, limit) -> None:
    """What the transport does with an answer it received (the one seam of these
    tests into the transport: its bounded read, without a socket)."""
    transport = Transport(max_response_bytes=limit, pacing=False)
    try:
        transport._read(_Call("GET", URL, None), res)
    finally:
        transport.close()


def _read(data: bytes, limit, **kwargs) -> requests.Response:
    res = _answer(data, **kwargs)
    _read_into(res, limit)
    return res


# -- how a limit is named in messages ---------------------------------------------

@pytest.mark.parametrize("n,text", [
    (0, "0 bytes"),
    (1000, "1000 bytes"),
    (MiB - 1, "1048575 bytes"),
    (MiB, "1 MiB"),
    (MiB + 1, "1048577 bytes"),
    (2 * MiB, "2 MiB"),
    (3 * MiB, "3 MiB"),
    (512 * MiB, "512 MiB"),
])
def test_a_limit_is_named_in_whole_mib_or_else_in_bytes(n, text):
    assert _size(n) == text


# -- the bound on an answer ---------------------------------------------------------

@pytest.mark.parametrize("declared", [True, False])
def test_an_answer_of_exactly_max_response_bytes_is_read_whole(declared):
    data = bytes(range(256)) * 400  # 102,400 bytes: several read chunks
    headers = {"Content-Length": str(len(data))} if declared else {}
    res = _read(data, len(data), headers=headers)
    assert res.content == data


def test_a_declared_length_one_byte_over_the_limit_is_refused_before_reading():
    res = _answer(b"x" * 101, headers={"Content-Length": "101"})
    with pytest.raises(ResponseTooLargeError) as caught:
        _read_into(res, 100)
    names(caught.value, "GET https://api.example:443/v1/things", "101 bytes", "100 bytes",
          "max_response_bytes")
    assert caught.value.response is res
    assert res.wire.taken == 0


def test_a_streamed_answer_one_byte_over_the_limit_is_refused():
    with pytest.raises(ResponseTooLargeError) as caught:
        _read(b"x" * (MiB + 1), MiB)
    names(caught.value, "GET https://api.example:443/v1/things", "1 MiB", "max_response_bytes",
          "decompression")
    assert caught.value.response is not None
    assert caught.value.response.status_code == 200


def test_a_huge_streamed_answer_is_read_only_a_chunk_past_the_limit():
    """The bound holds on memory, not just on what is kept: reading stops soon
    after the limit, however much the server would send."""
    res = _answer(b"x" * (4 * MiB))
    with pytest.raises(ResponseTooLargeError):
        _read_into(res, 1000)
    assert res.wire.taken <= 1000 + (64 << 10)


def test_a_read_answer_still_streams_to_callers_of_iter_content_and_iter_lines():
    data = b"first line\nsecond line\n" * 2000
    res = _read(data, None)
    assert b"".join(res.iter_content()) == data
    assert b"".join(res.iter_content(1000)) == data
    assert list(res.iter_lines())[:2] == [b"first line", b"second line"]
    assert res.content == data


def test_a_nineteen_digit_content_length_is_believed_and_refused():
    assert _declared_length(_answer(b"", headers={"Content-Length": "9" * 19})) == 10 ** 19 - 1
    with pytest.raises(ResponseTooLargeError, match="answered 9999999999999999999 bytes"):
        _read(b"", 100, headers={"Content-Length": "9" * 19})


# -- a redirect's body ------------------------------------------------------------

def _redirect(data: bytes, **kwargs) -> requests.Response:
    return _answer(data, status=302, headers={"Location": "/elsewhere"}, **kwargs)


@pytest.mark.parametrize("size", [0, 5, 64 << 10])
def test_a_redirect_body_up_to_64_kib_is_kept_as_sent(size):
    data = bytes(range(256)) * (size // 256) if size > 5 else b"moved"[:size]
    res = _redirect(data)
    _read_redirect(res)
    assert res.content == data
    assert b"".join(res.iter_content()) == data


def test_a_redirect_body_over_64_kib_is_dropped_with_its_connection():
    res = _redirect(b"x" * MiB)
    _read_redirect(res)
    assert res.content == b""
    assert res.wire.taken <= (64 << 10) + (64 << 10)  # not read on to its end
    assert res.raw.closed


def test_a_redirect_with_a_broken_body_keeps_no_body_and_no_connection():
    res = _redirect(b"x" * 1000, broken_after=0)
    _read_redirect(res)
    assert res.content == b""
    assert res.raw.closed


def test_a_redirect_body_is_kept_through_the_transport_too():
    res = _read(b"see /elsewhere", 5, status=302, headers={"Location": "/elsewhere"})
    assert res.content == b"see /elsewhere"  # (the answer's limit is not a redirect's)


# -- what the call's errors say and carry ---------------------------------------------

def test_a_call_is_named_by_method_origin_and_path_never_its_query():
    named = str(_Call("POST", "https://api.example/v1/things?token=abc", 5))
    assert named == "POST https://api.example:443/v1/things"  # (how every error names it)


def test_an_exceeded_deadline_says_the_seconds_and_carries_the_request():
    prep = requests.Request("GET", URL).prepare()
    exc = _Call("GET", URL, (1.0, 1.5)).deadline_exceeded(prep)
    assert isinstance(exc, E.ReadTimeout)
    assert exc.request is prep
    names(exc, "GET https://api.example:443/v1/things", "2.5 seconds", "timeout")


@pytest.mark.parametrize("url,where,to,why", [
    (URL, None, None, "cannot follow safely"),
    (URL, "https://evil\\@api.example/", None, "cannot follow safely"),
    (URL, "http://api.example/v1/things", "http://api.example:80", "plain http"),
    (URL, "https://other.example/", "https://other.example:443", "another origin"),
    (URL, "https://api.example:8443/", "https://api.example:8443", "another origin"),
    ("http://api.example/v1/things", "http://other.example/", "http://other.example:80",
     "another origin"),
    ("http://api.example/v1/things", "https://other.example/", "https://other.example:443",
     "another origin"),
])
def test_a_refused_redirect_says_where_it_pointed_and_why(url, where, to, why):
    res = _redirect(b"")
    exc = _Call("GET", url, None).refused_redirect(302, where, res)
    origin = "https://api.example:443" if url == URL else "http://api.example:80"
    names(exc, f"GET {origin}/v1/things", "302", why, "credentials")  # (where to fix it)
    if to is not None:
        assert to in str(exc)
    if where is not None:  # the origin only: nothing of the path or what precedes a host
        assert "evil" not in str(exc) and "/v1/things" not in str(exc).split(" to ", 1)[1]
    assert exc.response is res


# -- an exception's copy without secrets ------------------------------------------

def test_a_redacted_copy_keeps_the_request_and_the_response():
    token = "tok-" + "c0py" * 6
    remember(token)
    prep = requests.Request("GET", URL).prepare()
    res = _answer(b"")
    exc = E.ChunkedEncodingError(f"broken at /{token}", request=prep, response=res)
    clean = _without_secrets(exc)
    assert clean is not exc and token not in str(clean)
    assert clean.request is prep and clean.response is res

    alone = _without_secrets(E.ReadTimeout(f"read /{token}", request=prep))
    assert alone.request is prep and alone.response is None


class _OddError(E.ConnectionError):
    """A subclass whose constructor takes something else."""

    def __init__(self, code: int, request=None) -> None:
        super().__init__(f"odd failure {code}", request=request)


def test_the_fallback_copy_keeps_the_request_and_the_clean_text():
    token = "tok-" + "f4llb4ck" * 3
    remember(token)
    prep = requests.Request("GET", URL).prepare()
    exc = _OddError(1, request=prep)
    exc.args = (f"failed at /{token} after 3 tries",)
    clean = _without_secrets(exc)
    assert type(clean) is E.ConnectionError
    assert str(clean) == "failed at /<redacted> after 3 tries"  # (the text, secret replaced)
    assert clean.request is prep


# -- verify and proxies, resolved once ---------------------------------------------

@pytest.fixture
def no_proxy_env(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE",
                 "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def test_verify_is_true_by_default_without_a_ca_bundle_in_the_environment(no_proxy_env):
    no_proxy_env.setenv("REQUESTS_CA_BUNDLE", "/env/ca.pem")
    for transport in (Transport(pacing=False, trust_env=False), ):
        assert transport.verify_for(None) is True and transport.verify_for(True) is True
        assert transport.verify_for(False) is False
        assert transport.verify_for("/mine/ca.pem") == "/mine/ca.pem"
        transport.close()
    trusting = Transport(pacing=False)
    assert trusting.verify_for(None) == "/env/ca.pem"
    assert trusting.verify_for("/mine/ca.pem") == "/mine/ca.pem"
    trusting.close()


def test_the_environment_proxies_are_read_once_per_origin(no_proxy_env):
    no_proxy_env.setenv("HTTPS_PROXY", "http://proxy-a.example:3128")
    transport = Transport(pacing=False)
    assert transport.proxies_for(URL, None) == {"https": "http://proxy-a.example:3128"}
    no_proxy_env.setenv("HTTPS_PROXY", "http://proxy-b.example:3128")
    # the same origin (another path): as resolved the first time
    assert transport.proxies_for("https://api.example/v2/other", None) == \
        {"https": "http://proxy-a.example:3128"}
    # another origin reads the environment as it is now
    assert transport.proxies_for("https://other.example/", None) == \
        {"https": "http://proxy-b.example:3128"}
    transport.close()


def test_no_proxy_is_applied_per_host(no_proxy_env):
    no_proxy_env.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    no_proxy_env.setenv("NO_PROXY", "internal.example")
    transport = Transport(pacing=False)
    assert "https" not in transport.proxies_for("https://internal.example/x", None)
    assert transport.proxies_for(URL, None)["https"] == "http://proxy.example:3128"
    assert "https" not in transport.proxies_for("https://internal.example/y", None)
    transport.close()


def test_a_callers_no_proxy_narrows_the_environment_for_that_call_only(no_proxy_env):
    no_proxy_env.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    transport = Transport(pacing=False)
    assert transport.proxies_for(URL, {"no_proxy": "api.example"}) == \
        {"no_proxy": "api.example"}
    assert transport.proxies_for(URL, None) == {"https": "http://proxy.example:3128"}
    assert transport.proxies_for(URL, {"https": "http://mine.example:8080", "http": ""}) == \
        {"https": "http://mine.example:8080", "http": ""}
    # as requests (and 1.0.1 through it): a scheme set to "" goes direct
    assert transport.proxies_for(URL, {"http": "", "https": ""}) == {"http": "", "https": ""}
    assert transport.proxies_for(URL, "") == {"https": "http://proxy.example:3128"}
    transport.close()


def test_trust_env_false_ignores_the_environments_proxies(no_proxy_env):
    no_proxy_env.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    transport = Transport(pacing=False, trust_env=False)
    assert transport.proxies_for(URL, None) == {}
    assert transport.proxies_for(URL, {"https": "http://mine.example:8080"}) == \
        {"https": "http://mine.example:8080"}
    transport.close()


def test_the_proxy_cache_holds_256_origins_the_oldest_forgotten_first(no_proxy_env):
    no_proxy_env.setenv("HTTPS_PROXY", "http://proxy-a.example:3128")
    transport = Transport(pacing=False)
    for i in range(256):
        transport.proxies_for(f"https://host{i}.example/", None)
    transport.proxies_for("https://one-more.example/", None)
    no_proxy_env.setenv("HTTPS_PROXY", "http://proxy-b.example:3128")
    assert transport.proxies_for("https://one-more.example/", None) == \
        {"https": "http://proxy-a.example:3128"}  # cached
    assert transport.proxies_for("https://host1.example/", None) == \
        {"https": "http://proxy-a.example:3128"}  # cached
    assert transport.proxies_for("https://host0.example/", None) == \
        {"https": "http://proxy-b.example:3128"}  # the oldest: forgotten, read again
    transport.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_gets_its_own_pool_and_reads_the_environment_again(no_proxy_env):
    no_proxy_env.setenv("HTTPS_PROXY", "http://parent-proxy.example:3128")
    transport = Transport(pacing=False)
    transport.proxies_for(URL, None)
    parents = transport.session
    no_proxy_env.setenv("HTTPS_PROXY", "http://child-proxy.example:3128")

    def child():
        own = transport.session is not parents
        proxies = transport.proxies_for(URL, None)
        transport.close()  # (takes the child's own lock)
        return [own, proxies]

    assert in_forked_child(child) == [True, {"https": "http://child-proxy.example:3128"}]
    assert transport.session is parents  # the parent's pool and what it read, untouched
    assert transport.proxies_for(URL, None) == {"https": "http://parent-proxy.example:3128"}
    transport.close()


# -- what a call would send, seen on a call whose deadline is spent before sending --

def _unsent(**kwargs) -> DeadlineExceeded:
    """A (0, 0) timeout is a whole deadline of 0 s: the call is prepared, then
    refused before anything is sent, with the request it would have sent."""
    transport = Transport(pacing=False)
    try:
        with pytest.raises(DeadlineExceeded) as caught:
            transport.send(kwargs.pop("method", "GET"), URL, timeout=(0, 0), **kwargs)
    finally:
        transport.close()
    return caught.value


def test_a_call_with_no_time_left_is_never_sent_and_names_the_call():
    exc = _unsent(method="POST", headers={})
    names(exc, "POST https://api.example:443/v1/things", "0 seconds")
    assert exc.request.method == "POST"


def test_a_call_carries_pcpis_headers_under_the_callers():
    sent = _unsent(headers={"Accept": "application/json", "x-redlock-auth": "t0ken"}).request
    assert sent.headers["User-Agent"].startswith("pcpi/")
    assert sent.headers["Accept-Encoding"] == "gzip, deflate"
    assert sent.headers["Accept"] == "application/json"  # the caller's wins
    assert sent.headers["x-redlock-auth"] == "t0ken"


def test_a_call_sends_its_params_and_its_body_with_the_body_type():
    sent = _unsent(method="POST", headers={}, params={"q": "a b"},
                   body=Payload.of(json={"name": "p"})).request
    assert sent.url == URL + "?q=a+b"
    assert sent.body == b'{"name": "p"}'
    assert sent.headers["Content-Type"] == "application/json"

    own = _unsent(method="POST", headers={"content-type": "application/vnd.x+json"},
                  body=Payload.of(json={"name": "p"})).request
    assert own.headers["Content-Type"] == "application/vnd.x+json"


def test_a_verify_of_the_wrong_type_says_which_type_it_got():
    from pcpi._options import parse_verify

    with pytest.raises(TypeError, match="not int$"):
        parse_verify(0)
    with pytest.raises(TypeError, match="not list$"):
        parse_verify([])


def test_a_transport_has_the_documented_defaults_and_bounds(no_proxy_env):
    transport = Transport()
    assert (transport.pool_connections, transport.pool_maxsize) == (200, 200)
    assert transport.pacer is not None  # pacing on
    assert transport.max_response_bytes == 512 * MiB
    transport.close()
    sent = _unsent(headers={}).request  # what every call carries
    assert sent.headers["User-Agent"].startswith(f"pcpi/{pcpi.__version__} ")
    assert sent.headers["Connection"] == "keep-alive"
    smallest = Transport(pool_connections=1, pool_maxsize=1, max_response_bytes=1)
    assert (smallest.pool_connections, smallest.pool_maxsize, smallest.max_response_bytes) \
        == (1, 1, 1)
    smallest.close()
    for bad, bound in (({"pool_connections": 0}, "at least 1"),
                       ({"pool_maxsize": 0}, "at least 1"),
                       ({"max_response_bytes": 0}, "positive")):
        with pytest.raises(ValueError) as info:
            Transport(**bad)
        names(info.value, *bad, bound)  # the option to fix, and what it must be


def test_curl_ca_bundle_is_read_as_requests_reads_it(no_proxy_env):
    no_proxy_env.delenv("REQUESTS_CA_BUNDLE", raising=False)
    no_proxy_env.setenv("CURL_CA_BUNDLE", "/etc/ssl/corporate.pem")
    transport = Transport(pacing=False)
    assert transport.verify_for(None) == "/etc/ssl/corporate.pem"
    transport.close()


def test_tenants_warned_about_are_remembered_up_to_256(no_proxy_env):
    import warnings

    transport = Transport(pacing=False)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        for i in range(300):
            transport.unverified(f"https://t{i}.example", f"tenant-{i}")
        said = len(got)
        transport.unverified("https://t44.example", "tenant-44")  # the 256th newest: quiet
        assert len(got) == said
        transport.unverified("https://t43.example", "tenant-43")  # the 257th: said again
        assert len(got) == said + 1
        transport.unverified("https://t299.example", "tenant-299")  # remembered: quiet
        transport.unverified("https://t0.example", "tenant-0")  # forgotten first: again
        transport.unverified("https://t0.example:8443", "tenant-0")  # another origin
    transport.close()
    assert said == 300 and len(got) == 303
    names(got[0].message, "(https://t0.example:443)", "'tenant-0'")

