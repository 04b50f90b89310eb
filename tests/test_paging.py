"""Session.paginate over real sockets against the fake tenant: each paging style
and each trap Prisma Cloud sets, failures and resume with every id checked once."""

from __future__ import annotations

import json
import time

import pytest

from pcpi import errors
from pcpi.testing import FakeTenant

from ._fakes import Sleeps, names, quiet_policy
from .conftest import saas_manager

WINDOW = {"timeRange": {"type": "relative", "value": {"amount": 24, "unit": "hour"}},
          "filters": [{"name": "alert.status", "operator": "=", "value": "open"}]}


def alert_ids(n):
    return [f"P-{i:07d}" for i in range(n)]


def endpoint_hits(tenant, endpoint):
    return tenant.stats()["requests_by_endpoint"].get(endpoint, 0)


# ---------------------------------------------------------------------- each style
def test_alerts_page_with_the_token_in_the_body_and_the_window_sent_once():
    # The tenant answers an empty page to a window sent again with a token, so a
    # pager that resent it would end early with part of the alerts.
    with FakeTenant(alerts=1234) as tenant:
        m = saas_manager(tenant)
        cspm = m.create_cspm_session()
        pager = cspm.paginate("POST", "/v2/alert", json=WINDOW, page_size=500)
        ids = [a["id"] for a in pager]
        assert ids == alert_ids(1234)
        assert (pager.items_read, pager.pages_read, pager.total, pager.resume) == \
            (1234, 3, 1234, None)
        # the last page with data carried a token too: the total ended the run
        # without asking for the empty page behind it
        assert endpoint_hits(tenant, "POST /v2/alert") == 3
        m.close()


def test_without_a_total_the_empty_page_after_the_last_token_ends_the_alerts():
    with FakeTenant(alerts=250, paging_totals=False) as tenant:
        m = saas_manager(tenant)
        pager = m.create_cspm_session().paginate("POST", "/v2/alert", json=WINDOW,
                                                 page_size=100)
        assert [a["id"] for a in pager] == alert_ids(250)
        assert pager.total is None and pager.pages_read == 4
        assert endpoint_hits(tenant, "POST /v2/alert") == 4
        m.close()


def test_alerts_by_get_take_the_token_in_the_query_without_the_filters():
    with FakeTenant(alerts=700) as tenant:
        m = saas_manager(tenant)
        pager = m.create_cspm_session().paginate(
            "GET", "/v2/alert?timeType=relative", params={"timeAmount": 24, "timeUnit": "hour"},
            page_size=300)
        assert [a["id"] for a in pager] == alert_ids(700)
        assert endpoint_hits(tenant, "GET /v2/alert") == 3
        m.close()


def test_a_token_too_long_for_a_url_is_not_sent_and_the_post_form_pages_on():
    with FakeTenant(alerts=300, page_token_bytes=43_000) as tenant:
        m = saas_manager(tenant)
        cspm = m.create_cspm_session()
        got = []
        with pytest.raises(errors.IncompleteResultError) as info:
            for alert in cspm.paginate("GET", "/v2/alert", page_size=100):
                got.append(alert["id"])
        assert got == alert_ids(100) and info.value.rows == 100
        names(info.value, "GET /v2/alert", "style='body-token'")  # the call, what to pass
        assert endpoint_hits(tenant, "GET /v2/alert") == 1  # (no 414 asked for)
        posted = cspm.paginate("POST", "/v2/alert", json={}, page_size=100)
        assert [a["id"] for a in posted] == alert_ids(300)
        m.close()


def test_scan_info_resources_and_audit_entries_are_found_where_the_catalogue_says():
    with FakeTenant(scan_resources=321, audit_logs=777) as tenant:
        m = saas_manager(tenant)
        cspm = m.create_cspm_session()
        scan = cspm.paginate("POST", "/v2/resource/scan_info", json={"filters": []},
                             page_size=100)
        assert [r["id"] for r in scan] == [f"rrn-{i:07d}" for i in range(321)]
        assert scan.total == 321 and endpoint_hits(tenant, "POST /v2/resource/scan_info") == 4
        audit = cspm.paginate("POST", "/audit/api/v1/log", json={"timeRange": {}})
        assert [e["id"] for e in audit] == [f"audit-{i:07d}" for i in range(777)]
        assert audit.pages_read == 2 and audit.total is None  # 500 a page, its cap
        m.close()


