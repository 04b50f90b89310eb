"""Is the fake tenant fast enough to measure a client?

A bare ``requests.Session`` (HTTPAdapter pool 200) sends N calls of ``GET /cloud``
from W threads to a fake tenant in its own process with service latency L.  The
best any client can do is N x L / W; the fake tenant is good enough when this
floor finishes within 1.2x of that bound.

    python benchmarks/tenant_floor.py [--calls 3000] [--workers 100] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import http.client
import os
import ssl
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from requests.adapters import HTTPAdapter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pcpi.testing import FakeTenant  # noqa: E402


def _proc_cpu(pid: int) -> float:
    """User+system CPU seconds of another process (Linux), 0.0 elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--workers", type=int, default=100)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--trust-env", action="store_true",
                    help="let requests re-read proxy/CA settings from the environment on "
                         "every call (its default; costs client CPU, not server time)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin server and client")
    ap.add_argument("--client", choices=("requests", "http.client", "both"), default="both",
                    help="requests.Session (pool 200) and/or stdlib http.client, one "
                         "keep-alive connection per thread")
    args = ap.parse_args()

    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu = cpus[-1] if len(cpus) > 1 and not args.no_pin else None
    if server_cpu is not None:
        os.sched_setaffinity(0, set(cpus[:-1]))
    bound = args.calls * args.latency / args.workers
    with FakeTenant.spawn(latency=args.latency, cpu=server_cpu) as tenant:
        print(f"server pid {tenant.info['pid']} on cpu {tenant.info['cpu']}, "
              f"client on cpus {sorted(os.sched_getaffinity(0)) if cpus else '?'}")
        verdicts = []
        clients = ("requests", "http.client") if args.client == "both" else (args.client,)
        for client in clients:
            ratios = []
            for run in range(args.repeat):
                wall, cpu, scpu, ok, st = _run(client, tenant, args)
                ratios.append(wall / bound)
                print(f"{client:>11} run {run + 1}: {args.calls} calls, W={args.workers}, "
                      f"latency {args.latency * 1000:.0f} ms: wall {wall:.3f} s, bound "
                      f"{bound:.3f} s, wall/bound {wall / bound:.3f}, ok {ok}, connections "
                      f"{st['connections_accepted']}, client CPU "
                      f"{cpu / args.calls * 1e6:.0f} us/call, server CPU "
                      f"{scpu / args.calls * 1e6:.0f} us/call ({scpu / wall:.0%} of a core)")
            med = sorted(ratios)[len(ratios) // 2]
            verdict = "PASS" if med <= 1.2 else "FAIL"
            verdicts.append(verdict)
            print(f"{client:>11}: wall/bound median {med:.3f} (min {min(ratios):.3f}, "
                  f"max {max(ratios):.3f}); target <= 1.2: {verdict}")
    return 0 if "PASS" in verdicts else 1


def _run(client: str, tenant, args):
    login = requests.post(f"{tenant.url}/login", verify=tenant.ca_path,
                          json={"username": tenant.access_key, "password": tenant.secret_key})
    token = login.json()["token"]
    headers = {"x-redlock-auth": token}
    if client == "requests":
        session = requests.Session()
        session.mount("https://", HTTPAdapter(pool_connections=200, pool_maxsize=200))
        session.verify = tenant.ca_path
        session.trust_env = args.trust_env
        url = f"{tenant.url}/cloud"

        def call(_):
            return session.get(url, headers=headers, verify=tenant.ca_path,
                               timeout=30).status_code
    else:
        ctx = ssl.create_default_context(cafile=tenant.ca_path)
        local = threading.local()
        port = tenant.port

        def call(_):
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPSConnection("127.0.0.1", port,
                                                                context=ctx, timeout=30)
            conn.request("GET", "/cloud", headers=headers)
            res = conn.getresponse()
            res.read()
            return res.status
    tenant.reset_stats()
    scpu0 = _proc_cpu(tenant.info["pid"])
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.workers) as pool:
        codes = list(pool.map(call, range(args.calls)))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    scpu = _proc_cpu(tenant.info["pid"]) - scpu0
    ok = sum(1 for c in codes if c == 200)
    return wall, cpu, scpu, ok, tenant.stats()


if __name__ == "__main__":
    sys.exit(main())
