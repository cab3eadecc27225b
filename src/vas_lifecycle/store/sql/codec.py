"""How records become rows and rows become records, for the SQL stores.

An order is stored as one column per field, named as the field (and ``due_at``, its
next timer); the schema version says what the columns are. Event data is a small JSON
object; times are canonical UTC text.

Two bounded caches live here, in the adapter and not in the domain: time texts (a
unit of work writes and reads the same few instants many times) and the JSON of
event data (most of it is one of a few constants).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pendulum

from vas_lifecycle.catalog import OfferKind, Period
from vas_lifecycle.clock import utc_text
from vas_lifecycle.errors import StoreError
from vas_lifecycle.notices import Notice, NoticeKind
from vas_lifecycle.order import Event, EventKind, Order, Pack
from vas_lifecycle.records import (
    Channel,
    Charge,
    DeliveryReport,
    DeliveryStatus,
    FeedDelivery,
    FeedEvent,
    FeedKind,
    ReasonCode,
    Refund,
    RefundClaim,
    RequestKey,
    SpKey,
    SpViolation,
)
from vas_lifecycle.states import OrderState

__all__ = [
    "EVENT_CHAIN_COLUMNS",
    "EVENT_COLUMNS",
    "FEED_COLUMNS",
    "HEAD",
    "NOTICE_COLUMNS",
    "ORDER_COLUMNS",
    "ORDER_FIELDS",
    "ORDER_SELECT",
    "ORDER_STATUS",
    "ORDER_UPDATE",
    "REPORT_COLUMNS",
    "REQUEST_KEY_COLUMNS",
    "SP_KEY_COLUMNS",
    "charge_from_row",
    "charge_row",
    "claim_from_row",
    "event_from_row",
    "event_row",
    "feed_from_row",
    "feed_row",
    "notice_from_row",
    "notice_row",
    "order_from_row",
    "order_row",
    "parse_time",
    "parse_ts",
    "refund_from_row",
    "refund_row",
    "report_from_row",
    "report_row",
    "request_key_from_row",
    "request_key_row",
    "sp_key_from_row",
    "sp_key_row",
    "ts",
    "update_row",
    "violation_from_row",
    "violation_row",
]


def ts(value: dt.datetime | None) -> str | None:
    """A time as canonical UTC text (sorts chronologically)."""
    if value is None:
        return None
    return _ts_text(value)


#: a unit of work writes the same few instants many times (now, deadlines)
_ts_text = functools.lru_cache(maxsize=8192)(utc_text)


def parse_ts(value: str | None) -> pendulum.DateTime | None:
    """A stored time, or None."""
    if value is None:
        return None
    return _ts(value)


def parse_time(value: str) -> pendulum.DateTime:
    """A stored time that is never missing."""
    return _ts(value)


@functools.lru_cache(maxsize=8192)
def _ts(value: str) -> pendulum.DateTime:
    # the rows of one batch share their instants (the command's now, deadlines)
    p = dt.datetime.fromisoformat(value)  # canonical text: always UTC ("Z")
    return pendulum.DateTime(
        p.year, p.month, p.day, p.hour, p.minute, p.second, p.microsecond, tzinfo=pendulum.UTC
    )


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# Rows hold each enum's value. Every enum here is a StrEnum, whose str() is its value:
# str(member) is a C call, where member.value runs Python code on every row written.
_KINDS = {k.value: k for k in OfferKind}
_PERIODS = {p.value: p for p in Period}
_STATES = {s.value: s for s in OrderState}
_CHANNELS = {c.value: c for c in Channel}
_MAYBE_CHANNELS: dict[str | None, Channel | None] = {c.value: c for c in Channel}
_MAYBE_CHANNELS[None] = None


#: An order's columns, named as its fields, in the order the codec writes and reads
#: them (the SQL names every column; nothing depends on the class's field order).
ORDER_FIELDS = (
    "id",
    "msisdn",
    "service_code",
    "sp_id",
    "sp_name",
    "service_name",
    "kind",
    "price",
    "period",
    "access_code",
    "language",
    "requested_at",
    "request_channel",
    "state",
    "version",
    "code",
    "confirm_by",
    "activated_at",
    "consent_channel",
    "trial_ends_at",
    "remind_at",
    "reminded_at",
    "fee_notice_id",
    "ended_at",
    "end_reason",
    "request_notice_id",
    "pack",
    "notified",
)
#: What a read selects (the fields), and what an insert writes (the fields and due_at).
#: the order's fields, then its evidence head (C18), which the recorder keeps beside
#: the order it reads (the Order itself does not carry it)
ORDER_SELECT = ", ".join(ORDER_FIELDS) + ", head"
HEAD = len(ORDER_FIELDS)
ORDER_COLUMNS = ", ".join(ORDER_FIELDS) + ", due_at, head"
#: The fields an event may change (what a request froze never changes, C12), and
#: due_at: what an update writes.
ORDER_STATUS = (*ORDER_FIELDS[ORDER_FIELDS.index("state") :], "due_at")


def order_row(o: Order, head: str | None) -> tuple[Any, ...]:
    """The values of :data:`ORDER_COLUMNS` for an order with this evidence head."""
    return (
        o.id,
        o.msisdn,
        o.service_code,
        o.sp_id,
        o.sp_name,
        o.service_name,
        str(o.kind),
        str(o.price),
        str(o.period),
        o.access_code,
        o.language,
        ts(o.requested_at),
        str(o.request_channel),
        *_status(o),
        head,
    )


def _status(o: Order) -> tuple[Any, ...]:
    """The values of :data:`ORDER_STATUS` for an order."""
    return (
        str(o.state),
        o.version,
        o.code,
        ts(o.confirm_by),
        ts(o.activated_at),
        str(o.consent_channel) if o.consent_channel is not None else None,
        ts(o.trial_ends_at),
        ts(o.remind_at),
        ts(o.reminded_at),
        o.fee_notice_id,
        ts(o.ended_at),
        o.end_reason,
        o.request_notice_id,
        None if o.pack is None else _pack_text(o.pack),
        o.notified,
        ts(o.due_at),
    )


def _pack_text(pack: Pack) -> str:
    """A pack as one column: ``days|auto_renew|valid_until`` (``28|1|2026-12-22T...``)."""
    until = ts(pack.valid_until) or ""
    return f"{pack.validity_days}|{int(pack.auto_renew)}|{until}"


def _pack(text: str) -> Pack:
    days, auto, until = text.split("|")
    return Pack(int(days), auto == "1", _ts(until) if until else None)


def update_row(o: Order, expected: int, head: str | None) -> tuple[Any, ...]:
    """The parameters of :data:`ORDER_UPDATE`: the new status and evidence head, then
    the id and the version the order must still have."""
    return (*_status(o), head, o.id, expected)


ORDER_UPDATE = (
    "UPDATE vas_orders SET "
    + ", ".join(f"{name} = ?" for name in ORDER_STATUS)
    + ", head = coalesce(?, head) WHERE id = ? AND version = ?"
)


def order_from_row(r: Sequence[Any]) -> Order:
    """The order a row of :data:`ORDER_SELECT` holds; a row that cannot be read is a
    StoreError (never a half-read order)."""
    try:
        # positional, in the order of ORDER_FIELDS, which is the fields' own (tested)
        return Order(
            r[0],  # id
            r[1],  # msisdn
            r[2],  # service_code
            r[3],  # sp_id
            r[4],  # sp_name
            r[5],  # service_name
            _KINDS[r[6]],  # kind
            Decimal(r[7]),  # price
            _PERIODS[r[8]],  # period
            r[9],  # access_code
            r[10],  # language
            _ts(r[11]),  # requested_at
            _CHANNELS[r[12]],  # request_channel
            _STATES[r[13]],  # state
            int(r[14]),  # version
            r[15],  # code
            parse_ts(r[16]),  # confirm_by
            parse_ts(r[17]),  # activated_at
            _MAYBE_CHANNELS[r[18]],  # consent_channel
            parse_ts(r[19]),  # trial_ends_at
            parse_ts(r[20]),  # remind_at
            parse_ts(r[21]),  # reminded_at
            r[22],  # fee_notice_id
            parse_ts(r[23]),  # ended_at
            r[24],  # end_reason
            r[25],  # request_notice_id
            None if r[26] is None else _pack(r[26]),  # pack
            r[27],  # notified
        )
    except (ArithmeticError, ValueError, TypeError, LookupError) as err:
        raise StoreError(f"a stored order cannot be read ({type(err).__name__}: {err})") from err


EVENT_COLUMNS = "order_id, seq, kind, at, channel, actor, text_in, text_out, data"
#: an event's columns with its links (C18): the hash before it, and its own
EVENT_CHAIN_COLUMNS = EVENT_COLUMNS + ", prev, hash"
NOTICE_COLUMNS = "id, kind, msisdn, order_id, text, at, sender, language, rule"


def event_row(event: Event) -> tuple[Any, ...]:
    return (
        event.order_id,
        event.seq,
        str(event.kind),
        ts(event.at),
        str(event.channel) if event.channel else None,
        event.actor,
        event.text_in,
        event.text_out,
        _data_json(event.data),
    )


@functools.lru_cache(maxsize=4096)
def _data_json(data: Mapping[str, str]) -> str:
    # event data is immutable and hashable; most of it is one of a few constants
    return _ENCODER.encode(dict(data))


def event_from_row(row: Sequence[Any]) -> Event:
    return Event(
        row[0],
        row[1],
        EventKind(row[2]),
        _ts(row[3]),
        _MAYBE_CHANNELS[row[4]],
        row[5],
        row[6],
        row[7],
        json.loads(row[8]),
    )


def notice_row(notice: Notice) -> tuple[Any, ...]:
    return (
        notice.id,
        str(notice.kind),
        notice.msisdn,
        notice.order_id,
        notice.text,
        ts(notice.at),
        notice.sender,
        notice.language,
        notice.rule,
    )


def notice_from_row(row: Sequence[Any]) -> Notice:
    return Notice(
        row[0], NoticeKind(row[1]), row[2], row[3], row[4], _ts(row[5]), row[6], row[7], row[8]
    )


def charge_from_row(row: Sequence[Any]) -> Charge:
    return Charge(row[0], row[1], Decimal(row[2]), row[3], parse_ts(row[4]), _ts(row[5]), row[6])


def violation_from_row(row: Sequence[Any]) -> SpViolation:
    return SpViolation(
        row[0],
        row[1],
        row[2],
        row[3],
        ReasonCode(row[4]),
        _ts(row[5]),
        _MAYBE_CHANNELS[row[6]],
        row[7],
    )


def charge_row(c: Charge) -> tuple[Any, ...]:
    return (
        c.key,
        c.order_id,
        str(c.amount),
        c.period_key,
        ts(c.period_start),
        ts(c.at),
        c.order_version,
    )


def violation_row(v: SpViolation) -> tuple[Any, ...]:
    return (
        v.id,
        v.sp_id,
        v.msisdn,
        v.order_id,
        str(v.reason),
        ts(v.at),
        str(v.channel) if v.channel else None,
        v.evidence,
    )


REPORT_COLUMNS = "id, notice_id, status, at, detail"
SP_KEY_COLUMNS = "key_id, sp_id, digest, created_at, revoked_at"


def report_row(r: DeliveryReport) -> tuple[Any, ...]:
    return (r.id, r.notice_id, str(r.status), ts(r.at), r.detail)


def report_from_row(row: Sequence[Any]) -> DeliveryReport:
    return DeliveryReport(row[0], row[1], DeliveryStatus(row[2]), _ts(row[3]), row[4])


def sp_key_row(k: SpKey) -> tuple[Any, ...]:
    return (k.key_id, k.sp_id, k.digest, ts(k.created_at), ts(k.revoked_at))


def sp_key_from_row(row: Sequence[Any]) -> SpKey:
    return SpKey(row[0], row[1], row[2], _ts(row[3]), parse_ts(row[4]))


REQUEST_KEY_COLUMNS = "scope, key, fingerprint, order_id, version, refusal, at"


def request_key_row(r: RequestKey) -> tuple[Any, ...]:
    refusal = None if r.refusal is None else str(r.refusal)
    return (r.scope, r.key, r.fingerprint, r.order_id, r.version, refusal, ts(r.at))


def request_key_from_row(row: Sequence[Any]) -> RequestKey:
    refusal = None if row[5] is None else ReasonCode(row[5])
    return RequestKey(row[0], row[1], row[2], row[3], int(row[4]), refusal, _ts(row[6]))


#: a feed event's columns; ``pos`` sorts one order's events in commit order
FEED_COLUMNS = "event_id, order_id, pos, kind, at, seq, msisdn, service_code, sp_id, state, data"


def feed_row(event: FeedEvent) -> tuple[Any, ...]:
    # one order's events in commit order: by its version, a charge after the change
    # that made that version (a charge locks its order: the next change waits for it)
    charge = 1 if event.kind is FeedKind.CHARGE_RECORDED else 0
    at = ts(event.at)
    return (
        event.id,
        event.order_id,
        f"{event.seq:010d}.{charge}.{at}.{event.id}",
        str(event.kind),
        at,
        event.seq,
        event.msisdn,
        event.service_code,
        event.sp_id,
        event.state,
        _ENCODER.encode(dict(event.data)),
    )


def feed_from_row(subscriber: str, row: Sequence[Any]) -> FeedDelivery:
    """A row of ``FEED_COLUMNS`` followed by ``attempts, last_error``."""
    event = FeedEvent(
        row[0],
        FeedKind(row[3]),
        row[1],
        row[5],
        _ts(row[4]),
        row[6],
        row[7],
        row[8],
        row[9],
        json.loads(row[10]),
    )
    return FeedDelivery(subscriber, event, row[11], row[12])


def refund_row(r: Refund) -> tuple[Any, ...]:
    return (r.key, r.order_id, r.charge_key, str(r.amount), r.reason, ts(r.at), r.order_version)


def refund_from_row(row: Sequence[Any]) -> Refund:
    return Refund(row[0], row[1], row[2], Decimal(row[3]), row[4], _ts(row[5]), row[6])


def claim_from_row(row: Sequence[Any]) -> RefundClaim:
    return RefundClaim(row[0], row[1], _ts(row[2]))
