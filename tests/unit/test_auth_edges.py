"""Edges of the authenticator (pcpi._auth) that the lifecycle tests of
test_decisions.py cross without stopping at: the bounds of a token's claims,
the defaults of a credential, how long a failed refresh stays quiet, how long a
refresh attempt may take, and the words a user reads after a 401."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from pcpi._auth import (
    DUE,
    EXPIRED,
    FRESH,
    MAX_EXPIRIES,
    Authenticator,
    CallAuth,
    Credential,
    claimed_lifetime,
)
from pcpi.errors import AuthorizationError, LoginError, PcpiError

from .._fakes import names
from .test_decisions import Owner, jwt


class Recording(Owner):
    """An owner that notes the options and start time each exchange ran with
    (what the session's exchange call reads) and lets an exchange take time."""

    def __init__(self, clock, took=0.0, **kw):
        super().__init__(clock, **kw)
        self.took = took
        self.options = []
        self.started = []
        self.auth = None

    def obtain(self, extend, exchange=None):
        # what the exchange's call is sent with, as the session reads it
        self.options.append({k: v for k, v in dataclasses.asdict(exchange).items()
                             if k != "started" and v is not None})
        self.started.append(exchange.started)
        self.clock.now += self.took
        return super().obtain(extend, exchange)


def session(clock, *, can_extend=True, login=True, **kw):
    owner = Recording(clock, **kw)
    owner.can_extend = can_extend
    auth = owner.auth = Authenticator(owner, clock=clock)
    if login:
        auth.login()  # issued at 1000.0 on the fake clock; a 600 s token expires at 1600
    return owner, auth


def started(target, results):
    """``target`` in a thread of its own; its result, or its error (pcpi's are
    SystemExits), goes to ``results``."""
    def run():
        try:
            results.append(target())
        except (Exception, PcpiError) as exc:
            results.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def until_exchanges(owner, n):
    """Wait (a little, for real) until the ``n``-th exchange has begun."""
    for _ in range(500):
        if len(owner.exchanges) >= n:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"no exchange {n}: {owner.exchanges}")


# ---------------------------------------------------------------------- claims
def _token_of_length(n: int) -> str:
    head, body, _ = jwt(iat=1000, exp=1600).split(".")
    token = f"{head}.{body}."
    return token + "s" * (n - len(token))


def test_tokens_of_64_kib_or_more_are_not_parsed():
    assert claimed_lifetime(_token_of_length(65535)) == 600
    assert claimed_lifetime(_token_of_length(65536)) is None
    assert claimed_lifetime(_token_of_length(70000)) is None


@pytest.mark.parametrize("token", [None, 12345, b"e30.e30.c"])
def test_a_token_that_is_not_a_string_says_nothing(token):
    assert claimed_lifetime(token, now=1000) is None


def test_claims_of_every_length_are_read_without_their_base64_padding():
    lengths = set()
    for n in range(12):
        token = jwt(iat=1000, exp=1600, pad="x" * n)
        lengths.add(len(token.split(".")[1]) % 4)
        assert claimed_lifetime(token) == 600, token
    assert lengths == {0, 2, 3}  # every length a base64 body can have


def test_an_iat_equal_to_exp_is_ignored_and_the_clock_used_instead():
    assert claimed_lifetime(jwt(iat=1600, exp=1600), now=1000) == 600


def test_without_now_a_claim_with_no_iat_is_counted_from_the_wall_clock():
    lifetime = claimed_lifetime(jwt(exp=time.time() + 600))
    assert lifetime == pytest.approx(600, abs=5)


def test_the_believable_lifetimes_include_both_ends():
    month = 30 * 86400
    assert claimed_lifetime(jwt(iat=0, exp=0.001)) == 0.001
    assert claimed_lifetime(jwt(iat=0, exp=month)) == month
    assert claimed_lifetime(jwt(iat=0, exp=0.0009)) is None
    assert claimed_lifetime(jwt(iat=0, exp=month + 1)) is None


def test_a_token_time_of_zero_or_less_never_makes_a_token_due():
    cred = Credential("t", "t", issued=0.0, issued_at=0.0, lifetime=600.0)
    for token_time in (0, -5, 0.0):
        assert cred.state(1.0, token_time) == FRESH
        assert cred.state(588.0, token_time) == DUE  # only its own lead does


