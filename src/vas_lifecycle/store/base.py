"""The store port: one transaction per command, optimistic version per order.

The facade opens a :class:`Transaction`, reads what the command needs, writes the
order's new events together with its notices, charges and SP violations, and commits.
Either all of it is stored or none of it (the outbox pattern: notices are delivered
after the commit, from the store). The transaction is made of small recorder ports
(orders and events, notices, charges and violations, pick sessions, what gateways
report, SP keys); code that needs one part names that port. Adapters keep the ports narrow so SQL stores fit.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import NamedTuple

import attrs
import pendulum

from vas_lifecycle.catalog import Period
from vas_lifecycle.notices import Notice, NoticeKind
from vas_lifecycle.order import Event, Order
from vas_lifecycle.records import (
    Charge,
    DeliveryReport,
    FeedDelivery,
    FeedEvent,
    PickSession,
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
    "FeedRecorder",
    "GatewayRecorder",
    "NoticeRecorder",
    "OrderRecorder",
    "PickSessionRecorder",
    "RequestKeyRecorder",
    "RetryableError",
    "SpKeyRecorder",
    "Store",
    "Transaction",
    "Waiting",
]


@attrs.frozen
class Delivery:
    """A notice in the outbox with its delivery bookkeeping."""

    notice: Notice
    attempts: int
    last_error: str | None = None


@attrs.frozen
class Waiting:
    """A notice still in the outbox, as a command's ordering needs it."""

    notice_id: str
    order_id: str
    kind: NoticeKind


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
    """Orders and their events: what commands read to decide, and what they write."""

    @abc.abstractmethod
    def get_order(self, order_id: str) -> Order | None: ...

    @abc.abstractmethod
    def events(self, order_id: str) -> list[Event]: ...

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
        """Delete finished orders with their events, notices, charges and feed
        entries (C14)."""

    @abc.abstractmethod
    def all_orders(self) -> Iterator[Order]: ...


