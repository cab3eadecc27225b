"""The store contract: every store must pass these tests.

Subclass :class:`StoreContract` in a test module, name the subclass ``Test...`` and
implement the abstract ``make_store``; pytest runs every ``test_`` method on it. It
is made of one contract per part of a transaction, each usable alone while a store
is being written: :class:`TransactionContract` (an atomic unit of work, reading
one's own writes, read-only transactions, two threads racing for one order,
savepoints and batches, hostile text, random interleavings of the whole lifecycle),
:class:`OrderRecorderContract` (``tx.orders``), :class:`LeasedQueueContract` (the
shape the outbox and each feed subscriber share), :class:`NoticeRecorderContract`
(``tx.outbox``), :class:`ChargeRecorderContract` (``tx.ledger``),
:class:`SpendRecorderContract` (``tx.spend``), :class:`UsageRecorderContract`
(``tx.usage``),
:class:`EvidenceRecorderContract` (``tx.evidence``), :class:`KeyRecorderContract`
(``tx.keys``) and :class:`FeedRecorderContract` (``tx.feed``).
The project runs it on ``MemoryStore``, ``SQLiteStore`` and ``PostgresStore``; a
third-party store passes the same suite::

    class TestMyStore(StoreContract):
        def make_store(self):
            return MyStore(...)

The tests use plain ``assert`` and need no test framework beyond one that collects
classes (pytest does).
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import random
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import pendulum
from hypothesis import settings

from vas_lifecycle.clock import ManualClock
from vas_lifecycle.errors import BatchError, ForcedSubscriptionError
from vas_lifecycle.evidence import GENESIS
from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.notices import Notice, NoticeKind
from vas_lifecycle.order import Event, EventKind, Order, apply
from vas_lifecycle.policy import Channel
from vas_lifecycle.records import (
    DeliveryReport,
    DeliveryStatus,
    FeedEvent,
    FeedKind,
    QueueDepth,
    ReasonCode,
    Refund,
    RefundClaim,
    RequestKey,
    SpKey,
    SpViolation,
)
from vas_lifecycle.sms import PickSession
from vas_lifecycle.states import OrderState
from vas_lifecycle.store.base import ConflictError, LeasedQueue, Store, Transaction
from vas_lifecycle.testing.catalogs import demo_catalog
from vas_lifecycle.testing.invariants import check_invariants
from vas_lifecycle.testing.stateful import FlakyNotifier, LifecycleMachine

__all__ = [
    "ChargeRecorderContract",
    "EvidenceRecorderContract",
    "FeedRecorderContract",
    "KeyRecorderContract",
    "LeasedQueueContract",
    "NoticeRecorderContract",
    "OrderRecorderContract",
    "SpendRecorderContract",
    "StoreContract",
    "TransactionContract",
    "UsageRecorderContract",
]

T = TypeVar("T")

SUB = "+8613800138000"
START = pendulum.datetime(2026, 11, 24, tz="UTC")
OTHER = "+8613900139000"


def _add_key(store: Store, key: SpKey) -> None:
    with store.transaction() as tx:
        tx.keys.add_sp_key(key)


class _Undo(Exception):
    """Raised inside a unit of work to have it rolled back."""


def _cancel(order: Order, at: Any, actor: str = "agent") -> Event:
    """The event that cancels ``order`` by a hotline agent, the next of its history."""
    return Event(
        order.id,
        order.version + 1,
        EventKind.ORDER_CANCELLED,
        at,
        Channel.HOTLINE,
        actor,
        data={"reason": "unsubscribed", "from_state": order.state.value},
    )


def _in_savepoint(tx: Transaction, order: Order, event: Event, version: int) -> None:
    with tx.savepoint():
        tx.orders.append(order, [event], version)


def _add_request_key(store: Store, record: RequestKey) -> None:
    with store.transaction() as tx:
        tx.keys.add_request_key(record)


def _feed_event(event_id: str, order_id: str, seq: int, kind: FeedKind, at: Any) -> FeedEvent:
    return FeedEvent(
        event_id, kind, order_id, seq, at, SUB, "NEWS", "SP01", "active", {"price": "5.00"}
    )


def _in_two_threads(store: Store, work: Callable[[Transaction], T]) -> list[T]:
    """``work`` in two transactions of two threads started at the same moment; what
    each returned (any error is raised)."""
    barrier = threading.Barrier(2, timeout=30)
    results: list[T] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            with store.transaction() as tx:
                results.append(work(tx))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [], errors
    return results


class _Wired(Store):
    """The store under test with tripwires: ``trips[recorder] = (method, trip)``
    calls ``trip`` with the method's arguments after each call of that recorder's
    method (the trip raises to inject a failure there). Each transaction sees the
    wired recorders; the store's own are put back when it ends."""

    def __init__(self, store: Store, trips: dict[str, tuple[str, Callable[..., None]]]) -> None:
        self.store = store
        self.trips = dict(trips)

    @contextlib.contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Transaction]:
        with self.store.transaction(readonly=readonly) as tx:
            own = {name: getattr(tx, name) for name in self.trips}
            for name, (method, trip) in self.trips.items():
                setattr(tx, name, _Tripwire(own[name], method, trip))
            try:
                yield tx
            finally:
                for name, recorder in own.items():
                    setattr(tx, name, recorder)

    def close(self) -> None:
        self.store.close()


class _Tripwire:
    def __init__(self, inner: Any, method: str, trip: Callable[..., None]) -> None:
        self._inner, self._method, self._trip = inner, method, trip

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name != self._method:
            return found

        def tripped(*args: Any, **kwargs: Any) -> Any:
            result = found(*args, **kwargs)
            self._trip(*args, **kwargs)
            return result

        return tripped


def _raises(error: type[BaseException], action: Callable[[], Any]) -> BaseException:
    try:
        action()
    except error as err:
        return err
    raise AssertionError(f"expected {error.__name__}")


class _Contract(abc.ABC):
    """What every part of the contract needs: a new store, and a lifecycle on one."""

    #: examples of the random-interleavings test run on the store
    stateful_examples = 25

    @abc.abstractmethod
    def make_store(self) -> Store:
        """A new, empty store (each test makes its own)."""

    def lifecycle(self, store: Store | None = None) -> tuple[Lifecycle, ManualClock]:
        clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai"))
        lc = Lifecycle(
            demo_catalog(),
            clock=clock,
            store=store if store is not None else self.make_store(),
            notifier=FlakyNotifier(),
            rng=random.Random(1),
        )
        return lc, clock

    def active(self, lc: Lifecycle, clock: ManualClock, msisdn: str = SUB) -> Order:
        order = lc.request(msisdn, "NEWS", channel=Channel.WEB)
        clock.advance(dt.timedelta(seconds=10))
        return lc.confirm(order.id, msisdn=msisdn, channel=Channel.SMS)


