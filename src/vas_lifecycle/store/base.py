"""The store port: one transaction per command, optimistic version per order.

The facade opens a :class:`Transaction`, reads what the command needs, writes the
order's new events together with its notices, charges and SP violations, and commits.
Either all of it is stored or none of it (the outbox pattern: notices are delivered
after the commit, from the store). The transaction is made of one small recorder
per subject, as attributes: ``tx.orders`` (orders, events, pick lists), ``tx.outbox``
(notices), ``tx.ledger`` (charges), ``tx.evidence`` (SP violations, delivery
reports), ``tx.keys`` (message ids, idempotency keys, SP keys) and ``tx.feed`` (the
event feed). The outbox and each feed subscriber are the same :class:`LeasedQueue`
shape. Code that needs one subject takes that recorder; each has a contract of its
own in :class:`~vas_lifecycle.testing.StoreContract`.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Generic, NamedTuple, TypeVar

import attrs
import pendulum

from vas_lifecycle.catalog import Period
from vas_lifecycle.evidence import Chain
from vas_lifecycle.notices import Notice, NoticeKind
from vas_lifecycle.order import Event, Order
from vas_lifecycle.records import (
    Charge,
    DeliveryReport,
    FeedDelivery,
    FeedEvent,
    PickSession,
    QueueDepth,
    Refund,
    RefundClaim,
    RequestKey,
    SpKey,
    SpViolation,
)

__all__ = [
    "Billable",
    "ChargeRecorder",
    "ConflictError",
    "ConnectionLostError",
    "Delivery",
    "EvidenceRecorder",
    "FeedRecorder",
    "KeyRecorder",
    "LeasedQueue",
    "NoticeRecorder",
    "OrderRecorder",
    "RetryableError",
    "SpendRecorder",
    "Store",
    "Transaction",
    "UsageRecorder",
    "Waiting",
]


@attrs.frozen
class Delivery:
    """A notice in the outbox with its delivery bookkeeping."""

    notice: Notice
    attempts: int
    last_error: str | None = None

    @property
    def id(self) -> str:
        """The notice's id (what the outbox's queue names it by)."""
        return self.notice.id


@attrs.frozen
class Waiting:
    """A notice still in the outbox, as a command's ordering needs it."""

    notice_id: str
    order_id: str
    kind: NoticeKind


#: what a :class:`LeasedQueue` hands out
ItemT = TypeVar("ItemT")


class RetryableError(Exception):
    """The unit of work did not take effect and may simply be run again."""


class ConflictError(RetryableError):
    """Raised by a transaction when an order's version moved (retried by the facade)."""

    def __init__(
        self, order_id: str, expected_version: int, found_version: int | None = None
    ) -> None:
        found = f", found {found_version}" if found_version is not None else ""
        super().__init__(f"order {order_id}: expected version {expected_version}{found}")
        self.order_id = order_id
        self.expected_version = expected_version
        #: the version the order had moved to, when the store could tell
        self.found_version = found_version

    @classmethod
    def concurrent(cls, cause: object) -> ConflictError:
        """A conflict the database reported without naming an order (a serialization
        failure, a unique index hit by a racing writer)."""
        error = cls("", -1)
        error.args = (f"a concurrent transaction wrote the same rows: {cause}",)
        return error


class ConnectionLostError(RetryableError):
    """The connection to the database broke before the commit was sent, so nothing of
    the unit of work was stored; the facade retries it once on a new connection."""


