"""A fake Prisma Cloud tenant over real HTTPS, for tests, examples and benchmarks.

::

    from pcpi.testing import FakeTenant

    with FakeTenant(latency=0.05) as tenant:
        tenant.write_credentials("creds.json")      # SaaS entry, verify = tenant CA
        ...                                          # pcpi talks to tenant.saas_url
        print(tenant.stats()["tls_handshakes"])

``FakeTenant`` serves from a thread of this process.  ``FakeTenant.spawn(...)``
(or ``python -m pcpi.testing``) runs it in its own process, so a benchmark can
measure client CPU apart from the server; the handle it returns has the same
methods, sent over a plain-HTTP control port on 127.0.0.1.

Inside ``with tenant:`` the host name ``api.fake.prismacloud.io`` resolves to
127.0.0.1 in this process (see :func:`resolve_to_loopback`), so the SaaS code path,
picked by ``prismacloud.io`` in the URL, reaches the fake tenant.  Elsewhere, add
``127.0.0.1 api.fake.prismacloud.io`` to ``/etc/hosts``.

Needs the ``testing`` extra (``pip install 'pcpi[testing]'``) for ``trustme``.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import weakref
from typing import IO, Any, Dict, Iterable, List, Mapping, Optional, TypeVar, cast

from ._resolve import bypass_proxies, resolve_to_loopback
from ._server import Server
from ._tenant import CONTROL_OPS, TenantApp, TenantSettings

__all__ = ["FakeTenant", "RemoteTenant", "TenantSettings", "resolve_to_loopback",
           "bypass_proxies", "SAAS_HOST", "COMPUTE_HOST"]

_C = TypeVar("_C", bound="_Controls")

#: Host name of the fake tenant on the SaaS code path (resolved to 127.0.0.1).
SAAS_HOST = "api.fake.prismacloud.io"
#: Host name of the Compute console when it has its own port (``compute_host=True``).
COMPUTE_HOST = "console.fake.twistlock.com"


class _Controls:
    """What a test can do to a tenant; in-process and remote handles share it."""

    info: Dict[str, Any]

    def _control(self, op: str, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    # addresses and credentials
    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT``: the CSPM API by address (self-hosted path)."""
        return self.info["url"]

    @property
    def saas_url(self) -> str:
        """``https://api.fake.prismacloud.io:PORT``: the same API on the SaaS path."""
        return self.info["saas_url"]

    @property
    def compute_url(self) -> str:
        """The Compute console URL: ``/compute`` on the same server, or on
        ``https://console.fake.twistlock.com:PORT2`` with ``compute_host=True``."""
        return self.info["compute_url"]

    @property
    def port(self) -> int:
        return self.info["port"]

    @property
    def ca_path(self) -> str:
        """PEM file of the throwaway CA that signed the server certificate."""
        return self.info["ca_path"]

    @property
    def access_key(self) -> str:
        return self.info["access_key"]

    @property
    def secret_key(self) -> str:
        return self.info["secret_key"]

    @property
    def username(self) -> str:
        return self.info["username"]

    @property
    def password(self) -> str:
        return self.info["password"]

    def credentials(self, kind: str = "saas", *, name: Optional[str] = None,
                    verify: Optional[str] = None, project: Optional[str] = None) -> Dict[str, Any]:
        """One entry of a pcpi credentials file for this tenant.

        ``kind`` is ``"saas"`` (access key on :attr:`saas_url`) or ``"selfhosted"``
        (user/password on :attr:`compute_url`; ``project`` sets ``project_flag``).
        """
        if kind == "saas":
            url, ident, secret = self.saas_url, self.access_key, self.secret_key
        elif kind == "selfhosted":
            url, ident, secret = self.compute_url, self.username, self.password
        else:
            raise ValueError("kind must be 'saas' or 'selfhosted'")
        return {"name": project or name or f"fake-{kind}", "url": url, "identity": ident,
                "secret": secret, "verify": verify or self.ca_path, "proxies": None,
                "project_flag": "true" if project else "false"}

    def write_credentials(self, path: str, kinds: Iterable[str] = ("saas",),
                          **kwargs: Any) -> str:
        """Write a credentials file (mode 0600) with one entry per kind."""
        entries = [self.credentials(k, **kwargs) for k in kinds]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(entries, fh, indent=1)
        return path

    # control operations (see TenantApp for what each does)
    def stats(self) -> Dict[str, Any]:
        """Counters since the last reset."""
        return self._control("stats")

    def reset_stats(self) -> None:
        self._control("reset_stats")

    def configure(self, **changes: Any) -> Dict[str, Any]:
        """Change :class:`TenantSettings` fields while the tenant runs."""
        return self._control("configure", **changes)

    def settings(self) -> Dict[str, Any]:
        return self._control("settings")

    def fail_next(self, status: int, count: int = 1, **match: Any) -> None:
        """Answer the next ``count`` requests (matching ``method=``/``path=``) with
        ``status``; ``headers=`` and ``body=`` shape the answer."""
        self._control("fail_next", status=status, count=count, **match)

    def reset_next(self, count: int = 1, **match: Any) -> None:
        """Reset the connection mid-response for the next ``count`` requests."""
        self._control("reset_next", count=count, **match)

    def stall_next(self, seconds: float, count: int = 1, **match: Any) -> None:
        """Hold the next ``count`` responses for ``seconds``."""
        self._control("stall_next", seconds=seconds, count=count, **match)

    def close_next(self, count: int = 1, **match: Any) -> None:
        """Close the connection instead of answering the next ``count`` requests."""
        self._control("close_next", count=count, **match)

    def clear_faults(self) -> None:
        self._control("clear_faults")

    def add_route(self, method: str, path: str, status: int = 200, json: Any = None,
                  **kwargs: Any) -> None:
        """Serve a canned answer for ``method path`` (``body=``, ``headers=``, ``auth=``)."""
        self._control("add_route", method=method, path=path, status=status, json=json, **kwargs)

    def expire_tokens(self) -> int:
        """Invalidate every token issued so far."""
        return self._control("expire_tokens")

    def issued_secrets(self) -> List[str]:
        """Tokens issued so far plus the secret key and password."""
        return self._control("issued_secrets")

    # context management: resolve the SaaS host name while open
    def __enter__(self: _C) -> _C:
        self.start()
        self._resolver = resolve_to_loopback(SAAS_HOST, COMPUTE_HOST)
        self._resolver.__enter__()
        # a proxy in the environment is not asked for the tenant (nor for loopback)
        self._bypass = bypass_proxies("127.0.0.1", "localhost", "::1", SAAS_HOST, COMPUTE_HOST)
        self._bypass.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._bypass.__exit__(*exc)
            self._resolver.__exit__(*exc)
        finally:
            self.stop()

    def start(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def _make_tls(tmpdir: str):
    try:
        import trustme
    except ImportError:  # pragma: no cover - depends on the install
        raise ImportError("pcpi.testing needs trustme: pip install 'pcpi[testing]'") from None
    ca = trustme.CA(organization_name="pcpi fake tenant CA")
    cert = ca.issue_cert("127.0.0.1", "localhost", SAAS_HOST, COMPUTE_HOST)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ca_path = os.path.join(tmpdir, "fake-tenant-ca.pem")
    ca.cert_pem.write_to_path(ca_path)
    return ctx, ca_path


class FakeTenant(_Controls):
    """A fake Prisma Cloud tenant served from a thread of this process.

    Keyword arguments are :class:`TenantSettings` fields, plus optional fixed
    ``access_key``, ``secret_key``, ``username`` and ``password``.
    ``compute_host=True`` serves Compute from its own host name and port
    (:data:`COMPUTE_HOST`, as Prisma's ``*.cloud.twistlock.com`` consoles are),
    which ``/meta_info`` then points at; each API answers 404 on the other's.
    """

    app: TenantApp
    server: Server

    def __init__(self, *, access_key: Optional[str] = None, secret_key: Optional[str] = None,
                 username: str = "admin", password: Optional[str] = None,
                 host: str = "127.0.0.1", port: int = 0, compute_host: bool = False,
                 **settings: Any) -> None:
        self._tmpdir = tempfile.mkdtemp(prefix="pcpi-fake-tenant-")
        # the folder goes with this object, started or not (and at exit at the latest)
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._tmpdir, True)
        try:
            self._ssl_context, ca_path = _make_tls(self._tmpdir)
        except BaseException:
            self._cleanup()  # trustme missing: nothing left behind
            raise
        self.app = TenantApp(self._base_url, TenantSettings(**settings), access_key=access_key,
                             secret_key=secret_key, username=username, password=password)
        self.server = Server(self.app, self._ssl_context, host=host, port=port,
                             listeners=("main", "compute") if compute_host else ("main",))
        self.app.server_stats = self.server.stats
        self._ca_path = ca_path
        self.info: Dict[str, Any] = {}
        self._started = False

    def _base_url(self, req) -> str:
        return "https://" + req.headers.get("host", f"127.0.0.1:{self.server.port}")

    def _control(self, op: str, **kwargs: Any) -> Any:
        if op not in CONTROL_OPS:
            raise ValueError(f"unknown control op {op!r}")
        return getattr(self.app, op)(**kwargs)

    def start(self) -> "FakeTenant":
        if self._started:
            return self
        self.server.start_in_thread()
        self._started = True
        port = self.server.port
        compute_origin = f"https://127.0.0.1:{port}"
        if "compute" in self.server.ports:
            compute_origin = f"https://{COMPUTE_HOST}:{self.server.ports['compute']}"
            self.app.compute_origin = compute_origin
        self.info = {
            "url": f"https://127.0.0.1:{port}",
            "saas_url": f"https://{SAAS_HOST}:{port}",
            "compute_url": f"{compute_origin}/compute",
            "port": port,
            "ca_path": self._ca_path,
            "access_key": self.app.access_key,
            "secret_key": self.app.secret_key,
            "username": self.app.username,
            "password": self.app.password,
            "pid": os.getpid(),
        }
        return self

    def stop(self) -> None:
        if self._started:
            self.server.stop()
            self._started = False
        self._cleanup()

    @staticmethod
    def spawn(*, cpu: Optional[int] = None, env: Optional[Mapping[str, str]] = None,
              **settings: Any) -> "RemoteTenant":
        """Start a fake tenant in its own process; returns a handle to it.

        ``cpu`` pins the server process to that CPU where the OS allows.
        """
        return RemoteTenant.spawn(cpu=cpu, env=env, **settings)


