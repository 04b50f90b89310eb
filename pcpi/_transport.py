"""The transport: one pooled ``requests.Session`` per tenant, and the rules that
hold whatever a server answers.

Every pcpi session of a tenant (CSPM, Compute, CNA, logins and refreshes
included) sends through one :class:`Transport`, so connections are reused
across threads and sessions.  The pool holds as many connections as the
largest fan-out pcpi is built for, so none is discarded and reopened.

What the transport enforces on every call:

* **the origin rule**: headers and body go to the origin (scheme, host, port)
  of the URL asked for and nowhere else.  A redirect is followed only to the
  same origin (at most :data:`MAX_REDIRECTS` times); a redirect to another
  origin, or onto plain http, raises :class:`~pcpi.errors.OriginError` naming
  where it pointed, and nothing is sent there.
* **bounds**: each attempt ends within its whole timeout (connect + read
  seconds; :mod:`pcpi._deadline`), and an answer larger than
  ``max_response_bytes`` (decompressed) raises
  :class:`~pcpi.errors.ResponseTooLargeError` once that many bytes were read.
* **header values are checked before sending**, so that a malformed token is
  reported by its header's name, never echoed.

``requests.Session.request`` re-reads proxy and CA settings from the
environment (and ``~/.netrc``) on every call, and lets ``REQUESTS_CA_BUNDLE``
override a Session-level ``verify``.  The transport resolves those settings
once, with the same result a per-call ``requests.request`` would get, except
that a ``verify`` the caller gave explicitly always wins.
"""

from __future__ import annotations

import datetime
import http
import math
import os
import re
import threading
import time
import warnings
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union
from urllib.parse import unquote, urljoin, urlsplit

import requests
import urllib3
from requests.__version__ import __version__ as _requests_version
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_environ_proxies

from . import _fork
from ._body import EMPTY, Payload
from ._bounded import BoundedCache
from ._deadline import tracked_pool_class, watchdog
from ._decode import Corrupt, Decoder, Truncated
from ._origin import Origin, describe, origin_of, same_origin
from ._pacing import Pacer
from ._policy import never_sent
from ._redact import redact, remember, watch_logger
from ._stack import outside_pcpi
from ._types import Proxies, Verify
from ._version import __version__
from .errors import (
    DeadlineExceeded,
    InsecureTenantWarning,
    OriginError,
    ResponseTooLargeError,
    TruncatedBodyError,
)

__all__ = ["Transport", "DEFAULT_TIMEOUT", "DEFAULT_MAX_RESPONSE_BYTES", "DEFAULT_POOL",
           "MAX_REDIRECTS", "valid_header_value", "total_seconds"]

#: (connect, read) seconds: quick to notice a dead host, patient with long RQL queries
DEFAULT_TIMEOUT: Tuple[float, float] = (10.0, 180.0)

#: largest answer read into memory, counted after decompression (512 MiB)
DEFAULT_MAX_RESPONSE_BYTES = 512 << 20

#: connections pooled (per host, and hosts): as many as the largest fan-out pcpi is
#: built for, so that none is discarded and opened again
DEFAULT_POOL = 200

#: origins (with tenants) a transport remembers: the proxies resolved for them, and
#: those warned about as unverified (least recently used forgotten first)
MAX_ORIGINS = 256

#: same-origin redirects followed for one call
MAX_REDIRECTS = 5

Timeout = Union[float, Tuple[float, float]]

_CHUNK = 16 << 10
_TRAILING = 64 << 10  # most bytes read after a whole compressed stream
_REDIRECT_BODY = 64 << 10  # most of a redirect's body that is read (and kept)

# urllib3 logs what a server sent (a path it redirected to, headers it could not
# parse) at DEBUG and WARNING: its records are redacted like pcpi's own.
for _name in ("urllib3.connection", "urllib3.connectionpool", "urllib3.response",
              "urllib3.poolmanager", "urllib3.util.retry"):
    watch_logger(_name)