class OrderRecorder(abc.ABC):
    """Orders and their events, with the subscriber's ``0000`` list (C8): what
    commands read to decide, and what they write."""

    @abc.abstractmethod
    def get_order(self, order_id: str) -> Order | None:
        """The order with that id as stored, or None."""

    @abc.abstractmethod
    def events(self, order_id: str) -> list[Event]:
        """The order's events, oldest first: its evidence (C14); the order is their fold."""

    @abc.abstractmethod
    def orders_of(self, msisdn: str) -> list[Order]:
        """Every order of a subscriber, oldest first (for reads, not for commands)."""

    @abc.abstractmethod
    def live_orders_of(self, msisdn: str) -> list[Order]:
        """The subscriber's live orders, oldest first. Commands read this, never the
        whole history, so their cost does not grow with finished orders (invariant 9)."""

    @abc.abstractmethod
    def count_sp_requests(
        self, msisdn: str, sp_id: str, start: pendulum.DateTime, end: pendulum.DateTime
    ) -> int:
        """How many orders ``sp_id``'s platform (``SP_API``) requested for the subscriber
        in ``[start, end)``, accepted or not (C13's daily limit)."""

    @abc.abstractmethod
    def fee_notice_between(
        self, msisdn: str, service_code: str, start: pendulum.DateTime, end: pendulum.DateTime
    ) -> str | None:
        """The fee notice of the subscriber's first completed SMS on-demand order of that
        service requested in ``[start, end)``, if any (C5: one notice a day)."""

    @abc.abstractmethod
    def latest_language(self, msisdn: str) -> str | None:
        """The language of the subscriber's most recently requested order (replies to
        their texts speak it), or None for a subscriber with no order."""

    def lock_subscriber(self, msisdn: str) -> None:  # noqa: B027 - optional hook
        """Hold the subscriber until this unit of work ends, so that two commands that
        read a subscriber's orders and then write (a request against the daily limit
        and duplicates, a reply against the pending list) run one after the other,
        with any number of workers (invariant 8). A store whose transactions already
        run one at a time needs nothing here."""

    @abc.abstractmethod
    def due_orders(self, now: pendulum.DateTime, limit: int) -> list[Order]:
        """Live orders whose next timer is due at or before ``now``, earliest first."""

    @abc.abstractmethod
    def paying_subscribers(
        self, after: str, activated_before: pendulum.DateTime, limit: int
    ) -> list[Order]:
        """The active subscriptions activated before ``activated_before`` of the first
        ``limit`` subscribers that have any, numbers above ``after`` in order: by
        number, then oldest first (C17's monthly sweep reads a batch at a time)."""

    @abc.abstractmethod
    def sweep(self, name: str) -> tuple[str, str] | None:
        """Where the sweep ``name`` stands: its period and the last key it did, held
        until this unit of work ends (two workers never do the same batch)."""

    @abc.abstractmethod
    def put_sweep(self, name: str, period: str, last_key: str) -> None:
        """Record where the sweep ``name`` stands."""

    def next_due(self) -> pendulum.DateTime | None:
        """When the earliest timer of a live order is due (a worker sleeps until then).
        This default reads every order; the stores answer it from their due index."""
        due = [o.due_at for o in self.all_orders() if o.due_at is not None]
        return min(due) if due else None

    @abc.abstractmethod
    def append(self, order: Order, events: Sequence[Event], expected_version: int) -> None:
        """Store ``events`` and ``order`` (the order after them).

        ``expected_version`` is the version the order had when loaded (0 for a new
        order). Raises :class:`ConflictError` if it moved, now or at commit.
        """

    @abc.abstractmethod
    def pick_session(self, msisdn: str) -> PickSession | None:
        """The subscriber's latest ``0000`` list (C8), expired or not."""

    @abc.abstractmethod
    def put_pick_session(self, session: PickSession) -> None:
        """Store a subscriber's ``0000`` list, replacing the previous one."""

    def finished_before(self, cutoff: pendulum.DateTime) -> list[str]:
        """The ids of finished orders that ended before ``cutoff`` (what C14 lets
        ``purge`` delete). This default reads every order; the SQL stores answer it
        with one query."""
        return [
            o.id
            for o in self.all_orders()
            if not o.is_live and o.ended_at is not None and o.ended_at < cutoff
        ]

    @abc.abstractmethod
    def purge(self, order_ids: Sequence[str]) -> int:
        """Delete finished orders with everything recorded of them in the other
        recorders too: events, notices and their delivery reports, charges, feed
        entries (C14)."""

    @abc.abstractmethod
    def all_orders(self) -> Iterator[Order]:
        """Every stored order, one at a time (the invariant checker and exports read them)."""


