"""The value types every layer shares: a leaf module that imports none of the others.

``order``, ``policy``, the decision modules, ``sms`` and the stores all speak of
channels, reason codes, charges, SP violations and pick sessions; keeping those here
means none of them has to import another just to name a record.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import NamedTuple

import attrs
import pendulum

from vas_lifecycle.privacy import masked_repr, numbers_masked_repr

__all__ = [
    "FORCED",
    "Backlog",
    "BillingSummary",
    "Channel",
    "Charge",
    "ChargeDecision",
    "CommandCount",
    "DeliveryReport",
    "DeliveryStatus",
    "FeedDelivery",
    "FeedEvent",
    "FeedKind",
    "PickSession",
    "QueueDepth",
    "ReasonCode",
    "Refund",
    "RefundClaim",
    "RefundDue",
    "RequestKey",
    "SpKey",
    "SpViolation",
    "Spend",
]


class Channel(enum.StrEnum):
    """Where a request or a reply came from."""

    SMS = "sms"
    WAP = "wap"
    WEB = "web"
    USSD = "ussd"
    IVR = "ivr"
    HOTLINE = "hotline"  # the operator's 10086 agents
    SP_API = "sp_api"  # the SP's own platform: never operator-controlled
    SELF_SERVICE = "self_service"  # operator kiosk or app
    #: IN1: a consent gateway run by a third party, independent of the operator and the
    #: SP (India's CCG); its confirmations carry the gateway's attestation id
    CONSENT_GATEWAY = "consent_gateway"


class ReasonCode(enum.StrEnum):
    """Why a confirmation, a request or a charge was allowed or refused."""

    # charges (C11)
    ALLOWED = "allowed"
    NOT_ACTIVE = "not_active"
    IN_TRIAL = "in_trial"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    AFTER_CANCELLATION = "after_cancellation"
    NO_CONSENT = "no_consent"
    NO_FEE_NOTICE = "no_fee_notice"
    AMOUNT_MISMATCH = "amount_mismatch"
    DUPLICATE_PERIOD = "duplicate_period"
    ALREADY_CHARGED = "already_charged"
    PERIOD_NOT_STARTED = "period_not_started"
    PERIOD_BEFORE_ACTIVATION = "period_before_activation"
    SPEND_CAP = "spend_cap"  # UK7, EU1: above what one charge may be
    PAUSED = "paused"  # the subscription is paused: nothing is charged until it resumes
    RENEWAL_NOT_NOTIFIED = "renewal_not_notified"  # IN3: no renewal notice in time
    #: CN25b: the month's charge was not announced in time (nor covered by the consent)
    CHARGE_NOT_NOTIFIED = "charge_not_notified"
    # refunds (IN5, CN25c)
    NOTHING_TO_REFUND = "nothing_to_refund"  # no charge, or every charge refunded
    MORE_THAN_CHARGED = "more_than_charged"  # a refund above what is left of the charge
    # confirmations (C1, C3)
    NOT_OPERATOR_CHANNEL = "not_operator_channel"
    WINDOW_CLOSED = "window_closed"
    WRONG_CODE = "wrong_code"
    CODE_REQUIRED = "code_required"
    REQUEST_NOT_SENT = "request_not_sent"  # C1a: the confirmation request never went out
    NO_ATTESTATION = "no_attestation"  # IN1: the consent gateway's id of the consent missing
    # forced subscription (C13): booked against the SP
    SP_CONFIRMATION = "sp_confirmation"
    FOREIGN_NUMBER = "foreign_number"
    TOO_FAST = "too_fast"
    DAILY_LIMIT = "daily_limit"
    # requests
    DUPLICATE_ORDER = "duplicate_order"
    # an SP's platform reaching past its own services and orders (the SP API)
    NOT_YOUR_SERVICE = "not_your_service"
    NOT_YOUR_ORDER = "not_your_order"


#: The rule each reason comes from in the China preset (a policy's ``rule_ids`` may
#: name another for its regime: ``spend_cap`` is ``UK7`` in the UK).
REASON_RULES: Mapping[ReasonCode, str] = MappingProxyType(
    {
        **{
            reason: "C11"
            for reason in (
                ReasonCode.ALLOWED,
                ReasonCode.NOT_ACTIVE,
                ReasonCode.IN_TRIAL,
                ReasonCode.AWAITING_CONFIRMATION,
                ReasonCode.AFTER_CANCELLATION,
                ReasonCode.NO_CONSENT,
                ReasonCode.NO_FEE_NOTICE,
                ReasonCode.AMOUNT_MISMATCH,
                ReasonCode.DUPLICATE_PERIOD,
                ReasonCode.ALREADY_CHARGED,
                ReasonCode.PERIOD_NOT_STARTED,
                ReasonCode.PERIOD_BEFORE_ACTIVATION,
                ReasonCode.PAUSED,
            )
        },
        ReasonCode.SPEND_CAP: "EU1",
        ReasonCode.RENEWAL_NOT_NOTIFIED: "IN3",
        ReasonCode.CHARGE_NOT_NOTIFIED: "CN25b",
        ReasonCode.NOTHING_TO_REFUND: "IN5",
        ReasonCode.MORE_THAN_CHARGED: "IN5",
        ReasonCode.NOT_OPERATOR_CHANNEL: "C1",
        ReasonCode.WINDOW_CLOSED: "C1",
        ReasonCode.WRONG_CODE: "C3",
        ReasonCode.CODE_REQUIRED: "C3",
        ReasonCode.REQUEST_NOT_SENT: "C1",
        ReasonCode.NO_ATTESTATION: "IN1",
        ReasonCode.SP_CONFIRMATION: "C13",
        ReasonCode.FOREIGN_NUMBER: "C13",
        ReasonCode.TOO_FAST: "C13",
        ReasonCode.DAILY_LIMIT: "C13",
        ReasonCode.DUPLICATE_ORDER: "C13",
        ReasonCode.NOT_YOUR_SERVICE: "C13",
        ReasonCode.NOT_YOUR_ORDER: "C13",
    }
)

#: Refusals that are forced subscription and are booked against the SP (C13).
FORCED: frozenset[ReasonCode] = frozenset(
    {
        ReasonCode.SP_CONFIRMATION,
        ReasonCode.FOREIGN_NUMBER,
        ReasonCode.TOO_FAST,
        ReasonCode.DAILY_LIMIT,
    }
)


@attrs.frozen
class ChargeDecision:
    """The answer to "may I charge this?": always with a reason code."""

    allowed: bool
    reason: ReasonCode
    expected_amount: Decimal | None = None
    #: the id of the rule that decided (``C11``, ``UK7``, ``IN3``: the policy's)
    rule: str = ""

    def __bool__(self) -> bool:
        return self.allowed


@attrs.frozen
class Charge:
    """A charge the billing backend recorded after ``may_charge`` allowed it.

    ``order_version`` is the order's version when it was charged, so an audit can
    replay exactly what the order looked like at that instant.
    """

    key: str
    order_id: str
    amount: Decimal
    period_key: str
    period_start: pendulum.DateTime | None
    at: pendulum.DateTime
    order_version: int


@attrs.frozen
class Refund:
    """Money given back against one recorded charge (:meth:`Lifecycle.refund`):
    ``amount`` of the charge ``charge_key``, for ``reason``, idempotent by ``key``.
    The refunds of a charge never add up to more than it. ``order_version`` is the
    order's version after its ``refund_recorded`` event (the evidence)."""

    key: str
    order_id: str
    charge_key: str
    amount: Decimal
    reason: str
    at: pendulum.DateTime
    order_version: int