# ---------------------------------------------------------------------- credentials
@pytest.mark.parametrize("token_time,lifetime", [
    (None, 600.0), (0, 600.0), (-30, 600.0), ("soon", 600.0), (True, 600.0),
    (float("inf"), 600.0), (0.5, 0.5), (90, 90.0),
])
def test_a_token_that_says_nothing_lives_token_time_else_ten_minutes(clock, token_time,
                                                                      lifetime):
    owner, auth = session(clock, login=False)
    owner.token_time = token_time
    owner.login = lambda exchange: "opaque-token-value"
    auth.login()
    assert auth.credential.lifetime == lifetime and not auth.credential.claimed


def test_a_claim_without_iat_is_counted_from_when_the_login_was_sent(clock):
    owner, auth = session(clock, login=False)
    cred = auth.credential_for(jwt(exp=1600), started=5.0, started_at=1000.0)
    assert cred.lifetime == 600 and cred.claimed
    assert (cred.issued, cred.issued_at) == (5.0, 1000.0)


def test_a_credential_knows_how_long_its_exchange_took(clock):
    owner, auth = session(clock, took=2.0)
    assert auth.credential.issued == 1000.0 and auth.credential.rtt == 2.0


def test_a_token_set_by_hand_has_no_round_trip_and_the_wall_time_it_was_set(clock):
    owner, auth = session(clock)
    before = time.time()
    auth.adopt(jwt(iat=1, exp=61))
    cred = auth.credential
    assert before <= cred.issued_at <= time.time()
    assert cred.rtt == 0
    # its refresh starts 2 % of 60 s before expiry (no round trips to allow for)
    assert cred.state(cred.issued + 58.7, 360) == FRESH
    assert cred.state(cred.issued + 58.8, 360) == DUE


def test_backdating_moves_both_issue_times(clock):
    owner, auth = session(clock)
    cred = auth.credential
    auth.backdate(cred.issued_at - 400)
    assert auth.credential.issued_at == cred.issued_at - 400  # token_time_stamp reads it back
    assert auth.credential.issued == cred.issued - 400


def test_a_login_is_an_ordinary_call_that_knows_when_it_started(clock):
    owner, auth = session(clock, login=False)
    clock.now = 1234.0
    auth.login()
    assert owner.options == [{}]       # a login is an ordinary call
    assert owner.started == [1234.0]   # when the exchange being run was sent


# ---------------------------------------------------------------------- failed refreshes
@pytest.mark.parametrize("token_time,failed_at,remaining,quiet", [
    (100, 1100.0, 500.0, 30.0),   # at most 30 s
    (520, 1520.0, 80.0, 10.0),    # an eighth of the token's remaining life
    (360, 1596.0, 4.0, 1.0),      # at least a second
])
def test_a_failed_refresh_stays_quiet_for_an_eighth_of_the_remaining_life(
        clock, token_time, failed_at, remaining, quiet):
    owner, auth = session(clock)
    owner.token_time = token_time
    clock.now = failed_at
    owner.fail = [LoginError("extend answered 500")]
    auth.before_call()
    [warned] = owner.log.lines  # one warning: the tenant, why, how long the token serves
    names(warned, "tenant 'unit'", "LoginError", f" {remaining:.0f} ")
    clock.now = failed_at + quiet - 0.01
    auth.before_call()
    assert owner.exchanges == ["login", "extend"]
    clock.now = failed_at + quiet
    auth.before_call()
    assert owner.exchanges == ["login", "extend", "extend"]


@pytest.mark.parametrize("lifetime,now,connect,read", [
    (3600.0, 1360.0, 10.0, 180.0),   # remaining 3240 s: both capped
    (600.0, 1360.0, 10.0, 120.0),    # remaining 240 s: half of it to read
    (600.0, 1580.0, 5.0, 10.0),      # remaining 20 s: a quarter to connect, half to read
    (600.0, 1596.0, 1.0, 2.0),
    (600.0, 1598.0, 0.5, 1.0),       # never less than half a second
])
def test_a_proactive_refresh_is_one_attempt_within_the_tokens_remaining_life(
        clock, lifetime, now, connect, read):
    owner, auth = session(clock, lifetime=lifetime)
    clock.now = now
    auth.before_call()
    assert owner.exchanges == ["login", "extend"]
    assert owner.options[-1] == {"max_retries": 0, "timeout": (connect, read)}