# A header value as RFC 9110 allows it (visible characters, obs-text, inner
# spaces and tabs), on one line: what http.client would send without complaint
# or injection.
_HEADER_VALUE = re.compile(r"\A(?:[\x21-\x7e\x80-\xff][\t\x20-\x7e\x80-\xff]*)?\Z")


def valid_header_value(value: Any) -> bool:
    """Whether ``value`` can be sent as an HTTP header value as it is, by every
    layer below pcpi: http.client's rules, and requests' (which also refuses a
    value that starts with any Unicode whitespace, U+00A0 and U+0085 included, and
    would print the value in its error)."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return isinstance(value, str) and _HEADER_VALUE.match(value) is not None and \
        not value[:1].isspace()


# everything before the last "@" after the scheme (a password people did not
# percent-encode may hold "/", "#" or "@"); a URL without a scheme too
_USERINFO = re.compile(r"\A(?:[A-Za-z][A-Za-z0-9+.-]*://)?(.*)@")


def remember_proxy_passwords(urls: Any) -> None:
    """Redact the passwords of these proxy URLs from every text (also when the URL
    is malformed: urllib3 then puts all of it into its error)."""
    for url in urls:
        found = _USERINFO.match(url) if isinstance(url, str) else None
        if found:
            _, colon, password = found.group(1).partition(":")
            if colon and password:
                # also its parts: a parser that meets a raw "/", "?" or "#" cuts there
                remember(password, unquote(password), *re.split(r"[/?#@]", password),
                         lasting=True)


def total_seconds(timeout: Any) -> Optional[float]:
    """The whole time one call may take: connect + read timeout.  None (no total
    deadline) when either is None, which requests reads as "wait forever", or
    for a timeout that is not seconds (a ``urllib3.Timeout``)."""
    try:
        parts = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        total = float(sum(parts))
    except TypeError:
        return None
    return total if math.isfinite(total) and total < threading.TIMEOUT_MAX else None


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and not n % (1 << 20) else f"{n} bytes"


class _Adapter(HTTPAdapter):
    """requests' adapter with pools that report connections to the watchdog."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _track(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        return _track(super().proxy_manager_for(proxy, **kwargs))


def _track(manager: Any) -> Any:
    classes = getattr(manager, "pool_classes_by_scheme", None)
    if classes is not None and not getattr(manager, "_pcpi_tracked", False):
        manager.pool_classes_by_scheme = {scheme: tracked_pool_class(cls)
                                          for scheme, cls in classes.items()}
        manager._pcpi_tracked = True
    return manager


