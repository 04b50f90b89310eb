"""Shared fixtures: a fresh fake tenant per test, over real HTTPS on 127.0.0.1."""

from __future__ import annotations

import pytest
import requests

from pcpi.testing import FakeTenant, bypass_proxies

from . import _secrets
from ._fakes import Sleeps, quiet_policy

__all__ = ["probe", "cspm_token", "saas_manager", "Sleeps", "quiet_policy"]  # (Sleeps and
# quiet_policy live in tests/_fakes.py; named here too for the modules that import them here)

_secrets.install()


@pytest.fixture(autouse=True, scope="session")
def _no_proxy_for_loopback():
    """The suite's servers are on loopback: a proxy set in the environment (a
    corporate laptop's HTTPS_PROXY) is not asked for them, as users' own tests
    should do (README).  Tests of proxies set the environment themselves."""
    with bypass_proxies("127.0.0.1", "localhost", "::1"):
        yield


@pytest.fixture(autouse=True)
def _watch_secrets():
    """Every test runs under the secrets watch (tests/_secrets.py)."""
    _secrets.start_test()
    yield
    _secrets.stop_test()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when in ("setup", "call"):
        setattr(item, f"_secrets_{report.when}", report)
    _secrets.check_report(item, report)
    return report


@pytest.fixture
def tenant():
    with FakeTenant() as t:
        yield t


def probe(tenant) -> requests.Session:
    """A plain requests.Session that trusts the tenant's CA, for probing the
    tenant itself (not for testing pcpi).  trust_env is off because this machine
    sets REQUESTS_CA_BUNDLE, which would override a Session-level verify."""
    s = requests.Session()
    s.verify = tenant.ca_path
    s.trust_env = False
    return s


@pytest.fixture
def http(tenant):
    s = probe(tenant)
    yield s
    s.close()


def cspm_token(http: requests.Session, tenant) -> str:
    res = http.post(f"{tenant.url}/login", json={"username": tenant.access_key,
                                                  "password": tenant.secret_key}, timeout=10)
    assert res.status_code == 200, res.text
    return res.json()["token"]


def saas_manager(tenant, **options):
    from pcpi.saas_session_manager import SaaSSessionManager

    options.setdefault("retry_policy", quiet_policy())
    return SaaSSessionManager("fake", tenant.access_key, tenant.secret_key, tenant.saas_url,
                              verify=tenant.ca_path, **options)