class LeasedQueue(abc.ABC, Generic[ItemT]):
    """Items handed out at least once under a lease, the shape the outbox (notices to
    the notifier) and each feed subscriber's queue (events to its handler) share.

    :meth:`claim` takes due items, counts the attempt and pushes the next one to
    ``lease_until``, so a crashed deliverer's items come back and concurrent
    deliverers never take one item at once; the deliverer then records how each went
    (:meth:`mark_delivered`, or :meth:`mark_failed` with a retry time, or parked).
    Items are named by their ``id`` (the notice's or the event's)."""

    @abc.abstractmethod
    def claim(
        self, now: pendulum.DateTime, lease_until: pendulum.DateTime, limit: int
    ) -> list[ItemT]:
        """Claim up to ``limit`` items due at or before ``now``, oldest due first."""

    @abc.abstractmethod
    def mark_delivered(self, ids: Sequence[str], at: pendulum.DateTime) -> None:
        """These items were handed over: never handed out again."""

    @abc.abstractmethod
    def mark_failed(self, item_id: str, error: str, retry_at: pendulum.DateTime | None) -> None:
        """Record a failed attempt; ``retry_at`` None parks the item."""

    @abc.abstractmethod
    def parked(self, limit: int) -> list[ItemT]:
        """Items given up on after too many failed attempts, oldest first, for an
        operator to see."""

    @abc.abstractmethod
    def unpark(self, ids: Sequence[str] | None, now: pendulum.DateTime) -> int:
        """Queue parked items (all, or those named) again, due ``now``, their attempts
        counted from zero; how many."""

    @abc.abstractmethod
    def next_attempt(self) -> pendulum.DateTime | None:
        """When the next claim can take something (None: nothing waits)."""

    @abc.abstractmethod
    def depth(self) -> QueueDepth:
        """How many items wait (not delivered, not parked, withdrawn notices not
        counted) and how many are parked, and when the oldest waiting one was made:
        counted, not read item by item, for a metrics scrape."""


class NoticeRecorder(LeasedQueue[Delivery]):
    """The outbox: notices recorded with the change that made them, and their
    delivery (a :class:`LeasedQueue` of notices)."""

    @abc.abstractmethod
    def claim(
        self,
        now: pendulum.DateTime,
        lease_until: pendulum.DateTime,
        limit: int,
        *,
        unordered: Collection[str] = (),
    ) -> list[Delivery]:
        """Claim up to ``limit`` notices due for delivery (not delivered, parked or
        withdrawn, next attempt at or before ``now``, and no earlier notice of the same
        order still waiting, except one of the ``unordered`` kinds, which holds no
        other back: one order's notices go out in order), oldest first."""

    @abc.abstractmethod
    def mark_delivered(self, ids: Sequence[str], at: pendulum.DateTime) -> None:
        """Record that these notices were handed over; a notice whose final failure a
        gateway reported (:meth:`reopen_notice`) since it was last claimed (the report
        outran the sender) stays undelivered, for the retry the report asked for."""

    @abc.abstractmethod
    def notices(self, order_id: str) -> list[Notice]:
        """The notices recorded for an order, oldest first."""

    @abc.abstractmethod
    def add_notice(self, notice: Notice, *, claimed_until: pendulum.DateTime | None = None) -> None:
        """Record a notice in the outbox; ``claimed_until`` writes it already claimed
        (one attempt counted) by the caller, who will send it right after the commit."""

    @abc.abstractmethod
    def waiting_notices(self, order_ids: Sequence[str]) -> list[Waiting]:
        """These orders' notices still in the outbox: neither delivered, parked nor
        withdrawn (a new notice of theirs may have to wait behind them), oldest first.
        Asked by every command that makes notices of orders: keep it one indexed
        lookup."""

    @abc.abstractmethod
    def withdraw_notices(self, notice_ids: Sequence[str], reason: str) -> None:
        """Never send these waiting notices: newer news of their order overtook them
        (a reminder of a trial that was cancelled meanwhile). Kept as evidence."""

    @abc.abstractmethod
    def withdrawn_notices(self) -> dict[str, str]:
        """Every withdrawn notice's id, with why (for audits)."""

    @abc.abstractmethod
    def delivered(self, notice_id: str) -> bool:
        """Was the notice handed to the notifier (C1a: a reply counts only once its request
        went out)?"""

    @abc.abstractmethod
    def delivery(self, notice_id: str) -> Delivery | None:
        """A notice with its bookkeeping (attempts so far, last error), delivered or not."""

    @abc.abstractmethod
    def reopen_notice(self, notice_id: str, error: str, retry_at: pendulum.DateTime | None) -> None:
        """A notice did not arrive (a gateway's final failure report): not delivered
        any more (and not to be marked delivered by the attempt the report is about),
        sent again at ``retry_at``, or parked when None."""

    @abc.abstractmethod
    def all_notices(self) -> Iterator[Notice]:
        """Every notice, for audits, in no particular order (a store may read them a
        page at a time)."""


