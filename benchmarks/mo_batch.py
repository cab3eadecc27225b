"""MO confirmations per second: one text per transaction (``handle_sms``) beside a burst
per transaction (``handle_sms_many``), in one run, on SQLite (and PostgreSQL when
``VAS_BENCH_POSTGRES_DSN`` is set).

Each subscriber has an order awaiting confirmation and answers "是" with a gateway
message id: the text is read, the order activated and the reply recorded (and handed
to a notifier that drops it). The same texts, prepared the same way, are handled one
per commit and then in bursts of ``--batch``.

Run: .venv/bin/python benchmarks/mo_batch.py [--texts 2000] [--batch 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vas_lifecycle import Lifecycle, SQLiteStore, Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mo_http import prepared


def one_by_one(lc: Lifecycle, numbers: list[str]) -> float:
    began = time.perf_counter()
    for n, msisdn in enumerate(numbers):
        lc.handle_sms(msisdn, "是", to="10086", message_id=f"one-{n}")
    return len(numbers) / (time.perf_counter() - began)


def in_bursts(lc: Lifecycle, numbers: list[str], size: int) -> float:
    texts = [(msisdn, "是", "10086", f"burst-{n}") for n, msisdn in enumerate(numbers)]
    began = time.perf_counter()
    for start in range(0, len(texts), size):
        lc.handle_sms_many(texts[start : start + size])
    return len(numbers) / (time.perf_counter() - began)


def measure(name: str, make: Callable[[str], Store], texts: int, size: int) -> None:
    lc, numbers = prepared(make("one"), texts, "138")
    alone = one_by_one(lc, numbers)
    assert lc.orders_of(numbers[-1])[0].state.value == "active"
    lc.close()
    lc, numbers = prepared(make("burst"), texts, "139")
    burst = in_bursts(lc, numbers, size)
    assert all(lc.orders_of(m)[0].state.value == "active" for m in numbers[:: max(1, texts // 50)])
    lc.close()
    print(f"{name} MO texts, one per transaction:   {alone:9,.0f} /s  ({texts} texts)")
    print(f"{name} MO texts, {size:>4} per transaction: {burst:9,.0f} /s  ({texts} texts)")
    print(f"{name} bursts / one by one:             {burst / alone:9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure(
            "SQLite  ", lambda tag: SQLiteStore(Path(tmp) / f"{tag}.db"), args.texts, args.batch
        )
    dsn = os.environ.get("VAS_BENCH_POSTGRES_DSN")
    if dsn:
        from pg_schemas import fresh_store

        measure(
            "Postgres",
            lambda tag: fresh_store(dsn, f"vas_bench_batch_{tag}"),
            args.texts,
            args.batch,
        )


if __name__ == "__main__":
    main()
