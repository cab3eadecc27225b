"""SP API latency while the SMS gateway answers, and while it hangs: notices handed
over in the request's thread (``senders=0``, how ``serve`` worked before) beside
background senders (``senders=2``, how it works now), in one run.

The SP API runs in waitress in this process on SQLite, with a ``KannelNotifier``
pointed at a stand-in smsbox on loopback that answers at once, or takes the
connection and never answers (the notifier gives up after ``--timeout`` seconds and
the outbox retries later). ``--clients`` threads each send ``--requests`` orders for
new subscribers, each one waiting for its answer before the next, as an SP's
platform does; the script prints the median, 95th percentile and slowest answer.

Run: .venv/bin/python benchmarks/hung_gateway.py [--clients 12] [--requests 10]
"""

from __future__ import annotations

import argparse
import http.server
import json
import logging
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import waitress

from vas_lifecycle import Lifecycle, SQLiteStore, SystemClock
from vas_lifecycle.gateways.kannel import KannelConfig, KannelNotifier
from vas_lifecycle.server import make_app
from vas_lifecycle.sp_keys import SpKeys
from vas_lifecycle.testing import demo_catalog

TOKEN = "benchmark-gateway-token"


@contextmanager
def smsbox(hang: threading.Event | None) -> Iterator[str]:
    """A stand-in smsbox: answers 202 at once, or (with ``hang`` unset) never."""

    class Box(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if hang is not None:
                hang.wait(120)
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Box)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/sendsms"
    finally:
        if hang is not None:
            hang.set()
        server.shutdown()
        server.server_close()


def measure(folder: Path, *, hung: bool, senders: int, args: argparse.Namespace) -> list[float]:
    """Seconds each SP order took to be answered."""
    hang = threading.Event() if hung else None
    with smsbox(hang) as url:
        store = SQLiteStore(folder / f"vas-{hung}-{senders}.db")
        config = KannelConfig(
            sendsms_url=url, username="vas", password="x", token=TOKEN, timeout=args.timeout
        )
        lc = Lifecycle(
            demo_catalog(),
            clock=SystemClock(),
            store=store,
            notifier=KannelNotifier(config),
            senders=senders,
        )
        keys = SpKeys(store)
        key = keys.add("SP01")
        server = waitress.create_server(
            make_app(lc, keys=keys, gateway_token=TOKEN), host="127.0.0.1", port=0, threads=8
        )
        threading.Thread(target=server.run, daemon=True).start()
        base = f"http://127.0.0.1:{server.effective_port}/sp/v1/orders"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def client(c: int) -> list[float]:
            took = []
            for n in range(args.requests):
                body = json.dumps({"msisdn": f"+86138{c:03d}{n:05d}", "service": "NEWS"})
                request = urllib.request.Request(base, data=body.encode(), method="POST")
                request.add_header("Authorization", f"Bearer {key}")
                began = time.perf_counter()
                with opener.open(request, timeout=300) as answer:
                    assert answer.status == 201
                took.append(time.perf_counter() - began)
            return took

        with ThreadPoolExecutor(args.clients) as pool:
            timings = [t for part in pool.map(client, range(args.clients)) for t in part]
        server.close()
        if hang is not None:
            hang.set()  # let the senders go, so close() does not wait for them
        lc.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=2.0, help="the notifier's, seconds")
    args = parser.parse_args()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # a full pool is the point
    print(
        f"{args.clients} SPs x {args.requests} orders, SQLite, waitress with 8 threads, "
        f"gateway timeout {args.timeout:.1f} s"
    )
    print(f"{'gateway':<10} {'senders':>7} {'median':>9} {'p95':>9} {'slowest':>9}")
    with tempfile.TemporaryDirectory(prefix="vas-bench-") as folder:
        for hung in (False, True):
            for senders in (0, 2):
                took = sorted(measure(Path(folder), hung=hung, senders=senders, args=args))
                p95 = took[int(len(took) * 0.95) - 1]
                print(
                    f"{'hangs' if hung else 'answers':<10} {senders:>7} "
                    f"{statistics.median(took) * 1000:>7.1f}ms {p95 * 1000:>7.1f}ms "
                    f"{took[-1] * 1000:>7.1f}ms"
                )


if __name__ == "__main__":
    main()
