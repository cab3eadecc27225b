"""Throughput of the durable stores (figures for the durable-stores issue).

Prints:
- confirmations per second through ``handle_sms`` on SQLite (notices delivered too);
- due trials ended per second by ``run_due()`` on SQLite;
- the same SQL as a confirmation written by hand with sqlite3 (the reference);
- confirmations on PostgreSQL, and due trials with 1 and 2 worker processes (needs
  VAS_BENCH_POSTGRES_DSN or VAS_TEST_POSTGRES_DSN).

Run: .venv/bin/python benchmarks/store_throughput.py [--orders 2000] [--trials 20000]
A benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum
from by_hand import link  # a sibling script
from pg_schemas import drop_schema, fresh_store  # a sibling script

from vas_lifecycle import (
    Channel,
    Lifecycle,
    ManualClock,
    PostgresStore,
    RecordingNotifier,
    SQLiteStore,
    Store,
)
from vas_lifecycle.store.sql import ts
from vas_lifecycle.testing import demo_catalog

START = pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai")


def lifecycle(store: Store, when: pendulum.DateTime, *, auto_dispatch: bool = True) -> Lifecycle:
    return Lifecycle(
        demo_catalog(),
        clock=ManualClock(when),
        store=store,
        notifier=RecordingNotifier(),
        rng=random.Random(1),
        auto_dispatch=auto_dispatch,
    )


def confirmations(store: Store, orders: int) -> float:
    """Texts per second: each subscriber confirms their pending order with "是"."""
    setup = lifecycle(store, START, auto_dispatch=False)
    numbers = [f"+86138{n:08d}" for n in range(orders)]
    for msisdn in numbers:
        setup.request(msisdn, "NEWS", channel=Channel.SP_API)
    setup.dispatch(limit=orders * 2)
    lc = lifecycle(store, START.add(minutes=1))
    began = time.perf_counter()
    for msisdn in numbers:
        lc.handle_sms(msisdn, "是", to="10086")
    elapsed = time.perf_counter() - began
    assert all(lc.orders_of(m)[0].state.value == "active" for m in numbers[:10])
    lc.close()
    return orders / elapsed


def confirmations_sqlite(folder: Path, orders: int) -> float:
    return confirmations(SQLiteStore(folder / "confirm.db"), orders)


def confirmations_postgres(dsn: str, orders: int) -> float:
    schema = "vas_bench_confirm"
    try:
        return confirmations(fresh_store(dsn, schema), orders)
    finally:
        drop_schema(dsn, schema)


def _seed_confirmations(store: Store, orders: int) -> list[str]:
    setup = lifecycle(store, START, auto_dispatch=False)
    numbers = [f"+86138{n:08d}" for n in range(orders)]
    for msisdn in numbers:
        setup.request(msisdn, "NEWS", channel=Channel.SP_API)
    setup.close()
    return numbers


def _by_hand(run: Callable[..., list[Any]], begin: str, numbers: list[str]) -> float:
    """The SQL a confirmation by SMS writes, by hand: the reference (floor).

    Per text: one transaction that reads the subscriber's orders, updates the order's
    state, inserts its event and its notice; then one that marks the notice delivered.
    ``run(sql, params)`` executes one statement (written with ``?``) and returns its rows.
    """
    now = ts(START.add(minutes=1))
    text = "您已成功订购星辰科技的“新闻早报”，资费5元/月。退订请回复TD到10658001。"
    began = time.perf_counter()
    for msisdn in numbers:
        run(begin)
        ((oid, old, head),) = run(
            "SELECT id, version, head FROM vas_orders WHERE msisdn = ?", (msisdn,)
        )
        event = [oid, old + 1, "consent_granted", now, "sms", msisdn, "是", text, {"code": ""}]
        digest = link(head, event)  # C18: chained to the event before it
        run(
            "UPDATE vas_orders SET version = ?, state = ?, due_at = NULL, activated_at = ?, "
            "consent_channel = 'sms', head = ? WHERE id = ? AND version = ?",
            (old + 1, "active", now, digest, oid, old),
        )
        run(
            "INSERT INTO vas_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*event[:8], '{"code":""}', head, digest),
        )
        nid = os.urandom(16).hex()
        run(
            "INSERT INTO vas_notices (id, kind, msisdn, order_id, text, at, sender, language, "
            "next_attempt_at, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
            (nid, "activated", msisdn, oid, text, now, "10086", "zh-CN", now),
        )
        run("COMMIT")
        run(begin)
        run("UPDATE vas_notices SET delivered_at = ? WHERE id = ?", (now, nid))
        run("COMMIT")
    return len(numbers) / (time.perf_counter() - began)


def confirmations_raw(folder: Path, orders: int) -> float:
    """The confirmations' SQL by hand with sqlite3 (WAL, synchronous=NORMAL as ours)."""
    path = folder / "raw.db"
    numbers = _seed_confirmations(SQLiteStore(path), orders)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    try:
        return _by_hand(lambda q, p=(): conn.execute(q, p).fetchall(), "BEGIN IMMEDIATE", numbers)
    finally:
        conn.close()


