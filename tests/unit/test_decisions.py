"""Network-free tests of the retry decision (pcpi._retry) and of the authenticator
(pcpi._auth): a fake clock, a fake session, no sockets and no sleeping."""

from __future__ import annotations

import base64
import json
import os
import threading

import pytest
import requests
import urllib3

from pcpi import Backoff, RetryPolicy
from pcpi._auth import (
    DUE,
    EXPIRED,
    FRESH,
    MAX_STALE,
    Authenticator,
    CallAuth,
    Credential,
    claimed_lifetime,
)
from pcpi._retry import (
    EXHAUSTED,
    FAILED,
    NOT_REPLAYABLE,
    PROCESSED,
    RAISE,
    REAUTH,
    RETRY,
    RETURN,
    SUCCESS,
    UNSAFE,
    CallRules,
    Progress,
    decide,
)
from pcpi.errors import AuthorizationError, CredentialsRejectedError, LoginError

from .._fakes import Clock, in_forked_child, limit_headers, names

POLICY = RetryPolicy(backoff=Backoff(jitter=0.0), server_error_backoff=Backoff(initial=0.25,
                                                                                jitter=0.0),
                     connection_backoff=Backoff(initial=0.5, maximum=4.0, jitter=0.0))


def rules(**kw) -> CallRules:
    kw.setdefault("policy", POLICY)
    kw.setdefault("safe", True)
    return CallRules(**kw)


def never_sent() -> requests.exceptions.ConnectionError:
    reason = urllib3.exceptions.NewConnectionError(None, "refused")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/",
                                                                                 reason))


# ---------------------------------------------------------------------- the retry decision
@pytest.mark.parametrize("status,safe,processed,expect", [
    (200, True, False, (RETURN, SUCCESS)),
    (204, False, False, (RETURN, SUCCESS)),
    (404, True, False, (RETURN, FAILED)),
    (401, True, False, (REAUTH, "")),
    (401, False, False, (REAUTH, "")),            # a 401 was not processed
    (401, False, True, (RETURN, PROCESSED)),      # ... unless a 303 said it was
    (401, True, True, (REAUTH, "")),
    (429, False, False, (RETRY, "")),
    (503, False, False, (RETRY, "")),
    (425, False, False, (RETRY, "")),
    (502, True, False, (RETRY, "")),
    (502, False, False, (RETURN, UNSAFE)),
    (500, False, False, (RETURN, UNSAFE)),
    (504, False, False, (RETURN, UNSAFE)),
    (429, False, True, (RETURN, PROCESSED)),
    (503, True, True, (RETRY, "")),               # a safe call may always be repeated
])
def test_what_a_status_calls_for(status, safe, processed, expect):
    d = decide(rules(safe=safe), Progress(), status=status, headers={}, processed=processed)
    assert (d.action, d.why) == expect


def test_an_ignored_status_is_returned_as_success():
    d = decide(rules(ignore=frozenset({404})), Progress(), status=404, headers={})
    assert (d.action, d.why) == (RETURN, SUCCESS)


def test_backoff_schedule_retry_after_and_its_cap():
    r = rules(retry_timer_max=32.0)
    delays = [decide(r, Progress(throttled=n), status=429, headers={}).delay for n in range(7)]
    assert delays == [1, 2, 4, 8, 16, 32, 32]
    assert decide(r, Progress(), status=503, headers={}).delay == 0.25
    assert decide(r, Progress(), status=429, headers={"Retry-After": "7"}).delay == 7
    assert decide(r, Progress(), status=429, headers={"Retry-After": "9999"}).delay == 120
    assert decide(rules(retry_timer_max=2.0), Progress(throttled=5), status=429,
                  headers={}).delay == 2


def test_a_429_on_an_endpoint_the_pacer_governs_is_resent_with_no_backoff_here():
    r = rules(retry_timer_max=32.0)
    paced = decide(r, Progress(throttled=3), status=429, headers={"Retry-After": "7"},
                   paced=True)
    assert (paced.action, paced.delay) == (RETRY, 0.0)  # the pacer's turn is the wait
    assert decide(r, Progress(), status=503, headers={}, paced=True).delay == 0.25  # 5xx: ours
    spent = decide(rules(retries=2), Progress(throttled=2), status=429, headers={}, paced=True)
    assert (spent.action, spent.why) == (RETURN, EXHAUSTED)  # still counted against retries
    unsafe = decide(rules(safe=False, not_replayable="a generator body"), Progress(),
                    status=429, headers={}, paced=True)
    assert (unsafe.action, unsafe.why) == (RETURN, NOT_REPLAYABLE)