class TransactionContract(_Contract):
    """The behaviour of a store's :class:`~vas_lifecycle.store.base.Transaction`:
    The unit of work as a whole: all or nothing, isolation, savepoints, batches,
    hostile text and random interleavings of the whole lifecycle."""

    def test_contract_failed_unit_of_work_leaves_nothing(self) -> None:
        lc, clock = self.lifecycle()
        order = self.active(lc, clock)
        before = (lc.get(order.id), lc.history(order.id), lc.notices(order.id))

        def failing() -> None:
            with lc.store.transaction() as tx:
                tx.evidence.add_violation(
                    SpViolation(
                        "v", "SP01", SUB, order.id, ReasonCode.TOO_FAST, clock.now(), None, ""
                    )
                )
                tx.orders.put_pick_session(PickSession(SUB, (order.id,), clock.now(), clock.now()))
                raise RuntimeError("boom")

        _raises(RuntimeError, failing)
        lc.unsubscribe(order.id, channel=Channel.SMS)  # still works after a rollback
        assert lc.sp_violations() == []
        assert lc.get(order.id).state is OrderState.CANCELLED
        assert lc.history(order.id)[: len(before[1])] == before[1]
        with lc.store.transaction() as tx:
            assert tx.orders.pick_session(SUB) is None

    def test_contract_a_batch_is_all_or_nothing(self) -> None:
        """Several orders, notices and a violation in one transaction: a failure at
        the end leaves none of them; the same batch without it stores all of them."""
        lc, clock = self.lifecycle()
        a = lc.request(SUB, "NEWS", channel=Channel.WEB)
        b = lc.request(OTHER, "NEWS", channel=Channel.WEB)
        now = clock.now()

        def cancelled(order: Order) -> tuple[Order, Event]:
            event = _cancel(order, now)
            return apply(order, event), event

        violation = SpViolation("v1", "SP01", SUB, a.id, ReasonCode.TOO_FAST, now, None, "x")

        def batch(fail: bool) -> None:
            with lc.store.transaction() as tx:
                for order in (a, b):
                    after, event = cancelled(order)
                    tx.orders.append(after, [event], order.version)
                tx.evidence.add_violation(violation)
                if fail:
                    raise RuntimeError("the unit of work failed at the end")

        _raises(RuntimeError, lambda: batch(fail=True))
        assert [lc.get(a.id).state, lc.get(b.id).state] == [OrderState.AWAITING_CONFIRMATION] * 2
        assert lc.sp_violations() == []
        batch(fail=False)
        assert [lc.get(a.id).state, lc.get(b.id).state] == [OrderState.CANCELLED] * 2
        assert lc.sp_violations() == [violation]

    def test_contract_read_only_transactions_read_what_was_committed(self) -> None:
        lc, clock = self.lifecycle()
        order = self.active(lc, clock)
        with lc.store.transaction(readonly=True) as tx:
            assert tx.orders.get_order(order.id) == order
            assert [e.kind for e in tx.orders.events(order.id)][-1] is EventKind.CONSENT_GRANTED
            assert [o.id for o in tx.orders.live_orders_of(SUB)] == [order.id]
            assert tx.orders.get_order("no such order") is None

    def test_contract_two_threads_racing_for_one_order_one_wins(self) -> None:
        """Two writers read the same version and both write: exactly one commits, the
        other gets ConflictError, and the stored order is the winner's."""
        lc, clock = self.lifecycle()
        order = self.active(lc, clock)
        events = {
            who: Event(
                order.id,
                order.version + 1,
                EventKind.ORDER_CANCELLED,
                clock.now(),
                Channel.HOTLINE,
                who,
                data={"reason": "unsubscribed", "from_state": "active"},
            )
            for who in ("first", "second")
        }
        start = threading.Barrier(2)
        outcome: dict[str, str] = {}

        def write(who: str) -> None:
            start.wait(timeout=30)
            try:
                with lc.store.transaction() as tx:
                    tx.orders.append(apply(order, events[who]), [events[who]], order.version)
            except ConflictError:
                outcome[who] = "conflict"
            else:
                outcome[who] = "committed"

        threads = [threading.Thread(target=write, args=(who,)) for who in events]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcome.values()) == ["committed", "conflict"], outcome
        (winner,) = [who for who, result in outcome.items() if result == "committed"]
        assert lc.history(order.id)[-1].actor == winner
        assert lc.get(order.id).version == order.version + 1

    def test_contract_reads_see_the_unit_of_works_own_writes(self) -> None:
        lc, clock = self.lifecycle()
        news = lc.request(SUB, "NEWS", channel=Channel.WEB)
        cancel = _cancel(news, clock.now())
        with lc.store.transaction() as tx:
            tx.orders.lock_subscriber(SUB)
            tx.orders.append(apply(news, cancel), [cancel], news.version)
            assert tx.orders.live_orders_of(SUB) == []
            assert tx.orders.latest_language(SUB) == news.language

    def test_contract_a_savepoint_undoes_only_its_own_part(self) -> None:
        """What a savepoint's block writes is undone alone when it raises, batched
        writes (an order's change) and direct ones (a request key) alike; what came
        before and what comes after in the same transaction is committed."""
        lc, clock = self.lifecycle()
        news = lc.request(SUB, "NEWS", channel=Channel.WEB)
        now = clock.now()
        cancel = _cancel(news, now)

        def key(name: str) -> RequestKey:
            return RequestKey("", name, "f" * 64, None, 0, None, now)

        with lc.store.transaction() as tx:
            tx.keys.add_request_key(key("before"))
            try:
                with tx.savepoint():
                    tx.keys.add_request_key(key("inside"))
                    tx.orders.append(apply(news, cancel), [cancel], news.version)
                    assert tx.orders.get_order(news.id).state is OrderState.CANCELLED  # type: ignore[union-attr]
                    raise RuntimeError("this command failed")
            except RuntimeError:
                pass
            assert (
                tx.orders.get_order(news.id) == news and tx.keys.request_key("", "inside") is None
            )
            with tx.savepoint():
                tx.keys.add_request_key(key("after"))
                tx.orders.append(apply(news, cancel), [cancel], news.version)
        with lc.store.transaction(readonly=True) as tx:
            kept = {n for n in ("before", "inside", "after") if tx.keys.request_key("", n)}
            assert kept == {"before", "after"}
            assert tx.orders.get_order(news.id) == apply(news, cancel)
            assert tx.orders.events(news.id)[-1] == cancel

    def test_contract_a_conflict_inside_a_savepoint_is_raised_there(self) -> None:
        """A version conflict in a savepoint surfaces inside it, so a batch can set that
        one command aside and commit the others."""
        lc, clock = self.lifecycle()
        news = lc.request(SUB, "NEWS", channel=Channel.WEB)
        stale = _cancel(news, clock.now())
        lc.unsubscribe(news.id, channel=Channel.SMS)  # moves the version on
        other = lc.request(OTHER, "NEWS", channel=Channel.WEB)
        fresh = attrs.evolve(stale, order_id=other.id)
        with lc.store.transaction() as tx:
            moved_on = apply(news, stale)  # from the version the order no longer has
            _raises(ConflictError, lambda: _in_savepoint(tx, moved_on, stale, news.version))
            tx.orders.append(apply(other, fresh), [fresh], other.version)  # the batch goes on
        assert lc.get(other.id).state is OrderState.CANCELLED

    def test_contract_a_batch_keeps_each_commands_outcome(self) -> None:
        """Texts run as one batch (``handle_sms_many``: one transaction, a savepoint
        each when they do not run straight through): a failure injected in the middle
        of the batch, after the text's writes, undoes that text alone, a conflict runs
        it again alone, and every other text keeps its own outcome."""
        store = self.make_store()
        subs = [f"+86138000{n:05d}" for n in range(6)]
        conflicted: list[str] = []

        def fail_after_the_writes(notice: Notice, **_: object) -> None:
            if notice.msisdn == subs[2] and notice.kind is NoticeKind.ACTIVATED:
                raise RuntimeError("injected after the text's writes")

        def conflict_once(order: Order, *_: object) -> None:
            if order.msisdn == subs[4] and not conflicted:
                conflicted.append(order.msisdn)
                raise ConflictError.concurrent("another worker wrote the order")

        wired = _Wired(
            store,
            {"outbox": ("add_notice", fail_after_the_writes), "orders": ("append", conflict_once)},
        )
        lc, clock = self.lifecycle(store)
        for sub in subs[:5]:
            if sub != subs[3]:  # subs[3] has nothing pending: a reply, no change
                lc.request(sub, "NEWS", channel=Channel.WEB)
        clock.advance(dt.timedelta(minutes=1))
        with_failures = Lifecycle(
            demo_catalog(), clock=clock, store=wired, notifier=FlakyNotifier()
        )
        raised = _raises(
            BatchError,
            lambda: with_failures.handle_sms_many([(s, "是", "10086") for s in subs[:5]]),
        )
        assert isinstance(raised, BatchError)
        states = [[o.state for o in lc.orders_of(sub)] for sub in subs[:5]]
        active, waiting = [OrderState.ACTIVE], [OrderState.AWAITING_CONFIRMATION]
        assert states == [active, active, waiting, [], active]
        assert list(raised.errors) == [2]
        assert isinstance(raised.errors[2].__cause__, RuntimeError)
        replies = raised.results
        assert [n.kind for n in replies[3]] == [NoticeKind.NOTHING_PENDING]
        for n in (0, 1, 4):
            assert [k.kind for k in replies[n]] == [NoticeKind.ACTIVATED]
        assert conflicted == [subs[4]]  # once in the batch, then alone
        assert check_invariants(lc) == []

    def test_contract_c10a_nul_and_surrogates_never_stop_a_command(self) -> None:
        lc, clock = self.lifecycle()
        order = lc.request(
            SUB, "NEWS", channel=Channel.WEB, actor="agent\x00\ud800", text="订\x00阅\udfff"
        )
        clock.advance(dt.timedelta(seconds=10))
        lc.handle_sms(SUB, "Y\x00\ud800", to="10086")
        assert lc.get(order.id).state is OrderState.ACTIVE
        lc.record_charge(order.id, Decimal("5.00"), key="2026-11/NEWS")
        replies = lc.handle_sms(SUB, "TD\x00", to="10658001")  # TD and a NUL, as a gateway sent it
        assert [r.kind for r in replies] == [NoticeKind.CANCELLED]
        assert lc.get(order.id).state is OrderState.CANCELLED
        texts = [(e.actor, e.text_in) for e in lc.history(order.id)]
        # NUL is kept as its control picture, a lone surrogate as U+FFFD: readable
        assert texts[0] == ("agent\u2400\ufffd", "订\u2400阅\ufffd")
        assert ("+8613800138000", "Y\u2400\ufffd") in texts
        assert texts[-1][1] == "TD\u2400"
        assert check_invariants(lc) == []

    def test_contract_c14_markup_and_huge_texts_are_kept_literally(self) -> None:
        lc, clock = self.lifecycle()
        order = lc.request(SUB, "NEWS", channel=Channel.WEB)
        clock.advance(dt.timedelta(seconds=10))
        lc.handle_sms(SUB, "[/]<b>'; DROP TABLE vas_orders; --" + "长" * 100_000, to="10086")
        lc.handle_sms(SUB, "Y", to="10086")
        assert lc.get(order.id).state is OrderState.ACTIVE
        with lc.store.transaction(readonly=True) as tx:
            notices = [n for n in tx.outbox.all_notices() if n.kind is NoticeKind.UNRECOGNISED]
        assert len(notices) == 1 and "[/]" not in notices[0].text  # echoes letters only

    def test_contract_random_interleavings_keep_the_invariants(self) -> None:
        contract = self

        class OnThisStore(LifecycleMachine):
            def make_store(self) -> Store:
                return contract.make_store()

        case = OnThisStore.TestCase
        case.settings = settings(
            max_examples=self.stateful_examples, stateful_step_count=25, deadline=None
        )
        case("runTest").runTest()


