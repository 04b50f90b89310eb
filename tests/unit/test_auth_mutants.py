"""The authenticator (pcpi._auth) where its lifecycle tests do not look
(mutation testing, issue 24): the options of the question a 401 raises, of
``alive()`` and of the login after a proactive refresh finds the token dead;
which success is kept as proof of life; the late 401 of a token the tenant took;
what the warnings and the bound after a revoked token name; and how many of the
tenant's verdicts are remembered."""

from __future__ import annotations

import pytest

from pcpi._auth import MAX_EXPIRIES, CallAuth
from pcpi.errors import AuthorizationError, LoginError

from .._fakes import names
from .test_auth_edges import session

#: the verdicts about tokens that an authenticator remembers (the latest ones)
VERDICTS_KEPT = 16


# ---------------------------------------------------------------------- options of a question
def test_the_question_a_401_raises_is_one_attempt_within_the_calls_timeout(clock):
    owner, auth = session(clock)
    cred = auth.credential
    auth.after_401(cred.header, cred, CallAuth(), "GET /x", answered_at=clock.now,
                   timeout=(3.0, 7.0))
    assert owner.exchanges == ["login", "extend"]
    assert owner.options[-1] == {"max_retries": 0, "timeout": (3.0, 7.0)}


def test_asking_whether_a_token_lives_is_one_attempt_and_says_alive_or_dead(clock):
    owner, auth = session(clock)
    assert auth.alive(auth.credential) is True  # extended: a new token
    assert owner.exchanges == ["login", "extend"] and owner.options[-1] == {"max_retries": 0}
    cred = auth.credential
    owner.dead.add(cred.token)
    assert auth.alive(cred) is False  # refused: replaced by a login
    assert owner.exchanges == ["login", "extend", "extend", "login"]
    assert auth.credential is not cred


def test_a_proactive_refresh_that_finds_the_token_dead_logs_in_with_one_short_attempt(clock):
    owner, auth = session(clock)
    cred = auth.credential
    owner.dead.add(cred.token)
    clock.now = 1360.0  # due (token_time 360): 240 s of life left
    auth.before_call()
    assert owner.exchanges == ["login", "extend", "login"] and auth.credential is not cred
    assert owner.options[-1] == {"max_retries": 0, "timeout": (10.0, 120.0)}
    [warned] = owner.log.lines
    names(warned, "tenant 'unit'", "revoked")


# ---------------------------------------------------------------------- refresh() and its warning
def test_a_refresh_that_finds_the_token_dead_says_so_naming_whose(clock):
    owner, auth = session(clock)
    owner.dead.add(auth.credential.token)
    clock.now += 1
    auth.refresh()
    assert owner.exchanges == ["login", "extend", "login"]
    [warned] = owner.log.lines
    names(warned, "tenant 'unit'", "revoked")


@pytest.mark.parametrize("can_extend,login", [(True, False), (False, True)])
def test_a_refresh_with_nothing_to_extend_logs_in_without_a_warning(clock, can_extend, login):
    owner, auth = session(clock, can_extend=can_extend, login=login)
    clock.now += 1
    auth.refresh()
    assert owner.exchanges[-1] == "login" and "extend" not in owner.exchanges
    assert owner.log.lines == []


# ---------------------------------------------------------------------- proof of life
def test_the_latest_call_that_succeeded_with_a_token_is_its_proof_of_life(clock):
    owner, auth = session(clock)
    first = auth.credential
    auth.accepted(first, 1001.0)
    auth.accepted(first, 1003.0)  # a later success with the same token
    assert auth.alive_since(first) == 1003.0
    auth.accepted(first, 1002.0)  # a call sent earlier, answered last, proves no more
    auth.accepted(None, 1004.0)   # a call sent without a token of ours proves nothing
    assert auth.alive_since(first) == 1003.0
    clock.now += 1
    auth.refresh()
    second = auth.credential
    auth.accepted(second, 1002.5)  # the first success with a new token counts, however early
    assert auth.alive_since(second) == 1002.5 and auth.alive_since(first) < 0


