"""Run a fake tenant in its own process.

``python -m pcpi.testing [--latency S] [--rtt S] [--settings JSON] [--cpu N]``
prints one JSON line (URLs, CA path, credentials, control URL) and serves until
interrupted.  The control URL takes ``POST /<op>`` with JSON keyword arguments
for the operations of :class:`pcpi.testing.FakeTenant` (``stats``,
``reset_stats``, ``configure``, ``fail_next`` ...).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List, Optional

from . import FakeTenant

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pcpi.testing", description=__doc__.split("\n\n")[0])
    p.add_argument("--latency", type=float, help="service time per API call, seconds")
    p.add_argument("--rtt", type=float, help="modelled round trip, seconds")
    p.add_argument("--token-lifetime", type=float, help="token validity, seconds")
    p.add_argument("--rate-limit", help="per-user token bucket RATE:BURST, e.g. 100:50")
    p.add_argument("--error-rate", type=float, help="probability of a 500/502/503")
    p.add_argument("--settings", default="{}", help="JSON object of TenantSettings fields")
    p.add_argument("--port", type=int, default=0, help="HTTPS port (default: any free port)")
    p.add_argument("--cpu", type=int, help="pin this process to one CPU")
    p.add_argument("--exit-with-parent", action="store_true",
                   help="stop when the process that started this one ends")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    settings = json.loads(args.settings)
    for name in ("latency", "rtt", "token_lifetime", "error_rate"):
        value = getattr(args, name)
        if value is not None:
            settings[name] = value
    if args.rate_limit:
        rate, _, burst = args.rate_limit.partition(":")
        settings["rate_limit"] = (float(rate), float(burst or rate))
    pinned = None
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {args.cpu})
            pinned = args.cpu
        except OSError:
            pinned = None

    tenant = FakeTenant(port=args.port, **settings).start()

    class Control(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server API
            length = int(self.headers.get("Content-Length") or 0)
            status, body = tenant.app.control(self.path.strip("/"), self.rfile.read(length))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    control.daemon_threads = True
    info = dict(tenant.info, pid=os.getpid(), cpu=pinned,
                control_url=f"http://127.0.0.1:{control.server_address[1]}")
    print(json.dumps(info), flush=True)

    stop = threading.Event()

    def on_signal(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threading.Thread(target=control.serve_forever, daemon=True).start()
    parent = os.getppid()
    while not stop.wait(0.5):
        if args.exit_with_parent and os.getppid() != parent:
            break
    control.shutdown()
    tenant.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