class OrderRecorderContract(_Contract):
    """The behaviour of a store's :class:`~vas_lifecycle.store.base.OrderRecorder`:
    ``tx.orders``: orders and events, what commands read to decide, timers, pick
    lists, purging."""

    def test_contract_c17_paying_subscribers_a_batch_at_a_time(self) -> None:
        lc, clock = self.lifecycle()
        paying = self.active(lc, clock)
        lc.request(OTHER, "MUSIC7", channel=Channel.WEB)  # a trial: not a paid subscription
        third = "+8613700137000"
        late = lc.request(third, "WEATHER", channel=Channel.WEB)
        clock.advance(dt.timedelta(seconds=10))
        lc.confirm(late.id, msisdn=third, channel=Channel.SMS)
        clock.advance(dt.timedelta(seconds=1))
        cut = clock.now()  # activated strictly before it: both above
        clock.advance(dt.timedelta(hours=1))
        news = lc.request(third, "NEWS", channel=Channel.WEB)  # activated after the cut
        clock.advance(dt.timedelta(seconds=10))
        lc.confirm(news.id, msisdn=third, channel=Channel.SMS)
        with lc.store.transaction() as tx:
            first = tx.orders.paying_subscribers("", cut, 1)
            assert [o.id for o in first] == [late.id]  # +86137... sorts before +86138...
            rest = tx.orders.paying_subscribers(first[-1].msisdn, cut, 10)
            assert [o.id for o in rest] == [paying.id]
            assert tx.orders.paying_subscribers(SUB, cut, 10) == []
            assert tx.orders.sweep("monthly") is None
            tx.orders.put_sweep("monthly", "2026-12", third)
        with lc.store.transaction() as tx:
            assert tx.orders.sweep("monthly") == ("2026-12", third)
            tx.orders.put_sweep("monthly", "2026-12", "~")
        with lc.store.transaction() as tx:
            assert tx.orders.sweep("monthly") == ("2026-12", "~")

    def test_contract_orders_and_events_round_trip(self) -> None:
        lc, clock = self.lifecycle()
        order = self.active(lc, clock)
        trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB, text="体验 ✓ \U0001f3b5")
        lc.request(OTHER, "JOKE", channel=Channel.SMS)
        assert lc.get(order.id) == order
        assert Order.from_events(lc.history(order.id)) == order
        assert lc.history(trial.id)[0].text_in == "体验 ✓ \U0001f3b5"
        assert [o.id for o in lc.orders_of(SUB)] == [order.id, trial.id]
        assert lc.get(trial.id).trial_ends_at == trial.trial_ends_at
        assert check_invariants(lc) == []

    def test_contract_stale_version_conflicts(self) -> None:
        lc, clock = self.lifecycle()
        order = self.active(lc, clock)
        events = lc.history(order.id)
        store = lc.store
        cancel = attrs.evolve(events[-1], seq=order.version + 1)
        with store.transaction() as tx:
            current = tx.orders.get_order(order.id)
            assert current is not None
            tx.orders.append(
                attrs.evolve(current, version=current.version + 1), [cancel], order.version
            )

        def stale() -> None:
            with store.transaction() as tx:
                tx.orders.append(
                    attrs.evolve(order, version=order.version + 1), [cancel], order.version
                )

        _raises(ConflictError, stale)

        def duplicate_new() -> None:
            with store.transaction() as tx:
                tx.orders.append(order, events, 0)

        _raises(ConflictError, duplicate_new)

    def test_contract_due_orders_earliest_first_with_limit(self) -> None:
        lc, clock = self.lifecycle()
        long_trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
        short_trial = lc.request(OTHER, "GAME1", channel=Channel.WEB)
        pending = lc.request(SUB, "NEWS", channel=Channel.WEB)
        late = clock.now().add(days=30)
        with lc.store.transaction() as tx:
            due = tx.orders.due_orders(late, 10)
            assert [o.id for o in due] == [short_trial.id, pending.id, long_trial.id]
            assert [o.id for o in tx.orders.due_orders(late, 1)] == [short_trial.id]
            assert tx.orders.due_orders(clock.now(), 10) == []

    def test_contract_limits_take_the_earliest_and_leave_the_rest(self) -> None:
        """``outbox.claim``, ``outbox.parked`` and ``orders.due_orders`` return at most
        ``limit`` items, earliest first; what is left is there for the next call."""
        lc, clock = self.lifecycle()
        lc.notifier.failing = True  # type: ignore[union-attr]
        for msisdn in (SUB, OTHER, "+8613700137000"):
            lc.request(msisdn, "MUSIC7", channel=Channel.WEB)
            clock.advance(dt.timedelta(seconds=1))
        later = clock.now().add(hours=1)
        with lc.store.transaction() as tx:
            first = tx.outbox.claim(later, later.add(minutes=2), 2)
            rest = tx.outbox.claim(later, later.add(minutes=2), 2)
        assert len(first) == 2 and len(rest) == 1
        assert [d.notice.msisdn for d in first + rest] == [SUB, OTHER, "+8613700137000"]
        with lc.store.transaction() as tx:
            for item in first + rest:
                tx.outbox.mark_failed(item.notice.id, "down", None)
        with lc.store.transaction(readonly=True) as tx:
            assert len(tx.outbox.parked(2)) == 2 and len(tx.outbox.parked(10)) == 3
            assert len(tx.orders.due_orders(later.add(days=30), 2)) == 2

    def test_contract_finished_before_names_only_orders_that_ended_before(self) -> None:
        lc, clock = self.lifecycle()
        early = self.active(lc, clock)
        lc.unsubscribe(early.id, channel=Channel.SMS)
        clock.advance(dt.timedelta(days=2))
        cutoff = clock.now()
        clock.advance(dt.timedelta(days=2))
        late = self.active(lc, clock, OTHER)
        lc.unsubscribe(late.id, channel=Channel.SMS)
        live = lc.request("+8613700137000", "NEWS", channel=Channel.WEB)
        with lc.store.transaction(readonly=True) as tx:
            assert tx.orders.finished_before(cutoff) == [early.id]
            assert sorted(tx.orders.finished_before(clock.now().add(seconds=1))) == sorted(
                [early.id, late.id]
            )
            assert live.id not in tx.orders.finished_before(clock.now().add(days=1))

    def test_contract_pick_session_is_replaced(self) -> None:
        store = self.make_store()
        now = pendulum.datetime(2026, 11, 24, tz="UTC")
        first = PickSession(SUB, ("a", "b"), now, now.add(hours=2))
        second = PickSession(SUB, ("c",), now.add(minutes=5), now.add(hours=3))
        with store.transaction() as tx:
            tx.orders.put_pick_session(first)
        with store.transaction() as tx:
            assert tx.orders.pick_session(SUB) == first
            tx.orders.put_pick_session(second)
        with store.transaction() as tx:
            assert tx.orders.pick_session(SUB) == second
            assert tx.orders.pick_session(OTHER) is None

    def test_contract_purge_removes_only_finished_orders(self) -> None:
        lc, clock = self.lifecycle()
        finished = self.active(lc, clock)
        lc.record_charge(finished.id, Decimal("5.00"), key="k")
        lc.unsubscribe(finished.id, channel=Channel.SMS)
        live = lc.request(OTHER, "NEWS", channel=Channel.WEB)
        with lc.store.transaction() as tx:
            assert tx.orders.purge([finished.id, live.id]) == 1
        with lc.store.transaction() as tx:
            assert tx.orders.get_order(finished.id) is None
            assert tx.orders.events(finished.id) == [] and tx.outbox.notices(finished.id) == []
            assert tx.ledger.charges(finished.id) == []
            assert tx.orders.get_order(live.id) is not None

    def test_contract_reads_for_decisions(self) -> None:
        lc, clock = self.lifecycle()
        day = lc.policy.local_day(clock.now())
        news = lc.request(SUB, "NEWS", channel=Channel.SP_API)
        clock.advance(dt.timedelta(seconds=1))
        joke = lc.request(SUB, "JOKE", channel=Channel.SMS)
        clock.advance(dt.timedelta(seconds=1))
        trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB, language="en")
        lc.unsubscribe(trial.id, channel=Channel.HOTLINE)
        lc.request(OTHER, "WEATHER", channel=Channel.SP_API)
        with lc.store.transaction(readonly=True) as tx:
            assert [o.id for o in tx.orders.live_orders_of(SUB)] == [news.id]
            assert tx.orders.count_sp_requests(SUB, "SP01", *day) == 1
            assert tx.orders.count_sp_requests(SUB, "SP02", *day) == 0
            assert tx.orders.fee_notice_between(SUB, "JOKE", *day) == joke.fee_notice_id
            assert tx.orders.fee_notice_between(SUB, "NEWS", *day) is None
            assert tx.orders.latest_language(SUB) == "en"  # the latest order's, not the policy's
            assert tx.orders.latest_language("+8613700000000") is None
        clock.advance(dt.timedelta(days=1))
        with lc.store.transaction(readonly=True) as tx:
            tomorrow = lc.policy.local_day(clock.now())
            assert tx.orders.count_sp_requests(SUB, "SP01", *tomorrow) == 0
            assert tx.orders.fee_notice_between(SUB, "JOKE", *tomorrow) is None


