"""Small hostile servers for the security tests: raw sockets and TLS, one script per test.

Unlike the fake tenant, these servers do exactly what a test tells them, byte for
byte: redirect anywhere, answer with a bomb, trickle, echo secrets, cut a body
short.  Each request is parsed (request line, headers, body) and handed to the
test's ``handler(request)``, which returns the raw answer as bytes (see
:func:`answer`), or writes it itself through ``request.conn`` and returns
``None``.  Every request received is kept in ``server.seen``.

A server stops by itself when its ``with`` block ends: the listening socket and
every open connection are closed, and every loop a handler runs must watch
``server.stopping``.

Most tests want a session logged in on such a tenant: :func:`cspm_on` starts a
:class:`HostileTenant`, logs a CSPM session in and, when its ``with`` block ends,
closes the session's manager and stops the tenant (:func:`manager_on` for the
manager alone); what a call gave is asserted after the block, the server stopped.

    with cspm_on({("GET", "/cloud"): lambda r: answer(503)}) as (tenant, cspm):
        got = outcome(lambda: cspm.request("GET", "/cloud"))
    assert isinstance(got, requests.Response) and len(tenant.hits("/cloud")) == 4
"""

from __future__ import annotations

import base64
import contextlib
import json as jsonlib
import os
import socket
import ssl
import tempfile
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import trustme

from pcpi.onprem_session_manager import CWPSessionManager
from pcpi.saas_session_manager import SaaSSessionManager

from . import _secrets
from ._fakes import quiet_policy

__all__ = ["Request", "HostileServer", "HostileTenant", "ConnectProxy", "answer", "jwt",
           "ca_path", "COMPUTE_HERE", "CLOSE", "saas", "self_hosted", "outcome", "cspm_on",
           "manager_on", "ACCESS_KEY", "SECRET_KEY", "USERNAME", "PASSWORD"]

ACCESS_KEY = "hostile-access-key"
SECRET_KEY = "hostile-secret-" + os.urandom(8).hex()
USERNAME = "hostile-user"
PASSWORD = "hostile-password-" + os.urandom(8).hex()
_secrets.remember(SECRET_KEY, PASSWORD)

_ca: Optional[trustme.CA] = None
_cert = None
_ca_path: Optional[str] = None
_ca_lock = threading.Lock()


def _tls():
    global _ca, _cert, _ca_path
    with _ca_lock:
        if _ca is None:
            _ca = trustme.CA(organization_name="pcpi hostile test CA")
            _cert = _ca.issue_cert("127.0.0.1", "localhost", "::1")
            fd, path = tempfile.mkstemp(prefix="pcpi-hostile-ca-", suffix=".pem")
            os.close(fd)
            _ca.cert_pem.write_to_path(path)
            _ca_path = path
    return _cert, _ca_path


def ca_path() -> str:
    """PEM of the CA that signed every hostile server's certificate."""
    return _tls()[1]


def jwt(exp: Optional[float] = None, **claims) -> str:
    """A token shaped like Prisma Cloud's (a JWT; the signature is random)."""
    def part(obj) -> str:
        raw = jsonlib.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    body = dict(claims)
    body.setdefault("sub", "hostile@example.com")
    body["exp"] = int(exp if exp is not None else time.time() + 600)
    body["jti"] = os.urandom(6).hex()
    sig = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(body)}.{sig}"


def answer(status: int = 200, body: bytes = b"", *, json=None, headers=None,
           reason: str = "X") -> bytes:
    """A whole HTTP/1.1 answer with Content-Length (unless ``headers`` set framing)."""
    if json is not None:
        body = jsonlib.dumps(json).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    headers = dict(headers or {})
    if not any(k.lower() in ("content-length", "transfer-encoding") for k in headers):
        headers["Content-Length"] = str(len(body))
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in
                                                        headers.items())
    return head.encode("latin-1") + b"\r\n" + body


class Request:
    """One request as received."""

    def __init__(self, method: str, target: str, headers: Dict[str, str], body: bytes,
                 conn: socket.socket, server: "HostileServer"):
        self.method = method
        self.target = target
        self.path, _, self.query = target.partition("?")
        self.headers = headers  # lower-case names
        self.body = body
        self.conn = conn
        self.server = server

    def json(self):
        return jsonlib.loads(self.body or b"null")

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} {len(self.body)} bytes>"


