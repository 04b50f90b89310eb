"""A pcpi fan-out against a fake Prisma Cloud tenant: no account needed.

Starts the fake tenant in its own process with a modelled network (service
latency and round-trip time), writes a credentials file for it, loads it with
``session_loader.load_config`` exactly as a real script would, and fans out
``GET /cloud/{id}`` calls with ``pcpi.fan_out`` (a progress bar on stderr,
failures kept with their item).  At the end it prints calls/s, the connections
the tenant accepted and the logins it served.

    python examples/fanout.py [--calls 3000] [--workers 150] [--latency 0.05] [--rtt 0.02]
                              [--checkpoint job.db]

With ``--checkpoint``, stop it with Ctrl-C and run it again: the calls already
recorded are not made again.  Needs ``pip install -e ".[testing,progress]"``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time

from pcpi import FanOutInterrupted, fan_out, session_loader
from pcpi.testing import FakeTenant


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=150)
    ap.add_argument("--latency", type=float, default=0.05, help="service time, seconds")
    ap.add_argument("--rtt", type=float, default=0.02, help="network round trip, seconds")
    ap.add_argument("--accounts", type=int, default=500)
    ap.add_argument("--checkpoint", help="record each call's result here, and resume from it")
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

        def fetch(n: int) -> str:
            """Call number n: one account's details (an error status raises)."""
            res = cspm.request("GET", f"/cloud/{accounts[n % len(accounts)]}")
            res.raise_for_status()
            return res.json()["name"]

        before = tenant.stats()  # the login and the account listing, counted apart
        tenant.reset_stats()
        started = time.perf_counter()
        try:
            result = fan_out(fetch, range(args.calls), workers=args.workers, progress=True,
                             checkpoint=args.checkpoint)
        except FanOutInterrupted as stop:
            print(f"\ninterrupted: {stop.result.succeeded} calls done"
                  + (f", kept in {args.checkpoint}" if args.checkpoint else ""))
            return 130
        wall = time.perf_counter() - started
        for item, exc in result.failures[:5]:
            print(f"  call {item} failed: {type(exc).__name__}: {exc}")
        # ----------------------------------------------------------------------
        st = tenant.stats()

    made = args.calls - result.resumed
    bound = made * (args.latency + args.rtt) / args.workers
    print(f"calls:               {args.calls} with {args.workers} workers, "
          f"{result.succeeded} OK ({result.resumed} from the checkpoint), "
          f"{result.failed} failed")
    print(f"wall time:           {wall:.2f} s  (best possible {bound:.2f} s)")
    print(f"calls/s:             {made / wall:.0f}")
    print(f"connections opened:  {st['connections_accepted']} "
          f"(TLS handshakes {st['tls_handshakes']})")
    print(f"logins + extends:    {before['logins'] + before['extends']} before the fan-out, "
          f"{st['logins'] + st['extends']} during it")
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
