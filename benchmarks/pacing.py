"""Pacing for real tenants: cold starts, several endpoints, several processes.

Each scenario runs its clients side by side in one run, interleaved pass by
pass: this pcpi (``pcpi``), this pcpi with pacing off, and any other pcpi named
with ``--client`` (a pacer's options, or the whole client as it was at a git
revision).  Every client runs in processes of its own (``_pace_client.py``) that
log in, wait for the go signal and report when they finished; the fake tenant
runs in its own process (pinned to its own core where the OS allows).

* COLD: 150 threads, 1,000 calls of ``GET /cloud`` against 50/s burst 10, with
  no warm-up call (only the login).  Goal: 429s <= 1%, wall <= 1.05x the bound.
* ENDPOINTS: 150 threads spread over 4 endpoints with different limits (each
  thread keeps to one endpoint) for a fixed time, with per-endpoint limits,
  then with one per-user limit.  Goal: >= 95% of the allowed calls, <= 2% 429s.
* PROCS: 4 processes x 50 threads x 250 calls of ``GET /cloud``, all released
  at once, sharing one user's 50/s burst 10; 20 ms service time, 10 ms round
  trip.  Goal: aggregate wall <= 1.10x the bound, <= 3% 429s, 0 failed, even
  finish times.
* PROCS-QUICK429: PROCS on a tenant whose rate limiter refuses a call before
  the service sees it: a 429 comes back after the round trip alone
  (``throttled_latency=0``), as on the tenant issue 21 measured.  Same goals.
* BARE: 150 threads, 400 calls of ``GET /cloud`` against 20/s burst 10 that
  the tenant does not announce (bare 429s, as Compute's): what a client does
  with 429s alone.  Reported: wall against the bound, 429s, failed.

    python benchmarks/pacing.py                         # all of them, one pass
    python benchmarks/pacing.py --only PROCS-QUICK429 --repeat 3
    python benchmarks/pacing.py --client 'before=e73e6bc:True'      # pcpi at a revision
    python benchmarks/pacing.py --client 'no inference=:Pacer(policy=PacingPolicy(...))'
    python benchmarks/pacing.py --write                 # also rewrites the PACING table
    python benchmarks/pacing.py --only BARE --write --section PACING-BARE
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from fanout import _readline, cpu_plan, machine, tree_at, write_section  # noqa: E402

from pcpi.testing import FakeTenant  # noqa: E402

#: label -> (git revision, or "" for this tree; the ``pacing=`` expression)
DEFAULT_CLIENTS: Dict[str, Tuple[str, str]] = {"pcpi": ("", "True"),
                                                "pacing off": ("", "False")}
ENDPOINTS = {"GET /cloud": ("/cloud", (40, 10)),
             "GET /cloud/{id}": ("/cloud/123456789012", (30, 10)),
             "GET /license": ("/license", (20, 5)),
             "GET /meta_info": ("/meta_info", (10, 5))}
LIMIT = (50, 10)
TRACE = False  # --trace: the children report when each 429 came back
SCENARIOS = ("COLD", "ENDPOINTS", "PROCS", "PROCS-QUICK429", "BARE")
BARE_LIMIT = (20, 10)


def run_job(tenant, client: Tuple[str, str], jobs: List[dict], cpu, settings: dict) -> dict:
    """Start one process per job, wait until each has logged in, give the tenant
    ``settings`` (full buckets) and fresh counters, release them all at once and
    collect what they report; returns their results and the tenant's counters."""
    rev, pacing = client
    root = tree_at(rev) if rev else ROOT
    procs = []
    with tempfile.TemporaryFile("w+") as err:
        try:
            for job in jobs:
                cfg = {"root": root, "pacing": pacing, "url": tenant.url, "trace": TRACE,
                       "ca_path": tenant.ca_path, "access_key": tenant.access_key,
                       "secret_key": tenant.secret_key, "cpu": cpu, **job}
                procs.append(subprocess.Popen(
                    [sys.executable, os.path.join(HERE, "_pace_client.py"), json.dumps(cfg)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
                    cwd=HERE))
            for p in procs:
                ready = _readline(p, 120)
                if ready.strip() != "READY":
                    raise RuntimeError(f"a client did not start: {ready!r}")
            tenant.configure(**settings)
            tenant.reset_stats()
            t0 = time.monotonic()
            for p in procs:
                p.stdin.write("GO\n")
                p.stdin.flush()
            results = [json.loads(_readline(p, 600)) for p in procs]
            stats = tenant.stats()
            for p in procs:
                p.wait(60)
        except BaseException:
            for p in procs:
                p.kill()
                p.wait(10)
            err.seek(0)
            sys.stderr.write(err.read()[-3000:])
            raise
    ends = sorted(r["end"] - t0 for r in results)
    refused = sorted(round(t - t0, 2) for r in results for t in r.get("refused_at", []))
    return {"ok": sum(r["ok"] for r in results), "failed": sum(r["failed"] for r in results),
            "ends": ends, "wall": ends[-1], "429": stats["responses_by_status"].get("429", 0),
            "requests": stats["requests"], **({"refused_at": refused} if refused else {})}


def cold(tenant, client, cpu, calls: int = 1000, workers: int = 150) -> dict:
    tenant.configure(rate_limit=LIMIT, rate_limit_scope="endpoint", endpoint_rate_limits={},
                     throttled_latency=None)
    r = run_job(tenant, client, [{"paths": ["/cloud"], "calls": calls, "workers": workers}],
                cpu, {"rate_limit": LIMIT})
    return {**r, "calls": calls, "bound": (calls - LIMIT[1]) / LIMIT[0]}


def bare(tenant, client, cpu, calls: int = 400, workers: int = 150) -> dict:
    tenant.configure(rate_limit=BARE_LIMIT, rate_limit_scope="endpoint", endpoint_rate_limits={},
                     throttled_latency=None, rate_limit_headers=False)
    try:
        r = run_job(tenant, client, [{"paths": ["/cloud"], "calls": calls, "workers": workers}],
                    cpu, {"rate_limit": BARE_LIMIT})
    finally:
        tenant.configure(rate_limit_headers=True)
    return {**r, "calls": calls, "bound": (calls - BARE_LIMIT[1]) / BARE_LIMIT[0]}


def endpoints(tenant, client, cpu, scope: str, seconds: float, workers: int = 150) -> dict:
    if scope == "endpoint":
        tenant.configure(rate_limit=None, rate_limit_scope="endpoint", throttled_latency=None,
                         endpoint_rate_limits={k: v[1] for k, v in ENDPOINTS.items()})
        allowed = sum(r * seconds + b for _p, (r, b) in ENDPOINTS.values())
    else:
        tenant.configure(rate_limit=LIMIT, rate_limit_scope="user", endpoint_rate_limits={},
                         throttled_latency=None)
        allowed = LIMIT[0] * seconds + LIMIT[1]
    paths = [p for p, _lim in ENDPOINTS.values()]
    r = run_job(tenant, client, [{"paths": paths, "seconds": seconds, "workers": workers}],
                cpu, {"rate_limit_scope": scope})  # (full buckets again after the login)
    return {**r, "allowed": allowed}


def procs(tenant, client, cpu, quick429: bool, calls: int = 1000, processes: int = 4,
          workers: int = 50) -> dict:
    tenant.configure(rate_limit=LIMIT, rate_limit_scope="endpoint", endpoint_rate_limits={},
                     throttled_latency=0.0 if quick429 else None)
    job = {"paths": ["/cloud"], "calls": calls // processes, "workers": workers}
    r = run_job(tenant, client, [job] * processes, cpu, {"rate_limit": LIMIT})
    return {**r, "calls": calls, "bound": (calls - LIMIT[1]) / LIMIT[0]}


def _med(rows: List[dict], f) -> float:
    return statistics.median(f(r) for r in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=SCENARIOS, action="append")
    ap.add_argument("--seconds", type=float, default=15.0, help="ENDPOINTS run length")
    ap.add_argument("--repeat", type=int, default=1, help="interleaved passes")
    ap.add_argument("--client", action="append", default=[],
                    help="LABEL=REV:PACING: pcpi at git revision REV (empty: this tree) "
                         "with pacing=PACING (True, False, Pacer(...))")
    ap.add_argument("--no-default-clients", action="store_true")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--section", default="PACING",
                    help="the BENCHMARKS.md section --write rewrites (PACING, PACING-PROCS, "
                         "PACING-BARE)")
    ap.add_argument("--trace", action="store_true", help="list when each 429 came back")
    args = ap.parse_args()
    global TRACE
    TRACE = args.trace
    clients = {} if args.no_default_clients else dict(DEFAULT_CLIENTS)
    for spec in args.client:
        label, _, rest = spec.partition("=")
        rev, _, pacing = rest.partition(":")
        clients[label] = (rev, pacing or "True")
    which = args.only or list(SCENARIOS)
    server_cpu, client_cpu, plan = cpu_plan()
    named = "; ".join(f"{label}: {'pcpi at ' + rev if rev else 'this pcpi'}, pacing={p}"
                      for label, (rev, p) in clients.items())
    lines = [f"{machine()}; {plan}; {args.repeat} interleaved pass(es). Clients: {named}.", ""]
    with FakeTenant.spawn(cpu=server_cpu, latency=0.02, rtt=0.01) as tenant:
        if "COLD" in which:
            lines += ["**COLD** — 150 threads, 1,000 calls, 50/s burst 10, no warm-up "
                      "(goal: 429s ≤ 1%, wall ≤ 1.05× the bound)", "",
                      "| client | failed | 429s | 429s % | wall s | wall / bound |",
                      "|---|---|---|---|---|---|"]
            runs = _passes(args.repeat, clients, lambda c: cold(tenant, c, client_cpu))
            lines += _wall_rows(runs)
            lines.append("")
        if "ENDPOINTS" in which:
            for scope in ("endpoint", "user"):
                what = ("4 endpoints limited 40, 30, 20 and 10/s" if scope == "endpoint"
                        else "one per-user limit of 50/s over 4 endpoints")
                lines += [f"**ENDPOINTS ({scope})** — 150 threads, {what}, "
                          f"{args.seconds:.0f} s (goal: ≥ 95% of the allowed calls, ≤ 2% 429s)",
                          "", "| client | calls done | of allowed | 429s | 429s % of requests "
                          "| failed |", "|---|---|---|---|---|---|"]
                runs = _passes(args.repeat, clients, lambda c, scope=scope: endpoints(
                    tenant, c, client_cpu, scope, args.seconds))
                for name, rows in runs.items():
                    lines.append(
                        f"| {name} | {_med(rows, lambda r: r['ok']):.0f} "
                        f"| {_med(rows, lambda r: 100 * r['ok'] / r['allowed']):.1f}% "
                        f"| {_med(rows, lambda r: r['429']):.0f} "
                        f"| {_med(rows, lambda r: 100 * r['429'] / max(1, r['requests'])):.1f} "
                        f"| {_med(rows, lambda r: r['failed']):.0f} |")
                lines.append("")
        for variant in ("PROCS", "PROCS-QUICK429"):
            if variant not in which:
                continue
            quick = variant == "PROCS-QUICK429"
            what = ("a 429 answered after the round trip alone" if quick else
                    "a 429 answered after the service time and round trip")
            lines += [f"**{variant}** — 4 processes × 50 threads × 250 calls released at once, "
                      f"one user's 50/s burst 10, 20 ms service time, 10 ms round trip, {what} "
                      f"(goal: wall ≤ 1.10× the bound, ≤ 3% 429s, 0 failed, even finish "
                      f"times)", "",
                      "| client | pass | failed | 429s | 429s % | wall s | wall / bound "
                      "| processes finished at s |", "|---|---|---|---|---|---|---|---|"]
            runs = _passes(args.repeat, clients, lambda c, q=quick: procs(tenant, c, client_cpu,
                                                                          q))
            for name, rows in runs.items():
                for i, r in enumerate(rows):
                    ends = ", ".join(f"{e:.1f}" for e in r["ends"])
                    lines.append(f"| {name} | {i + 1} | {r['failed']} | {r['429']} "
                                 f"| {100 * r['429'] / r['calls']:.1f} | {r['wall']:.1f} "
                                 f"| {r['wall'] / r['bound']:.2f} | {ends} |")
            lines.append("")
        if "BARE" in which:
            lines += ["**BARE** — 150 threads, 400 calls, 20/s burst 10 answered with bare 429s "
                      "(no `X-RateLimit-*` headers)", "",
                      "| client | failed | 429s | 429s % | wall s | wall / bound |",
                      "|---|---|---|---|---|---|"]
            runs = _passes(args.repeat, clients, lambda c: bare(tenant, c, client_cpu))
            lines += _wall_rows(runs)
            lines.append("")
    body = "\n".join(lines).rstrip()
    print("\n" + body)
    if args.write:
        write_section(args.section, body)
    return 0


def _wall_rows(runs: Dict[str, List[dict]]) -> List[str]:
    """One table row per client: failed, 429s, wall and wall / bound (medians)."""
    return [f"| {name} | {_med(rows, lambda r: r['failed']):.0f} "
            f"| {_med(rows, lambda r: r['429']):.0f} "
            f"| {_med(rows, lambda r: 100 * r['429'] / r['calls']):.1f} "
            f"| {_med(rows, lambda r: r['wall']):.1f} "
            f"| {_med(rows, lambda r: r['wall'] / r['bound']):.2f}"
            f"{_spread(rows, lambda r: r['wall'] / r['bound'])} |"
            for name, rows in runs.items()]


def _passes(repeat: int, clients: Dict[str, Tuple[str, str]], run) -> Dict[str, List[dict]]:
    """``run(client)`` for every client, ``repeat`` times, interleaved."""
    out: Dict[str, List[dict]] = {name: [] for name in clients}
    for i in range(repeat):
        for name, client in clients.items():
            r = run(client)
            out[name].append(r)
            print(f"  pass {i + 1} {name}: {json.dumps(r)}", flush=True)
    return out


def _spread(rows: List[dict], f) -> str:
    if len(rows) < 2:
        return ""
    values = [f(r) for r in rows]
    return f" ({min(values):.2f}–{max(values):.2f})"


if __name__ == "__main__":
    sys.exit(main())
