"""Pacing for real tenants: cold starts, several endpoints, several processes.

Each scenario runs, side by side in one run, this pcpi (``pcpi``), this pcpi
with the pacer of 1.1 before cold-start probes and shared-limit detection
(``pcpi, 1.1 pacer``: ``Pacer(probe_wait=0, shared_limits=False)``, Remaining re-sync
kept) and pacing off.  The fake tenant runs in its own process (pinned to its
own core where the OS allows).

* COLD: 150 threads, 1,000 calls of ``GET /cloud`` against 50/s burst 10, with
  no warm-up call (only the login).  Goal: 429s <= 1%, wall <= 1.05x the bound.
* ENDPOINTS: 150 threads spread over 4 endpoints with different limits (each
  thread keeps to one endpoint) for a fixed time, with per-endpoint limits,
  then with one per-user limit.  Goal: >= 95% of the allowed calls, <= 2% 429s.
* PROCS: 4 processes x 50 threads, 1,000 calls in all, sharing one user's
  50/s limit.  Goal: aggregate wall <= 1.10x the bound, <= 3% 429s, 0 failed.

    python benchmarks/pacing.py                 # all three
    python benchmarks/pacing.py --only COLD     # one
    python benchmarks/pacing.py --write         # also rewrites the PACING table in BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from fanout import cpu_plan, machine, write_section  # noqa: E402

from pcpi import Pacer  # noqa: E402
from pcpi.saas_session_manager import SaaSSessionManager  # noqa: E402
from pcpi.testing import FakeTenant  # noqa: E402

PACERS = {"pcpi": lambda: True,
          "pcpi, 1.1 pacer": lambda: Pacer(probe_wait=0, shared_limits=False),
          "pacing off": lambda: False}
ENDPOINTS = {"GET /cloud": ("/cloud", (40, 10)),
             "GET /cloud/{id}": ("/cloud/123456789012", (30, 10)),
             "GET /license": ("/license", (20, 5)),
             "GET /meta_info": ("/meta_info", (10, 5))}


def manager(info: dict, pacing) -> SaaSSessionManager:
    logging.getLogger("pcpi").setLevel(logging.ERROR)  # 429s and retries are counted, not logged
    return SaaSSessionManager("bench", info["access_key"], info["secret_key"], info["url"],
                              verify=info["ca_path"], pacing=pacing)


def _call(cspm, path: str) -> bool:
    try:
        return cspm.request("GET", path).status_code == 200
    except Exception:  # counted as failed; the run goes on
        return False


# ---------------------------------------------------------------------- COLD
def cold(tenant, pacing, calls: int = 1000, workers: int = 150, limit=(50, 10)) -> dict:
    tenant.configure(rate_limit=limit, rate_limit_scope="endpoint")  # full buckets
    m = manager(tenant.info, pacing)
    cspm = m.create_cspm_session()  # the login only: /cloud is cold
    tenant.reset_stats()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        ok = sum(pool.map(lambda _i: _call(cspm, "/cloud"), range(calls)))
    wall = time.perf_counter() - t0
    st = tenant.stats()
    m.close()
    bound = (calls - limit[1]) / limit[0]
    return {"calls": calls, "failed": calls - ok, "wall": wall, "bound": bound,
            "429": st["responses_by_status"].get("429", 0)}


# ---------------------------------------------------------------------- ENDPOINTS
def endpoints(tenant, pacing, scope: str, seconds: float = 15.0, workers: int = 150) -> dict:
    if scope == "endpoint":
        tenant.configure(rate_limit=None, rate_limit_scope="endpoint",
                         endpoint_rate_limits={k: v[1] for k, v in ENDPOINTS.items()})
        allowed = sum(r * seconds + b for _p, (r, b) in ENDPOINTS.values())
    else:
        tenant.configure(rate_limit=(50, 10), rate_limit_scope="user", endpoint_rate_limits={})
        allowed = 50 * seconds + 10
    m = manager(tenant.info, pacing)
    cspm = m.create_cspm_session()
    tenant.configure(rate_limit_scope=scope)  # full buckets again after the login
    tenant.reset_stats()
    paths = [p for p, _lim in ENDPOINTS.values()]
    deadline = time.perf_counter() + seconds
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()

    def worker(i: int) -> None:
        path = paths[i % len(paths)]
        while time.perf_counter() < deadline:
            ok = _call(cspm, path)
            if time.perf_counter() > deadline:
                return  # answered after the window: not counted
            with lock:
                counts["ok" if ok else "failed"] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    st = tenant.stats()
    m.close()
    done = counts["ok"] + counts["failed"]
    return {"calls": done, "failed": counts["failed"], "ok": counts["ok"], "allowed": allowed,
            "429": st["responses_by_status"].get("429", 0),
            "requests": st["requests"]}


# ---------------------------------------------------------------------- PROCS
def _process(info: dict, pacing_name: str, calls: int, workers: int, go, out) -> None:
    from pcpi.testing import resolve_to_loopback  # noqa: F401  (no SaaS host names here)

    m = manager(info, PACERS[pacing_name]())
    cspm = m.create_cspm_session()
    go.wait()
    with ThreadPoolExecutor(workers) as pool:
        ok = sum(pool.map(lambda _i: _call(cspm, "/cloud"), range(calls)))
    out.put((ok, calls, time.perf_counter()))
    m.close()


def procs(tenant, pacing_name: str, calls: int = 1000, processes: int = 4, workers: int = 50,
          limit=(50, 10)) -> dict:
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    tenant.configure(rate_limit=limit, rate_limit_scope="endpoint", endpoint_rate_limits={})
    children = [ctx.Process(target=_process, args=(tenant.info, pacing_name,
                                                    calls // processes, workers, go, out))
                for _ in range(processes)]
    for c in children:
        c.start()
    time.sleep(3)  # all logged in (the logins draw on /login's own bucket)
    tenant.configure(rate_limit=limit)  # full buckets
    tenant.reset_stats()
    t0 = time.perf_counter()
    go.set()
    results = [out.get(timeout=600) for _ in children]
    wall = max(end for _ok, _n, end in results) - t0
    for c in children:
        c.join(30)
    st = tenant.stats()
    ok = sum(r[0] for r in results)
    n = sum(r[1] for r in results)
    return {"calls": n, "failed": n - ok, "wall": wall, "bound": (n - limit[1]) / limit[0],
            "429": st["responses_by_status"].get("429", 0)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=["COLD", "ENDPOINTS", "PROCS"], action="append")
    ap.add_argument("--seconds", type=float, default=15.0, help="ENDPOINTS run length")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    which = args.only or ["COLD", "ENDPOINTS", "PROCS"]
    server_cpu, client_cpu, plan = cpu_plan()
    lines = [f"{machine()}; {plan}.", ""]
    with FakeTenant.spawn(cpu=server_cpu, latency=0.02, rtt=0.01) as tenant:
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        if "COLD" in which:
            lines += ["**COLD** — 150 threads, 1,000 calls, 50/s burst 10, no warm-up "
                      "(goal: 429s ≤ 1%, wall ≤ 1.05× the bound)", "",
                      "| client | failed | 429s | 429s % | wall s | wall / bound |",
                      "|---|---|---|---|---|---|"]
            for name, make in PACERS.items():
                r = cold(tenant, make())
                row = (f"| {name} | {r['failed']} | {r['429']} | {100 * r['429'] / r['calls']:.1f} "
                       f"| {r['wall']:.1f} | {r['wall'] / r['bound']:.2f} |")
                print(row, flush=True)
                lines.append(row)
            lines.append("")
        if "ENDPOINTS" in which:
            for scope in ("endpoint", "user"):
                what = ("4 endpoints limited 40, 30, 20 and 10/s" if scope == "endpoint"
                        else "one per-user limit of 50/s over 4 endpoints")
                lines += [f"**ENDPOINTS ({scope})** — 150 threads, {what}, "
                          f"{args.seconds:.0f} s (goal: ≥ 95% of the allowed calls, ≤ 2% 429s)",
                          "", "| client | calls done | of allowed | 429s | 429s % of requests "
                          "| failed |", "|---|---|---|---|---|---|"]
                for name, make in PACERS.items():
                    r = endpoints(tenant, make(), scope, args.seconds)
                    row = (f"| {name} | {r['ok']} | {100 * r['ok'] / r['allowed']:.1f}% "
                           f"| {r['429']} | {100 * r['429'] / max(1, r['requests']):.1f} "
                           f"| {r['failed']} |")
                    print(row, flush=True)
                    lines.append(row)
                lines.append("")
        if "PROCS" in which:
            lines += ["**PROCS** — 4 processes × 50 threads, 1,000 calls in all, one user's "
                      "50/s burst 10 (goal: wall ≤ 1.10× the bound, ≤ 3% 429s, 0 failed)", "",
                      "| client | failed | 429s | 429s % | wall s | wall / bound |",
                      "|---|---|---|---|---|---|"]
            for name in PACERS:
                r = procs(tenant, name)
                row = (f"| {name} | {r['failed']} | {r['429']} | {100 * r['429'] / r['calls']:.1f} "
                       f"| {r['wall']:.1f} | {r['wall'] / r['bound']:.2f} |")
                print(row, flush=True)
                lines.append(row)
    body = "\n".join(lines).rstrip()
    print("\n" + body)
    if args.write:
        write_section("PACING", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
