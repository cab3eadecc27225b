"""Checks of the facade's arguments: a bad one is refused up front with
:class:`~vas_lifecycle.errors.InvalidArgumentError`, before anything is read or written."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

import pendulum

from vas_lifecycle import charging
from vas_lifecycle.catalog import Catalog, Period, Service
from vas_lifecycle.charging import BillingPeriod
from vas_lifecycle.clock import as_utc, zone
from vas_lifecycle.errors import InvalidAmountError, InvalidArgumentError, InvalidMsisdnError
from vas_lifecycle.notify import DeliveryRules
from vas_lifecycle.policy import Policy
from vas_lifecycle.records import Channel, DeliveryStatus
from vas_lifecycle.regimes import Regime
from vas_lifecycle.store.base import Store
from vas_lifecycle.values import clean_text, to_amount

__all__ = [
    "ACTOR_LIMIT",
    "KEY_LIMIT",
    "PERIOD_YEARS",
    "channel",
    "charge_key",
    "check_ports",
    "code",
    "count",
    "ids",
    "instant",
    "language",
    "period_start",
    "text",
]

#: The longest actor (an agent's or a system's id) and charge key kept.
ACTOR_LIMIT = 100
KEY_LIMIT = 200
#: The years a billing period may start in: outside them a date is a mistake, and
#: period arithmetic near year 1 or 9999 overflows.
PERIOD_YEARS = (1970, 9000)


def check_ports(
    catalog: object,
    policy: object,
    store: object,
    rng: object,
    delivery: object,
    clock: object,
    notifier: object,
    ids: Callable[[], str] | None,
) -> None:
    """The facade's collaborators have the types and methods it needs."""
    if not isinstance(catalog, Catalog):
        raise InvalidArgumentError(f"catalog must be a Catalog, got {type(catalog).__name__}")
    if policy is not None and not isinstance(policy, Policy | Regime):
        raise InvalidArgumentError(
            f"policy must be a Policy or a Regime, got {type(policy).__name__}"
        )
    for name, value, needs in (
        ("store", store, Store),
        ("rng", rng, random.Random),
        ("delivery", delivery, DeliveryRules),
    ):
        if value is not None and not isinstance(value, needs):
            raise InvalidArgumentError(
                f"{name} must be a {needs.__name__}, got {type(value).__name__}"
            )
    for name, port, method in (("clock", clock, "now"), ("notifier", notifier, "send")):
        if port is not None and not callable(getattr(port, method, None)):
            raise InvalidArgumentError(f"{name} needs a {method}() method")
    if ids is not None and not callable(ids):
        raise InvalidArgumentError("ids must be a function that returns a new id")


def regime(policy: Policy | Regime | None, catalog: Catalog) -> Regime:
    """The regime a Lifecycle runs under (a policy is one in force at every instant;
    the China preset by default), each version checked against the catalog."""
    if isinstance(policy, Regime):
        found = policy
    else:
        found = Regime.fixed(policy if policy is not None else Policy.china_mobile())
    for _, _, version in found.dated:
        version.check_catalog(catalog)
    return found


def count(value: object, name: str) -> int:
    """A positive whole number argument (batch sizes, limits, retries)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgumentError(f"{name} must be a whole number of at least 1, got {value!r}")
    return value


def whole(value: object, name: str) -> int:
    """A whole number argument that may be 0 (how many threads)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidArgumentError(f"{name} must be a whole number of at least 0, got {value!r}")
    return value


def flag(value: object, name: str) -> bool:
    """A yes-or-no argument: True or False, nothing else (``"no"`` is not False)."""
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be True or False, got {value!r}")
    return value


