"""In-memory store: the default of ``Lifecycle``, and the reference for the contract.

A transaction holds the store's lock, writes straight into the data and keeps an undo
log; leaving the block with an exception replays the log backwards, so a failed
command leaves nothing behind.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

import attrs
import pendulum

from vas_lifecycle.catalog import OfferKind, Period
from vas_lifecycle.clock import utc_text
from vas_lifecycle.evidence import (
    GENESIS,
    Chain,
    StoredEvent,
    data_text,
    event_values,
    link_text,
)
from vas_lifecycle.notices import Notice
from vas_lifecycle.order import Event, Order
from vas_lifecycle.records import (
    Channel,
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
from vas_lifecycle.states import BILLABLE_STATES, OrderState
from vas_lifecycle.store.base import (
    Billable,
    ChargeRecorder,
    ConflictError,
    Delivery,
    EvidenceRecorder,
    FeedRecorder,
    KeyRecorder,
    LeasedQueue,
    NoticeRecorder,
    OrderRecorder,
    SpendRecorder,
    Store,
    Transaction,
    UsageRecorder,
    Waiting,
)

__all__ = ["MemoryStore"]


@attrs.define
class _Box:
    """The delivery bookkeeping of a notice in the outbox or of a feed event."""

    attempts: int
    next_at: pendulum.DateTime
    error: str | None = None
    parked: bool = False
    #: a gateway reported this attempt failed: a later "delivered" is not believed
    reported: bool = False


class _Data:
    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        # per-order and per-subscriber indexes hold tuples: a few items each, and a
        # tuple is smaller than a list (millions of them live in memory)
        self.events: dict[str, tuple[Event, ...]] = {}
        # each order's evidence chain (C18): its events' hashes, 32 bytes each, in one
        # bytes object (the last is the order's head)
        self.chains: dict[str, bytes] = {}
        # per subscriber: every order id, sorted by (requested_at, id), and the live ones
        # (a few each: tuples, the smallest container)
        self.by_msisdn: dict[str, list[str]] = {}
        self.live: dict[str, tuple[str, ...]] = {}
        self.due: list[tuple[pendulum.DateTime, str]] = []  # sorted (due_at, order id)
        self.notices: dict[str, Notice] = {}
        self.notices_by_order: dict[str, tuple[str, ...]] = {}
        self.outbox: dict[str, _Box] = {}  # undelivered notices, in recording order
        # attempts of delivered notices, kept only where not 1 (the usual case)
        self.delivered_after: dict[str, int] = {}
        self.withdrawn: dict[str, str] = {}  # notice id -> why it is never to be sent
        self.charges: dict[str, Charge] = {}
        self.charges_by_order: dict[str, list[str]] = {}
        self.refunds: dict[str, Refund] = {}
        self.refunds_by_order: dict[str, list[str]] = {}
        self.claims: dict[tuple[str, str], RefundClaim] = {}  # (order id, rule)
        self.usage: dict[str, pendulum.DateTime] = {}  # tracked order -> last used (UK6)
        # (msisdn, access code) -> last spend reminder, or when watching began (UK2)
        self.spend_watch: dict[tuple[str, str], pendulum.DateTime] = {}
        self.violations: list[SpViolation] = []
        self.picks: dict[str, PickSession] = {}
        self.sweeps: dict[str, tuple[str, str]] = {}  # name -> (period, last key)
        self.messages: dict[str, pendulum.DateTime] = {}
        self.reports: dict[str, tuple[DeliveryReport, ...]] = {}
        self.sp_keys: dict[str, SpKey] = {}
        self.request_keys: dict[tuple[str, str], RequestKey] = {}
        # the event feed: each subscriber's owed events, in commit order, by event id
        self.feed: dict[str, dict[str, tuple[FeedEvent, _Box]]] = {}
        # the spend ledger: msisdn -> (access code, day) -> (cents, charges)
        self.spend: dict[str, dict[tuple[str, str], tuple[int, int]]] = {}

    def copy(self) -> _Data:
        """An independent copy: records are immutable and shared, containers are new."""
        other = _Data()
        other.orders = dict(self.orders)
        other.events = dict(self.events)
        other.chains = dict(self.chains)
        other.by_msisdn = {k: list(v) for k, v in self.by_msisdn.items()}
        other.live = dict(self.live)
        other.due = list(self.due)
        other.notices = dict(self.notices)
        other.notices_by_order = dict(self.notices_by_order)
        other.outbox = {k: attrs.evolve(v) for k, v in self.outbox.items()}
        other.delivered_after = dict(self.delivered_after)
        other.withdrawn = dict(self.withdrawn)
        other.charges = dict(self.charges)
        other.charges_by_order = {k: list(v) for k, v in self.charges_by_order.items()}
        other.refunds = dict(self.refunds)
        other.refunds_by_order = {k: list(v) for k, v in self.refunds_by_order.items()}
        other.claims = dict(self.claims)
        other.usage = dict(self.usage)
        other.spend_watch = dict(self.spend_watch)
        other.violations = list(self.violations)
        other.picks = dict(self.picks)
        other.sweeps = dict(self.sweeps)
        other.messages = dict(self.messages)
        other.reports = dict(self.reports)
        other.sp_keys = dict(self.sp_keys)
        other.request_keys = dict(self.request_keys)
        other.spend = {k: dict(v) for k, v in self.spend.items()}
        other.feed = {
            name: {eid: (event, attrs.evolve(box)) for eid, (event, box) in owed.items()}
            for name, owed in self.feed.items()
        }
        return other

    def when(self, order_id: str) -> tuple[pendulum.DateTime, str]:
        """The sort key of the per-subscriber index."""
        return self.orders[order_id].requested_at, order_id


class _Part:
    """A recorder: a view of the store's data that logs how to undo its writes in
    the store's undo log (each transaction undoes its own part of it)."""

    def __init__(self, data: _Data, undo: list[Callable[[], None]]) -> None:
        self._data = data
        self._undo = undo

    def _put(self, mapping: dict[Any, Any], key: Any, value: Any) -> None:
        """Set ``mapping[key]`` (None: drop it), logging how to undo it."""
        before = mapping.get(key)
        if value is None:
            mapping.pop(key, None)
        else:
            mapping[key] = value
        if before is None:
            self._undo.append(functools.partial(_drop, mapping, key))
        else:
            self._undo.append(functools.partial(mapping.__setitem__, key, before))


