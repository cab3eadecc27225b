"""One command's unit of work, and the runner that commits it or runs it again.

A :class:`UnitOfWork` holds what one command changes inside a store transaction: the
events it applies to orders (each applied as it is made, so the next decision sees
the order as it now is), the notices those events and the replies send (the outbox),
and a refusal to raise once the transaction is committed (a refused confirmation may
still book a C13 violation, which must be stored).

The :class:`Runner` begins a transaction, reads the clock, runs the command, commits,
and after the commit hands the staged notices on and raises the refusal; a version
conflict or a lost connection runs the command again from the start.

The unit of work does not own the transaction: it is given one. So many commands can
later share one transaction, each in a savepoint with its own unit of work and its own
all-or-nothing outcome (batched SMS bursts, bulk billing passes), without changing
the handlers.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import random
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Generic, TypeVar

import attrs
import pendulum

from vas_lifecycle.catalog import Period
from vas_lifecycle.charging import spend_day, spend_days
from vas_lifecycle.clock import Clock, as_utc, later
from vas_lifecycle.commands import RecordRefund
from vas_lifecycle.errors import (
    CallbackError,
    ClockError,
    ConcurrencyError,
    InvalidArgumentError,
    PolicyError,
    StoreError,
    VasError,
)
from vas_lifecycle.feed import PUBLISHED, charge_event, order_event
from vas_lifecycle.notices import Notice, NoticeKind
from vas_lifecycle.notify import DeliveryRules
from vas_lifecycle.order import Event, EventData, EventKind, Order, Step, advance
from vas_lifecycle.policy import Policy
from vas_lifecycle.records import (
    Channel,
    Charge,
    CommandCount,
    FeedEvent,
    ReasonCode,
    Refund,
    SpViolation,
)
from vas_lifecycle.rendering import Renderer
from vas_lifecycle.store.base import (
    ConflictError,
    ConnectionLostError,
    RetryableError,
    Store,
    Transaction,
)

__all__ = [
    "ClockReader",
    "Context",
    "IdMaker",
    "Outcome",
    "Refused",
    "Runner",
    "Tally",
    "UnitOfWork",
    "call",
]

T = TypeVar("T")
C = TypeVar("C")
#: The actor of what the library does by itself (timers, refusals of a request).
SYSTEM = "system"


class ClockReader:
    """Reads the embedder's clock as UTC, refusing a clock that goes backwards.

    Read under a lock: threads sharing one Lifecycle must not see each other's reads
    out of order as a clock that went backwards."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._last: pendulum.DateTime | None = None
        self._lock = threading.Lock()

    def now(self) -> pendulum.DateTime:
        with self._lock:
            try:
                reading = self.clock.now()
            except Exception as err:
                raise CallbackError(f"the clock failed: {err!r}") from err
            now = as_utc(reading)
            if self._last is not None and now < self._last:
                raise ClockError(
                    f"the clock went backwards ({now.isoformat()} < {self._last.isoformat()})"
                )
            self._last = now
            return now


def random_id() -> str:
    """A random 128-bit id in hex (what ``uuid4().hex`` gives)."""
    return os.urandom(16).hex()


class IdMaker:
    """New ids from the embedder's id factory, checked: its failure is not the store's."""

    def __init__(self, factory: Callable[[], str] | None) -> None:
        self.factory = factory if factory is not None else random_id

    def __call__(self) -> str:
        try:
            value = self.factory()
        except Exception as err:
            raise CallbackError(f"the id factory failed: {err!r}") from err
        if not isinstance(value, str) or not value or not value.isprintable() or len(value) > 64:
            raise InvalidArgumentError(
                f"the id factory must return a printable string of 1 to 64 characters, "
                f"got {value!r}"
            )
        return value


@attrs.frozen
class Refused:
    """What a handler returns when it refuses its command: the error the caller gets
    once what the handler wrote (a violation booked against an SP, say) is
    committed. The SMS channel answers it with a reply instead."""

    error: VasError


@attrs.frozen
class NoticeOrder:
    """How one order's notices keep their order in the outbox: ``stale`` kinds are
    withdrawn when newer news of their order overtakes them; ``unordered`` kinds
    (held for the quiet hours, say) hold no other notice back."""

    stale: frozenset[NoticeKind] = frozenset()
    unordered: frozenset[NoticeKind] = frozenset()


