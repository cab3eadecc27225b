"""MO texts per second through the Kannel endpoint over HTTP, beside the same texts
handed to ``handle_sms`` directly, in one run, on SQLite (and PostgreSQL when
``VAS_BENCH_POSTGRES_DSN`` is set).

Each subscriber has an order awaiting confirmation and answers "是" with a Kannel
message id: the text is read, the order activated and the reply recorded (and handed
to a notifier that drops it: the gateway's own speed is not measured). Over HTTP the
endpoint runs in waitress, in this process, and the client (smsbox's part) runs in a
process of its own and keeps one connection open, as smsbox does; the difference
between the two figures is what HTTP, parsing the query and the endpoint cost.

With ``--clients N`` (smsbox has many requests in flight), N client processes share
the texts, and the endpoint is measured twice: a commit per text (``burst=1``) and
texts of concurrent requests grouped into one commit (the default).

Run: .venv/bin/python benchmarks/mo_http.py [--texts 1000] [--clients 8]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import multiprocessing
import os
import random
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pendulum

from vas_lifecycle import Channel, Lifecycle, ManualClock, SQLiteStore, Store
from vas_lifecycle.gateways.kannel import kannel_endpoints
from vas_lifecycle.testing import demo_catalog

TOKEN = "benchmark-gateway-token"
START = pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai")


class _Discard:
    def send(self, notice: object) -> None:
        pass


def prepared(store: Store, texts: int, prefix: str) -> tuple[Lifecycle, list[str]]:
    """A Lifecycle whose subscribers each have a NEWS order awaiting confirmation."""
    setup = Lifecycle(
        demo_catalog(),
        clock=ManualClock(START),
        store=store,
        notifier=_Discard(),
        auto_dispatch=False,
    )
    numbers = [f"+86{prefix}{n:08d}" for n in range(texts)]
    for msisdn in numbers:
        setup.request(msisdn, "NEWS", channel=Channel.WEB)
    setup.dispatch(limit=texts * 2)
    lc = Lifecycle(
        demo_catalog(),
        clock=ManualClock(START.add(minutes=1)),
        store=store,
        notifier=_Discard(),
        rng=random.Random(1),
    )
    return lc, numbers


def direct(lc: Lifecycle, numbers: list[str]) -> float:
    began = time.perf_counter()
    for n, msisdn in enumerate(numbers):
        lc.handle_sms(msisdn, "是", to="10086", message_id=f"direct-{n}")
    return len(numbers) / (time.perf_counter() - began)


def _client(port: int, numbers: list[str], out: multiprocessing.Queue[float], me: int = 0) -> None:
    """smsbox's side, in a process of its own: one kept-alive connection, one GET per
    text, each waiting for its answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    began = time.perf_counter()
    for n, msisdn in enumerate(numbers):
        query = urllib.parse.urlencode(
            {"from": msisdn.lstrip("+"), "to": "10086", "text": "是", "id": f"http-{me}-{n}"}
        )
        connection.request("GET", f"/kannel/mo?{query}&token={TOKEN}")
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 200, answer.status
    out.put(len(numbers) / (time.perf_counter() - began))
    connection.close()


def over_http(lc: Lifecycle, numbers: list[str], clients: int = 1, burst: int = 100) -> float:
    import waitress

    app = kannel_endpoints(lc, TOKEN, burst=burst)
    server = waitress.create_server(
        app, host="127.0.0.1", port=0, threads=max(4, clients), connection_limit=100
    )

    def serve() -> None:
        # the socket closes under the loop when the run ends
        with contextlib.suppress(OSError):
            server.run()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    out: multiprocessing.Queue[float] = multiprocessing.Queue()
    shares = [numbers[n::clients] for n in range(clients)]
    procs = [
        multiprocessing.Process(target=_client, args=(server.effective_port, share, out, n))
        for n, share in enumerate(shares)
    ]
    try:
        began = time.perf_counter()
        for proc in procs:
            proc.start()
        for _ in procs:
            out.get(timeout=600)
        rate = len(numbers) / (time.perf_counter() - began)
        for proc in procs:
            proc.join(60)
    finally:
        server.close()
    return rate


def measure(name: str, make: Callable[[str], Store], texts: int, clients: int) -> None:
    lc, numbers = prepared(make("direct"), texts, "138")
    rate_direct = direct(lc, numbers)
    assert lc.get(lc.orders_of(numbers[0])[0].id).state.value == "active"
    lc.close()
    lc, numbers = prepared(make("http"), texts, "139")
    rate_http = over_http(lc, numbers)
    assert lc.get(lc.orders_of(numbers[-1])[0].id).state.value == "active"
    lc.close()
    print(f"{name} MO texts via handle_sms directly: {rate_direct:9,.0f} /s  ({texts} texts)")
    print(f"{name} MO texts via GET /kannel/mo:      {rate_http:9,.0f} /s  ({texts} texts)")
    print(f"{name} HTTP / direct:                    {rate_http / rate_direct:9.2f}x")
    if clients > 1:
        rates = []
        for burst, tag in ((1, "alone"), (100, "grouped")):
            lc, numbers = prepared(make(tag), texts, "137" if burst == 1 else "136")
            rates.append(over_http(lc, numbers, clients, burst))
            assert all(lc.orders_of(m)[0].state.value == "active" for m in numbers[::50])
            lc.close()
        alone, grouped = rates
        print(f"{name} {clients} clients, a commit per text:  {alone:9,.0f} /s")
        print(f"{name} {clients} clients, group commit:       {grouped:9,.0f} /s")
        print(f"{name} group commit / a commit per text: {grouped / alone:9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure(
            "SQLite  ", lambda tag: SQLiteStore(Path(tmp) / f"{tag}.db"), args.texts, args.clients
        )
    dsn = os.environ.get("VAS_BENCH_POSTGRES_DSN")
    if dsn:
        from pg_schemas import fresh_store

        measure(
            "Postgres",
            lambda tag: fresh_store(dsn, f"vas_bench_mo_{tag}"),
            args.texts,
            args.clients,
        )


if __name__ == "__main__":
    main()
