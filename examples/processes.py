"""One job over several processes: pcpi.fan_out on a ProcessPoolExecutor.

The parent loads the credentials and logs in once (which checks them early);
``fan_out`` sends each task to a worker with the manager as an argument
(``functools.partial``), keeps at most ``--workers`` tasks in flight, and keeps
each failure with its task.  A manager pickles as its tenant
settings and credentials, never its token, sockets or locks: in each worker the
copy logs in on first use, and every task that worker runs shares that one
copy, its token and its connection pool.  So N workers cost N logins, however
many tasks there are.

Against the bundled fake tenant (its own process), no account needed:

    python examples/processes.py [--workers 4] [--tasks 200] [--calls-per-task 5]
"""

from __future__ import annotations

import argparse
import functools
import logging
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

from pcpi import fan_out, session_loader
from pcpi.testing import SAAS_HOST, FakeTenant, resolve_to_loopback


def count_resources(manager, account_ids):
    """One task, run in a worker: a few calls with the worker's copy of the manager."""
    cspm = manager.cspm_session  # logged in on the first use in this worker
    ok = sum(cspm.request("GET", f"/cloud/{a}").status_code == 200 for a in account_ids)
    return [os.getpid(), ok, len(account_ids)]


_resolver = []


def worker_setup() -> None:
    """Fake-tenant plumbing only: its API host name resolves to 127.0.0.1 here."""
    _resolver.append(resolve_to_loopback(SAAS_HOST))  # kept open for the worker's life
    _resolver[-1].__enter__()
    logging.getLogger("pcpi").setLevel(logging.WARNING)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--tasks", type=int, default=200)
    ap.add_argument("--calls-per-task", type=int, default=5)
    args = ap.parse_args()
    logging.getLogger("pcpi").setLevel(logging.WARNING)

    with FakeTenant.spawn(latency=0.02) as tenant, tempfile.TemporaryDirectory() as tmp:
        creds = tenant.write_credentials(os.path.join(tmp, "credentials.json"))

        # --- what a pcpi script does -----------------------------------------
        manager = session_loader.load_config(file_path=creds)[0]
        cspm = manager.create_cspm_session()  # fails here, once, if the key is wrong
        accounts = [a["accountId"] for a in cspm.request("GET", "/cloud").json()]
        chunks = [[accounts[(t * args.calls_per_task + i) % len(accounts)]
                   for i in range(args.calls_per_task)] for t in range(args.tasks)]

        tenant.reset_stats()
        started = time.perf_counter()
        # spawn: workers start clean, as on macOS and Windows (and where threads
        # make fork unsafe); the manager crosses by pickling
        with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=worker_setup) as pool:
            outcome = fan_out(functools.partial(count_resources, manager), chunks,
                              workers=args.workers, executor=pool)
        for chunk, exc in outcome.failures:
            print(f"task for {chunk[0]}... failed: {type(exc).__name__}: {exc}")
        results = [r for r in outcome.results if r is not None]
        # ---------------------------------------------------------------------

        wall = time.perf_counter() - started
        st = tenant.stats()
        manager.close()

    calls = sum(n for _pid, _ok, n in results)
    ok = sum(k for _pid, k, _n in results)
    workers = len({pid for pid, _ok, _n in results})
    print(f"{args.tasks} tasks, {calls} calls over {workers} worker processes in {wall:.1f} s: "
          f"{calls - ok} failed; the tenant served {st['logins']} logins "
          f"(one per worker that ran a task) and accepted {st['connections_accepted']} "
          f"connections")
    return 0 if not outcome.failures and ok == calls and st["logins"] <= workers else 1


if __name__ == "__main__":
    raise SystemExit(main())
