"""MO confirmations per second: one text per transaction (``handle_sms``) beside a burst
per transaction (``handle_sms_many``), in one run, on SQLite (and PostgreSQL when
``VAS_BENCH_POSTGRES_DSN`` is set).

Each subscriber has an order awaiting confirmation and answers "是" with a gateway
message id: the text is read, the order activated and the reply recorded (and handed
to a notifier that drops it). The same texts, prepared the same way, are handled one
per commit and then in bursts of ``--batch``. On SQLite the same rows are also
written by hand with sqlite3, one text per transaction and in bursts: the message id,
the order's row and its request's delivery read, the order updated, its event and
its notice inserted, and the notice marked delivered in a second transaction.

Run: .venv/bin/python benchmarks/mo_batch.py [--texts 2000] [--batch 100]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vas_lifecycle import Lifecycle, ManualClock, SQLiteStore, Store
from vas_lifecycle.testing import demo_catalog

sys.path.insert(0, str(Path(__file__).resolve().parent))
from by_hand import link
from mo_http import START, _Discard, prepared


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


def _chained(rows: list[Any], now: str) -> list[tuple[Any, ...]]:
    """Each order row (id, msisdn, version, notice id, head) with its new event's
    links: the head before it, and its hash (C18)."""
    return [
        (
            oid,
            msisdn,
            v,
            r,
            head,
            link(head, [oid, v + 1, "consent_granted", now, "sms", msisdn, "是", "activated", {}]),
        )
        for oid, msisdn, v, r, head in rows
    ]


def seeded(path: Path, orders: int) -> tuple[Lifecycle, list[str]]:
    """Like ``prepared``, for many orders: one pending NEWS order (its confirmation
    request delivered) made through the library, then copied in SQL with its request
    notice to ``orders`` subscribers."""
    lc, _ = prepared(SQLiteStore(path), 1, "137")
    lc.close()
    order_id, notice_id, number = (
        "'m' || printf('%011d', n)",
        "'n' || printf('%011d', n)",
        ("'+86139' || printf('%08d', n)"),
    )
    made = {
        "vas_orders": {"id": order_id, "msisdn": number, "request_notice_id": notice_id},
        "vas_notices": {"id": notice_id, "msisdn": number, "order_id": order_id},
    }
    series = (
        "(WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s "
        f"WHERE n < {orders - 1}) SELECT n FROM s)"
    )
    conn = sqlite3.connect(path, isolation_level=None)
    template = conn.execute("SELECT id, request_notice_id FROM vas_orders").fetchone()
    conn.execute("BEGIN")
    for (table, exprs), key in zip(made.items(), template, strict=True):
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        select = ", ".join(exprs.get(c, c) for c in columns)
        conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} "
            f"FROM {series}, {table} WHERE id = ?",
            (key,),
        )
    conn.execute("COMMIT")
    conn.close()
    lc = Lifecycle(
        demo_catalog(),
        clock=ManualClock(START.add(minutes=1)),
        store=SQLiteStore(path),
        notifier=_Discard(),
        rng=random.Random(1),
    )
    return lc, [f"+86139{n:08d}" for n in range(orders)]


def by_hand(path: Path, numbers: list[str], size: int) -> float:
    """The same rows as the library's confirmations, by hand, ``size`` per transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    now = START.add(minutes=1).in_tz("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    live = "('awaiting_confirmation', 'active', 'trial', 'trial_expiring')"
    began = time.perf_counter()
    for start in range(0, len(numbers), size):
        burst = numbers[start : start + size]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO vas_messages (message_id, at) VALUES (?, ?) "
            "ON CONFLICT (message_id) DO NOTHING",
            [(f"hand-{start + n}", now) for n in range(len(burst))],
        )
        rows = conn.execute(
            "SELECT id, msisdn, version, request_notice_id, head FROM vas_orders WHERE msisdn IN "
            f"(SELECT value FROM json_each(?)) AND state IN {live}",
            (json.dumps(burst),),
        ).fetchall()
        sent = conn.execute(
            "SELECT id FROM vas_notices WHERE id IN (SELECT value FROM json_each(?)) "
            "AND delivered_at IS NOT NULL",
            (json.dumps([r[3] for r in rows]),),
        ).fetchall()
        assert len(sent) == len(rows) == len(burst)
        notices = [(os.urandom(16).hex(), oid, msisdn) for oid, msisdn, _v, _r, _h in rows]
        chained = _chained(rows, now)
        conn.executemany(
            "UPDATE vas_orders SET state = 'active', version = ?, activated_at = ?, "
            "consent_channel = 'sms', due_at = NULL, head = ? WHERE id = ? AND version = ?",
            [(v + 1, now, h, oid, v) for oid, _m, v, _r, _p, h in chained],
        )
        conn.executemany(
            "INSERT INTO vas_events VALUES (?, ?, 'consent_granted', ?, 'sms', ?, '是', "
            "'activated', '{}', ?, ?)",
            [(oid, v + 1, now, msisdn, p, h) for oid, msisdn, v, _r, p, h in chained],
        )
        conn.executemany(
            "INSERT INTO vas_notices (id, kind, msisdn, order_id, text, at, sender, language, "
            "next_attempt_at, attempts) VALUES (?, 'activated', ?, ?, 'activated', ?, '10086', "
            "'zh-CN', ?, 1)",
            [(nid, msisdn, oid, now, now) for nid, oid, msisdn in notices],
        )
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "UPDATE vas_notices SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL",
            [(now, nid) for nid, _o, _m in notices],
        )
        conn.execute("COMMIT")
    rate = len(numbers) / (time.perf_counter() - began)
    conn.close()
    return rate