def test_a_token_due_before_the_first_second_of_the_clock_is_refreshed(clock):
    clock.now = 0.0  # a monotonic clock just after boot, say
    owner, auth = session(clock, lifetime=1.0)
    clock.now = 0.98  # due: 2 % of its second before expiry
    auth.before_call()
    assert owner.exchanges == ["login", "extend"]


def test_an_extend_at_expiry_is_one_short_attempt_and_the_login_after_it_is_not(clock):
    owner, auth = session(clock)
    clock.now = 1599.5  # in its last second: expired for us, still valid for the tenant
    owner.fail = [LoginError("extend refused")]
    auth.before_call()
    assert owner.exchanges == ["login", "extend", "login"]
    assert owner.options[1:] == [{"max_retries": 0, "timeout": (0.5, 0.5)}, {}]
    [warned] = owner.log.lines
    names(warned, "tenant 'unit'", "LoginError")


def test_a_token_at_its_expiry_is_not_extended(clock):
    owner, auth = session(clock)
    clock.now = auth.credential.expires
    auth.before_call()
    assert owner.exchanges == ["login", "login"]


# ---------------------------------------------------------------------- logins on demand
def test_refresh_extends_where_the_api_can_and_logs_in_otherwise(clock):
    owner, auth = session(clock)
    clock.now += 1
    auth.refresh()
    owner2, auth2 = session(clock, can_extend=False)
    clock.now += 1
    auth2.refresh()
    assert owner.exchanges == ["login", "extend"] and owner2.exchanges == ["login", "login"]


def test_a_source_that_cannot_extend_refreshes_by_logging_in(clock):
    owner = Owner(clock)
    owner.can_extend = False
    auth = Authenticator(owner, clock=clock)
    auth.login()
    clock.now += 1
    auth.refresh()
    assert owner.exchanges == ["login", "login"]


def test_refresh_before_any_login_logs_in(clock):
    owner, auth = session(clock, can_extend=False, login=False)
    cred = auth.refresh()
    assert owner.exchanges == ["login"] and cred is auth.credential


@pytest.mark.parametrize("ask", ["refresh", "login"])
def test_asking_while_an_exchange_started_no_earlier_runs_is_served_by_it(clock, ask):
    owner, auth = session(clock)
    clock.now += 1
    owner.gate = threading.Event()
    got = []
    first = started(getattr(auth, ask), got)
    until_exchanges(owner, 2)
    second = started(getattr(auth, ask), got)  # asks at the clock time the exchange was sent
    threading.Event().wait(0.1)
    owner.gate.set()
    first.join(5)
    second.join(5)
    assert len(owner.exchanges) == 2
    assert got == [auth.credential, auth.credential]  # both get that exchange's token


# ---------------------------------------------------------------------- after a 401
@pytest.mark.contract  # 1.0.1's line ("Session expired. Generating new Token and retrying")
def test_the_401_of_an_expired_token_is_a_warning_the_user_reads(clock):
    owner, auth = session(clock)
    cred = auth.credential
    clock.now = cred.expires
    auth.after_401(cred.header, cred, CallAuth(), "GET /x")
    assert owner.log.lines == ["Session expired for tenant 'unit'. Generating new token and "
                                "retrying."]


def test_a_refusal_of_a_live_token_is_a_warning_naming_the_call(clock):
    owner, auth = session(clock)
    cred = auth.credential
    auth.after_401(cred.header, cred, CallAuth(), "GET /policy")
    [warned] = owner.log.lines
    names(warned, "GET /policy", "401")


def test_a_refusal_names_the_call_and_nothing_is_remembered_after_it(clock):
    owner, auth = session(clock)
    call = CallAuth()
    call.refused = True  # it was resent once already
    cred = auth.credential
    with pytest.raises(AuthorizationError) as info:
        auth.after_401(cred.header, cred, call, "GET /forbidden")
    names(info.value, "GET /forbidden")
    assert cred.token not in str(info.value) and cred.header not in str(info.value)
    cred = auth.credential
    owner.dead.add(cred.token)  # revoked now: the next 401 there finds that out
    auth.after_401(cred.header, cred, CallAuth(), "GET /forbidden")
    assert owner.exchanges == ["login", "extend", "extend", "login"]