class _Orders(_Part, OrderRecorder):
    """Orders, their events and indexes, and the pick lists."""

    def get_order(self, order_id: str) -> Order | None:
        return self._data.orders.get(order_id)

    def events(self, order_id: str) -> list[Event]:
        return list(self._data.events.get(order_id, ()))

    def orders_of(self, msisdn: str) -> list[Order]:
        orders = self._data.orders
        return [orders[oid] for oid in self._data.by_msisdn.get(msisdn, ())]

    def live_orders_of(self, msisdn: str) -> list[Order]:
        orders = self._data.orders
        live = [orders[oid] for oid in self._data.live.get(msisdn, ())]
        return sorted(live, key=lambda o: (o.requested_at, o.id))

    def _requested_between(
        self, msisdn: str, start: pendulum.DateTime, end: pendulum.DateTime
    ) -> list[Order]:
        index = self._data.by_msisdn.get(msisdn, [])
        low = bisect.bisect_left(index, (start, ""), key=self._data.when)
        high = bisect.bisect_left(index, (end, ""), key=self._data.when)
        return [self._data.orders[oid] for oid in index[low:high]]

    def count_sp_requests(
        self, msisdn: str, sp_id: str, start: pendulum.DateTime, end: pendulum.DateTime
    ) -> int:
        return sum(
            1
            for o in self._requested_between(msisdn, start, end)
            if o.sp_id == sp_id and o.request_channel is Channel.SP_API
        )

    def fee_notice_between(
        self, msisdn: str, service_code: str, start: pendulum.DateTime, end: pendulum.DateTime
    ) -> str | None:
        for o in self._requested_between(msisdn, start, end):
            if _sms_fee_notice(o, service_code):
                return o.fee_notice_id
        return None

    def latest_language(self, msisdn: str) -> str | None:
        index = self._data.by_msisdn.get(msisdn)
        return self._data.orders[index[-1]].language if index else None

    def due_orders(self, now: pendulum.DateTime, limit: int) -> list[Order]:
        found: list[Order] = []
        for due, oid in self._data.due:
            if due > now or len(found) >= limit:
                break
            found.append(self._data.orders[oid])
        return found

    def next_due(self) -> pendulum.DateTime | None:
        due = self._data.due
        return due[0][0] if due else None

    def paying_subscribers(
        self, after: str, activated_before: pendulum.DateTime, limit: int
    ) -> list[Order]:
        found: list[Order] = []
        numbers = 0
        for msisdn in sorted(m for m in self._data.live if m > after):
            paying = [
                o
                for o in self.live_orders_of(msisdn)
                if o.state is OrderState.ACTIVE
                and o.kind is OfferKind.SUBSCRIPTION
                and o.activated_at is not None
                and o.activated_at < activated_before
            ]
            if paying:
                found += paying
                numbers += 1
                if numbers == limit:
                    break
        return found

    def sweep(self, name: str) -> tuple[str, str] | None:
        return self._data.sweeps.get(name)

    def put_sweep(self, name: str, period: str, last_key: str) -> None:
        self._put(self._data.sweeps, name, (period, last_key))

    def pick_session(self, msisdn: str) -> PickSession | None:
        return self._data.picks.get(msisdn)

    def put_pick_session(self, session: PickSession) -> None:
        picks = self._data.picks
        before = picks.get(session.msisdn)
        picks[session.msisdn] = session
        if before is None:
            self._undo.append(functools.partial(_drop, picks, session.msisdn))
        else:
            self._undo.append(lambda: picks.__setitem__(session.msisdn, before))

    def append(self, order: Order, events: Sequence[Event], expected_version: int) -> None:
        data = self._data
        current = data.orders.get(order.id)
        if (current.version if current is not None else 0) != expected_version:
            found = current.version if current is not None else 0
            raise ConflictError(order.id, expected_version, found)
        data.orders[order.id] = order
        self._set_live(order, current is not None and current.is_live)
        chain = before = data.chains.get(order.id, b"")
        prev = chain[-32:].hex() if chain else GENESIS
        for e in events:  # kind and channel are str enums: their text is their value
            digest = link_text(
                prev,
                e.order_id,
                e.seq,
                e.kind,
                utc_text(e.at),
                e.channel,
                e.actor,
                e.text_in,
                e.text_out,
                data_text(e.data),
            )
            chain += digest
            prev = digest.hex()
        data.chains[order.id] = chain
        if current is None:
            data.events[order.id] = tuple(events)
            bisect.insort(data.by_msisdn.setdefault(order.msisdn, []), order.id, key=data.when)
            self._undo.append(lambda: self._forget_order(order))
        else:
            history = data.events[order.id]
            data.events[order.id] = (*history, *events)
            self._undo.append(lambda: data.orders.__setitem__(order.id, current))
            self._undo.append(functools.partial(data.events.__setitem__, order.id, history))
            self._undo.append(functools.partial(data.chains.__setitem__, order.id, before))
        self._move_due(order.id, current.due_at if current else None, order.due_at)

    def _set_live(self, order: Order, was_live: bool) -> None:
        """Keep the subscriber's live index in step with the order's state."""
        if order.is_live == was_live:
            return
        live = self._data.live
        before = live.get(order.msisdn, ())
        if order.is_live:
            live[order.msisdn] = (*before, order.id)
        else:
            live[order.msisdn] = tuple(oid for oid in before if oid != order.id)
        self._undo.append(lambda: live.__setitem__(order.msisdn, before))

    def _forget_order(self, order: Order) -> None:
        self._data.orders.pop(order.id, None)
        self._data.events.pop(order.id, None)
        self._data.chains.pop(order.id, None)
        live = self._data.live
        left = tuple(oid for oid in live.get(order.msisdn, ()) if oid != order.id)
        if left:
            live[order.msisdn] = left
        else:
            live.pop(order.msisdn, None)
        by_msisdn = self._data.by_msisdn
        index = by_msisdn[order.msisdn]
        index.remove(order.id)
        if not index:
            del by_msisdn[order.msisdn]

    def _move_due(
        self, oid: str, old: pendulum.DateTime | None, new: pendulum.DateTime | None
    ) -> None:
        due = self._data.due
        if old == new:
            return
        if old is not None:
            _remove_sorted(due, (old, oid))
        if new is not None:
            bisect.insort(due, (new, oid))
        self._undo.append(lambda: self._move_due_back(oid, old, new))

    def _move_due_back(
        self, oid: str, old: pendulum.DateTime | None, new: pendulum.DateTime | None
    ) -> None:
        due = self._data.due
        if new is not None:
            _remove_sorted(due, (new, oid))
        if old is not None:
            bisect.insort(due, (old, oid))

    def purge(self, order_ids: Sequence[str]) -> int:
        # purging is an explicit, final operation: it is not undone by a rollback of
        # the same unit of work, so it runs last and alone in Lifecycle.purge
        data = self._data
        count = 0
        for oid in order_ids:
            order = data.orders.get(oid)
            if order is None or order.due_at is not None:
                continue
            self._forget_order(order)
            for nid in data.notices_by_order.pop(oid, ()):
                data.notices.pop(nid, None)
                data.outbox.pop(nid, None)
                data.delivered_after.pop(nid, None)
                data.reports.pop(nid, None)
                data.withdrawn.pop(nid, None)
            for key in data.charges_by_order.pop(oid, []):
                data.charges.pop(key, None)
            for key in data.refunds_by_order.pop(oid, []):
                data.refunds.pop(key, None)
            for claim in [k for k in data.claims if k[0] == oid]:
                del data.claims[claim]
            data.usage.pop(oid, None)
            for owed in data.feed.values():
                for eid in [e for e, (event, _box) in owed.items() if event.order_id == oid]:
                    del owed[eid]
            count += 1
        return count

    def all_orders(self) -> Iterator[Order]:
        yield from list(self._data.orders.values())


