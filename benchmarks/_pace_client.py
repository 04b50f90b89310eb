"""One client process of benchmarks/pacing.py.

Reads a JSON config from argv[1]: ``root`` (the tree whose pcpi it imports: this
one, or an older revision extracted by the benchmark), ``pacing`` (a Python
expression: ``True``, ``False`` or ``Pacer(...)``, evaluated with pcpi's
``Pacer`` and ``PacingPolicy`` in scope), the tenant's URL, CA and keys, and the
job: ``calls`` calls of ``paths[0]`` through ``ThreadPoolExecutor(workers)``, or
``workers`` threads each calling ``paths[i % len(paths)]`` for ``seconds``.
Logs in, prints ``READY``, waits for ``GO`` on stdin, runs the job and prints
one JSON line: calls that succeeded and failed, and ``end``, the
``time.monotonic()`` at which its last call ended (one clock for every process
of the machine, so the parent compares finish times across processes).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def main() -> int:
    cfg = json.loads(sys.argv[1])
    sys.path.insert(0, cfg["root"])
    if cfg.get("cpu") is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cfg["cpu"]})
    import pcpi
    from pcpi.saas_session_manager import SaaSSessionManager

    assert os.path.dirname(os.path.dirname(pcpi.__file__)) == cfg["root"], pcpi.__file__
    scope = {"Pacer": pcpi.Pacer, "PacingPolicy": getattr(pcpi, "PacingPolicy", None)}
    pacing = eval(cfg["pacing"], scope)  # noqa: S307  (the benchmark's own expressions)
    refused: list = []  # when each 429 came back (--trace)
    if cfg.get("trace"):
        class Refusals(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if record.getMessage().startswith("FAILED 429"):
                    refused.append(time.monotonic())

        logging.getLogger("pcpi").addHandler(Refusals())
        logging.getLogger("pcpi").setLevel(logging.WARNING)
    else:
        logging.getLogger("pcpi").setLevel(logging.ERROR)  # 429s are counted by the tenant
    manager = SaaSSessionManager("bench", cfg["access_key"], cfg["secret_key"], cfg["url"],
                                 verify=cfg["ca_path"], pacing=pacing)
    cspm = manager.create_cspm_session()  # the login only: the paths stay cold
    print("READY", flush=True)
    if sys.stdin.readline().strip() != "GO":
        return 2
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()
    last = [time.monotonic()]

    def call(path: str) -> bool:
        try:
            ok = cspm.request("GET", path).status_code == 200
        except Exception:  # counted as failed; the run goes on
            ok = False
        return ok

    paths, workers = cfg["paths"], cfg["workers"]
    if cfg.get("seconds"):
        deadline = time.monotonic() + cfg["seconds"]

        def worker(i: int) -> None:
            path = paths[i % len(paths)]
            while time.monotonic() < deadline:
                ok = call(path)
                if time.monotonic() > deadline:
                    return  # answered after the window: not counted
                with lock:
                    counts["ok" if ok else "failed"] += 1

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        last[0] = time.monotonic()
    else:
        with ThreadPoolExecutor(workers) as pool:
            ok = sum(pool.map(lambda _i: call(paths[0]), range(cfg["calls"])))
        last[0] = time.monotonic()
        counts = {"ok": ok, "failed": cfg["calls"] - ok}
    print(json.dumps({**counts, "end": last[0], "refused_at": refused}), flush=True)
    manager.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
