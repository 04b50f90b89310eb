"""``pcpi paginate -o FILE``: does its memory stay flat as the export grows?

Side by side in one run, each export in a fresh process of its own, against a fake
tenant in its own process (alerts padded to about 1 KB, ``POST /v2/alert`` pages of
10,000, the documented cap):

* ``pcpi csv`` / ``pcpi jsonl``: the command line, ``pcpi paginate POST /v2/alert
  -o alerts.csv`` (or ``.jsonl``), which writes each page as it arrives;
* ``list, then write``: what a script copied from a repository does, every alert
  collected in a list (``list(session.paginate(...))``), then ``json.dump`` to a file.

Each export runs at two sizes, the second ten times the first (``--max-items``),
and the report gives each one's peak resident memory (the process's ``VmHWM``,
imports included; Linux) and the ratio between the sizes: about 1 for an export whose
memory is flat, about 10 for one that holds every row.  Every output is read back
and each alert id checked at its place.

    python benchmarks/cli_export.py                 # 3 interleaved passes
    python benchmarks/cli_export.py --write         # also rewrites the CLI table in BENCHMARKS.md
    python benchmarks/cli_export.py --items 2000 20000 --passes 1   # a quick look
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from pcpi.testing import FakeTenant  # noqa: E402

CLIENTS = ("pcpi csv", "pcpi jsonl", "list, then write")
WINDOW = '{"timeRange": {"type": "relative", "value": {"amount": 30, "unit": "day"}}}'

# The child: the fake tenant's host name resolved to 127.0.0.1, then the command
# line (argv) or the collecting script (argv[1] == "--collect").
CHILD = """
import atexit, json, os, sys
def _peak():  # VmHWM: this process's own peak (ru_maxrss would count the forked parent's)
    with open("/proc/self/status") as fh:
        peak = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    with open(os.environ["PCPI_BENCH_PEAK"], "w") as fh:
        fh.write(peak)
atexit.register(_peak)
from pcpi.testing import SAAS_HOST, bypass_proxies, resolve_to_loopback
kept = [resolve_to_loopback(SAAS_HOST), bypass_proxies("127.0.0.1", SAAS_HOST)]
for context in kept:  # (for the life of the process: kept, or closed when collected)
    context.__enter__()
if sys.argv[1] == "--collect":
    import logging
    from pcpi import session_loader
    logging.getLogger("pcpi").setLevel(logging.WARNING)
    cfg, out, limit = sys.argv[2], sys.argv[3], int(sys.argv[4])
    session = session_loader.load_config(file_path=cfg)[0].create_cspm_session()
    items = list(session.paginate("POST", "/v2/alert", json=json.loads(sys.argv[5]),
                                  max_items=limit))
    with open(out, "w") as fh:
        json.dump(items, fh)
else:
    from pcpi.cli import main
    sys.exit(main(sys.argv[1:]))
"""


def run(cmd: List[str], folder: str) -> Dict[str, float]:
    """Run one export; its seconds and peak RSS (MiB)."""
    peak = os.path.join(folder, "peak")
    t0 = time.perf_counter()
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=dict(os.environ, PCPI_BENCH_PEAK=peak))
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[3:]} failed ({out.returncode}): {out.stderr[-2000:]!r}")
    with open(peak) as fh:
        return {"seconds": seconds, "peak_mib": int(fh.read()) / 1024}


def ids_in_place(path: str, client: str, count: int) -> bool:
    """Every alert id of the export, each at its place."""
    expected = (f"P-{i:07d}" for i in range(count))
    with open(path, encoding="utf-8", newline="") as fh:
        if client == "pcpi csv":
            rows = csv.reader(fh)
            next(rows)
            got = (row[0] for row in rows)
        elif client == "pcpi jsonl":
            got = (json.loads(line)["id"] for line in fh)
        else:
            got = (item["id"] for item in json.load(fh))
        seen = 0
        for a, b in zip(got, expected):
            if a != b:
                return False
            seen += 1
    return seen == count


def one(client: str, size: int, creds: str, folder: str) -> Dict[str, float]:
    out = os.path.join(folder, {"pcpi csv": "alerts.csv", "pcpi jsonl": "alerts.jsonl"}.get(
        client, "alerts.json"))
    if client.startswith("pcpi"):
        cmd = [sys.executable, "-c", CHILD, "-q", "--config", creds, "paginate", "POST",
               "/v2/alert", "--json", WINDOW, "--max-items", str(size), "-o", out]
    else:
        cmd = [sys.executable, "-c", CHILD, "--collect", creds, out, str(size), WINDOW]
    result = run(cmd, folder)
    result["in_place"] = ids_in_place(out, client, size)
    result["items_per_s"] = size / result["seconds"]
    os.remove(out)
    return result


def table(rows: List[dict], sizes: List[int], passes: int) -> str:
    def med(client: str, size: int, key: str) -> float:
        return statistics.median(r[key] for r in rows if r["client"] == client and
                                 r["size"] == size)
    small, large = sizes
    lines = [f"`POST /v2/alert`, alerts of about 1 KB, pages of 10,000; {platform.machine()}, "
             f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
             f"{datetime.date.today().isoformat()}; medians of {passes} interleaved passes "
             f"(command: `python benchmarks/cli_export.py --write`).", "",
             f"| export | peak RSS, {small:,} items (MiB) | peak RSS, {large:,} items (MiB) | "
             f"ratio | items/s at {large:,} | every id in place |",
             "|---|---|---|---|---|---|"]
    for client in CLIENTS:
        a, b = med(client, small, "peak_mib"), med(client, large, "peak_mib")
        ok = all(r["in_place"] for r in rows if r["client"] == client)
        lines.append(f"| {client} | {a:.1f} | {b:.1f} | {b / a:.2f}× | "
                     f"{med(client, large, 'items_per_s'):,.0f} | {'yes' if ok else 'NO'} |")
    return "\n".join(lines)


def write(text: str) -> None:
    path = os.path.join(ROOT, "BENCHMARKS.md")
    with open(path, encoding="utf-8") as fh:
        doc = fh.read()
    start, end = "<!-- bench:CLI -->", "<!-- /bench:CLI -->"
    head, rest = doc.split(start, 1)
    tail = rest.split(end, 1)[1]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"{head}{start}\n{text}\n{end}{tail}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs=2, default=[20_000, 200_000],
                        metavar=("SMALL", "LARGE"))
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    rows: List[dict] = []
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    with FakeTenant.spawn(cpu=cpus[-1] if len(cpus) > 1 else None, alerts=max(args.items),
                          item_bytes=1024) as tenant, tempfile.TemporaryDirectory() as folder:
        creds = tenant.write_credentials(os.path.join(folder, "creds.json"))
        for n in range(args.passes):
            order = CLIENTS[n % 3:] + CLIENTS[:n % 3]
            for size in args.items:
                for client in order:
                    result = one(client, size, creds, folder)
                    rows.append(dict(result, client=client, size=size))
                    print(f"pass {n + 1}: {client:>16} {size:>8,} items: "
                          f"{result['peak_mib']:7.1f} MiB peak, {result['seconds']:5.1f} s, "
                          f"ids in place: {result['in_place']}", flush=True)
    text = table(rows, args.items, args.passes)
    print("\n" + text)
    if args.write:
        write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
