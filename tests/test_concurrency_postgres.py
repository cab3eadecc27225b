"""Four worker processes on one PostgreSQL: same timers, duplicate replies, racing
unsubscribe and confirm. Each order gets exactly one outcome; invariants hold."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from collections import Counter

import pendulum

from tests.pg_worker import feed_consumer, held_request, keyed_requests, replies, timers
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
from vas_lifecycle.testing.stateful import expected_feed

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


def writer(schema: str) -> tuple[Lifecycle, ManualClock]:
    """The test's own Lifecycle on the schema, at START."""
    clock = ManualClock(START)
    store = PostgresStore(DSN, schema=schema)
    return Lifecycle(demo_catalog(), clock=clock, store=store, notifier=RecordingNotifier()), clock


def test_four_workers_one_outcome_each() -> None:
    require_postgres()
    schema = "vas_test_concurrency"
    drop_schema(schema)
    try:
        lc, clock = writer(schema)
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
        # C18: four workers racing on the same orders leave every chain whole
        evidence = lc.verify_store()
        assert evidence.ok and evidence.orders == 420, evidence.summary()
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
            assert all(tx.outbox.delivered(n.id) for n in tx.outbox.all_notices())
        lc.store.close()
    finally:
        drop_schema(schema)


def waiting_on_a_lock(pids: list[int]) -> set[int]:
    """Which of these backends wait for a lock (the per-subscriber advisory lock)."""
    import psycopg

    with psycopg.connect(DSN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s) AND wait_event_type = 'Lock'",
            (pids,),
        ).fetchall()
    return {row[0] for row in rows}