@pytest.mark.parametrize("kind,prefix", [("config", "res"), ("event", "evt")])
def test_rql_searches_page_on_their_page_path(kind, prefix):
    with FakeTenant(search_items=345, search_events=345, search_page_size=100) as tenant:
        m = saas_manager(tenant)
        pager = m.create_cspm_session().paginate(
            "POST", f"/search/{kind}", json={"query": f"{kind} from x", "limit": 1000})
        assert [r["id"] for r in pager] == [f"{prefix}-{i:07d}" for i in range(345)]
        assert pager.pages_read == 4 and pager.total is None  # (totalRows counts a page)
        st = tenant.stats()["requests_by_endpoint"]
        assert (st[f"POST /search/{kind}"], st[f"POST /search/{kind}/page"]) == (1, 3)
        m.close()


def test_compute_offsets_advance_by_the_objects_received_never_by_the_number_asked():
    # The tenant answers 20 a page whatever limit says (Prisma: 50, without a word)
    with FakeTenant(compute_items=130, compute_page_cap=20) as tenant:
        m = saas_manager(tenant)
        pager = m.create_cwp_session().paginate(
            "GET", "/api/v1/defenders", page_size=100)
        assert [d["_id"] for d in pager] == [f"defenders-{i:05d}" for i in range(130)]
        assert (pager.pages_read, pager.total) == (7, 130)
        assert endpoint_hits(tenant, "GET /compute/api/v1/defenders") == 7
        m.close()


def test_compute_without_a_total_ends_on_an_empty_page():
    with FakeTenant(compute_items=120, paging_totals=False) as tenant:
        m = saas_manager(tenant)
        pager = m.create_cwp_session().paginate("GET", "/api/v1/images",
                                                params={"limit": 100})
        assert [len(page) for page in pager.pages()] == [50, 50, 20]
        assert endpoint_hits(tenant, "GET /compute/api/v1/images") == 4
        m.close()


class ShortSleeps(Sleeps):
    """Records each wait and sleeps a little of it, so a bucket refills."""

    def __call__(self, seconds: float) -> None:
        super().__call__(seconds)
        time.sleep(min(seconds, 0.05))


def test_computes_bare_429s_are_waited_out_and_no_object_is_lost():
    sleeps = ShortSleeps()
    # 30 per 30 s scaled down (a token every 50 ms), and two bare 429s for sure
    # however slowly a loaded machine sends
    with FakeTenant(compute_items=200, compute_rate_limit=(20, 3)) as tenant:
        m = saas_manager(tenant, retry_policy=quiet_policy(sleep=sleeps))
        cwp = m.create_cwp_session()
        tenant.fail_next(429, 2, path="/compute/api/v1/hosts", body="Too Many Requests")
        pager = cwp.paginate("GET", "/api/v1/hosts")
        assert [h["_id"] for h in pager] == [f"hosts-{i:05d}" for i in range(200)]
        st = tenant.stats()
        m.close()
    assert st["responses_by_status"]["429"] >= 2 and pager.pages_read == 4
    assert len(sleeps) >= 2  # (each 429 waited for; then paced, as 429s without headers ask)
    assert st["requests_by_endpoint"]["GET /compute/api/v1/hosts"] == \
        4 + st["responses_by_status"]["429"]


# ---------------------------------------------------------------------- failures and resume
def test_a_page_that_keeps_failing_raises_and_a_fresh_manager_resumes_exactly():
    with FakeTenant(alerts=1000) as tenant:
        m = saas_manager(tenant, retries=2)
        got = []
        with pytest.raises(errors.IncompleteResultError) as info:
            for n, alert in enumerate(m.create_cspm_session().paginate(
                    "POST", "/v2/alert", json=WINDOW, page_size=300), 1):
                got.append(alert["id"])
                if n == 300:  # page 2 fails three times: the first try and two retries
                    tenant.fail_next(500, 3, path="/v2/alert")
        m.close()
        exc = info.value
        assert (exc.pages, exc.rows) == (1, 300) and "page 2 answered HTTP 500" in str(exc)
        point = json.loads(json.dumps(exc.resume))  # (kept in a file, say)
        fresh = saas_manager(tenant)
        rest = fresh.create_cspm_session().paginate("POST", "/v2/alert", json=WINDOW,
                                                    page_size=300, resume=point)
        got += [a["id"] for a in rest]
        assert got == alert_ids(1000)  # every id once, in order
        assert rest.items_read == 1000 and rest.pages_read == 4
        fresh.close()


