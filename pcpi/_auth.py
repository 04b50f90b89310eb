"""How a session stays logged in: one :class:`Authenticator` per session.

A 401, in short.  If the token sent is not the session's current one (another
thread renewed it, or ``session.headers`` was set by hand), the call is resent
with the current one.  If the current token has expired by its own ``exp``
claim, one thread logs in again while the others wait for it, then all resend.
If the token is still valid by its claim, the refusal is decided by facts, not
remembered: a call sent after this one that succeeded with the same token
proves it alive; otherwise the tenant is asked (one thread for all: CSPM's
extend with that token; where there is no extend, a renewal).  Dead (revoked:
a key disabled, a session ended by an admin): one login for all, then resend,
as for an expiry.  Alive: the endpoint refuses a token the tenant accepts; the
call is resent once, and refused again it raises
:class:`~pcpi.errors.AuthorizationError` naming the endpoint.

The credential (:class:`Credential`: the header value sent, the token, when it
was issued, how long it lives) is immutable and replaced by one assignment.
Its lifetime is the token's ``exp - iat`` (Prisma Cloud's tokens are JWTs),
counted from when the login was *sent*, so that it never runs late and clock
skew does not matter; a token that does not say lives ``token_time`` seconds.
Before each call, :meth:`Authenticator.before_call` finds it:

* fresh: nothing to do (a few comparisons);
* due (``token_time`` old, or a few round trips before expiry): the first thread
  to notice refreshes it (extend, else log in) while the others keep sending
  with the still-valid token; a failed refresh is a warning, tried again later;
* expired, or in its last moments: calls wait, at most ``wait_limit`` seconds,
  for one thread's login.

When a login fails, each waiting thread gets its own copy of the error, chained
to it; the failure is not kept for later calls.  No I/O here: a
:class:`TokenSource` (one per product, :mod:`pcpi._logins`) performs the
exchanges.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import json
import math
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from . import _fork
from ._bounded import BoundedCache
from ._redact import Secret
from .errors import AuthorizationError, LoginError, PcpiError

if TYPE_CHECKING:
    from typing_extensions import Protocol, TypeGuard
else:
    Protocol = object

__all__ = ["Authenticator", "Credential", "CallAuth", "Exchange", "TokenSource",
           "claimed_lifetime", "WAIT_LIMIT"]

#: longest a call waits for another thread's login or refresh (seconds)
WAIT_LIMIT = 300.0
#: a 401 resent with a newer token (the one sent was stale) at most this often per call
MAX_STALE = 3
#: ... and re-authenticated after a genuine expiry (or revocation) at most this often
MAX_EXPIRIES = 10
#: lifetimes a token may claim (longer or shorter claims are not believed)
LIFETIME_RANGE = (0.001, 30 * 86400.0)

FRESH, DUE, EXPIRED = "fresh", "due", "expired"
#: what asking the tenant about a token found: it lives (and was extended); it is
#: dead (and a login replaced it); a renewal replaced it, which says nothing about
#: the old one (no extend API); the question got no answer (the extend failed
#: otherwise; a login replaced it); or another thread replaced it meanwhile
ALIVE, DEAD, RENEWED, UNKNOWN, REPLACED = "alive", "dead", "renewed", "unknown", "replaced"


@dataclasses.dataclass(frozen=True)
class Exchange:
    """How one login or refresh exchange is sent: passed to the
    :class:`TokenSource`, which passes it on to the exchange's call."""

    started: float = 0.0   #: clock() when the exchange began
    #: (connect, read) seconds, or None for the session's default
    timeout: Optional[Tuple[float, float]] = None
    #: resends of any kind allowed (None: the session's); 0 for a proactive refresh
    max_retries: Optional[int] = None


class TokenSource(Protocol):
    """What an :class:`Authenticator` needs of a product: how to obtain, extend
    and present a token (:mod:`pcpi._logins` has one per product)."""

    #: whether :meth:`extend` exists: it renews a token more cheaply than a
    #: login, and its refusal says the token is dead
    can_extend: bool

    @property
    def what(self) -> str:
        """Whose token it is, for messages ("tenant 'prod'")."""

    @property
    def token_time(self) -> object:
        """Renew a token at least this often (seconds; the session's 1.0.1
        attribute, read live)."""

    def login(self, exchange: Exchange) -> str:
        """One login: the new token, or raise."""

    def extend(self, token: str, exchange: Exchange) -> Optional[str]:
        """A new token for ``token``; None when the tenant refuses ``token`` (it is
        dead); raise on any other failure."""

    def header(self, token: str) -> str:
        """The value of the header that carries ``token``."""

    def present(self, credential: "Credential") -> None:
        """Show a new credential on the session (its headers)."""

    def refused(self, where: str) -> str:
        """The message of an :class:`~pcpi.errors.AuthorizationError` for ``where``."""

    def warn(self, message: str) -> None:
        """Log a warning."""