@attrs.frozen
class RefundClaim:
    """A claim that an order's charges be refunded under ``rule`` (IN5: a wrongful
    activation claimed, or an unsubscribe, inside the policy's refund window)."""

    order_id: str
    rule: str
    at: pendulum.DateTime


@attrs.frozen
class RefundDue:
    """What the rules say must still be refunded on one charge
    (:meth:`Lifecycle.refunds_due`): ``amount`` of ``charge_key``, under ``rule``,
    claimed at ``claimed_at``."""

    order_id: str
    msisdn: str = attrs.field(repr=masked_repr)
    charge_key: str
    amount: Decimal
    rule: str
    claimed_at: pendulum.DateTime


@attrs.frozen
class Spend:
    """What a subscriber spent in a calendar period of the policy's time zone (local
    days ``first_day`` up to ``end_day``, excluded), on one access code or on all
    (``access_code`` None): the charges recorded in it and their sum
    (:meth:`Lifecycle.spend`)."""

    msisdn: str = attrs.field(repr=masked_repr)
    access_code: str | None
    period_key: str
    first_day: str
    end_day: str
    amount: Decimal
    charges: int


@attrs.frozen
class BillingSummary:
    """What a billing pass did (:meth:`Lifecycle.billing_run`), or so far: ``charged``
    orders for ``amount`` in all, and the orders it looked at and did not charge,
    counted by C11's reason (``in_trial``, ``period_before_activation``, ...)."""

    period_key: str
    charged: int = 0
    amount: Decimal = Decimal(0)
    refused: Mapping[ReasonCode, int] = attrs.field(factory=dict)

    def __add__(self, other: BillingSummary) -> BillingSummary:
        refused = dict(self.refused)
        for reason, count in other.refused.items():
            refused[reason] = refused.get(reason, 0) + count
        return BillingSummary(
            self.period_key, self.charged + other.charged, self.amount + other.amount, refused
        )