class RemoteTenant(_Controls):
    """A handle on a fake tenant in another process (``python -m pcpi.testing``)."""

    def __init__(self, info: Dict[str, Any],
                 process: Optional["subprocess.Popen[str]"] = None) -> None:
        self.info = info
        self.process: Optional["subprocess.Popen[str]"] = process
        self._session: Any = None  # a requests.Session once used
        self._lock = threading.Lock()

    @classmethod
    def spawn(cls, *, cpu: Optional[int] = None, env: Optional[Mapping[str, str]] = None,
              **settings: Any) -> "RemoteTenant":
        cmd = [sys.executable, "-m", "pcpi.testing", "--settings", json.dumps(settings),
               "--exit-with-parent"]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                env=env, text=True)
        line: List[str] = []
        stdout = cast(IO[str], proc.stdout)  # (a pipe)
        reader = threading.Thread(target=lambda: line.append(stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(60)
        if not line or not line[0].strip():
            proc.kill()
            proc.wait(10)
            raise RuntimeError("the fake tenant process did not start (no JSON line on stdout)")
        return cls(json.loads(line[0]), proc)

    def _control(self, op: str, **kwargs) -> Any:
        import requests

        with self._lock:
            if self._session is None:
                self._session = requests.Session()
                self._session.trust_env = False
            res = self._session.post(f"{self.info['control_url']}/{op}", json=kwargs, timeout=30)
        body = res.json()
        if res.status_code != 200:
            raise ValueError(body.get("error", res.text))
        return body["result"]

    def start(self) -> "RemoteTenant":
        return self

    def stop(self) -> None:
        if self._session is not None:
            self._session.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process is not None and self.process.stdout:
            self.process.stdout.close()
