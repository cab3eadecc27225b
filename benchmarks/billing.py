"""The billing pass: ``billing_run`` over N active monthly subscriptions, beside a
hand-written set-based SQL reference doing the same inserts, in one run, on SQLite
(and PostgreSQL, with 1 and 2 workers, when ``VAS_BENCH_POSTGRES_DSN`` is set).

The orders are made once through the library (one request and one confirmation),
then copied in SQL with new ids and numbers, so every measurement starts from the
same N orders with no charge. The reference is one ``INSERT ... SELECT`` of the same
charge rows (key, amount, period, order version) over the same orders, on a copy.

Run: .venv/bin/python benchmarks/billing.py [--orders 1000000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum

from vas_lifecycle import Channel, Lifecycle, ManualClock, RecordingNotifier, SQLiteStore, Store
from vas_lifecycle.testing import demo_catalog

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_schemas import drop_schema, fresh_store

ZONE = "Asia/Shanghai"
ACTIVATED = pendulum.datetime(2026, 11, 10, 9, tz=ZONE)
BILLED_AT = pendulum.datetime(2026, 12, 1, 2, tz=ZONE)
PERIOD = dt.date(2026, 12, 1)
UTC_TEXT = "%Y-%m-%dT%H:%M:%S.%fZ"


def template(store: Store) -> str:
    """One active NEWS subscription made through the library; its id."""
    clock = ManualClock(ACTIVATED)
    lc = Lifecycle(demo_catalog(), clock=clock, store=store, notifier=RecordingNotifier())
    order = lc.request("+8613700000000", "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(seconds=30))
    lc.confirm(order.id, msisdn=order.msisdn, channel=Channel.SMS)
    lc.close()  # SQLite: the last connection out writes the WAL back, so copies are whole
    return order.id


def copies_sql(columns: list[str], series: str, mark: str, pad: Callable[[int], str]) -> str:
    """INSERT of the template row (``mark`` its id) once per ``n`` of ``series``, with
    ids and numbers made of ``n`` zero-padded by the dialect's ``pad(width)``."""
    made = {"id": f"'b' || {pad(11)}", "msisdn": f"'+86138' || {pad(8)}"}
    exprs = [made.get(c, c) for c in columns]
    return (
        f"INSERT INTO vas_orders ({', '.join(columns)}) SELECT {', '.join(exprs)} "
        f"FROM {series}, vas_orders WHERE id = {mark}"
    )


def reference_sql(mark: str) -> str:
    """The same charges as one set-based statement (C11's conditions for these rows),
    idempotent by the charges' unique (order, period)."""
    return (
        "INSERT INTO vas_charges (key, order_id, amount, period_key, period_start, at, "
        f"order_version) SELECT 'bill:' || id || ':2026-12', id, price, '2026-12', {mark}, "
        f"{mark}, version FROM vas_orders WHERE kind = 'subscription' AND period = 'month' "
        f"AND state = 'active' AND consent_channel IS NOT NULL AND activated_at < {mark} "
        "ON CONFLICT (order_id, period_key) DO NOTHING"
    )


def texts() -> tuple[str, str, str]:
    start = pendulum.datetime(2026, 12, 1, tz=ZONE).in_tz("UTC")
    return (
        start.strftime(UTC_TEXT),
        BILLED_AT.in_tz("UTC").strftime(UTC_TEXT),
        start.strftime(UTC_TEXT),
    )


def run_pass(store: Store, batch: int) -> tuple[float, int, float]:
    """One worker's pass: wall seconds, orders charged, and this process's CPU seconds
    (the rest of a PostgreSQL pass is the server's)."""
    lc = Lifecycle(demo_catalog(), clock=ManualClock(BILLED_AT), store=store)
    began, cpu = time.perf_counter(), time.process_time()
    summary = lc.billing_run(PERIOD, batch=batch)
    took, cpu = time.perf_counter() - began, time.process_time() - cpu
    lc.close()
    return took, summary.charged, cpu


# --- SQLite ------------------------------------------------------------------------------


def sqlite_seed(path: Path, orders: int) -> None:
    mark = template(SQLiteStore(path))
    conn = sqlite3.connect(path, isolation_level=None)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(vas_orders)")]
    series = (
        "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
        f"WHERE n < {orders - 1}) SELECT n FROM s)"
    )
    conn.execute("BEGIN")
    conn.execute(copies_sql(columns, series, "?", lambda w: f"printf('%0{w}d', n)"), (mark,))
    conn.execute("COMMIT")
    conn.close()


