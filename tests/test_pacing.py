"""Client-side pacing end to end over sockets (the policy alone: tests/unit/test_pacing.py)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from pcpi import Backoff, Pacer

from ._fakes import Clock, quiet_policy
from .conftest import saas_manager


# ---------------------------------------------------------------------- over sockets
def test_a_fan_out_paces_to_the_tenant_limit_with_almost_no_429s(tenant):
    # (a burst that lasts a quarter of a second at the rate, as Prisma's documented
    # limits' do at least: with 5 at 80/s, 62 ms, a loaded machine's late threads
    # bunch their sends past it)
    tenant.configure(rate_limit=(40, 10))
    m = saas_manager(tenant, retry_policy=quiet_policy(sleep=time.sleep))
    cspm = m.create_cspm_session()
    assert cspm.request("GET", "/cloud").status_code == 200  # the first answer teaches it
    tenant.configure(rate_limit=(40, 10))  # a full bucket again
    tenant.reset_stats()
    t0 = time.monotonic()
    with ThreadPoolExecutor(30) as pool:
        codes = list(pool.map(lambda _: cspm.request("GET", "/cloud").status_code, range(100)))
    wall = time.monotonic() - t0
    m.close()
    assert codes == [200] * 100
    # (unpaced: more than 5 in 60 calls, below; a loaded machine delays some answers, and a call
    # sent meanwhile can meet an empty bucket at the tenant: a few, not dozens)
    refused = tenant.stats()["responses_by_status"].get("429", 0)
    assert refused <= 5, refused
    assert wall >= (100 - 10) / 40 * 0.9  # paced to the limit, not faster (a lower bound)


def test_without_pacing_the_same_fan_out_bounces_off_the_limit(tenant):
    """The control for the test above: same load, pacing off, many 429s."""
    tenant.configure(rate_limit=(80, 5))
    fast = Backoff(initial=0.05, maximum=0.4)  # the 429s, not the waiting, are the point
    m = saas_manager(tenant, pacing=False,
                     retry_policy=quiet_policy(sleep=time.sleep, backoff=fast))
    assert m.transport.pacer is None
    cspm = m.create_cspm_session()
    tenant.configure(rate_limit=(80, 5))
    tenant.reset_stats()
    with ThreadPoolExecutor(30) as pool:
        codes = list(pool.map(lambda _: cspm.request("GET", "/cloud").status_code, range(60)))
    m.close()
    assert codes == [200] * 60
    # (more than the paced fan-out above may meet; about 30 on a quiet machine, 13 when
    # a loaded one sent slowly)
    assert tenant.stats()["responses_by_status"].get("429", 0) > 5


def test_one_pacer_is_shared_by_every_session_of_a_manager(tenant):
    m = saas_manager(tenant)
    cspm = m.create_cspm_session()
    cwp = m.create_cwp_session()
    cna = m.create_cna_session()
    assert cspm.transport.pacer is cwp.transport.pacer is cna.transport.pacer is not None
    m.close()


def test_calls_that_do_get_a_429_keep_1_0_1_backoff_and_reset(tenant):
    clock = Clock()
    sleeps = clock.slept
    m = saas_manager(tenant, retry_policy=quiet_policy(sleep=clock.sleep),
                     pacing=Pacer(clock=clock))
    cspm = m.create_cspm_session()
    tenant.fail_next(429, 3, path="/cloud")  # bare 429s: the pacer's fallback starts
    assert cspm.request("GET", "/cloud").status_code == 200
    assert cspm.retry_timer == 0
    backoff = iter(sleeps)
    assert all(any(s == want for s in backoff) for want in (1.0, 2.0, 4.0)), sleeps
    assert sum(sleeps) - 7.0 < 3.0  # what pacing added on top of the backoff
    m.close()


def test_a_429_on_a_paced_endpoint_is_waited_out_in_the_pacer_alone(tenant):
    """One controller decides a 429's wait: where the pacer paces, the retry loop
    resends with no backoff of its own, and the Retry-After is waited for a turn."""
    clock = Clock()
    sleeps = clock.slept
    tenant.configure(rate_limit=(100, 5))
    m = saas_manager(tenant, retry_policy=quiet_policy(sleep=clock.sleep),
                     pacing=Pacer(clock=clock))
    cspm = m.create_cspm_session()
    assert cspm.request("GET", "/cloud").status_code == 200  # the limit is learned
    sleeps.clear()
    tenant.fail_next(429, 1, path="/cloud", headers={"Retry-After": "3"})
    assert cspm.request("GET", "/cloud").status_code == 200
    m.close()
    assert sleeps[0] == 0.0 and 1.0 not in sleeps  # the loop's own wait: none
    assert 3.0 <= sum(sleeps) < 3.2, sleeps  # the Retry-After, in turns of the pacer's
    assert cspm.retry_timer == 0


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
    m = saas_manager(tenant, retry_policy=quiet_policy(sleep=time.sleep,
                                                       backoff=Backoff(0.05, 0.4)),
                     pacing=Pacer())
    cspm = m.create_cspm_session()
    cspm.request("GET", "/cloud")
    tenant.reset_stats()
    waiting = [threading.Thread(target=cspm.request, args=("GET", "/cloud")) for _ in range(4)]
    for t in waiting:
        t.start()
    assert cspm.request("GET", "/license").status_code == 200
    served = tenant.stats()["requests_by_endpoint"].get("GET /cloud", 0)
    for t in waiting:
        t.join(10)
    m.close()
    # /license went while /cloud was still queued (4 calls at 5 a second take 0.8 s)
    assert served < 4, served
    assert tenant.stats()["responses_by_status"]["200"] >= 5  # /license and the 4 /cloud


def test_a_calls_pacing_waits_add_up_to_max_wait_at_most(tenant):
    """However the pacer's answers cut a wait up (a longer Retry-After arriving
    while a call waits), one call waits ``max_wait`` in all, then goes."""

    class Holding(Pacer):
        def take(self, key):
            return 100.0, False  # (another 429 said: 100 s more, every time)

    clock = Clock()
    m = saas_manager(tenant, retry_policy=quiet_policy(sleep=clock.sleep),
                     pacing=Holding(clock=clock, max_wait=120))
    assert m.create_cspm_session().request("GET", "/cloud").status_code == 200
    m.close()
    assert clock.slept == [100.0, 20.0] * 2  # the login, then the call: 120 s each