class _Notices(_Part, NoticeRecorder):
    """The outbox."""

    def claim(
        self,
        now: pendulum.DateTime,
        lease_until: pendulum.DateTime,
        limit: int,
        *,
        unordered: Collection[str] = (),
    ) -> list[Delivery]:
        claimed: list[Delivery] = []
        notices = self._data.notices
        # one order's notices go out in order: only its earliest waiting one is claimable
        first: dict[str, tuple[pendulum.DateTime, str]] = {}
        for nid, box in self._data.outbox.items():
            oid = notices[nid].order_id
            if oid is not None and not box.parked and notices[nid].kind not in unordered:
                key = (notices[nid].at, nid)
                if oid not in first or key < first[oid]:
                    first[oid] = key
        for nid, box in self._data.outbox.items():
            if len(claimed) >= limit:
                break
            if box.parked or box.next_at > now:
                continue
            oid = notices[nid].order_id
            if oid is not None and first.get(oid, (notices[nid].at, nid)) < (notices[nid].at, nid):
                continue
            self._undo.append(functools.partial(_restore_all, box, _snapshot(box)))
            box.attempts += 1
            box.next_at = lease_until
            box.reported = False
            claimed.append(Delivery(self._data.notices[nid], box.attempts, box.error))
        return claimed

    def mark_delivered(self, notice_ids: Sequence[str], at: pendulum.DateTime) -> None:
        data = self._data
        for nid in notice_ids:
            if nid in data.outbox and data.outbox[nid].reported:
                continue  # a gateway's failure report outran the sender
            box = data.outbox.pop(nid, None)
            if box is not None:
                self._undo.append(functools.partial(data.outbox.__setitem__, nid, box))
                if box.attempts != 1:
                    data.delivered_after[nid] = box.attempts
                    self._undo.append(functools.partial(_drop, data.delivered_after, nid))

    def mark_failed(self, notice_id: str, error: str, retry_at: pendulum.DateTime | None) -> None:
        box = self._data.outbox.get(notice_id)
        if box is None:
            return
        self._undo.append(functools.partial(_restore_all, box, _snapshot(box)))
        _fail(box, error, retry_at)

    def parked(self, limit: int) -> list[Delivery]:
        return [
            Delivery(self._data.notices[nid], box.attempts, box.error)
            for nid, box in self._data.outbox.items()
            if box.parked
        ][:limit]

    def unpark(self, ids: Sequence[str] | None, now: pendulum.DateTime) -> int:
        return _unpark(self._undo, self._data.outbox.items(), ids, now)

    def next_attempt(self) -> pendulum.DateTime | None:
        waiting = [box.next_at for box in self._data.outbox.values() if not box.parked]
        return min(waiting) if waiting else None

    def depth(self) -> QueueDepth:
        notices = self._data.notices
        return _depth((notices[nid].at, box) for nid, box in self._data.outbox.items())

    def notices(self, order_id: str) -> list[Notice]:
        return [self._data.notices[n] for n in self._data.notices_by_order.get(order_id, ())]

    def add_notice(self, notice: Notice, *, claimed_until: pendulum.DateTime | None = None) -> None:
        data = self._data
        if notice.id in data.notices:
            raise ConflictError(notice.order_id or notice.id, -1)
        data.notices[notice.id] = notice
        if claimed_until is None:
            data.outbox[notice.id] = _Box(0, notice.at)
        else:
            data.outbox[notice.id] = _Box(1, claimed_until)
        oid = notice.order_id
        before = data.notices_by_order.get(oid, ()) if oid is not None else ()
        if oid is not None:
            data.notices_by_order[oid] = (*before, notice.id)

        def undo() -> None:
            data.notices.pop(notice.id, None)
            data.outbox.pop(notice.id, None)
            if oid is not None:
                if before:
                    data.notices_by_order[oid] = before
                else:
                    data.notices_by_order.pop(oid, None)

        self._undo.append(undo)

    def waiting_notices(self, order_ids: Sequence[str]) -> list[Waiting]:
        data = self._data
        outbox, by_order = data.outbox, data.notices_by_order
        if not outbox:  # nothing waits anywhere (the usual case between dispatches)
            return []
        waiting = [
            data.notices[nid]
            for oid in order_ids
            for nid in by_order.get(oid, ())
            if nid in outbox and not outbox[nid].parked
        ]
        if not waiting:
            return []
        waiting.sort(key=lambda n: (n.at, n.id))
        return [Waiting(n.id, n.order_id or "", n.kind) for n in waiting]

    def withdraw_notices(self, notice_ids: Sequence[str], reason: str) -> None:
        data = self._data
        for nid in notice_ids:
            box = data.outbox.get(nid)
            if box is None or box.parked:
                continue
            del data.outbox[nid]
            data.withdrawn[nid] = reason[:500]
            self._undo.append(functools.partial(data.outbox.__setitem__, nid, box))
            self._undo.append(functools.partial(_drop, data.withdrawn, nid))

    def withdrawn_notices(self) -> dict[str, str]:
        return dict(self._data.withdrawn)

    def delivered(self, notice_id: str) -> bool:
        data = self._data
        return (
            notice_id in data.notices
            and notice_id not in data.outbox
            and notice_id not in data.withdrawn
        )

    def delivery(self, notice_id: str) -> Delivery | None:
        notice = self._data.notices.get(notice_id)
        if notice is None:
            return None
        box = self._data.outbox.get(notice_id)
        if box is None:
            return Delivery(notice, self._data.delivered_after.get(notice_id, 1))
        return Delivery(notice, box.attempts, box.error)

    def reopen_notice(self, notice_id: str, error: str, retry_at: pendulum.DateTime | None) -> None:
        data = self._data
        if notice_id not in data.notices:
            return
        box = data.outbox.get(notice_id)
        if box is None:
            attempts = data.delivered_after.pop(notice_id, 1)
            next_at = retry_at if retry_at is not None else data.notices[notice_id].at
            box = data.outbox[notice_id] = _Box(attempts, next_at)

            def undo() -> None:
                data.outbox.pop(notice_id, None)
                if attempts != 1:
                    data.delivered_after[notice_id] = attempts

            self._undo.append(undo)
            _fail(box, error, retry_at)
        else:
            self.mark_failed(notice_id, error, retry_at)
        box.reported = True

    def all_notices(self) -> Iterator[Notice]:
        yield from list(self._data.notices.values())


