"""Fan-out benchmarks: this pcpi vs pcpi 1.0.1 vs a bare requests.Session vs http.client.

The fake tenant runs in its own process and each client run in another, pinned
to different cores where the OS allows; client CPU comes from getrusage inside
the client process.  Runs are interleaved (A B C D A B C D ...) and reported as
medians with min-max, and as ratios taken within the same pass.

    python benchmarks/fanout.py --scenario S1          # one scenario
    python benchmarks/fanout.py --all --write          # S1-S4 + plot, rewrites BENCHMARKS.md
    python benchmarks/fanout.py --scenario SEED        # 35,000 calls at W=150 (slow)
    python benchmarks/fanout.py --scenario FO --repeat 5   # pcpi.fan_out vs the bare loop
    python benchmarks/fanout.py --scenario S1 --clients pcpi,pcpi@main   # vs a git revision

pcpi 1.0.1 is installed at run time into benchmarks/.cache (never committed).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from pcpi.testing import FakeTenant  # noqa: E402

CACHE = os.path.join(HERE, ".cache")
PCPI101_DIR = os.path.join(CACHE, "pcpi-1.0.1")
CLIENTS = ("pcpi", "pcpi-1.0.1", "requests", "http.client")
LABEL = {"pcpi": "pcpi (this)", "pcpi-nopace": "pcpi, pacing off", "pcpi-1.0.1": "pcpi 1.0.1",
         "pcpi-fanout": "pcpi.fan_out", "pcpi-fanout-ckpt": "pcpi.fan_out, checkpoint",
         "requests": "requests floor", "http.client": "http.client floor"}

S1_TENANT = {"latency": 0.05, "rtt": 0.02}
SCENARIOS: Dict[str, dict] = {
    "S1": {"title": "S1 fan-out: latency 50 ms, RTT 20 ms", "tenant": S1_TENANT,
           "runs": [(3000, 150), (3000, 35), (200, 1)], "extra": ("pcpi-nopace",)},
    "S2": {"title": "S2 rate-limited: latency 20 ms, RTT 10 ms, 100/s burst 50",
           "tenant": {"latency": 0.02, "rtt": 0.01, "rate_limit": (100, 50)},
           "runs": [(2000, 50)], "extra": ("pcpi-nopace",)},
    "S2H": {"title": "S2H rate-limited, harder: latency 20 ms, RTT 10 ms, 50/s burst 10",
            "tenant": {"latency": 0.02, "rtt": 0.01, "rate_limit": (50, 10)},
            "runs": [(2000, 150)], "extra": ("pcpi-nopace",)},
    "S3": {"title": "S3 token expiry: latency 50 ms, token lifetime 1 s",
           "tenant": {"latency": 0.05, "token_lifetime": 1.0}, "runs": [(3000, 150)]},
    "S3F": {"title": "S3F token expiry under faults: latency 50 ms, token lifetime 1 s, "
                     "5% 503", "tenant": {"latency": 0.05, "token_lifetime": 1.0,
                                          "error_rate": 0.05, "error_statuses": [503],
                                          "seed": 11},
            "runs": [(6000, 150)]},
    "S4": {"title": "S4 transient faults: latency 50 ms, 5% 500/502/503",
           "tenant": {"latency": 0.05, "error_rate": 0.05, "seed": 7}, "runs": [(2000, 50)]},
    # fan_out against the bare ThreadPoolExecutor loop ("pcpi (this)"), same calls
    "FO": {"title": "FO pcpi.fan_out vs a bare ThreadPoolExecutor loop: latency 50 ms, "
                    "RTT 20 ms", "tenant": S1_TENANT, "runs": [(3000, 150)],
           "clients": ("pcpi", "pcpi-fanout", "pcpi-fanout-ckpt")},
    "SEED": {"title": "Seed-size: 35,000 calls at W=150, S1 network", "tenant": S1_TENANT,
             "runs": [(35000, 150)]},
}
PLOT_RUNS = [(200, 1), (1000, 10), (2000, 35), (3000, 75), (3000, 150)]


# ---------------------------------------------------------------------- setup
def ensure_pcpi101() -> str:
    """Install pcpi 1.0.1 (no dependencies: requests is already here) into the cache."""
    marker = os.path.join(PCPI101_DIR, "pcpi", "_session_base.py")
    if not os.path.exists(marker):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--target", PCPI101_DIR, "pcpi==1.0.1"], check=True)
    return PCPI101_DIR


def tree_at(rev: str) -> str:
    """The root of a copy of pcpi as it was at git revision ``rev`` (its ``pcpi/``
    folder, extracted once into the cache), to run side by side with this tree."""
    sha = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", rev], check=True,
                         capture_output=True, text=True).stdout.strip()
    root = os.path.join(CACHE, f"tree-{sha}")
    if not os.path.exists(os.path.join(root, "pcpi", "__init__.py")):
        os.makedirs(root, exist_ok=True)
        archive = subprocess.run(["git", "-C", ROOT, "archive", sha, "pcpi"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", root], input=archive, check=True)
    return root


def cpu_plan():
    """(server cpu, client cpu, description): different cores where possible."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None, "not pinned (no sched_setaffinity on this OS)"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None, "not pinned (one CPU available)"
    return cpus[-1], cpus[0], f"fake tenant pinned to CPU {cpus[-1]}, clients to CPU {cpus[0]}"


