"""A billing pass in a process of its own, for the crash and PostgreSQL worker tests:
``python -m tests.bill_worker NOW BATCH (--db PATH | --dsn DSN --schema NAME)``.

Prints ``ready`` once its store is open and starts when it reads a line (so that
several start together), then prints one line per committed batch (the charges so
far), and ``done`` with the summary at the end. After each batch it reads what to
do: ``next`` (one more batch, then ask again), ``run K`` (K more, then ask again),
or, once its input is closed, the rest without asking. So a test can let it go a
known way, then kill it somewhere in the next batches, never after the end.
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

    left: list[int | None] = [0]  # batches before asking again (None: never ask)

    def progress(summary: BillingSummary) -> None:
        say(f"charged {summary.charged}")
        if left[0] is None:
            return
        if left[0] > 0:
            left[0] -= 1
            return
        line = sys.stdin.readline().strip()
        left[0] = None if not line else int(line[4:]) - 1 if line.startswith("run ") else 0

    summary = lc.billing_run(PERIOD, batch=batch, progress=progress)
    say(f"done {summary.charged} {summary.amount}")
    lc.close()


if __name__ == "__main__":
    main(sys.argv[1:])