def by_hand_postgres(dsn: str, schema: str, numbers: list[str], size: int) -> float:
    """The same rows as ``by_hand``, on PostgreSQL with psycopg: the subscribers
    locked as the library locks them, ``executemany`` (pipelined) for each write."""
    import psycopg
    from psycopg import sql

    conn = psycopg.connect(dsn)
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    conn.commit()
    now = START.add(minutes=1).in_tz("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    live = ["awaiting_confirmation", "active", "trial", "trial_expiring"]
    began = time.perf_counter()
    with conn.cursor() as cur:
        for start in range(0, len(numbers), size):
            burst = numbers[start : start + size]
            cur.executemany(
                "SELECT pg_advisory_xact_lock(7420261, hashtext(%s))", [(m,) for m in sorted(burst)]
            )
            cur.executemany(
                "INSERT INTO vas_messages (message_id, at) VALUES (%s, %s) "
                "ON CONFLICT (message_id) DO NOTHING",
                [(f"hand-{start + n}", now) for n in range(len(burst))],
            )
            rows = cur.execute(
                "SELECT id, msisdn, version, request_notice_id, head FROM vas_orders "
                "WHERE msisdn = ANY(%s) AND state = ANY(%s)",
                (burst, live),
            ).fetchall()
            sent = cur.execute(
                "SELECT id FROM vas_notices WHERE id = ANY(%s) AND delivered_at IS NOT NULL",
                ([r[3] for r in rows],),
            ).fetchall()
            assert len(sent) == len(rows) == len(burst)
            notices = [(os.urandom(16).hex(), oid, msisdn) for oid, msisdn, _v, _r, _h in rows]
            chained = _chained(rows, now)
            cur.executemany(
                "UPDATE vas_orders SET state = 'active', version = %s, activated_at = %s, "
                "consent_channel = 'sms', due_at = NULL, head = %s WHERE id = %s AND version = %s",
                [(v + 1, now, h, oid, v) for oid, _m, v, _r, _p, h in chained],
            )
            cur.executemany(
                "INSERT INTO vas_events VALUES (%s, %s, 'consent_granted', %s, 'sms', %s, '是', "
                "'activated', '{}', %s, %s)",
                [(oid, v + 1, now, msisdn, p, h) for oid, msisdn, v, _r, p, h in chained],
            )
            cur.executemany(
                "INSERT INTO vas_notices (id, kind, msisdn, order_id, text, at, sender, "
                "language, next_attempt_at, attempts) VALUES (%s, 'activated', %s, %s, "
                "'activated', %s, '10086', 'zh-CN', %s, 1)",
                [(nid, msisdn, oid, now, now) for nid, oid, msisdn in notices],
            )
            conn.commit()
            cur.executemany(
                "UPDATE vas_notices SET delivered_at = %s WHERE id = %s AND delivered_at IS NULL",
                [(now, nid) for nid, _o, _m in notices],
            )
            conn.commit()
    rate = len(numbers) / (time.perf_counter() - began)
    conn.close()
    return rate


def measure(
    name: str,
    make: Callable[[str], Store],
    texts: int,
    size: int,
    by_hand_of: Callable[[str, list[str], int], float] | None = None,
) -> None:
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
    if by_hand_of is None:
        return
    hand = []
    for tag, per in (("hand_one", 1), ("hand_burst", size)):
        lc, numbers = prepared(make(tag), texts, "137")
        lc.close()
        hand.append(by_hand_of(tag, numbers, per))
    print(f"{name} by hand, one per transaction:   {hand[0]:9,.0f} /s")
    print(f"{name} by hand, {size:>4} per transaction: {hand[1]:9,.0f} /s")
    print(f"{name} one by one / by hand:           {alone / hand[0]:9.2f}x")
    print(f"{name} bursts / by hand in bursts:      {burst / hand[1]:9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure(
            "SQLite  ",
            lambda tag: SQLiteStore(Path(tmp) / f"{tag}.db"),
            args.texts,
            args.batch,
            lambda tag, numbers, per: by_hand(Path(tmp) / f"{tag}.db", numbers, per),
        )
    dsn = os.environ.get("VAS_BENCH_POSTGRES_DSN")
    if dsn:
        from pg_schemas import fresh_store

        measure(
            "Postgres",
            lambda tag: fresh_store(dsn, f"vas_bench_batch_{tag}"),
            args.texts,
            args.batch,
            lambda tag, numbers, per: by_hand_postgres(dsn, f"vas_bench_batch_{tag}", numbers, per),
        )


if __name__ == "__main__":
    main()