def bound(tenant: dict, n: int, w: int) -> float:
    b = n * (tenant.get("latency", 0) + tenant.get("rtt", 0)) / w
    if tenant.get("rate_limit"):
        rate, burst = tenant["rate_limit"]
        b = max(b, (n - burst) / rate)
    return b


# ---------------------------------------------------------------------- one run
def run_client(tenant, settings: dict, client: str, n: int, w: int, client_cpu,
               max_seconds: float, pcpi_options: Optional[dict] = None) -> dict:
    cfg = {"client": client, "url": tenant.url, "ca_path": tenant.ca_path,
           "access_key": tenant.access_key, "secret_key": tenant.secret_key,
           "calls": n, "workers": w, "cpu": client_cpu, "max_seconds": max_seconds,
           "pcpi101_dir": PCPI101_DIR, "pcpi_options": pcpi_options or {},
           "tree": tree_at(client[5:]) if client.startswith("pcpi@") else None}
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "_client.py"),
                                 json.dumps(cfg)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            ready = _readline(proc, 120)
            if ready.strip() != "READY":
                raise RuntimeError(f"{client} did not start: {ready!r}")
            # fresh counters and a full token bucket for every run
            tenant.configure(**{k: v for k, v in settings.items() if k == "rate_limit"})
            tenant.reset_stats()
            proc.stdin.write("GO\n")
            proc.stdin.flush()
            line = _readline(proc, max_seconds + 60)
            stats = tenant.stats()
            proc.wait(60)
        except BaseException:
            proc.kill()
            proc.wait(10)
            err.seek(0)
            sys.stderr.write(err.read()[-3000:])
            raise
    result = json.loads(line)
    by_status = stats["responses_by_status"]
    result.update({
        "client": client, "n": n, "w": w,
        "connections": stats["connections_accepted"],
        "handshakes": stats["tls_handshakes"],
        "logins": stats["logins"] + stats["extends"],
        "s401": by_status.get("401", 0), "s429": by_status.get("429", 0),
        "s5xx": sum(v for k, v in by_status.items() if k.startswith("5")),
        "bound": bound(settings, n, w),
    })
    return result


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    box: List[str] = []
    t = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    t.start()
    t.join(timeout)
    if not box:
        raise TimeoutError(f"no answer from the client within {timeout:.0f} s")
    return box[0]


# ---------------------------------------------------------------------- a scenario
def run_scenario(name: str, clients, repeat: int, max_seconds: float, runs=None,
                 quiet: bool = False, pcpi_options: Optional[dict] = None,
                 extra: bool = True) -> List[dict]:
    """Every run of scenario ``name`` for ``clients`` (plus the scenario's extra
    clients, such as pcpi with pacing off, when ``extra``), passes interleaved."""
    spec = SCENARIOS[name]
    settings = dict(spec["tenant"])
    if extra:
        clients = list(spec.get("clients", clients))
        clients += [c for c in spec.get("extra", ()) if c not in clients]
    server_cpu, client_cpu, plan = cpu_plan()
    results = []
    with FakeTenant.spawn(cpu=server_cpu, **settings) as tenant:
        if not quiet:
            print(f"\n## {spec['title']}  ({plan})", flush=True)
        for n, w in runs or spec["runs"]:
            for rep in range(repeat):
                for client in clients:
                    r = run_client(tenant, settings, client, n, w, client_cpu, max_seconds,
                                   pcpi_options)
                    r.update(scenario=name, rep=rep)
                    results.append(r)
                    if not quiet:
                        print(f"  N={n:<5} W={w:<3} pass {rep + 1} {LABEL[client]:<18} "
                              f"wall {r['wall']:7.2f} s  x{r['wall'] / r['bound']:5.2f} bound  "
                              f"cpu {r['cpu'] / n * 1e6:6.0f} us/call  failed {r['failed']:<4} "
                              f"conns {r['connections']:<5} logins {r['logins']:<4} "
                              f"429 {r['s429']:<5} backoff {r['slept']:6.1f} s "
                              f"paced {r.get('paced', 0):6.1f} s"
                              + ("" if r["finished"] else "  (stopped: time limit)"),
                              flush=True)
    return results