@attrs.frozen
class Context:
    """What every unit of work of one Lifecycle is given besides its transaction and
    instant: the policies of its regime, each from its first instant with the renderer
    for it (oldest first), ids, randomness (C3's codes) and the outbox's retry rules."""

    policies: tuple[tuple[pendulum.DateTime, Policy, Renderer], ...]
    new_id: Callable[[], str]
    rng: random.Random
    delivery: DeliveryRules

    def in_force(self, now: pendulum.DateTime) -> tuple[Policy, Renderer]:
        """The policy in force at ``now``, with its renderer; PolicyError before the
        regime's first version."""
        first, policy, renderer = self.policies[-1]  # the latest: nearly always
        if now >= first:
            return policy, renderer
        for first, policy, renderer in reversed(self.policies):
            if now >= first:
                return policy, renderer
        raise PolicyError(
            f"{self.policies[0][1].name!r} has no rules before "
            f"{self.policies[0][0].isoformat()} (now is {now.isoformat()})"
        )


class UnitOfWork:
    """What one command changes, inside the transaction ``tx``, at the instant ``now``,
    with everything its handler needs: ``policy``, ``renderer``, ``new_id``, ``rng``
    and ``delivery`` (the outbox's rules).

    ``claim_for`` is how long a staged notice stays claimed by this process (when the
    runner delivers right after the commit), or None to leave it to ``dispatch``.

    A handler sets ``repeat`` when its command was one already done (a text the
    gateway handed over again, a key seen before): counted as a duplicate.
    """

    #: the command repeated one already done (set by its handler)
    repeat = False

    def __init__(
        self,
        tx: Transaction,
        now: pendulum.DateTime,
        context: Context,
        *,
        claim_for: dt.timedelta | None,
        rules: NoticeOrder | None = None,
    ) -> None:
        self.tx = tx
        self.now = now
        self.policy, self.renderer = context.in_force(now)
        self.rng = context.rng
        self.delivery = context.delivery
        self.new_id = context.new_id
        self._claim_for = claim_for
        self._rules = rules if rules is not None else NoticeOrder()
        self.notices: list[Notice] = []
        # what the event feed is to publish, each made only if a subscriber listens
        self.feed: list[Callable[[], FeedEvent]] = []
        self._new_orders: set[str] = set()  # made in this unit: nothing of theirs waits

    def record(
        self,
        order: Order | None,
        steps: Iterable[Step],
        *,
        channel: Channel | None,
        actor: str,
        text_in: str | None = None,
        order_id: str | None = None,
    ) -> Order:
        """Apply ``steps`` to ``order`` (None: a new order with id ``order_id``, whose
        first step is its request), store the events and stage the notices they send."""
        start = order.version if order is not None else 0
        if order is None and order_id is not None:
            self._new_orders.add(order_id)
        if order is not None:
            order_id = order.id
        assert order_id is not None, "a new order needs its id"
        events: list[Event] = []
        staged: list[Notice] = []
        for step in steps:
            seq = (order.version if order is not None else 0) + 1
            data = EventData.of(step.data)
            order = advance(order, order_id, seq, step.kind, self.now, channel, data)
            published = PUBLISHED.get(step.kind)
            if published is not None:
                self.feed.append(
                    functools.partial(order_event, order, published, self.now, channel, data)
                )
            text_out = None
            if step.notice is not None:
                notice = self.renderer.notice(
                    step.notice,
                    msisdn=order.msisdn,
                    order=order,
                    at=self.now,
                    notice_id=data.get("notice_id"),
                    extra=step.fields,
                )
                text_out = notice.text
                staged.append(notice)
            # the event is made once, with the text it sent (evidence, C14)
            events.append(
                Event(order_id, seq, step.kind, self.now, channel, actor, text_in, text_out, data)
            )
        assert order is not None, "a change needs at least one step"
        self.tx.orders.append(order, events, start)
        self.notices.extend(staged)
        return order

    def charged(self, order: Order, charge: Charge) -> None:
        """Store a charge C11 allowed, publish it, and send its receipt where the
        policy asks for one (UK3)."""
        self.tx.ledger.add_charge(charge)
        self.feed.append(functools.partial(charge_event, order, charge))
        self.tx.spend.add_spend(
            [(order.msisdn, order.access_code, spend_day(self.now, self.policy), charge.amount)]
        )
        self._receipt(order, charge)
        self._spend_reminders([(order, charge)])

    def charged_all(self, charged: Sequence[tuple[Order, Charge]]) -> None:
        """Store a billing pass's charges of orders the transaction took, publish
        them, and send their receipts where the policy asks (UK3)."""
        self.tx.ledger.add_charges([charge for _, charge in charged])
        self.feed.extend(functools.partial(charge_event, o, c) for o, c in charged)
        day = spend_day(self.now, self.policy)
        self.tx.spend.add_spend([(o.msisdn, o.access_code, day, c.amount) for o, c in charged])
        for order, charge in charged:
            self._receipt(order, charge)
        self._spend_reminders(charged)

    def refunded(self, order: Order, charge: Charge, amount: Decimal, cmd: RecordRefund) -> Refund:
        """Record a refund of ``amount`` against ``charge``: the order's
        ``refund_recorded`` event (evidence, and the feed's), the ledger's row, the
        spend taken off the charge's day, and the subscriber's notice."""
        facts = {"key": cmd.key, "charge_key": charge.key, "amount": str(amount)}
        step = Step(EventKind.REFUND_RECORDED, {**facts, "reason": cmd.reason})
        after = self.record(order, [step], channel=cmd.channel, actor=cmd.actor or "operator")
        refund = Refund(cmd.key, order.id, charge.key, amount, cmd.reason, self.now, after.version)
        self.tx.ledger.add_refund(refund)
        day = spend_day(charge.at, self.policy)
        self.tx.spend.add_refunded_spend([(order.msisdn, order.access_code, day, amount)])
        self.notices.append(
            self.renderer.notice(
                NoticeKind.REFUNDED, msisdn=order.msisdn, order=after, at=self.now, amount=amount
            )
        )
        return refund

    def _spend_reminders(self, charged: Sequence[tuple[Order, Charge]]) -> None:
        """UK2, AU2: a reminder to each subscriber whose spend on an access code this
        calendar month passed a multiple of the policy's step with these charges
        (about the order of the last of them)."""
        step = self.policy.spend_reminder_every
        if step is None or not charged:
            return
        key, first, end = spend_days(Period.MONTH, self.now, self.policy)
        added: dict[tuple[str, str], tuple[Order, Decimal]] = {}
        for order, charge in charged:
            _last, amount = added.get((order.msisdn, order.access_code), (order, Decimal(0)))
            added[order.msisdn, order.access_code] = (order, amount + charge.amount)
        for (msisdn, code), (order, amount) in added.items():
            after = self.tx.spend.spent(msisdn, first, end, code)[0]
            if after // step > (after - amount) // step:
                self.spend_reminder(order, after, key)

    def spend_reminder(self, order: Order, spent: Decimal, period_key: str) -> None:
        """A spend reminder about ``order``'s access code (UK2, AU2): ``spent`` in the
        calendar month ``period_key``; where the policy also reminds at least every
        interval, its interval starts again now."""
        self.notices.append(
            self.renderer.notice(
                NoticeKind.SPEND_REMINDER,
                msisdn=order.msisdn,
                order=order,
                at=self.now,
                spent=spent,
                extra={"period": period_key},
            )
        )
        if self.policy.spend_reminder_interval is not None:
            self.tx.spend.reminded(order.msisdn, order.access_code, self.now)

    def monthly_reminder(self, msisdn: str, orders: Sequence[Order]) -> None:
        """C17: the free reminder of ``orders``, the subscriber's paid subscriptions,
        in the language of the latest of them."""
        language = max(orders, key=lambda o: (o.requested_at, o.id)).language
        items = self.renderer.items(orders, language, numbered=True, phrase="reminder_item")
        self.notices.append(
            self.renderer.notice(
                NoticeKind.MONTHLY_REMINDER,
                msisdn=msisdn,
                at=self.now,
                language=language,
                extra={"items": items},
            )
        )

    def _receipt(self, order: Order, charge: Charge) -> None:
        if self.policy.receipt_after_charge:
            self.notices.append(
                self.renderer.notice(
                    NoticeKind.RECEIPT, msisdn=order.msisdn, order=order, at=self.now, charge=charge
                )
            )

    def reply(
        self,
        kind: NoticeKind,
        *,
        msisdn: str,
        sender: str,
        language: str,
        order: Order | None = None,
        extra: Mapping[str, str] | None = None,
        notice_id: str | None = None,
    ) -> Notice:
        """Stage a reply to a subscriber's text that changes no order."""
        notice = self.renderer.notice(
            kind,
            msisdn=msisdn,
            at=self.now,
            order=order,
            language=language,
            sender=sender,
            extra=extra,
            notice_id=notice_id,
        )
        self.notices.append(notice)
        return notice

    def write_notices(self) -> list[Notice]:
        """Write the staged notices to the outbox (once the command is done) and return
        those to deliver right after the commit.

        One order's notices go out in the order they were made. A waiting notice of a
        ``stale`` kind (a reminder) that newer news of its order overtakes is withdrawn,
        never sent. A notice of an order that still has another one waiting (failed,
        or claimed by another process; not one of the ``unordered`` kinds, such as a
        notice held for the quiet hours) is written unclaimed, for the outbox to send
        after it. The others, with delivery right after the commit, are written
        already claimed by this process for one lease, so no claiming round is needed;
        if this process dies first the lease runs out and any dispatcher sends them."""
        notices, tx = self.notices, self.tx
        if not notices:
            return []
        new = self._new_orders
        # the orders with notices to check: not those made in this unit of work
        orders = list({n.order_id: None for n in notices if n.order_id and n.order_id not in new})
        behind: set[str] = set()
        if orders:
            waiting = tx.outbox.waiting_notices(orders)
            stale = [n.notice_id for n in waiting if n.kind in self._rules.stale]
            if stale:
                tx.outbox.withdraw_notices(stale, "overtaken by a newer notice of its order")
            behind = {n.order_id for n in waiting if n.kind not in self._rules.unordered}
        claimed_until = None if self._claim_for is None else later(self.now, self._claim_for)
        ready: list[Notice] = []
        for notice in notices:
            if notice.order_id in behind:
                tx.outbox.add_notice(notice)
            else:
                tx.outbox.add_notice(notice, claimed_until=claimed_until)
                ready.append(notice)
        return ready

    def violation(
        self,
        order: Order,
        reason: ReasonCode,
        *,
        channel: Channel | None,
        evidence: str,
    ) -> None:
        """Book forced subscription against the order's SP (C13)."""
        self.tx.evidence.add_violation(
            SpViolation(
                self.new_id(),
                order.sp_id,
                order.msisdn,
                order.id,
                reason,
                self.now,
                channel,
                evidence,
            )
        )


