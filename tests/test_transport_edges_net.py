"""Transport behaviour that needs a real server: what a redirect's next hop is
sent, and how a failure after a redirect is judged (plain http on loopback)."""

from __future__ import annotations

import pytest
import requests

from pcpi._policy import never_sent
from pcpi._transport import Transport

from ._fakes import names
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
        req.server.stop_listening()  # nothing listens any more
        return answer(307, headers={"Location": "/next", "Connection": "close"})

    transport = Transport(pacing=False)
    with HostileServer(handler, tls=False) as server:
        with pytest.raises(requests.exceptions.ConnectionError) as caught:
            transport.send("GET", f"{server.url}/first", headers={})
        transport.close()
    assert [r.path for r in server.seen] == ["/first"]
    assert not never_sent(caught.value)


def test_a_redirect_loop_ends_after_five_hops_with_the_last_answer():
    transport = Transport(pacing=False)
    with HostileServer(lambda req: answer(302, headers={"Location": "/loop"}),
                       tls=False) as server:
        with pytest.raises(requests.exceptions.TooManyRedirects) as caught:
            transport.send("GET", f"{server.url}/loop", headers={})
        transport.close()
    assert len(server.seen) == 6  # the call and 5 redirects followed
    names(caught.value, f"GET {server.url}/loop", "5")
    assert caught.value.response.status_code == 302


def test_a_refused_redirect_carries_the_answer_that_asked_for_it():
    with HostileServer(lambda req: answer(200), tls=False) as elsewhere, \
            HostileServer(lambda req: answer(
                301, headers={"Location": f"{elsewhere.url}/x"}), tls=False) as server:
        transport = Transport(pacing=False)
        with pytest.raises(requests.exceptions.RequestException) as caught:
            transport.send("GET", f"{server.url}/first", headers={})
        transport.close()
    assert elsewhere.seen == []
    names(caught.value, f"GET {server.url}/first", "301", elsewhere.url, "another origin")
    assert caught.value.response.status_code == 301


def test_a_307_to_a_body_that_cannot_be_sent_again_is_the_answer():
    from pcpi._body import Payload

    transport = Transport(pacing=False)
    with HostileServer(lambda req: answer(307, b"again", headers={"Location": "/next"}),
                       tls=False) as server:
        res = transport.send("POST", f"{server.url}/first", headers={},
                             body=Payload.of(data=iter([b"once"])))
        transport.close()
    assert [r.path for r in server.seen] == ["/first"]
    assert res.status_code == 307 and res.content == b"again" and res.history == []


def test_a_redirect_answered_to_the_caller_streams_the_body_it_kept():
    """iter_content() and iter_lines() of a 3xx handed back give what .content gives,
    as for any requests answer: the body was read once, into the answer."""
    from pcpi._body import Payload

    transport = Transport(pacing=False)
    with HostileServer(lambda req: answer(307, b"line one\nline two",
                                          headers={"Location": "/next"}), tls=False) as server:
        res = transport.send("POST", f"{server.url}/first", headers={},
                             body=Payload.of(data=iter([b"once"])))
        transport.close()
    assert b"".join(res.iter_content(3)) == b"line one\nline two"
    assert list(res.iter_lines()) == [b"line one", b"line two"]


def test_a_redirects_oversized_body_is_dropped_not_read():
    from pcpi._body import Payload
    from pcpi._transport import _REDIRECT_BODY

    big = b"x" * (_REDIRECT_BODY + 1)
    transport = Transport(pacing=False)
    with HostileServer(lambda req: answer(307, big, headers={"Location": "/next"}),
                       tls=False) as server:
        res = transport.send("POST", f"{server.url}/first", headers={},
                             body=Payload.of(data=iter([b"once"])))
        transport.close()
    assert res.status_code == 307
    assert res.content == b"" and b"".join(res.iter_content(1024)) == b""
