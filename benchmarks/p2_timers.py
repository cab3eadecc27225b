"""P2 timers: ``run_due()`` over many due trials in SQLite, against raw sqlite3.

The reference does the same row work by hand with the stdlib: select the due rows
through an index, update each order (and its evidence head), insert its event
chained to the one before it (C18: a SHA-256 over the event's JSON) and its notice,
in batches of 1 000, one transaction per batch. Goal: the library at least half raw SQLite's rate.

Seeding writes the trials straight into the store's tables (a copy of one real trial
with fresh ids), so a million orders are ready in seconds; only ``run_due()`` is
timed.

Run: .venv/bin/python benchmarks/p2_timers.py [--orders 100000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import attrs
import pendulum

from vas_lifecycle import (
    Channel,
    Lifecycle,
    ManualClock,
    MemoryStore,
    RecordingNotifier,
    SQLiteStore,
)
from vas_lifecycle.evidence import GENESIS, link
from vas_lifecycle.store.sql.codec import (
    ORDER_COLUMNS,
    event_row,
    notice_row,
    order_row,
    ts,
)
from vas_lifecycle.testing import demo_catalog

START = pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai")
BATCH = 1000


def seed(path: Path, orders: int) -> None:
    """N trials, as the lifecycle would have written them, straight into the tables."""
    model = Lifecycle(
        demo_catalog(), clock=ManualClock(START), store=MemoryStore(), notifier=RecordingNotifier()
    )
    template = model.request("+8613800000000", "MUSIC7", channel=Channel.WEB)
    events = model.history(template.id)
    (notice,) = model.notices(template.id)
    SQLiteStore(path).close()  # creates the schema
    conn = sqlite3.connect(path)
    for first in range(0, orders, 50_000):
        rows_o, rows_e, rows_n = [], [], []
        for n in range(first, min(orders, first + 50_000)):
            oid = f"{n:012d}"
            msisdn = f"+86139{n:08d}"
            order = attrs.evolve(template, id=oid, msisdn=msisdn)
            head = GENESIS  # each event chained to the one before it (C18)
            for event in events:
                row = event_row(attrs.evolve(event, order_id=oid))
                prev, head = head, link(head, (*row[:8], dict(event.data)))
                rows_e.append((*row, prev, head))
            rows_o.append(order_row(order, head))
            rows_n.append(
                (
                    *notice_row(attrs.evolve(notice, id=f"n{oid}", order_id=oid, msisdn=msisdn)),
                    "x",
                    1,
                )
            )
        with conn:
            conn.executemany(
                f"INSERT INTO vas_orders ({ORDER_COLUMNS}) "
                f"VALUES ({', '.join('?' * len(rows_o[0]))})",
                rows_o,
            )
            conn.executemany(
                "INSERT INTO vas_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows_e
            )
            conn.executemany(
                "INSERT INTO vas_notices (id, kind, msisdn, order_id, text, at, sender, "
                "language, rule, delivered_at, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows_n,
            )
    conn.close()


def library(folder: Path, orders: int) -> float:
    path = folder / "lib.db"
    seed(path, orders)
    lc = Lifecycle(
        demo_catalog(),
        clock=ManualClock(START.add(days=8)),
        store=SQLiteStore(path),
        notifier=RecordingNotifier(),
        auto_dispatch=False,
    )
    began = time.perf_counter()
    moved = lc.run_due(batch=BATCH)
    elapsed = time.perf_counter() - began
    assert moved == orders, moved
    return orders / elapsed


def raw(folder: Path, orders: int) -> float:
    path = folder / "raw.db"
    seed(path, orders)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    now = ts(START.add(days=8))
    began = time.perf_counter()
    done = 0
    while True:
        conn.execute("BEGIN IMMEDIATE")
        rows = conn.execute(
            "SELECT id, version, msisdn, head FROM vas_orders WHERE due_at IS NOT NULL "
            "AND due_at <= ? "
            "ORDER BY due_at LIMIT ?",
            (now, BATCH),
        ).fetchall()
        if not rows:
            conn.execute("COMMIT")
            break
        updates, events, notices = [], [], []
        for oid, version, msisdn, head in rows:
            event = [oid, version + 1, "trial_ended", now, None, "system", None, "trial ended", {}]
            text = json.dumps(
                ["vas-evidence/1", head, *event], ensure_ascii=False, separators=(",", ":")
            )
            digest = hashlib.sha256(text.encode()).hexdigest()
            updates.append(("cancelled", version + 1, now, digest, oid, version))
            events.append((*event[:8], "{}", head, digest))
            notices.append(
                (
                    os.urandom(16).hex(),
                    "trial_ended",
                    msisdn,
                    oid,
                    "trial ended",
                    now,
                    "10086",
                    "zh-CN",
                    "C6",
                    now,
                )
            )
        conn.executemany(
            "UPDATE vas_orders SET state = ?, version = ?, due_at = NULL, ended_at = ?, "
            "end_reason = 'trial_ended', head = ? WHERE id = ? AND version = ?",
            updates,
        )
        conn.executemany("INSERT INTO vas_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", events)
        conn.executemany(
            "INSERT INTO vas_notices (id, kind, msisdn, order_id, text, at, sender, language, "
            "rule, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            notices,
        )
        conn.execute("COMMIT")
        done += len(rows)
    elapsed = time.perf_counter() - began
    assert done == orders, done
    return orders / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        ref = raw(Path(folder), args.orders)
        ours = library(Path(folder), args.orders)
    print(f"raw sqlite3, same row work:    {ref:10,.0f} orders/s")
    print(f"run_due() on SQLiteStore:      {ours:10,.0f} orders/s")
    print(
        f"library / raw:                 {ours / ref:10.2f}x (goal >= 0.5) [{args.orders:,} due trials]"
    )


if __name__ == "__main__":
    main()
