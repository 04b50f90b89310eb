"""Network-free tests of the policy behind the security rules: origins, redaction,
replayable bodies, the idempotency table, pacing bounds, header values."""

from __future__ import annotations

import io
import json
import math
import os
import pickle

import pytest

from pcpi import Pacer
from pcpi._body import EMPTY, Payload
from pcpi._origin import check_learned_url, describe, origin_of, same_origin
from pcpi._policy import NOT_PROCESSED, is_safe_to_repeat, may_resend_after
from pcpi._redact import Secret, SecretBytes, redact, remember
from pcpi._transport import _redirected, total_seconds, valid_header_value
from pcpi.errors import OriginError

from .._fakes import Clock, limit_headers


# ---------------------------------------------------------------------- origins
@pytest.mark.parametrize("a,b,same", [
    ("https://api.prismacloud.io/cloud", "https://API.PrismaCloud.io./x?y", True),
    ("https://api.prismacloud.io", "https://api.prismacloud.io:443/", True),
    ("http://console:80/a", "http://console/b", True),
    ("https://api.prismacloud.io", "http://api.prismacloud.io", False),
    ("https://api.prismacloud.io", "https://api.prismacloud.io:8443", False),
    ("https://api.prismacloud.io", "https://api2.prismacloud.io", False),
    ("https://api.prismacloud.io", "https://user@evil.example", False),
    ("https://[::1]:8083/a", "https://[::1]:8083/b", True),
    ("https://[::1]:8083", "https://127.0.0.1:8083", False),
    ("https://host", "ftp://host", False),
    ("https://host", "https://host:99999", False),
    ("https://host", "/relative", False),
])
def test_same_origin(a, b, same):
    assert same_origin(a, b) is same


def test_an_origin_is_described_without_path_query_or_userinfo():
    assert describe("https://user:pw@Evil.Example/steal?token=x") == "https://evil.example:443"
    assert describe("http://[::1]/x") == "http://[::1]:80"
    assert describe("nonsense") == "an unusable URL"
    assert origin_of("https://h:8443/p") == ("https", "h", 8443)


def test_learned_urls_must_be_https_when_the_tenant_is():
    tenant = "https://api.prismacloud.io"
    assert check_learned_url("https://us-east1.cloud.twistlock.com/x/", tenant, "u") == \
        "https://us-east1.cloud.twistlock.com/x"
    for bad in ("http://us-east1.cloud.twistlock.com", "//evil", "javascript:x", None, 3):
        with pytest.raises(OriginError):
            check_learned_url(bad, tenant, "the Compute URL")
    # the user wrote http for the tenant: http learned URLs are allowed
    assert check_learned_url("http://console:8081", "http://console:8081", "u") == \
        "http://console:8081"


# ---------------------------------------------------------------------- redaction
def test_redaction_hides_the_given_secrets_and_any_jwt():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    text = f'{{"echo": "Bearer {jwt}", "key": "s3cret-key-value", "pw": "pw7char"}}'
    out = redact(text, ["s3cret-key-value", "pw7char", None, ""])
    assert jwt not in out and "s3cret-key-value" not in out and "pw7char" not in out
    assert out.count("<redacted>") >= 3  # (and any secret other tests left remembered)
    assert redact("nothing here", ["s3cret-key-value"]) == "nothing here"


def test_remembered_keys_outlive_any_number_of_tokens():
    key = "lasting-" + os.urandom(8).hex()
    remember(key, lasting=True)
    for i in range(1000):
        remember(f"token-{i}-" + os.urandom(8).hex())
    assert key not in redact(f"echo {key} echo")
    # ... and a token re-remembered is the newest again, not the first to go
    token = "token-" + os.urandom(8).hex()
    remember(token)
    for i in range(200):
        remember(f"other-{i}-" + os.urandom(8).hex())
    remember(token)
    for i in range(200):
        remember(f"more-{i}-" + os.urandom(8).hex())
    assert token not in redact(f"echo {token}")


def test_secrets_hide_from_repr_only():
    key = Secret("s3cret-key-value")
    assert key == "s3cret-key-value" and f"{key}" == "s3cret-key-value" and str(key) == key
    assert repr(key) == "'<redacted>'" and "s3cret" not in repr({"password": key})
    assert json.dumps({"password": key}) == '{"password": "s3cret-key-value"}'
    assert repr(SecretBytes(b"body")) == "b'<redacted>'" and SecretBytes(b"body") == b"body"
    assert pickle.loads(pickle.dumps(key)) == key


# ---------------------------------------------------------------------- bodies
def test_bodies_encode_once_like_requests():
    assert Payload.of() is EMPTY and EMPTY.replayable
    js = Payload.of(json={"a": 1})
    assert js.data == b'{"a": 1}' and js.content_type == "application/json"
    form = Payload.of(data={"a": "b c"})
    assert form.data == "a=b+c" and form.content_type == "application/x-www-form-urlencoded"
    raw = Payload.of(data=b"xyz")
    assert raw.data == b"xyz" and raw.content_type is None and raw.replayable


def test_a_multipart_upload_is_read_once_into_bytes():
    fh = io.BytesIO(b"id,name\n1,a\n")
    multi = Payload.of(files={"file": ("r.csv", fh)})
    assert isinstance(multi.data, bytes) and b"1,a" in multi.data and multi.replayable
    assert multi.content_type.startswith("multipart/form-data; boundary=")