class Billable(NamedTuple):
    """A billing pass's batch as a store hands it out (:meth:`ChargeRecorder.billable_orders`):
    the orders to charge their frozen price without more to decide, by id, the others
    whole, and the id to go on after (None: there are no more)."""

    settled: list[str]
    others: list[Order]
    after: str | None


class ChargeRecorder(abc.ABC):
    """The ledger: charges (C11), and the billing pass's batches."""

    @abc.abstractmethod
    def charges(self, order_id: str) -> list[Charge]:
        """The charges recorded on an order, oldest first (C11 reads them: one per period)."""

    @abc.abstractmethod
    def charge(self, key: str) -> Charge | None:
        """The charge recorded under an idempotency key, or None (a retry finds the first)."""

    @abc.abstractmethod
    def add_charge(self, charge: Charge) -> None:
        """Store a charge. The commit must fail with :class:`ConflictError` if the
        order's version is no longer ``charge.order_version`` (a racing cancel)."""

    @abc.abstractmethod
    def billable_orders(
        self,
        period: Period,
        period_key: str,
        settled_before: pendulum.DateTime | None,
        after: str | None,
        limit: int,
    ) -> Billable:
        """A billing pass's next batch: of the next ``limit`` subscriptions charged per
        ``period`` that are active or in a trial, with an id above ``after`` (in id
        order), those with no charge for ``period_key``, locked against other writers
        until the transaction ends (several workers take different ones: ``SKIP
        LOCKED``); none was charged for the period by a transaction committed before
        it was locked. ``settled`` are the ids of those that are active, confirmed
        and activated before ``settled_before`` (None: none are); ``others`` the
        rest, whole."""

    @abc.abstractmethod
    def charge_settled(
        self,
        order_ids: Sequence[str],
        key: tuple[str, str],
        period_key: str,
        start: pendulum.DateTime,
        now: pendulum.DateTime,
    ) -> tuple[int, Decimal]:
        """Charge each order of ``order_ids`` (settled, locked by
        :meth:`billable_orders`) its frozen price for ``period_key``, under the key
        ``key[0] + order id + key[1]``, as one set-based write; how many and how much.
        A charge for an order and period already charged fails the commit with
        :class:`ConflictError`."""

    def add_charges(self, charges: Sequence[Charge]) -> None:
        """Store the charges of a billing pass's batch, each of an order this
        transaction took with :meth:`billable_orders` (so its version is current).
        A charge for an order and period already charged fails the commit with
        :class:`ConflictError`."""
        for charge in charges:
            self.add_charge(charge)

    @abc.abstractmethod
    def all_charges(self) -> Iterator[Charge]:
        """Every charge, for audits, in no particular order (a store may read them a
        page at a time)."""

    # --- refunds (IN5) ---------------------------------------------------------------

    @abc.abstractmethod
    def refunds(self, order_id: str) -> list[Refund]:
        """The refunds recorded on an order, oldest first."""

    @abc.abstractmethod
    def refund(self, key: str) -> Refund | None:
        """The refund recorded under an idempotency key, or None."""

    @abc.abstractmethod
    def add_refund(self, refund: Refund) -> None:
        """Store a refund (its order's ``refund_recorded`` event is appended in the
        same unit of work, so two refunds decided on the same charges at once
        conflict there). A key already stored fails the commit with
        :class:`ConflictError`."""

    @abc.abstractmethod
    def add_claim(self, claim: RefundClaim) -> None:
        """Store a claim; a second claim of an order under the same rule is ignored
        (the first one stands)."""

    @abc.abstractmethod
    def claims(self, after: str | None, limit: int) -> list[RefundClaim]:
        """Up to ``limit`` claims of orders with ids above ``after``, by order id, then
        rule."""

    @abc.abstractmethod
    def all_refunds(self) -> Iterator[Refund]:
        """Every refund, for audits, in no particular order."""


