"""The secrets watch: no token, secret key or password issued by a fake tenant may
appear in any log record, any exception that passes through pcpi, or any output
captured from a test, anywhere in the suite.

* Secrets: every fake tenant (in-process or spawned) hands over what it issued
  when it stops (``issued_secrets``: tokens, secret key, password).
* Log records: every record any logger hands to its handlers (after that
  logger's filters, such as the redacting filter pcpi puts on urllib3's
  loggers), whatever the handlers and levels a test sets up.
* Exceptions: a trace function that is local to pcpi's own frames (not
  ``pcpi.testing``) sees every exception raised in or passing through pcpi:
  requests' exceptions included, caught later or not.  The one exception is
  one pcpi caught and replaced by a redacted copy (it marks those
  ``_pcpi_replaced``): the caller never gets hold of it.  The trace function
  chains to the one installed before it (coverage's), in every thread.
* Output: captured stdout/stderr/log sections and failure texts of each report.

:func:`check_report` turns a report whose test leaked into a failure that says
where the secret appeared (without printing the secret).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback
from typing import List, Set

import pcpi
from pcpi import testing

PCPI_DIR = os.path.dirname(pcpi.__file__) + os.sep
TESTING_DIR = os.path.dirname(testing.__file__) + os.sep

SECRETS: Set[str] = set()
SEEN: List[str] = []  # texts produced during the current test
RAISED: List[tuple] = []  # (where, exception) seen passing through pcpi in this test
_lock = threading.Lock()


def _remember(tenant) -> None:
    try:
        found = tenant.issued_secrets()
    except Exception:  # a spawned tenant that already died has nothing to give
        return
    with _lock:
        SECRETS.update(s for s in found if s and len(s) >= 8)


def remember(*values: str) -> None:
    """Watch for these values too (secrets a test's own server issued)."""
    with _lock:
        SECRETS.update(v for v in values if v and len(v) >= 8)


def _wrap_stop(cls) -> None:
    original = cls.stop

    def stop(self) -> None:
        if getattr(self, "_started", True):
            _remember(self)
        original(self)

    cls.stop = stop


def _see(text: str, where: str) -> None:
    if text:
        SEEN.append(f"{where}\0{text}")


# ---------------------------------------------------------------------- log records
_call_handlers = logging.Logger.callHandlers


def _watched_call_handlers(self, record: logging.LogRecord) -> None:
    try:
        text = record.getMessage()
    except Exception:  # a bad format string is the caller's bug, not a leak
        text = str(record.msg)
    if record.exc_info and record.exc_info[1] is not None:
        text += "\n" + "".join(traceback.format_exception(*record.exc_info))
    _see(text, f"log record from {record.name}")
    _call_handlers(self, record)


# ---------------------------------------------------------------------- exceptions
# The watch chains to whatever trace function was installed before it (coverage's
# tracer above all), for the main thread and for threads started during a test:
# replacing it would silently switch coverage off.
def _pcpi_frame(frame) -> bool:
    name = frame.f_code.co_filename
    return name.startswith(PCPI_DIR) and not name.startswith(TESTING_DIR)


def _watching(inner):
    """A local trace function for a pcpi frame: note exceptions, pass every event
    on to ``inner`` (the previous tracer's local function, if any)."""

    def local(frame, event, arg):
        nonlocal inner
        if event == "exception":
            RAISED.append((f"exception in {frame.f_code.co_name}", arg[1]))
        if inner is not None:
            inner = inner(frame, event, arg)
        return local

    return local


def _chained(previous):
    """A global trace function that runs ``previous`` and watches pcpi frames."""

    def global_trace(frame, event, arg):
        if previous is None:
            inner = None
        else:
            inner = previous(frame, event, arg)
            # coverage's C tracer, called this way, installs itself again as the
            # thread's tracer (for speed): put the chain back in front of it
            sys.settrace(global_trace)
        return _watching(inner) if _pcpi_frame(frame) else inner

    global_trace.previous = previous
    return global_trace


_saved = {"sys": None, "threading": None}


def _thread_start(frame, event, arg):
    # Runs once, at the first call in a new thread: let the previous thread hook
    # (coverage's installs its tracer with sys.settrace) run first, then chain.
    previous_hook = _saved["threading"]
    inner = previous_hook(frame, event, arg) if previous_hook is not None else None
    current = sys.gettrace()  # what the hook installed, if anything (coverage does)
    sys.settrace(_chained(previous_hook if current is _thread_start else current))
    return _watching(inner) if _pcpi_frame(frame) else inner


def install() -> None:
    """Start watching (once per session)."""
    _wrap_stop(testing.FakeTenant)
    _wrap_stop(testing.RemoteTenant)
    logging.Logger.callHandlers = _watched_call_handlers


def start_test() -> None:
    SEEN.clear()
    RAISED.clear()
    _saved["sys"] = sys.gettrace()
    _saved["threading"] = threading.gettrace() if hasattr(threading, "gettrace") else (
        threading._trace_hook)  # 3.9: no gettrace
    sys.settrace(_chained(_saved["sys"]))
    threading.settrace(_thread_start)


def stop_test() -> None:
    sys.settrace(_saved["sys"])
    threading.settrace(_saved["threading"])


def leaks(extra_texts=()) -> List[str]:
    """Where a known secret appeared: one line per place, secret not shown."""
    with _lock:
        secrets = list(SECRETS)
    found = []
    texts = list(SEEN) + [f"{where}\0{text}" for where, text in extra_texts]
    texts += [f"{where}\0{type(exc).__name__}: {exc!s} {exc!r}" for where, exc in list(RAISED)
              if not getattr(exc, "_pcpi_replaced", False)]
    for item in texts:
        where, _, text = item.partition("\0")
        for secret in secrets:
            if secret in text:
                found.append(f"{where}: contains a secret issued by the fake tenant "
                             f"({secret[:4]}…, {len(secret)} characters)")
                break
    return sorted(set(found))


def check_report(item, report) -> None:
    """Fail ``report`` if its test leaked a secret anywhere we can see."""
    if report.when != "teardown":
        return
    texts = [(f"captured {name}", content) for name, content in report.sections]
    for phase in ("setup", "call"):
        rep = getattr(item, f"_secrets_{phase}", None)
        if rep is not None:
            texts += [(f"{phase} {name}", content) for name, content in rep.sections]
            if rep.failed:
                texts.append((f"{phase} failure text", rep.longreprtext))
    found = leaks(texts)
    if found:
        report.outcome = "failed"
        report.longrepr = "secret leaked:\n" + "\n".join(found)
