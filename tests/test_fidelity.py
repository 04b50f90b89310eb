"""pcpi against a fake tenant shaped more like Prisma Cloud: Compute on its own
host and port, gzip and chunked answers, page tokens that expire."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

from pcpi import errors
from pcpi.testing import COMPUTE_HOST, FakeTenant

from .conftest import saas_manager


def _job(m):
    """A small 1.0.1-style job over both APIs: accounts, one RQL search, Compute hosts."""
    cspm = m.create_cspm_session()
    cwp = m.create_cwp_session()
    with ThreadPoolExecutor(20) as pool:
        accounts = list(pool.map(
            lambda a: cspm.request("GET", f"/cloud/{a['accountId']}").json()["name"],
            cspm.request("GET", "/cloud").json()))
        hosts = list(pool.map(
            lambda off: len(cwp.request("GET", "/api/v1/hosts",
                                        params={"offset": off, "limit": 50}).json()),
            range(0, 120, 50)))
    found = cspm.config_search_request({"query": "config from cloud.resource where x",
                                        "limit": 100})
    return accounts, hosts, [i["id"] for i in found["data"]["items"]], cwp


def test_a_job_gives_the_same_results_on_a_tenant_shaped_like_prisma():
    with FakeTenant(accounts=40, search_items=250) as plain:
        m = saas_manager(plain)
        expected = _job(m)[:3]
        m.close()
    with FakeTenant(accounts=40, search_items=250, compute_host=True, gzip=True, chunked=True,
                    rate_limit=(400, 40)) as tenant:
        m = saas_manager(tenant)
        *got, cwp = _job(m)
        st = tenant.stats()
        m.close()
    assert got[0] == expected[0] and got[1] == expected[1] == [50, 50, 20]
    assert len(got[2]) == 250 and len(set(got[2])) == 250
    assert urlsplit(cwp.api_url).hostname == COMPUTE_HOST
    assert st["compute_logins"] == 1 and st["logins"] == 1
    assert st["responses_by_status"].get("429", 0) == 0  # paced on both hosts
    # one pool, two origins: far fewer connections than calls
    assert st["connections_accepted"] <= 2 * 20 + 4


def test_a_page_token_that_expired_is_an_incomplete_result_not_a_short_one():
    with FakeTenant(search_items=300, search_page_size=100, page_token_lifetime=0.2) as tenant:
        m = saas_manager(tenant)
        cspm = m.create_cspm_session()
        pages = []

        def slow_reader(details, data, page, total):
            pages.append(len(data["items"]))
            if page == 0:  # (1.0.1 counts pages from 0)
                import time
                time.sleep(0.3)  # the next page's token expires meanwhile

        with pytest.raises(errors.IncompleteResultError) as info:
            cspm.config_search_request_function(
                {"query": "config from cloud.resource where x", "limit": 100}, slow_reader)
        m.close()
    assert pages == [100]
    text = str(info.value)
    assert "page 2" in text and "400" in text and "expired" in text, text
