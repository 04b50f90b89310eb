"""Runs the ``pcpi`` command line in a child process that resolves the fake
tenant's host names to 127.0.0.1, as ``with FakeTenant():`` does in the test's
own process (tests/test_cli.py): ``python tests/_cli_child.py ARGS...`` is
``pcpi ARGS...``, through ``python -m pcpi``'s entry point."""

from __future__ import annotations

import runpy
import sys

from pcpi.testing import COMPUTE_HOST, SAAS_HOST, resolve_to_loopback

if __name__ == "__main__":
    with resolve_to_loopback(SAAS_HOST, COMPUTE_HOST):
        sys.argv = ["pcpi", *sys.argv[1:]]
        runpy.run_module("pcpi", run_name="__main__", alter_sys=True)