def test_a_backoffs_own_maximum_caps_it_too():
    policy = RetryPolicy(server_error_backoff=Backoff(initial=0.25, maximum=1.0, jitter=0.0),
                         backoff=Backoff(initial=1.0, maximum=2.0, jitter=0.0))
    r = rules(policy=policy, retry_timer_max=32.0)
    assert [decide(r, Progress(throttled=n), status=503, headers={}).delay
            for n in range(5)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    assert decide(r, Progress(throttled=5), status=429, headers={}).delay == 2.0


def test_full_jitter_spreads_delays_between_zero_and_the_schedule():
    r = rules(policy=RetryPolicy())
    assert decide(r, Progress(throttled=3), status=429, headers={}, rand=lambda: 0.0).delay == 8
    assert decide(r, Progress(throttled=3), status=429, headers={}, rand=lambda: 0.75).delay == 2


def test_retries_run_out():
    r = rules(retries=3)
    assert decide(r, Progress(throttled=2), status=429, headers={}).action == RETRY
    d = decide(r, Progress(throttled=3), status=429, headers={})
    assert (d.action, d.why) == (RETURN, EXHAUSTED)
    d = decide(rules(retries=0), Progress(), status=429, headers={})
    assert (d.action, d.why) == (RETURN, FAILED)


def test_a_body_that_cannot_be_replayed_is_never_resent():
    r = rules(not_replayable="a generator")
    for status in (429, 503, 401):
        d = decide(r, Progress(), status=status, headers={})
        assert (d.action, d.why) == (RETURN, NOT_REPLAYABLE)
    d = decide(r, Progress(), error=never_sent())
    assert (d.action, d.why) == (RAISE, NOT_REPLAYABLE)


def test_connection_failures():
    timeout = requests.exceptions.ReadTimeout("slow")
    assert decide(rules(safe=True), Progress(), error=timeout).action == RETRY
    assert decide(rules(safe=False), Progress(), error=timeout).action == RAISE
    d = decide(rules(safe=False), Progress(conn_failures=1), error=never_sent())
    assert d.action == RETRY and d.delay == 1.0  # nothing was sent: even a POST may go again
    assert decide(rules(), Progress(conn_failures=3), error=timeout).action == RAISE
    assert decide(rules(), Progress(), error=requests.exceptions.SSLError("bad")).action == RAISE
    assert decide(rules(), Progress(), error=requests.exceptions.InvalidURL("x")).action == RAISE


def test_the_not_processed_set_belongs_to_the_policy():
    r = rules(safe=False, policy=RetryPolicy(not_processed=frozenset({429})))
    assert decide(r, Progress(), status=503, headers={}).why == UNSAFE
    assert decide(r, Progress(), status=429, headers={}).action == RETRY


def test_a_status_outside_the_session_lists_is_returned():
    r = rules(backs_off=frozenset({429}))
    assert decide(r, Progress(), status=503, headers={}).why == FAILED


# ---------------------------------------------------------------------- token claims
def jwt(**claims) -> str:
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'HS256'})}.{part(claims)}.{part({'sig': 1})}"


def test_lifetimes_come_from_the_tokens_own_claims():
    assert claimed_lifetime(jwt(iat=1000, exp=1600)) == 600
    assert claimed_lifetime(jwt(iat=1000.5, exp=1001.25)) == 0.75
    assert claimed_lifetime(jwt(exp=2000), now=1400) == 600      # no iat: against the clock
    assert claimed_lifetime(jwt(iat=5000, exp=1600), now=1000) == 600
    for bad in ("opaque-token", jwt(sub="x"), jwt(exp=True), jwt(exp="1600"),
                jwt(iat=0, exp=10 ** 12), "a.!!!.c", "a." + "e30" * 3 + ".c", jwt(exp=999)):
        assert claimed_lifetime(bad, now=1000) is None, bad