class Tally:
    """What the commands a runner ran came to, counted as each ends (after its
    commit, or its last try): by command, outcome and reason, the keys of
    :class:`~vas_lifecycle.records.CommandCount`. Safe to share between threads; a
    count is a few dictionary operations under a lock, nothing is read or written
    elsewhere."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()

    def add(self, command: str, outcome: str, reason: str = "") -> None:
        """Count one command of ``command`` that came to ``outcome``."""
        key = (command, outcome, reason)
        with self._lock:
            counts = self._counts
            counts[key] = counts.get(key, 0) + 1

    def ended(self, command: str, err: VasError) -> None:
        """Count a command that ended with ``err``: a refusal by its reason code, a
        store's failure or another error by its type."""
        if isinstance(err, StoreError):
            self.add(command, "failed", type(err).__name__)
            return
        reason = getattr(err, "reason", None)
        if reason is None:
            self.add(command, "rejected", type(err).__name__)
        else:
            self.add(command, "refused", str(getattr(reason, "value", reason)))

    def counts(self) -> dict[CommandCount, int]:
        """Every count so far."""
        with self._lock:
            return {CommandCount(*key): n for key, n in self._counts.items()}


@attrs.frozen
class Outcome(Generic[T]):
    """What one command of a batch came to: its result and the notices it staged, and
    the error it ended with, if any (a refusal, whose writes are committed like a
    refused command's alone, or a failure, whose writes are undone)."""

    result: T | None
    notices: list[Notice]
    error: VasError | None = None
    #: the command repeated one already done (its handler said so)
    repeat: bool = False


