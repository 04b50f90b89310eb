"""Shared fixtures: a fresh fake tenant per test, over real HTTPS on 127.0.0.1."""

from __future__ import annotations

import pytest
import requests

from pcpi.testing import FakeTenant


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
