"""What the endpoint catalogue changes for a call (issue 22, items 5 and 6), over
real sockets: a POST Prisma Cloud's specs mark read-only is resent after a 5xx or
a broken connection, as a GET is; a write or an unknown POST keeps the rule that
never repeats it silently; a deprecated endpoint is said once, naming its
replacement."""

from __future__ import annotations

import warnings

import pytest

from pcpi import _catalogue, errors
from pcpi._bounded import BoundedCache
from pcpi._catalogue import lookup

from ._fakes import names
from .conftest import saas_manager


@pytest.fixture
def cspm(tenant):
    m = saas_manager(tenant)
    yield m.create_cspm_session()
    m.close()


def test_the_catalogue_says_which_posts_only_read():
    assert lookup("POST", "/v2/alert").read_only
    assert not lookup("POST", "/alert/dismiss").read_only
    assert lookup("POST", "/code/api/v2/code-issues/branch_scan") is None  # not in its specs


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_read_only_post_is_resent_after_a_gateway_error(tenant, cspm, status):
    tenant.add_route("POST", "/v2/alert", 200, {"items": [], "totalRows": 0})
    tenant.fail_next(status, 1, path="/v2/alert")
    res = cspm.request("POST", "/v2/alert", json={"limit": 10})
    assert res.status_code == 200
    assert tenant.stats()["requests_by_endpoint"]["POST /v2/alert"] == 2


def test_a_read_only_post_is_resent_after_a_broken_connection(tenant, cspm):
    tenant.add_route("POST", "/v2/alert", 200, {"items": []})
    tenant.reset_next(1, path="/v2/alert")
    assert cspm.request("POST", "/v2/alert", json={}).status_code == 200
    assert tenant.stats()["requests_by_endpoint"]["POST /v2/alert"] == 2


@pytest.mark.parametrize("path", ["/alert/dismiss", "/code/api/v2/code-issues/branch_scan"])
def test_a_write_or_an_unknown_post_is_not_resent_after_a_500(tenant, cspm, path, caplog):
    tenant.add_route("POST", path, 200, {"ok": True})
    tenant.fail_next(500, 1, path=path)
    res = cspm.request("POST", path, json={})
    assert res.status_code == 500
    assert tenant.stats()["requests_by_endpoint"][f"POST {path}"] == 1
    names(caplog.text, f"POST {tenant.saas_url}{path}", "idempotent=True")  # (it only reads)


def test_an_unknown_post_marked_idempotent_is_resent(tenant, cspm):
    path = "/code/api/v2/code-issues/branch_scan"
    tenant.add_route("POST", path, 200, {"data": []})
    tenant.fail_next(500, 1, path=path)
    assert cspm.request("POST", path, json={}, idempotent=True).status_code == 200
    assert tenant.stats()["requests_by_endpoint"][f"POST {path}"] == 2


def test_a_deprecated_endpoint_is_said_once_naming_its_replacement(tenant, cspm, monkeypatch):
    # "once per process": a fresh memory, so the test does not depend on whether an
    # earlier test in this process (mutmut runs the suite twice in one) said it already
    monkeypatch.setattr(_catalogue, "_warned", BoundedCache(_catalogue.MAX_WARNED))
    tenant.add_route("GET", "/compliance/posture", 200, {"summary": {}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            assert cspm.request("GET", "/compliance/posture").status_code == 200
    said = [w for w in caught if issubclass(w.category, errors.DeprecatedEndpointWarning)]
    assert len(said) == 1, [str(w.message) for w in caught]
    assert "GET /v2/compliance/posture" in str(said[0].message)
    assert said[0].filename == __file__  # it points at the caller's line


def test_an_endpoint_that_is_not_deprecated_says_nothing(tenant, cspm):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cspm.request("GET", "/cloud")
    assert not [w for w in caught if issubclass(w.category, errors.DeprecatedEndpointWarning)]


class _Waits(list):
    """Records the pacer's waits and moves its clock as real sleeps would."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("path,paced", [("/alert/policy", True), ("/cloud", False)])
def test_an_endpoint_with_a_documented_limit_is_paced_at_it_from_its_first_call(
        tenant, path, paced):
    # GET /alert/policy: 1 call a second, burst 5 (its spec); this tenant's answers
    # carry no rate-limit headers, so only the catalogue can pace it
    from pcpi import Pacer

    from .conftest import quiet_policy

    waits = _Waits()
    tenant.add_route("GET", path, 200, [])
    m = saas_manager(tenant, retry_policy=quiet_policy(sleep=waits),
                     pacing=Pacer(clock=waits.clock))
    cspm = m.create_cspm_session()
    assert [cspm.request("GET", path).status_code for _ in range(7)] == [200] * 7
    m.close()
    # the burst of 5 at once, then a second a call (turns asked for half a second ahead)
    assert sum(waits) == (pytest.approx(2.0, abs=0.01) if paced else 0), waits


def test_computes_list_endpoints_are_paced_at_30_per_30_s_where_no_headers_come():
    # the fake tenant answers Compute's limit as Prisma does: bare 429s, nothing announced
    import time

    from pcpi import Backoff
    from pcpi.testing import FakeTenant

    from .conftest import quiet_policy

    with FakeTenant(compute_rate_limit=(1, 30)) as tenant:
        fast = Backoff(initial=0.1, maximum=0.1, jitter=0)  # (unpaced: 429s every 0.1 s)
        m = saas_manager(tenant, retry_policy=quiet_policy(sleep=time.sleep, backoff=fast))
        cwp = m.create_cwp_session()
        codes = [cwp.request("GET", "/api/v1/images").status_code for _ in range(32)]
        st = tenant.stats()
        m.close()
    assert codes == [200] * 32
    # the 31st call waits for the next second's token: at most one 429 (the tenant's
    # bucket starts a moment after the client's), not one per quick backoff (about 20)
    assert st["responses_by_status"].get("429", 0) <= 1, st["responses_by_status"]