def test_credential_states_over_a_lifetime():
    cred = Credential("t", "t", issued=100.0, issued_at=0.0, lifetime=600.0, rtt=0.5)
    assert cred.lead == 12.0  # 2 % of 600 s (three round trips are less)
    assert cred.state(100.0, None) == FRESH
    assert cred.state(100 + 587.9, None) == FRESH
    assert cred.state(100 + 588.0, None) == DUE
    assert cred.state(100 + 598.9, None) == DUE
    assert cred.state(100 + 599.0, None) == EXPIRED  # its last second: wait for a new one
    assert cred.state(100 + 360.0, 360) == DUE       # 1.0.1's token_time comes first
    assert cred.state(100 + 359.0, 360) == FRESH
    short = Credential("t", "t", issued=0.0, issued_at=0.0, lifetime=1.0, rtt=0.02)
    assert short.lead == pytest.approx(0.06)  # three round trips
    assert [short.state(t, 360) for t in (0.5, 0.95, 0.99)] == [FRESH, DUE, EXPIRED]


# ---------------------------------------------------------------------- the authenticator
class Log:
    def __init__(self):
        self.lines = []

    def warning(self, msg):
        self.lines.append(msg)


class Owner:
    """A product's login as the authenticator sees it (a pcpi._auth.TokenSource),
    with scripted exchanges."""

    can_extend = True
    token_time = 360
    what = "tenant 'unit'"

    def __init__(self, clock, lifetime=600.0):
        self.clock = clock
        self.lifetime = lifetime
        self.exchanges = []   # "login" / "extend"
        self.published = []
        self.fail = []        # exceptions to raise, in order
        self.gate = None      # an Event the next exchange waits for
        self.dead = set()     # tokens an extend finds dead (revoked)
        self.log = Log()

    def login(self, exchange):
        return self.obtain(False, exchange)

    def extend(self, token, exchange):
        if token in self.dead:
            self.exchanges.append("extend")
            return None
        return self.obtain(True, exchange)

    def obtain(self, extend, exchange=None):
        self.exchanges.append("extend" if extend else "login")
        if self.gate is not None:
            assert self.gate.wait(5)
        if self.fail:
            raise self.fail.pop(0)
        now = 1_700_000_000 + len(self.exchanges)
        return jwt(iat=now, exp=now + self.lifetime, n=len(self.exchanges))

    def header(self, token):
        return "Bearer " + token

    def present(self, cred):
        self.published.append(cred)

    def refused(self, where):
        return f"{where} was refused"

    def warn(self, msg):
        self.log.warning(msg)


def logged_in(clock, **kw):
    owner = Owner(clock, **kw)
    auth = Authenticator(owner, clock=clock)
    auth.login()
    return owner, auth


def test_a_login_publishes_one_credential(clock):
    owner, auth = logged_in(clock)
    cred = auth.credential
    assert owner.exchanges == ["login"] and owner.published == [cred]
    assert cred.header == "Bearer " + cred.token and cred.lifetime == 600 and cred.claimed
    assert repr(cred).count("eyJ") == 0  # the token stays out of reprs


def test_a_fresh_token_costs_nothing_and_a_due_one_is_extended_inline(clock):
    owner, auth = logged_in(clock)
    auth.before_call()
    assert owner.exchanges == ["login"]
    clock.now += 361  # token_time
    auth.before_call()
    assert owner.exchanges == ["login", "extend"]


def test_a_failed_proactive_refresh_is_a_warning_and_keeps_the_token(clock):
    owner, auth = logged_in(clock)
    cred = auth.credential
    clock.now += 361
    for exc in (LoginError("extend answered 403"), requests.exceptions.ConnectionError("x"),
                CredentialsRejectedError("rejected")):
        owner.fail.append(exc)
        auth.before_call()  # no exception: the token in hand is valid
        assert auth.credential is cred
        auth.before_call()  # ... and no new attempt at once
        clock.now += 31
    assert owner.exchanges == ["login", "extend", "extend", "extend"]
    assert len(owner.log.lines) == 3  # one warning each, naming why
    for line, why in zip(owner.log.lines, ("LoginError", "ConnectionError",
                                           "CredentialsRejectedError")):
        names(line, "tenant 'unit'", why)
    clock.now = cred.expires  # really expired now: log in (and that works)
    auth.before_call()
    assert owner.exchanges[-1] == "login" and auth.credential is not cred