class SpendRecorder(abc.ABC):
    """The spend ledger: what each subscriber was charged, per access code and local
    calendar day (the policy's time zone), kept with every charge so that spend over
    a period (a week, a month) is a few rows, not a scan of the charges. Days are
    ``YYYY-MM-DD`` keys; amounts have at most two decimals."""

    @abc.abstractmethod
    def add_spend(self, rows: Sequence[tuple[str, str, str, Decimal]]) -> None:
        """Add charges to the ledger: one ``(msisdn, access_code, day, amount)`` per
        charge."""

    @abc.abstractmethod
    def add_refunded_spend(self, rows: Sequence[tuple[str, str, str, Decimal]]) -> None:
        """Take refunds off the ledger: one ``(msisdn, access_code, day, amount)`` per
        refund, on the day of the charge it gives back (the count of charges is
        unchanged)."""

    @abc.abstractmethod
    def add_settled_spend(self, order_ids: Sequence[str], day: str) -> None:
        """Add one charge of its frozen price for each order of ``order_ids`` on
        ``day`` (the billing pass's set-based charges, :meth:`ChargeRecorder.charge_settled`)."""

    @abc.abstractmethod
    def spent(
        self, msisdn: str, first_day: str, end_day: str, access_code: str | None
    ) -> tuple[Decimal, int]:
        """What ``msisdn`` was charged on days ``first_day`` up to ``end_day``
        (excluded), on ``access_code`` or on all of them (None): the sum and how many
        charges."""

    # --- spend reminders at least every interval (UK2, AU2) ---------------------------

    @abc.abstractmethod
    def watch(self, msisdn: str, access_code: str, at: pendulum.DateTime) -> None:
        """Start counting the reminder interval of a subscriber on an access code from
        ``at``; one already watched is left as it is."""

    @abc.abstractmethod
    def reminded(self, msisdn: str, access_code: str, at: pendulum.DateTime) -> None:
        """A spend reminder went to the subscriber about the access code at ``at``
        (watched from then on)."""

    @abc.abstractmethod
    def unwatch(self, msisdn: str, access_code: str) -> None:
        """Stop the interval spend reminders of a subscriber on an access code (UK2, AU2):
        nothing paid is live there any more."""

    @abc.abstractmethod
    def reminders_due(
        self, before: pendulum.DateTime, limit: int
    ) -> list[tuple[str, str, pendulum.DateTime]]:
        """Up to ``limit`` watched (subscriber, access code) last reminded (or watched
        from) before ``before``, with that time, longest first."""


class UsageRecorder(abc.ABC):
    """When each tracked subscription was last used (UK6: a paid subscription unused
    for the policy's window is cancelled). An order is tracked from its request when
    the policy cancels idle subscriptions and its service is not exempt; the sweep in
    ``run_due`` reads the ones idle longest first."""

    @abc.abstractmethod
    def track(self, order_id: str, at: pendulum.DateTime) -> None:
        """Start tracking an order, as used at ``at``."""

    @abc.abstractmethod
    def touch(self, order_ids: Sequence[str], at: pendulum.DateTime) -> None:
        """A use of each order at ``at``: a tracked order's time moves to ``at`` if that
        is later; an order not tracked is ignored."""

    @abc.abstractmethod
    def forget(self, order_id: str) -> None:
        """Stop tracking an order."""

    @abc.abstractmethod
    def idle(self, before: pendulum.DateTime, limit: int) -> list[tuple[str, pendulum.DateTime]]:
        """Up to ``limit`` tracked orders last used before ``before``, with that time,
        longest idle first."""