# ---------------------------------------------------------------------- summaries
def med(xs):
    return statistics.median(xs) if xs else float("nan")


def group(results, n, w, client):
    return [r for r in results if r["n"] == n and r["w"] == w and r["client"] == client]


def pass_ratio(results, n, w, a, b, key="wall"):
    """Median over passes of a[key] / b[key] within the same pass."""
    ratios = []
    for rep in sorted({r["rep"] for r in results}):
        ra = [r for r in group(results, n, w, a) if r["rep"] == rep]
        rb = [r for r in group(results, n, w, b) if r["rep"] == rep]
        if ra and rb and rb[0][key] > 0:
            ratios.append(ra[0][key] / rb[0][key])
    return med(ratios), (min(ratios) if ratios else float("nan")), \
        (max(ratios) if ratios else float("nan"))


def table(results) -> str:
    rows = ["| N | W | client | wall s (min–max) | calls/s | wall/bound | failed | CPU µs/call "
            "| conns | TLS | logins+extends | 401 | 429 | 5xx | backoff sleep s | pacing wait s |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    seen = []
    for r in results:
        key = (r["n"], r["w"], r["client"])
        if key in seen:
            continue
        seen.append(key)
        g = group(results, *key)
        walls = [x["wall"] for x in g]
        unfinished = sum(1 for x in g if not x["finished"])
        note = f" ({unfinished} stopped at the time limit)" if unfinished else ""
        rows.append(
            f"| {r['n']} | {r['w']} | {LABEL[r['client']]} | {med(walls):.2f} "
            f"({min(walls):.2f}–{max(walls):.2f}){note} "
            f"| {med([x['done'] / x['wall'] for x in g]):.0f} "
            f"| {med([x['wall'] / x['bound'] for x in g]):.2f} "
            f"| {med([x['failed'] for x in g]):.0f} "
            f"| {med([x['cpu'] / x['n'] * 1e6 for x in g]):.0f} "
            f"| {med([x['connections'] for x in g]):.0f} | {med([x['handshakes'] for x in g]):.0f} "
            f"| {med([x['logins'] for x in g]):.0f} | {med([x['s401'] for x in g]):.0f} "
            f"| {med([x['s429'] for x in g]):.0f} | {med([x['s5xx'] for x in g]):.0f} "
            f"| {med([x['slept'] for x in g]):.1f} | {med([x.get('paced', 0) for x in g]):.1f} |")
    return "\n".join(rows)


def targets(name: str, results) -> List[str]:
    """This scenario's targets, as PASS/MISS lines."""
    out = []

    def line(ok: bool, text: str) -> None:
        out.append(f"- {'PASS' if ok else 'MISS'}: {text}")

    clients = {r["client"] for r in results}
    if name == "S1":
        if {"pcpi", "requests"} <= clients:
            wr, lo, hi = pass_ratio(results, 3000, 150, "pcpi", "requests")
            line(wr <= 1.0, f"W=150 wall vs requests floor {wr:.2f}× (passes {lo:.2f}–{hi:.2f}); "
                            f"target ≤ 1.0×")
            cr, lo, hi = pass_ratio(results, 3000, 150, "pcpi", "requests", "cpu")
            line(cr <= 0.9, f"W=150 client CPU/call vs requests floor {cr:.2f}× "
                            f"(passes {lo:.2f}–{hi:.2f}); target ≤ 0.9×")
        conns = max(r["connections"] for r in group(results, 3000, 150, "pcpi"))
        line(conns <= 150, f"W=150 connections opened by pcpi: at most {conns}; target ≤ 150")
        if "pcpi-1.0.1" in clients:
            sp, lo, hi = pass_ratio(results, 3000, 150, "pcpi-1.0.1", "pcpi")
            line(sp >= 3.5, f"W=150 speed-up over 1.0.1 {sp:.2f}× (passes {lo:.2f}–{hi:.2f}); "
                            f"target ≥ 3.5×")
            sp, lo, hi = pass_ratio(results, 200, 1, "pcpi-1.0.1", "pcpi")
            line(sp >= 1.5, f"W=1 speed-up over 1.0.1 {sp:.2f}× (passes {lo:.2f}–{hi:.2f}); "
                            f"target ≥ 1.5×")
        for other in sorted(c for c in clients if c.startswith("pcpi@")):
            for key, what in (("wall", "wall"), ("cpu", "client CPU")):
                r, lo, hi = pass_ratio(results, 3000, 150, "pcpi", other, key)
                out.append(f"- INFO: W=150 {what}, this pcpi vs {LABEL[other]}: {r:.3f}× "
                           f"(passes {lo:.3f}–{hi:.3f}); goal: no worse than noise")
        if "pcpi-nopace" in clients:
            for key, what in (("wall", "wall"), ("cpu", "client CPU")):
                r, lo, hi = pass_ratio(results, 3000, 150, "pcpi", "pcpi-nopace", key)
                out.append(f"- INFO: W=150 {what}, pacing on vs off: {r:.3f}× "
                           f"(passes {lo:.3f}–{hi:.3f}); goal: no measurable cost")
    elif name in ("S2", "S2H", "S4"):
        g = [r for r in results if r["client"] == "pcpi"]
        failed = max(r["failed"] for r in g)
        wb = med([r["wall"] / r["bound"] for r in g])
        line(failed == 0, f"pcpi failed calls: {failed} (worst pass); target 0")
        if name == "S4":
            line(wb <= 2.0, f"pcpi wall/bound {wb:.2f} (median); target ≤ 2.0")
        else:
            if name == "S2":
                line(wb <= 1.25, f"pcpi wall/bound {wb:.2f} (median); target ≤ 1.25")
            line(wb <= 1.05, f"pcpi wall/bound {wb:.2f} (median); target with pacing ≤ 1.05")
            share = max(r["s429"] / r["n"] for r in g)
            line(share <= 0.02, f"pcpi 429s {share:.1%} of calls (worst pass); target ≤ 2%")
            off = [r for r in results if r["client"] == "pcpi-nopace"]
            if off:
                out.append(f"- INFO: pacing off: wall/bound "
                           f"{med([r['wall'] / r['bound'] for r in off]):.2f}, 429s "
                           f"{med([r['s429'] / r['n'] for r in off]):.1%} of calls, failed "
                           f"{max(r['failed'] for r in off)}")
    elif name == "FO":
        for client, what in (("pcpi-fanout", "fan_out"),
                             ("pcpi-fanout-ckpt", "fan_out with a checkpoint")):
            if {client, "pcpi"} <= clients:
                wr, lo, hi = pass_ratio(results, 3000, 150, client, "pcpi")
                cr, clo, chi = pass_ratio(results, 3000, 150, client, "pcpi", "cpu")
                if client == "pcpi-fanout":
                    line(wr <= 1.05, f"{what} wall vs the bare loop {wr:.3f}× (passes "
                                     f"{lo:.3f}–{hi:.3f}); target ≤ 1.05×")
                    line(cr <= 1.10, f"{what} client CPU/call vs the bare loop {cr:.3f}× "
                                     f"(passes {clo:.3f}–{chi:.3f}); target ≤ 1.10×")
                else:
                    out.append(f"- INFO: {what} vs the bare loop: wall {wr:.3f}× (passes "
                               f"{lo:.3f}–{hi:.3f}), client CPU/call {cr:.3f}× (passes "
                               f"{clo:.3f}–{chi:.3f})")
    elif name in ("S3", "S3F"):
        g = [r for r in results if r["client"] == "pcpi"]
        failed = max(r["failed"] for r in g)
        line(failed == 0, f"pcpi failed calls: {failed} (worst pass); target 0")
        auth = sorted({e for r in g for e in r["errors"]
                       if e in ("AuthorizationError", "LoginError", "CredentialsRejectedError")})
        line(not auth, f"pcpi authentication errors: {', '.join(auth) or 'none'}; target none")
        worst = max(g, key=lambda r: r["logins"] - math.ceil(r["wall"] / 1.0))
        expiries = math.ceil(worst["wall"] / 1.0)
        line(worst["logins"] <= expiries + 1,
             f"pcpi logins+extends {worst['logins']} in a {worst['wall']:.2f} s run with a 1 s "
             f"token (≤ {expiries} expiries); target ≤ expiries + 1")
    return out


# ---------------------------------------------------------------------- plot
def plot(clients, repeat: int, max_seconds: float, path: str) -> Optional[List[dict]]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no plot", flush=True)
        return None
    results = run_scenario("S1", clients, repeat, max_seconds, runs=PLOT_RUNS)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for client in clients:
        ws, rates = [], []
        for n, w in PLOT_RUNS:
            g = group(results, n, w, client)
            if g:
                ws.append(w)
                rates.append(med([r["done"] / r["wall"] for r in g]))
        ax.plot(ws, rates, marker="o", label=LABEL[client])
    ideal = [w / (S1_TENANT["latency"] + S1_TENANT["rtt"]) for _, w in PLOT_RUNS]
    ax.plot([w for _, w in PLOT_RUNS], ideal, linestyle=":", color="grey",
            label="bound W / (latency + RTT)")
    ax.set_xlabel("workers (W)")
    ax.set_ylabel("calls per second")
    ax.set_yscale("log")
    ax.set_title("GET /cloud fan-out, latency 50 ms, RTT 20 ms (median of passes)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot written to {os.path.relpath(path, ROOT)}", flush=True)
    return results


# ---------------------------------------------------------------------- BENCHMARKS.md
def rewrite_section(doc: str, key: str, body: str) -> str:
    start, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    block = f"{start}\n{body}\n{end}"
    if pattern.search(doc):
        return pattern.sub(lambda _m: block, doc)
    return doc.rstrip() + "\n\n" + block + "\n"


def write_section(key: str, body: str) -> None:
    """Rewrite the ``key`` section of BENCHMARKS.md with ``body``."""
    path = os.path.join(ROOT, "BENCHMARKS.md")
    with open(path) as fh:
        doc = fh.read()
    with open(path, "w") as fh:
        fh.write(rewrite_section(doc, key, body))
    print(f"rewrote the {key} section of BENCHMARKS.md")


def machine() -> str:
    return (f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{datetime.date.today().isoformat()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", choices=sorted(SCENARIOS), action="append")
    ap.add_argument("--all", action="store_true", help="S1-S4 (S3F too) and the plot")
    ap.add_argument("--clients", help="comma-separated, from: " + ", ".join(LABEL)
                    + ", pcpi@REV (pcpi at a git revision; default: the first four plus "
                      "each scenario's extras)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved passes per run")
    ap.add_argument("--max-seconds", type=float, default=150,
                    help="stop a client run after this long and count what is left as failed")
    ap.add_argument("--pcpi-options", type=json.loads, default=None,
                    help='JSON keyword options for this pcpi\'s manager, e.g. '
                         '\'{"retry_policy": {"server_error_backoff": {"initial": 1}}}\'')
    ap.add_argument("--write", action="store_true", help="rewrite the tables in BENCHMARKS.md")
    ap.add_argument("--json", help="also write raw results to this file")
    args = ap.parse_args()
    clients = [c for c in (args.clients or ",".join(CLIENTS)).split(",") if c]
    for client in clients:  # pcpi at a git revision, side by side with this tree
        if client.startswith("pcpi@"):
            LABEL[client] = f"pcpi at {client[5:]}"
    unknown = set(clients) - set(LABEL)
    if unknown:
        ap.error(f"unknown client(s): {', '.join(sorted(unknown))}")
    if "pcpi-1.0.1" in clients:
        ensure_pcpi101()
    names = ["S1", "S2", "S2H", "S3", "S3F", "S4"] if args.all else (args.scenario or ["S1"])
    sections: Dict[str, str] = {}
    raw = []
    all_ok = True
    for name in names:
        results = run_scenario(name, clients, args.repeat, args.max_seconds,
                               extra=not args.clients, pcpi_options=args.pcpi_options)
        raw += results
        verdict = targets(name, results)
        all_ok &= not any("MISS" in v for v in verdict)
        body = (f"{SCENARIOS[name]['title']}; {machine()}; medians of {args.repeat} "
                f"interleaved passes.\n\n" + table(results) + "\n\n" + "\n".join(verdict))
        print("\n" + body, flush=True)
        sections[name] = body
    if args.all:
        png = os.path.join(HERE, "calls_per_second.png")
        plotted = plot([c for c in clients if c in CLIENTS], 1, args.max_seconds, png)
        if plotted:
            raw += plotted
            sections["PLOT"] = (f"![calls/s against workers](benchmarks/calls_per_second.png)\n\n"
                                f"{machine()}; one pass per point.\n\n" + table(plotted))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(raw, fh, indent=1)
    if args.write:
        path = os.path.join(ROOT, "BENCHMARKS.md")
        doc = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
        for key, body in sections.items():
            doc = rewrite_section(doc, key, body)
        with open(path, "w") as fh:
            fh.write(doc)
        print(f"\nrewrote {len(sections)} section(s) of BENCHMARKS.md", flush=True)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