class LeasedQueueContract(_Contract):
    """The behaviour of a store's :class:`~vas_lifecycle.store.base.LeasedQueue`:
    The shape the outbox and each feed subscriber share, the same scenario on both."""

    def _queues(self) -> list[tuple[str, Store, Callable[[Transaction], LeasedQueue[Any]]]]:
        """A new store for each shape, with its three items a, b, c (of three
        orders) due a minute apart from START; how to reach the queue in a
        transaction."""
        outbox = self.make_store()
        with outbox.transaction() as tx:
            for minute, nid in enumerate("abc"):
                at = START.add(minutes=minute)
                notice = Notice(nid, NoticeKind.HELP, SUB, f"o{nid}", nid, at, "10086", "zh-CN")
                tx.outbox.add_notice(notice)
        feed = self.make_store()
        with feed.transaction() as tx:
            tx.feed.add_subscriber("billing", START)
            tx.feed.add_events(
                _feed_event(eid, f"o{eid}", 2, FeedKind.ACTIVATED, START.add(minutes=minute))
                for minute, eid in enumerate("abc")
            )
        return [
            ("outbox", outbox, lambda tx: tx.outbox),
            ("feed", feed, lambda tx: tx.feed.queue("billing")),
        ]

    def test_contract_the_outbox_and_the_feed_are_one_leased_queue(self) -> None:
        for shape, store, queue in self._queues():
            self._one_leased_queue(shape, store, queue)

    def _one_leased_queue(
        self, shape: str, store: Store, queue: Callable[[Transaction], LeasedQueue[Any]]
    ) -> None:
        lease = START.add(minutes=30)
        with store.transaction() as tx:
            assert queue(tx).next_attempt() == START, shape
            # the oldest due first, no more than asked
            (first,) = queue(tx).claim(START.add(minutes=1), lease, 1)
            assert (first.id, first.attempts, first.last_error) == ("a", 1, None), shape
        with store.transaction() as tx:  # a is leased; c is not due yet
            assert [i.id for i in queue(tx).claim(START.add(minutes=1), lease, 10)] == ["b"]
            queue(tx).mark_failed("b", "gateway down", START.add(minutes=5))
            queue(tx).mark_delivered(["a"], START.add(minutes=1))
        with store.transaction() as tx:
            assert queue(tx).next_attempt() == START.add(minutes=2), shape  # c, then b
            claimed = queue(tx).claim(START.add(minutes=5), lease, 10)
            assert sorted((i.id, i.attempts) for i in claimed) == [("b", 2), ("c", 1)]
            assert {i.id: i.last_error for i in claimed}["b"] == "gateway down", shape
            queue(tx).mark_failed("c", "gave up", None)  # parked
            queue(tx).mark_delivered(["b"], START.add(minutes=5))
        with store.transaction() as tx:
            assert [(i.id, i.last_error) for i in queue(tx).parked(10)] == [("c", "gave up")]
            assert queue(tx).claim(START.add(days=1), START.add(days=2), 10) == [], shape
            assert queue(tx).next_attempt() is None, shape

        def unpark_then_fail() -> None:
            with store.transaction() as tx:
                assert queue(tx).unpark(None, START) == 1
                raise RuntimeError("crash")

        _raises(RuntimeError, unpark_then_fail)  # undone with its transaction
        later = START.add(hours=1)
        with store.transaction() as tx:
            assert [i.id for i in queue(tx).parked(10)] == ["c"], shape
            assert queue(tx).unpark(["nope"], later) == 0
            assert queue(tx).unpark(["c"], later) == 1
            assert queue(tx).parked(10) == [], shape
            (again,) = queue(tx).claim(later, later.add(minutes=2), 10)
            assert (again.id, again.attempts) == ("c", 1), shape
            queue(tx).mark_delivered(["c"], later)
        with store.transaction() as tx:
            assert queue(tx).claim(later.add(days=1), later.add(days=2), 10) == [], shape
            assert queue(tx).next_attempt() is None, shape

    def test_contract_depth_counts_what_waits_and_what_is_parked(self) -> None:
        for shape, store, queue in self._queues():
            self._depth(shape, store, queue)

    def _depth(
        self, shape: str, store: Store, queue: Callable[[Transaction], LeasedQueue[Any]]
    ) -> None:
        lease = START.add(minutes=30)
        with store.transaction(readonly=True) as tx:
            assert queue(tx).depth() == QueueDepth(3, 0, START), shape
        with store.transaction() as tx:
            queue(tx).claim(START, lease, 1)  # a: leased, still owed
            assert queue(tx).depth() == QueueDepth(3, 0, START), shape
            queue(tx).mark_failed("b", "gave up", None)
            queue(tx).mark_delivered(["a"], START)
            # the unit of work reads its own writes
            assert queue(tx).depth() == QueueDepth(1, 1, START.add(minutes=2)), shape

        def deliver_then_fail() -> None:
            with store.transaction() as tx:
                queue(tx).mark_delivered(["c"], START)
                raise RuntimeError("crash")

        _raises(RuntimeError, deliver_then_fail)
        with store.transaction(readonly=True) as tx:
            assert queue(tx).depth() == QueueDepth(1, 1, START.add(minutes=2)), shape
        with store.transaction() as tx:
            queue(tx).mark_delivered(["c"], START)
            queue(tx).unpark(["b"], START)
            assert queue(tx).depth() == QueueDepth(1, 0, START.add(minutes=1)), shape