class EvidenceRecorder(abc.ABC):
    """What others did, kept as evidence: SP violations (C13) and the delivery
    reports gateways send about notices."""

    @abc.abstractmethod
    def violations(self, sp_id: str | None) -> list[SpViolation]:
        """The SP violations booked (C13), for one SP or for all, oldest first."""

    @abc.abstractmethod
    def add_violation(self, violation: SpViolation) -> None:
        """Book an SP violation (a forced subscription, a request over the daily limit)."""

    @abc.abstractmethod
    def add_delivery_report(self, report: DeliveryReport) -> None:
        """Keep a gateway's delivery report of a notice (evidence that it arrived, or not)."""

    @abc.abstractmethod
    def delivery_reports(self, notice_id: str) -> list[DeliveryReport]:
        """A notice's delivery reports, oldest first (by the time each was received)."""

    @abc.abstractmethod
    def chain(self, order_id: str) -> Chain | None:
        """The order's evidence chain as stored (C18): its row's version and head and
        every event row with its links; None if neither the order nor any event of
        it is stored. Events whose order row is gone come with version None."""

    @abc.abstractmethod
    def chains(self, after: str | None, limit: int) -> list[Chain]:
        """The chains of at most ``limit`` orders, by id, after ``after`` (the first
        when None): a whole store is checked a page at a time, in constant memory."""

    @abc.abstractmethod
    def orphans(self, limit: int) -> list[Chain]:
        """Chains of events whose order row is gone (at most ``limit`` orders)."""

    @abc.abstractmethod
    def unsealed(self, limit: int) -> list[str]:
        """Ids of orders stored before the store kept chains and not sealed yet."""

    @abc.abstractmethod
    def seal(self, order_ids: Sequence[str], at: pendulum.DateTime) -> int:
        """Chain the stored events of these unsealed orders from their first, noting
        that the chain was written as it happened only from their next event and that
        the earlier ones were sealed ``at``; returns how many orders it sealed."""


class KeyRecorder(abc.ABC):
    """Keys: the inbound texts already handled (by the gateway's message id),
    callers' idempotency keys for order requests, and the SP API's keys (their ids
    and digests, never the secrets)."""

    @abc.abstractmethod
    def first_sight(self, message_id: str, at: pendulum.DateTime) -> bool:
        """Record that the inbound text ``message_id`` is being handled; False if it was
        already (a gateway retry, a second worker): then the caller does nothing. With
        concurrent transactions, exactly one of them sees True."""

    @abc.abstractmethod
    def forget_messages(self, before: pendulum.DateTime) -> int:
        """Drop the ids of inbound texts handled before ``before`` (retention)."""

    @abc.abstractmethod
    def request_key(self, scope: str, key: str) -> RequestKey | None:
        """What a request under a caller's idempotency key made, in its scope, or None."""

    @abc.abstractmethod
    def add_request_key(self, record: RequestKey) -> None:
        """Remember a key (an SP retrying a request its HTTP client gave up on), in
        the request's own unit of work; the commit fails with :class:`ConflictError`
        if a racing transaction stored the same ``(scope, key)`` first (the retry then
        finds it)."""

    @abc.abstractmethod
    def forget_request_keys(self, before: pendulum.DateTime) -> int:
        """Drop the keys stored before ``before`` (retention); how many."""

    @abc.abstractmethod
    def add_sp_key(self, key: SpKey) -> None:
        """Keep an SP's API key (its hash: the secret itself is never stored)."""

    @abc.abstractmethod
    def sp_key(self, key_id: str) -> SpKey | None:
        """The SP API key with that id, or None."""

    @abc.abstractmethod
    def sp_keys(self, sp_id: str) -> list[SpKey]:
        """Every key of an SP, revoked ones included, oldest first."""

    @abc.abstractmethod
    def revoke_sp_keys(self, sp_id: str, key_id: str | None, at: pendulum.DateTime) -> int:
        """Revoke one key of an SP (or all of them, ``key_id`` None); returns how many
        were live."""