def confirmations_raw_postgres(dsn: str, orders: int) -> float:
    """The confirmations' SQL by hand with psycopg, one statement at a time."""
    import psycopg
    from psycopg import sql

    schema = "vas_bench_confirm_raw"
    numbers = _seed_confirmations(fresh_store(dsn, schema), orders)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        cur = conn.cursor()

        def run(query: str, params: tuple[Any, ...] = ()) -> list[Any]:
            cur.execute(query.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []

        try:
            return _by_hand(run, "BEGIN", numbers)
        finally:
            drop_schema(dsn, schema)


def seed_trials(store: Store, trials: int) -> None:
    lc = lifecycle(store, START, auto_dispatch=False)
    for n in range(trials):
        lc.request(f"+86139{n:08d}", "MUSIC7", channel=Channel.WEB)
    with store.transaction() as tx:  # start notices count as sent: only timers are measured
        ids = [n.id for n in tx.outbox.all_notices()]
        tx.outbox.mark_delivered(ids, START)


def due_sqlite(folder: Path, trials: int) -> float:
    store = SQLiteStore(folder / "due.db")
    seed_trials(store, trials)
    lc = lifecycle(store, START.add(days=8), auto_dispatch=False)
    began = time.perf_counter()
    moved = lc.run_due(batch=1000)
    elapsed = time.perf_counter() - began
    assert moved == trials, moved
    return trials / elapsed


def _pg_worker(dsn: str, schema: str, barrier: object, out: object) -> None:
    lc = lifecycle(PostgresStore(dsn, schema=schema), START.add(days=8), auto_dispatch=False)
    barrier.wait()  # type: ignore[attr-defined]
    began = time.perf_counter()
    moved = lc.run_due(batch=1000)
    out.put((moved, time.perf_counter() - began))  # type: ignore[attr-defined]


def due_postgres(dsn: str, trials: int, workers: int) -> tuple[float, list[int]]:
    schema = f"vas_bench_{workers}"
    seed_trials(fresh_store(dsn, schema), trials)
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [
        ctx.Process(target=_pg_worker, args=(dsn, schema, barrier, out)) for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    barrier.wait()
    began = time.perf_counter()
    results = [out.get() for _ in procs]
    elapsed = time.perf_counter() - began
    for proc in procs:
        proc.join()
    drop_schema(dsn, schema)
    moved = [m for m, _ in results]
    assert sum(moved) == trials, moved
    return trials / elapsed, moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000, help="confirmations to time")
    parser.add_argument("--trials", type=int, default=20000, help="due trials to time")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as folder:
        rate = confirmations_sqlite(Path(folder), args.orders)
        print(f"SQLite  confirmations via handle_sms: {rate:10,.0f} /s  ({args.orders} orders)")
        floor = confirmations_raw(Path(folder), args.orders)
        print(f"SQLite  same SQL by hand (reference): {floor:10,.0f} /s  (goal 5,000 for ours)")
        rate = due_sqlite(Path(folder), args.trials)
        print(f"SQLite  due trials ended by run_due:  {rate:10,.0f} /s  ({args.trials} trials)")
    dsn = os.environ.get("VAS_BENCH_POSTGRES_DSN") or os.environ.get("VAS_TEST_POSTGRES_DSN")
    if not dsn:
        print("PostgreSQL: skipped (set VAS_BENCH_POSTGRES_DSN)")
        return
    rate = confirmations_postgres(dsn, args.orders)
    print(f"Postgres confirmations via handle_sms: {rate:9,.0f} /s  ({args.orders} orders)")
    floor = confirmations_raw_postgres(dsn, args.orders)
    print(f"Postgres same SQL by hand (reference): {floor:9,.0f} /s")
    for workers in (1, 2):
        rate, moved = due_postgres(dsn, args.trials, workers)
        print(
            f"Postgres due trials, {workers} worker(s):    {rate:10,.0f} /s  "
            f"({args.trials} trials; per worker {moved})"
        )


if __name__ == "__main__":
    main()