def destination(value: object) -> str:
    """The number an inbound text was sent to (the operator's, or an access code)."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"to must be the number the text was sent to, got {value!r}")
    return value


#: one inbound text of a burst: ``(msisdn, text, to)`` or ``(msisdn, text, to,
#: message_id)``, or a mapping with those keys (``message_id`` optional)
InboundText = tuple[object, ...] | Mapping[str, object]
_TEXT_KEYS = {"msisdn", "text", "to", "message_id"}


def inbound_texts(
    items: object, msisdn: Callable[[object], str]
) -> list[tuple[str, object, object, object]]:
    """A burst's texts as ``(number, text, to, message_id)``, the numbers read by
    ``msisdn``; a malformed item or number is refused, naming its position, before
    any text is handled."""
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise InvalidArgumentError(f"texts must be a sequence of texts, got {type(items).__name__}")
    texts: list[tuple[str, object, object, object]] = []
    for n, item in enumerate(items):
        if isinstance(item, Mapping) and {"msisdn", "text", "to"} <= set(item) <= _TEXT_KEYS:
            fields = (item["msisdn"], item["text"], item["to"], item.get("message_id"))
        elif isinstance(item, tuple) and len(item) in (3, 4):
            fields = (*item, None)[:4]
        else:
            raise InvalidArgumentError(
                f"text {n} must be (msisdn, text, to[, message_id]) or a mapping with those "
                f"keys, got {type(item).__name__}"
            )
        try:
            number = msisdn(fields[0])
        except InvalidMsisdnError as err:
            err.args = (f"text {n}: {err}",)
            raise
        texts.append((number, *fields[1:]))
    return texts


def channel(value: object) -> Channel:
    try:
        return Channel(str(value))
    except ValueError as err:
        choices = ", ".join(c.value for c in Channel)
        raise InvalidArgumentError(f"unknown channel {value!r} (one of {choices})") from err


def conversion(
    consent: object, service: Service, channel: Channel, catalog: Catalog, policy: Policy
) -> Service | None:
    """CT1: the subscription a trial converts to, when the subscriber consented to the
    conversion at the request (only where the policy lets trials convert, for a trial
    sold with one, and never on the SP's word)."""
    if consent is False or consent is None:
        return None
    if consent is not True:
        raise InvalidArgumentError("conversion_consent must be True or False")
    if not policy.trial_converts or service.converts_to is None:
        raise InvalidArgumentError(f"{service.code} does not convert to a paid subscription")
    if channel is Channel.SP_API:
        raise InvalidArgumentError(
            "consent to a conversion is the subscriber's: an SP's platform cannot give it"
        )
    return catalog.get(service.converts_to)


def subscriber_channel(value: object, action: str) -> Channel:
    """A channel for an action only the subscriber or the operator may take (pausing,
    resuming): any but the SP's platform."""
    chan = channel(value)
    if chan is Channel.SP_API:
        raise InvalidArgumentError(
            f"an SP's platform cannot {action} an order: only the subscriber or the operator can"
        )
    return chan


def code(value: object) -> str | None:
    """A confirmation code as quoted: digits, or None."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        return value.strip()
    raise InvalidArgumentError(f"a confirmation code is digits, got {value!r}")


def text(value: object, name: str, limit: int) -> str | None:
    """A caller's free text (evidence, an actor), cleaned the way received texts are."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a string, got {type(value).__name__}")
    return clean_text(value, limit)


#: how long a consent gateway's attestation id may be
ATTESTATION_LIMIT = 128


def attestation(value: object, channel: Channel) -> str | None:
    """A consent gateway's attestation id (IN1), cleaned; meaningless (and refused)
    with any other channel. Its absence on a gateway's confirmation is the consent
    rules' to refuse (``no_attestation``)."""
    if channel is not Channel.CONSENT_GATEWAY and value is not None:
        raise InvalidArgumentError("an attestation only comes with the consent gateway")
    cleaned = text(value, "attestation", ATTESTATION_LIMIT)
    return (cleaned.strip() or None) if cleaned is not None else None


def said(
    actor: object, received: object, actor_limit: int, text_limit: int
) -> tuple[str | None, str | None]:
    """Who acts (an agent, a system) and the text received with a command, each
    cleaned and cut as evidence."""
    return text(actor, "actor", actor_limit), text(received, "text", text_limit)


def charge_key(value: object, what: str = "charge") -> str:
    """A charge's (or a refund's) idempotency key, which must not change when stored."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"a {what} needs a non-empty idempotency key")
    if clean_text(value, KEY_LIMIT) != value:
        raise InvalidArgumentError(
            f"a {what} key is at most {KEY_LIMIT} characters, with no control characters "
            "or lone surrogates"
        )
    return value


def refund_amount(value: object) -> Decimal | None:
    """A refund's amount: None (all that is left), or a positive amount."""
    if value is None:
        return None
    amount = to_amount(value)
    if amount == 0:
        raise InvalidAmountError(value, "a refund gives back more than nothing")
    return amount


def required_text(value: object, name: str, limit: int) -> str:
    """A caller's free text that must say something (a refund's reason)."""
    cleaned = text(value, name, limit)
    if not cleaned or not cleaned.strip():
        raise InvalidArgumentError(f"{name} must be a non-empty string")
    return cleaned


def period_start(value: object) -> pendulum.DateTime | None:
    """A billing period's start as UTC, or None; refused clearly when out of range."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise InvalidArgumentError(f"period_start must be a datetime, got {type(value).__name__}")
    try:
        start = as_utc(value)
    except OverflowError as err:
        raise InvalidArgumentError(f"period_start {value.isoformat()} is out of range") from err
    low, high = PERIOD_YEARS
    if not low <= start.year <= high:
        raise InvalidArgumentError(
            f"period_start {value.isoformat()} is outside the years {low} to {high}"
        )
    return start


def ids(value: object, name: str = "notice_ids") -> list[str] | None:
    """A list of ids (of notices, of feed events), or None for all."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidArgumentError(f"{name} must be a list of ids")
    found = list(value)
    if not all(isinstance(n, str) for n in found):
        raise InvalidArgumentError(f"{name} must be a list of ids")
    return found


def language(value: object, policy: Policy) -> str:
    """A language the policy has a pack for; None means the policy's own."""
    if value is None:
        return policy.language
    if not isinstance(value, str) or value not in policy.templates:
        raise InvalidArgumentError(f"no language pack for {value!r}")
    return value


def calendar_period(value: object) -> Period:
    """A calendar period: ``"month"``, ``"week"`` or ``"day"``."""
    if isinstance(value, str) and value in (Period.MONTH, Period.WEEK, Period.DAY):
        return Period(value)
    raise InvalidArgumentError(f"period must be month, week or day, got {value!r}")


def billing_period(value: object, period: object, policy: Policy) -> BillingPeriod:
    """The billing period starting at ``value``: a date (its midnight in the policy's
    time zone) or an aware datetime, which must start a ``period`` (a month's first
    day, a Monday, a day) in that zone."""
    every = calendar_period(period)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=zone(policy.timezone))
    start = period_start(value)
    found = None if start is None else charging.billing_period(every, start, policy)
    if found is None:
        raise InvalidArgumentError(
            f"period_start {value!r} is not the start of a {every} in {policy.timezone}"
        )
    return found


