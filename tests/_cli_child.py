"""Runs the ``pcpi`` command line in a child process that resolves the fake
tenant's host names to 127.0.0.1, as ``with FakeTenant():`` does in the test's
own process (tests/test_cli.py): ``python tests/_cli_child.py ARGS...`` is
``pcpi ARGS...``, through ``python -m pcpi``'s entry point.

``PCPI_TEST_FILE_LIMIT=N`` in its environment makes writing a file past N bytes
fail as a full disk does (``RLIMIT_FSIZE``), for the command only: the limit is
lifted before the interpreter exits (coverage writes its data then)."""

from __future__ import annotations

import os
import resource
import runpy
import signal
import sys

from pcpi.testing import COMPUTE_HOST, SAAS_HOST, resolve_to_loopback

if __name__ == "__main__":
    # Ctrl-C as a terminal sends it, even when the suite was started in the background
    # (a shell starts background jobs with SIGINT ignored, and Python keeps it so)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    limit = os.environ.get("PCPI_TEST_FILE_LIMIT")
    saved = resource.getrlimit(resource.RLIMIT_FSIZE)
    if limit:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # (then a write fails with EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), saved[1]))
    try:
        with resolve_to_loopback(SAAS_HOST, COMPUTE_HOST):
            sys.argv = ["pcpi", *sys.argv[1:]]
            runpy.run_module("pcpi", run_name="__main__", alter_sys=True)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, saved)