class NoticeRecorderContract(_Contract):
    """The behaviour of a store's :class:`~vas_lifecycle.store.base.NoticeRecorder`:
    ``tx.outbox``: notices, their order, their delivery."""

    def test_contract_outbox_claims_retries_parks(self) -> None:
        lc, clock = self.lifecycle()
        lc.notifier.failing = True  # type: ignore[union-attr]
        trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
        (notice,) = lc.notices(trial.id)
        store = lc.store
        now = clock.now()
        with store.transaction() as tx:
            assert not tx.outbox.delivered(notice.id)
            assert tx.outbox.claim(now, now.add(minutes=2), 10) == []  # backing off
        later = now.add(minutes=1)
        with store.transaction() as tx:
            (claimed,) = tx.outbox.claim(later, later.add(minutes=2), 10)
            assert claimed.notice == notice and claimed.attempts == 2
            assert "unreachable" in (claimed.last_error or "")
        with store.transaction() as tx:  # claimed: nobody else gets it during the lease
            assert tx.outbox.claim(later, later.add(minutes=2), 10) == []
        with store.transaction() as tx:
            tx.outbox.mark_failed(notice.id, "still down", None)
        with store.transaction() as tx:
            (parked,) = tx.outbox.parked(10)
            assert parked.notice.id == notice.id and parked.last_error == "still down"
            assert tx.outbox.claim(later.add(days=1), later.add(days=2), 10) == []
        lc.notifier.failing = False  # type: ignore[union-attr]
        assert lc.retry_parked() == 1
        assert lc.dispatch() == 1
        with store.transaction() as tx:
            assert tx.outbox.delivered(notice.id)
            assert tx.outbox.parked(10) == []
        assert lc.dispatch() == 0

    def test_contract_one_orders_notices_are_claimed_in_order(self) -> None:
        store = self.make_store()
        now = pendulum.datetime(2026, 11, 24, tz="UTC")

        def notice(nid: str, order_id: str | None, minute: int, kind: NoticeKind) -> Notice:
            at = now.add(minutes=minute)
            return Notice(nid, kind, SUB, order_id, nid, at, "10086", "zh-CN")

        help_, other_kind = NoticeKind.HELP, NoticeKind.UNRECOGNISED
        first, second = notice("n1", "o1", 0, help_), notice("n2", "o1", 1, other_kind)
        third = notice("n3", "o1", 2, other_kind)
        other, reply = notice("m1", "o2", 1, help_), notice("r1", None, 1, help_)
        with store.transaction() as tx:
            assert tx.outbox.waiting_notices(["o1", "o2"]) == []
            for n in (third, second, first, other, reply):
                tx.outbox.add_notice(n)
        later = now.add(hours=1)
        lease = later.add(minutes=2)
        with store.transaction() as tx:
            assert [w.notice_id for w in tx.outbox.waiting_notices(["o1", "o3"])] == [
                "n1",
                "n2",
                "n3",
            ]
            (only,) = tx.outbox.waiting_notices(["o2"])
            assert (only.notice_id, only.order_id, only.kind) == ("m1", "o2", NoticeKind.HELP)
            claimed = tx.outbox.claim(later, lease, 10)
            # o1's later notices wait behind its first; other orders and replies do not
            assert sorted(d.notice.id for d in claimed) == ["m1", "n1", "r1"]
        with store.transaction() as tx:  # n1 claimed, not yet delivered: n2 still waits
            assert tx.outbox.claim(later, lease, 10) == []
            # ... unless n1's kind holds no other back (n3 still waits behind n2)
            (freed,) = tx.outbox.claim(later, lease, 10, unordered={"help"})
            assert freed.notice.id == "n2"
            tx.outbox.mark_failed("n1", "gave up", None)  # parked: it no longer holds the rest
            tx.outbox.mark_delivered(["n2", "m1", "r1"], later)
        with store.transaction() as tx:
            assert [w.notice_id for w in tx.outbox.waiting_notices(["o1", "o2"])] == ["n3"]
            tx.outbox.withdraw_notices(["n3", "m1"], "overtaken")  # m1 was delivered: unchanged
        with store.transaction() as tx:
            assert tx.outbox.waiting_notices(["o1"]) == []
            assert tx.outbox.withdrawn_notices() == {"n3": "overtaken"}
            assert not tx.outbox.delivered("n3") and tx.outbox.delivered("m1")
            assert tx.outbox.claim(later.add(days=1), lease.add(days=1), 10) == []
            assert [d.notice.id for d in tx.outbox.parked(10)] == ["n1"]  # not n3
            assert tx.outbox.next_attempt() is None
            assert tx.outbox.depth() == QueueDepth(0, 1, None)  # withdrawn: not counted

    def test_contract_notices_are_recorded_once(self) -> None:
        lc, clock = self.lifecycle()
        order = self.active(lc, clock)
        lc.unsubscribe(order.id, channel=Channel.SMS)
        notices = lc.notices(order.id)
        assert [n.at for n in notices] == sorted(n.at for n in notices)  # in time order
        assert sorted(n.kind.value for n in notices) == [
            "activated",
            "cancelled",
            "confirmation_request",
        ]
        (cancelled,) = [n for n in lc.notices(order.id) if n.kind is NoticeKind.CANCELLED]

        def again() -> None:
            with lc.store.transaction() as tx:
                tx.outbox.add_notice(cancelled)

        _raises(ConflictError, again)

    def test_contract_a_failure_report_that_outruns_the_sender_is_kept(self) -> None:
        """Kannel may report a rejection before the sender has recorded the hand-over:
        the notice is not marked delivered over it, and is sent again."""
        store = self.make_store()
        now = pendulum.datetime(2026, 11, 24, tz="UTC")
        notice = Notice("n1", NoticeKind.HELP, SUB, "o1", "help", now, "10086", "zh-CN")
        with store.transaction() as tx:
            tx.outbox.add_notice(notice, claimed_until=now.add(minutes=2))  # being sent
        soon, retry = now.add(seconds=1), now.add(seconds=30)
        with store.transaction() as tx:
            tx.evidence.add_delivery_report(
                DeliveryReport("r1", "n1", DeliveryStatus.REJECTED, soon, "")
            )
            tx.outbox.reopen_notice("n1", "delivery report: rejected", retry)
        with store.transaction() as tx:
            tx.outbox.mark_delivered(["n1"], now)  # the sender, late
            assert not tx.outbox.delivered("n1")
        with store.transaction() as tx:
            (again,) = tx.outbox.claim(retry, retry.add(minutes=2), 10)
            assert again.notice.id == "n1" and again.attempts == 2
        with store.transaction() as tx:
            tx.outbox.mark_delivered(["n1"], retry)  # this attempt began after the report
            assert tx.outbox.delivered("n1")


class ChargeRecorderContract(_Contract):
    """The behaviour of a store's :class:`~vas_lifecycle.store.base.ChargeRecorder`:
    ``tx.ledger``: charges."""

    def test_contract_one_charge_per_key_and_period(self) -> None:
        lc, clock = self.lifecycle()
        order = self.active(lc, clock)
        charge = lc.record_charge(order.id, Decimal("5.00"), key="k1")
        assert lc.charges(order.id) == [charge]
        store = lc.store
        twin = attrs.evolve(charge, key="k2")

        def same_period() -> None:
            with store.transaction() as tx:
                tx.ledger.add_charge(twin)

        _raises(ConflictError, same_period)

        def stale_version() -> None:
            with store.transaction() as tx:
                tx.ledger.add_charge(
                    attrs.evolve(charge, key="k3", period_key="2027-01", order_version=1)
                )

        _raises(ConflictError, stale_version)
        assert lc.charges(order.id) == [charge]
        with store.transaction() as tx:
            assert tx.ledger.charge("k1") == charge
            assert tx.ledger.charge("k2") is None

    def test_contract_refunds_and_claims(self) -> None:
        """Refunds are kept by key and by order (oldest first), a key stored twice
        fails the commit, a second claim under the same rule is ignored, claims are
        paged by order id, and a failed unit of work leaves none of them behind."""
        lc, clock = self.lifecycle()
        order = self.active(lc, clock)
        store, now = lc.store, clock.now()
        first = Refund("r1", order.id, "k1", Decimal("1.00"), "test", now, 9)
        second = Refund("r2", order.id, "k1", Decimal("2.00"), "test", now.add(seconds=1), 10)
        with store.transaction() as tx:
            tx.ledger.add_refund(first)
            tx.ledger.add_refund(second)
            tx.ledger.add_claim(RefundClaim(order.id, "IN5", now))
            tx.ledger.add_claim(RefundClaim(order.id, "IN5", now.add(hours=1)))
            tx.ledger.add_claim(RefundClaim("zz-other", "IN5", now))
            assert tx.ledger.refunds(order.id) == [first, second]  # its own writes

        def twice() -> None:
            with store.transaction() as tx:
                tx.ledger.add_refund(attrs.evolve(first, amount=Decimal("3.00")))

        _raises(ConflictError, twice)

        def add_then_fail() -> None:
            with store.transaction() as tx:
                tx.ledger.add_refund(attrs.evolve(first, key="r3"))
                tx.ledger.add_claim(RefundClaim("aa-gone", "IN5", now))
                raise RuntimeError("crash")

        _raises(RuntimeError, add_then_fail)
        with store.transaction(readonly=True) as tx:
            assert tx.ledger.refund("r1") == first and tx.ledger.refund("r3") is None
            assert tx.ledger.refunds(order.id) == [first, second]
            assert tx.ledger.refunds("nobody") == []
            assert sorted(r.key for r in tx.ledger.all_refunds()) == ["r1", "r2"]
            claims = tx.ledger.claims(None, 10)
            assert claims == sorted(claims, key=lambda c: (c.order_id, c.rule))
            assert RefundClaim(order.id, "IN5", now) in claims and len(claims) == 2
            assert tx.ledger.claims(claims[0].order_id, 10) == claims[1:]
            assert tx.ledger.claims(None, 1) == claims[:1]


