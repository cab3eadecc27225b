"""The SQL stores' transaction: reads, and writes batched until the commit.

Writes of a unit of work are collected and sent in batches at commit
(``executemany``: one round trip per table and batch on PostgreSQL, in pipeline
mode), which is what lets ``run_due()`` move many orders per transaction.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import pendulum

from vas_lifecycle.catalog import Period
from vas_lifecycle.errors import StoreError
from vas_lifecycle.evidence import GENESIS, Chain, StoredEvent, link, link_text
from vas_lifecycle.notices import Notice, NoticeKind
from vas_lifecycle.order import Event, EventKind, Order
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
from vas_lifecycle.states import BILLABLE_STATES, LIVE_STATES, OrderState
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
    Transaction,
    UsageRecorder,
    Waiting,
)
from vas_lifecycle.store.sql.codec import (
    EVENT_CHAIN_COLUMNS,
    EVENT_COLUMNS,
    FEED_COLUMNS,
    HEAD,
    NOTICE_COLUMNS,
    ORDER_COLUMNS,
    ORDER_SELECT,
    ORDER_STATUS,
    ORDER_UPDATE,
    REPORT_COLUMNS,
    REQUEST_KEY_COLUMNS,
    SP_KEY_COLUMNS,
    charge_from_row,
    charge_row,
    claim_from_row,
    event_from_row,
    event_row,
    feed_from_row,
    feed_row,
    notice_from_row,
    notice_row,
    order_from_row,
    order_row,
    parse_time,
    parse_ts,
    refund_from_row,
    refund_row,
    report_from_row,
    report_row,
    request_key_from_row,
    request_key_row,
    sp_key_from_row,
    sp_key_row,
    ts,
    update_row,
    violation_from_row,
    violation_row,
)
from vas_lifecycle.store.sql.schema import Dialect

__all__ = ["SqlTransaction"]

_INSERT_ORDERS = (
    f"INSERT INTO vas_orders ({ORDER_COLUMNS}) "
    f"VALUES ({', '.join('?' * len(ORDER_COLUMNS.split(', ')))})"
)
#: adding to a subscriber's spend of a day (the row exists, or is made)
_ADD_SPEND = (
    "ON CONFLICT (msisdn, day, access_code) DO UPDATE SET "
    "cents = vas_spend.cents + excluded.cents, charges = vas_spend.charges + excluded.charges"
)
_REFUNDS = "SELECT key, order_id, charge_key, amount, reason, at, order_version FROM vas_refunds"
_INSERT_EVENTS = (
    f"INSERT INTO vas_events ({EVENT_CHAIN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

#: the live states, as SQL: the same list as the partial index vas_orders_live
_LIVE = "(" + ", ".join(f"'{state}'" for state in sorted(LIVE_STATES)) + ")"
#: the states a billing pass reads, as SQL
_BILLABLE = ", ".join(f"'{state}'" for state in sorted(BILLABLE_STATES))

#: a feed row ``f`` is its order's earliest still owed to its subscriber
_HEAD = (
    "NOT EXISTS (SELECT 1 FROM vas_feed e WHERE e.subscriber = f.subscriber "
    "AND e.order_id = f.order_id AND e.pos < f.pos)"
)


class SqlTransaction(Transaction):
    """A unit of work on a DB-API cursor: the recorders over one connection. Their
    writes are batched until :meth:`flush` (the store calls it before the commit)."""

    orders: _Orders
    outbox: _Notices
    ledger: _Ledger
    spend: _Spend
    usage: _Usage
    evidence: _Evidence
    keys: _Keys
    feed: _Feed

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self._cur = cursor
        self._d = self.dialect = dialect
        self._open = False
        self._savepoints = 0  # how deep in savepoints this transaction is
        self.orders = _Orders(self)
        self.outbox = _Notices(self)
        self.ledger = _Ledger(self)
        self.spend = _Spend(self)
        self.usage = _Usage(self)
        self.evidence = _Evidence(self)
        self.keys = _Keys(self)
        self.feed = _Feed(self)
        # the order the batches are sent in: orders before what refers to them
        # (the keys and the uses batch nothing: their writes go straight out)
        self._parts: tuple[_Part, ...] = (
            self.orders,
            self.outbox,
            self.ledger,
            self.spend,
            self.evidence,
            self.feed,
        )

    def begin(self, cursor: Any) -> SqlTransaction:
        """Start the next unit of work on ``cursor``: a store whose transactions run
        one at a time makes its recorders once and begins them again for each (one
        opened while this one is open, in the same thread, gets recorders of its
        own). :meth:`end` when it is over."""
        if self._open:
            fresh = SqlTransaction(cursor, self._d)
            fresh._open = True
            return fresh
        self._open = True
        self._cur = cursor
        self._savepoints = 0
        self._forget_batch()  # what a failed unit of work left
        self.orders.release()
        self.keys.release()
        return self

    def end(self) -> None:
        """The unit of work is over (committed or rolled back)."""
        self._open = False

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run a statement (``?`` placeholders) and return its rows."""
        self._cur.execute(self._d.sql(statement), tuple(params))
        rows: list[Any] = self._cur.fetchall()
        return rows

    def raise_if_conflict(self, err: Exception) -> None:
        """The one place driver errors become ours: a write that broke a constraint
        met a concurrent one, a :class:`ConflictError` (the caller re-raises anything
        else)."""
        if self._d.is_integrity_error(err):
            raise ConflictError.concurrent(err) from err

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        """Run a write; how many rows it touched."""
        try:
            self._cur.execute(self._d.sql(statement), tuple(params))
        except Exception as err:
            self.raise_if_conflict(err)
            raise
        count: int = self._cur.rowcount
        return count

    def execute_many(self, statement: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run a write once per row, as one batch."""
        if not rows:
            return 0
        if len(rows) == 1:  # a single command's write: no batch to set up
            return self.execute(statement, rows[0])
        try:
            self._cur.executemany(self._d.sql(statement), rows)
        except Exception as err:
            self.raise_if_conflict(err)
            raise
        count: int = self._cur.rowcount
        return count

    def read_ahead(
        self,
        msisdns: Collection[str],
        *,
        seen: Collection[str] = (),
        at: pendulum.DateTime | None = None,
    ) -> None:
        """Read the live orders of all of ``msisdns``, whether their confirmation
        requests went out, and their orders' waiting notices: three queries for a
        burst instead of three per text, the subscribers held with one batch, and
        the message ids ``seen`` recorded with one statement. Whatever this
        transaction then writes and sends (:meth:`flush`) drops what was read ahead
        (not the message ids: those are written already)."""
        numbers = sorted(set(msisdns))
        if not numbers:
            return
        self.flush()
        # held first, as each command would (invariant 8), in one order: two bursts
        # never deadlock
        self.orders.lock_subscribers(numbers)
        if seen and at is not None:
            self.keys.record_seen(list(seen), at)
        orders = self.orders.read_ahead(numbers)
        self.outbox.read_ahead(orders)

    def flush(self) -> None:
        """Send the batched writes; raises ConflictError when a version moved."""
        for part in self._parts:
            part.flush_batch()
        self._forget_batch()

    def _forget_batch(self) -> None:
        """Drop the batched writes and what this transaction read (sent, or undone)."""
        for part in self._parts:
            part.forget_batch()

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        # what came before is sent first: the savepoint undoes only what follows, and
        # the block's own writes are sent (and version-checked) before it ends
        self.flush()
        name = f"vas_savepoint_{self._savepoints}"
        self._cur.execute(f"SAVEPOINT {name}")
        self._savepoints += 1
        try:
            yield
            self.flush()
        except BaseException:
            self._forget_batch()
            self._cur.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self._cur.execute(f"RELEASE SAVEPOINT {name}")
            raise
        else:
            self._cur.execute(f"RELEASE SAVEPOINT {name}")
        finally:
            self._savepoints -= 1


class _Part:
    """A recorder of a :class:`SqlTransaction`: its statements go through the
    transaction's connection, and what it batches is sent by the transaction's
    :meth:`~SqlTransaction.flush`, in a fixed order of the recorders."""

    def __init__(self, tx: SqlTransaction) -> None:
        self._tx = tx
        self._d = tx.dialect

    def flush_batch(self) -> None:
        """Send what this recorder batched (the transaction's flush calls it)."""

    def forget_batch(self) -> None:
        """Drop what this recorder batched or read (sent, or undone)."""

    def _pages(self, select: str, key: str, size: int = 1000) -> Iterator[Any]:
        """Every row of ``select`` (whose first column is the primary ``key``) in key
        order, read a page at a time: an audit of a whole store holds one page, not
        the store, in memory."""
        rows = self._tx.query(f"{select} ORDER BY {key} LIMIT ?", (size,))
        while True:
            yield from rows
            if len(rows) < size:
                return
            rows = self._tx.query(
                f"{select} WHERE {key} > ? ORDER BY {key} LIMIT ?", (rows[-1][0], size)
            )


class _Orders(_Part, OrderRecorder):
    """Orders, their events, and the pick lists."""

    def __init__(self, tx: SqlTransaction) -> None:
        super().__init__(tx)
        self._locked: set[str] = set()  # subscribers held until the transaction ends
        self._orders: dict[str, Order] = {}
        # orders already read in this unit of work (its writes are version-checked, so
        # reading an order once per transaction is enough)
        self._seen: dict[str, Order] = {}
        self._of: dict[str, list[str]] = {}
        # live orders read ahead for a burst of commands (read_ahead)
        self._ahead: dict[str, list[Order]] = {}
        self._inserts: list[Order] = []
        self._updates: list[tuple[Order, int]] = []
        self._events: list[Event] = []
        # the evidence head (C18) of each order read or written in this transaction:
        # the hash its next event links to
        self._heads: dict[str, str | None] = {}
        self._picks: dict[str, PickSession] = {}
        # trials that became their subscription (CT1): the one update that changes
        # what a request froze, written beside the status
        self._converted: list[Order] = []

    def release(self) -> None:
        """The transaction ended: the subscribers it held are free."""
        if self._locked:
            self._locked = set()

    def forget_batch(self) -> None:
        # new containers, not cleared ones: a reader may still hold the old
        if self._orders or self._seen or self._of or self._ahead or self._picks:
            self._orders, self._seen, self._of, self._ahead, self._picks = {}, {}, {}, {}, {}
        if self._heads:
            self._heads = {}
        if self._inserts or self._updates or self._events:
            self._inserts, self._updates, self._events, self._converted = [], [], [], []

    def flush_batch(self) -> None:
        rows = self._linked() if self._events else []
        if self._inserts or self._updates:
            self._flush_orders()
        if rows:
            self._tx.execute_many(_INSERT_EVENTS, rows)
        if self._picks:
            self._tx.execute_many(
                "INSERT INTO vas_pick_sessions (msisdn, order_ids, sent_at, expires_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (msisdn) DO UPDATE SET "
                "order_ids = excluded.order_ids, sent_at = excluded.sent_at, "
                "expires_at = excluded.expires_at",
                [
                    (s.msisdn, json.dumps(list(s.order_ids)), ts(s.sent_at), ts(s.expires_at))
                    for s in self._picks.values()
                ],
            )

    def read_ahead(self, numbers: list[str]) -> list[Order]:
        """Read the live orders of all of ``numbers`` in one query, for the burst's
        commands; returns them."""
        d = self._d
        orders = [
            self._read(row)
            for row in self._tx.query(
                f"SELECT {ORDER_SELECT} FROM vas_orders WHERE msisdn {d.in_values} "
                f"AND state IN {_LIVE}",
                (d.values(numbers),),
            )
        ]
        ahead: dict[str, list[Order]] = {n: [] for n in numbers}
        for order in orders:
            ahead[order.msisdn].append(order)
        self._ahead = ahead
        return orders

    def get_order(self, order_id: str) -> Order | None:
        known = self._orders.get(order_id) or self._seen.get(order_id)
        if known is not None:
            return known
        rows = self._tx.query(f"SELECT {ORDER_SELECT} FROM vas_orders WHERE id = ?", (order_id,))
        if not rows:
            return None
        order = self._seen[order_id] = self._read(rows[0])
        return order

    def _read(self, row: Sequence[Any]) -> Order:
        """The order a row holds; its evidence head is kept for the next event."""
        order = order_from_row(row)
        self._heads[order.id] = row[HEAD]
        return order

    def _linked(self) -> list[tuple[Any, ...]]:
        """The rows of this transaction's events, each with the hash of the event
        before it and its own (C18), in the order they were appended; the orders'
        new heads are kept for their rows."""
        heads, rows = self._heads, []
        for event in self._events:
            row = event_row(event)  # its data as the encoding writes it (data_text)
            oid = event.order_id
            prev = GENESIS if event.seq == 1 else heads.get(oid) or self._head(event)
            digest = heads[oid] = link_text(prev, *row).hex()
            rows.append((*row, prev, digest))
        return rows

    def _head(self, event: Event) -> str:
        """The head of an order not read through this transaction (one query), sealed
        first when it was stored before the store kept chains."""
        oid = event.order_id
        found = self._tx.query("SELECT head FROM vas_orders WHERE id = ?", (oid,))
        head = found[0][0] if found else None
        if head is None:  # stored before the store kept chains: sealed now, then linked
            head = seal(self, [oid], ts(event.at) or "")[0].get(oid)
        if head is None:
            raise StoreError(f"order {oid} has no stored events to link event {event.seq} to")
        return str(head)

    def events(self, order_id: str) -> list[Event]:
        rows = self._tx.query(
            f"SELECT {EVENT_COLUMNS} FROM vas_events WHERE order_id = ? ORDER BY seq", (order_id,)
        )
        stored = [event_from_row(r) for r in rows]
        return stored + [e for e in self._events if e.order_id == order_id]

    def orders_of(self, msisdn: str) -> list[Order]:
        ids = self._of.get(msisdn)
        if ids is None:
            rows = self._tx.query(
                f"SELECT {ORDER_SELECT} FROM vas_orders WHERE msisdn = ?", (msisdn,)
            )
            ids = []
            for row in rows:
                order = self._read(row)
                self._seen.setdefault(order.id, order)
                ids.append(order.id)
            self._of[msisdn] = ids
        found = {oid: self._seen[oid] for oid in ids}
        found.update({o.id: o for o in self._orders.values() if o.msisdn == msisdn})
        return sorted(found.values(), key=lambda o: (o.requested_at, o.id))

    def _subscriber_orders(
        self,
        msisdn: str,
        statement: str,
        params: Sequence[Any],
        keep: Callable[[Order], bool],
        stored: list[Order] | None = None,
    ) -> list[Order]:
        """The subscriber's stored orders that ``statement`` selects (or ``stored``,
        read ahead), with this unit of work's own writes laid over them (``keep``
        applies the same filter to those)."""
        if stored is None:
            stored = [self._read(row) for row in self._tx.query(statement, params)]
        found: dict[str, Order] = {}
        for order in stored:
            self._seen.setdefault(order.id, order)
            found[order.id] = order
        for order in self._orders.values():
            if order.msisdn == msisdn:
                found[order.id] = order
        return sorted((o for o in found.values() if keep(o)), key=lambda o: (o.requested_at, o.id))

    def live_orders_of(self, msisdn: str) -> list[Order]:
        return self._subscriber_orders(
            msisdn,
            # the same state list as the partial index vas_orders_live, so it is used
            f"SELECT {ORDER_SELECT} FROM vas_orders WHERE msisdn = ? AND state IN {_LIVE}",
            (msisdn,),
            lambda o: o.is_live,
            self._ahead.get(msisdn),
        )

    def count_sp_requests(
        self, msisdn: str, sp_id: str, start: pendulum.DateTime, end: pendulum.DateTime
    ) -> int:
        rows = self._tx.query(
            "SELECT count(*) FROM vas_orders WHERE msisdn = ? AND requested_at >= ? "
            "AND requested_at < ? AND sp_id = ? AND request_channel = 'sp_api'",
            (msisdn, ts(start), ts(end), sp_id),
        )
        staged = sum(
            1
            for o in self._inserts
            if o.msisdn == msisdn
            and o.sp_id == sp_id
            and o.request_channel is Channel.SP_API
            and start <= o.requested_at < end
        )
        return int(rows[0][0]) + staged

    def fee_notice_between(
        self, msisdn: str, service_code: str, start: pendulum.DateTime, end: pendulum.DateTime
    ) -> str | None:
        found = self._subscriber_orders(
            msisdn,
            f"SELECT {ORDER_SELECT} FROM vas_orders WHERE msisdn = ? AND requested_at >= ? "
            "AND requested_at < ? AND service_code = ? AND request_channel = 'sms' "
            "AND state = 'completed' ORDER BY requested_at LIMIT 1",
            (msisdn, ts(start), ts(end), service_code),
            lambda o: (
                start <= o.requested_at < end
                and o.service_code == service_code
                and o.request_channel is Channel.SMS
                and o.state is OrderState.COMPLETED
                and o.fee_notice_id is not None
            ),
        )
        return found[0].fee_notice_id if found else None

    def latest_language(self, msisdn: str) -> str | None:
        # one column of one row, through the (msisdn, requested_at, id) index
        rows = self._tx.query(
            "SELECT requested_at, id, language FROM vas_orders WHERE msisdn = ? "
            "ORDER BY requested_at DESC, id DESC LIMIT 1",
            (msisdn,),
        )
        candidates = [(parse_time(r[0]), r[1], r[2]) for r in rows]
        # this unit of work's own orders count too
        candidates += [
            (o.requested_at, o.id, o.language) for o in self._orders.values() if o.msisdn == msisdn
        ]
        return max(candidates)[2] if candidates else None

    def lock_subscribers(self, numbers: list[str]) -> None:
        """Hold these subscribers (sorted), in one batch of statements."""
        fresh = [n for n in numbers if n not in self._locked]
        if self._d.subscriber_lock and fresh:
            self._tx.execute_many(self._d.subscriber_lock, [(n,) for n in fresh])
            self._locked.update(fresh)

    def lock_subscriber(self, msisdn: str) -> None:
        # once per subscriber and transaction: the lock is held until it ends
        if self._d.subscriber_lock and msisdn not in self._locked:
            self._tx.query(self._d.subscriber_lock, (msisdn,))
            self._locked.add(msisdn)

    def due_orders(self, now: pendulum.DateTime, limit: int) -> list[Order]:
        rows = self._tx.query(
            f"SELECT {ORDER_SELECT} FROM vas_orders WHERE due_at IS NOT NULL AND due_at <= ? "
            "ORDER BY due_at LIMIT ?" + self._d.claim,
            (ts(now), limit),
        )
        return [self._read(r) for r in rows]

    def paying_subscribers(
        self, after: str, activated_before: pendulum.DateTime, limit: int
    ) -> list[Order]:
        # through the live index (its state list, as written): a batch of subscribers
        # costs its own rows, wherever the sweep stands
        paying = (
            f"state IN {_LIVE} AND state = 'active' AND kind = 'subscription' AND activated_at < ?"
        )
        before = ts(activated_before)
        return [
            self._read(row)
            for row in self._tx.query(
                f"SELECT {ORDER_SELECT} FROM vas_orders WHERE msisdn IN (SELECT DISTINCT msisdn "
                f"FROM vas_orders WHERE msisdn > ? AND {paying} ORDER BY msisdn LIMIT ?) "
                f"AND {paying} ORDER BY msisdn, requested_at, id",
                (after, before, limit, before),
            )
        ]

    def sweep(self, name: str) -> tuple[str, str] | None:
        self.lock_subscriber(f"sweep:{name}")  # held to the end: one worker at a time
        rows = self._tx.query("SELECT period, last_key FROM vas_sweeps WHERE name = ?", (name,))
        return (rows[0][0], rows[0][1]) if rows else None

    def put_sweep(self, name: str, period: str, last_key: str) -> None:
        self._tx.execute(
            "INSERT INTO vas_sweeps (name, period, last_key) VALUES (?, ?, ?) ON CONFLICT (name) "
            "DO UPDATE SET period = excluded.period, last_key = excluded.last_key",
            (name, period, last_key),
        )

    def next_due(self) -> pendulum.DateTime | None:
        self._tx.flush()
        rows = self._tx.query("SELECT min(due_at) FROM vas_orders WHERE due_at IS NOT NULL")
        return parse_ts(rows[0][0]) if rows else None

    def pick_session(self, msisdn: str) -> PickSession | None:
        if msisdn in self._picks:
            return self._picks[msisdn]
        rows = self._tx.query(
            "SELECT msisdn, order_ids, sent_at, expires_at FROM vas_pick_sessions WHERE msisdn = ?",
            (msisdn,),
        )
        if not rows:
            return None
        row = rows[0]
        return PickSession(
            row[0], tuple(json.loads(row[1])), parse_time(row[2]), parse_time(row[3])
        )

    def put_pick_session(self, session: PickSession) -> None:
        self._picks[session.msisdn] = session

    def append(self, order: Order, events: Sequence[Event], expected_version: int) -> None:
        staged = self._orders.get(order.id)
        if staged is not None:
            if staged.version != expected_version:
                raise ConflictError(order.id, expected_version, staged.version)
            self._inserts = [order if o.id == order.id else o for o in self._inserts]
            self._updates = [
                (order, exp) if o.id == order.id else (o, exp) for o, exp in self._updates
            ]
        elif expected_version == 0:
            self._inserts.append(order)
        else:
            self._updates.append((order, expected_version))
        self._orders[order.id] = order
        self._events.extend(events)
        if events and events[-1].kind is EventKind.TRIAL_CONVERTED:
            self._converted.append(order)

    def finished_before(self, cutoff: pendulum.DateTime) -> list[str]:
        self._tx.flush()
        rows = self._tx.query(
            "SELECT id FROM vas_orders WHERE ended_at IS NOT NULL AND ended_at < ? "
            "AND due_at IS NULL ORDER BY id",
            (ts(cutoff),),
        )
        return [r[0] for r in rows]

    def purge(self, order_ids: Sequence[str]) -> int:
        self._tx.flush()
        keys = [(oid,) for oid in order_ids]
        self._tx.execute_many("DELETE FROM vas_events WHERE order_id = ?", keys)
        self._tx.execute_many(
            "DELETE FROM vas_delivery_reports "
            "WHERE notice_id IN (SELECT id FROM vas_notices WHERE order_id = ?)",
            keys,
        )
        self._tx.execute_many("DELETE FROM vas_notices WHERE order_id = ?", keys)
        self._tx.execute_many("DELETE FROM vas_charges WHERE order_id = ?", keys)
        self._tx.execute_many("DELETE FROM vas_refunds WHERE order_id = ?", keys)
        self._tx.execute_many("DELETE FROM vas_refund_claims WHERE order_id = ?", keys)
        self._tx.execute_many("DELETE FROM vas_usage WHERE order_id = ?", keys)
        # through vas_feed_order: one index fewer to write with every event
        self._tx.execute_many(
            "DELETE FROM vas_feed WHERE subscriber IN (SELECT name FROM vas_feed_subscribers) "
            "AND order_id = ?",
            keys,
        )
        return self._tx.execute_many("DELETE FROM vas_orders WHERE id = ? AND due_at IS NULL", keys)

    def all_orders(self) -> Iterator[Order]:
        for row in self._pages(f"SELECT {ORDER_SELECT} FROM vas_orders", "id"):
            order = order_from_row(row)
            yield self._orders.get(order.id, order)
        yield from self._inserts

    def _flush_orders(self) -> None:
        """Insert the new orders and update the changed ones, each only if its version
        is still the one it was loaded at."""
        heads = self._heads
        if self._inserts:
            self._tx.execute_many(
                _INSERT_ORDERS, [order_row(o, heads.get(o.id)) for o in self._inserts]
            )
        if not self._updates:
            return
        rows = [update_row(o, expected, heads.get(o.id)) for o, expected in self._updates]
        if self._tx.execute_many(ORDER_UPDATE, rows) != len(rows):
            raise self._conflict(rows)
        if self._converted:
            self._tx.execute_many(
                "UPDATE vas_orders SET kind = ?, service_code = ?, service_name = ? WHERE id = ?",
                [(str(o.kind), o.service_code, o.service_name, o.id) for o in self._converted],
            )

    def _conflict(self, rows: list[tuple[Any, ...]]) -> ConflictError:
        """Which of the updates found its order moved: the row that does not hold what
        this transaction wrote (the rest of the batch did go through)."""
        width = len(ORDER_STATUS)
        version = ORDER_STATUS.index("version")
        for row in rows:
            wrote, (order_id, expected) = tuple(row[:width]), row[width + 1 :]
            found = self._tx.query(
                f"SELECT {', '.join(ORDER_STATUS)} FROM vas_orders WHERE id = ?", (order_id,)
            )
            if not found or tuple(found[0]) != wrote:
                return ConflictError(order_id, expected, found[0][version] if found else None)
        return ConflictError(rows[0][width + 1], rows[0][width + 2])  # pragma: no cover


class _Notices(_Part, NoticeRecorder):
    """The outbox."""

    def __init__(self, tx: SqlTransaction) -> None:
        super().__init__(tx)
        self._notices: list[tuple[Notice, str | None]] = []
        self._delivered: list[tuple[str | None, str]] = []
        # read ahead for a burst of commands (read_ahead)
        self._ahead_delivered: dict[str, bool] = {}
        self._ahead_waiting: dict[str, list[tuple[str, str, Waiting]]] = {}

    def forget_batch(self) -> None:
        if self._notices:
            self._notices = []
        if self._delivered:
            self._delivered = []
        if self._ahead_waiting or self._ahead_delivered:
            self._ahead_delivered, self._ahead_waiting = {}, {}

    def flush_batch(self) -> None:
        if self._notices:
            self._tx.execute_many(
                f"INSERT INTO vas_notices ({NOTICE_COLUMNS}, next_attempt_at, attempts) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (*notice_row(n), claim or ts(n.at), 0 if claim is None else 1)
                    for n, claim in self._notices
                ],
            )
        if self._delivered:
            # not a notice whose failure a gateway reported during this attempt
            self._tx.execute_many(
                "UPDATE vas_notices SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL "
                "AND failure_reported = 0",
                self._delivered,
            )

    def read_ahead(self, orders: list[Order]) -> None:
        """Read whether the confirmation requests of ``orders`` went out, and their
        waiting notices, in two queries, for the burst's commands."""
        d = self._d
        requests = [o.request_notice_id for o in orders if o.request_notice_id is not None]
        delivered = {nid: False for nid in requests}
        if requests:
            for nid, at in self._tx.query(
                f"SELECT id, delivered_at FROM vas_notices WHERE id {d.in_values}",
                (d.values(requests),),
            ):
                delivered[nid] = at is not None
        waiting: dict[str, list[tuple[str, str, Waiting]]] = {o.id: [] for o in orders}
        if orders:
            for nid, oid, kind, at in self._tx.query(
                f"SELECT id, order_id, kind, at FROM vas_notices WHERE order_id {d.in_values} "
                "AND delivered_at IS NULL AND parked = 0",
                (d.values(list(waiting)),),
            ):
                waiting[oid].append((at, nid, Waiting(nid, oid, NoticeKind(kind))))
        self._ahead_delivered, self._ahead_waiting = delivered, waiting

    def claim(
        self,
        now: pendulum.DateTime,
        lease_until: pendulum.DateTime,
        limit: int,
        *,
        unordered: Collection[str] = (),
    ) -> list[Delivery]:
        # one order's notices go out in order: none while an earlier one still waits,
        # unless that one is of a kind that holds no other back
        due = (
            "SELECT n.id FROM vas_notices n WHERE n.delivered_at IS NULL AND n.parked = 0 "
            "AND n.next_attempt_at <= ? AND NOT EXISTS (SELECT 1 FROM vas_notices e "
            "WHERE e.order_id = n.order_id AND e.delivered_at IS NULL AND e.parked = 0 "
            f"AND NOT (e.kind {self._d.in_values}) "
            "AND (e.at < n.at OR (e.at = n.at AND e.id < n.id))) "
            f"ORDER BY n.next_attempt_at LIMIT ?{self._d.claim}"
        )
        rows = self._tx.query(
            "UPDATE vas_notices SET attempts = attempts + 1, next_attempt_at = ?, "
            f"failure_reported = 0 WHERE id {self._d.among(due)} "
            f"RETURNING {NOTICE_COLUMNS}, attempts, last_error",
            (ts(lease_until), ts(now), self._d.values(sorted(unordered)), limit),
        )
        items = [Delivery(notice_from_row(r), r[9], r[10]) for r in rows]
        return sorted(items, key=lambda d: (d.notice.at, d.notice.id))

    def mark_delivered(self, notice_ids: Sequence[str], at: pendulum.DateTime) -> None:
        stamp = ts(at)
        self._delivered.extend((stamp, nid) for nid in notice_ids)

    def mark_failed(self, notice_id: str, error: str, retry_at: pendulum.DateTime | None) -> None:
        if retry_at is None:
            self._tx.execute(
                "UPDATE vas_notices SET parked = 1, last_error = ? WHERE id = ?",
                (error[:500], notice_id),
            )
        else:
            self._tx.execute(
                "UPDATE vas_notices SET next_attempt_at = ?, last_error = ? WHERE id = ?",
                (ts(retry_at), error[:500], notice_id),
            )

    def parked(self, limit: int) -> list[Delivery]:
        rows = self._tx.query(
            f"SELECT {NOTICE_COLUMNS}, attempts, last_error FROM vas_notices "
            "WHERE delivered_at IS NULL AND parked = 1 ORDER BY at, id LIMIT ?",
            (limit,),
        )
        return [Delivery(notice_from_row(r), r[9], r[10]) for r in rows]

    def unpark(self, ids: Sequence[str] | None, now: pendulum.DateTime) -> int:
        update = (
            "UPDATE vas_notices SET parked = 0, attempts = 0, next_attempt_at = ? "
            "WHERE parked = 1 AND delivered_at IS NULL"
        )
        if ids is None:
            return self._tx.execute(update, (ts(now),))
        return self._tx.execute_many(f"{update} AND id = ?", [(ts(now), nid) for nid in ids])

    def next_attempt(self) -> pendulum.DateTime | None:
        self._tx.flush()
        rows = self._tx.query(
            "SELECT min(next_attempt_at) FROM vas_notices WHERE delivered_at IS NULL AND parked = 0"
        )
        return parse_ts(rows[0][0]) if rows else None

    def depth(self) -> QueueDepth:
        self._tx.flush()
        # each count on its partial index: the undelivered rows, never the whole table
        rows = self._tx.query(
            "SELECT count(*), min(at) FROM vas_notices WHERE delivered_at IS NULL AND parked = 0"
        )
        parked = self._tx.query(
            "SELECT count(*) FROM vas_notices WHERE delivered_at IS NULL AND parked = 1"
        )
        return QueueDepth(int(rows[0][0]), int(parked[0][0]), parse_ts(rows[0][1]))

    def notices(self, order_id: str) -> list[Notice]:
        rows = self._tx.query(
            f"SELECT {NOTICE_COLUMNS} FROM vas_notices WHERE order_id = ? ORDER BY at, id",
            (order_id,),
        )
        return [notice_from_row(r) for r in rows] + [
            n for n, _claim in self._notices if n.order_id == order_id
        ]

    def add_notice(self, notice: Notice, *, claimed_until: pendulum.DateTime | None = None) -> None:
        self._notices.append((notice, ts(claimed_until)))

    def waiting_notices(self, order_ids: Sequence[str]) -> list[Waiting]:
        # the notices this unit of work staged are not among them: they are written after
        ahead = self._ahead_waiting
        if order_ids and all(oid in ahead for oid in order_ids):
            return [w for _at, _id, w in sorted(x for oid in order_ids for x in ahead[oid])]
        waiting = "delivered_at IS NULL AND parked = 0 ORDER BY at, id"
        if len(order_ids) == 1:  # a command's one order: one index lookup
            rows = self._tx.query(
                f"SELECT id, order_id, kind FROM vas_notices WHERE order_id = ? AND {waiting}",
                (order_ids[0],),
            )
        else:
            rows = self._tx.query(
                "SELECT id, order_id, kind FROM vas_notices "
                f"WHERE order_id {self._d.in_values} AND {waiting}",
                (self._d.values(list(order_ids)),),
            )
        return [Waiting(r[0], r[1], NoticeKind(r[2])) for r in rows]

    def withdraw_notices(self, notice_ids: Sequence[str], reason: str) -> None:
        # parked = 2: withdrawn, never to be sent (1 is parked, given up after failures)
        self._tx.execute_many(
            "UPDATE vas_notices SET parked = 2, last_error = ? "
            "WHERE id = ? AND delivered_at IS NULL AND parked = 0",
            [(reason[:500], nid) for nid in notice_ids],
        )

    def withdrawn_notices(self) -> dict[str, str]:
        rows = self._tx.query("SELECT id, last_error FROM vas_notices WHERE parked = 2")
        return {r[0]: r[1] or "" for r in rows}

    def delivered(self, notice_id: str) -> bool:
        if any(nid == notice_id for _at, nid in self._delivered):
            self._tx.flush()  # marked in this unit of work: a failure report may veto it
        known = self._ahead_delivered.get(notice_id)
        if known is not None:
            return known
        rows = self._tx.query("SELECT delivered_at FROM vas_notices WHERE id = ?", (notice_id,))
        return bool(rows) and rows[0][0] is not None

    def delivery(self, notice_id: str) -> Delivery | None:
        self._tx.flush()
        rows = self._tx.query(
            f"SELECT {NOTICE_COLUMNS}, attempts, last_error FROM vas_notices WHERE id = ?",
            (notice_id,),
        )
        return Delivery(notice_from_row(rows[0]), rows[0][9], rows[0][10]) if rows else None

    def reopen_notice(self, notice_id: str, error: str, retry_at: pendulum.DateTime | None) -> None:
        self._tx.flush()
        self._tx.execute(
            "UPDATE vas_notices SET delivered_at = NULL, parked = ?, failure_reported = 1, "
            "next_attempt_at = COALESCE(?, next_attempt_at, at), last_error = ? WHERE id = ?",
            (0 if retry_at is not None else 1, ts(retry_at), error[:500], notice_id),
        )

    def all_notices(self) -> Iterator[Notice]:
        # in the order of the primary key (id, first of NOTICE_COLUMNS): each page is
        # an index range, never a sort of the whole table
        rows = self._pages(f"SELECT {NOTICE_COLUMNS} FROM vas_notices", "id")
        yield from (notice_from_row(row) for row in rows)
        yield from (n for n, _claim in self._notices)


class _Ledger(_Part, ChargeRecorder):
    """Charges, and refunds with their claims (written at once: they are rare)."""

    def __init__(self, tx: SqlTransaction) -> None:
        super().__init__(tx)
        self._charges: list[Charge] = []

    def forget_batch(self) -> None:
        if self._charges:
            self._charges = []

    def flush_batch(self) -> None:
        if self._charges:
            self._tx.execute_many(
                "INSERT INTO vas_charges (key, order_id, amount, period_key, period_start, "
                "at, order_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [charge_row(c) for c in self._charges],
            )

    def refunds(self, order_id: str) -> list[Refund]:
        self._tx.flush()
        rows = self._tx.query(f"{_REFUNDS} WHERE order_id = ? ORDER BY at, key", (order_id,))
        return [refund_from_row(r) for r in rows]

    def refund(self, key: str) -> Refund | None:
        self._tx.flush()
        rows = self._tx.query(f"{_REFUNDS} WHERE key = ?", (key,))
        return refund_from_row(rows[0]) if rows else None

    def add_refund(self, refund: Refund) -> None:
        self._tx.flush()
        self._tx.execute(
            "INSERT INTO vas_refunds (key, order_id, charge_key, amount, reason, at, "
            "order_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
            refund_row(refund),
        )

    def add_claim(self, claim: RefundClaim) -> None:
        self._tx.flush()
        self._tx.execute(
            "INSERT INTO vas_refund_claims (order_id, rule, at) VALUES (?, ?, ?) "
            "ON CONFLICT (order_id, rule) DO NOTHING",
            (claim.order_id, claim.rule, ts(claim.at)),
        )

    def claims(self, after: str | None, limit: int) -> list[RefundClaim]:
        self._tx.flush()
        rows = self._tx.query(
            "SELECT order_id, rule, at FROM vas_refund_claims WHERE order_id > ? "
            "ORDER BY order_id, rule LIMIT ?",
            (after or "", limit),
        )
        return [claim_from_row(r) for r in rows]

    def all_refunds(self) -> Iterator[Refund]:
        self._tx.flush()
        yield from (refund_from_row(r) for r in self._pages(_REFUNDS, "key"))

    def charges(self, order_id: str) -> list[Charge]:
        rows = self._tx.query(
            "SELECT key, order_id, amount, period_key, period_start, at, order_version "
            "FROM vas_charges WHERE order_id = ? ORDER BY at, key",
            (order_id,),
        )
        return [charge_from_row(r) for r in rows] + [
            c for c in self._charges if c.order_id == order_id
        ]

    def charge(self, key: str) -> Charge | None:
        for charge in self._charges:
            if charge.key == key:
                return charge
        rows = self._tx.query(
            "SELECT key, order_id, amount, period_key, period_start, at, order_version "
            "FROM vas_charges WHERE key = ?",
            (key,),
        )
        return charge_from_row(rows[0]) if rows else None

    def add_charge(self, charge: Charge) -> None:
        # lock the order row: a racing cancel waits for this charge, or this charge sees it
        rows = self._tx.query(
            "SELECT version FROM vas_orders WHERE id = ?" + self._d.lock,
            (charge.order_id,),
        )
        if not rows or rows[0][0] != charge.order_version:
            found = rows[0][0] if rows else None
            raise ConflictError(charge.order_id, charge.order_version, found)
        self._charges.append(charge)

    def billable_orders(
        self,
        period: Period,
        period_key: str,
        settled_before: pendulum.DateTime | None,
        after: str | None,
        limit: int,
    ) -> Billable:
        self._tx.flush()
        d = self._d
        rows = self._tx.query(
            "SELECT id, state = 'active' AND consent_channel IS NOT NULL AND activated_at < ? "
            f"FROM vas_orders o WHERE kind = 'subscription' AND period = ? AND state IN "
            f"({_BILLABLE}) AND id > ? AND NOT EXISTS (SELECT 1 FROM vas_charges c "
            # the bound on c.order_id is implied, but said: a merge anti-join then reads
            # the charges from this batch on, not every charge of the pass so far
            "WHERE c.order_id = o.id AND c.order_id > ? AND c.period_key = ?) "
            "ORDER BY id LIMIT ?" + d.claim,
            (ts(settled_before) or "", str(period), after or "", after or "", period_key, limit),
        )
        last = rows[-1][0] if len(rows) == limit else None
        if rows and d.claim:
            # the query's snapshot may predate another worker's commit of charges for
            # orders whose locks it then released: read again now they are locked
            charged = self._tx.query(
                f"SELECT order_id FROM vas_charges WHERE order_id {d.in_values} AND period_key = ?",
                (d.values([r[0] for r in rows]), period_key),
            )
            taken = {r[0] for r in charged}
            rows = [r for r in rows if r[0] not in taken]
        settled = [r[0] for r in rows if r[1]]
        rest = [r[0] for r in rows if not r[1]]
        others = []
        if rest:
            others = [
                order_from_row(r)
                for r in self._tx.query(
                    f"SELECT {ORDER_SELECT} FROM vas_orders WHERE id {d.in_values} ORDER BY id",
                    (d.values(rest),),
                )
            ]
        return Billable(settled, others, last)

    def charge_settled(
        self,
        order_ids: Sequence[str],
        key: tuple[str, str],
        period_key: str,
        start: pendulum.DateTime,
        now: pendulum.DateTime,
    ) -> tuple[int, Decimal]:
        self._tx.flush()
        statement = (
            "INSERT INTO vas_charges (key, order_id, amount, period_key, period_start, at, "
            "order_version) SELECT ? || id || ?, id, price, ?, ?, ?, version FROM vas_orders "
            f"WHERE id {self._d.in_values} RETURNING amount"
        )
        params = (*key, period_key, ts(start), ts(now), self._d.values(list(order_ids)))
        try:
            amounts = Counter(r[0] for r in self._tx.query(statement, params))
        except Exception as err:
            self._tx.raise_if_conflict(err)
            raise
        total = sum((Decimal(a) * n for a, n in amounts.items()), Decimal(0))
        return sum(amounts.values()), total

    def add_charges(self, charges: Sequence[Charge]) -> None:
        # billable_orders locked the orders: their versions are the ones charged
        self._charges.extend(charges)

    def all_charges(self) -> Iterator[Charge]:
        select = (
            "SELECT key, order_id, amount, period_key, period_start, at, order_version "
            "FROM vas_charges"
        )
        yield from (charge_from_row(r) for r in self._pages(select, "key"))
        yield from self._charges


class _Spend(_Part, SpendRecorder):
    """The spend ledger, in cents per subscriber, access code and day; a unit of
    work's charges are summed here and sent as one upsert batch."""

    def __init__(self, tx: SqlTransaction) -> None:
        super().__init__(tx)
        self._added: dict[tuple[str, str, str], tuple[int, int]] = {}

    def forget_batch(self) -> None:
        if self._added:
            self._added = {}

    def flush_batch(self) -> None:
        if self._added:
            self._tx.execute_many(
                f"INSERT INTO vas_spend (msisdn, access_code, day, cents, charges) "
                f"VALUES (?, ?, ?, ?, ?) {_ADD_SPEND}",
                [(*key, cents, n) for key, (cents, n) in sorted(self._added.items())],
            )

    def add_spend(self, rows: Sequence[tuple[str, str, str, Decimal]]) -> None:
        self._add(rows, 1, 1)

    def add_refunded_spend(self, rows: Sequence[tuple[str, str, str, Decimal]]) -> None:
        self._add(rows, -1, 0)

    def _add(self, rows: Sequence[tuple[str, str, str, Decimal]], sign: int, each: int) -> None:
        added = self._added
        for msisdn, access_code, day, amount in rows:
            cents, n = added.get((msisdn, access_code, day), (0, 0))
            added[msisdn, access_code, day] = (cents + sign * int(amount * 100), n + each)

    def add_settled_spend(self, order_ids: Sequence[str], day: str) -> None:
        self._tx.flush()
        self._tx.execute(
            "INSERT INTO vas_spend (msisdn, access_code, day, cents, charges) "
            "SELECT msisdn, access_code, ?, "
            "sum(CAST(ROUND(CAST(price AS NUMERIC) * 100) AS INTEGER)), count(*) "
            f"FROM vas_orders WHERE id {self._d.in_values} GROUP BY msisdn, access_code "
            f"{_ADD_SPEND}",
            (day, self._d.values(list(order_ids))),
        )

    def spent(
        self, msisdn: str, first_day: str, end_day: str, access_code: str | None
    ) -> tuple[Decimal, int]:
        self._tx.flush()
        where = "msisdn = ? AND day >= ? AND day < ?"
        params: tuple[str, ...] = (msisdn, first_day, end_day)
        if access_code is not None:
            where, params = where + " AND access_code = ?", (*params, access_code)
        (cents, count), *_ = self._tx.query(
            f"SELECT COALESCE(sum(cents), 0), COALESCE(sum(charges), 0) FROM vas_spend "
            f"WHERE {where}",
            params,
        )
        return Decimal(int(cents)) / 100, int(count)

    def watch(self, msisdn: str, access_code: str, at: pendulum.DateTime) -> None:
        self._tx.flush()
        self._tx.execute(
            "INSERT INTO vas_spend_watch (msisdn, access_code, at) VALUES (?, ?, ?) "
            "ON CONFLICT (msisdn, access_code) DO NOTHING",
            (msisdn, access_code, ts(at)),
        )

    def reminded(self, msisdn: str, access_code: str, at: pendulum.DateTime) -> None:
        self._tx.flush()
        self._tx.execute(
            "INSERT INTO vas_spend_watch (msisdn, access_code, at) VALUES (?, ?, ?) "
            "ON CONFLICT (msisdn, access_code) DO UPDATE SET at = excluded.at",
            (msisdn, access_code, ts(at)),
        )

    def unwatch(self, msisdn: str, access_code: str) -> None:
        self._tx.flush()
        self._tx.execute(
            "DELETE FROM vas_spend_watch WHERE msisdn = ? AND access_code = ?",
            (msisdn, access_code),
        )

    def reminders_due(
        self, before: pendulum.DateTime, limit: int
    ) -> list[tuple[str, str, pendulum.DateTime]]:
        self._tx.flush()
        rows = self._tx.query(
            "SELECT msisdn, access_code, at FROM vas_spend_watch WHERE at < ? "
            "ORDER BY at, msisdn, access_code LIMIT ?",
            (ts(before), limit),
        )
        return [(r[0], r[1], parse_time(r[2])) for r in rows]


class _Usage(_Part, UsageRecorder):
    """When each tracked subscription was last used; its writes go straight out (a
    use is a unit of work of its own; the sweep's are one statement each), so the
    transaction's flush has one recorder fewer to ask."""

    def track(self, order_id: str, at: pendulum.DateTime) -> None:
        self._tx.flush()
        self._tx.execute(
            "INSERT INTO vas_usage (order_id, used_at) VALUES (?, ?) "
            "ON CONFLICT (order_id) DO UPDATE SET used_at = excluded.used_at",
            (order_id, ts(at)),
        )

    def touch(self, order_ids: Sequence[str], at: pendulum.DateTime) -> None:
        self._tx.flush()
        when = ts(at)
        self._tx.execute_many(
            "UPDATE vas_usage SET used_at = ? WHERE order_id = ? AND used_at < ?",
            [(when, order_id, when) for order_id in order_ids],
        )

    def forget(self, order_id: str) -> None:
        self._tx.flush()
        self._tx.execute("DELETE FROM vas_usage WHERE order_id = ?", (order_id,))

    def idle(self, before: pendulum.DateTime, limit: int) -> list[tuple[str, pendulum.DateTime]]:
        self._tx.flush()
        rows = self._tx.query(
            "SELECT order_id, used_at FROM vas_usage WHERE used_at < ? "
            "ORDER BY used_at, order_id LIMIT ?",
            (ts(before), limit),
        )
        return [(r[0], parse_time(r[1])) for r in rows]


def _stored(row: Sequence[Any]) -> StoredEvent:
    """An event row with its links, as the evidence check reads it. A row edited into
    something no event is (facts that are not a JSON object of strings, a value of
    another type in a text column, links that are not text) is read as unreadable, so
    the check finds it changed rather than failing on it."""
    seq, prev, digest = row[1], row[9], row[10]
    links = [link if isinstance(link, str) else None for link in (prev, digest)]
    if not isinstance(seq, int):
        return StoredEvent(0, None, *links)
    try:
        data = json.loads(row[8])
    except (TypeError, ValueError, RecursionError):
        data = None
    texts = row[2:8]
    readable = (
        isinstance(data, dict)
        and all(isinstance(v, str) for v in data.values())
        and all(t is None or isinstance(t, str) for t in texts)
    )
    return StoredEvent(seq, (row[0], seq, *texts, data) if readable else None, *links)


def _chains(part: _Part, orders: Sequence[Sequence[Any]]) -> list[Chain]:
    """The chains of these order rows (id, version, head, chained_from, sealed_at),
    with their events read in one query."""
    if not orders:
        return []
    d = part._d
    events: dict[str, list[StoredEvent]] = {r[0]: [] for r in orders}
    for row in part._tx.query(
        f"SELECT {EVENT_CHAIN_COLUMNS} FROM vas_events WHERE order_id {d.in_values} "
        "ORDER BY order_id, seq",
        (d.values(list(events)),),
    ):
        events[row[0]].append(_stored(row))
    return [
        Chain(oid, version, head, tuple(events[oid]), chained_from or 1, sealed_at)
        for oid, version, head, chained_from, sealed_at in orders
    ]


_CHAIN_ORDERS = "SELECT id, version, head, chained_from, sealed_at FROM vas_orders"


def seal(part: _Part, order_ids: Sequence[str], at: str) -> tuple[dict[str, str | None], int]:
    """Chain the events of orders stored before the store kept chains (C18), from
    their first event, noting that the chain was written from their next event on and
    sealed at ``at``; returns each order's head, and how many it sealed. An order
    whose events are chained already keeps them (its last hash is its head)."""
    d = part._d
    rows = part._tx.query(
        f"SELECT {EVENT_CHAIN_COLUMNS} FROM vas_events WHERE order_id {d.in_values} "
        "ORDER BY order_id, seq",
        (d.values(list(order_ids)),),
    )
    grouped: dict[str, list[Sequence[Any]]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    heads: dict[str, str | None] = {}
    links, marks = [], []
    for oid, events in grouped.items():
        if any(row[10] is not None for row in events):
            heads[oid] = events[-1][10]
            continue
        prev = GENESIS
        for row in events:
            stored = _stored(row)
            if stored.values is None:
                raise StoreError(f"event {row[1]} of order {oid} cannot be read to seal it")
            digest = link(prev, stored.values)
            links.append((prev, digest, oid, row[1]))
            prev = digest
        heads[oid] = prev
        marks.append((prev, events[-1][1] + 1, at, oid))
    part._tx.execute_many(
        "UPDATE vas_events SET prev = ?, hash = ? WHERE order_id = ? AND seq = ?", links
    )
    part._tx.execute_many(
        "UPDATE vas_orders SET head = ?, chained_from = ?, sealed_at = ? "
        "WHERE id = ? AND head IS NULL",
        marks,
    )
    return heads, len(marks)


class _Evidence(_Part, EvidenceRecorder):
    """SP violations and delivery reports, and the orders' evidence chains."""

    def chain(self, order_id: str) -> Chain | None:
        self._tx.flush()
        orders = self._tx.query(f"{_CHAIN_ORDERS} WHERE id = ?", (order_id,))
        if orders:
            return _chains(self, orders)[0]
        found = _chains(self, [(order_id, None, None, None, None)])[0]
        return found if found.events else None

    def chains(self, after: str | None, limit: int) -> list[Chain]:
        self._tx.flush()
        if after is None:
            orders = self._tx.query(f"{_CHAIN_ORDERS} ORDER BY id LIMIT ?", (limit,))
        else:
            orders = self._tx.query(
                f"{_CHAIN_ORDERS} WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
            )
        return _chains(self, orders)

    def orphans(self, limit: int) -> list[Chain]:
        self._tx.flush()
        ids = self._tx.query(
            "SELECT DISTINCT order_id FROM vas_events e WHERE NOT EXISTS "
            "(SELECT 1 FROM vas_orders o WHERE o.id = e.order_id) ORDER BY order_id LIMIT ?",
            (limit,),
        )
        return _chains(self, [(r[0], None, None, None, None) for r in ids])

    def unsealed(self, limit: int) -> list[str]:
        self._tx.flush()
        rows = self._tx.query(
            "SELECT id FROM vas_orders WHERE head IS NULL ORDER BY id LIMIT ?", (limit,)
        )
        return [r[0] for r in rows]

    def seal(self, order_ids: Sequence[str], at: pendulum.DateTime) -> int:
        self._tx.flush()
        return seal(self, order_ids, ts(at) or "")[1] if order_ids else 0

    def __init__(self, tx: SqlTransaction) -> None:
        super().__init__(tx)
        self._violations: list[SpViolation] = []

    def forget_batch(self) -> None:
        if self._violations:
            self._violations = []

    def flush_batch(self) -> None:
        if self._violations:
            self._tx.execute_many(
                "INSERT INTO vas_violations (id, sp_id, msisdn, order_id, reason, at, "
                "channel, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [violation_row(v) for v in self._violations],
            )

    def violations(self, sp_id: str | None) -> list[SpViolation]:
        columns = "id, sp_id, msisdn, order_id, reason, at, channel, evidence"
        if sp_id is None:
            rows = self._tx.query(f"SELECT {columns} FROM vas_violations ORDER BY at, id")
        else:
            rows = self._tx.query(
                f"SELECT {columns} FROM vas_violations WHERE sp_id = ? ORDER BY at, id", (sp_id,)
            )
        stored = [violation_from_row(r) for r in rows]
        return stored + [v for v in self._violations if sp_id is None or v.sp_id == sp_id]

    def add_violation(self, violation: SpViolation) -> None:
        self._violations.append(violation)

    def add_delivery_report(self, report: DeliveryReport) -> None:
        self._tx.execute(
            f"INSERT INTO vas_delivery_reports ({REPORT_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
            report_row(report),
        )

    def delivery_reports(self, notice_id: str) -> list[DeliveryReport]:
        rows = self._tx.query(
            f"SELECT {REPORT_COLUMNS} FROM vas_delivery_reports WHERE notice_id = ? "
            "ORDER BY at, id",
            (notice_id,),
        )
        return [report_from_row(r) for r in rows]


class _Keys(_Part, KeyRecorder):
    """Message ids, request keys, SP keys (nothing batched: its writes go straight
    out)."""

    def __init__(self, tx: SqlTransaction) -> None:
        super().__init__(tx)
        # message ids read ahead: inserted already, with whether this was the first
        self._seen_ahead: dict[str, bool] = {}

    def release(self) -> None:
        """The transaction ended."""
        if self._seen_ahead:
            self._seen_ahead = {}

    def record_seen(self, message_ids: list[str], at: pendulum.DateTime) -> None:
        """Record a burst's message ids at once; each :meth:`first_sight` of one of
        them answers from this (once: a second sight in the same unit of work reads
        the row)."""
        inserted = self._tx.query(
            "INSERT INTO vas_messages (message_id, at) SELECT s.v, ? "
            f"FROM {self._d.rows_of} AS s WHERE true "
            "ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
            (ts(at), self._d.values(message_ids)),
        )
        new = {r[0] for r in inserted}
        self._seen_ahead = {m: m in new for m in message_ids}

    def first_sight(self, message_id: str, at: pendulum.DateTime) -> bool:
        known = self._seen_ahead.pop(message_id, None)
        if known is not None:
            return known
        # a racing transaction with the same id waits on the key, then inserts nothing
        inserted = self._tx.execute(
            "INSERT INTO vas_messages (message_id, at) VALUES (?, ?) "
            "ON CONFLICT (message_id) DO NOTHING",
            (message_id, ts(at)),
        )
        return inserted == 1

    def forget_messages(self, before: pendulum.DateTime) -> int:
        return self._tx.execute("DELETE FROM vas_messages WHERE at < ?", (ts(before),))

    def request_key(self, scope: str, key: str) -> RequestKey | None:
        rows = self._tx.query(
            f"SELECT {REQUEST_KEY_COLUMNS} FROM vas_request_keys WHERE scope = ? AND key = ?",
            (scope, key),
        )
        return request_key_from_row(rows[0]) if rows else None

    def add_request_key(self, record: RequestKey) -> None:
        self._tx.execute(
            f"INSERT INTO vas_request_keys ({REQUEST_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            request_key_row(record),
        )

    def forget_request_keys(self, before: pendulum.DateTime) -> int:
        return self._tx.execute("DELETE FROM vas_request_keys WHERE at < ?", (ts(before),))

    def add_sp_key(self, key: SpKey) -> None:
        self._tx.execute(
            f"INSERT INTO vas_sp_keys ({SP_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?)", sp_key_row(key)
        )

    def sp_key(self, key_id: str) -> SpKey | None:
        rows = self._tx.query(
            f"SELECT {SP_KEY_COLUMNS} FROM vas_sp_keys WHERE key_id = ?", (key_id,)
        )
        return sp_key_from_row(rows[0]) if rows else None

    def sp_keys(self, sp_id: str) -> list[SpKey]:
        rows = self._tx.query(
            f"SELECT {SP_KEY_COLUMNS} FROM vas_sp_keys WHERE sp_id = ? ORDER BY created_at, key_id",
            (sp_id,),
        )
        return [sp_key_from_row(r) for r in rows]

    def revoke_sp_keys(self, sp_id: str, key_id: str | None, at: pendulum.DateTime) -> int:
        if key_id is None:
            return self._tx.execute(
                "UPDATE vas_sp_keys SET revoked_at = ? WHERE sp_id = ? AND revoked_at IS NULL",
                (ts(at), sp_id),
            )
        return self._tx.execute(
            "UPDATE vas_sp_keys SET revoked_at = ? "
            "WHERE sp_id = ? AND key_id = ? AND revoked_at IS NULL",
            (ts(at), sp_id, key_id),
        )


class _Feed(_Part, FeedRecorder):
    """The feed's subscribers and what each is owed."""

    def __init__(self, tx: SqlTransaction) -> None:
        super().__init__(tx)
        self._feed: list[Iterable[FeedEvent]] = []  # made at the flush, if anyone listens

    def forget_batch(self) -> None:
        if self._feed:
            self._feed = []

    def flush_batch(self) -> None:
        if self._feed:
            self._flush_feed()

    def queue(self, subscriber: str) -> LeasedQueue[FeedDelivery]:
        return _FeedQueue(self._tx, subscriber)

    def add_subscriber(self, name: str, at: pendulum.DateTime) -> bool:
        self._tx.flush()  # what this unit of work published before is not owed to it
        return (
            self._tx.execute(
                "INSERT INTO vas_feed_subscribers (name, since) VALUES (?, ?) "
                "ON CONFLICT (name) DO NOTHING",
                (name, ts(at)),
            )
            == 1
        )

    def remove_subscriber(self, name: str) -> bool:
        self._tx.flush()
        self._tx.execute("DELETE FROM vas_feed WHERE subscriber = ?", (name,))
        return self._tx.execute("DELETE FROM vas_feed_subscribers WHERE name = ?", (name,)) == 1

    def subscribers(self) -> list[str]:
        return [r[0] for r in self._tx.query("SELECT name FROM vas_feed_subscribers ORDER BY name")]

    def add_events(self, events: Iterable[FeedEvent]) -> None:
        self._feed.append(events)

    def backlog(self, subscriber: str) -> int:
        self._tx.flush()
        rows = self._tx.query("SELECT count(*) FROM vas_feed WHERE subscriber = ?", (subscriber,))
        return int(rows[0][0])

    def next_attempt(self, subscribers: Sequence[str]) -> pendulum.DateTime | None:
        self._tx.flush()
        rows = self._tx.query(
            "SELECT min(f.next_attempt_at) FROM vas_feed f "
            f"WHERE f.subscriber {self._d.in_values} AND f.parked = 0 AND {_HEAD}",
            (self._d.values(list(subscribers)),),
        )
        return parse_ts(rows[0][0]) if rows else None

    def _flush_feed(self) -> None:
        """Each event once for every registered subscriber; with none (one indexed
        look), no event is even made."""
        if not self._feed or not self._tx.query("SELECT 1 FROM vas_feed_subscribers LIMIT 1"):
            return
        self._tx.execute_many(
            f"INSERT INTO vas_feed (subscriber, {FEED_COLUMNS}, next_attempt_at) "
            "SELECT name, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM vas_feed_subscribers",
            [(*row, row[4]) for events in self._feed for row in map(feed_row, events)],
        )


class _FeedQueue(_Part, LeasedQueue[FeedDelivery]):
    """One subscriber's owed events (nothing batched: its writes go straight out)."""

    def __init__(self, tx: SqlTransaction, subscriber: str) -> None:
        super().__init__(tx)
        self._name = subscriber

    def claim(
        self, now: pendulum.DateTime, lease_until: pendulum.DateTime, limit: int
    ) -> list[FeedDelivery]:
        self._tx.flush()
        name = self._name
        # one claim per subscriber at a time: what another claim took is then seen
        # as claimed, and holds that order's later events back
        self._tx.query(
            "SELECT name FROM vas_feed_subscribers WHERE name = ?" + self._d.lock, (name,)
        )
        due = (
            "SELECT f.event_id FROM vas_feed f WHERE f.subscriber = ? AND f.parked = 0 "
            f"AND f.next_attempt_at <= ? AND {_HEAD} ORDER BY f.next_attempt_at, f.pos LIMIT ?"
        )
        rows = self._tx.query(
            "UPDATE vas_feed SET attempts = attempts + 1, next_attempt_at = ? "
            f"WHERE subscriber = ? AND event_id {self._d.among(due)} "
            f"RETURNING {FEED_COLUMNS}, attempts, last_error",
            (ts(lease_until), name, name, ts(now), limit),
        )
        claimed = [feed_from_row(name, r) for r in rows]
        return sorted(claimed, key=lambda d: (d.event.at, d.event.order_id, d.event.seq))

    def mark_delivered(self, ids: Sequence[str], at: pendulum.DateTime) -> None:
        self._tx.execute_many(
            "DELETE FROM vas_feed WHERE subscriber = ? AND event_id = ?",
            [(self._name, eid) for eid in ids],
        )

    def mark_failed(self, item_id: str, error: str, retry_at: pendulum.DateTime | None) -> None:
        where = "WHERE subscriber = ? AND event_id = ?"
        if retry_at is None:
            self._tx.execute(
                f"UPDATE vas_feed SET parked = 1, last_error = ? {where}",
                (error[:500], self._name, item_id),
            )
        else:
            self._tx.execute(
                f"UPDATE vas_feed SET next_attempt_at = ?, last_error = ? {where}",
                (ts(retry_at), error[:500], self._name, item_id),
            )

    def parked(self, limit: int) -> list[FeedDelivery]:
        rows = self._tx.query(
            f"SELECT {FEED_COLUMNS}, attempts, last_error FROM vas_feed "
            "WHERE subscriber = ? AND parked = 1 ORDER BY at, pos LIMIT ?",
            (self._name, limit),
        )
        return [feed_from_row(self._name, r) for r in rows]

    def unpark(self, ids: Sequence[str] | None, now: pendulum.DateTime) -> int:
        update = (
            "UPDATE vas_feed SET parked = 0, attempts = 0, next_attempt_at = ? "
            "WHERE subscriber = ? AND parked = 1"
        )
        if ids is None:
            return self._tx.execute(update, (ts(now), self._name))
        return self._tx.execute(
            f"{update} AND event_id {self._d.in_values}",
            (ts(now), self._name, self._d.values(list(ids))),
        )

    def next_attempt(self) -> pendulum.DateTime | None:
        return self._tx.feed.next_attempt([self._name])

    def depth(self) -> QueueDepth:
        self._tx.flush()
        # the table holds only what is owed: delivered events are deleted
        rows = self._tx.query(
            "SELECT parked, count(*), min(at) FROM vas_feed WHERE subscriber = ? GROUP BY parked",
            (self._name,),
        )
        counts = {int(r[0]): (int(r[1]), r[2]) for r in rows}
        waiting, oldest = counts.get(0, (0, None))
        return QueueDepth(waiting, counts.get(1, (0, None))[0], parse_ts(oldest))