class Transport:
    """A pooled, fork-aware HTTP transport with timeouts always set.

    ``pacing`` (default on) gives it a :class:`~pcpi._pacing.Pacer` that the
    sessions sending through it share; pass False to turn pacing off, or a
    ``Pacer`` to tune or share one.  ``max_response_bytes`` bounds the size of
    an answer after decompression (None: no bound).
    """

    def __init__(self, *, pool_connections: int = DEFAULT_POOL, pool_maxsize: int = DEFAULT_POOL,
                 timeout: Timeout = DEFAULT_TIMEOUT, trust_env: bool = True,
                 pacing: Union[bool, Pacer] = True,
                 max_response_bytes: Optional[int] = DEFAULT_MAX_RESPONSE_BYTES):
        if pool_connections < 1 or pool_maxsize < 1:
            raise ValueError("pool_connections and pool_maxsize must be at least 1")
        if max_response_bytes is not None and max_response_bytes < 1:
            raise ValueError("max_response_bytes must be a positive number of bytes, or None")
        #: paces calls to the tenant's rate limits for every session on this
        #: transport (None when pacing is off)
        self.pacer: Optional[Pacer] = (pacing if isinstance(pacing, Pacer)
                                       else Pacer() if pacing else None)
        self.pool_connections = pool_connections
        self.pool_maxsize = pool_maxsize
        self.timeout = timeout
        self.trust_env = trust_env
        self.max_response_bytes = max_response_bytes
        # Resolved once: what requests would read from the environment per call.
        self._env_ca = (os.environ.get("REQUESTS_CA_BUNDLE")
                        or os.environ.get("CURL_CA_BUNDLE")) if trust_env else None
        self._env_proxies: BoundedCache[str, Dict[str, str]] = \
            BoundedCache(MAX_ORIGINS)  # per origin and no_proxy
        # origins already warned about (verify=False)
        self._unverified: BoundedCache[Tuple[Optional[Origin], str], bool] = \
            BoundedCache(MAX_ORIGINS)  # (origin, tenant)
        self._base_headers = CaseInsensitiveDict({
            "User-Agent": f"pcpi/{__version__} python-requests/{_requests_version}",
            "Accept-Encoding": "gzip, deflate",
            "Accept": "*/*",
            "Connection": "keep-alive",
        })
        self._lock = threading.Lock()
        self._open()
        _fork.register(self)

    def _open(self) -> None:
        session = requests.Session()
        session.trust_env = False  # resolved once in this object instead
        adapter = _Adapter(pool_connections=self.pool_connections,
                           pool_maxsize=self.pool_maxsize, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self.session = session
        self._adapter = adapter

    def verify_for(self, verify: Optional[Verify]) -> Union[bool, str]:
        """The ``verify`` requests would use for a per-call ``verify``."""
        if verify is None or verify is True:
            return self._env_ca or True
        return verify

    def unverified(self, url: str, tenant: str) -> None:
        """Say once per tenant and origin (at most :data:`MAX_ORIGINS` remembered) that
        ``tenant``'s calls to ``url`` go without certificate verification;
        urllib3's warning on every such request is not issued for this
        transport's pools."""
        key = (origin_of(url), tenant)
        if key in self._unverified:
            return
        warnings.warn(redact(
            f"pcpi: tenant '{tenant}' ({describe(url)}) is called without TLS certificate "
            f"verification (verify=False): anyone on the network path can read and change "
            f"its traffic, tokens included.  Give verify the path of the CA bundle that "
            f"signed the tenant's certificate instead."), InsecureTenantWarning,
            stacklevel=outside_pcpi())
        # remembered once said: where warnings are errors, each such call raises
        self._unverified.put(key, True)

    def proxies_for(self, url: str, proxies: Optional[Proxies]) -> Dict[str, str]:
        """The caller's proxies, completed from the environment as requests does."""
        parts = urlsplit(url)
        no_proxy = (proxies or {}).get("no_proxy")  # as requests: it narrows the environment's
        key = f"{parts.scheme}://{parts.netloc} {no_proxy}"
        env = self._env_proxies.peek(key)  # (every call: no lock, a dict lookup)
        if env is None:
            env = get_environ_proxies(url, no_proxy=no_proxy) if self.trust_env else {}
            remember_proxy_passwords(env.values())
            self._env_proxies.put(key, env)  # a few origins per tenant; bounded anyway
        if not proxies:
            return env
        remember_proxy_passwords(proxies.values())
        merged = dict(env)
        for scheme, proxy in proxies.items():
            if proxy is None:  # as requests: None drops the environment's
                merged.pop(scheme, None)
            else:  # ("" goes direct, whatever the environment says)
                merged[scheme] = proxy
        return merged

    def send(self, method: str, url: str, *, headers: Mapping[str, Any], body: Payload = EMPTY,
             params: Any = None, verify: Optional[Verify] = None,
             proxies: Optional[Proxies] = None,
             timeout: Optional[Timeout] = None) -> requests.Response:
        """Send one call: redirects followed within its origin only, the whole
        call (redirects included) bounded in time and each answer in size.
        ``body`` is a :class:`~pcpi._body.Payload` (``Payload.of(json=...)``),
        prepared once so that every attempt sends the same bytes.  Raises
        requests' exceptions (with secrets redacted from their text) and
        :class:`~pcpi.errors.PcpiRequestError`."""
        for name, value in headers.items():  # (pcpi's own base headers are known good)
            if not valid_header_value(value):
                raise requests.exceptions.InvalidHeader(
                    f"header {name!r} has a value that cannot be sent (leading whitespace, "
                    f"CR/LF or another control character); the value is not shown")
        merged = CaseInsensitiveDict(self._base_headers)
        merged.update(headers)
        call = _Call(method, url, timeout or self.timeout, verify, proxies)
        history: List[requests.Response] = []
        target, payload = url, body
        while True:
            try:
                prep = _prepare(method, target, merged, payload,
                                params if not history else None, history)
                res = self._attempt(call, prep, target)
            except requests.RequestException as exc:
                if history:  # the call reached the server: never "never sent"
                    exc._pcpi_after_redirect = True  # type: ignore[attr-defined]
                raise
            if not res.is_redirect:
                break
            where = _location(res)
            if where is None or not same_origin(url, where):
                res.close()
                raise call.refused_redirect(res.status_code, where, res)
            if len(history) >= MAX_REDIRECTS:
                raise requests.exceptions.TooManyRedirects(
                    f"{call} was redirected more than {MAX_REDIRECTS} times", response=res)
            method, payload = _redirected(res.status_code, method, payload)
            if not payload.replayable:
                break  # the 307/308 stays the answer: the body cannot be sent again
            history.append(res)
            target = where
        res.history = history
        _redact_answer(res)
        return res

    def _attempt(self, call: "_Call", prep: requests.PreparedRequest,
                 url: str) -> requests.Response:
        """One hop of a call: sent and read within what is left of its deadline."""
        seconds = call.remaining()
        if seconds is not None and seconds <= 0:
            raise call.deadline_exceeded(prep)
        # The adapter, not Session.send: no cookie jar for a server to grow, and no
        # redirect handling, which would read a 3xx body without a bound.
        adapter = self._adapter
        attempt = watchdog.start(seconds) if seconds is not None else None
        failure: Optional[BaseException] = None
        try:
            start = time.perf_counter()
            res = adapter.send(prep, stream=True, timeout=call.timeout,
                               verify=self.verify_for(call.verify), cert=None,
                               proxies=self.proxies_for(url, call.proxies))
            res.elapsed = datetime.timedelta(seconds=time.perf_counter() - start)
            self._read(call, res)
        except ResponseTooLargeError:
            raise
        except requests.RequestException as exc:
            if attempt is not None and attempt.expired and not never_sent(exc):
                failure = call.deadline_exceeded(prep)
            else:  # (a call that never left stays one, so that it can be retried)
                failure = _without_secrets(exc)
            if failure is exc:
                raise
        finally:
            if attempt is not None:
                watchdog.finish(attempt)
        if failure is not None:
            # raised here, outside the handler, so that it carries no reference to
            # the original, whose text held a secret or was only a broken read
            raise failure
        if attempt is not None and attempt.cut:
            # http.client takes a connection closed inside the headers for their
            # end: an answer read from a socket the watchdog shut is not trusted
            raise call.deadline_exceeded(prep)
        return res

    def _read(self, call: "_Call", res: requests.Response) -> None:
        """Read the body into ``res.content``, within ``max_response_bytes``, and
        only if it is whole: a compressed stream must end (:mod:`pcpi._decode`).
        An error answer (3xx and up) keeps what could be decoded: its status says
        what matters, and the retry loop acts on it.  A redirect's body, which
        nobody reads, is kept only when it is small."""
        limit = self.max_response_bytes
        if res.is_redirect:
            _read_redirect(res)
            return
        try:
            if limit is not None and _declared_length(res) > limit:
                raise ResponseTooLargeError(
                    f"{call} answered {_declared_length(res)} bytes, over the "
                    f"{_size(limit)} limit (max_response_bytes)", response=res)
            chunks = _body(call, res, Decoder(res.headers.get("Content-Encoding"), limit),
                           limit)
        except BaseException:
            res.close()  # whatever stopped the read: the connection is not reused
            raise
        # what Response.content does once it has read everything
        res._content = b"".join(chunks)
        res._content_consumed = True

    def close(self) -> None:
        """Close pooled connections (the transport reopens on next use)."""
        with self._lock:
            old = self.session
            self._open()
        old.close()

    def _after_fork_in_child(self) -> None:
        # The parent's sockets stay the parent's: start a new pool, and do not
        # close the inherited one (that could disturb the parent's TLS state).
        self._lock = threading.Lock()  # it may have been held at fork time
        self._env_proxies = BoundedCache(MAX_ORIGINS)
        self._open()

    def __repr__(self) -> str:
        return (f"<pcpi Transport pool={self.pool_maxsize} timeout={self.timeout!r}>")


def _prepare(method: str, url: str, headers: CaseInsensitiveDict[Any], payload: Payload,
             params: Any, history: List[requests.Response]) -> requests.PreparedRequest:
    """One hop's request, prepared as requests would (its body rewound first)."""
    prep = requests.PreparedRequest()
    prep.prepare_method(method)
    prep.prepare_url(url, params)
    prep.prepare_headers(headers)
    if history:  # cookies set along this call's (same-origin) redirects, as requests does
        jar = requests.cookies.RequestsCookieJar()
        for hop in history:
            jar.update(hop.cookies)
        prep.prepare_cookies(jar)
    payload.rewind()
    prep.prepare_body(payload.data, None)
    if payload.content_type and "content-type" not in prep.headers:
        prep.headers["Content-Type"] = payload.content_type
    return prep


class _Call:
    """One call as the caller asked for it: what error messages name (never a
    path a server chose), how it is sent, and the deadline all of its redirects
    share."""

    __slots__ = ("method", "url", "seconds", "ends", "timeout", "verify", "proxies")

    def __init__(self, method: str, url: str, timeout: Timeout = DEFAULT_TIMEOUT,
                 verify: Optional[Verify] = None, proxies: Optional[Proxies] = None):
        self.method = method
        self.url = url
        self.timeout = timeout
        self.verify = verify
        self.proxies = proxies
        self.seconds = seconds = total_seconds(timeout)
        self.ends = None if seconds is None else time.monotonic() + seconds

    def __str__(self) -> str:
        return f"{self.method} {describe(self.url)}{redact(urlsplit(self.url).path)}"

    def remaining(self) -> Optional[float]:
        return None if self.ends is None else self.ends - time.monotonic()

    def deadline_exceeded(self, prep: requests.PreparedRequest) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"{self} took longer than {self.seconds:g} seconds in all (connect + read "
            f"timeout); the server was still sending", request=prep)

    def refused_redirect(self, status: int, where: Optional[str],
                         res: requests.Response) -> OriginError:
        if where is None or origin_of(where) is None:
            to = "a Location pcpi cannot follow safely (malformed, or read differently by " \
                 "different URL parsers)"
        elif origin_of(self.url)[0] == "https" and origin_of(where)[0] != "https":  # type: ignore[index]
            to = f"{describe(where)}, plain http"
        else:
            to = f"{describe(where)}, another origin"
        return OriginError(
            f"{self} was redirected ({status}) to {to}; pcpi does not send tokens, "
            f"credentials or bodies there.  If the tenant has moved, put its new URL in "
            f"your credentials.", response=res)


