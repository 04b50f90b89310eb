"""A script that runs one fan_out in a child process, for the tests that kill or
interrupt it (tests/test_fanout_processes.py).

Reads its settings as JSON on stdin (tenant URL, CA, keys: never in argv), prints
``done N`` as progress moves and, when Ctrl-C stops the job, one JSON line of
what ``FanOutInterrupted.result`` says, then exits 0."""

from __future__ import annotations

import json
import logging
import signal
import sys

from pcpi import FanOutInterrupted, fan_out
from pcpi.saas_session_manager import SaaSSessionManager


def main() -> int:
    cfg = json.loads(sys.stdin.readline())
    logging.getLogger("pcpi").setLevel(logging.ERROR)
    manager = SaaSSessionManager("fake", cfg["access_key"], cfg["secret_key"], cfg["url"],
                                 verify=cfg["ca_path"])
    cspm = manager.create_cspm_session()

    def fetch(item: int) -> dict:
        res = cspm.request("GET", f"/items/{item}")
        res.raise_for_status()
        return res.json()

    def progress(done: int, total: int, failed: int) -> None:
        print(f"done {done}", flush=True)

    try:
        result = fan_out(fetch, range(cfg["items"]), workers=cfg["workers"],
                         checkpoint=cfg["checkpoint"], job="items", progress=progress)
    except FanOutInterrupted as stop:
        part = stop.result
        print(json.dumps({"interrupted": True, "succeeded": part.succeeded,
                          "failed": part.failed, "unfinished": part.unfinished,
                          "done": [i for i, r in enumerate(part.results) if r is not None]}),
              flush=True)
        return 0
    print(json.dumps({"interrupted": False, "succeeded": result.succeeded}), flush=True)
    return 0


if __name__ == "__main__":
    # Ctrl-C as a terminal sends it, even when the suite was started in the background
    # (a shell starts background jobs with SIGINT ignored, and Python keeps it so)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
