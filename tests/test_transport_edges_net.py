"""Transport behaviour that needs a real server: what a redirect's next hop is
sent, and how a failure after a redirect is judged (plain http on loopback)."""

from __future__ import annotations

import socket

import pytest
import requests

from pcpi._policy import never_sent
from pcpi._transport import Transport

from ._hostile import HostileServer, answer


def test_the_callers_params_are_not_sent_again_to_a_redirects_location():
    def handler(req):
        if req.path == "/first":
            return answer(302, headers={"Location": "/second?page=2"})
        return answer(200, b"ok")

    transport = Transport(pacing=False)
    with HostileServer(handler, tls=False) as server:
        res = transport.send("GET", f"{server.url}/first", headers={}, params={"q": "1"})
        transport.close()
    assert res.status_code == 200 and res.content == b"ok"
    assert [r.target for r in server.seen] == ["/first?q=1", "/second?page=2"]


def test_a_failure_after_a_followed_redirect_is_never_taken_for_an_unsent_call():
    """The first hop reached the server: even a refused connection on the next hop
    must not let the retry loop resend the call as "never sent"."""
    def handler(req):
        req.server._sock.shutdown(socket.SHUT_RDWR)  # nothing listens any more
        return answer(307, headers={"Location": "/next", "Connection": "close"})

    transport = Transport(pacing=False)
    with HostileServer(handler, tls=False) as server:
        with pytest.raises(requests.exceptions.ConnectionError) as caught:
            transport.send("GET", f"{server.url}/first", headers={})
        transport.close()
    assert [r.path for r in server.seen] == ["/first"]
    assert not never_sent(caught.value)