def claimed_lifetime(token: str, now: Optional[float] = None) -> Optional[float]:
    """Seconds a token says it lives: ``exp - iat`` of a JWT (``exp - now`` when
    it has no ``iat``); None when it is not a JWT or says nothing believable."""
    parts = token.split(".") if isinstance(token, str) and len(token) < 65536 else ()
    if len(parts) != 3:
        return None
    body = parts[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return None
    if not isinstance(claims, dict):
        return None
    exp, iat = claims.get("exp"), claims.get("iat")
    if not _number(exp):
        return None
    lifetime = exp - iat if _number(iat) and iat < exp else \
        exp - (time.time() if now is None else now)
    if not LIFETIME_RANGE[0] <= lifetime <= LIFETIME_RANGE[1]:
        return None
    return float(lifetime)


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value)


@dataclasses.dataclass(frozen=True)
class Credential:
    """One token and what is known about it; replaced whole, never changed."""

    token: str = dataclasses.field(repr=False)
    header: str = dataclasses.field(repr=False)  # the value of the auth header, as sent
    issued: float        # time.monotonic() when the exchange that got it was sent
    issued_at: float     # time.time() at the same moment (1.0.1's token_time_stamp)
    lifetime: float      # seconds: the token's own claim, else token_time
    rtt: float = 0.0     # how long that exchange took
    claimed: bool = False

    @property
    def expires(self) -> float:
        return self.issued + self.lifetime

    @property
    def lead(self) -> float:
        """How long before expiry a refresh starts: a few round trips, and
        between 2 % and 10 % of the lifetime (at most a minute)."""
        lifetime = self.lifetime
        return min(0.1 * lifetime, max(3.0 * self.rtt, 0.02 * lifetime), 60.0)

    def state(self, now: float, token_time: Optional[float]) -> str:
        """FRESH, DUE (refresh while sending with it) or EXPIRED (wait for a new one)."""
        lead = self.lead
        if now >= self.expires - min(0.25 * lead, 1.0):
            return EXPIRED
        due = self.lifetime - lead
        if _number(token_time) and 0 < token_time < due:
            due = token_time  # 1.0.1's token_time: refresh a token at least this often
        return DUE if now >= self.issued + due else FRESH


class CallAuth:
    """What one call has been through with 401s (lives in the call's frame)."""

    __slots__ = ("stale", "expiries", "refused", "refused_at")

    def __init__(self) -> None:
        self.stale: int = 0
        self.expiries: int = 0
        self.refused: bool = False   # resent once already after a refusal of a live token
        #: when that refusal arrived: a token issued after it (by the question it
        #: raised), refused again, is the endpoint's refusal, not a new question
        self.refused_at: float = math.inf


class _Flight:
    """One login or refresh in progress; others wait on ``done``."""

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: Optional[BaseException] = None