@attrs.frozen
class SpViolation:
    """Evidence of forced subscription by an SP (C13)."""

    id: str
    sp_id: str
    msisdn: str = attrs.field(repr=masked_repr)
    order_id: str | None
    reason: ReasonCode
    at: pendulum.DateTime
    channel: Channel | None
    evidence: str = attrs.field(repr=numbers_masked_repr)

    @property
    def rule(self) -> str:
        """The rule the SP broke (forced subscription, C13, in every regime)."""
        return REASON_RULES.get(self.reason, "C13")


@attrs.frozen
class RequestKey:
    """A caller's idempotency key for an order request, remembered with what the
    request did, so a retry with the same key answers the same without doing it again.

    ``scope`` is the SP whose platform asked (keys of different SPs never meet), or
    ``""`` for the operator's own callers; ``fingerprint`` is a digest of the request's
    arguments (the same key with other arguments is refused); the request made the
    order ``order_id`` and left it at ``version``, or was refused without an order for
    ``refusal`` (an SP asking for another SP's service)."""

    scope: str
    key: str
    fingerprint: str
    order_id: str | None
    version: int
    refusal: ReasonCode | None
    at: pendulum.DateTime


@attrs.frozen
class PickSession:
    """The numbered list sent after ``0000`` (C8): picks refer to it, as it was sent."""

    msisdn: str = attrs.field(repr=masked_repr)
    order_ids: tuple[str, ...]
    sent_at: pendulum.DateTime
    expires_at: pendulum.DateTime


class DeliveryStatus(enum.StrEnum):
    """What an SMS gateway's delivery report says became of a notice."""

    DELIVERED = "delivered"  # on the handset
    FAILED = "failed"  # the network gave up: final
    BUFFERED = "buffered"  # queued in the network, not yet on the handset
    SUBMITTED = "submitted"  # accepted by the SMS centre
    REJECTED = "rejected"  # refused by the SMS centre: final

    @property
    def is_final_failure(self) -> bool:
        """The notice will not arrive: the outbox sends it again."""
        return self in (DeliveryStatus.FAILED, DeliveryStatus.REJECTED)


@attrs.frozen
class DeliveryReport:
    """A gateway's delivery report about one notice (``detail`` is the gateway's own
    words, cleaned and cut)."""

    id: str
    notice_id: str
    status: DeliveryStatus
    at: pendulum.DateTime
    detail: str = attrs.field(repr=numbers_masked_repr)


@attrs.frozen
class SpKey:
    """An SP's API key as stored: its public id and the SHA-256 digest of its secret,
    never the secret itself."""

    key_id: str
    sp_id: str
    digest: str = attrs.field(repr=False)
    created_at: pendulum.DateTime
    revoked_at: pendulum.DateTime | None = None