def instant(value: object, name: str) -> pendulum.DateTime:
    """A point in time, as UTC."""
    if not isinstance(value, dt.datetime):
        raise InvalidArgumentError(f"{name} must be a datetime, got {type(value).__name__}")
    return as_utc(value)


#: The longest gateway message id or notice id taken (Kannel's ids are 36-character
#: UUIDs; ours are at most 64 characters).
ID_LIMIT = 64


_IDENTIFIER = re.compile(rf"[A-Za-z0-9._:@-]{{1,{ID_LIMIT}}}")


def identifier(value: object, name: str) -> str:
    """An id from outside (a gateway's message id, a notice id): 1 to ``ID_LIMIT``
    letters, digits and ``. _ : @ -``, taken as it is or refused, never altered."""
    wanted = f"{name} must be 1 to {ID_LIMIT} letters, digits, '.', '_', ':', '@' or '-'"
    return _matched(value, _IDENTIFIER, wanted)


#: the longest idempotency key a caller may give (what Stripe's API takes)
KEY_LIMIT = 255
_KEY = re.compile(rf"[\x21-\x7e]{{1,{KEY_LIMIT}}}")


def idempotency_key(value: object) -> str:
    """A caller's idempotency key (an ``Idempotency-Key`` header): 1 to ``KEY_LIMIT``
    printable ASCII characters without spaces, a UUID usually; taken as it is."""
    wanted = f"an idempotency key is 1 to {KEY_LIMIT} printable ASCII characters without spaces"
    return _matched(value, _KEY, wanted)


def _matched(value: object, pattern: re.Pattern[str], wanted: str) -> str:
    """``value``, a string that ``pattern`` matches whole; else an error that says what
    was ``wanted`` and shows (the start of) what came."""
    if isinstance(value, str) and pattern.fullmatch(value):
        return value
    shown = value[:80] if isinstance(value, str) else type(value).__name__
    raise InvalidArgumentError(f"{wanted}, got {shown!r}")


def delivery_status(value: object) -> DeliveryStatus:
    """A delivery status, by member or by its value."""
    for status in DeliveryStatus:
        if isinstance(value, str) and value == status.value:
            return status
    known = ", ".join(s.value for s in DeliveryStatus)
    raise InvalidArgumentError(f"a delivery status is one of {known}, got {value!r}")
