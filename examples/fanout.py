"""A pcpi fan-out against a fake Prisma Cloud tenant: no account needed.

Starts the fake tenant in its own process with a modelled network (service
latency and round-trip time), writes a credentials file for it, loads it with
``session_loader.load_config`` exactly as a real script would, and fans out
``GET /cloud/{id}`` calls over a ``ThreadPoolExecutor``.  At the end it prints
calls/s, the connections the tenant accepted and the logins it served.

    python examples/fanout.py [--calls 3000] [--workers 150] [--latency 0.05] [--rtt 0.02]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from pcpi import session_loader
from pcpi.testing import FakeTenant


def progress(done: list, total: int, started: float, stop: threading.Event) -> None:
    while not stop.wait(0.25):
        n = len(done)
        rate = n / max(1e-9, time.perf_counter() - started)
        print(f"\r  {n:>6}/{total} calls  {rate:7.0f} calls/s", end="", file=sys.stderr,
              flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=150)
    ap.add_argument("--latency", type=float, default=0.05, help="service time, seconds")
    ap.add_argument("--rtt", type=float, default=0.02, help="network round trip, seconds")
    ap.add_argument("--accounts", type=int, default=500)
    args = ap.parse_args()

    # One SUCCESS line per call is 1.0.1's default; a fan-out wants warnings only.
    logging.getLogger("pcpi").setLevel(logging.WARNING)

    print(f"starting a fake tenant (latency {args.latency * 1000:.0f} ms, "
          f"RTT {args.rtt * 1000:.0f} ms) in its own process...")
    with FakeTenant.spawn(latency=args.latency, rtt=args.rtt, accounts=args.accounts) as tenant, \
            tempfile.TemporaryDirectory() as tmp:
        creds = tenant.write_credentials(os.path.join(tmp, "credentials.json"))

        # --- what a pcpi script does -----------------------------------------
        manager = session_loader.load_config(file_path=creds)[0]
        cspm = manager.create_cspm_session()
        accounts = [a["accountId"] for a in cspm.request("GET", "/cloud").json()]
        ids = [accounts[i % len(accounts)] for i in range(args.calls)]

        before = tenant.stats()  # the login and the account listing, counted apart
        tenant.reset_stats()
        done: list = []
        stop = threading.Event()
        started = time.perf_counter()
        ticker = threading.Thread(target=progress, args=(done, args.calls, started, stop),
                                  daemon=True)
        ticker.start()

        def fetch(account_id: str) -> int:
            res = cspm.request("GET", f"/cloud/{account_id}")
            done.append(res.status_code)
            return res.status_code

        with ThreadPoolExecutor(args.workers) as pool:
            codes = list(pool.map(fetch, ids))
        wall = time.perf_counter() - started
        # ----------------------------------------------------------------------
        stop.set()
        ticker.join()
        st = tenant.stats()

    bound = args.calls * (args.latency + args.rtt) / args.workers
    ok = codes.count(200)
    print(f"\r  {len(codes):>6}/{args.calls} calls done{' ' * 20}")
    print(f"calls:               {args.calls} with {args.workers} workers, {ok} OK, "
          f"{args.calls - ok} failed")
    print(f"wall time:           {wall:.2f} s  (best possible {bound:.2f} s)")
    print(f"calls/s:             {args.calls / wall:.0f}")
    print(f"connections opened:  {st['connections_accepted']} "
          f"(TLS handshakes {st['tls_handshakes']})")
    print(f"logins + extends:    {before['logins'] + before['extends']} before the fan-out, "
          f"{st['logins'] + st['extends']} during it")
    return 0 if ok == args.calls else 1


if __name__ == "__main__":
    sys.exit(main())
