"""Four worker processes on one PostgreSQL: same timers, duplicate replies, racing
unsubscribe and confirm. Each order gets exactly one outcome; invariants hold."""

from __future__ import annotations

import multiprocessing
from collections import Counter

import pendulum

from tests.pg_worker import replies, timers
from tests.test_store_postgres import DSN, drop_schema, require_postgres
from vas_lifecycle import (
    Channel,
    EventKind,
    Lifecycle,
    ManualClock,
    NoticeKind,
    OrderState,
    PostgresStore,
    RecordingNotifier,
)
from vas_lifecycle.testing import check_invariants, demo_catalog

WORKERS = 4
START = pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai")


def run_all(target, args_for) -> None:  # type: ignore[no-untyped-def]
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    procs = [ctx.Process(target=target, args=(*args_for(i), barrier)) for i in range(WORKERS)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=300)
        assert proc.exitcode == 0, f"worker failed with {proc.exitcode}"


def test_four_workers_one_outcome_each() -> None:
    require_postgres()
    schema = "vas_test_concurrency"
    drop_schema(schema)
    try:
        clock = ManualClock(START)
        lc = Lifecycle(
            demo_catalog(),
            clock=clock,
            store=PostgresStore(DSN, schema=schema),
            notifier=RecordingNotifier(),
        )
        subs = [lc.request(f"+86138{n:08d}", "NEWS", channel=Channel.SP_API) for n in range(120)]
        trials = [lc.request(f"+86139{n:08d}", "MUSIC7", channel=Channel.WEB) for n in range(300)]
        work = [(o.id, o.msisdn, o.code or "", n % 2 == 0) for n, o in enumerate(subs)]

        replies_at = START.add(minutes=1).isoformat()
        run_all(replies, lambda i: (DSN, schema, replies_at, work, i))
        timers_at = START.add(days=8).isoformat()
        run_all(
            timers,
            lambda i: (
                DSN,
                schema,
                timers_at,
            ),
        )

        clock.set(START.add(days=8))
        lc.run_due()
        while lc.dispatch():
            pass
        problems = check_invariants(lc, settled=True)
        assert problems == [], "\n".join(map(str, problems[:20]))
        for order in subs:
            events = Counter(e.kind for e in lc.history(order.id))
            notices = Counter(n.kind for n in lc.notices(order.id))
            final = lc.get(order.id)
            assert events[EventKind.ORDER_CANCELLED] <= 1
            if final.state is OrderState.ACTIVE:
                assert events[EventKind.CONSENT_GRANTED] == 1 and notices[NoticeKind.ACTIVATED] == 1
            else:
                assert final.state is OrderState.CANCELLED
                assert notices[NoticeKind.CANCELLED] == 1
                assert events[EventKind.CONSENT_GRANTED] <= 1
        raced = [lc.get(o.id).state for n, o in enumerate(subs) if n % 2 == 0]
        assert set(raced) == {OrderState.CANCELLED}
        calm = [lc.get(o.id).state for n, o in enumerate(subs) if n % 2 == 1]
        assert set(calm) == {OrderState.ACTIVE}
        for trial in trials:
            notices = Counter(n.kind for n in lc.notices(trial.id))
            assert lc.get(trial.id).state is OrderState.CANCELLED
            assert notices[NoticeKind.TRIAL_ENDED] == 1 and notices[NoticeKind.TRIAL_REMINDER] <= 1
        with lc.store.transaction() as tx:
            assert all(tx.delivered(n.id) for n in tx.all_notices())
        lc.store.close()
    finally:
        drop_schema(schema)
