"""A worker that drives a random workload on a SQLite store until it is killed.

Run by tests/test_crash.py as ``python -m tests.crash_worker DB JOURNAL DELIVERED RUN SEED``.
After every command that returned, it appends ``order_id version`` to JOURNAL; its
notifier appends each delivered notice id to DELIVERED (both fsync'd), so the test
can tell what was acknowledged before the kill.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys

import pendulum

from vas_lifecycle import (
    CallbackNotifier,
    Channel,
    Lifecycle,
    ManualClock,
    Notice,
    Order,
    SQLiteStore,
    VasError,
)
from vas_lifecycle.testing import demo_catalog

SUBSCRIBERS = [f"+86138000{n:05d}" for n in range(40)]
START = pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai")


class Log:
    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, line: str) -> None:
        os.write(self._fd, (line + "\n").encode())
        os.fsync(self._fd)


def main(db: str, journal_path: str, delivered_path: str, run: int, seed: int) -> None:
    rng = random.Random(seed)
    journal, delivered = Log(journal_path), Log(delivered_path)

    def deliver(notice: Notice) -> None:
        if rng.random() < 0.1:
            raise ConnectionError("gateway hiccup")
        delivered.write(notice.id)

    # each run starts 10 days after the previous one began and never goes past 9 days
    # after its own start, however fast the machine: the test checks the store at
    # START + 10 * run + 9 days, and the next run's clock must not be behind this one's
    clock = ManualClock(START + dt.timedelta(days=10 * run))
    horizon = START + dt.timedelta(days=10 * run + 9)

    def advance(by: dt.timedelta) -> None:
        if clock.now() + by <= horizon:
            clock.advance(by)

    lc = Lifecycle(
        demo_catalog(),
        clock=clock,
        store=SQLiteStore(db),
        notifier=CallbackNotifier(deliver),
        rng=random.Random(seed),
    )

    print("ready", flush=True)  # the test starts its kill timer from here

    def note(order: Order) -> None:
        journal.write(f"{order.id} {order.version}")

    while True:
        msisdn = rng.choice(SUBSCRIBERS)
        action = rng.random()
        try:
            if action < 0.3:
                service = rng.choice(["NEWS", "WEATHER", "JOKE", "MUSIC7", "GAME1"])
                note(lc.request(msisdn, service, channel=rng.choice(list(Channel))))
            elif action < 0.55:
                advance(dt.timedelta(seconds=rng.choice([3, 30])))
                for reply in lc.handle_sms(
                    msisdn, rng.choice(["是", "Y", "否", "0000", "1"]), to="10086"
                ):
                    if reply.order_id:
                        note(lc.get(reply.order_id))
            elif action < 0.65:
                live = lc.live_orders(msisdn)
                if live:
                    note(lc.unsubscribe(rng.choice(live).id, channel=Channel.HOTLINE))
            elif action < 0.8:
                for order in lc.orders_of(msisdn):
                    if lc.may_charge(order.id, order.price).allowed:
                        lc.record_charge(order.id, order.price, key=f"{order.id}/{run}")
                        note(lc.get(order.id))
            elif action < 0.9:
                advance(dt.timedelta(minutes=rng.choice([1, 30, 240])))
                lc.run_due()
            else:
                lc.dispatch()
        except VasError:
            pass  # refusals are part of the workload


if __name__ == "__main__":
    db, journal, delivered, run, seed = sys.argv[1:6]
    main(db, journal, delivered, int(run), int(seed))