def run_held(schema: str, msisdn: str, services: list[str]) -> list[str]:
    """One worker process per service, all requesting for ``msisdn`` at the same moment.

    Each stops between reading the subscriber's orders and committing. The test lets
    one go only when every other unfinished worker is seen waiting for the lock, so
    the run is the same on any machine; two workers past the read at once means the
    decisions are not serialised, and fails at once. Returns the order ids."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    when = START.add(minutes=1).isoformat()
    ready = [ctx.Event() for _ in services]
    go = [ctx.Event() for _ in services]
    procs = [
        ctx.Process(
            target=held_request,
            args=(DSN, schema, when, msisdn, service, ready[n], go[n], results, n),
        )
        for n, service in enumerate(services)
    ]
    pids: dict[int, int] = {}
    orders: dict[int, str] = {}
    try:
        for proc in procs:
            proc.start()
        while len(pids) < len(procs):
            kind, n, value = results.get(timeout=120)
            assert kind == "pid"
            pids[n] = value
        released: set[int] = set()
        deadline = time.monotonic() + 240  # a hang guard only: no outcome depends on it
        while len(released) < len(procs):
            assert time.monotonic() < deadline, "the workers never got through"
            holding = [n for n in pids if ready[n].is_set() and n not in released]
            assert len(holding) <= 1, f"workers {holding} read the subscriber's orders at once"
            others = {pids[n] for n in pids if n not in released and n not in holding}
            if holding and waiting_on_a_lock(list(others)) >= others:
                go[holding[0]].set()
                released.add(holding[0])
            time.sleep(0.05)
        while len(orders) < len(procs):
            kind, n, value = results.get(timeout=120)
            assert kind == "order"
            orders[n] = value
    finally:
        for event in go:
            event.set()
        for proc in procs:
            proc.join(timeout=120)
    assert all(proc.exitcode == 0 for proc in procs)
    return [orders[n] for n in sorted(orders)]


def test_invariant_8_concurrent_requests_for_one_subscriber_decide_one_after_another() -> None:
    require_postgres()
    schema = "vas_test_invariant8"
    drop_schema(schema)
    try:
        PostgresStore(DSN, schema=schema).close()
        sub = "+8613800009999"
        # four workers: two ask for the same subscription, two for the on-demand
        # service; SP01's daily limit is 3 and every worker draws the same first code
        ids = run_held(schema, sub, ["NEWS", "NEWS", "JOKE", "WEATHER"])
        lc = Lifecycle(
            demo_catalog(),
            clock=ManualClock(START.add(minutes=2)),
            store=PostgresStore(DSN, schema=schema),
        )
        orders = [lc.get(i) for i in ids]
        live_news = [o for o in orders if o.service_code == "NEWS" and o.is_live]
        assert len(live_news) == 1, "two live orders of one subscription"
        pending_codes = [o.code for o in orders if o.state is OrderState.AWAITING_CONFIRMATION]
        assert len(pending_codes) == len(set(pending_codes)), "two pending orders share a code"
        # whichever worker came fourth was over SP01's limit (every request counts,
        # refused or not), and only that one was booked
        reasons = sorted(o.end_reason or "" for o in orders if o.state is OrderState.REJECTED)
        assert reasons in (["daily_limit"], ["daily_limit", "duplicate_order"])
        assert [v.reason.value for v in lc.sp_violations("SP01")] == ["daily_limit"]
        late = lc.request(sub, "WEATHER", channel=Channel.SP_API)
        assert late.state is OrderState.REJECTED and late.end_reason == "daily_limit"
        assert check_invariants(lc) == []
        lc.close()
    finally:
        drop_schema(schema)


def test_feed_four_processes_deliver_each_orders_events_in_commit_order() -> None:
    """Four processes deliver one subscriber's feed at once, their handlers failing
    now and then: every event is heard, and each order's events are first heard in
    commit order (activated, charged, cancelled), whichever process took them."""
    require_postgres()
    schema = "vas_test_feed_processes"
    drop_schema(schema)
    try:
        lc, clock = writer(schema)
        lc.feed.subscribe("billing", lambda event: None)
        lc.feed.detach("billing")  # registered: this process only writes
        for n in range(60):
            order = lc.request(f"+86138{n:08d}", "NEWS", channel=Channel.WEB)
            clock.advance(dt.timedelta(seconds=5))
            lc.confirm(order.id, msisdn=order.msisdn, channel=Channel.SMS)
            lc.record_charge(order.id, "5.00", key=f"charge-{n}")
            lc.unsubscribe(order.id, channel=Channel.HOTLINE)
        for n in range(40):
            lc.request(f"+86139{n:08d}", "MUSIC7", channel=Channel.WEB)
        clock.advance(dt.timedelta(days=8))
        lc.run_due()  # the trials end
        expected = expected_feed(lc)
        assert sum(map(len, expected.values())) == 60 * 3 + 40 * 2

        ctx = multiprocessing.get_context("spawn")
        counter, heard = ctx.Value("q", 0), ctx.Queue()
        when = clock.now().isoformat()
        barrier = ctx.Barrier(WORKERS)
        procs = [
            ctx.Process(target=feed_consumer, args=(DSN, schema, when, i, counter, heard, barrier))
            for i in range(WORKERS)
        ]
        for proc in procs:
            proc.start()
        # read before joining: a process exits only once what it put is taken
        taken = sorted(item for _ in range(WORKERS) for item in heard.get(timeout=300))
        for proc in procs:
            proc.join(timeout=60)
            assert proc.exitcode == 0, f"consumer failed with {proc.exitcode}"
        first: dict[str, list[str]] = {}
        seen: set[str] = set()
        for _n, event_id, order_id in taken:
            if event_id not in seen:
                seen.add(event_id)
                first.setdefault(order_id, []).append(event_id)
        assert first == expected
        assert lc.feed.backlog("billing") == 0
        lc.store.close()
    finally:
        drop_schema(schema)


def test_keyed_sp_requests_from_four_processes_make_one_order_per_key() -> None:
    """A retry storm: four processes send the same keyed requests at once, and each
    its own body under shared keys. One order per key; no retry counted or booked."""
    require_postgres()
    schema = "vas_test_request_keys"
    drop_schema(schema)
    count = 40
    try:
        lc, _clock = writer(schema)
        run_all(keyed_requests, lambda i: (DSN, schema, START.isoformat(), count, i))
        for n in range(count):
            (order,) = lc.orders_of(f"+86137{n:08d}")
            assert order.state is OrderState.AWAITING_CONFIRMATION
            made = [o for i in range(WORKERS) for o in lc.orders_of(f"+86136{i:02d}{n:06d}")]
            assert len(made) == 1 and made[0].state is OrderState.AWAITING_CONFIRMATION
        assert lc.sp_violations("SP01") == []
        lc.close()
    finally:
        drop_schema(schema)
