"""Evidence (C18) and the monthly reminder (C17): what they cost, and how fast they go.

Three figures, each on memory, SQLite and (with ``VAS_BENCH_POSTGRES_DSN``)
PostgreSQL:

- the hash chain's cost per command, before and after in one run: the same
  commands (request, confirm, unsubscribe) on two stores, one with the chain's hash
  replaced by a constant, one as shipped;
- ``verify_store()``: events checked per second;
- the monthly reminder's sweep: subscribers reminded per second by ``run_due()``
  on the first morning of a month (a month of 10 million subscribers is that many
  batches).

Run: .venv/bin/python benchmarks/evidence.py [--orders 2000] [--batch 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import pendulum

from vas_lifecycle import Channel, Lifecycle, ManualClock, MemoryStore, SQLiteStore, Store
from vas_lifecycle.testing import demo_catalog

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_schemas import drop_schema, fresh_store

START = pendulum.datetime(2026, 11, 20, 10, tz="Asia/Shanghai")
MORNING = pendulum.datetime(2026, 12, 1, 9, tz="Asia/Shanghai")
_CONSTANT = b"\0" * 32


class _Discard:
    def send(self, notice: object) -> None:
        pass


@contextlib.contextmanager
def _without_chain() -> Iterator[None]:
    """The stores' event hash replaced by a constant: the 'before' of the chain."""
    with (
        mock.patch("vas_lifecycle.store.memory.link_text", lambda *a: _CONSTANT),
        mock.patch("vas_lifecycle.store.sql.transaction.link_text", lambda *a: _CONSTANT),
    ):
        yield


def _lifecycle(store: Store) -> tuple[Lifecycle, ManualClock]:
    clock = ManualClock(START)
    return Lifecycle(demo_catalog(), clock=clock, store=store, notifier=_Discard()), clock


def commands(store: Store, orders: int) -> float:
    """Microseconds per command: request, confirm, unsubscribe of ``orders`` orders."""
    lc, clock = _lifecycle(store)
    numbers = [f"+86138{n:08d}" for n in range(orders)]
    began = time.perf_counter()
    made = [lc.request(m, "NEWS", channel=Channel.WEB) for m in numbers]
    clock.advance(dt.timedelta(seconds=30))
    for order in made:
        lc.confirm(order.id, msisdn=order.msisdn, channel=Channel.SMS)
    for order in made:
        lc.unsubscribe(order.id, channel=Channel.SMS)
    elapsed = time.perf_counter() - began
    lc.close()
    return elapsed / (3 * orders) * 1e6


def month(store: Store, orders: int, batch: int) -> tuple[float, float]:
    """Subscribers reminded per second on the month's first morning, and events
    checked per second by verify_store()."""
    lc, clock = _lifecycle(store)
    made = [lc.request(f"+86139{n:08d}", "NEWS", channel=Channel.WEB) for n in range(orders)]
    clock.advance(dt.timedelta(seconds=30))
    for order in made:
        lc.confirm(order.id, msisdn=order.msisdn, channel=Channel.SMS)
    clock.set(MORNING)
    began = time.perf_counter()
    reminded = lc.run_due(batch=batch)
    rate = reminded / (time.perf_counter() - began)
    assert reminded == orders, reminded
    began = time.perf_counter()
    checked = lc.verify_store()
    verified = checked.events / (time.perf_counter() - began)
    assert checked.ok and checked.orders == orders, checked.summary()
    lc.close()
    return rate, verified


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    dsn = os.environ.get("VAS_BENCH_POSTGRES_DSN", "")
    with tempfile.TemporaryDirectory() as folder:
        made = iter(range(1000))
        stores: dict[str, Callable[[], Store]] = {
            "memory": MemoryStore,
            "sqlite": lambda: SQLiteStore(Path(folder) / f"e{next(made)}.db"),
        }
        if dsn:
            stores["postgres"] = lambda: fresh_store(dsn, f"vas_bench_evidence_{next(made)}")
        print(f"{args.orders:,} orders; month: {args.orders:,} subscribers, batch {args.batch}")
        for name, make in stores.items():
            befores, afters = [], []
            for _ in range(args.repeat):  # alternated, the best of each: less noise
                with _without_chain():
                    befores.append(commands(make(), args.orders))
                afters.append(commands(make(), args.orders))
            before, after = min(befores), min(afters)
            reminders, verified = month(make(), args.orders, args.batch)
            print(
                f"{name:>8}: {before:7.1f} -> {after:7.1f} us per command with the chain "
                f"({after - before:+.1f} us, {(after - before) / before:+.1%}); "
                f"monthly reminders {reminders:8,.0f} subscribers/s; "
                f"verify_store {verified:9,.0f} events/s"
            )
        if dsn:
            for n in range(next(made)):
                drop_schema(dsn, f"vas_bench_evidence_{n}")


if __name__ == "__main__":
    main()