class FeedRecorder(abc.ABC):
    """The event feed's outbox: each event stored, with the change that made it, once
    for every registered subscriber, and delivered to each from its own
    :class:`LeasedQueue` (:meth:`queue`)."""

    @abc.abstractmethod
    def add_subscriber(self, name: str, at: pendulum.DateTime) -> bool:
        """Register a subscriber: it is owed every event stored after this commits.
        False if it was registered already (its backlog is kept)."""

    @abc.abstractmethod
    def remove_subscriber(self, name: str) -> bool:
        """Forget a subscriber and every event still owed to it; False if unknown."""

    @abc.abstractmethod
    def subscribers(self) -> list[str]:
        """The registered subscribers' names, sorted."""

    @abc.abstractmethod
    def add_events(self, events: Iterable[FeedEvent]) -> None:
        """Owe ``events`` to every registered subscriber, as of this unit of work's
        end. With none registered nothing is stored, and ``events`` need not even be
        iterated (the caller makes each event only when it is taken)."""

    @abc.abstractmethod
    def queue(self, subscriber: str) -> LeasedQueue[FeedDelivery]:
        """The subscriber's owed events. Its :meth:`~LeasedQueue.claim` takes at most
        one event per order, and only an order's earliest undelivered one (parked or
        not), so one order's events reach the subscriber in commit order; concurrent
        claims for one subscriber run one after the other. A parked event holds its
        order's later events back."""

    @abc.abstractmethod
    def backlog(self, subscriber: str) -> int:
        """How many events the subscriber is still owed (parked ones included)."""

    @abc.abstractmethod
    def next_attempt(self, subscribers: Sequence[str]) -> pendulum.DateTime | None:
        """When the next claim for one of ``subscribers`` can take something: the
        earliest due time among each order's earliest owed event (not parked)."""


class Transaction(abc.ABC):
    """One unit of work, made of one recorder per subject: ``orders``, ``outbox``,
    ``ledger``, ``spend``, ``usage``, ``evidence``, ``keys`` and ``feed``. Nothing is visible to others
    until the store commits it; either all of it is stored or none of it. Code that
    needs one subject takes that recorder (the outbox's delivery takes a
    :class:`NoticeRecorder`)."""

    orders: OrderRecorder
    outbox: NoticeRecorder
    ledger: ChargeRecorder
    spend: SpendRecorder
    usage: UsageRecorder
    evidence: EvidenceRecorder
    keys: KeyRecorder
    feed: FeedRecorder

    def read_ahead(  # noqa: B027 - optional hook
        self,
        msisdns: Collection[str],
        *,
        seen: Collection[str] = (),
        at: pendulum.DateTime | None = None,
    ) -> None:
        """A hint before a burst of commands of these subscribers (one each), first
        in the transaction and outside any savepoint: a store may read what they
        will ask for (their live orders, say) in a few queries for the lot, and
        record the gateway message ids ``seen`` they carry as first seen ``at`` at
        once, answering each :meth:`KeyRecorder.first_sight` from that. It must still
        answer every later read as if it had not."""

    @abc.abstractmethod
    def savepoint(self) -> AbstractContextManager[None]:
        """A part of this transaction that is kept or undone on its own: what the
        block writes stays when it ends normally, and is undone, alone, when it raises
        (the exception goes on; the rest of the transaction is untouched and may go
        on). A version conflict inside the block is raised inside it, so one command
        of a batch that conflicts never takes the others with it."""


class Store(abc.ABC):
    """Where orders, events, notices, charges and violations live."""

    @abc.abstractmethod
    def transaction(self, *, readonly: bool = False) -> AbstractContextManager[Transaction]:
        """A unit of work: committed when the block ends normally, rolled back otherwise.

        ``readonly`` promises no writes, so a store may take a cheaper transaction."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; the default has none."""