Handler = Callable[[Request], Optional[bytes]]


class _Listener:
    """A listening socket on loopback with one thread per connection; stops (and
    closes every connection) when its ``with`` block ends."""

    def __init__(self, *, tls: bool, host: str = "127.0.0.1"):
        self.tls = tls
        self.host = host
        self.stopping = threading.Event()
        self._conns: List[socket.socket] = []
        self._threads: List[threading.Thread] = []
        self._lock = threading.Lock()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self._sock.listen(128)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        if tls:
            cert, _ = _tls()
            self._ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(self._ctx)

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    url = origin

    def __enter__(self):
        t = threading.Thread(target=self._accept, daemon=True, name=f"hostile-{self.port}")
        t.start()
        self._threads.append(t)
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.stop_listening()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                socket.socket.shutdown(c, socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        for t in list(self._threads):
            t.join(5)
        self._sock.close()

    def stop_listening(self) -> None:
        """Take no more connections (a connect is refused from now on; the open
        ones go on).  Also wakes the accept loop at once (Linux) instead of at its
        next 0.1 s poll."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                raw, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.append(raw)
            t = threading.Thread(target=self._serve, args=(raw,), daemon=True)
            t.start()
            self._threads.append(t)

    def _wrap(self, raw: socket.socket) -> socket.socket:
        raw.settimeout(10)
        if not self.tls:
            return raw
        conn = self._ctx.wrap_socket(raw, server_side=True)
        with self._lock:
            self._conns.append(conn)
        return conn

    def _serve(self, raw: socket.socket) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class HostileServer(_Listener):
    """A threaded HTTP(S) server on loopback that runs ``handler`` for every request."""

    def __init__(self, handler: Handler, *, tls: bool = True, host: str = "127.0.0.1"):
        super().__init__(tls=tls, host=host)
        self.handler = handler
        self.seen: List[Request] = []

    def hits(self, path: Optional[str] = None) -> List[Request]:
        with self._lock:
            return [r for r in self.seen if path is None or r.path == path]

    def _serve(self, raw: socket.socket) -> None:
        conn = raw
        try:
            conn = self._wrap(raw)
            rfile = conn.makefile("rb")
            while not self.stopping.is_set():
                req = self._read(rfile, conn)
                if req is None:
                    return
                with self._lock:
                    self.seen.append(req)
                out = self.handler(req)
                if out is not None:
                    conn.sendall(out)
                if req.headers.get("connection", "").lower() == "close" or out is CLOSE:
                    return
        except (OSError, ssl.SSLError, ValueError):
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _read(self, rfile, conn) -> Optional[Request]:
        line = rfile.readline(65537)
        if not line:
            return None
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: Dict[str, str] = {}
        while True:
            h = rfile.readline(65537)
            if h in (b"\r\n", b"\n", b""):
                break
            name, _, value = h.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(rfile.readline().split(b";")[0], 16)
                if size == 0:
                    rfile.readline()
                    break
                parts.append(rfile.read(size))
                rfile.readline()
            body = b"".join(parts)
        elif headers.get("content-length"):
            body = rfile.read(int(headers["content-length"]))
        return Request(method, target, headers, body, conn, self)


#: a handler may return this to answer nothing and close the connection
CLOSE = b""


class HostileTenant(HostileServer):
    """A hostile server that logs pcpi in like Prisma Cloud (``/login``, Compute's
    ``/api/v1/authenticate``, CNA's ``/issue``) and hands every other request to
    ``routes[(METHOD, path)]`` (404 when absent).  Tokens it issues are JWTs and
    are registered with the secrets watch."""

    def __init__(self, routes: Optional[Dict[Tuple[str, str], Handler]] = None, **kwargs):
        self.routes: Dict[Tuple[str, str], Handler] = dict(routes or {})
        self.tokens: List[str] = []
        super().__init__(self.dispatch, **kwargs)

    def issue(self) -> str:
        token = jwt()
        self.tokens.append(token)
        _secrets.remember(token)
        return token

    @property
    def token(self) -> str:
        """The token issued last."""
        return self.tokens[-1]

    def dispatch(self, req: Request) -> Optional[bytes]:
        """The answer to ``req``: its route's, else a login's, else 404."""
        route = self.routes.get((req.method, req.path))
        if route is not None:
            return route(req)
        if req.method == "POST" and req.path.endswith(("/login", "/api/v1/authenticate",
                                                       "/issue")):
            return answer(200, json={"token": self.issue()})
        if req.method == "GET" and req.path == "/auth_token/extend":
            return answer(200, json={"token": self.issue()})
        return answer(404, json={"error": "not found"})


#: a route saying that Compute is served by the same tenant, under ``/compute``
COMPUTE_HERE: Dict[Tuple[str, str], Handler] = {
    ("GET", "/meta_info"): lambda r: answer(200, json={"twistlockUrl": r.server.url + "/compute"})}


class ConnectProxy(_Listener):
    """A CONNECT proxy on loopback (plain http, or https with the hostile CA) that
    relays bytes both ways; ``tunnels`` lists the targets it was asked for."""

    def __init__(self, *, tls: bool = False):
        super().__init__(tls=tls)
        self.tunnels: List[str] = []

    def _serve(self, raw: socket.socket) -> None:
        client, upstream = raw, None
        try:
            client = self._wrap(raw)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = client.recv(4096)
                if not data:
                    return
                head += data
            target = head.split(b"\r\n", 1)[0].split(b" ")[1].decode()
            self.tunnels.append(target)
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            for s in (client, upstream):
                s.settimeout(0.05)
            while not self.stopping.is_set():
                for src, dst in ((client, upstream), (upstream, client)):
                    try:
                        data = src.recv(65536)
                    except (socket.timeout, ssl.SSLWantReadError):
                        continue
                    if not data:
                        return
                    dst.sendall(data)
        except (OSError, ValueError, IndexError):
            return
        finally:
            for s in (client, upstream):
                if s is not None:
                    s.close()


# ---------------------------------------------------------------------- pcpi on a hostile tenant
def saas(server: HostileServer, secret_key: str = SECRET_KEY,
         **options: Any) -> SaaSSessionManager:
    """A SaaS manager for ``server`` (hostile keys, the hostile CA, a quiet policy)."""
    options.setdefault("retry_policy", quiet_policy())
    return SaaSSessionManager("hostile", ACCESS_KEY, secret_key, server.url,
                              verify=ca_path(), **options)


def self_hosted(server: HostileServer, **options: Any) -> CWPSessionManager:
    """A self-hosted Compute manager for ``server``."""
    options.setdefault("retry_policy", quiet_policy())
    return CWPSessionManager("hostile", server.url, USERNAME, PASSWORD,
                             verify=ca_path(), **options)


def outcome(fn: Callable[[], Any]) -> Any:
    """What ``fn()`` returned, or the exception it raised (KeyboardInterrupt aside)."""
    try:
        return fn()
    except (Exception, SystemExit) as exc:  # PcpiError is a SystemExit
        return exc


@contextlib.contextmanager
def manager_on(routes: Optional[Dict[Tuple[str, str], Handler]] = None, *,
               tenant: Optional[HostileTenant] = None,
               **options: Any) -> Iterator[Tuple[HostileTenant, SaaSSessionManager]]:
    """``(tenant, manager)``: a :class:`HostileTenant` started with ``routes`` (or
    ``tenant``, one made but not started: a subclass, other options) and a SaaS
    manager for it (``options`` are the manager's).  On leaving, the manager is
    closed, then the tenant stopped."""
    if tenant is None:
        tenant = HostileTenant(routes)
    elif routes:
        tenant.routes.update(routes)
    with tenant:
        manager = saas(tenant, **options)
        try:
            yield tenant, manager
        finally:
            manager.close()


@contextlib.contextmanager
def cspm_on(routes: Optional[Dict[Tuple[str, str], Handler]] = None, *,
            tenant: Optional[HostileTenant] = None, **options: Any) -> Iterator[Tuple[Any, Any]]:
    """``(tenant, session)``: as :func:`manager_on`, with a CSPM session logged in."""
    with manager_on(routes, tenant=tenant, **options) as (started, manager):
        yield started, manager.create_cspm_session()
