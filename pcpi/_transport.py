"""The transport: one pooled ``requests.Session`` per tenant, and nothing else.

Every pcpi session of a tenant (CSPM, Compute, CNA, logins and refreshes
included) sends through one :class:`Transport`, so connections are reused
across threads and sessions.  The pool holds as many connections as the
largest fan-out pcpi is built for, so none is discarded and reopened.

``requests.Session.request`` re-reads proxy and CA settings from the
environment (and ``~/.netrc``) on every call, and lets ``REQUESTS_CA_BUNDLE``
override a Session-level ``verify``.  The transport resolves those settings
once, with the same result a per-call ``requests.request`` would get, except
that a ``verify`` the caller gave explicitly always wins.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Dict, Optional, Tuple, Union
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_environ_proxies

from . import __version__
from ._pacing import Pacer

__all__ = ["Transport", "DEFAULT_TIMEOUT", "normalize_verify"]

#: (connect, read) seconds: quick to notice a dead host, patient with long RQL queries
DEFAULT_TIMEOUT: Tuple[float, float] = (10.0, 180.0)

Timeout = Union[float, Tuple[float, float]]


def normalize_verify(verify: Any) -> Union[bool, str]:
    """``True``/``False``/CA path from what credentials files and 1.0.1 callers
    pass (booleans, ``"true"``/``"false"`` strings, a path)."""
    if isinstance(verify, bool):
        return verify
    if verify is None:
        return True
    if isinstance(verify, str):
        text = verify.strip()
        if text.lower() in ("", "true", "yes", "1"):
            return True
        if text.lower() in ("false", "no", "0"):
            return False
        return text
    raise TypeError(f"verify must be true, false or a CA bundle path, not {type(verify).__name__}")


class Transport:
    """A pooled, fork-aware HTTP transport with timeouts always set.

    ``pacing`` (default on) gives it a :class:`~pcpi._pacing.Pacer` that the
    sessions sending through it share; pass False to turn pacing off, or a
    ``Pacer`` to tune or share one.
    """

    def __init__(self, *, pool_connections: int = 200, pool_maxsize: int = 200,
                 timeout: Timeout = DEFAULT_TIMEOUT, trust_env: bool = True,
                 pacing: Union[bool, Pacer] = True):
        if pool_connections < 1 or pool_maxsize < 1:
            raise ValueError("pool_connections and pool_maxsize must be at least 1")
        #: paces calls to the tenant's rate limits for every session on this
        #: transport (None when pacing is off)
        self.pacer: Optional[Pacer] = (pacing if isinstance(pacing, Pacer)
                                       else Pacer() if pacing else None)
        self.pool_connections = pool_connections
        self.pool_maxsize = pool_maxsize
        self.timeout = timeout
        self.trust_env = trust_env
        # Resolved once: what requests would read from the environment per call.
        self._env_ca = (os.environ.get("REQUESTS_CA_BUNDLE")
                        or os.environ.get("CURL_CA_BUNDLE")) if trust_env else None
        self._env_proxies: Dict[str, Dict[str, str]] = {}
        self._base_headers = CaseInsensitiveDict({
            "User-Agent": f"pcpi/{__version__} python-requests/{requests.__version__}",
            "Accept-Encoding": "gzip, deflate",
            "Accept": "*/*",
            "Connection": "keep-alive",
        })
        self._lock = threading.Lock()
        self._open()
        _live.add(self)

    def _open(self) -> None:
        session = requests.Session()
        session.trust_env = False  # resolved once in this object instead
        adapter = HTTPAdapter(pool_connections=self.pool_connections,
                              pool_maxsize=self.pool_maxsize, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self.session = session
        self.pid = os.getpid()

    def verify_for(self, verify: Any) -> Union[bool, str]:
        """The ``verify`` requests would use for a per-call ``verify``."""
        if verify is None or verify is True:
            return self._env_ca or True
        return verify

    def proxies_for(self, url: str, proxies: Optional[dict]) -> Dict[str, str]:
        """The caller's proxies, completed from the environment as requests does."""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        env = self._env_proxies.get(key)
        if env is None:
            env = get_environ_proxies(url) if self.trust_env else {}
            self._env_proxies[key] = env
        if not proxies:
            return env
        merged = dict(env)
        merged.update({k: v for k, v in proxies.items() if v})
        return merged

    def send(self, method: str, url: str, *, headers: dict, json: Any = None,
             data: Any = None, params: Any = None, files: Any = None,
             verify: Any = None, proxies: Optional[dict] = None,
             timeout: Optional[Timeout] = None) -> requests.Response:
        """Send one request on the pooled session; raises requests' exceptions."""
        merged = CaseInsensitiveDict(self._base_headers)
        merged.update(headers)
        prep = requests.PreparedRequest()
        prep.prepare(method=method, url=url, headers=merged, files=files, data=data,
                     params=params, json=json)
        return self.session.send(prep, timeout=timeout or self.timeout,
                                 verify=self.verify_for(verify),
                                 proxies=self.proxies_for(url, proxies),
                                 stream=False, cert=None, allow_redirects=True)

    def close(self) -> None:
        """Close pooled connections (the transport reopens on next use)."""
        with self._lock:
            old = self.session
            self._open()
        old.close()

    def _after_fork_in_child(self) -> None:
        # The parent's sockets stay the parent's: start a new pool, and do not
        # close the inherited one (that could disturb the parent's TLS state).
        self._open()

    def __repr__(self) -> str:
        return (f"<pcpi Transport pool={self.pool_maxsize} timeout={self.timeout!r}>")


_live: "weakref.WeakSet[Transport]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for transport in list(_live):
        transport._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