class _Ledger(_Part, ChargeRecorder):
    """Charges."""

    def charges(self, order_id: str) -> list[Charge]:
        return [self._data.charges[k] for k in self._data.charges_by_order.get(order_id, ())]

    def charge(self, key: str) -> Charge | None:
        return self._data.charges.get(key)

    def add_charge(self, charge: Charge) -> None:
        data = self._data
        order = data.orders.get(charge.order_id)
        if order is None or order.version != charge.order_version:
            found = order.version if order is not None else None
            raise ConflictError(charge.order_id, charge.order_version, found)
        if charge.key in data.charges or any(
            data.charges[k].period_key == charge.period_key
            for k in data.charges_by_order.get(charge.order_id, ())
        ):
            raise ConflictError(charge.order_id, charge.order_version)
        data.charges[charge.key] = charge
        keys = data.charges_by_order.setdefault(charge.order_id, [])
        keys.append(charge.key)

        def undo() -> None:
            data.charges.pop(charge.key, None)
            keys.remove(charge.key)

        self._undo.append(undo)

    def billable_orders(
        self,
        period: Period,
        period_key: str,
        settled_before: pendulum.DateTime | None,
        after: str | None,
        limit: int,
    ) -> Billable:
        data = self._data
        charged = data.charges_by_order
        found = [
            order
            for order in data.orders.values()
            if order.kind is OfferKind.SUBSCRIPTION
            and order.period is period
            and order.state in BILLABLE_STATES
            and (after is None or order.id > after)
            and not any(data.charges[k].period_key == period_key for k in charged.get(order.id, ()))
        ]
        found.sort(key=lambda order: order.id)
        batch = found[:limit]
        settled, others = [], []
        for order in batch:
            if (
                settled_before is not None
                and order.state is OrderState.ACTIVE
                and order.consent_channel is not None
                and order.activated_at is not None
                and order.activated_at < settled_before
            ):
                settled.append(order.id)
            else:
                others.append(order)
        return Billable(settled, others, batch[-1].id if len(batch) == limit else None)

    def charge_settled(
        self,
        order_ids: Sequence[str],
        key: tuple[str, str],
        period_key: str,
        start: pendulum.DateTime,
        now: pendulum.DateTime,
    ) -> tuple[int, Decimal]:
        total = Decimal(0)
        for order_id in order_ids:
            order = self._data.orders[order_id]
            charge_key = f"{key[0]}{order_id}{key[1]}"
            self.add_charge(
                Charge(charge_key, order_id, order.price, period_key, start, now, order.version)
            )
            total += order.price
        return len(order_ids), total

    def all_charges(self) -> Iterator[Charge]:
        yield from list(self._data.charges.values())

    def refunds(self, order_id: str) -> list[Refund]:
        return [self._data.refunds[k] for k in self._data.refunds_by_order.get(order_id, ())]

    def refund(self, key: str) -> Refund | None:
        return self._data.refunds.get(key)

    def add_refund(self, refund: Refund) -> None:
        data = self._data
        if refund.key in data.refunds:
            raise ConflictError(refund.order_id, refund.order_version)
        data.refunds[refund.key] = refund
        keys = data.refunds_by_order.setdefault(refund.order_id, [])
        keys.append(refund.key)

        def undo() -> None:
            data.refunds.pop(refund.key, None)
            keys.remove(refund.key)

        self._undo.append(undo)

    def add_claim(self, claim: RefundClaim) -> None:
        if (claim.order_id, claim.rule) not in self._data.claims:
            self._put(self._data.claims, (claim.order_id, claim.rule), claim)

    def claims(self, after: str | None, limit: int) -> list[RefundClaim]:
        keys = sorted(k for k in self._data.claims if after is None or k[0] > after)
        return [self._data.claims[k] for k in keys[:limit]]

    def all_refunds(self) -> Iterator[Refund]:
        yield from list(self._data.refunds.values())


