"""The event feed: what a subscriber costs the commands, and how fast events reach it.

For each store (memory, SQLite, and PostgreSQL when ``VAS_BENCH_POSTGRES_DSN`` is
set) the same commands run three times, in one run: with no subscriber, with one
registered but not attached here (the events are stored for it, as in a process that
only serves HTTP), and with one attached (each command's events handed to its
handler right after the commit). The commands are a subscription's whole life: a web
request, the subscriber's "是", a charge, an unsubscribe (three feed events). Then
the stored backlog is delivered by ``feed.publish()``: events per second.

Run: .venv/bin/python benchmarks/feed.py [--orders 500]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pendulum

from vas_lifecycle import (
    Channel,
    FeedEvent,
    Lifecycle,
    ManualClock,
    MemoryStore,
    SQLiteStore,
    Store,
)
from vas_lifecycle.testing import demo_catalog

START = pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai")


class _Discard:
    def send(self, notice: object) -> None:
        pass


def _commands(lc: Lifecycle, clock: ManualClock, orders: int, prefix: str) -> float:
    """Seconds for ``orders`` subscriptions' whole lives (4 commands each)."""
    begin = time.perf_counter()
    for n in range(orders):
        msisdn = f"+86{prefix}{n:08d}"
        order = lc.request(msisdn, "NEWS", channel=Channel.WEB)
        clock.advance(dt.timedelta(seconds=5))
        lc.handle_sms(msisdn, "是", to="10086")
        lc.record_charge(order.id, "5.00", key=f"{prefix}-{n}")
        lc.unsubscribe(order.id, channel=Channel.SMS)
    return time.perf_counter() - begin


def measure(name: str, make_store: Callable[[], Store], orders: int) -> None:
    for mode in ("no subscriber", "registered elsewhere", "attached here"):
        clock = ManualClock(START)
        store = make_store()
        lc = Lifecycle(demo_catalog(), clock=clock, store=store, notifier=_Discard())
        heard: list[FeedEvent] = []
        if mode != "no subscriber":
            lc.feed.subscribe("billing", heard.append)
        if mode == "registered elsewhere":
            lc.feed.detach("billing")
        seconds = _commands(lc, clock, orders, f"13{len(mode):02d}")
        rate = orders * 4 / seconds
        print(f"{name:<10} commands/s, {mode + ':':<22} {rate:9,.0f}  ({orders * 4} commands)")
        if mode == "registered elsewhere":
            backlog = lc.feed.backlog("billing")
            lc.feed.subscribe("billing", heard.append)
            begin = time.perf_counter()
            delivered = 0
            while True:
                sent = lc.feed.publish(limit=500)
                if not sent:
                    break
                delivered += sent
            seconds = time.perf_counter() - begin
            assert delivered == backlog == orders * 3, (delivered, backlog)
            print(f"{name:<10} feed events delivered by publish():  {delivered / seconds:9,.0f} /s")
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    args = parser.parse_args()
    measure("memory", MemoryStore, args.orders)
    with tempfile.TemporaryDirectory() as folder:
        paths = iter(range(1_000))
        measure("SQLite", lambda: SQLiteStore(Path(folder) / f"feed{next(paths)}.db"), args.orders)
    dsn = os.environ.get("VAS_BENCH_POSTGRES_DSN")
    if dsn:
        from pg_schemas import drop_schema, fresh_store

        schemas = iter(f"vas_bench_feed_{n}" for n in range(3))
        made: list[str] = []

        def fresh() -> Store:
            made.append(next(schemas))
            return fresh_store(dsn, made[-1])

        try:
            measure("PostgreSQL", fresh, args.orders)
        finally:
            for schema in made:
                drop_schema(dsn, schema)
    else:
        print("PostgreSQL skipped: set VAS_BENCH_POSTGRES_DSN to measure it")


if __name__ == "__main__":
    main()