class FeedKind(enum.StrEnum):
    """What a billing backend hears about an order: its state changes and its charges."""

    ACTIVATED = "activated"  # a subscription confirmed by the subscriber (C1)
    TRIAL_STARTED = "trial_started"  # a free trial began (C6)
    TRIAL_ENDED = "trial_ended"  # a trial ended by itself (C6): never charged
    COMPLETED = "completed"  # an on-demand purchase went through (C5, C5a)
    CANCELLED = "cancelled"  # the subscriber left, or an operator cancelled (C7)
    EXPIRED = "expired"  # the confirmation window closed unanswered (C1)
    DECLINED = "declined"  # the subscriber said no
    REJECTED = "rejected"  # refused at the request (C13)
    CHARGE_RECORDED = "charge_recorded"  # a charge C11 allowed was recorded
    PAUSED = "paused"  # the subscriber or the operator paused a subscription: no charges
    RESUMED = "resumed"  # a paused subscription runs (and is charged) again
    REFUND_RECORDED = "refund_recorded"  # money given back against a recorded charge
    RENEWED = "renewed"  # a pack's next validity period began (charge it)
    LAPSED = "lapsed"  # a pack's validity ended without a renewal: stop the service
    CONVERTED = "converted"  # CT1: a trial became a paid subscription (charge it)
    #: a text that looked like a wish to leave matched no keyword: review it (US2)
    OPT_OUT_FLAGGED = "opt_out_flagged"


@attrs.frozen
class FeedEvent:
    """One entry of the event feed.

    ``id`` is unique and stable (the same event delivered again has the same id): a
    consumer that remembers the ids it has handled is idempotent. ``seq`` is the
    order's version after the change (a charge: the version it was taken at); one
    order's events reach a subscriber in commit order. ``state`` is the order's state
    after the change. ``data`` holds the kind's facts: ``reason`` (and ``from_state``
    for a cancellation) for an ending, ``key``, ``amount`` and ``period_key`` for a
    charge, ``channel`` where a change came from; ``price`` and ``period`` of the
    service always.
    """

    id: str
    kind: FeedKind
    order_id: str
    seq: int
    at: pendulum.DateTime
    msisdn: str = attrs.field(repr=masked_repr)
    service_code: str
    sp_id: str
    state: str
    data: Mapping[str, str] = attrs.field(factory=dict, repr=False)


@attrs.frozen
class FeedDelivery:
    """A feed event owed to one subscriber, with its delivery bookkeeping."""

    subscriber: str
    event: FeedEvent
    attempts: int
    last_error: str | None = None

    @property
    def id(self) -> str:
        """The event's id (what the subscriber's queue names it by)."""
        return self.event.id


@attrs.frozen
class QueueDepth:
    """What a delivery queue (the outbox, or one feed subscriber's queue) still owes:
    ``waiting`` items to hand over (due now or later, retries included), ``parked``
    ones given up on after too many failed attempts, and when the oldest waiting one
    was made (None: nothing waits)."""

    waiting: int
    parked: int
    oldest: pendulum.DateTime | None = None


@attrs.frozen
class Backlog:
    """What the store still owes at ``at``, read in one transaction: the outbox's
    notices, each feed subscriber's events (by name), and when the next timer or
    notice attempt is due (None: nothing waits), which may already have passed."""

    at: pendulum.DateTime
    outbox: QueueDepth
    feed: Mapping[str, QueueDepth]
    next_due: pendulum.DateTime | None


class CommandCount(NamedTuple):
    """One kind of count in :meth:`~vas_lifecycle.Lifecycle.command_counts`: which
    ``command`` (its handler's name, or ``may_charge`` for C11's answers), what it came to
    (``outcome``: ``ok``, ``duplicate``, ``refused``, ``rejected`` or ``failed``) and
    why (``reason``: the reason code of a refusal, the error's type name of a
    rejection or failure, ``""`` otherwise)."""

    command: str
    outcome: str
    reason: str = ""
