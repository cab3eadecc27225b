"""Invariant 9: what one command costs a subscriber with many finished orders.

Gives one subscriber N finished orders from earlier days (on-demand orders, refused
SP requests, cancelled trials), then times the commands of a normal day: a text
``0000`` (list), a ``Y`` with nothing pending, an unreadable text, and a new web
order. Goal: the per-command time stays flat from 0 to 10 000 finished orders.

Run: .venv/bin/python benchmarks/history.py [--sizes 0,1000,10000] [--repeat 300]
(PostgreSQL too when VAS_BENCH_POSTGRES_DSN is set.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pendulum

from vas_lifecycle import Channel, Lifecycle, ManualClock, MemoryStore, SQLiteStore, Store
from vas_lifecycle.testing import demo_catalog

SUB = "+8613800138000"


class _Discard:
    def send(self, notice: object) -> None:
        pass


def with_history(store: Store, finished: int) -> tuple[Lifecycle, ManualClock]:
    clock = ManualClock(pendulum.datetime(2026, 1, 1, 9, tz="Asia/Shanghai"))
    lc = Lifecycle(demo_catalog(), clock=clock, store=store, notifier=_Discard())
    for n in range(finished):
        if n % 500 == 499:
            clock.advance(dt.timedelta(days=1))  # spread over earlier days
        kind = n % 3
        if kind == 0:
            lc.request(SUB, "JOKE", channel=Channel.WEB)
        elif kind == 1:
            lc.request(SUB, "NEWS", channel=Channel.SP_API)  # mostly over the limit
        else:
            lc.unsubscribe(lc.request(SUB, "GAME1", channel=Channel.WAP).id, channel="sms")
    clock.advance(dt.timedelta(days=2))
    lc.run_due()
    assert lc.live_orders(SUB) == []
    return lc, clock


def per_command(lc: Lifecycle, repeat: int) -> dict[str, float]:
    """Median microseconds per command."""
    commands: dict[str, Callable[[], object]] = {
        "text 0000": lambda: lc.handle_sms(SUB, "0000", to="10086"),
        "text Y, nothing pending": lambda: lc.handle_sms(SUB, "Y", to="10086"),
        "text not understood": lambda: lc.handle_sms(SUB, "hello", to="10086"),
        "web on-demand order": lambda: lc.request(SUB, "JOKE", channel=Channel.WEB),
    }
    figures = {}
    for name, command in commands.items():
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            command()
            times.append(time.perf_counter() - start)
        figures[name] = statistics.median(times) * 1e6
    return figures


def stores(folder: Path) -> dict[str, Callable[[int], Store]]:
    made: dict[str, Callable[[int], Store]] = {
        "memory": lambda n: MemoryStore(),
        "SQLite": lambda n: SQLiteStore(folder / f"history-{n}.db"),
    }
    dsn = os.environ.get("VAS_BENCH_POSTGRES_DSN")
    if dsn:
        from pg_schemas import fresh_store

        made["Postgres"] = lambda n: fresh_store(dsn, f"vas_bench_history_{n}")
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,1000,10000")
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="vas-history-") as folder:
        for name, make in stores(Path(folder)).items():
            for size in sizes:
                lc, _clock = with_history(make(size), size)
                figures = per_command(lc, args.repeat)
                for command, micros in figures.items():
                    print(f"{name}, {size} finished orders, {command}: {micros:,.1f} µs")
                lc.close()


if __name__ == "__main__":
    main()
