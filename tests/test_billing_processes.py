"""The billing pass across processes: killed with SIGKILL at random points and
resumed, and two PostgreSQL workers at once. Each order is charged exactly once for
the period, whatever happens."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pendulum

from tests.test_store_postgres import DSN, drop_schema, require_postgres
from vas_lifecycle import (
    Channel,
    Lifecycle,
    ManualClock,
    Order,
    PostgresStore,
    RecordingNotifier,
    SQLiteStore,
    Store,
)
from vas_lifecycle.charging import billing_key
from vas_lifecycle.testing import check_invariants, demo_catalog

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
START = pendulum.datetime(2026, 11, 10, 9, tz="Asia/Shanghai")
#: when the passes run: December has begun
BILLED_AT = pendulum.datetime(2026, 12, 1, 2, tz="Asia/Shanghai")
KILLS = 12


def subscriptions(store: Store, count: int) -> list[Order]:
    """``count`` active monthly subscriptions (NEWS at 5.00, WEATHER at 3.00)."""
    clock = ManualClock(START)
    lc = Lifecycle(demo_catalog(), clock=clock, store=store, notifier=RecordingNotifier())
    asked = [
        lc.request(f"+86138{n:08d}", "NEWS" if n % 3 else "WEATHER", channel=Channel.SP_API)
        for n in range(count)
    ]
    clock.advance(dt.timedelta(seconds=30))
    return [lc.confirm(o.id, msisdn=o.msisdn, channel=Channel.USSD) for o in asked]


def check_charged_once(store: Store, orders: list[Order], *, complete: bool) -> None:
    """At most (``complete``: exactly) one charge per order for the period, under the
    pass's key and at the order's price, and every invariant holds."""
    lc = Lifecycle(demo_catalog(), clock=ManualClock(BILLED_AT), store=store)
    with store.transaction(readonly=True) as tx:
        charges = list(tx.ledger.all_charges())
    by_order = {c.order_id: c for c in charges}
    assert len(by_order) == len(charges), "an order was charged twice"
    prices = {o.id: o.price for o in orders}
    for charge in charges:
        assert charge.key == billing_key(charge.order_id, "2026-12")
        assert charge.amount == prices[charge.order_id]
    if complete:
        assert set(by_order) == set(prices)
    assert check_invariants(lc) == []


def worker(now: pendulum.DateTime, batch: int, *where: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.bill_worker", now.isoformat(), str(batch), *where],
        cwd=ROOT,
        env=ENV,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def start(procs: list[subprocess.Popen[bytes]]) -> None:
    """Wait until each worker has its store open, then let them all go at once."""
    for proc in procs:
        assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
        assert proc.stdout.readline() == b"ready\n", proc.stderr.read().decode()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()


def test_c11_billing_pass_killed_at_random_points_charges_each_order_once(
    tmp_path: Path,
) -> None:
    db = tmp_path / "vas.db"
    store = SQLiteStore(db)
    orders = subscriptions(store, 900)
    store.close()
    rng = random.Random(20261201)
    kills = 0
    for _ in range(KILLS):
        proc = worker(BILLED_AT, 10, "--db", str(db))
        start([proc])
        assert proc.stdout is not None and proc.stderr is not None
        # a random number of committed batches, one at a time; then three more let
        # go at once, and the kill lands somewhere in them (the pass cannot end first)
        assert proc.stdin is not None
        # (at most 3 + 1 + 3 batches a round: 12 rounds never reach the 90th batch)
        for _ in range(rng.randrange(1, 4)):
            line = proc.stdout.readline()
            assert line.startswith(b"charged "), proc.stderr.read().decode()
            proc.stdin.write(b"next\n")
            proc.stdin.flush()
        proc.stdin.write(b"run 3\n")
        proc.stdin.flush()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        kills += 1
        store = SQLiteStore(db)
        check_charged_once(store, orders, complete=False)
        store.close()
    assert kills >= 10
    proc = worker(BILLED_AT, 10, "--db", str(db))
    start([proc])
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines()[-1].startswith("done ")
    store = SQLiteStore(db)
    check_charged_once(store, orders, complete=True)
    store.close()


def test_c11_two_postgres_workers_never_charge_an_order_twice() -> None:
    require_postgres()
    schema = "vas_test_billing_workers"
    drop_schema(schema)
    try:
        store = PostgresStore(DSN, schema=schema)
        orders = subscriptions(store, 1200)
        store.close()
        procs = [worker(BILLED_AT, 40, "--dsn", DSN, "--schema", schema) for _ in range(2)]
        start(procs)
        results = [proc.communicate(timeout=300) for proc in procs]
        for proc, (_, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, err.decode()
        done = [out.decode().splitlines()[-1].split() for out, _ in results]
        # each order charged by one of them: the two counts add up to the orders
        assert sum(int(line[1]) for line in done) == len(orders)
        assert sum(Decimal(line[2]) for line in done) == sum(o.price for o in orders)
        store = PostgresStore(DSN, schema=schema)
        check_charged_once(store, orders, complete=True)
        store.close()
    finally:
        drop_schema(schema)