def test_only_one_thread_refreshes_while_the_others_go_on(clock):
    owner, auth = logged_in(clock)
    clock.now += 361
    owner.gate = threading.Event()
    refresher = threading.Thread(target=auth.before_call)
    refresher.start()
    for _ in range(50):
        if len(owner.exchanges) == 2:
            break
        threading.Event().wait(0.01)
    for _ in range(20):
        auth.before_call()  # returns at once: a refresh is running, the token is valid
    owner.gate.set()
    refresher.join(5)
    assert owner.exchanges == ["login", "extend"]


def test_an_expired_token_is_replaced_once_for_all_waiting_threads(clock):
    owner, auth = logged_in(clock)
    clock.now = auth.credential.expires + 1
    owner.gate = threading.Event()
    threads = [threading.Thread(target=auth.before_call) for _ in range(20)]
    for t in threads:
        t.start()
    owner.gate.set()
    for t in threads:
        t.join(5)
    assert owner.exchanges == ["login", "login"]


def test_each_waiter_gets_its_own_error_and_the_failure_is_not_kept(clock):
    owner, auth = logged_in(clock)
    clock.now = auth.credential.expires + 1
    original = CredentialsRejectedError("the key was rejected")
    owner.fail.append(original)
    owner.gate = threading.Event()
    errors = []

    def call():
        try:
            auth.before_call()
        except BaseException as exc:  # noqa: B902 - CredentialsRejectedError is a SystemExit
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(10)]
    for t in threads:
        t.start()
    threading.Event().wait(0.2)
    owner.gate.set()
    for t in threads:
        t.join(5)
    assert len(errors) == 10 and owner.exchanges == ["login", "login"]
    assert all(isinstance(e, CredentialsRejectedError) for e in errors)
    assert len({id(e) for e in errors}) == 10  # no shared object, no growing traceback
    assert all(e is original or e.__cause__ is original for e in errors)
    owner.gate = None
    auth.before_call()  # the failure is forgotten: the next call logs in
    assert owner.exchanges[-1] == "login" and auth.credential.state(clock.now, 360) == FRESH


