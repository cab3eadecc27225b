"""What a ``/metrics`` scrape costs the store, as its history grows.

Seeds an SQLite store with ``--history`` notices
already delivered, plus a backlog of 50 waiting and 5 parked ones, then times
``Lifecycle.backlog()`` (the scrape's one read-only transaction) and a whole
``/metrics`` page. Goal: flat in the history (the counts read the partial indexes of
the rows still owed, never the delivered ones).

Run: .venv/bin/python benchmarks/metrics_scrape.py [--history 10000,100000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pendulum

from vas_lifecycle import Lifecycle, ManualClock, Notice, NoticeKind, SQLiteStore, Store
from vas_lifecycle.metrics import metrics_registry
from vas_lifecycle.testing import demo_catalog

START = pendulum.datetime(2026, 12, 7, 9, tz="Asia/Shanghai")
WAITING, PARKED, CHUNK = 50, 5, 10_000


def seed(store: Store, history: int) -> None:
    """``history`` delivered notices, then the backlog, written a chunk at a time."""
    for first in range(0, history + WAITING + PARKED, CHUNK):
        last = min(first + CHUNK, history + WAITING + PARKED)
        with store.transaction() as tx:
            for n in range(first, last):
                at = START.add(seconds=n)
                notice = Notice(
                    f"n{n:09d}", NoticeKind.HELP, f"+86138{n:08d}", None, "t", at, "10086", "zh"
                )
                tx.outbox.add_notice(notice)
            tx.outbox.mark_delivered([f"n{n:09d}" for n in range(first, min(last, history))], START)
    with store.transaction() as tx:
        for n in range(history + WAITING, history + WAITING + PARKED):
            tx.outbox.mark_failed(f"n{n:09d}", "gave up", None)


def timed(work: Callable[[], object], repeat: int) -> float:
    """The median of ``repeat`` calls of ``work``, in milliseconds."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def measure(store: Store, history: int, repeat: int) -> tuple[float, float]:
    seed(store, history)
    lc = Lifecycle(demo_catalog(), clock=ManualClock(START.add(days=1)), store=store)
    backlog = lc.backlog()
    assert (backlog.outbox.waiting, backlog.outbox.parked) == (WAITING, PARKED), backlog
    from prometheus_client import generate_latest

    registry = metrics_registry(lc)
    return timed(lc.backlog, repeat), timed(lambda: generate_latest(registry), repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", default="10000,100000", help="delivered notices, each run")
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    for history in (int(h) for h in args.history.split(",")):
        with tempfile.TemporaryDirectory() as folder:
            store = SQLiteStore(Path(folder) / "scrape.db")
            try:
                backlog_ms, page_ms = measure(store, history, args.repeat)
            finally:
                store.close()
        print(
            f"{history:,} notices delivered, {WAITING} waiting, {PARKED} parked: "
            f"backlog() {backlog_ms:.2f} ms, /metrics page {page_ms:.2f} ms"
        )


if __name__ == "__main__":
    main()
