"""Paging 200,000 alerts of about 1 KB: items per second and peak RSS growth.

Side by side in one run, each client in a fresh process of its own:

* ``pcpi stream``: ``for alert in cspm.paginate("POST", "/v2/alert", json=...)``,
  one page in memory at a time;
* ``collect all``: the loop scripts write today, ``cspm.request`` page after page
  with every alert appended to one list;
* ``prismacloud-api``: its ``alert_v2_list_read()`` (``execute(paginated=True)``,
  which returns every alert in one list), installed at run time into a scratch
  virtual environment outside this repository (never committed).

The fake tenant runs in its own process (``FakeTenant.spawn``), pinned to its own
CPU where the OS allows, and serves ``POST /v2/alert`` pages of up to 10,000
(the documented cap, which both pcpi and prismacloud-api's default page size use).
Every client checks each alert id against the one expected at its place; the
order of the clients rotates from pass to pass.
Peak RSS growth is the process's peak resident memory while paging (``VmHWM``,
reset after login) minus its resident memory after login.

    python benchmarks/paging.py                  # 5 interleaved passes
    python benchmarks/paging.py --write          # also rewrites the PAGING table in BENCHMARKS.md
    python benchmarks/paging.py --items 20000 --passes 1   # a quick look
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CLIENTS = ("pcpi stream", "collect all", "prismacloud-api")
SCRATCH = os.path.join(tempfile.gettempdir(), "pcpi-bench-prismacloud-api")
WINDOW = {"timeRange": {"type": "relative", "value": {"amount": 30, "unit": "day"}},
          "filters": [{"name": "alert.status", "operator": "=", "value": "open"}]}


# ---------------------------------------------------------------------- in the client process
def _status_kib(field: str) -> Optional[int]:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Start VmHWM afresh (Linux: "5" to clear_refs), so the peak is the paging's."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_kib() -> int:
    peak = _status_kib("VmHWM")
    if peak is None:  # (no /proc: the process's peak, which may be the import's)
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak


class Checker:
    """Counts alerts and checks each id is the one expected at its place."""

    def __init__(self) -> None:
        self.count = 0
        self.wrong = 0

    def __call__(self, alert: Dict[str, Any]) -> None:
        if alert.get("id") != f"P-{self.count:07d}":
            self.wrong += 1
        self.count += 1


_KEPT: List[Any] = []


def _pcpi_session(cfg: dict):
    sys.path.insert(0, ROOT)
    import logging

    from pcpi.saas_session_manager import SaaSSessionManager
    from pcpi.testing import SAAS_HOST, bypass_proxies, resolve_to_loopback

    for context in (resolve_to_loopback(SAAS_HOST), bypass_proxies("127.0.0.1", SAAS_HOST)):
        context.__enter__()
        _KEPT.append(context)  # (for the life of this process)
    quiet = logging.getLogger("bench")
    quiet.setLevel(logging.WARNING)
    m = SaaSSessionManager("bench", cfg["access_key"], cfg["secret_key"], cfg["saas_url"],
                           verify=cfg["ca_path"], logger=quiet)
    return m.create_cspm_session()


def child(cfg: dict) -> dict:
    if cfg.get("cpu") is not None and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {cfg["cpu"]})
        except OSError:
            pass
    client, size = cfg["client"], cfg["page_size"]
    check = Checker()
    if client == "prismacloud-api":
        from prismacloud.api import pc_api  # the scratch environment's

        pc_api.configure({"url": cfg["url"], "identity": cfg["access_key"],
                          "secret": cfg["secret_key"], "verify": cfg["ca_path"]},
                         use_meta_info=False)
        # It takes a URL with a port for a Compute console; the CSPM API is
        # addressed by host:port directly.
        pc_api.api = cfg["url"].split("://", 1)[1]
        pc_api.login()
    else:
        session = _pcpi_session(cfg)
    baseline = _status_kib("VmRSS") or 0
    exact_peak = _reset_peak()
    t0 = time.perf_counter()
    if client == "pcpi stream":
        for alert in session.paginate("POST", "/v2/alert", json=WINDOW, page_size=size):
            check(alert)
    elif client == "collect all":
        alerts: List[Any] = []
        body: Dict[str, Any] = dict(WINDOW, limit=size)
        while True:
            page = session.request("POST", "/v2/alert", json=body).json()
            alerts.extend(page["items"])
            if not page["items"] or not page.get("nextPageToken"):
                break
            body = {"pageToken": page["nextPageToken"], "limit": size}
        for alert in alerts:
            check(alert)
    else:
        every = pc_api.alert_v2_list_read(body_params=dict(WINDOW, limit=size))
        for alert in every:
            check(alert)
    elapsed = time.perf_counter() - t0
    peak = _peak_kib()
    return {"client": client, "items": check.count, "wrong": check.wrong,
            "seconds": round(elapsed, 3), "items_per_s": round(check.count / elapsed),
            "baseline_mib": round(baseline / 1024, 1),
            "growth_mib": round(max(0, peak - baseline) / 1024, 1), "exact_peak": exact_peak}


# ---------------------------------------------------------------------- in the benchmark process
def scratch_python() -> str:
    """A virtual environment outside the repository with prismacloud-api in it."""
    python = os.path.join(SCRATCH, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", SCRATCH], check=True)
    probe = subprocess.run([python, "-c", "import prismacloud.api"], capture_output=True)
    if probe.returncode != 0:  # (it declares no dependencies; these are what it imports)
        subprocess.run([python, "-m", "pip", "install", "-q", "prismacloud-api", "requests",
                        "update_checker"],
                       check=True)
    return python


def version_of(python: str, dist: str) -> str:
    out = subprocess.run([python, "-c", f"import importlib.metadata as m; "
                                        f"print(m.version({dist!r}))"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "?"


def run_client(python: str, cfg: dict) -> dict:
    env = dict(os.environ, NO_PROXY="127.0.0.1,localhost,api.fake.prismacloud.io",
               no_proxy="127.0.0.1,localhost,api.fake.prismacloud.io")
    with tempfile.TemporaryDirectory() as cwd:  # (prismacloud-api may write error.log)
        out = subprocess.run([python, os.path.abspath(__file__), "--child", json.dumps(cfg)],
                             capture_output=True, text=True, cwd=cwd, env=env, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"{cfg['client']} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def cpu_plan():
    if not hasattr(os, "sched_getaffinity"):
        return None, None, "not pinned (no sched_setaffinity on this OS)"
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None, "not pinned (one CPU available)"
    return cpus[-1], cpus[0], f"fake tenant pinned to CPU {cpus[-1]}, clients to CPU {cpus[0]}"


def table(rows: List[dict], items: int, size: int, passes: int, plan: str,
          versions: Dict[str, str]) -> str:
    by: Dict[str, List[dict]] = {}
    for row in rows:
        by.setdefault(row["client"], []).append(row)
    med = {c: {k: statistics.median(r[k] for r in rs) for k in ("items_per_s", "growth_mib",
                                                               "seconds")}
           for c, rs in by.items()}
    base = med.get("pcpi stream")
    stream = {r["pass"]: r for r in by.get("pcpi stream", [])}

    def ratios(client: str, key: str) -> List[float]:  # within each pass
        return [r[key] / stream[r["pass"]][key] for r in by[client]
                if r["pass"] in stream and stream[r["pass"]][key]]
    today = datetime.date.today().isoformat()
    lines = [f"{items:,} alerts of about 1 KB, `POST /v2/alert` pages of {size:,}; "
             f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
             f"{platform.python_version()}, {today}; {plan}; medians of {passes} interleaved "
             f"passes, the clients' order rotating (command: `python benchmarks/paging.py "
             f"--write`).", "",
             "| client | items/s | seconds | peak RSS growth MiB | items/s vs stream "
             "(per pass) | RSS growth vs stream | every id in place |",
             "|---|---|---|---|---|---|---|"]
    for client in CLIENTS:
        if client not in med:
            continue
        m = med[client]
        label = client if client != "prismacloud-api" else \
            f"prismacloud-api {versions.get('prismacloud-api', '')}".strip()
        ok = all(r["items"] == items and r["wrong"] == 0 for r in by[client])
        speed = grow = "—"
        if base:
            fast, big = ratios(client, "items_per_s"), ratios(client, "growth_mib")
            speed = f"{statistics.median(fast):.2f}× ({min(fast):.2f}–{max(fast):.2f})"
            grow = f"{statistics.median(big):.1f}×" if big else "—"
        lines.append(f"| {label} | {m['items_per_s']:,.0f} | {m['seconds']:.1f} | "
                     f"{m['growth_mib']:.1f} | {speed} | {grow} | {'yes' if ok else 'NO'} |")
    spread = {c: (min(r["growth_mib"] for r in rs), max(r["growth_mib"] for r in rs))
              for c, rs in by.items()}
    lines += ["", "RSS growth per pass (min–max MiB): " + "; ".join(
        f"{c} {lo:.1f}–{hi:.1f}" for c, (lo, hi) in spread.items()) + "."]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=200_000)
    ap.add_argument("--page-size", type=int, default=10_000)
    ap.add_argument("--passes", type=int, default=5)
    ap.add_argument("--clients", default=",".join(CLIENTS))
    ap.add_argument("--write", action="store_true", help="rewrite the PAGING table")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    sys.path.insert(0, ROOT)
    from pcpi.testing import FakeTenant

    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    pythons = {c: sys.executable for c in clients}
    versions = {}
    if "prismacloud-api" in clients:
        pythons["prismacloud-api"] = scratch_python()
        versions["prismacloud-api"] = version_of(pythons["prismacloud-api"], "prismacloud-api")
    server_cpu, client_cpu, plan = cpu_plan()
    rows = []
    with FakeTenant.spawn(cpu=server_cpu, alerts=args.items, item_bytes=1024) as tenant:
        for n in range(args.passes):
            for client in clients[n % len(clients):] + clients[:n % len(clients)]:  # (rotated)
                cfg = {"client": client, "url": tenant.url, "saas_url": tenant.saas_url,
                       "ca_path": tenant.ca_path, "access_key": tenant.access_key,
                       "secret_key": tenant.secret_key, "page_size": args.page_size,
                       "cpu": client_cpu}
                row = dict(run_client(pythons[client], cfg), **{"pass": n})
                rows.append(row)
                print(f"pass {n + 1} {client:16} {row['items']:>8,} items "
                      f"({row['wrong']} out of place) {row['seconds']:6.1f} s "
                      f"{row['items_per_s']:>8,}/s  RSS +{row['growth_mib']:.1f} MiB "
                      f"(after login {row['baseline_mib']} MiB)", flush=True)
    text = table(rows, args.items, args.page_size, args.passes, plan, versions)
    print("\n" + text)
    if args.write:
        sys.path.insert(0, HERE)
        from fanout import write_section

        write_section("PAGING", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