class Runner:
    """Runs commands as units of work on ``store``: commit or nothing, retried on a
    version conflict (and once on a lost connection), each try at a fresh ``now``
    so a retried command is dated after the change that made it retry.

    ``after_commit`` receives each command's notices once they are stored (to deliver
    them at once), or is None to leave them to the outbox's dispatch; ``after_feed``
    is called with how many feed events a command published, after its commit (to
    deliver them at once); ``tally``, when given, counts what each command came to.
    """

    def __init__(
        self,
        store: Store,
        clock: ClockReader,
        context: Context,
        *,
        max_retries: int,
        claim_for: dt.timedelta | None,
        after_commit: Callable[[list[Notice]], None] | None,
        notice_order: NoticeOrder | None = None,
        after_feed: Callable[[int], None] | None = None,
        tally: Tally | None = None,
    ) -> None:
        self.store = store
        self.after_feed = after_feed
        self.notice_order = notice_order if notice_order is not None else NoticeOrder()
        self.clock = clock
        self.context = context
        self.max_retries = max_retries
        self.claim_for = claim_for
        self.after_commit = after_commit
        #: what the commands came to, counted when asked for (else None: no cost)
        self.tally = tally

    def run(
        self, handler: Callable[[C, UnitOfWork], T | Refused], command: C
    ) -> tuple[T, list[Notice]]:
        """Run ``handler(command, uow)`` in one unit of work; returns its result and the
        notices it staged, or, when it returned :class:`Refused`, raises the refusal's
        error after the commit. With a :attr:`tally`, each command is counted in it
        as it ends."""
        tally = self.tally
        retried: RetryableError | None = None
        lost = 0
        try:
            for _attempt in range(self.max_retries):
                now = self.clock.now()
                try:
                    with self.store.transaction() as tx:
                        uow = self._unit(tx, now)
                        result = handler(command, uow)
                        ready = self._staged(tx, uow)
                except ConnectionLostError as err:
                    # nothing was stored: once on a new connection, not again and again
                    lost += 1
                    if lost > 1:
                        raise StoreError(f"the store's connection keeps failing: {err}") from err
                    retried = err
                    continue
                except RetryableError as err:
                    retried = err
                    continue
                except VasError:
                    raise
                except Exception as err:
                    raise StoreError(f"the store failed: {err}") from err
                self._committed(ready, len(uow.feed))
                if isinstance(result, Refused):
                    raise result.error
                if tally is not None:
                    tally.add(handler.__name__, "duplicate" if uow.repeat else "ok")
                return result, uow.notices
            if isinstance(retried, ConflictError):
                raise ConcurrencyError(
                    retried.order_id, retried.expected_version, retried.found_version
                ) from retried
            raise StoreError(f"the store could not run the command: {retried}") from retried
        except VasError as err:
            if tally is not None:
                tally.ended(handler.__name__, err)
            raise

    def run_all(
        self,
        handler: Callable[[C, UnitOfWork], T | Refused],
        commands: Sequence[C],
        *,
        read_ahead: Callable[[Transaction, pendulum.DateTime], None] | None = None,
    ) -> list[Outcome[T]]:
        """Run ``commands`` in one transaction at one instant, each with a unit of work
        of its own, and commit them together: one commit for the lot instead of one
        each.

        With ``read_ahead`` (for commands that touch disjoint subjects, one subscriber
        each, so none reads what another writes) they are first run straight through
        after ``read_ahead(tx, now)``, their writes sent together at the commit. If any of
        them fails, or the commit does, nothing of that is stored and they run again
        each in a savepoint: a command that fails is undone alone (its error is its
        outcome); one that meets a version conflict is run again alone after the
        batch. If the batch's own transaction fails, each command is run alone."""
        if not commands:
            return []
        if read_ahead is not None:
            together = self._together(handler, commands, read_ahead)
            if together is not None:
                return together
        outcomes: list[Outcome[T] | None] = [None] * len(commands)
        again: list[int] = []
        ready: list[Notice] = []
        published = 0
        now = self.clock.now()
        try:
            with self.store.transaction() as tx:
                for n, command in enumerate(commands):
                    uow = self._unit(tx, now)
                    try:
                        with tx.savepoint():
                            result = handler(command, uow)
                            staged = self._staged(tx, uow)
                    except RetryableError:
                        again.append(n)
                        continue
                    except Exception as err:  # this command alone: the batch goes on
                        outcomes[n] = Outcome(None, [], _as_error(err))
                        continue
                    ready.extend(staged)
                    published += len(uow.feed)
                    outcomes[n] = _outcome(result, uow)
        except Exception:  # the batch's transaction: nothing of it was stored
            return [self._alone(handler, command) for command in commands]
        self._committed(ready, published)
        if self.tally is not None:  # those run again alone are counted by run()
            self._count(self.tally, handler.__name__, outcomes)
        for n in again:
            outcomes[n] = self._alone(handler, commands[n])
        return [o for o in outcomes if o is not None]

    def _together(
        self,
        handler: Callable[[C, UnitOfWork], T | Refused],
        commands: Sequence[C],
        read_ahead: Callable[[Transaction, pendulum.DateTime], None],
    ) -> list[Outcome[T]] | None:
        """``commands`` straight through in one transaction, no savepoints; None when
        any of it failed (and nothing was stored)."""
        outcomes: list[Outcome[T]] = []
        ready: list[Notice] = []
        published = 0
        now = self.clock.now()
        try:
            with self.store.transaction() as tx:
                read_ahead(tx, now)
                for command in commands:
                    uow = self._unit(tx, now)
                    result = handler(command, uow)
                    ready.extend(self._staged(tx, uow))
                    published += len(uow.feed)
                    outcomes.append(_outcome(result, uow))
        except Exception:
            return None
        self._committed(ready, published)
        if self.tally is not None:
            self._count(self.tally, handler.__name__, outcomes)
        return outcomes

    @staticmethod
    def _count(tally: Tally, command: str, outcomes: Sequence[Outcome[T] | None]) -> None:
        """Count a committed batch's commands (None: not run yet, counted when it is)."""
        for outcome in outcomes:
            if outcome is None:
                continue
            if outcome.error is not None:
                tally.ended(command, outcome.error)
            else:
                tally.add(command, "duplicate" if outcome.repeat else "ok")

    def _unit(self, tx: Transaction, now: pendulum.DateTime) -> UnitOfWork:
        return UnitOfWork(tx, now, self.context, claim_for=self.claim_for, rules=self.notice_order)

    @staticmethod
    def _staged(tx: Transaction, uow: UnitOfWork) -> list[Notice]:
        """Write what ``uow`` staged (its feed events, its notices) to ``tx``; the
        notices to hand over after the commit."""
        if uow.feed:
            tx.feed.add_events(make() for make in uow.feed)
        return uow.write_notices()

    def _committed(self, ready: list[Notice], published: int) -> None:
        if ready and self.after_commit is not None:
            self.after_commit(ready)
        if published and self.after_feed is not None:
            self.after_feed(published)

    def _alone(self, handler: Callable[[C, UnitOfWork], T | Refused], command: C) -> Outcome[T]:
        """One command of a batch run on its own, its error kept as its outcome."""
        try:
            result, notices = self.run(handler, command)
        except VasError as err:
            return Outcome(None, [], err)
        return Outcome(result, notices)

    def call(self, work: Callable[[Transaction], T], *, readonly: bool = False) -> T:
        """One transaction with no notices of its own: see :func:`call`."""
        return call(self.store, work, readonly=readonly)


def _outcome(result: T | Refused, uow: UnitOfWork) -> Outcome[T]:
    if isinstance(result, Refused):
        return Outcome(None, uow.notices, result.error)
    return Outcome(result, uow.notices, None, uow.repeat)


def _as_error(err: Exception) -> VasError:
    """A command's failure as one of our errors (a driver's or a bug's, wrapped)."""
    if isinstance(err, VasError):
        return err
    wrapped = StoreError(f"the command failed: {err!r}")
    wrapped.__cause__ = err
    return wrapped


def call(store: Store, work: Callable[[Transaction], T], *, readonly: bool = False) -> T:
    """One transaction with no notices of its own (reads, outbox bookkeeping); run
    once more on a new connection when the first was lost before anything was
    stored."""
    for attempt in (1, 2):
        try:
            with store.transaction(readonly=readonly) as tx:
                return work(tx)
        except ConnectionLostError as err:
            if attempt == 2:
                raise StoreError(f"the store's connection keeps failing: {err}") from err
        except VasError:
            raise
        except Exception as err:
            raise StoreError(f"the store failed: {err}") from err
    raise AssertionError("unreachable")  # pragma: no cover
