"""Client-side pacing: the policy with an injected clock, then end to end over sockets."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from pcpi import Backoff, Pacer
from pcpi._pacing import endpoint_key

from .conftest import Sleeps, quiet_policy, saas_manager

KEY = ("GET", "api.example", "/cloud")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def limits(rate, burst, remaining):
    return {"X-RateLimit-Replenish-Rate": str(rate), "X-RateLimit-Burst-Capacity": str(burst),
            "X-RateLimit-Remaining": str(remaining)}


# ---------------------------------------------------------------------- policy, no network
def test_an_endpoint_never_limited_has_no_bucket_and_no_wait():
    pacer = Pacer(clock=Clock())
    for _ in range(100):
        assert pacer.delay(KEY) == 0.0
        pacer.observe(KEY, 200, {})
    assert pacer.limit(KEY) is None


def test_headers_set_the_bucket_and_waiting_callers_queue_at_the_rate():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(10, 5, 2))
    assert pacer.limit(KEY) == (10.0, 5.0)
    # two tokens left, then each caller is told to wait one more tenth of a second
    assert [round(pacer.delay(KEY), 3) for _ in range(5)] == [0.0, 0.0, 0.1, 0.2, 0.3]
    clock.now += 10  # refills to the burst, not beyond
    assert [round(pacer.delay(KEY), 3) for _ in range(6)] == [0.0] * 5 + [0.1]


def test_a_429_with_headers_empties_the_bucket():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(10, 5, 5))
    pacer.observe(KEY, 429, limits(10, 5, 0))  # someone else drew from the same limit
    assert round(pacer.delay(KEY), 3) == 0.1


def test_limits_changed_by_the_tenant_are_followed():
    pacer = Pacer(clock=Clock())
    pacer.observe(KEY, 200, limits(10, 5, 5))
    pacer.observe(KEY, 200, limits(2, 1, 1))
    assert pacer.limit(KEY) == (2.0, 1.0)


@pytest.mark.parametrize("headers", [
    {"X-RateLimit-Replenish-Rate": "fast"},
    {"X-RateLimit-Replenish-Rate": "0", "X-RateLimit-Burst-Capacity": "5"},
])
def test_unreadable_headers_are_ignored(headers):
    pacer = Pacer(clock=Clock())
    pacer.observe(KEY, 200, headers)
    assert pacer.limit(KEY) is None


def test_a_bare_429_cuts_the_measured_rate_then_climbs_back_on_a_cubic_curve():
    clock = Clock()
    pacer = Pacer(clock=clock)
    for _ in range(200):  # 100 calls per second for two seconds, never limited
        pacer.observe(KEY, 200, {})
        clock.now += 0.01
    pacer.observe(KEY, 429, {})
    rate, _burst = pacer.limit(KEY)
    assert 65 <= rate <= 75  # beta (0.7) times the ~100/s measured
    k = (100 * (1 - 0.7) / 0.4) ** (1 / 3)  # seconds to get back to the rate before
    for _ in range(int(k / 0.02)):
        clock.now += 0.02
        pacer.observe(KEY, 200, {})
    rate, _burst = pacer.limit(KEY)
    assert 90 <= rate <= 110


def test_a_bare_429_never_paces_slower_than_min_rate():
    clock = Clock()
    pacer = Pacer(clock=clock, min_rate=0.5)
    pacer.observe(KEY, 429, {})
    pacer.observe(KEY, 429, {})
    assert pacer.limit(KEY)[0] == 0.5


def test_reservations_from_many_threads_are_spaced_by_the_rate():
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.observe(KEY, 200, limits(50, 1, 0))
    with ThreadPoolExecutor(16) as pool:
        delays = sorted(pool.map(lambda _: pacer.delay(KEY), range(200)))
    steps = {round(b - a, 6) for a, b in zip(delays, delays[1:])}
    assert steps == {0.02}
    assert round(delays[-1], 6) == 4.0


def test_endpoint_keys_group_identifiers_but_keep_versions():
    assert endpoint_key("get", "https://API.x.io/cloud/123456789012") == \
        endpoint_key("GET", "https://api.x.io/cloud/210987654321") == \
        ("GET", "api.x.io", "/cloud/{}")
    assert endpoint_key("GET", "https://a/v2/alert")[2] == "/v2/alert"
    assert endpoint_key("GET", "https://a/cloud/3fa85f64-5717-4562-b3fc-2c963f66afa6?x=1") == \
        ("GET", "a", "/cloud/{}")
    assert endpoint_key("POST", "https://a/cloud") != endpoint_key("GET", "https://a/cloud")


# ---------------------------------------------------------------------- over sockets
def test_a_fan_out_paces_to_the_tenant_limit_with_almost_no_429s(tenant):
    tenant.configure(rate_limit=(40, 5))
    m = saas_manager(tenant, retry_policy=quiet_policy(sleep=time.sleep))
    cspm = m.create_cspm_session()
    assert cspm.request("GET", "/cloud").status_code == 200  # the first answer teaches it
    tenant.configure(rate_limit=(40, 5))  # a full bucket again
    tenant.reset_stats()
    t0 = time.monotonic()
    with ThreadPoolExecutor(30) as pool:
        codes = list(pool.map(lambda _: cspm.request("GET", "/cloud").status_code, range(120)))
    wall = time.monotonic() - t0
    m.close()
    assert codes == [200] * 120
    assert tenant.stats()["responses_by_status"].get("429", 0) <= 2
    assert wall >= (120 - 5) / 40 * 0.9  # paced to the limit, not faster


def test_without_pacing_the_same_fan_out_bounces_off_the_limit(tenant):
    """The control for the test above: same load, pacing off, many 429s."""
    tenant.configure(rate_limit=(40, 5))
    fast = Backoff(initial=0.05, maximum=0.4)  # the 429s, not the waiting, are the point
    m = saas_manager(tenant, pacing=False,
                     retry_policy=quiet_policy(sleep=time.sleep, backoff=fast))
    assert m.transport.pacer is None
    cspm = m.create_cspm_session()
    tenant.configure(rate_limit=(40, 5))
    tenant.reset_stats()
    with ThreadPoolExecutor(30) as pool:
        codes = list(pool.map(lambda _: cspm.request("GET", "/cloud").status_code, range(60)))
    m.close()
    assert codes == [200] * 60
    assert tenant.stats()["responses_by_status"].get("429", 0) > 20


def test_one_pacer_is_shared_by_every_session_of_a_manager(tenant):
    m = saas_manager(tenant)
    cspm = m.create_cspm_session()
    cwp = m.create_cwp_session()
    cna = m.create_cna_session()
    assert cspm.transport.pacer is cwp.transport.pacer is cna.transport.pacer is not None
    m.close()


def test_calls_that_do_get_a_429_keep_1_0_1_backoff_and_reset(tenant):
    clock = Clock()

    class Waits(Sleeps):  # records, and moves the pacer's clock as a real sleep would
        def __call__(self, seconds: float) -> None:
            super().__call__(seconds)
            clock.now += seconds

    sleeps = Waits()
    m = saas_manager(tenant, retry_policy=quiet_policy(sleep=sleeps), pacing=Pacer(clock=clock))
    cspm = m.create_cspm_session()
    tenant.fail_next(429, 3, path="/cloud")  # bare 429s: the pacer's fallback starts
    assert cspm.request("GET", "/cloud").status_code == 200
    assert cspm.retry_timer == 0
    backoff = iter(sleeps)
    assert all(any(s == want for s in backoff) for want in (1.0, 2.0, 4.0)), sleeps
    assert sum(sleeps) - 7.0 < 3.0  # what pacing added on top of the backoff
    m.close()


def test_a_shared_pacer_can_be_passed_in(tenant):
    pacer = Pacer()
    a = saas_manager(tenant, pacing=pacer)
    b = saas_manager(tenant, pacing=pacer)
    assert a.transport.pacer is b.transport.pacer is pacer
    a.close()
    b.close()


def test_pacing_waits_do_not_hold_a_lock(tenant):
    """Threads waiting their turn sleep outside the pacer's lock: an unlimited
    endpoint stays instant while another is being paced."""
    tenant.configure(endpoint_rate_limits={"GET /cloud": (5, 1)})
    m = saas_manager(tenant, retry_policy=quiet_policy(sleep=time.sleep))
    cspm = m.create_cspm_session()
    cspm.request("GET", "/cloud")
    waiting = [threading.Thread(target=cspm.request, args=("GET", "/cloud")) for _ in range(5)]
    for t in waiting:
        t.start()
    t0 = time.monotonic()
    assert cspm.request("GET", "/license").status_code == 200
    assert time.monotonic() - t0 < 0.5  # the /cloud queue is about a second long
    for t in waiting:
        t.join(10)
    m.close()