class SpendRecorderContract(_Contract):
    """The behaviour of a store's :class:`~vas_lifecycle.store.base.SpendRecorder`:
    ``tx.spend``: the spend ledger, per subscriber, access code and local day."""

    def test_contract_spend_adds_up_by_day_and_access_code(self) -> None:
        store = self.make_store()
        december = ("2026-12-01", "2027-01-01")
        with store.transaction() as tx:
            tx.spend.add_spend(
                [
                    (SUB, "10658001", "2026-11-30", Decimal("5.00")),
                    (SUB, "10658001", "2026-12-01", Decimal("2.50")),
                    (SUB, "10658002", "2026-12-31", Decimal("0.10")),
                    (OTHER, "10658001", "2026-12-01", Decimal("9.99")),
                ]
            )
            # the unit of work reads its own adds
            assert tx.spend.spent(SUB, *december, None) == (Decimal("2.60"), 2)
        with store.transaction() as tx:
            tx.spend.add_spend([(SUB, "10658001", "2026-12-01", Decimal("2.50"))])

        def add_then_fail() -> None:
            with store.transaction() as tx:
                tx.spend.add_spend([(SUB, "10658001", "2026-12-02", Decimal("1.00"))])
                raise RuntimeError("crash")

        _raises(RuntimeError, add_then_fail)
        with store.transaction(readonly=True) as tx:
            assert tx.spend.spent(SUB, *december, "10658001") == (Decimal("5.00"), 2)
            assert tx.spend.spent(SUB, *december, None) == (Decimal("5.10"), 3)
            assert tx.spend.spent(SUB, "2026-11-01", "2026-12-01", None) == (Decimal("5.00"), 1)
        # a refund comes off its charge's day and leaves the count of charges
        with store.transaction() as tx:
            tx.spend.add_refunded_spend([(SUB, "10658001", "2026-12-01", Decimal("1.50"))])
            tx.spend.add_spend([(SUB, "10658001", "2026-12-01", Decimal("0.20"))])
        with store.transaction(readonly=True) as tx:
            assert tx.spend.spent(SUB, *december, "10658001") == (Decimal("3.70"), 3)
            assert tx.spend.spent(SUB, "2026-12-02", "2026-12-31", None) == (Decimal(0), 0)
            assert tx.spend.spent(OTHER, *december, "10658002") == (Decimal(0), 0)

    def test_contract_spend_reminders_are_watched_per_subscriber_and_access_code(
        self,
    ) -> None:
        store = self.make_store()
        t0 = pendulum.datetime(2026, 12, 1, tz="UTC")
        with store.transaction() as tx:
            tx.spend.watch(SUB, "10658001", t0)
            tx.spend.watch(SUB, "10658001", t0.add(days=5))  # already watched: kept
            tx.spend.watch(SUB, "10658002", t0.add(days=1))
            tx.spend.watch(OTHER, "10658001", t0.add(days=2))
            tx.spend.reminded(OTHER, "10658001", t0.add(days=9))
            assert tx.spend.reminders_due(t0.add(days=3), 10) == [
                (SUB, "10658001", t0),
                (SUB, "10658002", t0.add(days=1)),
            ]

        def watch_then_fail() -> None:
            with store.transaction() as tx:
                tx.spend.reminded(SUB, "10658001", t0.add(days=8))
                tx.spend.unwatch(SUB, "10658002")
                raise RuntimeError("crash")

        _raises(RuntimeError, watch_then_fail)
        with store.transaction() as tx:
            tx.spend.unwatch(SUB, "10658001")
        with store.transaction(readonly=True) as tx:
            assert tx.spend.reminders_due(t0.add(days=10), 10) == [
                (SUB, "10658002", t0.add(days=1)),
                (OTHER, "10658001", t0.add(days=9)),
            ]
            assert tx.spend.reminders_due(t0.add(days=10), 1) == [(SUB, "10658002", t0.add(days=1))]

    def test_contract_settled_spend_adds_each_orders_frozen_price(self) -> None:
        lc, clock = self.lifecycle()
        news = self.active(lc, clock)
        weather = lc.request(SUB, "WEATHER", channel=Channel.WEB)
        clock.advance(dt.timedelta(seconds=10))
        weather = lc.confirm(weather.id, msisdn=SUB, channel=Channel.SMS)
        assert news.access_code == weather.access_code  # one row for the two
        with lc.store.transaction() as tx:
            tx.spend.add_settled_spend([news.id, weather.id], "2026-12-01")
            tx.spend.add_settled_spend([news.id], "2026-12-01")
        with lc.store.transaction(readonly=True) as tx:
            total = news.price * 2 + weather.price
            assert tx.spend.spent(SUB, "2026-12-01", "2026-12-02", news.access_code) == (
                total,
                3,
            )