def test_max_items_ends_normally_and_a_resume_reads_on_from_the_next_item():
    with FakeTenant(search_items=500, search_page_size=200) as tenant:
        m = saas_manager(tenant)
        cspm = m.create_cspm_session()
        query = {"query": "config from cloud.resource"}
        first = cspm.paginate("POST", "/search/config", json=query, page_size=200,
                              max_items=250)
        got = [r["id"] for r in first]
        assert len(got) == 250 and first.pages_read == 1 and first.resume["skip"] == 50
        rest = cspm.paginate("POST", "/search/config", json=query, page_size=200,
                             resume=first.resume)
        got += [r["id"] for r in rest]
        assert got == [f"res-{i:07d}" for i in range(500)]
        # the search ran once; its second page was asked for again to go on from it
        assert endpoint_hits(tenant, "POST /search/config") == 1
        m.close()


def test_a_session_token_expiring_mid_run_costs_one_login_and_the_run_goes_on():
    with FakeTenant(alerts=900) as tenant:
        m = saas_manager(tenant)
        pager = m.create_cspm_session().paginate("POST", "/v2/alert", json=WINDOW,
                                                 page_size=300)
        ids = []
        for alert in pager:
            ids.append(alert["id"])
            if len(ids) == 300:
                tenant.expire_tokens()
        assert ids == alert_ids(900)
        st = tenant.stats()
        # the page's 401, then the extend that asked about the token (revoked: a login)
        assert st["logins"] == 2 and st["responses_by_status"]["401"] == 2
        assert endpoint_hits(tenant, "POST /v2/alert") == 4  # page 2 once more, not page 1
        m.close()


def test_a_run_longer_than_the_token_lifetime_completes():
    with FakeTenant(alerts=600, token_lifetime=0.5, latency=0.05) as tenant:
        m = saas_manager(tenant)
        pager = m.create_cspm_session().paginate("POST", "/v2/alert", json=WINDOW,
                                                 page_size=25)
        assert [a["id"] for a in pager] == alert_ids(600)  # 24 pages, over a second
        st = tenant.stats()
        assert st["logins"] + st["extends"] >= 3
        m.close()


def test_a_page_that_times_out_is_asked_again_with_its_token():
    with FakeTenant(search_items=300, search_page_size=100) as tenant:
        m = saas_manager(tenant, timeout=(5, 0.5))
        tenant.stall_next(2.0, path="/search/config/page")
        pager = m.create_cspm_session().paginate("POST", "/search/config",
                                                 json={"query": "q", "limit": 100})
        assert [r["id"] for r in pager] == [f"res-{i:07d}" for i in range(300)]
        st = tenant.stats()["requests_by_endpoint"]
        assert (st["POST /search/config"], st["POST /search/config/page"]) == (1, 3)
        m.close()


def test_an_expired_page_token_is_an_incomplete_result_not_a_short_one():
    with FakeTenant(alerts=300, page_token_lifetime=0.2) as tenant:
        m = saas_manager(tenant)
        cspm = m.create_cspm_session()
        got = []
        with pytest.raises(errors.IncompleteResultError) as info:
            for page in cspm.paginate("POST", "/v2/alert", json=WINDOW, page_size=100).pages():
                got += page
                time.sleep(0.3)  # a slow consumer
        assert len(got) == 100
        names(info.value, "page 2", "400", "expired")  # which page, its answer, the cause
        assert cspm.token not in json.dumps(info.value.resume)  # page tokens only
        m.close()


def test_a_resume_point_belongs_to_its_call():
    with FakeTenant(alerts=50) as tenant:
        m = saas_manager(tenant)
        cspm = m.create_cspm_session()
        pager = cspm.paginate("POST", "/v2/alert", json=WINDOW, page_size=20, max_items=30)
        assert len(list(pager)) == 30
        with pytest.raises(ValueError, match="another body or query"):
            cspm.paginate("POST", "/v2/alert", json={}, resume=pager.resume)
        with pytest.raises(ValueError, match="not POST /v2/resource/scan_info"):
            cspm.paginate("POST", "/v2/resource/scan_info", json=WINDOW, resume=pager.resume)
        with pytest.raises(RuntimeError, match="consumed once"):
            list(pager)
        m.close()
