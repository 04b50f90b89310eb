"""The transport's small decisions, without sending anything: how ``verify``
values are read, which arguments are refused, how a redirect rewrites a call,
which Content-Length is believed, and how an exception's text loses secrets."""

from __future__ import annotations

import pytest
import requests

from pcpi._body import EMPTY, Payload
from pcpi._options import parse_verify
from pcpi._redact import remember
from pcpi._transport import (
    Transport,
    _declared_length,
    _redirected,
    _without_secrets,
)

from .._fakes import names

E = requests.exceptions


@pytest.mark.parametrize("given,expect", [
    (True, True), (False, False), (None, True),
    ("", True), ("true", True), (" TRUE ", True), ("yes", True), ("1", True),
    ("false", False), ("False", False), ("no", False), ("0", False),
    ("/etc/ca.pem", "/etc/ca.pem"), (" /etc/ca.pem ", "/etc/ca.pem"),
])
def test_verify_values_read_as_1_0_1_credential_files_write_them(given, expect):
    assert parse_verify(given) == expect


@pytest.mark.parametrize("given", [1, 0.5, ["ca.pem"], b"ca.pem"])
def test_other_verify_values_are_refused_by_type(given):
    with pytest.raises(TypeError) as info:
        parse_verify(given)
    names(info.value, "verify", type(given).__name__)  # the option, and what it was given


@pytest.mark.parametrize("options,match", [
    (dict(pool_connections=0), "pool_connections and pool_maxsize"),
    (dict(pool_maxsize=0), "pool_connections and pool_maxsize"),
    (dict(max_response_bytes=0), "max_response_bytes"),
    (dict(max_response_bytes=-1), "max_response_bytes"),
])
def test_unusable_transport_settings_are_refused(options, match):
    with pytest.raises(ValueError, match=match):
        Transport(**options)


def test_max_response_bytes_none_means_unbounded_by_choice():
    transport = Transport(max_response_bytes=None, pacing=False)
    assert transport.max_response_bytes is None and transport.pacer is None
    transport.close()


@pytest.mark.parametrize("status,method,kept", [
    (301, "POST", False), (302, "POST", False), (303, "POST", False), (303, "PUT", False),
    (303, "GET", False), (303, "HEAD", True), (301, "GET", True), (302, "PUT", True),
    (307, "POST", True), (308, "POST", True), (307, "DELETE", True),
])
def test_a_redirect_keeps_or_drops_the_method_and_body(status, method, kept):
    payload = Payload.of(json={"a": 1})
    new_method, new_payload = _redirected(status, method, payload)
    if kept:
        assert (new_method, new_payload) == (method, payload)
    else:
        assert (new_method, new_payload) == ("GET", EMPTY)


def _response(status: int, method: str = "GET", length: str = "") -> requests.Response:
    res = requests.Response()
    res.status_code = status
    res.request = requests.Request(method, "https://api.example/x").prepare()
    if length:
        res.headers["Content-Length"] = length
    return res


@pytest.mark.parametrize("status,method,length,expect", [
    (200, "GET", "1234", 1234),
    (200, "GET", "", 0),
    (200, "GET", "12x", 0),            # not a number: urllib3 refuses the framing itself
    (200, "GET", "-5", 0),
    (200, "GET", "１２", 0),            # digits, but not ASCII ones
    (200, "GET", "9" * 20, 0),         # absurd
    (200, "HEAD", "1234", 0),          # no body follows a HEAD
    (204, "GET", "1234", 0),
    (304, "GET", "1234", 0),
    (101, "GET", "1234", 0),
])
def test_which_content_length_is_believed(status, method, length, expect):
    assert _declared_length(_response(status, method, length)) == expect


class _OddError(E.ConnectionError):
    """A subclass whose constructor takes something else."""

    def __init__(self, code: int) -> None:
        super().__init__(f"odd failure {code}")


def test_an_exception_without_secrets_is_kept_as_it_is():
    exc = E.ConnectionError("connection refused")
    assert _without_secrets(exc) is exc
    assert not getattr(exc, "_pcpi_replaced", False)


def test_an_exception_with_a_secret_is_replaced_by_a_redacted_copy():
    token = "tok-" + "s3cr3t" * 4
    remember(token)
    exc = E.ReadTimeout(f"GET /echo/{token} timed out")
    clean = _without_secrets(exc)
    assert type(clean) is E.ReadTimeout and token not in str(clean)
    assert "<redacted>" in str(clean) and exc._pcpi_replaced


def test_an_exception_class_with_another_signature_becomes_a_connection_error():
    token = "tok-" + "0dd" * 8
    remember(token)
    exc = _OddError(1)
    exc.args = (f"failed at /{token}",)
    clean = _without_secrets(exc)
    assert type(clean) is E.ConnectionError and token not in str(clean)
