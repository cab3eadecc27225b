"""In-memory store: the default of ``Lifecycle``, and the reference for the contract."""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pendulum

from vas_lifecycle.consent import Charge, SpViolation
from vas_lifecycle.notices import Notice
from vas_lifecycle.order import Event, Order
from vas_lifecycle.sms import PickSession
from vas_lifecycle.store.base import ConflictError, Store, Transaction

__all__ = ["MemoryStore"]


class _Data:
    """The committed state."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.events: dict[str, list[Event]] = {}
        self.by_msisdn: dict[str, list[str]] = {}
        self.due: list[tuple[pendulum.DateTime, str]] = []
        self.notices: dict[str, Notice] = {}
        self.notices_by_order: dict[str, list[str]] = {}
        self.undelivered: dict[str, None] = {}  # insertion-ordered set
        self.charges: dict[str, Charge] = {}
        self.charges_by_order: dict[str, list[str]] = {}
        self.violations: list[SpViolation] = []
        self.picks: dict[str, PickSession] = {}


class _MemoryTransaction(Transaction):
    def __init__(self, data: _Data) -> None:
        self._data = data
        self._orders: dict[str, Order] = {}
        self._expected: dict[str, int] = {}
        self._events: dict[str, list[Event]] = {}
        self._notices: dict[str, Notice] = {}
        self._delivered: set[str] = set()
        self._charges: dict[str, Charge] = {}
        self._violations: list[SpViolation] = []
        self._purged: set[str] = set()
        self._picks: dict[str, PickSession] = {}

    # --- reads ---------------------------------------------------------------------
    def get_order(self, order_id: str) -> Order | None:
        if order_id in self._purged:
            return None
        staged = self._orders.get(order_id)
        return staged if staged is not None else self._data.orders.get(order_id)

    def events(self, order_id: str) -> list[Event]:
        if order_id in self._purged:
            return []
        return list(self._data.events.get(order_id, ())) + self._events.get(order_id, [])

    def orders_of(self, msisdn: str) -> list[Order]:
        ids = list(self._data.by_msisdn.get(msisdn, ()))
        ids += [oid for oid, o in self._orders.items() if o.msisdn == msisdn and oid not in ids]
        found = [self.get_order(oid) for oid in ids]
        return [o for o in found if o is not None]

    def due_orders(self, now: pendulum.DateTime, limit: int) -> list[Order]:
        heap = self._data.due
        popped: list[tuple[pendulum.DateTime, str]] = []
        found: dict[str, Order] = {}
        while heap and heap[0][0] <= now and len(found) < limit:
            due, oid = heapq.heappop(heap)
            order = self.get_order(oid)
            if order is None or order.due_at != due or oid in found:
                continue  # stale entry: the order moved on
            popped.append((due, oid))
            found[oid] = order
        for entry in popped:
            heapq.heappush(heap, entry)
        for oid, order in self._orders.items():
            due_at = order.due_at
            if oid not in found and due_at is not None and due_at <= now and len(found) < limit:
                found[oid] = order
        return sorted(found.values(), key=lambda o: (o.due_at, o.id))

    def charges(self, order_id: str) -> list[Charge]:
        keys = list(self._data.charges_by_order.get(order_id, ()))
        result = [self._data.charges[k] for k in keys]
        result += [c for c in self._charges.values() if c.order_id == order_id]
        return result

    def charge(self, key: str) -> Charge | None:
        return self._charges.get(key) or self._data.charges.get(key)

    def notices(self, order_id: str) -> list[Notice]:
        result = [self._data.notices[n] for n in self._data.notices_by_order.get(order_id, ())]
        result += [n for n in self._notices.values() if n.order_id == order_id]
        return result

    def undelivered_notices(self, limit: int) -> list[Notice]:
        result: list[Notice] = []
        for nid in self._data.undelivered:
            if nid not in self._delivered:
                result.append(self._data.notices[nid])
                if len(result) >= limit:
                    return result
        for nid, notice in self._notices.items():
            if nid not in self._delivered and len(result) < limit:
                result.append(notice)
        return result

    def violations(self, sp_id: str | None) -> list[SpViolation]:
        every = self._data.violations + self._violations
        return [v for v in every if sp_id is None or v.sp_id == sp_id]

    def pick_session(self, msisdn: str) -> PickSession | None:
        return self._picks.get(msisdn) or self._data.picks.get(msisdn)

    def put_pick_session(self, session: PickSession) -> None:
        self._picks[session.msisdn] = session

    def delivered(self, notice_id: str) -> bool:
        if notice_id in self._delivered:
            return True
        return notice_id in self._data.notices and notice_id not in self._data.undelivered

    # --- writes --------------------------------------------------------------------
    def append(self, order: Order, events: Sequence[Event], expected_version: int) -> None:
        current = self.get_order(order.id)
        current_version = current.version if current is not None else 0
        if current_version != expected_version:
            raise ConflictError(order.id, expected_version)
        self._expected.setdefault(order.id, expected_version)
        self._orders[order.id] = order
        self._events.setdefault(order.id, []).extend(events)

    def add_notice(self, notice: Notice) -> None:
        self._notices[notice.id] = notice

    def mark_delivered(self, notice_id: str, at: pendulum.DateTime) -> None:
        self._delivered.add(notice_id)

    def add_charge(self, charge: Charge) -> None:
        self._charges[charge.key] = charge

    def add_violation(self, violation: SpViolation) -> None:
        self._violations.append(violation)

    def purge(self, order_ids: Sequence[str]) -> int:
        count = 0
        for oid in order_ids:
            if self.get_order(oid) is not None:
                self._purged.add(oid)
                count += 1
        return count

    # --- audit ---------------------------------------------------------------------
    def all_orders(self) -> Iterator[Order]:
        for oid in self._data.orders:
            order = self.get_order(oid)
            if order is not None:
                yield order
        for oid, order in self._orders.items():
            if oid not in self._data.orders:
                yield order

    def all_notices(self) -> Iterator[Notice]:
        yield from self._data.notices.values()
        yield from self._notices.values()

    def all_charges(self) -> Iterator[Charge]:
        yield from self._data.charges.values()
        yield from self._charges.values()

    # --- commit --------------------------------------------------------------------
    def commit(self) -> None:
        data = self._data
        for oid, expected in self._expected.items():
            committed = data.orders.get(oid)
            if (committed.version if committed is not None else 0) != expected:
                raise ConflictError(oid, expected)
        for charge in self._charges.values():
            committed = data.orders.get(charge.order_id)
            if committed is None or committed.version != charge.order_version:
                raise ConflictError(charge.order_id, charge.order_version)
        for oid, order in self._orders.items():
            if oid not in data.orders:
                data.by_msisdn.setdefault(order.msisdn, []).append(oid)
            data.orders[oid] = order
            data.events.setdefault(oid, []).extend(self._events.get(oid, ()))
            if order.due_at is not None:
                heapq.heappush(data.due, (order.due_at, oid))
        for nid, notice in self._notices.items():
            data.notices[nid] = notice
            if notice.order_id is not None:
                data.notices_by_order.setdefault(notice.order_id, []).append(nid)
            data.undelivered[nid] = None
        for nid in self._delivered:
            data.undelivered.pop(nid, None)
        for key, charge in self._charges.items():
            data.charges[key] = charge
            data.charges_by_order.setdefault(charge.order_id, []).append(key)
        data.violations.extend(self._violations)
        data.picks.update(self._picks)
        for oid in self._purged:
            self._purge_committed(oid)

    def _purge_committed(self, oid: str) -> None:
        data = self._data
        order = data.orders.pop(oid, None)
        data.events.pop(oid, None)
        if order is not None:
            ids = data.by_msisdn.get(order.msisdn, [])
            if oid in ids:
                ids.remove(oid)
        for nid in data.notices_by_order.pop(oid, []):
            data.notices.pop(nid, None)
            data.undelivered.pop(nid, None)
        for key in data.charges_by_order.pop(oid, []):
            data.charges.pop(key, None)


class MemoryStore(Store):
    """Keeps everything in process memory; transactions are isolated and atomic."""

    def __init__(self) -> None:
        self._data = _Data()
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._lock:
            tx = _MemoryTransaction(self._data)
            yield tx
            tx.commit()