def _read_redirect(res: requests.Response) -> None:
    chunks: List[bytes] = []
    size = 0
    try:
        for chunk in res.iter_content(_CHUNK):
            size += len(chunk)
            if size > _REDIRECT_BODY:
                res.close()  # not worth reading: the connection is dropped instead
                chunks = []
                break
            chunks.append(chunk)
    except requests.RequestException:
        res.close()  # a broken 3xx body does not matter; its Location does
        chunks = []
    res._content = b"".join(chunks)
    res._content_consumed = True


_REASONS = frozenset(s.phrase for s in http.HTTPStatus)


def _redact_answer(res: requests.Response) -> None:
    """The text of an answer that is not data, and that ``raise_for_status()`` and
    logs print: a reason phrase other than the standard one, and the URL a
    redirect led to (a server can put a token in either)."""
    if res.reason and res.reason not in _REASONS:
        res.reason = redact(res.reason)
    if res.history and res.url:
        res.url = redact(res.url)


def _body(call: "_Call", res: requests.Response, decoder: Decoder,
          limit: Optional[int]) -> List[bytes]:
    """The decoded body, in pieces (see :meth:`Transport._read`)."""
    chunks: List[bytes] = []
    size = read = after = 0
    errors_only = res.status_code >= 300  # (a cut error body does not hide its status)
    for raw in _raw_chunks(res):
        read += len(raw)
        if decoder.ended:  # bytes after a whole compressed stream: not the body
            after += len(raw)
            if after > _TRAILING:
                res.close()  # (not read to their end: the connection goes)
                return chunks
        try:
            chunk = decoder.feed(raw)
        except Corrupt as exc:
            if errors_only:
                res.close()
                return chunks
            raise requests.exceptions.ContentDecodingError(
                f"{call} answered a body that is not valid {', '.join(decoder.encodings)} "
                f"({exc})", response=res) from None
        size += len(chunk)
        if limit is not None and (size > limit or read > limit):
            raise ResponseTooLargeError(
                f"{call} answered more than {_size(limit)} (max_response_bytes, counted after "
                f"decompression); reading stopped there", response=res)
        chunks.append(chunk)
    try:
        decoder.finish()
    except Truncated:
        if errors_only:
            return chunks
        raise TruncatedBodyError(
            f"{call} answered a {', '.join(decoder.encodings)} body cut short: its "
            f"compressed stream stops before its end ({size} bytes decoded)",
            response=res) from None
    return chunks