def test_a_seekable_stream_is_rewound_to_where_it_started():
    fh = io.BytesIO(b"0123456789")
    fh.read(3)
    body = Payload.of(data=fh)
    assert body.replayable
    fh.read()  # an attempt consumed it
    body.rewind()
    assert fh.read() == b"3456789"


def test_an_iterator_is_not_replayable_and_says_why():
    body = Payload.of(data=iter([b"a", b"b"]))
    assert not body.replayable and "cannot be sent again" in body.not_replayable

    class Pipe(io.RawIOBase):
        def readable(self):
            return True

        def seekable(self):
            return False

    assert not Payload.of(data=Pipe()).replayable


# ---------------------------------------------------------------------- idempotency
@pytest.mark.parametrize("status", [425, 429, 503])
def test_answers_that_prove_nothing_was_processed_allow_any_resend(status):
    assert status in NOT_PROCESSED
    assert may_resend_after(status, safe=False) and may_resend_after(status, safe=True)


@pytest.mark.parametrize("status", [500, 502, 504])
def test_gateway_errors_are_resent_only_when_safe(status):
    assert may_resend_after(status, safe=True) and not may_resend_after(status, safe=False)


def test_what_is_safe_to_repeat():
    assert is_safe_to_repeat("GET", "/cloud") and is_safe_to_repeat("DELETE", "/x")
    assert is_safe_to_repeat("POST", "/search/config/page")
    assert not is_safe_to_repeat("POST", "/v2/policy")
    assert not is_safe_to_repeat("PATCH", "/v2/policy")
    assert is_safe_to_repeat("POST", "/v2/policy", idempotent=True)
    assert not is_safe_to_repeat("GET", "/cloud", idempotent=False)


@pytest.mark.parametrize("status,method,expect", [
    (303, "POST", "GET"), (303, "HEAD", "HEAD"), (302, "POST", "GET"), (301, "POST", "GET"),
    (302, "PUT", "PUT"), (307, "POST", "POST"), (308, "POST", "POST"),
])
def test_redirect_method_rewriting(status, method, expect):
    body = Payload.of(json={"a": 1})
    new_method, new_body = _redirected(status, method, body)
    assert new_method == expect
    assert (new_body is body) == (expect == method)


# ---------------------------------------------------------------------- header values, time
@pytest.mark.parametrize("value,ok", [
    ("eyJ.abc.def", True), ("", True), ("Bearer x", True), ("a\tb", True), (b"bytes", True),
    (" lead", False), ("\tlead", False), ("a\r\nX-Evil: 1", False), ("a\nb", False),
    ("a\x00b", False), ("a\x7fb", False), ("caf\u00e9", True), ("\u2028x", False), (None, False),
])
def test_valid_header_values(value, ok):
    assert valid_header_value(value) is ok


def test_backoff_never_overflows():
    from pcpi import Backoff

    for backoff in (Backoff(jitter=0), Backoff(multiplier=1e300, jitter=0)):
        assert backoff.delay(5000) == backoff.maximum and backoff.delay(10**9) == 32


def test_total_seconds_of_a_timeout():
    assert total_seconds((10, 180)) == 190
    assert total_seconds(5) == 10
    assert total_seconds((3, None)) is None and total_seconds(None) is None  # "forever"


# ---------------------------------------------------------------------- pacing bounds
KEY = ("GET", "api.example", "/cloud")


@pytest.mark.parametrize("rate,burst,remaining,retry_after", [
    ("0.000001", "1", "0", "1e308"), ("1e-300", "1", "0", "nan"), ("10", "1", "-1e308", "-5"),
    ("10", "1e308", "0", "inf"), ("100000", "1", "0", "Wed, 21 Oct 2999 07:28:00 GMT"),
])
def test_no_pacing_wait_exceeds_max_wait(rate, burst, remaining, retry_after):
    pacer = Pacer(clock=Clock(), max_wait=120)
    pacer.observe(KEY, 200, limit_headers(rate, burst, remaining))
    pacer.observe(KEY, 429, {**limit_headers(rate, burst, remaining), "Retry-After": retry_after})
    waits = [pacer.take(KEY)[0] for _ in range(200)]
    assert all(0 <= w <= 120 and math.isfinite(w) for w in waits)
    limit = pacer.limit(KEY)  # an absurd rate is not believed at all
    assert limit is None or (0.5 / 64 <= limit[0] <= 100_000 and 1 <= limit[1] <= 100_000)


@pytest.mark.parametrize("bad", [limit_headers("nan"), limit_headers("inf"),
                                 limit_headers("10", "nan"), limit_headers("10", "1", "-inf"),
                                 limit_headers("-5"), limit_headers("ten")])
def test_headers_that_are_not_finite_numbers_are_ignored(bad):
    pacer = Pacer(clock=Clock())
    pacer.observe(KEY, 200, bad)
    assert pacer.limit(KEY) is None and pacer.take(KEY) == (0.0, True)


def test_pacing_state_is_bounded():
    pacer = Pacer(clock=Clock(), max_endpoints=16)
    for i in range(1000):
        key = ("GET", "api.example", f"/path-{i}")
        pacer.take(key)                                  # a first call, alone
        pacer.observe(key, 200, {})                      # not limited
        pacer.observe(key, 200, limit_headers("10", "5", "5"))  # now limited
        pacer.report_due(key)
    assert max(len(pacer._free), len(pacer._paces), len(pacer._reported)) <= 16
    assert pacer.limit(("GET", "api.example", "/path-999")) is not None
    assert pacer.limit(("GET", "api.example", "/path-0")) is None  # forgotten first
