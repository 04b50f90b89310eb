"""Network-free unit tests of pcpi's policy objects (backoff, Retry-After,
idempotency, the retry decision, token expiry, pacing, origins, redaction,
bodies).  Any attempt to open a socket here fails the test: the policy is kept
apart from I/O precisely so it can be proven this way, in about a second."""

from __future__ import annotations

import socket

import pytest

from .._fakes import Clock


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a unit test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket.socket, "bind", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def clock() -> Clock:
    """The shared fake clock (tests/_fakes.py), at 1000.0: what the authenticator's
    tests count their tokens' lives from."""
    return Clock(1000.0)


@pytest.fixture(autouse=True)
def _redaction_tables_as_found():
    """Tests that flood the redaction tables leave them as they found them: every
    later log line in the same worker (a socket test's too) is redacted against
    what the tables hold, and full tables made the rest of the suite 50% slower."""
    from pcpi import _redact

    tables = (_redact._tokens, _redact._lasting)
    saved = [table.items() for table in tables]
    pinned = dict(_redact._pinned)
    yield
    for table, items in zip(tables, saved):
        table.clear()
        for key, value in items:
            table.put(key, value)
    with _redact._lock:
        _redact._pinned.clear()
        _redact._pinned.update(pinned)
        _redact._version[0] += 1