class Authenticator:
    """Owns a session's credential: when to log in, extend or re-login, and the
    one thread that does it (see the module docstring).  ``source`` performs the
    exchanges (:class:`TokenSource`)."""

    def __init__(self, source: TokenSource, *, wait_limit: float = WAIT_LIMIT,
                 clock: Callable[[], float] = time.monotonic):
        self.source = source
        self.wait_limit = wait_limit
        self.clock = clock
        #: the current credential (None before the first login)
        self.credential: Optional[Credential] = None
        self._quiet_until = 0.0           # no advisory refresh before (after one failed)
        self._extend_failed: Optional[Credential] = None  # extending this one failed
        #: service URL -> the credential of ours that the service (Compute, CNA)
        #: refused to exchange for its own token, so that others do not log us in again
        self.refused_by: Dict[str, Credential] = {}
        #: the credential a call that succeeded had sent, and when the latest such
        #: call was sent: proof that the token was alive then
        self._alive: Tuple[Optional[Credential], float] = (None, -math.inf)
        #: what the tenant answered about the credentials it was asked about lately
        self._verdicts: BoundedCache[Credential, str] = BoundedCache(16)
        self._reset()
        _fork.register(self)

    @property
    def can_extend(self) -> bool:
        return bool(self.source.can_extend)

    @property
    def what(self) -> str:
        return self.source.what

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._flight: Optional[_Flight] = None       # a login or renewal others wait for
        self._advisory: Optional[_Flight] = None     # a proactive refresh nobody waits for

    def _after_fork_in_child(self) -> None:
        self._reset()  # a flight of another thread does not exist in the child

    # ------------------------------------------------------------------ credentials
    def credential_for(self, token: str, started: float, started_at: float,
                       rtt: float = 0.0) -> Credential:
        """The credential of a token obtained by an exchange sent at ``started``."""
        claimed = claimed_lifetime(token, started_at)
        token_time = self.source.token_time
        lifetime = claimed if claimed is not None else \
            float(token_time) if _number(token_time) and token_time > 0 else 600.0
        return Credential(token=Secret(token), header=Secret(self.source.header(token)),
                          issued=started, issued_at=started_at, lifetime=lifetime, rtt=rtt,
                          claimed=claimed is not None)

    def adopt(self, token: str) -> None:
        """Use ``token`` from now on (a token set by hand)."""
        self._install(self.credential_for(token, self.clock(), time.time()))

    def backdate(self, issued_at: float) -> None:
        """Pretend the current token was issued at ``issued_at`` (time.time())."""
        cred = self.credential
        if cred is not None:
            shift = float(issued_at) - cred.issued_at
            self._install(dataclasses.replace(cred, issued=cred.issued + shift,
                                              issued_at=cred.issued_at + shift))

    def _install(self, cred: Optional[Credential]) -> None:
        self.credential = cred
        if cred is not None:
            self.source.present(cred)

    def _obtain(self, extend: Optional[Credential], exchange: Exchange) -> Optional[str]:
        """One exchange: an extend of ``extend`` (None when the tenant refuses
        it), or a login."""
        if extend is not None:
            return self.source.extend(extend.token, exchange)
        return self.source.login(exchange)

    def _exchange(self, extend: Optional[Credential] = None,
                  exchange: Optional[Exchange] = None) -> bool:
        """One login (or extend of ``extend``) whose token becomes the credential,
        unless a newer one arrived meanwhile (a slow proactive refresh, overtaken
        by a login).  False when an extend found the token dead."""
        started, started_at = self.clock(), time.time()
        exchange = dataclasses.replace(exchange or Exchange(), started=started)
        token = self._obtain(extend, exchange)
        if token is None or (extend is not None and token == extend.token):
            return False  # refused, or the same token handed back: no proof of life
        cred = self.credential_for(token, started, started_at, self.clock() - started)
        current = self.credential
        if current is None or current.issued <= cred.issued:
            self._install(cred)
        return True

    def _login(self) -> None:
        self._exchange()

    def _extend_or_login(self, cred: Optional[Credential],
                         exchange: Optional[Exchange] = None) -> None:
        """Extend ``cred`` where the API can; log in where it cannot, or when the
        tenant says the token is dead."""
        if cred is None or not self.can_extend or not self._exchange(cred, exchange):
            if cred is not None and self.can_extend:
                self.source.warn(f"The token of {self.what} was refused by the tenant before "
                                 f"its expiry (revoked?); logging in again.")
            self._exchange(None, exchange)

    # ------------------------------------------------------------------ before a call
    def before_call(self) -> None:
        """Refresh a due token (one thread, the others go on) or wait for a new
        one when it has expired."""
        cred = self.credential
        if cred is None:
            return
        now = self.clock()
        state = cred.state(now, self.source.token_time)  # type: ignore[arg-type]
        if state == FRESH:
            return
        if state == DUE:
            if now >= self._quiet_until:
                self._advise(cred)
            return
        self._fly(lambda: self.credential is cred, lambda: self._renew(cred))

    def _advise(self, cred: Credential) -> None:
        """A proactive refresh in this thread, unless one is running; one attempt,
        bounded by the token's remaining life; a failure is a warning: the token
        in hand is still valid.  Nobody waits for it: a call whose token expires
        meanwhile logs in by itself."""
        with self._lock:
            if self._advisory is not None or self.credential is not cred:
                return
            flight = self._advisory = _Flight()
        try:
            self._extend_or_login(cred, self._one_attempt(cred))
        except (Exception, PcpiError) as exc:
            self._extend_failed = cred
            remaining = cred.expires - self.clock()
            self._quiet_until = self.clock() + min(30.0, max(1.0, remaining / 8))
            self.source.warn(
                f"Token refresh for {self.what} failed ({type(exc).__name__}); still using "
                f"the current token, valid for {remaining:.0f} more seconds")
        finally:
            with self._lock:
                self._advisory = None
            flight.done.set()

    def _renew(self, cred: Credential) -> None:
        """Replace a token at the end of its life: one quick attempt to extend it
        while it is still valid (unless extending it failed already), else, or if
        that fails, log in."""
        if self.can_extend and self.clock() < cred.expires and self._extend_failed is not cred:
            try:
                if self._exchange(cred, self._one_attempt(cred)):
                    return
            except (Exception, PcpiError) as exc:
                self.source.warn(f"Token refresh for {self.what} failed "
                                 f"({type(exc).__name__}); logging in again")
        self._login()

    def _one_attempt(self, cred: Credential) -> Exchange:
        """An extend that makes one attempt, with a timeout within the token's
        remaining life (a refresh that takes longer is no use)."""
        remaining = cred.expires - self.clock()
        return Exchange(max_retries=0, timeout=(min(10.0, max(0.5, remaining / 4)),
                                                max(0.5, min(180.0, remaining / 2))))

    # ------------------------------------------------------------------ logins on demand
    def login(self) -> Credential:
        """Log in now (one thread; others asking meanwhile wait for it)."""
        started = self.clock()
        self._fly(lambda: self.credential is None or self.credential.issued < started,
                  self._login)
        assert self.credential is not None
        return self.credential

    def refresh(self) -> Credential:
        """Refresh now: extend where the API can, log in otherwise."""
        started = self.clock()
        self._fly(lambda: self.credential is None or self.credential.issued < started,
                  lambda: self._extend_or_login(self.credential))
        assert self.credential is not None
        return self.credential

    def relogin(self, cred: Optional[Credential]) -> None:
        """Log in again unless ``cred`` was replaced meanwhile (by another thread)."""
        self._fly(lambda: self.credential is cred, self._login)

    def valid_token(self) -> str:
        """The current token, renewed first if it has expired."""
        if self.credential is None:
            self.login()
        self.before_call()
        assert self.credential is not None
        return self.credential.token

    # ------------------------------------------------------------------ after a 401
    def after_401(self, sent: Optional[str], sent_cred: Optional[Credential], call: CallAuth,
                  where: str, answered_at: float = math.inf,
                  timeout: Optional[Tuple[float, float]] = None) -> None:
        """Decide what a 401 means and act (see the module docstring): ``sent`` is
        the auth value the call sent, ``sent_cred`` the credential that was
        current when it was sent; the 401 arrived at ``answered_at`` (this clock).
        A question to the tenant is sent within the call's ``timeout``, once.
        Returns when the call should be resent, raises otherwise."""
        exchange = Exchange(max_retries=0, timeout=timeout)
        cred = self.credential
        if sent_cred is not None and sent != sent_cred.header:
            # the session's headers held another value (set by hand): send ours
            if call.stale < MAX_STALE:
                call.stale += 1
                if cred is not None:
                    self.source.present(cred)
                return
            sent_cred = cred  # it keeps coming back: judge the current token itself
        if sent_cred is not cred:
            # replaced since it was sent: after the tenant was asked about it and took
            # it, a refusal of a live token; else an expiry or a renewal: resend
            if sent_cred is not None and self._verdicts.peek(sent_cred) in (ALIVE, RENEWED):
                return self._refusal(call, where, answered_at)
            self._count_expiry(call, where)
            return
        if cred is None or cred.state(self.clock(), None) == EXPIRED:
            self._count_expiry(call, where)
            self.source.warn(f"Session expired for {self.what}. Generating new token and "
                             f"retrying.")
            self.relogin(cred)
            return
        # Valid by its claim.  The endpoint refuses it (its refusal, not a question
        # for the tenant) if a call sent after this 401 arrived succeeded with it
        # (the tenant handled that call later, and a revoked token never comes back),
        # or if the call was refused with a live token before and this one was issued
        # after that (by the question it raised); else ask.
        if self.alive_since(cred) > answered_at or \
                (call.refused and cred.issued >= call.refused_at):
            return self._refusal(call, where, answered_at)
        verdict = self._ask(cred, exchange)
        if verdict in (DEAD, UNKNOWN, REPLACED):
            self._count_expiry(call, where)  # (the ask logged in, or another thread did)
            return
        self._refusal(call, where, answered_at)

    def _refusal(self, call: CallAuth, where: str, answered_at: float) -> None:
        """The endpoint refuses a token the tenant takes: resend once, then raise."""
        if call.refused:
            raise AuthorizationError(self.source.refused(where))
        call.refused, call.refused_at = True, answered_at
        self.source.warn(f"{where} was refused (401) with a token the tenant accepts; "
                         f"sending it once more.")

    def accepted(self, cred: Optional[Credential], sent_at: float) -> None:
        """A call sent with ``cred`` at ``sent_at`` succeeded: the token was alive."""
        alive = self._alive
        if cred is not None and (alive[0] is not cred or alive[1] < sent_at):
            self._alive = (cred, sent_at)

    def alive_since(self, cred: Credential) -> float:
        """When the latest call known to have succeeded with ``cred`` was sent."""
        alive = self._alive
        return alive[1] if alive[0] is cred else -math.inf

    def alive(self, cred: Credential) -> bool:
        """Whether the tenant takes ``cred`` (asked as after a 401: one thread asks
        for all; the token is extended, or replaced by a login when it is not)."""
        return self._ask(cred, Exchange(max_retries=0)) == ALIVE

    def _ask(self, cred: Credential, exchange: Exchange = Exchange()) -> str:
        """Whether the tenant takes ``cred`` (one thread asks, the others wait for
        its answer): ALIVE, DEAD, RENEWED, UNKNOWN or REPLACED."""
        self._fly(lambda: self.credential is cred, lambda: self._judge(cred, exchange))
        return self._verdicts.peek(cred) or REPLACED

    def _judge(self, cred: Credential, exchange: Exchange = Exchange()) -> None:
        """Ask the tenant about ``cred``: an extend with it where the API has one
        (ALIVE, and the new token is used; or refused: DEAD, and log in), else a
        renewal (RENEWED).  An extend that fails otherwise (the service is
        unavailable, or slower than the call allows) says nothing (UNKNOWN): log in."""
        verdict = RENEWED
        if self.can_extend:
            try:  # (one attempt, within the call's timeout: every 401 waits for it)
                verdict = ALIVE if self._exchange(cred, exchange) else DEAD
            except (Exception, PcpiError) as exc:
                verdict = UNKNOWN
                self.source.warn(f"Asking the tenant whether the token of {self.what} is "
                                 f"valid failed ({type(exc).__name__}); logging in again")
        if verdict == DEAD:
            self.source.warn(f"The token of {self.what} was refused by the tenant before its "
                             f"expiry (revoked?); logging in again.")
        if verdict != ALIVE:
            self._login()
        self._verdicts.put(cred, verdict)

    def _count_expiry(self, call: CallAuth, where: str) -> None:
        call.expiries += 1
        if call.expiries > MAX_EXPIRIES:
            raise LoginError(f"{where}: the tokens of {self.what} kept expiring or being "
                             f"refused before the call got through ({MAX_EXPIRIES} renewals); "
                             f"if this API refuses your key (a permission) and the tenant "
                             f"refuses to extend its tokens, check the key's role")

    # ------------------------------------------------------------------ single flight
    def _fly(self, needed: Callable[[], bool], action: Callable[[], None]) -> None:
        """Run ``action`` in this thread if it is ``needed()`` and no other thread
        is running one; else wait (at most ``wait_limit``) for that one, then
        check again.  A waiter gets its own copy of the leader's error."""
        deadline = self.clock() + self.wait_limit
        advisory = self._advisory
        if advisory is not None:
            # a proactive refresh is one bounded attempt: worth waiting for (if it
            # fails, needed() below is still true and this thread logs in)
            advisory.done.wait(max(0.0, deadline - self.clock()))
        while True:
            with self._lock:
                flight = self._flight
                if flight is None:
                    if not needed():
                        return
                    flight = self._flight = _Flight()
                    lead = True
                else:
                    lead = False
            if lead:
                try:
                    action()
                except BaseException as exc:
                    if isinstance(exc, (Exception, PcpiError)):  # not KeyboardInterrupt
                        flight.error = exc
                    raise
                finally:
                    with self._lock:
                        self._flight = None
                    flight.done.set()
                return
            remaining = deadline - self.clock()
            if remaining <= 0 or not flight.done.wait(remaining):
                raise LoginError(f"gave up after waiting {self.wait_limit:g} seconds for "
                                 f"another thread's login for {self.what}")
            if flight.error is not None:
                raise _own_copy(flight.error)
            # it succeeded, or its leader was interrupted: is it still needed?


def _own_copy(error: BaseException) -> BaseException:
    """A fresh exception like ``error`` for one waiting thread, chained to it, so
    that waiters do not share (and grow) one traceback."""
    try:
        fresh = copy.copy(error)
    except Exception:  # an exception class that cannot be copied
        fresh = LoginError(str(error))
    fresh.__traceback__ = None
    fresh.__cause__ = error
    return fresh