class _Spend(_Part, SpendRecorder):
    """The spend ledger, in cents per subscriber, access code and day."""

    def add_spend(self, rows: Sequence[tuple[str, str, str, Decimal]]) -> None:
        self._add(rows, 1, 1)

    def add_refunded_spend(self, rows: Sequence[tuple[str, str, str, Decimal]]) -> None:
        self._add(rows, -1, 0)

    def _add(self, rows: Sequence[tuple[str, str, str, Decimal]], sign: int, each: int) -> None:
        for msisdn, access_code, day, amount in rows:
            ledger = self._data.spend.setdefault(msisdn, {})
            cents, count = ledger.get((access_code, day), (0, 0))
            self._put(ledger, (access_code, day), (cents + sign * _cents(amount), count + each))

    def add_settled_spend(self, order_ids: Sequence[str], day: str) -> None:
        orders = self._data.orders
        self.add_spend(
            [(o.msisdn, o.access_code, day, o.price) for o in (orders[oid] for oid in order_ids)]
        )

    def spent(
        self, msisdn: str, first_day: str, end_day: str, access_code: str | None
    ) -> tuple[Decimal, int]:
        cents = count = 0
        for (code, day), (amount, n) in self._data.spend.get(msisdn, {}).items():
            if first_day <= day < end_day and access_code in (None, code):
                cents, count = cents + amount, count + n
        return Decimal(cents) / 100, count

    def watch(self, msisdn: str, access_code: str, at: pendulum.DateTime) -> None:
        if (msisdn, access_code) not in self._data.spend_watch:
            self._put(self._data.spend_watch, (msisdn, access_code), at)

    def reminded(self, msisdn: str, access_code: str, at: pendulum.DateTime) -> None:
        self._put(self._data.spend_watch, (msisdn, access_code), at)

    def unwatch(self, msisdn: str, access_code: str) -> None:
        self._put(self._data.spend_watch, (msisdn, access_code), None)

    def reminders_due(
        self, before: pendulum.DateTime, limit: int
    ) -> list[tuple[str, str, pendulum.DateTime]]:
        found = sorted((at, key) for key, at in self._data.spend_watch.items() if at < before)
        return [(msisdn, code, at) for at, (msisdn, code) in found[:limit]]


