"""Soak: a long fan-out through faults, watching failures, logins, connections and memory.

100,000 ``GET /cloud`` calls from 150 threads sharing one CSPM session, against a
fake tenant (its own process) that answers 1% of calls with 500/502/503, lets
tokens live 20 s and closes each keep-alive connection after 500 requests.
Reports failed calls (goal 0), logins + extends, connections opened, and this
process's RSS every 10,000 calls (goal: flat after warm-up).

    python benchmarks/soak.py                 # the full run (a few minutes)
    python benchmarks/soak.py --calls 20000   # shorter
    python benchmarks/soak.py --write         # also rewrites the SOAK table in BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from fanout import cpu_plan, machine, write_section  # noqa: E402

from pcpi.saas_session_manager import SaaSSessionManager  # noqa: E402
from pcpi.testing import FakeTenant  # noqa: E402

TENANT = {"latency": 0.05, "error_rate": 0.01, "token_lifetime": 20.0,
          "max_requests_per_connection": 500}


def rss_mib() -> float:
    """Resident set size now (not the peak), from /proc where available."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return peak_mib()


def peak_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=150)
    ap.add_argument("--every", type=int, default=10_000, help="sample memory this often")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()

    server_cpu, client_cpu, plan = cpu_plan()
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})
    print(f"soak: {args.calls} calls, {args.workers} workers, tenant {TENANT}; {plan}",
          flush=True)
    with FakeTenant.spawn(cpu=server_cpu, **TENANT) as tenant:
        manager = SaaSSessionManager("soak", tenant.access_key, tenant.secret_key, tenant.url,
                                     verify=tenant.ca_path)
        import logging

        logging.getLogger("pcpi").setLevel(logging.ERROR)  # 1% 5xx would log ~1,000 warnings
        cspm = manager.create_cspm_session()
        cspm.request("GET", "/cloud")
        tenant.reset_stats()

        lock = threading.Lock()
        state = {"next": 0, "done": 0, "ok": 0, "errors": {}}
        samples = []
        t0 = time.perf_counter()

        def worker() -> None:
            while True:
                with lock:
                    if state["next"] >= args.calls:
                        return
                    state["next"] += 1
                try:
                    status = cspm.request("GET", "/cloud").status_code
                    error = None if status == 200 else f"HTTP {status}"
                except Exception as exc:  # counted, the soak goes on
                    error = type(exc).__name__
                with lock:
                    state["done"] += 1
                    if error is None:
                        state["ok"] += 1
                    else:
                        state["errors"][error] = state["errors"].get(error, 0) + 1
                    done, ok = state["done"], state["ok"]
                if done % args.every == 0:
                    st = tenant.stats()
                    sample = {"calls": done, "seconds": time.perf_counter() - t0,
                              "rss_mib": rss_mib(), "peak_mib": peak_mib(),
                              "failed": done - ok,
                              "logins": st["logins"] + st["extends"],
                              "connections": st["connections_accepted"],
                              "objects": len(gc.get_objects()),  # tracked Python objects
                              "threads": threading.active_count()}
                    samples.append(sample)
                    print(f"  {done:>7} calls  {sample['seconds']:6.1f} s  "
                          f"RSS {sample['rss_mib']:6.1f} MiB (peak {sample['peak_mib']:.1f})  "
                          f"failed {sample['failed']}  logins+extends {sample['logins']}  "
                          f"connections {sample['connections']}", flush=True)

        threads = [threading.Thread(target=worker) for _ in range(args.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        st = tenant.stats()
        manager.close()

    failed = args.calls - state["ok"]
    first, last = samples[0], samples[-1]
    by_status = st["responses_by_status"]
    lines = [
        f"{args.calls:,} calls at W={args.workers}; tenant: latency 50 ms, 1% 500/502/503, "
        f"token lifetime 20 s, keep-alive closed after 500 requests; {machine()}.",
        "",
        "| calls | seconds | RSS MiB | peak RSS MiB | Python objects | failed | logins+extends "
        "| connections |",
        "|---|---|---|---|---|---|---|---|",
    ] + [f"| {s['calls']:,} | {s['seconds']:.0f} | {s['rss_mib']:.1f} | {s['peak_mib']:.1f} "
         f"| {s['objects']:,} | {s['failed']} | {s['logins']} | {s['connections']} |"
         for s in samples] + [
        "",
        f"- failed calls: **{failed}** (goal 0)"
        + (f"; {json.dumps(state['errors'])}" if failed else ""),
        f"- wall {wall:.0f} s, {args.calls / wall:.0f} calls/s; 5xx served "
        f"{sum(v for k, v in by_status.items() if k.startswith('5'))}, 401 served "
        f"{by_status.get('401', 0)}, logins + extends {st['logins'] + st['extends']} "
        f"(token lifetime 20 s: about {wall / 20:.0f} expiries)",
        f"- connections opened {st['connections_accepted']}: the pool's first "
        f"{first['connections']}, then replacements for the ones the tenant closed after "
        f"500 requests each (≥ {args.calls // 500} connection lifetimes are needed)",
        f"- RSS at {first['calls']:,} calls {first['rss_mib']:.1f} MiB, at {last['calls']:,} "
        f"calls {last['rss_mib']:.1f} MiB: growth {last['rss_mib'] - first['rss_mib']:+.1f} MiB; "
        f"Python objects {first['objects']:,} → {last['objects']:,} "
        f"({last['objects'] - first['objects']:+,}): nothing accumulates per call, and what "
        f"RSS moves is the allocator's arenas for {args.workers} threads",
    ]
    body = "\n".join(lines)
    print("\n" + body)
    if args.write:
        write_section("SOAK", body)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
