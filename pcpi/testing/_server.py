"""A small HTTP/1.1-over-TLS server on asyncio, built for the fake tenant.

It knows nothing about Prisma Cloud: an *app* turns each parsed :class:`Request`
into a :class:`Reply`, and this module does the sockets.  What it adds over a
stock server is what a client test needs to see and to suffer: counters of TCP
connections and TLS handshakes, a modelled round-trip time before the handshake,
keep-alive closes after N requests or idle time, resets in the middle of a
response and stalled responses.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import threading
from http import HTTPStatus
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, cast
from urllib.parse import parse_qsl, unquote

__all__ = ["Request", "Reply", "Server"]

_MAX_HEAD = 64 * 1024
_MAX_BODY = 32 * 1024 * 1024
_CHUNK = 4096  # size of the chunks of a chunked reply


class Request:
    """One parsed HTTP request."""

    __slots__ = ("method", "target", "path", "query", "headers", "body", "keep_alive",
                 "listener")

    def __init__(self, method: str, target: str, headers: Dict[str, str], body: bytes,
                 keep_alive: bool, listener: str = "main") -> None:
        self.listener: str = listener  # which of the server's ports it came in on
        self.method: str = method
        self.target: str = target
        path, _, qs = target.partition("?")
        self.path: str = unquote(path)
        self.query: Dict[str, str] = dict(parse_qsl(qs, keep_blank_values=True))
        self.headers: Dict[str, str] = headers  # lower-cased names
        self.body: bytes = body
        self.keep_alive: bool = keep_alive


class Reply:
    """What the app wants done with a request.

    ``action`` is ``"respond"`` (the default), ``"reset"`` (send the headers and
    part of the body, then a TCP RST), ``"close"`` (close without answering) or
    ``"stall"`` (wait ``stall`` seconds, then answer).  ``chunked`` sends the
    body with ``Transfer-Encoding: chunked`` instead of a ``Content-Length``.
    """

    __slots__ = ("status", "headers", "body", "delay", "action", "stall", "close", "chunked")

    def __init__(self, status: int = 200, body: bytes = b"",
                 headers: Optional[Dict[str, str]] = None, delay: float = 0.0,
                 action: str = "respond", stall: float = 0.0) -> None:
        self.status: int = status
        self.body: bytes = body
        self.headers: Dict[str, str] = headers or {}
        self.delay: float = delay
        self.action: str = action
        self.stall: float = stall
        self.close: bool = False
        self.chunked: bool = False


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _Stats:
    """Connection-level counters, guarded by a lock because tests read them from
    other threads while the loop thread writes them."""

    def __init__(self) -> None:
        self.lock: threading.Lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.connections_accepted = 0
            self.tls_handshakes = 0
            self.tls_failures = 0
            self.open_connections: int = getattr(self, "open_connections", 0)
            self.max_concurrent_connections: int = self.open_connections
            self.connections_reset = 0
            # requests read and not yet answered (stalls and latency included)
            self.requests_in_flight: int = getattr(self, "requests_in_flight", 0)
            self.max_requests_in_flight: int = self.requests_in_flight

    def snapshot(self) -> Dict[str, int]:
        with self.lock:
            return {
                "connections_accepted": self.connections_accepted,
                "tls_handshakes": self.tls_handshakes,
                "tls_failures": self.tls_failures,
                "open_connections": self.open_connections,
                "max_concurrent_connections": self.max_concurrent_connections,
                "connections_reset": self.connections_reset,
                "max_requests_in_flight": self.max_requests_in_flight,
            }


class _Connection(asyncio.Protocol):
    """One client connection, from the end of its TLS handshake."""

    def __init__(self, server: "Server", listener: str = "main") -> None:
        self.server = server
        self.listener = listener
        self.loop = server.loop
        self.transport: Optional[asyncio.Transport] = None
        self.reader = asyncio.StreamReader(limit=_MAX_HEAD, loop=self.loop)
        self.idle_handle: Optional[asyncio.TimerHandle] = None
        self.task: Optional[asyncio.Task] = None
        self.closed = False

    # -- asyncio.Protocol ---------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # (a TCP connection's)
        self.reader.set_transport(transport)
        with self.server.stats.lock:
            self.server.stats.tls_handshakes += 1
        self.server.connections.add(self)
        self.task = self.loop.create_task(self._run())

    def data_received(self, data: bytes) -> None:
        self.reader.feed_data(data)

    def eof_received(self) -> bool:
        self.reader.feed_eof()
        return False

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self.closed:
            return
        self.closed = True
        self.reader.feed_eof()
        if self.idle_handle is not None:
            self.idle_handle.cancel()
        st = self.server.stats
        with st.lock:
            st.open_connections -= 1
        self.server.connections.discard(self)

    # -- serving ------------------------------------------------------------
    async def _run(self) -> None:
        server = self.server
        served = 0
        try:
            while not self.closed:
                req = await self._read_request()
                if req is None:
                    break
                served += 1
                stats = server.stats
                with stats.lock:
                    stats.requests_in_flight += 1
                    stats.max_requests_in_flight = max(stats.max_requests_in_flight,
                                                       stats.requests_in_flight)
                try:
                    reply = server.app.handle(req)
                    limit = server.app.max_requests_per_connection()
                    if not req.keep_alive or (limit and served >= limit):
                        reply.close = True
                    sent = await self._send(reply)
                finally:
                    with stats.lock:
                        stats.requests_in_flight -= 1
                if not sent:
                    break
                if reply.close:
                    self._close()
                    break
        except (ConnectionError, OSError, asyncio.CancelledError):
            self._abort()
        except Exception:  # a bug in the app must not hang the client
            self._write_simple(500, b'{"error":"fake tenant internal error"}', close=True)
            self._close()
            raise

    async def _read_request(self) -> Optional[Request]:
        idle = self.server.app.idle_timeout()
        if idle:
            # Like a real server's keep-alive timeout: drop the socket; an idle
            # client would never answer a TLS close_notify.
            self.idle_handle = self.loop.call_later(idle, self._abort)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError:
            self._write_simple(431, b'{"error":"request header too large"}', close=True)
            self._close()
            return None
        finally:
            if self.idle_handle is not None:
                self.idle_handle.cancel()
                self.idle_handle = None
        try:
            lines = head[:-4].decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            if not version.startswith("HTTP/1."):
                raise ValueError(version)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if not _:
                    raise ValueError(line)
                headers[name.strip().lower()] = value.strip()
        except ValueError:
            self._write_simple(400, b'{"error":"malformed request"}', close=True)
            self._close()
            return None
        conn_hdr = headers.get("connection", "").lower()
        keep_alive = (version == "HTTP/1.1" and conn_hdr != "close") or conn_hdr == "keep-alive"
        try:
            body = await self._read_body(headers)
        except asyncio.IncompleteReadError:
            return None
        except ValueError as exc:
            status = 413 if "large" in str(exc) else 400
            self._write_simple(status, b'{"error":"bad request body"}', close=True)
            self._close()
            return None
        return Request(method.upper(), target, headers, body, keep_alive, self.listener)

    async def _read_body(self, headers: dict) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks: List[bytes] = []
            total = 0
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # trailers end with an empty line
                    while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    return b"".join(chunks)
                total += size
                if total > _MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
        length = headers.get("content-length")
        if not length:
            return b""
        n = int(length)
        if n < 0:
            raise ValueError("negative length")
        if n > _MAX_BODY:
            raise ValueError("body too large")
        return await self.reader.readexactly(n)

    async def _send(self, reply: Reply) -> bool:
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.action == "stall":
            await asyncio.sleep(reply.stall)
        if self.closed or self.transport.is_closing():
            return False
        if reply.action == "close":
            self._close()
            return False
        if reply.action == "reset":
            head = self._head(reply, len(reply.body))
            self.transport.write(head + reply.body[: max(1, len(reply.body) // 2)])
            await asyncio.sleep(0.005)  # let the partial answer reach the kernel
            with self.server.stats.lock:
                self.server.stats.connections_reset += 1
            self._reset()
            return False
        if reply.chunked:
            self.transport.write(self._head(reply, None))
            for i in range(0, len(reply.body), _CHUNK):
                piece = reply.body[i:i + _CHUNK]
                self.transport.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await asyncio.sleep(0)  # separate writes, as a streaming server sends them
            self.transport.write(b"0\r\n\r\n")
            return True
        self.transport.write(self._head(reply, len(reply.body)) + reply.body)
        return True

    def _head(self, reply: Reply, length: Optional[int]) -> bytes:
        framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
        parts = [f"HTTP/1.1 {reply.status} {_reason(reply.status)}\r\n", f"{framing}\r\n"]
        for name, value in reply.headers.items():
            parts.append(f"{name}: {value}\r\n")
        if reply.close:
            parts.append("Connection: close\r\n")
        parts.append("\r\n")
        return "".join(parts).encode("latin-1")

    def _write_simple(self, status: int, body: bytes, close: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        reply = Reply(status, body, {"Content-Type": "application/json"})
        reply.close = close
        try:
            self.transport.write(self._head(reply, len(body)) + body)
        except (RuntimeError, OSError):
            pass

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _reset(self) -> None:
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.transport.abort()


class Server:
    """Serves ``app`` over TLS on ``host``:``port`` from a loop in its own thread
    (:meth:`start_in_thread`) or from the caller's loop (:meth:`serve`).

    ``listeners`` names the ports to open (the first on ``port``, the others on
    free ports); each request says which one it came in on, and :attr:`ports`
    maps the names to the port numbers."""

    def __init__(self, app: Any, ssl_context: ssl.SSLContext, host: str = "127.0.0.1",
                 port: int = 0, listeners: Tuple[str, ...] = ("main",)) -> None:
        self.app: Any = app
        self.ssl_context = ssl_context
        self.host = host
        self.port: int = port
        self.listeners = listeners
        self.ports: Dict[str, int] = {}
        self.stats: _Stats = _Stats()
        self.connections: Set[_Connection] = set()
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._listening: List[socket.socket] = []
        self._accepting: List[asyncio.Task] = []
        self._handshakes: set = set()
        self._thread: Optional[threading.Thread] = None
        self._stopped: Optional[asyncio.Event] = None

    async def _open(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        for i, name in enumerate(self.listeners):
            listening = socket.create_server((self.host, self.port if i == 0 else 0),
                                             backlog=1024)
            listening.setblocking(False)
            self._listening.append(listening)
            self.ports[name] = listening.getsockname()[1]
            self._accepting.append(self.loop.create_task(self._accept(listening, name)))
        self.port = self.ports[self.listeners[0]]

    # Connections are accepted here rather than by loop.create_server, so that no
    # transport reads a byte before TLS starts: the ClientHello waits in the kernel
    # through the modelled round trip.  (Pausing a plain transport and upgrading
    # it with start_tls loses the ClientHello on Python 3.9 and 3.10, whose
    # transports start reading after connection_made even when it paused them.)
    async def _accept(self, listening: socket.socket, name: str) -> None:
        while True:
            try:
                sock, _addr = await self.loop.sock_accept(listening)
            except OSError:  # out of descriptors, or a connection reset in the backlog
                await asyncio.sleep(0.05)
                continue
            with self.stats.lock:
                self.stats.connections_accepted += 1
            task = self.loop.create_task(self._handshake(sock, name))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _handshake(self, sock: socket.socket, name: str) -> None:
        st = self.stats
        with st.lock:
            st.open_connections += 1
            st.max_concurrent_connections = max(st.max_concurrent_connections,
                                                st.open_connections)
        try:
            rtt = self.app.connect_delay()
            if rtt:
                await asyncio.sleep(rtt)
            await self.loop.connect_accepted_socket(
                lambda: _Connection(self, name), sock, ssl=self.ssl_context,
                ssl_handshake_timeout=15)
        except BaseException as exc:
            sock.close()
            with st.lock:
                st.open_connections -= 1
                if not isinstance(exc, asyncio.CancelledError):
                    st.tls_failures += 1
            if not isinstance(exc, Exception):
                raise

    async def serve(self, ready: Optional[Callable[[], None]] = None) -> None:
        """Serve until :meth:`stop` is called."""
        await self._open()
        if ready:
            ready()
        await self._stopped.wait()
        await self._shutdown()

    async def _shutdown(self) -> None:
        for task in self._accepting:
            task.cancel()
        for listening in self._listening:
            listening.close()
        tasks = list(self._accepting) + list(self._handshakes)
        for task in self._handshakes:
            task.cancel()
        for conn in list(self.connections):
            conn._abort()
            if conn.task is not None:
                conn.task.cancel()
                tasks.append(conn.task)
        await asyncio.gather(*tasks, return_exceptions=True)
        # connections accepted while shutting down have tasks not in the set yet
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    def start_in_thread(self) -> None:
        started = threading.Event()
        failure: list = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(self.serve(started.set))
            except BaseException as exc:  # surface start-up errors to the caller
                failure.append(exc)
                started.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="pcpi-fake-tenant", daemon=True)
        self._thread.start()
        started.wait(30)
        if failure:
            raise failure[0]

    def stop(self) -> None:
        if self.loop is None or self._stopped is None:
            return
        try:
            self.loop.call_soon_threadsafe(self._stopped.set)
        except RuntimeError:  # loop already closed
            return
        if self._thread is not None:
            self._thread.join(30)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` on the server loop and return its result (thread-safe)."""
        if self.loop is None or threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        fut = asyncio.run_coroutine_threadsafe(_as_coro(fn, args, kwargs), self.loop)
        return fut.result(30)


async def _as_coro(fn, args, kwargs):
    return fn(*args, **kwargs)
