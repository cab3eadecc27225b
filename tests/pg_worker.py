"""Worker processes for tests/test_concurrency_postgres.py (run with the spawn method)."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

import pendulum

from vas_lifecycle import (
    Channel,
    ConfirmationRefusedError,
    IdempotencyKeyError,
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


class _Held:
    """A transaction's orders that stop right after reading the subscriber's live
    orders, until the test lets it go: two workers held there at once would each
    decide from their own read (what the per-subscriber lock must make impossible)."""

    def __init__(self, orders: Any, ready: Any, go: Any) -> None:
        self._orders, self._ready, self._go = orders, ready, go

    def __getattr__(self, name: str) -> Any:
        return getattr(self._orders, name)

    def live_orders_of(self, msisdn: str) -> Any:
        found = self._orders.live_orders_of(msisdn)
        self._ready.set()
        if not self._go.wait(timeout=120):
            raise RuntimeError("the test never let this worker go")
        return found


class HeldPostgresStore(PostgresStore):
    def __init__(self, dsn: str, schema: str, ready: Any, go: Any) -> None:
        super().__init__(dsn, schema=schema)
        self._ready, self._go = ready, go

    @contextlib.contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Any]:
        with super().transaction(readonly=readonly) as tx:
            if readonly:
                yield tx
                return
            own = tx.orders
            tx.orders = _Held(own, self._ready, self._go)
            try:
                yield tx
            finally:  # the store hands out the same transaction object again
                tx.orders = own


def held_request(
    dsn: str,
    schema: str,
    when: str,
    msisdn: str,
    service: str,
    ready: Any,
    go: Any,
    results: Any,
    n: int,
) -> None:
    """Request ``service`` for ``msisdn`` from the SP's platform, held after the read.

    Every worker draws codes from the same seed: without serialisation two pending
    orders would get the same code."""
    clock = ManualClock(pendulum.parse(when))  # type: ignore[arg-type]
    store = HeldPostgresStore(dsn, schema, ready, go)
    with store.transaction(readonly=True) as tx:  # the backend is up: say who it is
        (pid,) = tx.query("SELECT pg_backend_pid()")[0]
    results.put(("pid", n, pid))
    lc = Lifecycle(demo_catalog(), clock=clock, store=store, rng=random.Random(7))
    order = lc.request(msisdn, service, channel=Channel.SP_API)
    results.put(("order", n, order.id))


def feed_consumer(
    dsn: str, schema: str, when: str, seed: int, counter: Any, heard: Any, barrier: Any
) -> None:
    """One of several processes delivering the same subscriber's feed at once, with a
    handler that fails now and then. Each delivery is numbered by a counter shared by
    all the processes, at the moment the handler takes it."""
    clock = ManualClock(pendulum.parse(when))  # type: ignore[arg-type]
    lc = Lifecycle(
        demo_catalog(), clock=clock, store=PostgresStore(dsn, schema=schema), notifier=None
    )
    rng = random.Random(seed)
    taken: list[tuple[int, str, str]] = []

    def handler(event: Any) -> None:
        if rng.random() < 0.2:
            raise ConnectionError("billing backend hiccup")
        with counter.get_lock():
            counter.value += 1
            taken.append((counter.value, event.id, event.order_id))

    lc.feed.subscribe("billing", handler)
    barrier.wait()
    for round_ in range(100_000):
        if lc.feed.backlog("billing") == 0:
            break
        # time runs on: failed events come due again, and so do leases of the others
        clock.advance(dt.timedelta(seconds=rng.choice((1, 10, 60))))
        lc.feed.publish(limit=rng.choice((1, 5, 20)))
        if round_ % 50 == 49:
            lc.feed.retry_parked("billing")
    heard.put(taken)
    lc.close()


def keyed_requests(dsn: str, schema: str, when: str, count: int, seed: int, barrier: Any) -> None:
    """Every process sends the same keyed SP requests (``k<n>``, a retry storm), and
    its own body under each shared key ``x<n>`` (a key reused for another request)."""
    lc = lifecycle(dsn, schema, when)
    work = [("k", n) for n in range(count)] + [("x", n) for n in range(count)]
    random.Random(seed).shuffle(work)
    barrier.wait()
    for kind, n in work:
        number = f"+86137{n:08d}" if kind == "k" else f"+86136{seed:02d}{n:06d}"
        with contextlib.suppress(IdempotencyKeyError):
            lc.request(
                number, "NEWS", channel=Channel.SP_API, sp_id="SP01", idempotency_key=f"{kind}{n}"
            )
    lc.close()
