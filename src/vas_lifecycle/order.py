"""The order record and its events; an order is a fold of its events (invariant 5).

The facade never sets an order's fields directly: it creates events and applies them
with :func:`apply`, the same function :meth:`Order.from_events` uses to rebuild an
order from its history. So the stored order and the rebuilt one cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from itertools import repeat
from typing import Any, Final, NamedTuple

import attrs
import pendulum

from vas_lifecycle.catalog import OfferKind, Period
from vas_lifecycle.clock import parse_utc
from vas_lifecycle.errors import InvalidStateError
from vas_lifecycle.machine import TABLE
from vas_lifecycle.notices import NoticeKind
from vas_lifecycle.privacy import mask_msisdn, masked_repr
from vas_lifecycle.records import Channel
from vas_lifecycle.states import LIVE_STATES, OrderState, Trigger

__all__ = [
    "FACTS",
    "Event",
    "EventData",
    "EventKind",
    "Order",
    "Pack",
    "Step",
    "advance",
    "apply",
]


class EventKind(enum.StrEnum):
    """What happened to an order. Events are past tense."""

    ORDER_REQUESTED = "order_requested"
    CONFIRMATION_REQUESTED = "confirmation_requested"
    CONFIRMATION_RESENT = "confirmation_resent"  # AU1: the request sent once more
    CONSENT_GRANTED = "consent_granted"
    CONSENT_DECLINED = "consent_declined"
    CONFIRMATION_EXPIRED = "confirmation_expired"
    ORDER_REJECTED = "order_rejected"
    TRIAL_STARTED = "trial_started"
    TRIAL_REMINDED = "trial_reminded"
    TRIAL_ENDED = "trial_ended"
    ORDER_COMPLETED = "order_completed"
    PURCHASE_CONFIRMED = "purchase_confirmed"  # C5a: an SP's on-demand order confirmed
    ORDER_CANCELLED = "order_cancelled"
    ORDER_PAUSED = "order_paused"
    ORDER_RESUMED = "order_resumed"
    # facts: recorded as evidence, they move nothing (see FACTS)
    RENEWAL_NOTIFIED = "renewal_notified"  # IN3: the notice before a pack renews
    ORDER_RENEWED = "order_renewed"  # a pack's next validity period began
    ORDER_LAPSED = "order_lapsed"  # a pack's validity ended without a renewal
    TRIAL_CONVERTED = "trial_converted"  # CT1: a trial became the paid subscription
    REFUND_CLAIMED = "refund_claimed"
    REFUND_RECORDED = "refund_recorded"
    #: a text that looked like a wish to leave but matched no keyword, kept for review
    OPT_OUT_FLAGGED = "opt_out_flagged"


#: The trigger each event applies to the machine (the first event creates the order).
EVENT_TRIGGERS: Final[Mapping[EventKind, Trigger]] = {
    EventKind.CONFIRMATION_REQUESTED: Trigger.ASK_CONFIRMATION,
    EventKind.CONFIRMATION_RESENT: Trigger.RESEND,
    EventKind.CONSENT_GRANTED: Trigger.CONFIRM,
    EventKind.CONSENT_DECLINED: Trigger.DECLINE,
    EventKind.CONFIRMATION_EXPIRED: Trigger.EXPIRE,
    EventKind.ORDER_REJECTED: Trigger.REJECT,
    EventKind.TRIAL_STARTED: Trigger.START_TRIAL,
    EventKind.TRIAL_REMINDED: Trigger.REMIND,
    EventKind.TRIAL_ENDED: Trigger.END_TRIAL,
    EventKind.ORDER_COMPLETED: Trigger.COMPLETE,
    EventKind.PURCHASE_CONFIRMED: Trigger.COMPLETE,
    EventKind.ORDER_CANCELLED: Trigger.CANCEL,
    EventKind.ORDER_PAUSED: Trigger.PAUSE,
    EventKind.ORDER_RESUMED: Trigger.RESUME,
    EventKind.RENEWAL_NOTIFIED: Trigger.NOTIFY_RENEWAL,
    EventKind.ORDER_RENEWED: Trigger.RENEW,
    EventKind.ORDER_LAPSED: Trigger.LAPSE,
    EventKind.TRIAL_CONVERTED: Trigger.CONVERT,
}

#: Events that record a fact about an order and move nothing (no trigger, no field
#: but the version changes): a refund claimed or recorded, an opt-out flagged. They take the next version
#: like any event, so they sit in the order's evidence in their place.
FACTS: Final = frozenset(
    {EventKind.REFUND_CLAIMED, EventKind.REFUND_RECORDED, EventKind.OPT_OUT_FLAGGED}
)


class EventData(Mapping[str, str]):
    """An event's facts: an immutable mapping of strings.

    Kept as one flat tuple ``(key, value, key, value, ...)`` sorted by key rather than
    as a dict: an event is never changed once made, has a handful of facts, and a
    store may hold millions of events (a dict costs several times the memory).
    """

    __slots__ = ("_items",)

    def __init__(self, items: tuple[str, ...]) -> None:
        self._items = items

    @classmethod
    def of(cls, data: Mapping[str, str] | None) -> EventData:
        if isinstance(data, EventData):
            return data
        if not data:
            return _EMPTY
        keys = sorted(data)
        values = [data[key] for key in keys]
        items: list[str] = keys + values  # then interleaved: key, value, key, value, ...
        if not all(map(isinstance, items, repeat(str))):  # checked in C, every command
            raise TypeError(f"event data must map str to str, got {dict(data)!r}")
        items[0::2], items[1::2] = keys, values
        return cls(tuple(items))

    def __getitem__(self, key: str) -> str:
        items = self._items
        at = 0
        try:
            while True:
                at = items.index(key, at)
                if at % 2 == 0:  # a key, not a value that reads the same
                    return items[at + 1]
                at += 1
        except ValueError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        # most events lack most keys: a miss is answered without raising
        if key not in self._items:
            return default
        try:
            return self[key]
        except KeyError:  # only a value read the same as the key
            return default

    def __iter__(self) -> Iterator[str]:
        return iter(self._items[0::2])

    def __len__(self) -> int:
        return len(self._items) // 2

    def flat(self) -> tuple[str, ...]:
        """Key, value, key, value, ...: keys sorted (what ``items()`` gives, flat and
        without a lookup per key)."""
        return self._items

    def __repr__(self) -> str:
        return f"EventData({ {k: mask_msisdn(v) for k, v in self.items()}!r})"

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventData):
            return self._items == other._items
        if isinstance(other, Mapping):
            return dict(self) == dict(other)
        return NotImplemented


_EMPTY = EventData(())


def _event_data(data: Mapping[str, str] | None) -> EventData:
    return EventData.of(data)


@attrs.frozen
class Event:
    """One immutable fact in an order's history (C14).

    ``seq`` is the order's version after the event. ``actor`` is who caused it (a
    number, an SP id, ``"system"`` for timers, an agent id). ``text_in`` is the text
    received with it, ``text_out`` the text of the notice it sent. ``data`` holds the
    event's own facts as strings (the service snapshot, the code, deadlines, reasons).
    """

    order_id: str
    seq: int
    kind: EventKind
    at: pendulum.DateTime
    channel: Channel | None
    actor: str = attrs.field(repr=masked_repr)
    text_in: str | None = None
    text_out: str | None = None
    data: Mapping[str, str] = attrs.field(factory=dict, converter=_event_data)


@attrs.frozen
class Step:
    """What a decision asks for: one event of ``kind`` with its facts, and the notice
    it sends (rendered from the order as the event leaves it)."""

    kind: EventKind
    data: Mapping[str, str] = attrs.field(factory=dict)
    notice: NoticeKind | None = None
    #: what the notice says beyond the order's own fields (none for most)
    fields: Mapping[str, str] | None = None


class Pack(NamedTuple):
    """What a pack order keeps of its service (C12: frozen at the request) and where it
    is: valid ``validity_days`` days at a time, renewed at the end if ``auto_renew``,
    the current validity period ending at ``valid_until`` (None until activated)."""

    validity_days: int
    auto_renew: bool
    valid_until: pendulum.DateTime | None = None

    @property
    def length(self) -> dt.timedelta:
        """One validity period."""
        return dt.timedelta(days=self.validity_days)

    @property
    def valid_from(self) -> pendulum.DateTime | None:
        """When the current validity period began."""
        return None if self.valid_until is None else self.valid_until - self.length


@attrs.frozen
class Order:
    """A VAS order with the name and price frozen when it was requested (C12)."""

    id: str
    msisdn: str = attrs.field(repr=masked_repr)  # C14a: masked when shown
    service_code: str
    sp_id: str
    sp_name: str
    service_name: str
    kind: OfferKind
    price: Decimal
    period: Period
    access_code: str
    language: str
    requested_at: pendulum.DateTime
    request_channel: Channel
    state: OrderState = OrderState.REQUESTED
    version: int = 1
    code: str | None = None
    confirm_by: pendulum.DateTime | None = None
    activated_at: pendulum.DateTime | None = None
    consent_channel: Channel | None = None
    trial_ends_at: pendulum.DateTime | None = None
    remind_at: pendulum.DateTime | None = None
    reminded_at: pendulum.DateTime | None = None
    fee_notice_id: str | None = None
    ended_at: pendulum.DateTime | None = None
    end_reason: str | None = None
    #: the confirmation request's notice: a reply counts only once it went out (C1a)
    request_notice_id: str | None = None
    #: a pack's validity (None for every other order); ``remind_at`` and
    #: ``reminded_at`` are then the renewal notice's (IN3)
    pack: Pack | None = None
    #: CN25b: the months whose automatic charge was announced in time, as
    #: ``FIRST..LAST`` (``2026-06..2026-12``: an unbroken run), or None
    notified: str | None = None

    @property
    def is_live(self) -> bool:
        """Is the order in a live state (awaiting confirmation, active, in trial,
        reminded, paused)? Only live orders are listed by ``0000`` and can be cancelled."""
        return self.state in LIVE_STATES

    @property
    def due_at(self) -> pendulum.DateTime | None:
        """When the next timer of this order is due (expiry, reminder, trial end, a
        pack's renewal notice or the end of its validity)."""
        if self.state is OrderState.AWAITING_CONFIRMATION:  # AU1: a resend comes first
            return self.remind_at if self.remind_at is not None else self.confirm_by
        if self.state is OrderState.TRIAL:
            return self.remind_at if self.remind_at is not None else self.trial_ends_at
        if self.state is OrderState.TRIAL_EXPIRING:
            return self.trial_ends_at
        pack = self.pack
        if pack is None or pack.valid_until is None or not self.is_live:
            return None
        if self.state is OrderState.ACTIVE and self.remind_at is not None:
            return self.remind_at  # the renewal notice (IN3), before the renewal
        return pack.valid_until

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> Order:
        """Rebuild an order from its history alone."""
        order: Order | None = None
        for event in events:
            order = apply(order, event)
        if order is None:
            raise ValueError("an order needs at least its ORDER_REQUESTED event")
        return order


def _time(value: str | None) -> pendulum.DateTime | None:
    return parse_utc(value) if value is not None else None


def _pack(d: Mapping[str, str]) -> Pack | None:
    """The pack a request froze (its service's validity and renewal), if any."""
    days = d.get("validity_days")
    return None if days is None else Pack(int(days), d["auto_renew"] == "1")


def apply(order: Order | None, event: Event) -> Order:
    """The order after ``event``. The only place order fields change."""
    data = EventData.of(event.data)  # already one: the field converts
    return advance(order, event.order_id, event.seq, event.kind, event.at, event.channel, data)


def advance(
    order: Order | None,
    order_id: str,
    seq: int,
    kind: EventKind,
    at: pendulum.DateTime,
    channel: Channel | None,
    data: EventData,
) -> Order:
    """The order after an event with these fields (what :func:`apply` does, for a
    caller that makes the event only afterwards, with the text it sent)."""
    if order is None:
        if kind is not EventKind.ORDER_REQUESTED or seq != 1:
            raise ValueError(f"an order's history starts with ORDER_REQUESTED, got {kind}")
        # the request's dozen facts are all read: one dict made in C, not a search each
        flat = data.flat()
        d = dict(zip(flat[0::2], flat[1::2], strict=True))
        assert channel is not None
        return Order(
            id=order_id,
            msisdn=d["msisdn"],
            service_code=d["service_code"],
            sp_id=d["sp_id"],
            sp_name=d["sp_name"],
            service_name=d["service_name"],
            kind=OfferKind(d["kind"]),
            price=Decimal(d["price"]),
            period=Period(d["period"]),
            access_code=d["access_code"],
            language=d["language"],
            requested_at=at,
            request_channel=channel,
            pack=_pack(d),
        )
    if order_id != order.id or seq != order.version + 1:
        raise ValueError(
            f"event {kind} (order {order_id}, seq {seq}) does not follow "
            f"order {order.id} version {order.version}"
        )
    trigger = EVENT_TRIGGERS.get(kind)
    if trigger is None:
        if kind in FACTS:
            return attrs.evolve(order, version=seq)
        raise InvalidStateError(order.id, order.state, kind.value)
    state = TABLE.next_state(order.id, order.state, trigger)
    return _next(order, seq, kind, at, channel, data, state)


def _renewed(pack: Pack | None, d: EventData) -> Pack | None:
    """A pack whose validity period the event (re)starts: it ends when the event says."""
    return None if pack is None else pack._replace(valid_until=_time(d["valid_until"]))


#: the events that send the notice an order's ``remind_at`` was waiting for
_REMINDERS = frozenset(
    {EventKind.TRIAL_REMINDED, EventKind.RENEWAL_NOTIFIED, EventKind.CONFIRMATION_RESENT}
)


def _next(
    o: Order,
    seq: int,
    kind: EventKind,
    at: pendulum.DateTime,
    channel: Channel | None,
    d: EventData,
    state: OrderState,
) -> Order:
    """The order after an event that moves it to ``state``: every field written out,
    the event's facts where the event sets them, the order's own elsewhere (what the
    request froze, C12, never changes)."""
    asked = kind is EventKind.CONFIRMATION_REQUESTED
    converted = kind is EventKind.TRIAL_CONVERTED  # CT1: consented at the trial's start
    consented = converted or kind in (EventKind.CONSENT_GRANTED, EventKind.PURCHASE_CONFIRMED)
    started = kind is EventKind.TRIAL_STARTED
    reminded = kind in _REMINDERS
    # a pack's validity starts at its consent, and again at each renewal (IN3, IN7)
    renewed = o.pack is not None and (consented or kind is EventKind.ORDER_RENEWED)
    pack = _renewed(o.pack, d) if renewed else o.pack
    # a trial's reminder, a pack's renewal notice, a request's resend (AU1)
    sets = started or renewed or asked
    remind = _time(d.get("remind_at")) if sets else None if reminded else o.remind_at
    via = o.request_channel if converted else channel  # CT1: consent given at the request
    # CN25a: a trial that awaited its confirmation starts confirmed (but not activated)
    consented_to = consented or (started and o.state is OrderState.AWAITING_CONFIRMATION)
    fee = kind in (EventKind.ORDER_COMPLETED, EventKind.PURCHASE_CONFIRMED)
    ends = state not in LIVE_STATES
    # positional, in the fields' order (checked by tests/test_machine.py): matching
    # thirty keywords costs more than the rest of the fold
    return Order(
        o.id,  # id
        o.msisdn,  # msisdn
        d["service_code"] if converted else o.service_code,  # service_code
        o.sp_id,  # sp_id
        o.sp_name,  # sp_name
        d["service_name"] if converted else o.service_name,  # service_name
        OfferKind.SUBSCRIPTION if converted else o.kind,  # kind
        o.price,  # price
        o.period,  # period
        o.access_code,  # access_code
        o.language,  # language
        o.requested_at,  # requested_at
        o.request_channel,  # request_channel
        state,  # state
        seq,  # version
        d["code"] if asked else o.code,  # code
        _time(d["confirm_by"]) if asked else o.confirm_by,  # confirm_by
        at if consented else o.activated_at,  # activated_at
        via if consented_to else o.consent_channel,  # consent_channel
        _time(d["trial_ends_at"]) if started else o.trial_ends_at,  # trial_ends_at
        remind,  # remind_at
        at if reminded else o.reminded_at,  # reminded_at
        d["fee_notice_id"] if fee else o.fee_notice_id,  # fee_notice_id
        at if ends else o.ended_at,  # ended_at
        d.get("reason", kind.value) if ends else o.end_reason,  # end_reason
        d.get("notice_id") if asked else o.request_notice_id,  # request_notice_id
        pack,  # pack
        d.get("notified", o.notified) if consented or reminded else o.notified,  # notified
    )
