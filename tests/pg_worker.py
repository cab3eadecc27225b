"""Worker processes for tests/test_concurrency_postgres.py (run with the spawn method)."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import pendulum

from vas_lifecycle import (
    Channel,
    ConfirmationRefusedError,
    InvalidStateError,
    Lifecycle,
    ManualClock,
    PostgresStore,
    RecordingNotifier,
)
from vas_lifecycle.testing import demo_catalog


def lifecycle(dsn: str, schema: str, when: str) -> Lifecycle:
    clock = ManualClock(pendulum.parse(when))  # type: ignore[arg-type]
    return Lifecycle(
        demo_catalog(),
        clock=clock,
        store=PostgresStore(dsn, schema=schema),
        notifier=RecordingNotifier(),
    )


def replies(
    dsn: str,
    schema: str,
    when: str,
    work: list[tuple[str, str, str, bool]],
    seed: int,
    barrier: Any,
) -> None:
    """Every worker sends the same replies (duplicates) and races unsubscribes with them."""
    lc = lifecycle(dsn, schema, when)
    items = list(work)
    random.Random(seed).shuffle(items)
    barrier.wait()
    for order_id, msisdn, code, race in items:
        lc.handle_sms(msisdn, f"Y {code}", to="10086")
        if race:
            lc.unsubscribe(order_id, channel=Channel.HOTLINE)
        with contextlib.suppress(ConfirmationRefusedError, InvalidStateError):
            # usually already decided by another worker
            lc.confirm(order_id, msisdn=msisdn, channel=Channel.USSD, code=code)


def timers(dsn: str, schema: str, when: str, barrier: Any) -> None:
    """Every worker runs the same due timers and the dispatcher at once."""
    lc = lifecycle(dsn, schema, when)
    barrier.wait()
    lc.run_due(batch=50)
    lc.dispatch()
