"""P3 memory: bytes per live order, with its events and notices, in MemoryStore.

Builds N active subscriptions through the real lifecycle (request, then the
subscriber's confirmation: 3 events and 2 notices each) and measures what the store
holds with tracemalloc. Goal: at most 1 KB per live order.

Run: .venv/bin/python benchmarks/p3_memory.py [--orders 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import tracemalloc

import pendulum

from vas_lifecycle import Channel, Lifecycle, ManualClock, MemoryStore
from vas_lifecycle.testing import demo_catalog


class _Discard:
    def send(self, notice: object) -> None:
        pass


def measure(orders: int) -> tuple[float, int]:
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai"))
    numbers = [f"+86138{i:08d}" for i in range(orders)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = MemoryStore()
    lc = Lifecycle(demo_catalog(), clock=clock, store=store, notifier=_Discard())
    pending = [lc.request(m, "NEWS", channel=Channel.WEB) for m in numbers]
    clock.advance(dt.timedelta(seconds=30))
    for order in pending:
        lc.confirm(order.id, msisdn=order.msisdn, channel=Channel.SMS)
    del pending
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    with store.transaction(readonly=True) as tx:
        events = sum(len(tx.orders.events(o.id)) for o in tx.orders.all_orders())
    assert lc is not None
    return held / orders, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    per_order, events = measure(args.orders)
    print(
        f"MemoryStore, {args.orders:,} live orders ({events:,} events, "
        f"{2 * args.orders:,} notices): {per_order:,.0f} bytes per order (goal <= 1024)"
    )


if __name__ == "__main__":
    main()