class EvidenceRecorderContract(_Contract):
    """The behaviour of a store's
    :class:`~vas_lifecycle.store.base.EvidenceRecorder`: ``tx.evidence``: SP
    violations, gateways' delivery reports, and the orders' hash chains (C18)."""

    def test_contract_c18_each_event_is_chained_in_its_unit_of_work(self) -> None:
        lc, clock = self.lifecycle()
        order = self.active(lc, clock)
        other = lc.request(OTHER, "NEWS", channel=Channel.WEB)
        with lc.store.transaction() as tx:  # a unit of work written by hand
            current = tx.orders.get_order(order.id)
            assert current is not None
            cancel = _cancel(current, clock.now())
            tx.orders.append(apply(current, cancel), [cancel], current.version)
        with lc.store.transaction(readonly=True) as tx:
            chain = tx.evidence.chain(order.id)
            assert chain is not None and [e.seq for e in chain.events] == [1, 2, 3, 4]
            assert chain.events[0].prev == GENESIS and chain.version == 4
            for before, event in zip(chain.events, chain.events[1:], strict=False):
                assert event.prev == before.hash
            assert chain.head == chain.events[-1].hash
            assert tx.evidence.chain("no-such-order") is None
            page = tx.evidence.chains(None, 1)
            rest = tx.evidence.chains(page[0].order_id, 10)
            assert sorted(c.order_id for c in page + rest) == sorted([order.id, other.id])
            assert tx.evidence.orphans(10) == [] and tx.evidence.unsealed(10) == []
        assert lc.verify_store().ok and lc.verify_evidence(order.id).ok

    def test_contract_c18_an_undone_unit_of_work_leaves_the_chain_as_it_was(self) -> None:
        lc, clock = self.lifecycle()
        order = self.active(lc, clock)
        with lc.store.transaction(readonly=True) as tx:
            before = tx.evidence.chain(order.id)
        try:
            with lc.store.transaction() as tx:
                current = tx.orders.get_order(order.id)
                assert current is not None
                cancel = _cancel(current, clock.now())
                tx.orders.append(apply(current, cancel), [cancel], current.version)
                raise _Undo
        except _Undo:
            pass
        with lc.store.transaction(readonly=True) as tx:
            assert tx.evidence.chain(order.id) == before
        lc.unsubscribe(order.id, channel=Channel.SMS)  # the next event links to the head
        assert lc.verify_evidence(order.id).ok

    def test_contract_violations_by_sp(self) -> None:
        lc, clock = self.lifecycle()
        order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
        trial = lc.request(SUB, "MUSIC7", channel=Channel.SP_API)
        clock.advance(dt.timedelta(seconds=10))
        _raises(
            ForcedSubscriptionError,
            lambda: lc.confirm(order.id, msisdn=SUB, channel=Channel.SP_API),
        )
        assert [v.order_id for v in lc.sp_violations("SP01")] == [order.id]
        assert lc.sp_violations("SP02") == []
        assert trial.sp_id == "SP02" and len(lc.sp_violations()) == 1

    def test_contract_delivery_reports_and_reopened_notices(self) -> None:
        lc, clock = self.lifecycle()
        order = self.active(lc, clock)
        (request, activated) = lc.notices(order.id)
        store = lc.store
        now = clock.now()
        first = DeliveryReport("r1", activated.id, DeliveryStatus.SUBMITTED, now, "ACK <b>")
        failed = DeliveryReport("r2", activated.id, DeliveryStatus.FAILED, now.add(seconds=5), "")
        with store.transaction() as tx:
            assert tx.outbox.delivered(activated.id)
            done = tx.outbox.delivery(activated.id)
            assert done is not None and done.notice == activated and done.attempts == 1
            assert tx.outbox.delivery("no-such-notice") is None
            tx.evidence.add_delivery_report(failed)
            tx.evidence.add_delivery_report(first)
            tx.outbox.reopen_notice(activated.id, "failed on the handset", now.add(minutes=1))
        with store.transaction() as tx:
            assert tx.evidence.delivery_reports(activated.id) == [first, failed]
            assert tx.evidence.delivery_reports(request.id) == []
            assert not tx.outbox.delivered(activated.id)
            assert tx.outbox.claim(now, now.add(minutes=2), 10) == []  # not before retry_at
            (again,) = tx.outbox.claim(now.add(minutes=1), now.add(minutes=3), 10)
            assert again.notice == activated and again.attempts == 2
            assert again.last_error == "failed on the handset"
            tx.outbox.mark_delivered([activated.id], now.add(minutes=1))
        with store.transaction() as tx:
            tx.outbox.reopen_notice(activated.id, "rejected", None)  # parked
        with store.transaction() as tx:
            (parked,) = tx.outbox.parked(10)
            assert parked.notice.id == activated.id and parked.attempts == 2
        lc.unsubscribe(order.id, channel=Channel.SMS)
        clock.advance(dt.timedelta(days=200))
        lc.purge(clock.now().subtract(days=190))
        with store.transaction() as tx:
            assert tx.evidence.delivery_reports(activated.id) == []