def test_a_refusal_proved_by_a_success_and_refused_again_later_is_fatal_after_a_question(
        clock):
    owner, auth = session(clock)
    cred = auth.credential
    auth.accepted(cred, 1005.0)  # a call sent at 1005 succeeded with it
    call = CallAuth()
    auth.after_401(cred.header, cred, call, "GET /forbidden", answered_at=1004.0)
    assert owner.exchanges == ["login"]  # the endpoint's refusal: resent, no question
    clock.now = 1010.0
    with pytest.raises(AuthorizationError) as info:  # refused again after that success
        auth.after_401(cred.header, cred, call, "GET /forbidden", answered_at=1010.0)
    names(info.value, "GET /forbidden")
    assert owner.exchanges == ["login", "extend"]


# ---------------------------------------------------------------------- a late 401
def _refused_once(owner, auth, clock, where="GET /forbidden"):
    """A call refused with a live token: the tenant was asked, took it and extended
    it; the token it was sent with is replaced."""
    cred = auth.credential
    auth.after_401(cred.header, cred, CallAuth(), where, answered_at=clock.now)
    assert auth.credential is not cred
    return cred


def test_a_late_401_of_a_token_the_tenant_took_is_the_endpoints_refusal(clock):
    owner, auth = session(clock)
    old = _refused_once(owner, auth, clock)
    owner.log.lines.clear()
    call = CallAuth()  # another call there, sent with the old token, refused meanwhile
    auth.after_401(old.header, old, call, "GET /forbidden/2", answered_at=clock.now)
    [warned] = owner.log.lines  # resent once with the new token, saying why
    names(warned, "GET /forbidden/2", "401")
    assert call.expiries == 0 and owner.exchanges == ["login", "extend"]
    new = auth.credential
    with pytest.raises(AuthorizationError) as info:  # refused again: no new question
        auth.after_401(new.header, new, call, "GET /forbidden/2", answered_at=clock.now)
    names(info.value, "GET /forbidden/2")
    assert owner.exchanges == ["login", "extend"]


def test_the_verdicts_of_the_latest_tokens_asked_about_are_remembered(clock):
    owner, auth = session(clock)
    asked = []
    for _ in range(VERDICTS_KEPT + 1):
        clock.now += 1
        asked.append(_refused_once(owner, auth, clock))
    owner.log.lines.clear()
    latest, forgotten = CallAuth(), CallAuth()
    auth.after_401(asked[1].header, asked[1], latest, "GET /a", answered_at=clock.now)
    auth.after_401(asked[0].header, asked[0], forgotten, "GET /b", answered_at=clock.now)
    assert latest.expiries == 0 and len(owner.log.lines) == 1  # a refusal, resent once
    assert forgotten.expiries == 1  # no verdict kept: resent as after a renewal


# ---------------------------------------------------------------------- revoked, again and again
def test_a_call_whose_tokens_keep_being_revoked_ends_naming_itself(clock):
    owner, auth = session(clock)
    call = CallAuth()
    with pytest.raises(LoginError) as info:
        for _ in range(MAX_EXPIRIES + 1):
            cred = auth.credential
            owner.dead.add(cred.token)  # the tenant refuses it before its expiry
            auth.after_401(cred.header, cred, call, "GET /x", answered_at=clock.now)
    names(info.value, "GET /x", "tenant 'unit'", f"{MAX_EXPIRIES} renewals")
    assert owner.exchanges.count("login") == 1 + MAX_EXPIRIES + 1


# ---------------------------------------------------------------------- asking fails
def test_a_question_that_fails_is_a_warning_naming_whose_token_and_what_failed(clock):
    owner, auth = session(clock)
    cred = auth.credential
    owner.fail = [LoginError("extend answered 503")]
    auth.after_401(cred.header, cred, CallAuth(), "GET /x", answered_at=clock.now)
    assert owner.exchanges == ["login", "extend", "login"]
    [warned] = owner.log.lines
    names(warned, "tenant 'unit'", "LoginError")


# ---------------------------------------------------------------------- headers set by hand
def test_a_401_for_a_header_set_by_hand_shows_the_current_credential_again(clock):
    owner, auth = session(clock)
    cred = auth.credential
    auth.after_401("Bearer by-hand", cred, CallAuth(), "GET /x", answered_at=clock.now)
    assert owner.published == [cred, cred] and owner.exchanges == ["login"]