class NoticeRecorder(abc.ABC):
    """The outbox: notices recorded with the change that made them, and their delivery."""

    @abc.abstractmethod
    def notices(self, order_id: str) -> list[Notice]: ...

    @abc.abstractmethod
    def add_notice(self, notice: Notice, *, claimed_until: pendulum.DateTime | None = None) -> None:
        """Record a notice in the outbox; ``claimed_until`` writes it already claimed
        (one attempt counted) by the caller, who will send it right after the commit."""

    @abc.abstractmethod
    def claim_notices(
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
        other back: one order's notices go out in order), oldest first: count the
        attempt and push the next one to ``lease_until``, so a crashed sender's notices
        come back, and so that concurrent dispatchers never claim the same notice at
        once."""

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
    def next_attempt(self) -> pendulum.DateTime | None:
        """When the earliest notice waiting in the outbox (not delivered, not parked) is
        due for its next attempt."""

    @abc.abstractmethod
    def mark_delivered(self, notice_ids: Sequence[str], at: pendulum.DateTime) -> None:
        """Record that these notices were handed over; a notice whose final failure a
        gateway reported (:meth:`reopen_notice`) since it was last claimed (the report
        outran the sender) stays undelivered, for the retry the report asked for."""

    @abc.abstractmethod
    def mark_failed(self, notice_id: str, error: str, retry_at: pendulum.DateTime | None) -> None:
        """Record a failed attempt; ``retry_at`` None parks the notice."""

    @abc.abstractmethod
    def parked_notices(self, limit: int) -> list[Delivery]:
        """Notices given up on after too many failed attempts, for an operator to see."""

    @abc.abstractmethod
    def unpark(self, notice_ids: Sequence[str], now: pendulum.DateTime) -> int:
        """Put parked notices back in the queue, due ``now``; returns how many."""

    @abc.abstractmethod
    def delivered(self, notice_id: str) -> bool: ...

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
    """Charges (C11) and SP violations (C13): the money and the evidence against SPs."""

    @abc.abstractmethod
    def charges(self, order_id: str) -> list[Charge]: ...

    @abc.abstractmethod
    def charge(self, key: str) -> Charge | None: ...

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

    @abc.abstractmethod
    def violations(self, sp_id: str | None) -> list[SpViolation]: ...

    @abc.abstractmethod
    def add_violation(self, violation: SpViolation) -> None: ...


class PickSessionRecorder(abc.ABC):
    """The subscriber's latest ``0000`` list (C8)."""

    @abc.abstractmethod
    def pick_session(self, msisdn: str) -> PickSession | None:
        """The subscriber's latest ``0000`` list (C8), expired or not."""

    @abc.abstractmethod
    def put_pick_session(self, session: PickSession) -> None:
        """Store a subscriber's ``0000`` list, replacing the previous one."""


class GatewayRecorder(abc.ABC):
    """What SMS gateways tell: the inbound texts already handled, by the gateway's
    message id, and delivery reports about notices."""

    @abc.abstractmethod
    def first_sight(self, message_id: str, at: pendulum.DateTime) -> bool:
        """Record that the inbound text ``message_id`` is being handled; False if it was
        already (a gateway retry, a second worker): then the caller does nothing. With
        concurrent transactions, exactly one of them sees True."""

    @abc.abstractmethod
    def add_delivery_report(self, report: DeliveryReport) -> None: ...

    @abc.abstractmethod
    def delivery_reports(self, notice_id: str) -> list[DeliveryReport]:
        """A notice's delivery reports, oldest first (by the time each was received)."""

    @abc.abstractmethod
    def forget_messages(self, before: pendulum.DateTime) -> int:
        """Drop the ids of inbound texts handled before ``before`` (retention)."""


class SpKeyRecorder(abc.ABC):
    """The SP API's keys: their ids and digests, never the secrets."""

    @abc.abstractmethod
    def add_sp_key(self, key: SpKey) -> None: ...

    @abc.abstractmethod
    def sp_key(self, key_id: str) -> SpKey | None: ...

    @abc.abstractmethod
    def sp_keys(self, sp_id: str) -> list[SpKey]:
        """Every key of an SP, revoked ones included, oldest first."""

    @abc.abstractmethod
    def revoke_sp_keys(self, sp_id: str, key_id: str | None, at: pendulum.DateTime) -> int:
        """Revoke one key of an SP (or all of them, ``key_id`` None); returns how many
        were live."""


class RequestKeyRecorder(abc.ABC):
    """Callers' idempotency keys for order requests (an SP retrying a request its
    HTTP client gave up on), stored in the request's own unit of work."""

    @abc.abstractmethod
    def request_key(self, scope: str, key: str) -> RequestKey | None: ...

    @abc.abstractmethod
    def add_request_key(self, record: RequestKey) -> None:
        """Remember a key; the commit fails with :class:`ConflictError` if a racing
        transaction stored the same ``(scope, key)`` first (the retry then finds it)."""

    @abc.abstractmethod
    def forget_request_keys(self, before: pendulum.DateTime) -> int:
        """Drop the keys stored before ``before`` (retention); how many."""


class FeedRecorder(abc.ABC):
    """The event feed's outbox: each event stored, with the change that made it, once
    for every registered subscriber, and delivered to each on its own."""

    @abc.abstractmethod
    def add_feed_subscriber(self, name: str, at: pendulum.DateTime) -> bool:
        """Register a subscriber: it is owed every event stored after this commits.
        False if it was registered already (its backlog is kept)."""

    @abc.abstractmethod
    def remove_feed_subscriber(self, name: str) -> bool:
        """Forget a subscriber and every event still owed to it; False if unknown."""

    @abc.abstractmethod
    def feed_subscribers(self) -> list[str]:
        """The registered subscribers' names, sorted."""

    @abc.abstractmethod
    def add_feed_events(self, events: Iterable[FeedEvent]) -> None:
        """Owe ``events`` to every registered subscriber, as of this unit of work's
        end. With none registered nothing is stored, and ``events`` need not even be
        iterated (the caller makes each event only when it is taken)."""

    @abc.abstractmethod
    def claim_feed(
        self,
        subscriber: str,
        now: pendulum.DateTime,
        lease_until: pendulum.DateTime,
        limit: int,
    ) -> list[FeedDelivery]:
        """Claim up to ``limit`` of the subscriber's due events, oldest due first: at
        most one per order, and only an order's earliest undelivered event (parked or
        not), so one order's events reach the subscriber in commit order. Count the
        attempt and push the next one to ``lease_until``. Concurrent claims for one
        subscriber run one after the other."""

    @abc.abstractmethod
    def mark_feed_delivered(
        self, subscriber: str, event_ids: Sequence[str], at: pendulum.DateTime
    ) -> None: ...

    @abc.abstractmethod
    def mark_feed_failed(
        self, subscriber: str, event_id: str, error: str, retry_at: pendulum.DateTime | None
    ) -> None:
        """Record a failed delivery; ``retry_at`` None parks the event (and, behind it,
        its order's later events for this subscriber)."""

    @abc.abstractmethod
    def parked_feed(self, subscriber: str, limit: int) -> list[FeedDelivery]:
        """The subscriber's parked events, oldest first."""

    @abc.abstractmethod
    def unpark_feed(
        self, subscriber: str, event_ids: Sequence[str] | None, now: pendulum.DateTime
    ) -> int:
        """Queue parked events (all, or those named) again, due ``now``; how many."""

    @abc.abstractmethod
    def feed_backlog(self, subscriber: str) -> int:
        """How many events the subscriber is still owed (parked ones included)."""

    @abc.abstractmethod
    def next_feed_attempt(self, subscribers: Sequence[str]) -> pendulum.DateTime | None:
        """When the next claim for one of ``subscribers`` can take something: the
        earliest due time among each order's earliest owed event (not parked)."""


class Transaction(
    OrderRecorder,
    NoticeRecorder,
    ChargeRecorder,
    PickSessionRecorder,
    GatewayRecorder,
    SpKeyRecorder,
    FeedRecorder,
    RequestKeyRecorder,
):
    """One unit of work over every recorder port. Nothing is visible to others until
    the store commits it; either all of it is stored or none of it. Code that needs
    one part names the smaller port (the outbox takes a ``NoticeRecorder``)."""

    def read_ahead(self, msisdns: Collection[str]) -> None:
        """A hint before a burst of commands of these subscribers (one each): a store
        may read what they will ask for (their live orders, say) in a few queries
        for the lot. It must still answer every later read as if it had not."""

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