class _Usage(_Part, UsageRecorder):
    """When each tracked subscription was last used."""

    def track(self, order_id: str, at: pendulum.DateTime) -> None:
        self._put(self._data.usage, order_id, at)

    def touch(self, order_ids: Sequence[str], at: pendulum.DateTime) -> None:
        usage = self._data.usage
        for order_id in order_ids:
            used = usage.get(order_id)
            if used is not None and used < at:
                self._put(usage, order_id, at)

    def forget(self, order_id: str) -> None:
        self._put(self._data.usage, order_id, None)

    def idle(self, before: pendulum.DateTime, limit: int) -> list[tuple[str, pendulum.DateTime]]:
        found = sorted((at, oid) for oid, at in self._data.usage.items() if at < before)
        return [(oid, at) for at, oid in found[:limit]]


def _cents(amount: Decimal) -> int:
    return int(amount * 100)


class _Evidence(_Part, EvidenceRecorder):
    """SP violations and delivery reports, and the orders' evidence chains."""

    def chain(self, order_id: str) -> Chain | None:
        data = self._data
        events = data.events.get(order_id)
        if events is None:
            return None
        chain = data.chains.get(order_id, b"")
        hashes = [chain[at : at + 32].hex() for at in range(0, len(chain), 32)]
        links = zip(events, [GENESIS, *hashes], hashes, strict=False)
        stored = tuple(StoredEvent(e.seq, event_values(e), p, h) for e, p, h in links)
        order = data.orders.get(order_id)
        version = order.version if order is not None else None
        return Chain(order_id, version, hashes[-1] if hashes else None, stored)

    def chains(self, after: str | None, limit: int) -> list[Chain]:
        ids = sorted(oid for oid in self._data.orders if after is None or oid > after)
        return [c for c in map(self.chain, ids[:limit]) if c is not None]

    def orphans(self, limit: int) -> list[Chain]:
        return []  # an order and its events are kept and dropped together

    def unsealed(self, limit: int) -> list[str]:
        return []  # a memory store is chained from its first event

    def seal(self, order_ids: Sequence[str], at: pendulum.DateTime) -> int:
        return 0

    def violations(self, sp_id: str | None) -> list[SpViolation]:
        return [v for v in self._data.violations if sp_id is None or v.sp_id == sp_id]

    def add_violation(self, violation: SpViolation) -> None:
        violations = self._data.violations
        violations.append(violation)
        self._undo.append(lambda: _truncate(violations, len(violations) - 1))

    def add_delivery_report(self, report: DeliveryReport) -> None:
        reports = self._data.reports
        before = reports.get(report.notice_id, ())
        reports[report.notice_id] = (*before, report)
        self._undo.append(lambda: reports.__setitem__(report.notice_id, before))

    def delivery_reports(self, notice_id: str) -> list[DeliveryReport]:
        return sorted(self._data.reports.get(notice_id, ()), key=lambda r: (r.at, r.id))


class _Keys(_Part, KeyRecorder):
    """Message ids, request keys, SP keys."""

    def first_sight(self, message_id: str, at: pendulum.DateTime) -> bool:
        messages = self._data.messages
        if message_id in messages:
            return False
        messages[message_id] = at
        self._undo.append(functools.partial(_drop, messages, message_id))
        return True

    def forget_messages(self, before: pendulum.DateTime) -> int:
        messages = self._data.messages
        old = {k: at for k, at in messages.items() if at < before}
        for key in old:
            del messages[key]
        self._undo.append(lambda: messages.update(old))
        return len(old)

    def request_key(self, scope: str, key: str) -> RequestKey | None:
        return self._data.request_keys.get((scope, key))

    def add_request_key(self, record: RequestKey) -> None:
        keys, name = self._data.request_keys, (record.scope, record.key)
        if name in keys:
            raise ConflictError.concurrent(f"request key {record.key!r} exists")
        keys[name] = record
        self._undo.append(functools.partial(_drop, keys, name))

    def forget_request_keys(self, before: pendulum.DateTime) -> int:
        keys = self._data.request_keys
        old = {name: r for name, r in keys.items() if r.at < before}
        for name in old:
            del keys[name]
        self._undo.append(lambda: keys.update(old))
        return len(old)

    def add_sp_key(self, key: SpKey) -> None:
        keys = self._data.sp_keys
        if key.key_id in keys:
            raise ConflictError.concurrent(f"SP key {key.key_id} exists")
        keys[key.key_id] = key
        self._undo.append(functools.partial(_drop, keys, key.key_id))

    def sp_key(self, key_id: str) -> SpKey | None:
        return self._data.sp_keys.get(key_id)

    def sp_keys(self, sp_id: str) -> list[SpKey]:
        keys = [k for k in self._data.sp_keys.values() if k.sp_id == sp_id]
        return sorted(keys, key=lambda k: (k.created_at, k.key_id))

    def revoke_sp_keys(self, sp_id: str, key_id: str | None, at: pendulum.DateTime) -> int:
        keys = self._data.sp_keys
        live = [
            k
            for k in keys.values()
            if k.sp_id == sp_id and k.revoked_at is None and key_id in (None, k.key_id)
        ]
        for key in live:
            keys[key.key_id] = attrs.evolve(key, revoked_at=at)
            self._undo.append(functools.partial(keys.__setitem__, key.key_id, key))
        return len(live)