def sqlite_reference(path: Path) -> tuple[float, int]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    began = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    count = conn.execute(reference_sql("?"), (texts()[0], texts()[1], texts()[2])).rowcount
    conn.execute("COMMIT")
    took = time.perf_counter() - began
    conn.close()
    return took, count


def measure_sqlite(orders: int, batch: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        seeded = Path(tmp) / "seeded.db"
        sqlite_seed(seeded, orders)
        ours, reference = Path(tmp) / "ours.db", Path(tmp) / "reference.db"
        shutil.copy(seeded, ours)
        shutil.copy(seeded, reference)
        took, charged, cpu = run_pass(SQLiteStore(ours), batch)
        ref_took, ref_count = sqlite_reference(reference)
    report("SQLite", orders, [(1, took, charged, cpu)], ref_took, ref_count)


# --- PostgreSQL --------------------------------------------------------------------------


def pg_seed(dsn: str, schema: str, orders: int) -> None:
    import psycopg

    store = fresh_store(dsn, schema)
    mark = template(store)
    store.close()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = 'vas_orders' ORDER BY ordinal_position",
                (schema,),
            )
        ]
        series = f"generate_series(1, {orders - 1}) AS s(n)"
        pad = "lpad(CAST(n AS TEXT), {}, '0')".format
        conn.execute(copies_sql(columns, series, "%s", pad), (mark,))
        conn.execute("ANALYZE")


def pg_worker(dsn: str, schema: str, batch: int, barrier: Any, out: Any) -> None:
    from vas_lifecycle import PostgresStore

    store = PostgresStore(dsn, schema=schema)
    barrier.wait()
    out.put(run_pass(store, batch))


def pg_pass(dsn: str, schema: str, batch: int, workers: int) -> list[tuple[int, float, int, float]]:
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(workers), ctx.Queue()
    procs = [
        ctx.Process(target=pg_worker, args=(dsn, schema, batch, barrier, out))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=3600) for _ in procs]
    for proc in procs:
        proc.join()
    return [(workers, took, charged, cpu) for took, charged, cpu in results]


def pg_reference(dsn: str, schema: str) -> tuple[float, int]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        conn.execute(f"SET search_path TO {schema}")
        began = time.perf_counter()
        count = conn.execute(reference_sql("%s"), texts()).rowcount
        conn.commit()
        return time.perf_counter() - began, count


def measure_postgres(dsn: str, orders: int, batch: int) -> None:
    runs: list[tuple[int, float, int, float]] = []
    for workers in (1, 2):
        schema = f"vas_bench_billing_{workers}"
        pg_seed(dsn, schema, orders)
        runs += pg_pass(dsn, schema, batch, workers)
        drop_schema(dsn, schema)
    schema = "vas_bench_billing_ref"
    pg_seed(dsn, schema, orders)
    ref_took, ref_count = pg_reference(dsn, schema)
    drop_schema(dsn, schema)
    report("Postgres", orders, runs, ref_took, ref_count)


def report(
    name: str,
    orders: int,
    runs: list[tuple[int, float, int, float]],
    ref_took: float,
    ref_count: int,
) -> None:
    assert ref_count == orders, f"the reference charged {ref_count} of {orders}"
    reference = orders / ref_took
    print(f"{name} hand-written INSERT ... SELECT: {reference:10,.0f} orders/s ({ref_took:.1f} s)")
    for workers in sorted({w for w, *_ in runs}):
        mine = [(took, charged, cpu) for w, took, charged, cpu in runs if w == workers]
        wall = max(took for took, _, _ in mine)
        charged = sum(c for _, c, _ in mine)
        assert charged == orders, f"{workers} worker(s) charged {charged} of {orders}"
        rate = orders / wall
        client = sum(cpu for _, _, cpu in mine) / (wall * workers)
        print(
            f"{name} billing_run, {workers} worker(s):       {rate:10,.0f} orders/s "
            f"({wall:.1f} s; {rate / reference:.2f}x the reference; "
            f"each worker's own CPU {client:.0%} of its wall time)"
        )
    per_worker = orders / max(took for w, took, *_ in runs if w == 1)
    needed = 10_000_000 / 600
    print(
        f"{name} 10 million subscriptions in 10 minutes need {needed:,.0f} orders/s: "
        f"{-(-needed // per_worker):.0f} worker(s) at the measured {per_worker:,.0f} per worker"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    print(f"{args.orders:,} active monthly subscriptions, batches of {args.batch}")
    measure_sqlite(args.orders, args.batch)
    dsn = os.environ.get("VAS_BENCH_POSTGRES_DSN")
    if dsn:
        measure_postgres(dsn, args.orders, args.batch)


if __name__ == "__main__":
    main()