class KeyRecorderContract(_Contract):
    """The behaviour of a store's :class:`~vas_lifecycle.store.base.KeyRecorder`:
    ``tx.keys``: inbound message ids, request keys, SP keys."""

    def test_contract_an_inbound_message_id_is_handled_once(self) -> None:
        store = self.make_store()
        now = pendulum.datetime(2026, 11, 24, tz="UTC")

        def fail_after_sight() -> None:
            with store.transaction() as tx:
                assert tx.keys.first_sight("kannel-1", now)
                raise RuntimeError("the unit of work failed")

        _raises(RuntimeError, fail_after_sight)  # rolled back: not seen
        with store.transaction() as tx:
            assert tx.keys.first_sight("kannel-1", now)
            assert not tx.keys.first_sight("kannel-1", now)
        with store.transaction() as tx:
            assert not tx.keys.first_sight("kannel-1", now.add(days=1))
            assert tx.keys.first_sight("kannel-2", now.add(days=1))
        with store.transaction() as tx:
            assert tx.keys.forget_messages(now.add(hours=1)) == 1
        with store.transaction() as tx:
            assert tx.keys.first_sight("kannel-1", now.add(days=2))  # forgotten
            assert not tx.keys.first_sight("kannel-2", now.add(days=2))

    def test_contract_racing_transactions_see_a_message_once(self) -> None:
        store = self.make_store()
        now = pendulum.datetime(2026, 11, 24, tz="UTC")
        outcomes = _in_two_threads(store, lambda tx: tx.keys.first_sight("same-id", now))
        assert sorted(outcomes) == [False, True]

    def test_contract_sp_keys(self) -> None:
        store = self.make_store()
        now = pendulum.datetime(2026, 11, 24, tz="UTC")
        one = SpKey("k1", "SP01", "d" * 64, now)
        two = SpKey("k2", "SP01", "e" * 64, now.add(seconds=1))
        other = SpKey("k3", "SP02", "f" * 64, now)
        with store.transaction() as tx:
            for key in (two, one, other):
                tx.keys.add_sp_key(key)
        with store.transaction() as tx:
            assert tx.keys.sp_key("k1") == one and tx.keys.sp_key("nope") is None
            assert tx.keys.sp_keys("SP01") == [one, two]
            assert tx.keys.revoke_sp_keys("SP02", "k1", now) == 0  # not SP02's key
            assert tx.keys.revoke_sp_keys("SP01", "k1", now.add(hours=1)) == 1
        with store.transaction() as tx:
            assert tx.keys.sp_key("k1") == attrs.evolve(one, revoked_at=now.add(hours=1))
            assert tx.keys.revoke_sp_keys("SP01", None, now.add(hours=2)) == 1
            assert tx.keys.sp_key("k3") == other
        _raises(ConflictError, lambda: _add_key(store, one))

    def test_contract_request_keys(self) -> None:
        store = self.make_store()
        now = pendulum.datetime(2026, 11, 24, tz="UTC")
        made = RequestKey("SP01", "k-1", "f" * 64, "order-1", 2, None, now)
        refused = RequestKey("SP02", "k-1", "e" * 64, None, 0, ReasonCode.NOT_YOUR_SERVICE, now)

        def add_then_fail() -> None:
            with store.transaction() as tx:
                tx.keys.add_request_key(made)
                raise RuntimeError("the unit of work failed")

        _raises(RuntimeError, add_then_fail)  # rolled back: not remembered
        with store.transaction() as tx:
            assert tx.keys.request_key("SP01", "k-1") is None
            tx.keys.add_request_key(made)
            tx.keys.add_request_key(refused)  # the same key of another SP
        with store.transaction() as tx:
            assert tx.keys.request_key("SP01", "k-1") == made
            assert tx.keys.request_key("SP02", "k-1") == refused
            assert tx.keys.request_key("", "k-1") is None
        _raises(ConflictError, lambda: _add_request_key(store, made))
        later = attrs.evolve(made, key="k-2", at=now.add(days=1))
        with store.transaction() as tx:
            tx.keys.add_request_key(later)
        with store.transaction() as tx:
            assert tx.keys.forget_request_keys(now.add(hours=1)) == 2
        with store.transaction() as tx:
            assert tx.keys.request_key("SP01", "k-1") is None
            assert tx.keys.request_key("SP01", "k-2") == later

    def test_contract_racing_requests_with_one_key_make_one_order(self) -> None:
        """Two threads send the same keyed request at once: one order, and both are
        answered with it (the loser's retry finds the key)."""
        lc, _clock = self.lifecycle()
        barrier = threading.Barrier(2, timeout=30)
        answers: list[Order] = []

        def ask() -> None:
            barrier.wait()
            answers.append(
                lc.request(
                    SUB, "NEWS", channel=Channel.SP_API, sp_id="SP01", idempotency_key="same"
                )
            )

        threads = [threading.Thread(target=ask) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(answers) == 2 and answers[0] == answers[1]
        assert [o.id for o in lc.orders_of(SUB)] == [answers[0].id]


class FeedRecorderContract(_Contract):
    """The behaviour of a store's :class:`~vas_lifecycle.store.base.FeedRecorder`:
    ``tx.feed``: subscribers, what each is owed, in commit order."""

    def test_contract_feed_is_owed_to_each_subscriber_in_commit_order(self) -> None:
        store = self.make_store()
        now = pendulum.datetime(2026, 11, 24, tz="UTC")
        lease, act = now.add(minutes=2), FeedKind.ACTIVATED
        e1 = _feed_event("order:o1:2", "o1", 2, act, now)
        # a charge at version 2 comes after the change that made version 2, before 3,
        # whatever the clocks of the processes that wrote them said
        c1 = _feed_event("charge:k", "o1", 2, FeedKind.CHARGE_RECORDED, now.subtract(seconds=1))
        e2 = _feed_event("order:o1:3", "o1", 3, FeedKind.CANCELLED, now)
        f1 = _feed_event("order:o2:2", "o2", 2, act, now)
        with store.transaction() as tx:
            tx.feed.add_events([e1])  # nobody listens yet: nothing is kept
            assert tx.feed.add_subscriber("a", now) and tx.feed.add_subscriber("b", now)
            assert not tx.feed.add_subscriber("a", now)
            assert tx.feed.subscribers() == ["a", "b"]
        with store.transaction() as tx:
            tx.feed.add_events([e1, f1])
        with store.transaction() as tx:
            tx.feed.add_events([c1, e2])
        with store.transaction() as tx:
            assert tx.feed.backlog("a") == 4
            # each is due when it was made; c1 is claimable only after e1
            assert tx.feed.next_attempt(["a"]) == now
            # one event per order: o1's later ones wait behind e1
            claimed = tx.feed.queue("a").claim(now, lease, 10)
            assert sorted(d.event.id for d in claimed) == [e1.id, f1.id]
            assert {d.event.id: d.event for d in claimed} == {e1.id: e1, f1.id: f1}
            assert all(d.attempts == 1 and d.subscriber == "a" for d in claimed)
        with store.transaction() as tx:  # claimed: nothing of o1 or o2 until settled
            assert tx.feed.queue("a").claim(now, lease, 10) == []
            tx.feed.queue("a").mark_delivered([e1.id], now)
            tx.feed.queue("a").mark_failed(f1.id, "billing down", now.add(minutes=5))
        with store.transaction() as tx:
            assert tx.feed.next_attempt(["a"]) == c1.at  # o1's head now, o2 backing off
            (charge,) = tx.feed.queue("a").claim(now, lease, 10)
            assert charge.event == c1
            tx.feed.queue("a").mark_delivered([c1.id], now)
        with store.transaction() as tx:
            (cancel,) = tx.feed.queue("a").claim(now, lease, 10)
            assert cancel.event.id == e2.id
            tx.feed.queue("a").mark_failed(e2.id, "gave up", None)  # parked
        later = now.add(hours=1)
        with store.transaction() as tx:
            (retried,) = tx.feed.queue("a").claim(later, later.add(minutes=2), 10)
            assert retried.event.id == f1.id and retried.attempts == 2
            assert retried.last_error == "billing down"
            tx.feed.queue("a").mark_delivered([f1.id], later)
            assert [d.event.id for d in tx.feed.queue("a").parked(10)] == [e2.id]
            assert tx.feed.backlog("a") == 1 and tx.feed.next_attempt(["a"]) is None
            assert tx.feed.backlog("b") == 4  # b's copies are its own
        with store.transaction() as tx:
            assert tx.feed.queue("a").unpark(["nope"], later) == 0
            assert tx.feed.queue("a").unpark(None, later) == 1
            (again,) = tx.feed.queue("a").claim(later, later.add(minutes=2), 10)
            assert again.event.id == e2.id and again.attempts == 1
        with store.transaction() as tx:
            assert tx.feed.remove_subscriber("b") and not tx.feed.remove_subscriber("b")
            assert tx.feed.backlog("b") == 0 and tx.feed.subscribers() == ["a"]

    def test_contract_feed_claims_are_undone_with_their_transaction(self) -> None:
        store = self.make_store()
        now = pendulum.datetime(2026, 11, 24, tz="UTC")
        with store.transaction() as tx:
            tx.feed.add_subscriber("a", now)
            tx.feed.add_events([_feed_event("order:o1:2", "o1", 2, FeedKind.ACTIVATED, now)])

        def claim_then_fail() -> None:
            with store.transaction() as tx:
                assert len(tx.feed.queue("a").claim(now, now.add(minutes=2), 10)) == 1
                raise RuntimeError("crash")

        _raises(RuntimeError, claim_then_fail)
        with store.transaction() as tx:
            (claimed,) = tx.feed.queue("a").claim(now, now.add(minutes=2), 10)
            assert claimed.attempts == 1

    def test_contract_racing_feed_claims_keep_each_orders_order(self) -> None:
        store = self.make_store()
        now = pendulum.datetime(2026, 11, 24, tz="UTC")
        with store.transaction() as tx:
            tx.feed.add_subscriber("a", now)
            tx.feed.add_events(
                [
                    _feed_event(f"order:o{n}:{seq}", f"o{n}", seq, FeedKind.ACTIVATED, now)
                    for n in range(20)
                    for seq in (2, 3)
                ]
            )
        claims = _in_two_threads(
            store,
            lambda tx: [d.event.id for d in tx.feed.queue("a").claim(now, now.add(minutes=2), 30)],
        )
        taken = [eid for claim in claims for eid in claim]
        # every order's first event once, never its second beside it
        assert sorted(taken) == sorted(f"order:o{n}:2" for n in range(20))

    def test_contract_feed_through_the_lifecycle_and_purge(self) -> None:
        lc, clock = self.lifecycle()
        heard: list[FeedEvent] = []
        assert lc.feed.subscribe("billing", heard.append)
        order = self.active(lc, clock)
        lc.record_charge(order.id, Decimal("5.00"), key="k")
        lc.unsubscribe(order.id, channel=Channel.SMS)
        assert [(e.kind, e.seq, e.state) for e in heard] == [
            (FeedKind.ACTIVATED, 3, "active"),
            (FeedKind.CHARGE_RECORDED, 3, "active"),
            (FeedKind.CANCELLED, 4, "cancelled"),
        ]
        assert heard[1].data["amount"] == "5.00" and heard[1].id == "charge:k"
        assert lc.feed.backlog("billing") == 0
        lc.feed.detach("billing")  # registered still: events are kept for it
        other = self.active(lc, clock, OTHER)
        lc.unsubscribe(other.id, channel=Channel.SMS)
        assert lc.feed.backlog("billing") == 2 and len(heard) == 3
        with lc.store.transaction() as tx:
            assert tx.orders.purge([other.id]) == 1
        assert lc.feed.backlog("billing") == 0


class UsageRecorderContract(_Contract):
    """The behaviour of a store's :class:`~vas_lifecycle.store.base.UsageRecorder`:
    ``tx.usage``: when each tracked subscription was last used (UK6)."""

    def test_contract_usage_moves_forward_and_lists_the_idle_first(self) -> None:
        store = self.make_store()
        t0 = pendulum.datetime(2026, 12, 1, tz="UTC")
        with store.transaction() as tx:
            tx.usage.track("a", t0)
            tx.usage.track("b", t0.add(days=1))
            tx.usage.track("c", t0.add(days=2))
            tx.usage.touch(["a", "untracked"], t0.add(days=3))  # read back in the unit
            assert tx.usage.idle(t0.add(days=3), 10) == [
                ("b", t0.add(days=1)),
                ("c", t0.add(days=2)),
            ]
        with store.transaction() as tx:
            tx.usage.touch(["b"], t0)  # earlier than recorded: nothing moves
            tx.usage.touch(["c"], t0.add(days=5))
            tx.usage.forget("a")

        def touch_then_fail() -> None:
            with store.transaction() as tx:
                tx.usage.touch(["b"], t0.add(days=9))
                tx.usage.track("d", t0)
                raise RuntimeError("crash")

        _raises(RuntimeError, touch_then_fail)
        with store.transaction(readonly=True) as tx:
            assert tx.usage.idle(t0.add(days=10), 10) == [
                ("b", t0.add(days=1)),
                ("c", t0.add(days=5)),
            ]
            assert tx.usage.idle(t0.add(days=10), 1) == [("b", t0.add(days=1))]
            assert tx.usage.idle(t0.add(days=1), 10) == []


class StoreContract(
    TransactionContract,
    OrderRecorderContract,
    LeasedQueueContract,
    NoticeRecorderContract,
    ChargeRecorderContract,
    SpendRecorderContract,
    UsageRecorderContract,
    EvidenceRecorderContract,
    KeyRecorderContract,
    FeedRecorderContract,
):
    """The behaviour every :class:`~vas_lifecycle.Store` must show: every part's
    contract. A store under construction may run one part at a time."""