def test_an_interrupt_in_the_leader_is_not_shared(clock):
    owner, auth = logged_in(clock)
    clock.now = auth.credential.expires + 1
    owner.fail.append(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        auth.before_call()
    auth.before_call()  # the next caller simply logs in
    assert owner.exchanges == ["login", "login", "login"]


def test_waiting_for_another_threads_login_is_bounded(clock):
    owner, auth = logged_in(clock)
    auth.wait_limit = 0.2
    clock.now = auth.credential.expires + 1
    owner.gate = threading.Event()
    leader = threading.Thread(target=auth.before_call)
    leader.start()
    for _ in range(50):
        if len(owner.exchanges) == 2:
            break
        threading.Event().wait(0.01)
    with pytest.raises(LoginError, match="0.2 seconds"):  # names the bound
        auth.before_call()
    owner.gate.set()
    leader.join(5)


def test_a_401_for_a_stale_token_resends_with_the_current_one(clock):
    owner, auth = logged_in(clock)
    call = CallAuth()
    cred = auth.credential
    auth.after_401("Bearer old", cred, call, "GET /x")  # headers set by hand
    assert owner.exchanges == ["login"] and owner.published[-1] is cred
    for _ in range(MAX_STALE - 1):
        auth.after_401("Bearer old", cred, call, "GET /x")
    assert call.stale == MAX_STALE
    clock.now += 1
    auth.relogin(cred)  # another thread renewed it after this call had left
    auth.after_401(cred.header, cred, call, "GET /x")
    assert owner.exchanges == ["login", "login"] and call.expiries == 1 and not call.refused


def test_a_401_for_an_expired_token_logs_in_once_per_expiry(clock):
    owner, auth = logged_in(clock)
    cred = auth.credential
    clock.now = cred.expires - 0.1  # its last moments
    call = CallAuth()
    auth.after_401(cred.header, cred, call, "GET /x")
    assert owner.exchanges == ["login", "login"] and call.expiries == 1 and not call.refused
    auth.after_401(cred.header, cred, CallAuth(), "GET /x")  # a late 401 of that token
    assert owner.exchanges == ["login", "login"]  # resent with the new one, no login


def test_a_live_token_refused_asks_the_tenant_resends_once_then_is_fatal(clock):
    owner, auth = logged_in(clock)

    def refused(call, where="GET /forbidden"):
        cred = auth.credential
        auth.after_401(cred.header, cred, call, where, answered_at=clock.now)

    call = CallAuth()
    refused(call)  # asked (an extend): alive, and renewed; resent once
    assert owner.exchanges == ["login", "extend"] and call.refused and call.expiries == 0
    with pytest.raises(AuthorizationError, match="GET /forbidden"):  # names the call
        refused(call)  # its token was issued after the first refusal: no new question
    assert owner.exchanges == ["login", "extend"]
    refused(CallAuth())  # the next call there asks again: nothing is remembered
    assert owner.exchanges == ["login", "extend", "extend"]


def test_a_call_sent_after_a_401_arrived_that_succeeded_proves_the_token_alive(clock):
    owner, auth = logged_in(clock)
    cred = auth.credential
    auth.accepted(cred, sent_at=5.0)  # a call sent at 5.0 succeeded with it
    call = CallAuth()
    auth.after_401(cred.header, cred, call, "GET /forbidden", answered_at=4.0)
    assert owner.exchanges == ["login"] and call.refused  # no question needed
    with pytest.raises(AuthorizationError):
        auth.after_401(cred.header, cred, call, "GET /forbidden", answered_at=4.5)
    # sent before the 401 arrived: it may have reached the tenant first, so ask
    auth.after_401(cred.header, cred, CallAuth(), "GET /forbidden", answered_at=5.0)
    assert owner.exchanges == ["login", "extend"]
    assert auth.alive_since(cred) == 5.0 and auth.alive_since(auth.credential) < 0


def test_a_revoked_token_is_found_dead_by_asking_and_replaced_by_one_login(clock):
    owner, auth = logged_in(clock)
    cred = auth.credential
    owner.dead.add(cred.token)
    call = CallAuth()
    auth.after_401(cred.header, cred, call, "GET /cloud")
    assert owner.exchanges == ["login", "extend", "login"]
    assert call.expiries == 1 and not call.refused and auth.credential is not cred
    assert any("revoked" in line for line in owner.log.lines)


def test_threads_refused_with_one_revoked_token_ask_once_and_log_in_once(clock):
    owner, auth = logged_in(clock)
    cred = auth.credential
    owner.dead.add(cred.token)
    owner.gate = threading.Event()
    calls = [CallAuth() for _ in range(10)]
    threads = [threading.Thread(target=auth.after_401,
                                args=(cred.header, cred, c, "GET /cloud")) for c in calls]
    for th in threads:
        th.start()
    threading.Event().wait(0.2)
    owner.gate.set()
    for th in threads:
        th.join(5)
    assert owner.exchanges == ["login", "extend", "login"]
    assert all(c.expiries == 1 and not c.refused for c in calls)


def test_an_extend_that_hands_back_the_same_token_proves_nothing(clock):
    owner, auth = logged_in(clock)
    cred = auth.credential
    owner.extend = lambda token, exchange: token  # the revoked token, handed back
    call = CallAuth()
    auth.after_401(cred.header, cred, call, "GET /x", answered_at=clock.now)
    assert owner.exchanges == ["login", "login"] and call.expiries == 1  # dead: a login


def test_when_asking_fails_the_session_logs_in_and_resends_once(clock):
    owner, auth = logged_in(clock)
    cred = auth.credential
    owner.fail = [LoginError("extend answered 503 after the retries")]
    call = CallAuth()
    auth.after_401(cred.header, cred, call, "GET /x")
    # no answer is no verdict: a login, and the call is resent as after an expiry
    assert owner.exchanges == ["login", "extend", "login"]
    assert call.expiries == 1 and not call.refused


def test_without_an_extend_a_refusal_costs_a_renewal_then_is_fatal(clock):
    owner, auth = logged_in(clock)
    owner.can_extend = False
    call = CallAuth()
    cred = auth.credential
    auth.after_401(cred.header, cred, call, "GET /x", answered_at=clock.now)
    assert owner.exchanges == ["login", "login"] and call.refused
    cred = auth.credential
    with pytest.raises(AuthorizationError):  # renewed after the refusal: not again
        auth.after_401(cred.header, cred, call, "GET /x", answered_at=clock.now)
    assert owner.exchanges == ["login", "login"]


def test_tokens_that_say_nothing_live_token_time(clock):
    owner = Owner(clock)
    owner.login = lambda exchange: "opaque-token-value"
    auth = Authenticator(owner, clock=clock)
    auth.login()
    assert auth.credential.lifetime == 360 and not auth.credential.claimed


def test_backdating_and_adopting_a_token(clock):
    owner, auth = logged_in(clock)
    cred = auth.credential
    auth.backdate(cred.issued_at - 400)
    assert auth.credential.issued == cred.issued - 400
    assert auth.credential.state(clock.now, 360) == DUE
    auth.adopt(jwt(iat=1, exp=61))
    assert auth.credential.lifetime == 60 and auth.credential.issued == clock.now


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_one_at_fork_registry_resets_every_lock():
    from pcpi import Pacer, Transport
    from pcpi._deadline import watchdog

    owner = Owner(Clock())
    auth = Authenticator(owner)
    pacer = Pacer()
    transport = Transport(pacing=pacer)
    # held as by threads caught in the middle of a call when another thread forks
    held = [auth._lock, pacer._lock, transport._lock, watchdog._cond]
    for lock in held:
        lock.acquire()

    def child():  # each used as a call uses it: none may wait for a lock of the parent
        auth.login()
        pacer.observe(("GET", "api.example", "/cloud"), 200, limit_headers(10, 5, 5))
        watchdog.finish(watchdog.start(1.0))
        transport.close()
        return owner.exchanges

    try:
        assert in_forked_child(child) == ["login"]
    finally:
        for lock in held:
            lock.release()
        transport.close()


# ---------------------------------------------------------------------- edges of the lifecycle
def test_claims_that_are_not_an_object_say_nothing():
    def raw(payload: bytes) -> str:
        return "e30." + base64.urlsafe_b64encode(payload).rstrip(b"=").decode() + ".c"

    for payload in (b"[1, 2]", b"600", b'"exp"', b"null", b"[" * 5000 + b"]" * 5000):
        assert claimed_lifetime(raw(payload), now=1000) is None


def test_an_expired_token_is_extended_once_then_a_failed_extend_logs_in(clock):
    owner, auth = logged_in(clock)
    cred = auth.credential
    clock.now = cred.expires - 0.5  # expired for our purposes (inside its lead), still valid
    auth.before_call()
    assert owner.exchanges == ["login", "extend"]
    cred = auth.credential
    clock.now = cred.expires - 0.5
    owner.fail = [LoginError("extend refused")]
    auth.before_call()
    assert owner.exchanges == ["login", "extend", "extend", "login"]
    assert any("LoginError" in x for x in owner.log.lines)  # a warning says why
    assert auth.credential.state(clock.now, None) == FRESH


def test_a_token_past_its_expiry_is_not_extended_but_replaced_by_a_login(clock):
    owner, auth = logged_in(clock)
    clock.now = auth.credential.expires + 1
    auth.before_call()
    assert owner.exchanges == ["login", "login"]


def test_a_failed_proactive_extend_is_not_tried_again_at_expiry(clock):
    owner, auth = logged_in(clock)
    cred = auth.credential
    clock.now = cred.issued + 360  # due by token_time
    owner.fail = [LoginError("extend refused")]
    auth.before_call()  # the advisory extend fails: a warning
    assert owner.exchanges == ["login", "extend"] and auth.credential is cred
    clock.now = cred.expires - 0.5
    auth.before_call()  # at expiry: straight to a login, not the extend that failed
    assert owner.exchanges == ["login", "extend", "login"]


def test_a_failed_proactive_refresh_is_quiet_for_a_while_then_tried_again(clock):
    owner, auth = logged_in(clock)
    cred = auth.credential
    clock.now = cred.issued + 360
    owner.fail = [LoginError("extend refused")]
    auth.before_call()
    auth.before_call()  # within the quiet period: not tried again
    assert owner.exchanges == ["login", "extend"]
    clock.now += 31  # the quiet period is at most 30 s
    auth.before_call()
    assert owner.exchanges == ["login", "extend", "extend"]


def test_no_credential_yet_means_nothing_to_refresh_and_valid_token_logs_in(clock):
    owner = Owner(clock)
    auth = Authenticator(owner, clock=clock)
    auth.before_call()
    assert owner.exchanges == []
    token = auth.valid_token()
    assert owner.exchanges == ["login"] and token == auth.credential.token
    assert auth.valid_token() == token and owner.exchanges == ["login"]


def test_a_slow_exchange_overtaken_by_a_newer_token_does_not_replace_it(clock):
    owner, auth = logged_in(clock)
    entered, finish = threading.Event(), threading.Event()
    extend = owner.extend

    def slow_extend(token, exchange):
        entered.set()
        assert finish.wait(5)
        return extend(token, exchange)

    owner.extend = slow_extend
    clock.now += 361  # due: a proactive refresh starts (an extend, slow to answer)
    refresher = threading.Thread(target=auth.before_call)
    refresher.start()
    assert entered.wait(5)
    clock.now += 5
    auth.wait_limit = 0.0  # (a login that does not wait for the refresh to end)
    newer = auth.login()  # another thread's login, started (and issued) after the extend
    finish.set()
    refresher.join(5)
    assert owner.exchanges == ["login", "login", "extend"]
    assert auth.credential is newer  # the extend's older token was dropped


def test_installing_nothing_drops_the_token(clock):
    owner, auth = logged_in(clock)
    auth._install(None)
    assert auth.credential is None and len(owner.published) == 1


def test_a_header_set_by_hand_that_keeps_coming_back_is_judged_as_the_current_token(clock):
    owner, auth = logged_in(clock)
    cred = auth.credential
    call = CallAuth()
    for _ in range(MAX_STALE):
        auth.after_401("Bearer by-hand", cred, call, "GET /x")
    assert owner.exchanges == ["login"]  # republished, no login
    auth.after_401("Bearer by-hand", cred, call, "GET /x")  # a valid token refused: asked
    assert owner.exchanges == ["login", "extend"] and call.refused


def test_a_401_with_no_token_at_all_logs_in(clock):
    owner = Owner(clock)
    auth = Authenticator(owner, clock=clock)
    auth.after_401(None, None, CallAuth(), "GET /x")
    assert owner.exchanges == ["login"] and auth.credential is not None


def test_tokens_that_keep_expiring_end_the_call_after_max_expiries(clock):
    from pcpi._auth import MAX_EXPIRIES

    owner, auth = logged_in(clock)
    call = CallAuth()
    for _ in range(MAX_EXPIRIES):
        old = auth.credential
        auth.relogin(old)  # another thread's renewal, every time
        auth.after_401(old.header, old, call, "GET /x")
    old = auth.credential
    auth.relogin(old)
    with pytest.raises(LoginError, match="kept expiring"):
        auth.after_401(old.header, old, call, "GET /x")


def test_a_waiter_gets_a_usable_error_even_when_the_leaders_cannot_be_copied():
    from pcpi._auth import _own_copy

    class Uncopyable(Exception):
        def __reduce__(self):
            raise TypeError("no copies")

    try:
        raise Uncopyable("login failed")
    except Uncopyable as exc:
        error = exc
    copy_ = _own_copy(error)
    assert copy_ is not error and isinstance(copy_, LoginError)
    assert "login failed" in str(copy_) and copy_.__traceback__ is None
    same = _own_copy(CredentialsRejectedError("no"))
    assert type(same) is CredentialsRejectedError and same.__traceback__ is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_child_forked_while_another_thread_logs_in_logs_in_by_itself(clock):
    owner, auth = logged_in(clock)
    auth.wait_limit = 1.0  # (a child that waited for the parent's login would give up)
    clock.now = auth.credential.expires + 1
    gate = owner.gate = threading.Event()
    leader = threading.Thread(target=auth.before_call)  # the parent's login, held up
    leader.start()
    for _ in range(500):
        if len(owner.exchanges) == 2:
            break
        threading.Event().wait(0.01)

    def child():  # that login does not exist here: the child's first call logs in itself
        kept = auth.credential is not None  # the token itself is kept
        owner.gate = None
        auth.before_call()
        return [kept, owner.exchanges, auth.credential.state(clock.now, None)]

    try:
        assert in_forked_child(child) == [True, ["login", "login", "login"], FRESH]
    finally:
        gate.set()
        leader.join(5)