class _Feed(_Part, FeedRecorder):
    """The feed's subscribers and what each is owed."""

    def add_subscriber(self, name: str, at: pendulum.DateTime) -> bool:
        feed = self._data.feed
        if name in feed:
            return False
        feed[name] = {}
        self._undo.append(functools.partial(_drop, feed, name))
        return True

    def remove_subscriber(self, name: str) -> bool:
        feed = self._data.feed
        owed = feed.pop(name, None)
        if owed is None:
            return False
        self._undo.append(functools.partial(feed.__setitem__, name, owed))
        return True

    def subscribers(self) -> list[str]:
        return sorted(self._data.feed)

    def add_events(self, events: Iterable[FeedEvent]) -> None:
        feed = self._data.feed
        if not feed:
            return  # nobody listens: the events are not even made
        made = list(events)
        for name, owed in feed.items():
            for event in made:
                if event.id in owed:
                    raise ConflictError.concurrent(f"feed event {event.id} exists for {name}")
                owed[event.id] = (event, _Box(0, event.at))
                self._undo.append(functools.partial(_drop, owed, event.id))

    def queue(self, subscriber: str) -> LeasedQueue[FeedDelivery]:
        return _FeedQueue(self._data, self._undo, subscriber)

    def backlog(self, subscriber: str) -> int:
        return len(self._data.feed.get(subscriber, {}))

    def next_attempt(self, subscribers: Sequence[str]) -> pendulum.DateTime | None:
        due = [t for name in subscribers if (t := self.queue(name).next_attempt()) is not None]
        return min(due) if due else None


class _FeedQueue(_Part, LeasedQueue[FeedDelivery]):
    """One subscriber's owed events, in commit order."""

    def __init__(self, data: _Data, undo: list[Callable[[], None]], name: str) -> None:
        super().__init__(data, undo)
        self._name = name

    @property
    def _owed(self) -> dict[str, tuple[FeedEvent, _Box]]:
        return self._data.feed.get(self._name, {})

    def claim(
        self, now: pendulum.DateTime, lease_until: pendulum.DateTime, limit: int
    ) -> list[FeedDelivery]:
        heads = _heads(self._owed)
        due = [(e, box) for e, box in heads if not box.parked and box.next_at <= now]
        due.sort(key=lambda item: item[1].next_at)  # stable: commit order among equals
        claimed: list[FeedDelivery] = []
        for event, box in due[:limit]:
            self._undo.append(functools.partial(_restore_all, box, _snapshot(box)))
            box.attempts += 1
            box.next_at = lease_until
            claimed.append(FeedDelivery(self._name, event, box.attempts, box.error))
        return claimed

    def mark_delivered(self, ids: Sequence[str], at: pendulum.DateTime) -> None:
        owed = self._owed
        done = [eid for eid in ids if eid in owed]
        if done:
            # a rollback puts them back where they were (in commit order)
            self._undo.append(functools.partial(_replace, owed, dict(owed)))
            for eid in done:
                del owed[eid]

    def mark_failed(self, item_id: str, error: str, retry_at: pendulum.DateTime | None) -> None:
        item = self._owed.get(item_id)
        if item is not None:
            box = item[1]
            self._undo.append(functools.partial(_restore_all, box, _snapshot(box)))
            _fail(box, error, retry_at)

    def parked(self, limit: int) -> list[FeedDelivery]:
        return [
            FeedDelivery(self._name, event, box.attempts, box.error)
            for event, box in self._owed.values()
            if box.parked
        ][:limit]

    def unpark(self, ids: Sequence[str] | None, now: pendulum.DateTime) -> int:
        return _unpark(self._undo, ((eid, box) for eid, (_e, box) in self._owed.items()), ids, now)

    def next_attempt(self) -> pendulum.DateTime | None:
        due = [box.next_at for _event, box in _heads(self._owed) if not box.parked]
        return min(due) if due else None

    def depth(self) -> QueueDepth:
        return _depth((event.at, box) for event, box in self._owed.values())


