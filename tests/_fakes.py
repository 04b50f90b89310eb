"""The suite's shared fakes: one clock, one recording sleep, one builder of
rate-limit headers, one quiet retry policy, a forked child with a deadline, and
:func:`names` for what an error says.

Every test that needs one of these takes it from here (CONTRIBUTING.md, "Rules
for tests"), so that a change to how pcpi reads time, sleeps or the tenant's
limits is followed in one place.
"""

from __future__ import annotations

import json
import os
import select
import signal
import time
from typing import Any, Callable, Dict

__all__ = ["Clock", "Sleeps", "limit_headers", "quiet_policy", "in_forked_child", "names"]


class Sleeps(list):
    """A sleep function that records delays (rounded to the millisecond) instead of
    waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(round(seconds, 3))


class Clock:
    """A fake monotonic clock for anything that takes ``clock=`` (``Pacer``,
    ``Authenticator``): ``clock()`` reads :attr:`now`, which a test moves
    (``clock.now += 5``).  :meth:`sleep` is a sleep function for
    ``RetryPolicy(sleep=...)`` that moves the clock as a real sleep would and
    records each wait in :attr:`slept`."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = float(now)
        self.slept = Sleeps()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept(seconds)
        self.now += seconds


def limit_headers(rate: Any, burst: Any = 1, remaining: Any = 0) -> Dict[str, str]:
    """The rate-limit headers Prisma Cloud's gateway sends with an answer (values
    written as given: a string goes as it is, odd spacing included)."""
    return {"X-RateLimit-Replenish-Rate": str(rate), "X-RateLimit-Burst-Capacity": str(burst),
            "X-RateLimit-Remaining": str(remaining)}


def quiet_policy(**kwargs: Any) -> Any:
    """A retry policy with no jitter and a recording sleep (``policy.sleep``, a
    :class:`Sleeps`)."""
    from pcpi import Backoff, RetryPolicy

    kwargs.setdefault("backoff", Backoff(jitter=0.0))
    kwargs.setdefault("server_error_backoff", Backoff(initial=0.25, jitter=0.0))
    kwargs.setdefault("connection_backoff", Backoff(initial=0.5, maximum=4.0, jitter=0.0))
    kwargs.setdefault("sleep", Sleeps())
    return RetryPolicy(**kwargs)


def in_forked_child(fn: Callable[[], Any], seconds: float = 10.0) -> Any:
    """What ``fn()`` returns when run in a forked child of this process (a JSON
    value), for the behaviour of pcpi's objects after a fork.  A child that
    raises, or that has not finished within ``seconds`` (a lock held for ever),
    fails the calling test with an AssertionError saying so; a hung child is
    killed."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave at once (no cleanup, no pytest)
        code = 1
        try:
            os.close(read)
            try:
                out = {"value": fn()}
            except BaseException as exc:  # noqa: B902 - reported to the parent
                out = {"error": f"{type(exc).__name__}: {exc}"}
            os.write(write, json.dumps(out, default=repr).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    try:
        chunks, ends = [], time.monotonic() + seconds
        while True:
            left = ends - time.monotonic()
            if left <= 0 or not select.select([read], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError(f"the forked child did not finish within {seconds} s")
            chunk = os.read(read, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"the child ended: {status}"
    out = json.loads(b"".join(chunks) or b"{}")
    assert "error" not in out, f"the forked child raised {out['error']}"
    return out.get("value")


def names(said: Any, *parts: str) -> None:
    """Assert that an error, a warning or a log line (its text: ``str(said)``)
    names each of ``parts``: the call, the tenant, the bound, the option to
    change.  Its sentence is not a contract (CONTRIBUTING.md, "Rules for tests"):
    a rewording keeps these tests green, a message that stops naming what the
    user needs fails them."""
    text = str(said)
    missing = [p for p in parts if p not in text]
    assert not missing, f"{text!r} does not name {missing}"
