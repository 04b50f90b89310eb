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
