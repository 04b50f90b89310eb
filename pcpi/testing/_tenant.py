"""The fake Prisma Cloud tenant's behaviour: routes, tokens, limits and faults.

This is the *app* the HTTPS engine in :mod:`._server` serves.  It models Prisma
Cloud where pcpi touches it: CSPM login/extend/metadata/search, Compute
(``/compute`` prefix, SaaS token exchange or self-hosted user/password with
projects) and CNA (``/cna`` prefix).  Everything is in memory and driven by
:class:`TenantSettings`, which tests may change while the tenant runs.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import fnmatch
import gzip
import io
import json
import random
import re
import secrets
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from ._ratelimit import TokenBucket
from ._server import Reply, Request

__all__ = ["TenantSettings", "TenantApp", "CONTROL_OPS"]

_JSON = {"Content-Type": "application/json; charset=UTF-8"}

#: Operations a test may run on a tenant, in-process or over ``/_fake/<op>``.
CONTROL_OPS = ("stats", "reset_stats", "configure", "settings", "fail_next", "reset_next",
               "stall_next", "close_next", "clear_faults", "add_route", "expire_tokens",
               "issued_secrets")


@dataclasses.dataclass
class TenantSettings:
    """How the fake tenant behaves.  Every field can be changed at run time with
    ``configure(**changes)``."""

    #: service time added to every API response, in seconds
    latency: float = 0.0
    #: modelled network round trip: +1 RTT per request, +2 RTT per new connection
    rtt: float = 0.0
    #: service time of a 429 from a rate limit (None: ``latency``, as any answer);
    #: 0 answers it after the round trip alone, as a gateway that turns a call away
    #: before the service sees it (a refusal then comes back faster than an answer)
    throttled_latency: Optional[float] = None
    #: seconds a CSPM, Compute or CNA token stays valid
    token_lifetime: float = 600.0
    #: token bucket ``(replenish_per_second, burst)`` for API calls (``/login``
    #: included), or None; one per user and endpoint, as Prisma Cloud documents it
    rate_limit: Optional[Tuple[float, float]] = None
    #: ``"endpoint"`` (default): each endpoint of a user has its own ``rate_limit``
    #: bucket; ``"user"``: one bucket per user, shared by all endpoints
    rate_limit_scope: str = "endpoint"
    #: per-endpoint buckets, e.g. ``{"GET /cloud": (10, 5)}``; override ``rate_limit``
    endpoint_rate_limits: Dict[str, Tuple[float, float]] = dataclasses.field(default_factory=dict)
    #: announce the limits in ``X-RateLimit-*`` headers; False answers bare 429s and
    #: announces nothing, as Prisma's Compute does, on every endpoint
    rate_limit_headers: bool = True
    #: add ``Retry-After`` to 429s: False, True (seconds until a token) or a number
    retry_after: Any = False
    #: probability that an API call is answered with one of ``error_statuses``
    error_rate: float = 0.0
    error_statuses: Tuple[int, ...] = (500, 502, 503)
    #: close a keep-alive connection after this many requests (None: never)
    max_requests_per_connection: Optional[int] = None
    #: close a keep-alive connection idle for this many seconds (None: never)
    idle_timeout: Optional[float] = 60.0
    #: cloud accounts behind ``GET /cloud``
    accounts: int = 50
    #: resources an RQL config search finds, and the server's page size cap
    search_items: int = 250
    search_page_size: int = 100
    #: events an RQL event search finds (``POST /search/event``, then
    #: ``/search/event/page``; pages capped at ``search_page_size``)
    search_events: int = 250
    #: objects behind each Compute list endpoint (``GET /compute/api/v1/images``,
    #: ``hosts``, ``containers``, ``defenders``): ``?offset=&limit=`` over a bare
    #: array, the total in a ``Total-Count`` header, and at most 50 a page whatever
    #: ``limit`` asks, without saying so (as Prisma's Compute does)
    compute_items: int = 120
    #: the most a Compute list answers per page, whatever ``limit`` asks (50, as
    #: Prisma documents; lower it to see a client that advances by the number asked)
    compute_page_cap: int = 50
    #: Compute's documented limit on its list endpoints, ``(replenish_per_second,
    #: burst)`` per user and endpoint, answered with bare 429s (no ``X-RateLimit-*``
    #: headers, no ``Retry-After``): ``(1, 30)`` is Prisma's 30 requests per 30 s;
    #: None (default): off
    compute_rate_limit: Optional[Tuple[float, float]] = None
    #: alerts behind ``POST /v2/alert`` (``pageToken`` in the body) and ``GET
    #: /v2/alert`` (in the query): ``items``, ``totalRows`` and a ``nextPageToken``
    #: on every page with data, the last one included (the next page is empty);
    #: ``limit`` at most 10,000 (more is a 400)
    alerts: int = 250
    #: resources behind ``POST /v2/resource/scan_info``: as alerts, but under
    #: ``resources``, with ``totalMatchedCount`` and ``pageSize``
    scan_resources: int = 250
    #: entries behind ``POST /audit/api/v1/log``: under ``value``, the next page
    #: named by ``nextPageToken`` (in the answer and the next body); ``limit``
    #: 100 to 500 (else a 400), 500 by default
    audit_logs: int = 250
    #: announce totals (``totalRows`` of alerts, ``totalMatchedCount``,
    #: ``Total-Count``); False leaves them out, so only an empty page ends a listing
    paging_totals: bool = True
    #: pad every paged item (search results, alerts, resources, audit entries,
    #: Compute objects) with a ``pad`` field to about this many bytes of JSON
    item_bytes: int = 0
    #: make page tokens at least this many characters long (Prisma's reach about
    #: 43 kB; a request line longer than 8 KiB is answered 414)
    page_token_bytes: int = 0
    #: self-hosted Compute projects accepted in ``?project=``
    projects: Tuple[str, ...] = ("Central Console", "project-a")
    #: seconds a page token (of any paging style) stays valid (None: it never
    #: expires); a late page is answered 400 "pageToken expired"
    page_token_lifetime: Optional[float] = None
    #: gzip answers of 256 bytes or more when the request accepts gzip
    gzip: bool = False
    #: send bodies with ``Transfer-Encoding: chunked`` instead of a Content-Length
    chunked: bool = False
    #: every this many seconds, end every token issued so far (None: never), while
    #: their claims still say they are valid: sessions ended in bulk, as when an
    #: admin logs users out or a key is rotated (``stats()["revocations"]`` counts
    #: each such end, and each token revoked by ``revoke_after_expiry``)
    kill_tokens_every: Optional[float] = None
    #: revoke the first token issued after each token expiry (by lifetime or by
    #: ``kill_tokens_every``) this many seconds after issue (None: never), while
    #: its claim still says it is valid: a login not yet known to every node
    revoke_after_expiry: Optional[float] = None
    #: seed for error_rate draws (None: random)
    seed: Optional[int] = None


class _Token:
    __slots__ = ("kind", "user", "expires", "revoked_at", "expiry_counted", "epoch")

    def __init__(self, kind: str, user: str, expires: float, epoch: int = 0):
        self.kind = kind
        self.user = user
        self.expires = expires
        self.revoked_at: Optional[float] = None  # (time.monotonic())
        self.expiry_counted = False
        self.epoch = epoch  # kill_tokens_every: the period it was issued in


def _status_json(message: str, i18n: str) -> Tuple[bytes, dict]:
    """Prisma Cloud puts error detail in an ``x-redlock-status`` header."""
    status = json.dumps([{"i18nKey": i18n, "severity": "error", "subject": None}])
    return json.dumps({"error": message}).encode(), {**_JSON, "x-redlock-status": status}


class TenantApp:
    """Turns requests into replies; thread-safe for control calls from tests."""

    # counters since the last reset_stats()
    c_requests: int
    c_logins: int
    c_login_failures: int
    c_extends: int
    c_compute_logins: int
    c_cna_logins: int
    c_throttled: int
    c_faults: int
    c_tokens: int
    c_revocations: int

    def __init__(self, base_url_fn: Callable[[Request], str],
                 settings: Optional[TenantSettings] = None,
                 access_key: Optional[str] = None, secret_key: Optional[str] = None,
                 username: str = "admin", password: Optional[str] = None) -> None:
        self._base_url_fn = base_url_fn
        self.settings = settings or TenantSettings()
        self.access_key: str = access_key or "fake-ak-" + secrets.token_hex(8)
        self.secret_key: str = secret_key or "fake-sk-" + secrets.token_urlsafe(24)
        self.username = username
        self.password: str = password or "fake-pw-" + secrets.token_urlsafe(18)
        self.prisma_id: str = str(random.randint(10**17, 10**18 - 1))
        self._born = time.monotonic()
        self.lock: threading.Lock = threading.Lock()
        self.tokens: Dict[str, _Token] = {}
        self.faults: List[Dict[str, Any]] = []
        self.routes: Dict[Tuple[str, str], Dict[str, Any]] = {}
        self.buckets: Dict[Tuple[str, Optional[str]], TokenBucket] = {}
        self.rng: random.Random = random.Random(self.settings.seed)
        self._account_list: List[Any] = []
        self._account_csv = b""
        self._rebuild_accounts()
        self.server_stats: Any = None  # set by the owner: the engine's connection counters
        #: set by the owner when Compute has its own listener ("compute"): its
        #: ``https://host:port``, which ``/meta_info`` then points at
        self.compute_origin: Optional[str] = None
        self.reset_stats()

    # ------------------------------------------------------------------ engine hooks
    def connect_delay(self) -> float:
        return 2 * self.settings.rtt

    def idle_timeout(self) -> Optional[float]:
        return self.settings.idle_timeout

    def max_requests_per_connection(self) -> Optional[int]:
        return self.settings.max_requests_per_connection

    # ------------------------------------------------------------------ control ops
    def stats(self) -> Dict[str, Any]:
        """Counters since the last reset (connections, handshakes, requests...)."""
        with self.lock:
            out = {
                "requests": self.c_requests,
                "requests_by_endpoint": dict(self.c_endpoints),
                "responses_by_status": {str(k): v for k, v in self.c_status.items()},
                "logins": self.c_logins,
                "login_failures": self.c_login_failures,
                "extends": self.c_extends,
                "compute_logins": self.c_compute_logins,
                "cna_logins": self.c_cna_logins,
                "throttled": self.c_throttled,
                "faults_injected": self.c_faults,
                "tokens_issued": self.c_tokens,
                "revocations": self.c_revocations,
            }
        if self.server_stats is not None:
            out.update(self.server_stats.snapshot())
        return out

    def reset_stats(self) -> None:
        """Zero every counter."""
        with self.lock:
            self.c_requests = 0
            self.c_endpoints: Counter[str] = Counter()
            self.c_status: Counter[int] = Counter()
            self.c_logins = self.c_login_failures = self.c_extends = 0
            self.c_compute_logins = self.c_cna_logins = 0
            self.c_throttled = self.c_faults = self.c_tokens = 0
            self.c_revocations = 0
        if self.server_stats is not None:
            self.server_stats.reset()

    def configure(self, **changes: Any) -> Dict[str, Any]:
        """Change settings while running; returns the new settings."""
        with self.lock:
            fields = {f.name for f in dataclasses.fields(TenantSettings)}
            unknown = set(changes) - fields
            if unknown:
                raise ValueError(f"unknown tenant settings: {sorted(unknown)}")
            for name, value in changes.items():
                if name in ("rate_limit", "compute_rate_limit") and value is not None:
                    value = tuple(value)
                if name == "endpoint_rate_limits":
                    value = {k: tuple(v) for k, v in (value or {}).items()}
                if name in ("error_statuses", "projects"):
                    value = tuple(value)
                setattr(self.settings, name, value)
            if self.settings.rate_limit_scope not in ("endpoint", "user"):
                raise ValueError("rate_limit_scope must be 'endpoint' or 'user'")
            if {"rate_limit", "endpoint_rate_limits", "rate_limit_scope",
                    "compute_rate_limit"} & set(changes):
                self.buckets.clear()
            if "seed" in changes:
                self.rng = random.Random(self.settings.seed)
            if "accounts" in changes:
                self._rebuild_accounts()
        return self.settings_dict()

    if TYPE_CHECKING:  # (the instance attribute set in __init__ hides the method)
        settings: TenantSettings
    else:
        def settings(self) -> dict:
            return self.settings_dict()

    def settings_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self.settings)

    def fail_next(self, status: int, count: int = 1, *, method: Optional[str] = None,
                  path: Optional[str] = None, headers: Optional[Dict[str, str]] = None,
                  body: Any = None) -> None:
        """Answer the next ``count`` matching requests with ``status``.

        ``path`` is an exact path or a glob (``/cloud/*``); None matches all.
        """
        self._add_fault("status", count, method, path, status=int(status),
                        headers=dict(headers or {}), body=body)

    def reset_next(self, count: int = 1, *, method: Optional[str] = None,
                   path: Optional[str] = None) -> None:
        """Reset the connection half-way through the next ``count`` responses."""
        self._add_fault("reset", count, method, path)

    def stall_next(self, seconds: float, count: int = 1, *, method: Optional[str] = None,
                   path: Optional[str] = None) -> None:
        """Hold the next ``count`` responses for ``seconds`` before answering."""
        self._add_fault("stall", count, method, path, seconds=float(seconds))

    def close_next(self, count: int = 1, *, method: Optional[str] = None,
                   path: Optional[str] = None) -> None:
        """Close the connection instead of answering the next ``count`` requests."""
        self._add_fault("close", count, method, path)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def add_route(self, method: str, path: str, status: int = 200, json: Any = None, *,
                  body: Optional[str] = None, headers: Optional[Dict[str, str]] = None,
                  auth: bool = True) -> None:
        """Serve a canned response for ``method path`` (exact path or glob).

        ``auth=True`` requires a valid CSPM token like the real API routes.
        """
        if json is not None:
            payload = _dumps(json)
            hdrs = dict(_JSON)
        else:
            payload = (body or "").encode()
            hdrs = {"Content-Type": "text/plain"}
        hdrs.update(headers or {})
        with self.lock:
            self.routes[(method.upper(), path)] = {"status": int(status), "body": payload,
                                                   "headers": hdrs, "auth": auth}

    def expire_tokens(self) -> int:
        """Make every token issued so far invalid; returns how many."""
        with self.lock:
            for tok in self.tokens.values():
                tok.expires = 0.0
            return len(self.tokens)

    def issued_secrets(self) -> List[str]:
        """Every token issued plus the credentials: what must never be logged."""
        with self.lock:
            return list(self.tokens) + [self.secret_key, self.password]

    # ------------------------------------------------------------------ internals
    def _add_fault(self, kind: str, count: int, method, path, **extra) -> None:
        if count < 1:
            raise ValueError("count must be >= 1")
        fault = {"kind": kind, "count": int(count),
                 "method": method.upper() if method else None, "path": path, **extra}
        with self.lock:
            self.faults.append(fault)

    def _take_fault(self, req: Request) -> Optional[dict]:
        if not self.faults:
            return None
        with self.lock:
            for fault in self.faults:
                if fault["method"] and fault["method"] != req.method:
                    continue
                pat = fault["path"]
                if pat and pat != req.path and not fnmatch.fnmatchcase(req.path, pat):
                    continue
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.faults.remove(fault)
                self.c_faults += 1
                return fault
        return None

    def _rebuild_accounts(self) -> None:
        n = self.settings.accounts
        self._account_list = [
            {"accountId": f"{100000000000 + i}", "name": f"account-{i:04d}",
             "cloudType": ("aws", "azure", "gcp")[i % 3], "enabled": True,
             "accountType": "account"} for i in range(n)]
        self._account_by_id = {a["accountId"]: a for a in self._account_list}
        self._account_json = _dumps(self._account_list)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["accountId", "name", "cloudType", "enabled"])
        for a in self._account_list:
            w.writerow([a["accountId"], a["name"], a["cloudType"], "true"])
        self._account_csv = buf.getvalue().encode()

    def _mint(self, kind: str, user: str) -> str:
        now = time.time()
        header = _b64({"alg": "HS256", "typ": "JWT"})
        # NumericDate may have a fraction (RFC 7519): sub-second lifetimes stay exact
        payload = _b64({"sub": user, "kind": kind, "iat": round(now, 3),
                        "exp": round(now + self.settings.token_lifetime, 3),
                        "jti": secrets.token_hex(8)})
        token = f"{header}.{payload}.{secrets.token_urlsafe(32)}"
        mono = time.monotonic()
        epoch = self._epoch(mono)
        minted = _Token(kind, user, mono + self.settings.token_lifetime, epoch)
        with self.lock:
            revoke = self.settings.revoke_after_expiry
            if revoke is not None or self.settings.kill_tokens_every:
                expired = [t for t in self.tokens.values() if not t.expiry_counted and
                           (t.expires <= mono or t.epoch != epoch)]
                for old in expired:
                    old.expiry_counted = True
                # each bulk end of tokens is a revocation (their claims said valid)
                self.c_revocations += len({t.epoch for t in expired if t.epoch != epoch})
                if expired and revoke is not None:  # the first token issued since
                    minted.revoked_at = mono + revoke
                    self.c_revocations += 1
            self.tokens[token] = minted
            self.c_tokens += 1
        return token

    def _valid(self, token: Optional[str], kinds: Tuple[str, ...]) -> Optional[_Token]:
        if not token:
            return None
        tok = self.tokens.get(token)
        now = time.monotonic()
        if tok is None or tok.kind not in kinds or tok.expires <= now or \
                (tok.revoked_at is not None and tok.revoked_at <= now) or \
                tok.epoch != self._epoch(now):
            return None
        return tok

    def _epoch(self, now: float) -> int:
        """The ``kill_tokens_every`` period ``now`` falls in (0 when not set)."""
        every = self.settings.kill_tokens_every
        return int((now - self._born) // every) if every else 0

    def _count(self, endpoint: str, reply: Reply) -> Reply:
        with self.lock:
            self.c_requests += 1
            self.c_endpoints[endpoint] += 1
            self.c_status[reply.status] += 1
        return reply

    # ------------------------------------------------------------------ dispatch
    def handle(self, req: Request) -> Reply:
        s = self.settings
        delay = s.latency + s.rtt
        endpoint, handler, auth = self._route(req)
        fault = self._take_fault(req)
        if len(req.target) > _MAX_TARGET:  # (a GET carrying a long page token)
            body, hdrs = _status_json("request URI too long", "uri_too_long")
            reply = Reply(414, body, hdrs)
        elif fault is not None:
            reply = self._fault_reply(fault)
        elif s.error_rate and self.rng.random() < s.error_rate:
            status = self.rng.choice(s.error_statuses)
            body, hdrs = _status_json("injected server error", "internal_error")
            reply = Reply(status, body, hdrs)
        elif handler is None:
            reply = auth  # the routing error reply
        else:
            reply = self._authorised(req, endpoint, handler, auth)
        if reply.status == 429 and fault is None and s.throttled_latency is not None:
            delay = s.throttled_latency + s.rtt  # refused before the service saw it
        reply.delay += delay
        return self._count(endpoint, self._encode(req, reply))

    def _encode(self, req: Request, reply: Reply) -> Reply:
        s = self.settings
        if s.gzip and len(reply.body) >= 256 and reply.action == "respond" and \
                "gzip" in req.headers.get("accept-encoding", "").lower():
            reply.body = gzip.compress(reply.body, compresslevel=1)
            reply.headers["Content-Encoding"] = "gzip"
        reply.chunked = s.chunked and reply.action == "respond"
        return reply

    def _authorised(self, req: Request, endpoint: str, handler, auth) -> Reply:
        user = None
        if auth:
            tok = self._check_auth(req, auth)
            if tok is None:
                body, hdrs = _status_json("invalid or expired token", "invalid_auth_token")
                return Reply(401, body, hdrs)
            user = tok.user
            # Compute's limits answer a bare 429 and announce nothing, as Prisma's do
            limited, limit_headers = self._rate_limit(user, endpoint,
                                                      announce=auth != "compute")
            if limited is None and self.settings.compute_rate_limit and \
                    endpoint in _COMPUTE_LISTS:
                limited = self._compute_limit(user, endpoint, self.settings.compute_rate_limit)
            if limited is not None:
                return limited
        else:
            limit_headers = None
        try:
            reply = handler(req)
        except _BadRequest as exc:
            body, hdrs = _status_json(str(exc), "bad_request")
            reply = Reply(400, body, hdrs)
        if limit_headers:
            reply.headers.update(limit_headers)
        return reply

    def _check_auth(self, req: Request, auth: str) -> Optional[_Token]:
        h = req.headers
        if auth == "cspm":
            return self._valid(h.get("x-redlock-auth"), ("cspm",))
        bearer = h.get("authorization", "")
        token = bearer[7:] if bearer[:7].lower() == "bearer " else None
        if auth == "compute":
            project = req.query.get("project")
            if project is not None and project not in self.settings.projects:
                return None
            # SaaS Compute also takes the CSPM token as a bearer token.
            return self._valid(token, ("compute", "cspm"))
        if auth == "cna":
            if h.get("x-namespace") != "/" + self.prisma_id:
                return None
            return self._valid(token, ("cna",))
        return None

    def _rate_limit(self, user: str, endpoint: str, announce: bool = True
                    ) -> Tuple[Optional[Reply], Optional[dict]]:
        """``(429 reply or None, rate-limit headers for the answer)``; ``announce``
        False leaves the headers out (Compute)."""
        s = self.settings
        spec = s.endpoint_rate_limits.get(endpoint) or s.rate_limit
        if not spec:
            return None, None
        announce = announce and s.rate_limit_headers
        shared = s.rate_limit_scope == "user" and endpoint not in s.endpoint_rate_limits
        key = (user, None if shared else endpoint)
        with self.lock:
            bucket = self.buckets.get(key)
            if bucket is None:
                bucket = self.buckets[key] = TokenBucket(*spec)
            ok, remaining, wait = bucket.take()
        headers = {"X-RateLimit-Remaining": str(int(remaining)),
                   "X-RateLimit-Replenish-Rate": _num(spec[0]),
                   "X-RateLimit-Burst-Capacity": _num(spec[1]),
                   "X-RateLimit-Requested-Tokens": "1"} if announce else {}
        if ok:
            return None, headers
        with self.lock:
            self.c_throttled += 1
        if s.retry_after is True:
            headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        elif s.retry_after:
            headers["Retry-After"] = _num(s.retry_after)
        body, hdrs = _status_json("rate limit exceeded", "rate_limit_exceeded")
        hdrs.update(headers)
        return Reply(429, body, hdrs), None

    def _compute_limit(self, user: str, endpoint: str, spec) -> Optional[Reply]:
        """Compute's 30-per-30-s limit: a bare 429, nothing announced."""
        with self.lock:
            key = ("compute:" + user, endpoint)
            bucket = self.buckets.get(key)
            if bucket is None:
                bucket = self.buckets[key] = TokenBucket(*spec)
            ok, _remaining, _wait = bucket.take()
            if ok:
                return None
            self.c_throttled += 1
        return Reply(429, b"Too Many Requests", {"Content-Type": "text/plain"})

    def _fault_reply(self, fault: dict) -> Reply:
        kind = fault["kind"]
        if kind == "status":
            body = fault.get("body")
            if body is None:
                payload, hdrs = _status_json("injected fault", "injected_fault")
            else:
                payload, hdrs = _dumps(body), dict(_JSON)
            hdrs.update(fault["headers"])
            return Reply(fault["status"], payload, hdrs)
        if kind == "stall":
            return _PendingStall(fault["seconds"])
        reply = Reply(200, _dumps({"partial": "x" * 512}), dict(_JSON))
        reply.action = kind  # reset / close
        return reply

    def _route(self, req: Request):
        """Returns ``(endpoint template, handler or None, auth kind or error reply)``."""
        path, method = req.path, req.method
        if self.compute_origin is not None and \
                (req.listener == "compute") != (path == "/compute" or path.startswith("/compute/")):
            body, hdrs = _status_json(f"no such endpoint: {req.path}", "not_found")
            return f"{method} (unknown)", None, Reply(404, body, hdrs)
        custom = self._custom_route(method, path)
        if custom is not None:
            return custom
        table: Optional[Dict[str, Any]] = _ROUTES.get(path)
        if table is None:
            for regex, template, tbl in _PATTERNS:
                if regex.match(path):
                    path, table = template, tbl
                    break
        if table is None:
            body, hdrs = _status_json(f"no such endpoint: {req.path}", "not_found")
            return f"{method} (unknown)", None, Reply(404, body, hdrs)
        entry = table.get(method)
        if entry is None:
            body, hdrs = _status_json(f"method {method} not allowed", "method_not_allowed")
            hdrs["Allow"] = ", ".join(sorted(table))
            return f"{method} {path}", None, Reply(405, body, hdrs)
        name, auth = entry
        return f"{method} {path}", getattr(self, name), auth

    def _custom_route(self, method: str, path: str):
        if not self.routes:
            return None
        with self.lock:
            found = next(((pat, spec) for (m, pat), spec in self.routes.items()
                          if m == method and (pat == path or fnmatch.fnmatchcase(path, pat))),
                         None)
        if found is None:
            return None
        pat, spec = found

        def canned(req: Request, spec=spec) -> Reply:
            return Reply(spec["status"], spec["body"], dict(spec["headers"]))

        return f"{method} {pat}", canned, "cspm" if spec["auth"] else None

    # ------------------------------------------------------------------ control plane
    def control(self, op: str, body: bytes) -> Tuple[int, bytes]:
        """Run control ``op`` with JSON keyword arguments; ``(status, JSON body)``."""
        if op not in CONTROL_OPS:
            return 404, _dumps({"error": f"unknown control op {op!r}"})
        try:
            kwargs = json.loads(body or b"{}")
            result = getattr(self, op)(**kwargs)
        except (TypeError, ValueError) as exc:
            return 400, _dumps({"error": str(exc)})
        return 200, _dumps({"result": result})

    # ------------------------------------------------------------------ CSPM handlers
    def h_login(self, req: Request) -> Reply:
        body = _json_body(req)
        limited, limit_headers = self._rate_limit(str(body.get("username")), "POST /login")
        if limited is not None:
            return limited
        reply = self._login(body)
        reply.headers.update(limit_headers or {})
        return reply

    def _login(self, body: dict) -> Reply:
        if body.get("username") == self.access_key and body.get("password") == self.secret_key:
            token = self._mint("cspm", self.access_key)
            with self.lock:
                self.c_logins += 1
            return Reply(200, _dumps({"token": token, "message": "login_successful",
                                      "customerNames": [{"customerName": "Fake Tenant",
                                                         "prismaId": self.prisma_id}]}),
                         dict(_JSON))
        with self.lock:
            self.c_login_failures += 1
        payload, hdrs = _status_json("invalid credentials", "invalid_credentials")
        return Reply(401, payload, hdrs)

    def h_extend(self, req: Request) -> Reply:
        tok = self._valid(req.headers.get("x-redlock-auth"), ("cspm",))
        if tok is None:
            payload, hdrs = _status_json("invalid or expired token", "invalid_auth_token")
            return Reply(401, payload, hdrs)
        token = self._mint("cspm", tok.user)
        with self.lock:
            self.c_extends += 1
        return Reply(200, _dumps({"token": token, "message": "login_successful"}), dict(_JSON))

    def h_meta_info(self, req: Request) -> Reply:
        base = self.compute_origin or self._base_url_fn(req)
        return self._ok({"twistlockUrl": base + "/compute", "licenseType": "enterprise",
                         "marketplace": None})

    def h_cloud(self, req: Request) -> Reply:
        if "text/csv" in req.headers.get("accept", ""):
            return self._ok_raw(self._account_csv, {"Content-Type": "text/csv"})
        return self._ok_raw(self._account_json, dict(_JSON))

    def h_cloud_one(self, req: Request) -> Reply:
        account_id = req.path.rstrip("/").rsplit("/", 1)[1]
        acct = self._account_by_id.get(account_id)
        if acct is None:
            # Scripts ask for accounts that come and go; answer like the real API
            # for a well-formed id it does not know about.
            if not account_id.isdigit():
                raise _BadRequest(f"malformed account id: {account_id}")
            acct = {"accountId": account_id, "name": f"account-{account_id}",
                    "cloudType": "aws", "enabled": True, "accountType": "account"}
        return self._ok(acct)

    def h_search(self, req: Request) -> Reply:
        body = _json_body(req)
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise _BadRequest("query is required")
        kind = _search_kind(req.path)
        limit = _limit(body)
        items, next_token = self._page(query, 0, limit, kind)
        data = {"items": items, "totalRows": len(items)}
        if next_token:
            data["nextPageToken"] = next_token
        # "data" amid the other keys, as Prisma Cloud answers
        return self._ok({"query": query, "searchType": kind, "id": secrets.token_hex(8),
                         "data": data, "cloudType": "aws",
                         "timeRange": {"type": "to_now", "value": "epoch"}})

    def h_search_page(self, req: Request) -> Reply:
        body = _json_body(req)
        state = self._read_token(body.get("pageToken"), _search_kind(req.path))
        items, next_token = self._page(str(state.get("q")), int(state["o"]), _limit(body),
                                       _search_kind(req.path))
        data = {"items": items, "totalRows": len(items)}
        if next_token:
            data["nextPageToken"] = next_token
        return self._ok(data)

    def _page(self, query: str, offset: int, limit: int, kind: str = "config"):
        s = self.settings
        size = max(1, min(limit, s.search_page_size))
        count = s.search_items if kind == "config" else s.search_events
        end = min(count, offset + size)
        accounts = self._account_list
        if kind == "config":
            items = [{"id": f"res-{i:07d}", "name": f"resource-{i}", "cloudType": "aws",
                      "accountId": accounts[i % len(accounts)]["accountId"] if accounts else "0",
                      "regionId": "us-east-1", "data": {"index": i}}
                     for i in range(offset, end)]
        else:
            items = [{"id": f"evt-{i:07d}", "eventName": "ConsoleLogin", "cloudType": "aws",
                      "accountId": accounts[i % len(accounts)]["accountId"] if accounts else "0",
                      "eventTs": 1_700_000_000_000 + i} for i in range(offset, end)]
        next_token = None
        if end < count:
            next_token = self._token(kind, end, q=query)
        return self._padded(items), next_token

    # ------------------------------------------------------------------ paged listings
    def _token(self, kind: str, offset: int, **extra: Any) -> str:
        """A page token: where the next page starts, when it was issued (for
        ``page_token_lifetime``), padded to ``page_token_bytes``."""
        state: Dict[str, Any] = {"q": extra.pop("q", None), "o": offset,
                                 "t": round(time.time(), 3), "k": kind, **extra}
        if state["q"] is None:
            del state["q"]
        raw = json.dumps(state)
        want = -(-self.settings.page_token_bytes * 3 // 4)  # base64 grows by 4/3
        if len(raw) < want:
            state["p"] = "x" * (want - len(raw) - 8)
            raw = json.dumps(state)
        return base64.urlsafe_b64encode(raw.encode()).decode()

    def _read_token(self, token: Any, kind: str) -> Dict[str, Any]:
        try:
            state = json.loads(base64.urlsafe_b64decode(token.encode()))
            int(state["o"]), float(state["t"])
        except Exception:
            raise _BadRequest("invalid pageToken") from None
        if state.get("k", "config") != kind:
            raise _BadRequest("invalid pageToken")
        life = self.settings.page_token_lifetime
        if life is not None and time.time() - float(state["t"]) > life:
            raise _BadRequest("pageToken expired")
        return state

    def _padded(self, items: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        want = self.settings.item_bytes
        if want and items:
            room = want - len(_dumps(items[0])) - 9  # (,"pad":"")
            if room > 0:
                pad = "x" * room
                for item in items:
                    item["pad"] = pad
        return items

    def _listing(self, req: Request, kind: str, token_field: str, cap: int, low: int,
                 default: int) -> Tuple[int, int, Optional[Dict[str, Any]], bool]:
        """``(offset, limit, state, window_with_token)`` of a token-paged call:
        the token from the body (POST) or the query (GET); ``window_with_token``
        when anything but the token and the page size came with a token."""
        fields: Dict[str, Any] = dict(req.query) if req.method == "GET" else _json_body(req)
        token = fields.get(token_field)
        raw = fields.get("limit", default)
        try:
            limit = int(raw)
        except (TypeError, ValueError):
            raise _BadRequest("limit must be an integer") from None
        if not low <= limit <= cap:
            raise _BadRequest(f"limit must be between {low} and {cap:,}")
        if token is None or token == "":
            return 0, limit, None, False
        state = self._read_token(token, kind)
        others = set(fields) - {token_field, "limit"}
        return int(state["o"]), limit, state, bool(others)

    def h_alerts(self, req: Request) -> Reply:
        offset, limit, _state, stray = self._listing(req, "alert", "pageToken", 10_000, 1,
                                                     10_000)
        total = self.settings.alerts
        if stray:  # a time window sent again with the token: Prisma answers empty pages
            return self._ok({"items": [], "totalRows": 0})
        end = min(total, offset + limit)
        items = self._padded([
            {"id": f"P-{i:07d}", "status": "open", "alertTime": 1_700_000_000_000 + i,
             "policy": {"policyId": f"pol-{i % 40:04d}", "name": f"policy {i % 40}",
                        "severity": ("low", "medium", "high")[i % 3]},
             "resource": {"id": f"res-{i:07d}", "cloudType": "aws"}}
            for i in range(offset, end)])
        out: Dict[str, Any] = {"items": items}
        if self.settings.paging_totals:
            out["totalRows"] = total
        if items:  # the last page with data names a next page too (which is empty)
            out["nextPageToken"] = self._token("alert", end)
        return self._ok(out)

    def h_scan_info(self, req: Request) -> Reply:
        offset, limit, _state, stray = self._listing(req, "scan", "pageToken", 10_000, 1,
                                                     10_000)
        total = self.settings.scan_resources
        if stray:
            return self._ok({"resources": [], "pageSize": limit, "totalMatchedCount": 0})
        end = min(total, offset + limit)
        items = self._padded([
            {"id": f"rrn-{i:07d}", "name": f"resource-{i}", "cloudType": "aws",
             "overallPassed": i % 4 != 0, "scannedPolicies": [{"id": f"pol-{i % 40:04d}"}]}
            for i in range(offset, end)])
        out: Dict[str, Any] = {"resources": items, "pageSize": limit}
        if self.settings.paging_totals:
            out["totalMatchedCount"] = total
        if items:
            out["nextPageToken"] = self._token("scan", end)
        return self._ok(out)

    def h_audit(self, req: Request) -> Reply:
        offset, limit, _state, stray = self._listing(req, "audit", "nextPageToken", 500, 100,
                                                     500)
        if stray:
            return self._ok({"value": []})
        total = self.settings.audit_logs
        end = min(total, offset + limit)
        items = self._padded([
            {"id": f"audit-{i:07d}", "timestamp": 1_700_000_000_000 + i, "user": "admin",
             "action": f"action {i}", "resourceType": "Login", "result": "Successful"}
            for i in range(offset, end)])
        out: Dict[str, Any] = {"value": items}
        if end < total:
            out["nextPageToken"] = self._token("audit", end)
        return self._ok(out)

    def h_cns_config(self, req: Request) -> Reply:
        return self._ok({"public-api": self._base_url_fn(req) + "/cna"})

    def h_license(self, req: Request) -> Reply:
        return self._ok({"prismaId": self.prisma_id, "licenseType": "enterprise"})

    # ------------------------------------------------------------------ Compute handlers
    def h_compute_auth(self, req: Request) -> Reply:
        body = _json_body(req)
        project = req.query.get("project")
        if project is not None and project not in self.settings.projects:
            payload, hdrs = _status_json("unknown project", "unauthorized")
            return Reply(401, payload, hdrs)
        user = None
        if body.get("token"):
            tok = self._valid(body["token"], ("cspm",))
            user = tok.user if tok else None
        elif body.get("username") == self.username and body.get("password") == self.password:
            user = self.username
        if user is None:
            with self.lock:
                self.c_login_failures += 1
            return Reply(401, _dumps({"err": "Unauthorized"}), dict(_JSON))
        token = self._mint("compute", user)
        with self.lock:
            self.c_compute_logins += 1
        return self._ok({"token": token})

    def h_compute_list(self, req: Request) -> Reply:
        kind = req.path.rstrip("/").rsplit("/", 1)[1]
        total = self.settings.compute_items
        try:
            offset = int(req.query.get("offset", 0))
            limit = int(req.query.get("limit", 50))
        except ValueError:
            raise _BadRequest("offset and limit must be integers") from None
        end = min(total, offset + max(0, min(limit, self.settings.compute_page_cap)))  # (silently)
        project = req.query.get("project", "Central Console")
        items = self._padded([{"_id": f"{kind}-{i:05d}", "kind": kind, "project": project}
                              for i in range(offset, end)])
        reply = self._ok(items)
        if self.settings.paging_totals:
            reply.headers["Total-Count"] = str(total)
        return reply

    def h_compute_version(self, req: Request) -> Reply:
        return self._ok("32.07.123")

    # ------------------------------------------------------------------ CNA handlers
    def h_cna_issue(self, req: Request) -> Reply:
        body = _json_body(req)
        meta = body.get("metadata") or {}
        tok = self._valid(meta.get("token") if isinstance(meta, dict) else None, ("cspm",))
        if body.get("realm") != "PCIdentityToken" or tok is None:
            return Reply(401, _dumps({"title": "Unauthorized"}), dict(_JSON))
        token = self._mint("cna", tok.user)
        with self.lock:
            self.c_cna_logins += 1
        return self._ok({"token": token})

    def h_cna_namespaces(self, req: Request) -> Reply:
        return self._ok([{"name": "/" + self.prisma_id + f"/ns-{i}"} for i in range(5)])

    # ------------------------------------------------------------------ helpers
    def _ok(self, obj: Any) -> Reply:
        return self._ok_raw(_dumps(obj), dict(_JSON))

    def _ok_raw(self, body: bytes, headers: dict) -> Reply:
        return Reply(200, body, headers)


class _PendingStall(Reply):
    """A stalled answer: the engine waits, then sends a normal 200."""

    def __init__(self, seconds: float):
        super().__init__(200, _dumps({"stalled": seconds}), dict(_JSON),
                         action="stall", stall=seconds)


class _BadRequest(Exception):
    pass


def _json_body(req: Request) -> dict:
    if not req.body:
        raise _BadRequest("a JSON body is required")
    try:
        body = json.loads(req.body)
    except (ValueError, UnicodeDecodeError):
        raise _BadRequest("malformed JSON body") from None
    if not isinstance(body, dict):
        raise _BadRequest("the JSON body must be an object")
    return body


def _limit(body: dict) -> int:
    try:
        return int(body.get("limit", 100))
    except (TypeError, ValueError):
        raise _BadRequest("limit must be an integer") from None


def _search_kind(path: str) -> str:
    return "event" if path.startswith("/search/event") else "config"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(_dumps(obj)).rstrip(b"=").decode()


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


# path -> {method: (handler name, auth kind)}
_ROUTES: Dict[str, Dict[str, Any]] = {
    "/login": {"POST": ("h_login", None)},
    "/auth_token/extend": {"GET": ("h_extend", None)},
    "/meta_info": {"GET": ("h_meta_info", "cspm")},
    "/cloud": {"GET": ("h_cloud", "cspm")},
    "/search/config": {"POST": ("h_search", "cspm")},
    "/search/config/page": {"POST": ("h_search_page", "cspm")},
    "/search/event": {"POST": ("h_search", "cspm")},
    "/search/event/page": {"POST": ("h_search_page", "cspm")},
    "/v2/alert": {"POST": ("h_alerts", "cspm"), "GET": ("h_alerts", "cspm")},
    "/v2/resource/scan_info": {"POST": ("h_scan_info", "cspm")},
    "/audit/api/v1/log": {"POST": ("h_audit", "cspm")},
    "/cnsConfig": {"GET": ("h_cns_config", "cspm")},
    "/license": {"GET": ("h_license", "cspm")},
    "/compute/api/v1/authenticate": {"POST": ("h_compute_auth", None)},
    "/compute/api/v1/version": {"GET": ("h_compute_version", "compute")},
    "/cna/issue": {"POST": ("h_cna_issue", None)},
    "/cna/namespaces": {"GET": ("h_cna_namespaces", "cna")},
}
_PATTERNS = [
    (re.compile(r"^/cloud/(?:[a-z]+/)?[^/]+/?$"), "/cloud/{id}", {"GET": ("h_cloud_one", "cspm")}),
    *((re.compile(rf"^/compute/api/v1/{kind}/?$"), f"/compute/api/v1/{kind}",
       {"GET": ("h_compute_list", "compute")})
      for kind in ("hosts", "images", "containers", "defenders")),
]
#: the Compute list endpoints (each limited on its own by ``compute_rate_limit``)
_COMPUTE_LISTS = frozenset(f"GET /compute/api/v1/{kind}"
                           for kind in ("hosts", "images", "containers", "defenders"))
#: longest request line (method, path and query) answered; longer ones get 414
_MAX_TARGET = 8192
