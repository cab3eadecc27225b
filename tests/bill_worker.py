"""A billing pass in a process of its own, for the crash and PostgreSQL worker tests:
``python -m tests.bill_worker NOW BATCH (--db PATH | --dsn DSN --schema NAME)``.

Prints ``ready`` once its store is open and starts when it reads a line (so that
several start together), then prints one line per committed batch (the charges so
far), and ``done`` with the summary at the end.
"""

from __future__ import annotations

import datetime as dt
import sys

import pendulum

from vas_lifecycle import (
    BillingSummary,
    Lifecycle,
    ManualClock,
    PostgresStore,
    SQLiteStore,
    Store,
)
from vas_lifecycle.testing import demo_catalog

#: the month every test bills
PERIOD = dt.date(2026, 12, 1)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> None:
    now, batch, where = argv[0], int(argv[1]), argv[2:]
    store: Store
    if where[0] == "--db":
        store = SQLiteStore(where[1])
    else:
        store = PostgresStore(where[1], schema=where[3])
    clock = ManualClock(pendulum.parse(now))  # type: ignore[arg-type]
    lc = Lifecycle(demo_catalog(), clock=clock, store=store)
    say("ready")
    sys.stdin.readline()

    def progress(summary: BillingSummary) -> None:
        say(f"charged {summary.charged}")

    summary = lc.billing_run(PERIOD, batch=batch, progress=progress)
    say(f"done {summary.charged} {summary.amount}")
    lc.close()


if __name__ == "__main__":
    main(sys.argv[1:])