def _raw_chunks(res: requests.Response) -> Iterator[bytes]:
    """The body's bytes as sent (not decoded), with urllib3's errors turned into
    requests' own, as ``Response.iter_content`` turns them."""
    try:
        yield from res.raw.stream(_CHUNK, decode_content=False)
    except urllib3.exceptions.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from None
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from None
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from None
    except urllib3.exceptions.DecodeError as exc:  # (urllib3 checks the encodings too)
        raise requests.exceptions.ContentDecodingError(exc) from None


def _location(res: requests.Response) -> Optional[str]:
    """Where a redirect points, as an absolute URL (None when it cannot be read)."""
    try:
        # requests' reading: http.client decodes headers as latin-1, servers send UTF-8
        location = res.headers["location"].encode("latin-1").decode("utf-8")
        return urljoin(res.url, location)
    except ValueError:  # undecodable, or a malformed IPv6 literal
        return None


def _declared_length(res: requests.Response) -> int:
    """The Content-Length of an answer that carries a body, or 0."""
    value = res.headers.get("Content-Length", "")
    if res.request.method == "HEAD" or res.status_code in (204, 304) or \
            res.status_code < 200:
        return 0  # no body follows, whatever the header says
    if value.isascii() and value.isdigit() and len(value) <= 19:
        return int(value)
    return 0  # not a number: urllib3 refuses the framing itself


def _without_secrets(exc: requests.RequestException) -> requests.RequestException:
    """``exc``, or a copy of the same class with secrets redacted from its text:
    requests puts what the server sent (a status line, a path it redirected to)
    into its messages."""
    text = str(exc)
    clean = redact(text)
    if clean == text:
        return exc
    exc._pcpi_replaced = True  # type: ignore[attr-defined]  # (seen by the test suite)
    try:
        return type(exc)(clean, request=exc.request, response=exc.response)
    except TypeError:  # a subclass with another signature
        return requests.exceptions.ConnectionError(clean, request=exc.request)


def _redirected(status: int, method: str, payload: Payload) -> Tuple[str, Payload]:
    """Method and body after a redirect, as browsers and requests do it: 303 (and
    301/302 for a POST) become a GET without a body; 307/308 keep both."""
    if status == 303 and method != "HEAD" or status in (301, 302) and method == "POST":
        return "GET", EMPTY
    return method, payload