def test_a_call_whose_tokens_keep_being_replaced_ends_naming_itself(clock):
    owner, auth = session(clock)
    call = CallAuth()
    with pytest.raises(LoginError) as info:
        for _ in range(MAX_EXPIRIES + 1):
            old = auth.credential
            clock.now += 1
            auth.relogin(old)  # another thread renewed it meanwhile
            auth.after_401(old.header, old, call, "GET /x")
    names(info.value, "GET /x", "tenant 'unit'", f"{MAX_EXPIRIES} renewals")  # call, whose, bound
    assert call.expiries == MAX_EXPIRIES + 1


def test_a_call_whose_tokens_keep_expiring_ends_naming_itself(clock):
    owner, auth = session(clock)
    call = CallAuth()
    with pytest.raises(LoginError, match="GET /x.*tenant 'unit'"):  # names the call and whose
        for _ in range(MAX_EXPIRIES + 1):
            cred = auth.credential
            clock.now = cred.expires
            assert cred.state(clock.now, None) == EXPIRED
            auth.after_401(cred.header, cred, call, "GET /x")
    assert len(owner.exchanges) == 1 + MAX_EXPIRIES


# ---------------------------------------------------------------------- waiting for a refresh
def test_an_expired_call_waits_for_a_running_proactive_refresh_and_uses_its_token(clock):
    owner, auth = session(clock)
    owner.gate = threading.Event()
    clock.now = 1360.0  # due: a proactive refresh starts
    returned = []
    refresher = started(auth.before_call, returned)
    until_exchanges(owner, 2)
    clock.now = 1599.5  # meanwhile the old token reaches its last second
    caller = started(auth.before_call, returned)
    threading.Event().wait(0.1)
    owner.gate.set()
    refresher.join(5)
    caller.join(5)
    assert returned == [None, None] and owner.exchanges == ["login", "extend"]
    assert auth.credential.state(clock.now, owner.token_time) == FRESH


class _Done:
    """The done event of a refresh that never ends: notes how long it was waited for."""

    def __init__(self):
        self.waits = []

    def wait(self, timeout=None):
        self.waits.append(timeout)
        return False


@pytest.mark.parametrize("wait_limit", [30.0, 0.5, 0.0])
def test_the_wait_for_a_proactive_refresh_is_bounded_by_wait_limit(clock, wait_limit):
    from pcpi._auth import _Flight

    owner, auth = session(clock)
    auth.wait_limit = wait_limit
    stuck = auth._advisory = _Flight()
    stuck.done = _Done()
    clock.now = 1600.0  # expired
    auth.before_call()  # waits (for the bound), then logs in by itself
    assert stuck.done.waits == [wait_limit]
    assert owner.exchanges == ["login", "login"]


def test_a_short_wait_limit_still_lets_a_waiter_take_another_threads_token(clock):
    owner, auth = session(clock)
    auth.wait_limit = 0.9  # on the fake clock, all of it remains while the waiter waits
    clock.now = 1600.0
    owner.gate = threading.Event()
    returned = []
    leader = started(auth.before_call, returned)
    until_exchanges(owner, 2)
    waiter = started(auth.before_call, returned)
    threading.Event().wait(0.1)
    owner.gate.set()
    leader.join(5)
    waiter.join(5)
    assert returned == [None, None] and owner.exchanges == ["login", "login"]


def test_with_a_wait_limit_of_zero_a_call_never_waits_for_another_threads_login(clock):
    from pcpi._auth import _Flight

    owner, auth = session(clock)
    auth.wait_limit = 0.0
    running = auth._flight = _Flight()  # another thread's login, as this call finds it
    running.done = _Done()

    def finished(timeout=None):  # had this call waited, it would have found it done
        running.done.waits.append(timeout)
        auth._flight = None
        return True

    running.done.wait = finished
    clock.now = 1600.0
    with pytest.raises(LoginError, match="0 seconds"):  # names the bound
        auth.before_call()
    assert running.done.waits == [] and owner.exchanges == ["login"]
