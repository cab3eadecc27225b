"""How records become rows and rows become records, for the SQL stores.

An order is stored as its filter columns and a named, versioned JSON body
(``{"v": 1, "id": ..., "state": ...}``): every field by name, so the body does not
depend on the order of the ``Order`` class's fields, and ``v`` says which body
format it is. Event data is a JSON object; times are canonical UTC text.

Two bounded caches live here, in the adapter and not in the domain: time texts (a
unit of work writes and reads the same few instants many times) and the JSON of
event data (most of it is one of a few constants).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import pendulum

from vas_lifecycle.catalog import OfferKind, Period
from vas_lifecycle.errors import StoreError
from vas_lifecycle.notices import Notice, NoticeKind
from vas_lifecycle.order import Event, EventKind, Order
from vas_lifecycle.records import Channel, Charge, ReasonCode, SpViolation
from vas_lifecycle.states import OrderState

__all__ = [
    "BODY_VERSION",
    "EVENT_COLUMNS",
    "NOTICE_COLUMNS",
    "ORDER_BODY_FIELDS",
    "ORDER_COLUMNS",
    "charge_from_row",
    "charge_row",
    "event_from_row",
    "event_row",
    "notice_from_row",
    "notice_row",
    "order_from_json",
    "order_row",
    "order_to_json",
    "parse_time",
    "parse_ts",
    "ts",
    "update_row",
    "violation_from_row",
    "violation_row",
]

_ZERO = dt.timedelta(0)


def ts(value: dt.datetime | None) -> str | None:
    """A time as canonical UTC text (sorts chronologically)."""
    if value is None:
        return None
    return _ts_text(value)


@functools.lru_cache(maxsize=8192)
def _ts_text(value: dt.datetime) -> str:
    # a unit of work writes the same few instants many times (now, deadlines)
    if value.utcoffset() != _ZERO:
        value = value.astimezone(dt.UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:"
        f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}Z"
    )


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
_KINDS = {k.value: k for k in OfferKind}
_PERIODS = {p.value: p for p in Period}
_STATES = {s.value: s for s in OrderState}
_CHANNELS = {c.value: c for c in Channel}
_MAYBE_CHANNELS: dict[str | None, Channel | None] = {c.value: c for c in Channel}
_MAYBE_CHANNELS[None] = None


#: The body format written now; a body of another version is refused.
BODY_VERSION = 1


def _time_text(value: Any) -> Any:
    return ts(value)


def _same(value: Any) -> Any:
    return value


#: Every field of the body by name: how it is written, and how it is read back.
_BODY: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "id": (_same, _same),
    "msisdn": (_same, _same),
    "service_code": (_same, _same),
    "sp_id": (_same, _same),
    "sp_name": (_same, _same),
    "service_name": (_same, _same),
    "kind": (_same, _KINDS.__getitem__),  # StrEnum: the encoder writes its value
    "price": (str, Decimal),
    "period": (_same, _PERIODS.__getitem__),
    "access_code": (_same, _same),
    "language": (_same, _same),
    "requested_at": (_time_text, _ts),
    "request_channel": (_same, _CHANNELS.__getitem__),
    "state": (_same, _STATES.__getitem__),
    "version": (_same, _same),
    "code": (_same, _same),
    "confirm_by": (_time_text, parse_ts),
    "activated_at": (_time_text, parse_ts),
    "consent_channel": (_same, _MAYBE_CHANNELS.__getitem__),
    "trial_ends_at": (_time_text, parse_ts),
    "remind_at": (_time_text, parse_ts),
    "reminded_at": (_time_text, parse_ts),
    "fee_notice_id": (_same, _same),
    "ended_at": (_time_text, parse_ts),
    "end_reason": (_same, _same),
    "request_notice_id": (_same, _same),
}
#: The names in a body (a test keeps them and the ``Order`` fields the same set).
ORDER_BODY_FIELDS = tuple(_BODY)


def order_to_json(o: Order) -> str:
    """The order's body: ``v`` and every field by name."""
    body: dict[str, Any] = {"v": BODY_VERSION}
    for name, (write, _read) in _BODY.items():
        body[name] = write(getattr(o, name))
    return _ENCODER.encode(body)


def order_from_json(text: str) -> Order:
    """The order a stored body holds; a body that cannot be read is a StoreError."""
    try:
        body = json.loads(text)
        if not isinstance(body, dict) or body.get("v") != BODY_VERSION:
            raise ValueError(f"not an order body of version {BODY_VERSION}")
        return Order(**{name: read(body[name]) for name, (_write, read) in _BODY.items()})
    except (ValueError, TypeError, LookupError, AttributeError) as err:
        raise StoreError(f"a stored order cannot be read ({type(err).__name__}: {err})") from err


ORDER_COLUMNS = (
    "id, msisdn, version, state, due_at, ended_at, body, "
    "service_code, kind, requested_at, code, sp_id, request_channel"
)
EVENT_COLUMNS = "order_id, seq, kind, at, channel, actor, text_in, text_out, data"
NOTICE_COLUMNS = "id, kind, msisdn, order_id, text, at, sender, language"


def event_row(event: Event) -> tuple[Any, ...]:
    return (
        event.order_id,
        event.seq,
        event.kind.value,
        ts(event.at),
        event.channel.value if event.channel else None,
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
        notice.kind.value,
        notice.msisdn,
        notice.order_id,
        notice.text,
        ts(notice.at),
        notice.sender,
        notice.language,
    )


def notice_from_row(row: Sequence[Any]) -> Notice:
    return Notice(row[0], NoticeKind(row[1]), row[2], row[3], row[4], _ts(row[5]), row[6], row[7])


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
        v.reason.value,
        ts(v.at),
        v.channel.value if v.channel else None,
        v.evidence,
    )


def order_row(order: Order) -> tuple[Any, ...]:
    """The values of a new order's row, in the order of ORDER_COLUMNS."""
    return (
        order.id,
        order.msisdn,
        order.version,
        order.state.value,
        ts(order.due_at),
        ts(order.ended_at),
        order_to_json(order),
        order.service_code,
        order.kind.value,
        ts(order.requested_at),
        order.code,
        order.sp_id,
        order.request_channel.value,
    )


def update_row(order: Order, expected: int) -> tuple[Any, ...]:
    return (
        order.version,
        order.state.value,
        ts(order.due_at),
        ts(order.ended_at),
        order_to_json(order),
        order.code,
        order.id,
        expected,
    )
