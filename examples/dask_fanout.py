"""Beyond one machine: pcpi.fan_out on a Dask cluster, paced to one user's limit.

Starts the fake tenant in its own process, limited as Prisma Cloud limits a user
(``--rate`` calls per second, burst ``--burst``, one bucket for all of that
user's endpoints), a Dask ``LocalCluster`` of ``--processes`` worker processes
with ``--threads`` threads each, and fans ``GET /cloud/{id}`` calls out over it
with ``pcpi.fan_out(..., executor=client.get_executor())``.  The session goes
to the workers inside each task (``functools.partial``): it pickles as its
manager's settings and credentials, and each worker process logs in once, on
first use.  The workers pace themselves on the tenant's ``X-RateLimit-*``
headers; nothing coordinates them.  At the end it prints the wall time against
the time the limit allows, and the share of calls answered 429.

The same code runs on a real cluster: ``Client("tcp://scheduler:8786")``
instead of the ``LocalCluster``, and a credentials file every worker can read
is not needed (the credentials travel in the pickled tasks: keep the cluster's
network private).

    python examples/dask_fanout.py [--calls 1000] [--processes 2] [--threads 25]
                                   [--rate 50] [--burst 10] [--scope user] [--json]

Needs ``pip install -e ".[testing,progress]" "dask[distributed]"``.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
import tempfile
import time

from pcpi import fan_out, session_loader
from pcpi.testing import SAAS_HOST, FakeTenant, resolve_to_loopback


def worker_setup(dask_worker) -> None:
    """Fake-tenant plumbing only: its API host name resolves to 127.0.0.1 in the
    worker (a real tenant needs nothing here), and pcpi logs warnings only."""
    if not hasattr(dask_worker, "fake_tenant_names"):
        dask_worker.fake_tenant_names = resolve_to_loopback(SAAS_HOST)
        dask_worker.fake_tenant_names.__enter__()  # open for the worker's life
    logging.getLogger("pcpi").setLevel(logging.WARNING)


def fetch(session, account_id: str) -> str:
    """One task, run in a Dask worker with its copy of the session."""
    res = session.request("GET", f"/cloud/{account_id}")
    res.raise_for_status()
    return res.json()["name"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--processes", type=int, default=2, help="Dask worker processes")
    ap.add_argument("--threads", type=int, default=25, help="threads per worker process")
    ap.add_argument("--rate", type=float, default=50.0, help="the user's calls per second")
    ap.add_argument("--burst", type=int, default=10)
    ap.add_argument("--scope", choices=["user", "endpoint"], default="user",
                    help="one bucket for all the user's endpoints, logins included (as "
                         "documented for Prisma Cloud), or one per endpoint")
    ap.add_argument("--json", action="store_true", help="print one JSON line, no bar")
    args = ap.parse_args()
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SystemExit('this example needs Dask: pip install "dask[distributed]"') from None
    logging.getLogger("pcpi").setLevel(logging.WARNING)
    workers = args.processes * args.threads

    with FakeTenant.spawn(latency=0.02, rtt=0.01, rate_limit=(args.rate, args.burst),
                          rate_limit_scope=args.scope) as tenant, \
            tempfile.TemporaryDirectory() as tmp, \
            LocalCluster(n_workers=args.processes, threads_per_worker=args.threads,
                         processes=True, dashboard_address=":0",
                         silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        client.run(worker_setup)
        creds = tenant.write_credentials(os.path.join(tmp, "credentials.json"))

        # --- what a pcpi script does -----------------------------------------
        manager = session_loader.load_config(file_path=creds)[0]
        cspm = manager.create_cspm_session()
        accounts = [a["accountId"] for a in cspm.request("GET", "/cloud").json()]
        ids = [accounts[i % len(accounts)] for i in range(args.calls)]

        time.sleep(args.burst / args.rate)  # the user's bucket full again, as measured
        tenant.reset_stats()
        started = time.perf_counter()
        result = fan_out(functools.partial(fetch, cspm), ids, workers=workers,
                         executor=client.get_executor(), progress=not args.json)
        wall = time.perf_counter() - started
        # ----------------------------------------------------------------------
        st = tenant.stats()
        manager.close()

    requests_made = st["requests"]
    throttled = st["responses_by_status"].get("429", 0)
    # what the bucket of GET /cloud/{id} allows; with one bucket per user, the
    # workers' logins draw on it too
    drawn = requests_made - throttled - (st["logins"] if args.scope == "endpoint" else 0)
    bound = max(0.0, drawn - args.burst) / args.rate
    figures = {"calls": args.calls, "scope": args.scope, "processes": args.processes,
               "threads": args.threads,
               "rate": args.rate, "burst": args.burst, "wall": round(wall, 3),
               "bound": round(bound, 3), "wall_vs_bound": round(wall / bound, 4),
               "requests": requests_made, "s429": throttled,
               "share_429": round(throttled / requests_made, 4), "logins": st["logins"],
               "failed": result.failed}
    if args.json:
        print(json.dumps(figures), flush=True)
    else:
        print(f"{args.calls} calls over {args.processes} Dask worker processes x "
              f"{args.threads} threads against one user's {args.rate:g}/s (burst "
              f"{args.burst}): {result.failed} failed")
        print(f"wall time:    {wall:.2f} s, {wall / bound:.2f}x the {bound:.2f} s the limit "
              f"allows")
        print(f"429 answers:  {throttled} of {requests_made} requests "
              f"({throttled / requests_made:.1%}); logins in the workers: {st['logins']}")
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
