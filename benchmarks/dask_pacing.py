"""Pacing across Dask worker processes: pcpi.fan_out on a LocalCluster of
2 processes x 25 threads against one user's 50/s limit (burst 10, one bucket
for all endpoints), on the fake tenant.  Each pass is a fresh run of
examples/dask_fanout.py (a new tenant, cluster and logins); reported: wall time
against the time the limit allows, and the share of requests answered 429.

    python benchmarks/dask_pacing.py [--repeat 3] [--calls 1000] [--write]
    python benchmarks/dask_pacing.py --before e73e6bc   # and pcpi at that revision, interleaved

Goal (issue 23): wall <= 1.10x the bound, <= 3% of requests answered 429.
Needs the dev extra (dask[distributed]).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from fanout import machine, tree_at, write_section  # noqa: E402

EXAMPLE = os.path.join(ROOT, "examples", "dask_fanout.py")


def one_pass(calls: int, processes: int, threads: int, scope: str, rev: str = "") -> dict:
    """One run of the example, with this pcpi or (``rev``) pcpi at that git revision
    (first on the path of the example and of the Dask workers it starts)."""
    env = dict(os.environ)
    if rev:
        env["PYTHONPATH"] = os.pathsep.join([tree_at(rev)] + env.get("PYTHONPATH", "").split(
            os.pathsep)).rstrip(os.pathsep)
    out = subprocess.run([sys.executable, EXAMPLE, "--json", "--calls", str(calls),
                          "--processes", str(processes), "--threads", str(threads),
                          "--scope", scope],
                         capture_output=True, text=True, timeout=600, env=env)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"examples/dask_fanout.py gave no figures:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--threads", type=int, default=25)
    ap.add_argument("--write", action="store_true", help="rewrite its section of BENCHMARKS.md")
    ap.add_argument("--before", default="", help="also pcpi at this git revision, interleaved")
    args = ap.parse_args()
    sections = [run(args, scope) for scope in ("user", "endpoint")]
    body = (f"{args.calls} calls, pcpi.fan_out on a Dask LocalCluster of {args.processes} "
            f"worker processes x {args.threads} threads against one user's 50/s burst 10; "
            f"{machine()}; {args.repeat} passes of each "
            f"(`python benchmarks/dask_pacing.py --repeat {args.repeat}"
            f"{' --before ' + args.before if args.before else ''} --write`), interleaved. The "
            f"workers log in during the run (first use), as a real job's do.\n\n"
            + "\n\n".join(sections))
    print("\n" + body)
    if args.write:
        write_section("DASK", body)
    return 0


def run(args: argparse.Namespace, scope: str) -> str:
    revs = ["", args.before] if args.before else [""]
    runs: dict = {rev: [] for rev in revs}
    for n in range(args.repeat):
        for rev in revs:
            r = one_pass(args.calls, args.processes, args.threads, scope, rev)
            runs[rev].append(r)
            print(f"{scope} pass {n + 1}{' pcpi at ' + rev if rev else ''}: wall "
                  f"{r['wall']:.2f} s = {r['wall_vs_bound']:.3f}x the bound "
                  f"({r['bound']:.2f} s), 429s {r['s429']} of {r['requests']} "
                  f"({r['share_429']:.1%}), logins {r['logins']}, failed {r['failed']}",
                  flush=True)
    return "\n\n".join(_section(scope, runs[rev], rev) for rev in revs)


def _section(scope: str, runs: list, rev: str) -> str:
    ratio = statistics.median(r["wall_vs_bound"] for r in runs)
    share = statistics.median(r["share_429"] for r in runs)
    rows = ["| pass | wall s | bound s | wall/bound | 429s | requests | 429 share | logins "
            "| failed |", "|---|---|---|---|---|---|---|---|---|"]
    rows += [f"| {i + 1} | {r['wall']:.2f} | {r['bound']:.2f} | {r['wall_vs_bound']:.3f} | "
             f"{r['s429']} | {r['requests']} | {r['share_429']:.1%} | {r['logins']} | "
             f"{r['failed']} |" for i, r in enumerate(runs)]
    verdict = [
        f"- {'PASS' if ratio <= 1.10 else 'MISS'}: wall {ratio:.3f}x the bound (median); "
        f"goal <= 1.10x",
        f"- {'PASS' if share <= 0.03 else 'MISS'}: {share:.1%} of requests answered 429 "
        f"(median); goal <= 3%"]
    what = ("**one bucket per user** (all endpoints, the workers' logins included), as "
            "Prisma Cloud documents it" if scope == "user" else
            "**one bucket per endpoint** (the logins draw on /login's own)")
    what += f", pcpi at {rev}" if rev else ", this pcpi"
    return f"{what}:\n\n" + "\n".join(rows) + "\n\n" + "\n".join(verdict)


if __name__ == "__main__":
    sys.exit(main())