def _depth(items: Iterable[tuple[pendulum.DateTime, _Box]]) -> QueueDepth:
    """A queue's depth from each owed item's time and box."""
    waiting, parked = [], 0
    for at, box in items:
        if box.parked:
            parked += 1
        else:
            waiting.append(at)
    return QueueDepth(len(waiting), parked, min(waiting) if waiting else None)


class _MemoryTransaction(Transaction):
    """The store's recorders over its data, made once per store: transactions run one
    at a time (the store's lock), each undoing, on failure, what it added to the undo
    log since it began."""

    def __init__(self, data: _Data) -> None:
        self._undo: list[Callable[[], None]] = []
        undo = self._undo
        self.orders = _Orders(data, undo)
        self.outbox = _Notices(data, undo)
        self.ledger = _Ledger(data, undo)
        self.spend = _Spend(data, undo)
        self.usage = _Usage(data, undo)
        self.evidence = _Evidence(data, undo)
        self.keys = _Keys(data, undo)
        self.feed = _Feed(data, undo)

    def rollback(self, mark: int) -> None:
        """Undo what was written since the undo log was ``mark`` long."""
        undo = self._undo
        while len(undo) > mark:
            undo.pop()()

    def forget(self, mark: int) -> None:
        """Keep what was written since the undo log was ``mark`` long (committed)."""
        del self._undo[mark:]

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        mark = len(self._undo)
        try:
            yield
        except BaseException:
            self.rollback(mark)
            raise


def _unpark(
    undo: list[Callable[[], None]],
    boxes: Iterable[tuple[str, _Box]],
    ids: Sequence[str] | None,
    now: pendulum.DateTime,
) -> int:
    """Queue the parked ones of ``boxes`` (all, or those of ``ids``) again."""
    wanted = None if ids is None else set(ids)
    count = 0
    for key, box in boxes:
        if box.parked and (wanted is None or key in wanted):
            undo.append(functools.partial(_restore_all, box, _snapshot(box)))
            box.parked, box.next_at, box.attempts = False, now, 0
            count += 1
    return count


def _sms_fee_notice(order: Order, service_code: str) -> bool:
    """Is ``order`` a completed SMS on-demand order of that service with a fee notice?"""
    return (
        order.service_code == service_code
        and order.request_channel is Channel.SMS
        and order.state is OrderState.COMPLETED
        and order.fee_notice_id is not None
    )


def _remove_sorted(
    items: list[tuple[pendulum.DateTime, str]], item: tuple[pendulum.DateTime, str]
) -> None:
    index = bisect.bisect_left(items, item)
    if index < len(items) and items[index] == item:
        del items[index]


def _truncate(items: list[Any], size: int) -> None:
    del items[size:]


def _drop(mapping: dict[Any, Any], key: Any) -> None:
    mapping.pop(key, None)


def _heads(
    owed: dict[str, tuple[FeedEvent, _Box]],
) -> list[tuple[FeedEvent, _Box]]:
    """Each order's earliest event still owed (they are kept in commit order)."""
    first: dict[str, tuple[FeedEvent, _Box]] = {}
    for event, box in owed.values():
        first.setdefault(event.order_id, (event, box))
    return list(first.values())


def _replace(mapping: dict[str, Any], content: dict[str, Any]) -> None:
    mapping.clear()
    mapping.update(content)


def _fail(box: _Box, error: str, retry_at: pendulum.DateTime | None) -> None:
    """A failed attempt: the error kept, then a retry at ``retry_at`` or parked."""
    box.error = error[:500]
    if retry_at is None:
        box.parked = True
    else:
        box.next_at = retry_at


_State = tuple[int, pendulum.DateTime, str | None, bool, bool]


def _snapshot(box: _Box) -> _State:
    return (box.attempts, box.next_at, box.error, box.parked, box.reported)


def _restore_all(box: _Box, state: _State) -> None:
    box.attempts, box.next_at, box.error, box.parked, box.reported = state


class MemoryStore(Store):
    """Keeps everything in process memory; each transaction is atomic and isolated
    (transactions run one at a time)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._attach(_Data())

    def _attach(self, data: _Data) -> None:
        self._data = data
        self._tx = _MemoryTransaction(data)

    def transaction(self, *, readonly: bool = False) -> AbstractContextManager[Transaction]:
        """A unit of work: its writes are kept when the block ends normally, dropped
        otherwise."""
        return _Unit(self._tx, self._lock)

    def copy(self) -> MemoryStore:
        """A new store holding what this one holds now (for explorers and what-ifs)."""
        other = MemoryStore()
        with self._lock:
            other._attach(self._data.copy())
        return other


class _Unit(AbstractContextManager[Transaction]):
    """One transaction: holds the store's lock, rolls back what it wrote when the
    block raises."""

    __slots__ = ("_lock", "_mark", "_tx")

    def __init__(self, tx: _MemoryTransaction, lock: threading.RLock) -> None:
        self._tx = tx
        self._lock = lock

    def __enter__(self) -> Transaction:
        self._lock.acquire()
        self._mark = len(self._tx._undo)
        return self._tx

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            if kind is not None:
                self._tx.rollback(self._mark)
            else:
                self._tx.forget(self._mark)
        finally:
            self._lock.release()
