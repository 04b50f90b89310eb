"""One benchmark client in its own process (started by benchmarks/fanout.py).

Reads a JSON config from argv[1], builds the client (logging in), makes one
warm-up call, prints ``READY`` and waits for ``GO`` on stdin, then sends
``GET /cloud`` N times through ThreadPoolExecutor(W) (a plain loop for W=1; the
pcpi-fanout clients: ``pcpi.fan_out``) and prints one JSON line of results:
wall time, CPU from getrusage, failures, time spent sleeping (backoff).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import resource
import ssl
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_slept = [0.0]
_paced = [0.0]  # the part of _slept that was pacing, not backoff
_slept_lock = threading.Lock()
_real_sleep = time.sleep


def _counting_sleep(seconds: float) -> None:
    with _slept_lock:
        _slept[0] += seconds
    _real_sleep(seconds)


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def build(cfg: dict):
    """Returns a function doing one GET /cloud and returning the status code."""
    kind, url, ca = cfg["client"], cfg["url"], cfg["ca_path"]
    ak, sk = cfg["access_key"], cfg["secret_key"]
    if kind in ("pcpi", "pcpi-nopace", "pcpi-1.0.1", "pcpi-fanout", "pcpi-fanout-ckpt") or \
            kind.startswith("pcpi@"):
        root = cfg["pcpi101_dir"] if kind == "pcpi-1.0.1" else cfg.get("tree") or ROOT
        sys.path.insert(0, root)
        import pcpi.saas_session_manager as m
        from pcpi.saas_session_manager import SaaSSessionManager

        assert os.path.dirname(m.__file__) == os.path.join(root, "pcpi"), m.__file__
        ours = kind != "pcpi-1.0.1"  # this pcpi, or pcpi 1.1 at a git revision
        options = dict(cfg.get("pcpi_options") or {}) if ours else {}
        if ours:
            from pcpi._pacing import Pacer

            take = Pacer.take

            def counted(self, key):
                wait, taken = take(self, key)
                if wait > 0:
                    with _slept_lock:
                        _paced[0] += wait
                return wait, taken
            Pacer.take = counted
        if kind == "pcpi-nopace":
            options["pacing"] = False
        if "retry_policy" in options:  # {"backoff": {"initial": 1}, ...} from --pcpi-options
            from pcpi import Backoff, RetryPolicy

            options["retry_policy"] = RetryPolicy(**{
                k: Backoff(**v) if isinstance(v, dict) else v
                for k, v in options["retry_policy"].items()})
        manager = SaaSSessionManager("bench", ak, sk, url, verify=ca, **options)
        # 1.0.1 logs every call at DEBUG/INFO; both pcpis run with warnings only.
        logging.getLogger("pcpi").setLevel(logging.WARNING)
        cspm = manager.create_cspm_session()
        return lambda: cspm.request("GET", "/cloud").status_code
    if kind == "requests":
        import requests
        from requests.adapters import HTTPAdapter

        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=200, pool_maxsize=200)
        session.mount("https://", adapter)
        for _ in range(20):  # the login may meet an injected fault too
            res = session.post(f"{url}/login", json={"username": ak, "password": sk},
                               verify=ca, timeout=30)
            if res.status_code == 200:
                break
            time.sleep(0.2)
        token = res.json()["token"]
        headers = {"x-redlock-auth": token, "content-type": "application/json; charset=UTF-8"}
        target = f"{url}/cloud"
        return lambda: session.get(target, headers=headers, verify=ca,
                                   timeout=(10, 180)).status_code
    if kind == "http.client":
        ctx = ssl.create_default_context(cafile=ca)
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
        local = threading.local()

        def conn() -> http.client.HTTPSConnection:
            c = getattr(local, "conn", None)
            if c is None:
                c = local.conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=180)
            return c

        c = conn()
        for _ in range(20):  # the login may meet an injected fault too
            c.request("POST", "/login", body=json.dumps({"username": ak, "password": sk}),
                      headers={"Content-Type": "application/json"})
            res = c.getresponse()
            body = res.read()
            if res.status == 200:
                break
            time.sleep(0.2)
        token = json.loads(body)["token"]
        headers = {"x-redlock-auth": token}

        def call() -> int:
            c = conn()
            try:
                c.request("GET", "/cloud", headers=headers)
                res = c.getresponse()
                res.read()
                return res.status
            except (OSError, http.client.HTTPException):
                local.conn = None
                raise
        return call
    raise SystemExit(f"unknown client {kind}")


def main() -> int:
    cfg = json.loads(sys.argv[1])
    pinned = None
    if cfg.get("cpu") is not None and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {cfg["cpu"]})
            pinned = cfg["cpu"]
        except OSError:
            pinned = None
    time.sleep = _counting_sleep  # before any client module binds it
    call = build(cfg)
    call()  # warm-up: the login and first connection are not measured
    print("READY", flush=True)
    if sys.stdin.readline().strip() != "GO":
        return 2
    n, w, limit = cfg["calls"], cfg["workers"], cfg.get("max_seconds", 300)
    codes: list = []
    errors: list = []

    def one(_: int) -> None:
        try:
            codes.append(call())
        except BaseException as exc:  # SystemExit from 1.0.1's exit() included
            errors.append(type(exc).__name__)

    slept0, paced0 = _slept[0], _paced[0]
    cpu0 = _cpu()
    t0 = time.perf_counter()
    finished = True
    if cfg["client"].startswith("pcpi-fanout"):
        # the same calls through pcpi.fan_out instead of the bare loop below
        # (its checkpoint, for -ckpt, on the disk this repository is on)
        from pcpi import fan_out

        options = {}
        if cfg["client"] == "pcpi-fanout-ckpt":
            os.makedirs(os.path.join(ROOT, "benchmarks", ".cache"), exist_ok=True)
            options["checkpoint"] = os.path.join(ROOT, "benchmarks", ".cache",
                                                 f"fanout-{os.getpid()}.db")
        result = fan_out(lambda _i: call(), range(n), workers=w, **options)
        codes = [r for r in result.results if r is not None]
        errors = [type(exc).__name__ for _item, exc in result.failures]
        for path in [options.get("checkpoint", "")] * bool(options):
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
    elif w == 1:
        deadline = t0 + limit
        for i in range(n):
            one(i)
            if time.perf_counter() > deadline:
                finished = False
                break
    else:
        pool = ThreadPoolExecutor(w)
        futures = [pool.submit(one, i) for i in range(n)]
        _done, pending = wait(futures, timeout=limit)
        finished = not pending
        for f in pending:
            f.cancel()
        if finished:
            pool.shutdown(wait=True)
    wall = time.perf_counter() - t0
    cpu = _cpu() - cpu0
    ok = sum(1 for c in codes if c == 200)
    result = {"wall": wall, "cpu": cpu, "ok": ok, "done": len(codes) + len(errors),
              "failed": n - ok, "errors": sorted(set(errors)),
              "statuses": sorted(set(codes)), "slept": _slept[0] - slept0 - (_paced[0] - paced0),
              "paced": _paced[0] - paced0,
              "finished": finished, "cpu_pinned": pinned}
    print(json.dumps(result), flush=True)
    if not finished:
        os._exit(0)  # threads still sleeping in a backoff: do not wait for them
    return 0


if __name__ == "__main__":
    sys.exit(main())
