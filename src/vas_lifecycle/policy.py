"""Rule parameters and regime presets, validated when built.

A regime is data, not a code path: :meth:`Policy.china_mobile` is the default
preset, and every parameter marked [practice] in docs/specification.md is a field here with that
default. An impossible combination is refused with :class:`PolicyError` when the policy
is built (or, for checks that need the catalog, when a ``Lifecycle`` is built).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs
import pendulum

from vas_lifecycle.catalog import Catalog, OfferKind, Period, Service
from vas_lifecycle.clock import SystemClock, as_utc, local_time, zone
from vas_lifecycle.errors import PolicyError
from vas_lifecycle.notices import (
    ENGLISH,
    NOTICE_RULES,
    SIMPLIFIED_CHINESE,
    NoticeKind,
    TemplateSet,
)
from vas_lifecycle.records import REASON_RULES, Channel, ReasonCode
from vas_lifecycle.values import fold_width, upper_ascii

if TYPE_CHECKING:
    from vas_lifecycle.regimes import Regime

__all__ = ["Channel", "FirstPeriodRule", "Policy", "UnsubscribeScope"]


class FirstPeriodRule(enum.StrEnum):
    """How the first period of a monthly subscription is charged (C15)."""

    FULL = "full"
    #: China Mobile package rule: 15 days or more left in the month = full, fewer = half.
    HALF_IF_LATE = "half_if_late"


class UnsubscribeScope(enum.StrEnum):
    """What a bare unsubscribe word sent to a service's access code ends."""

    #: every live order of the sender on that access code (C9 ``TD``; US, Australia)
    ACCESS_CODE = "access_code"
    #: the sender's latest live order on that access code (UK1: ``STOP`` ends that
    #: service; ``all_here_words`` end the rest)
    LATEST = "latest"
    #: every live order of the sender with the SP behind that access code, on any of
    #: its numbers (US4: revoking consent revokes it for all of that sender's programs)
    SP = "sp"


def _cap(instance: object, attribute: attrs.Attribute[Decimal | None], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise PolicyError(
            f"{attribute.name} must be a positive Decimal amount or None, got {value!r}"
        )


def _calendar_period(value: Any) -> Any:
    """``"week"`` and ``"month"`` as the Period they name; anything else as it is (the
    validator refuses it)."""
    return Period(value) if value in ("week", "month") else value


def _cap_period(instance: object, attribute: attrs.Attribute[Period], value: object) -> None:
    if value not in (Period.WEEK, Period.MONTH):
        raise PolicyError(f"{attribute.name} must be Period.WEEK or Period.MONTH, got {value!r}")


def _positive(instance: object, attribute: attrs.Attribute[dt.timedelta], value: object) -> None:
    if not isinstance(value, dt.timedelta):
        raise PolicyError(f"{attribute.name} must be a duration, got {type(value).__name__}")
    if value <= dt.timedelta(0):
        raise PolicyError(f"{attribute.name} must be longer than zero, got {value}")


def _maybe_positive(
    instance: object, attribute: attrs.Attribute[dt.timedelta | None], value: object
) -> None:
    if value is not None:
        _positive(instance, attribute, value)  # type: ignore[arg-type]


def _pair(value: object, first: Callable[[object], bool], second: Callable[[object], bool]) -> bool:
    """Is ``value`` a pair whose items pass ``first`` and ``second``?"""
    return isinstance(value, tuple) and len(value) == 2 and first(value[0]) and second(value[1])


def _lead(value: object) -> bool:
    return isinstance(value, dt.timedelta) and value > dt.timedelta(0)


def _days(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _resend(
    instance: object, attribute: object, value: tuple[dt.timedelta, dt.timedelta] | None
) -> None:
    if value is not None and not (_pair(value, _lead, _lead) and value[0] <= value[1]):
        raise PolicyError(
            f"confirmation_resend must be (after, at the latest), 0 < after <= latest, got {value!r}"
        )


def _long_pack_notice(
    instance: object, attribute: object, value: tuple[int, dt.timedelta] | None
) -> None:
    if value is not None and not _pair(value, _days, _lead):
        raise PolicyError(f"long_pack_notice must be (days >= 1, a positive lead), got {value!r}")


def _divides_year(instance: object, attribute: object, value: object) -> None:
    if value not in (1, 2, 3, 4, 6, 12) or isinstance(value, bool):
        raise PolicyError(
            f"reminder_months must divide the year (1, 2, 3, 4, 6 or 12), got {value!r}"
        )


def _words(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        raise PolicyError("a keyword set must be a collection of words, not one string")
    words = frozenset(upper_ascii(fold_width(w)).strip() for w in value)
    if not words or "" in words:
        raise PolicyError("a keyword set needs at least one non-empty word")
    return words


def _optional_words(value: Iterable[str]) -> frozenset[str]:
    return _words(value) if value else frozenset()


def _channels(value: Iterable[Channel | str]) -> frozenset[Channel]:
    try:
        return frozenset(Channel(c) for c in value)
    except ValueError as err:
        raise PolicyError(f"unknown channel in {value!r}") from err


def _templates(
    value: Mapping[str, TemplateSet] | Iterable[TemplateSet],
) -> Mapping[str, TemplateSet]:
    items = list(value.values()) if isinstance(value, Mapping) else list(value)
    packs: dict[str, TemplateSet] = {}
    for pack in items:
        if not isinstance(pack, TemplateSet):
            raise PolicyError(f"expected a TemplateSet, got {type(pack).__name__}")
        packs[pack.language] = pack
    return MappingProxyType(packs)


def _windows(value: object) -> Mapping[Channel, dt.timedelta]:
    """Reply windows by channel: each a channel and a positive duration."""
    if not isinstance(value, Mapping):
        raise PolicyError("confirmation_windows maps channels to durations")
    windows = {}
    for channel, window in value.items():
        try:
            key = Channel(channel)
        except ValueError:
            raise PolicyError(f"confirmation_windows: {channel!r} is not a channel") from None
        if not isinstance(window, dt.timedelta) or window <= dt.timedelta(0):
            raise PolicyError(f"confirmation_windows[{key}] must be a positive duration")
        windows[key] = window
    return MappingProxyType(windows)


def _rule_ids(value: object) -> Mapping[NoticeKind | ReasonCode, str]:
    if not isinstance(value, Mapping):
        raise PolicyError("rule_ids maps notice kinds and reason codes to rule ids")
    found: dict[NoticeKind | ReasonCode, str] = {}
    for key, rule in value.items():
        if isinstance(key, NoticeKind | ReasonCode):
            what: NoticeKind | ReasonCode = key
        elif key in NoticeKind.__members__.values():
            what = NoticeKind(key)
        elif key in ReasonCode.__members__.values():
            what = ReasonCode(key)
        else:
            raise PolicyError(f"rule_ids: {key!r} is neither a notice kind nor a reason code")
        if not isinstance(rule, str) or not rule.strip() or len(rule) > 16:
            raise PolicyError(f"rule_ids: the rule of {key!r} must be a short id, got {rule!r}")
        found[what] = rule
    return MappingProxyType(found)


def _quiet_hours(instance: object, attribute: object, value: object) -> None:
    if value is None:
        return
    start, end = value if isinstance(value, tuple) and len(value) == 2 else (None, None)
    if not (isinstance(start, dt.time) and isinstance(end, dt.time)) or start == end:
        raise PolicyError("quiet_hours is (start, end): two different datetime.time, or None")
    if start.tzinfo is not None or end.tzinfo is not None:
        raise PolicyError("quiet_hours are local times of the policy's time zone, without tzinfo")


@attrs.frozen(kw_only=True)
class Policy:
    """Every parameter of the consent rules. Build one with a preset and ``attrs.evolve``."""

    name: str = "custom"
    country_code: str = "86"
    timezone: str = "Asia/Shanghai"
    currency: str = "CNY"
    language: str = "zh-CN"
    operator_number: str = "10086"
    # C1
    confirmation_window: dt.timedelta = attrs.field(
        default=dt.timedelta(hours=24), validator=_positive
    )
    #: IN1: the reply window of a request made on a channel (a USSD session is short),
    #: by channel; a channel not named has ``confirmation_window``
    confirmation_windows: Mapping[Channel, dt.timedelta] = attrs.field(
        factory=dict, converter=_windows
    )
    confirm_words: frozenset[str] = attrs.field(
        default=frozenset({"是", "Y", "YES"}), converter=_words
    )
    decline_words: frozenset[str] = attrs.field(
        default=frozenset({"否", "N", "NO"}), converter=_words
    )
    operator_channels: frozenset[Channel] = attrs.field(
        default=frozenset(
            {
                Channel.SMS,
                Channel.USSD,
                Channel.HOTLINE,
                Channel.SELF_SERVICE,
                Channel.WEB,
                Channel.WAP,
            }
        ),
        converter=_channels,
    )
    #: AU1: an unanswered confirmation request is sent once more ``after`` it went
    #: out, but never later than ``latest`` after it, as ``(after, latest)`` (C637:
    #: one resend within 1 h); None: never resent
    confirmation_resend: tuple[dt.timedelta, dt.timedelta] | None = attrs.field(
        default=None, validator=_resend
    )
    # C3
    code_digits: int = 4
    # C6
    trial_reminder_lead: dt.timedelta = attrs.field(
        default=dt.timedelta(hours=48), validator=_positive
    )
    #: a trial not longer than the lead is reminded at its midpoint; False refuses such trials
    remind_short_trials_at_midpoint: bool = True
    #: CN25a: a trial is asked for like a subscription (a confirmation request, C1)
    #: and starts only when the subscriber confirms it; False: it starts at the request
    trials_need_confirmation: bool = False
    # C16: quiet hours, local time (start, end; end before start spans midnight), or None
    quiet_hours: tuple[dt.time, dt.time] | None = attrs.field(
        default=(dt.time(22), dt.time(8)), validator=_quiet_hours
    )
    #: notices the platform sends on its own schedule, never in answer to anything just
    #: done: kept out of the quiet hours (a reminder moved before them, a trial's end
    #: notice held until they end); replies and confirmations of an action never wait
    quiet_kinds: frozenset[NoticeKind] = frozenset(
        {
            NoticeKind.TRIAL_REMINDER,
            NoticeKind.TRIAL_ENDED,
            NoticeKind.SPEND_REMINDER,
            NoticeKind.RENEWAL_NOTICE,
            NoticeKind.LAPSED,
            NoticeKind.MONTHLY_REMINDER,
        }
    )
    #: notices about what is still to come: one not yet sent when newer news of its
    #: order is made (the trial was cancelled, or ended) is withdrawn, never sent late
    stale_kinds: frozenset[NoticeKind] = frozenset(
        {NoticeKind.TRIAL_REMINDER, NoticeKind.RENEWAL_NOTICE}
    )
    # C8: 0000 to the operator number lists live orders; numbers pick which to cancel
    pick_window: dt.timedelta = attrs.field(default=dt.timedelta(hours=2), validator=_positive)
    list_words: frozenset[str] = attrs.field(default=frozenset({"0000", "00000"}), converter=_words)
    #: words that cancel every live order at once (none in the China preset)
    cancel_all_words: frozenset[str] = attrs.field(default=frozenset(), converter=_optional_words)
    #: characters that separate picked numbers (after full-width folding)
    pick_separators: str = "，,、 ;；"
    # C9: TD / QX to a service's access code
    unsubscribe_words: frozenset[str] = attrs.field(
        default=frozenset({"TD", "QX", "退订"}), converter=_words
    )
    #: UK1, C9: what a bare unsubscribe word to an access code ends
    unsubscribe_scope: UnsubscribeScope = attrs.field(
        default=UnsubscribeScope.ACCESS_CODE, converter=UnsubscribeScope
    )
    #: UK1: words that end every live order of the sender on the access code they are
    #: sent to (``STOP ALL``), never those of other numbers (none in China)
    all_here_words: frozenset[str] = attrs.field(default=frozenset(), converter=_optional_words)
    #: IN4: an empty text to the operator number lists the live orders (as a list word)
    blank_lists: bool = False
    #: US2: when one text ends several services, one text confirms them all (else one
    #: confirmation per service)
    one_opt_out_text: bool = False
    #: IN4: a text that ends services is first acknowledged (received), then its
    #: confirmation follows (done)
    acknowledge_opt_out: bool = False
    #: words that, found inside a text no keyword matches, make it look like a wish to
    #: leave: the text is flagged for review on the live orders it may concern (an
    #: ``opt_out_flagged`` event), never ignored silently (none in China)
    revocation_hints: frozenset[str] = attrs.field(default=frozenset(), converter=_optional_words)
    # C10
    help_words: frozenset[str] = attrs.field(
        default=frozenset({"帮助", "HELP", "?", "？"}), converter=_words
    )
    # C13
    fastest_human_reply: dt.timedelta = attrs.field(default=dt.timedelta(seconds=2))
    sp_daily_request_limit: int = 3
    # C14
    retention_months: int = 5
    # C17: once each calendar month (of the time zone), a free reminder to every
    # subscriber with live paid subscriptions activated before the month began
    monthly_reminder: bool = True
    #: C17, UK4: how many calendar months one reminder period is (1: each month; 12:
    #: each calendar year), counted from January; must divide 12
    reminder_months: int = attrs.field(default=1, validator=_divides_year)
    # C15
    first_period: FirstPeriodRule = attrs.field(
        default=FirstPeriodRule.FULL, converter=FirstPeriodRule
    )
    # UK3: a receipt (NoticeKind.RECEIPT) after every recorded charge
    receipt_after_charge: bool = False
    # UK7, EU1: the most one charge may be (None: no cap); a service priced above it
    # is refused, and so is a charge above it (reason spend_cap)
    per_charge_cap: Decimal | None = attrs.field(default=None, validator=_cap)
    # UK7, EU1: the most a subscriber may be charged in all in a calendar
    # ``spend_cap_period`` (week or month) of the policy's time zone (None: no cap)
    spend_cap: Decimal | None = attrs.field(default=None, validator=_cap)
    spend_cap_period: Period = attrs.field(
        default=Period.MONTH, converter=_calendar_period, validator=_cap_period
    )
    # UK2, AU2: a spend reminder each time a subscriber's spend on one access code in
    # a calendar month passes a multiple of this amount (None: no reminders)
    spend_reminder_every: Decimal | None = attrs.field(default=None, validator=_cap)
    # UK2, AU2: a spend reminder at least this often to a subscriber with a paid
    # subscription live on an access code, even under the step (None: none)
    spend_reminder_interval: dt.timedelta | None = attrs.field(
        default=None, validator=_maybe_positive
    )
    # IN5: an unsubscribe, or a claim (Lifecycle.claim_refund), this soon after the
    # activation makes the order's charges due for a refund (None: never by rule)
    refund_window: dt.timedelta | None = attrs.field(default=None, validator=_maybe_positive)
    #: CN25c: an unsubscribe makes the unused part of the current period's charge due
    #: for a refund (pro rata by the days left in the period)
    refund_unused: bool = False
    # UK6: a paid subscription not used for this long is cancelled, with a notice
    # (None: never); services marked inactivity_exempt are not
    cancel_after_inactivity: dt.timedelta | None = attrs.field(
        default=None, validator=_maybe_positive
    )
    # IN3, IN7, CN25b: a notice this long before each renewal of a pack that renews by
    # itself; a renewal without it lapses the pack (reason renewal_not_notified)
    renewal_notice_lead: dt.timedelta | None = attrs.field(default=None, validator=_maybe_positive)
    #: IN7: packs valid more than this many days are notified at least ``lead``
    #: before they renew, as ``(days, lead)`` (TRAI: 7 days, 3 days); None: one lead
    long_pack_notice: tuple[int, dt.timedelta] | None = attrs.field(
        default=None, validator=_long_pack_notice
    )
    # IN7: each renewal of a pack needs a fresh confirmation (it lapses without one)
    renewal_requires_consent: bool = False
    #: CN25b: a notice this long before each automatic charge of a monthly
    #: subscription (包月); a month not announced in time is not charged (reason
    #: charge_not_notified). None: no such notice
    charge_notice_lead: dt.timedelta | None = attrs.field(default=None, validator=_maybe_positive)
    # CT1: a trial may convert to its paid subscription (never in China: C6), only
    # with the subscriber's consent at its start and a reminder this long before its
    # end (a trial not longer than that is reminded at its midpoint)
    trial_converts: bool = False
    conversion_reminder_lead: dt.timedelta = attrs.field(
        default=dt.timedelta(days=7), validator=_positive
    )
    #: a converting trial not longer than the lead still needs its (midpoint)
    #: reminder to convert; False: it converts without one (Visa asks for the reminder
    #: only for trials longer than 7 days)
    short_conversions_need_reminder: bool = True
    #: the id of the rule behind a notice kind or a reason code, where this regime's
    #: differs from the China preset's (``NOTICE_RULES``, ``REASON_RULES``)
    rule_ids: Mapping[NoticeKind | ReasonCode, str] = attrs.field(factory=dict, converter=_rule_ids)
    #: language packs by language tag; must include ``language``
    templates: Mapping[str, TemplateSet] = attrs.field(
        default=(SIMPLIFIED_CHINESE, ENGLISH), converter=_templates
    )

    def __attrs_post_init__(self) -> None:
        if not (self.country_code.isascii() and self.country_code.isdigit()):
            raise PolicyError(f"country_code must be digits, got {self.country_code!r}")
        try:
            pendulum.timezone(self.timezone)
        except Exception as err:
            raise PolicyError(f"unknown time zone {self.timezone!r}") from err
        _one_meaning(self)
        for word in self.list_words:
            if word.isdigit() and len(word) < 3:
                raise PolicyError(f"{word!r} would be read as a pick number")
        if not self.pick_separators or any(c.isalnum() for c in self.pick_separators):
            raise PolicyError("pick_separators must be non-alphanumeric characters")
        if Channel.SP_API in self.operator_channels:
            raise PolicyError("SP_API is never an operator-controlled channel")
        if not self.operator_channels:
            raise PolicyError("at least one operator-controlled channel is needed to confirm")
        if not 3 <= self.code_digits <= 8:
            raise PolicyError(f"code_digits must be 3 to 8, got {self.code_digits}")
        if not isinstance(self.fastest_human_reply, dt.timedelta) or (
            self.fastest_human_reply < dt.timedelta(0)
        ):
            raise PolicyError("fastest_human_reply must be a non-negative duration")
        shortest = min(self.window_for(c) for c in Channel)
        if self.fastest_human_reply >= shortest:
            raise PolicyError("fastest_human_reply must be shorter than every confirmation window")
        if self.confirmation_resend is not None and self.confirmation_resend[1] >= shortest:
            raise PolicyError("confirmation_resend must come inside every confirmation window")
        if self.sp_daily_request_limit < 1:
            raise PolicyError("sp_daily_request_limit must be at least 1")
        if self.retention_months < 1:
            raise PolicyError("retention_months must be at least 1")
        if self.trials_need_confirmation and self.trial_converts:
            raise PolicyError(
                "trials_need_confirmation asks a trial's consent like a subscription's; "
                "a converting trial's consent is given at its start (CT1): choose one"
            )
        if self.charge_notice_lead is not None and self.charge_notice_lead >= dt.timedelta(days=28):
            raise PolicyError("charge_notice_lead must be shorter than the shortest month")

        if self.language not in self.templates:
            raise PolicyError(f"no language pack for the policy language {self.language!r}")
        for pack in self.templates.values():
            if pack.phrases["confirm_word"].strip().upper() not in self.confirm_words:
                raise PolicyError(
                    f"language pack {pack.language!r} tells subscribers to confirm with "
                    f"{pack.phrases['confirm_word']!r}, which is not a confirm word of this policy"
                )
            if pack.phrases["decline_word"].strip().upper() not in self.decline_words:
                raise PolicyError(
                    f"language pack {pack.language!r} tells subscribers to decline with "
                    f"{pack.phrases['decline_word']!r}, which is not a decline word of this policy"
                )

    # --- presets --------------------------------------------------------------------

    @classmethod
    def china_mobile(cls, **overrides: object) -> Policy:
        """The default preset: the seed's rules (C1–C18) with their [practice] defaults."""
        return cls(name="china_mobile", **overrides)  # type: ignore[arg-type]

    @staticmethod
    def presets() -> tuple[str, ...]:
        """The names of the regime presets, for :meth:`preset` and :meth:`regime`."""
        from vas_lifecycle.presets import PRESETS

        return tuple(PRESETS)

    @staticmethod
    def regime(name: str) -> Regime:
        """Every dated version of the preset ``name``, for ``Lifecycle(policy=...)`` to
        follow by date; ``"us_ctia+card_trials"`` lays an overlay over a preset.
        Raises PolicyError for a name that is not a preset."""
        from vas_lifecycle.presets import OVERLAYS, PRESETS

        if not isinstance(name, str):
            raise PolicyError(f"a preset name is a text, got {type(name).__name__}")
        first, *overlays = name.split("+")
        for part in (first, *overlays):
            if part not in PRESETS:
                raise PolicyError(f"no preset {part!r} (presets: {', '.join(PRESETS)})")
        regime = PRESETS[first]
        for part in overlays:
            if part not in OVERLAYS:
                raise PolicyError(f"{part!r} is a preset, not an overlay to lay over one")
            regime = PRESETS[part].over(regime)
        return regime

    @staticmethod
    def preset(name: str, on: dt.date | None = None) -> Policy:
        """The preset ``name`` as in force on the local day ``on`` (today, by the system
        clock in the preset's time zone, when None). Raises PolicyError for an unknown
        name, or a day before the first rules the library has of that regime."""
        regime = Policy.regime(name)
        if on is None:
            on = local_time(SystemClock().now(), regime.timezone).date()
        elif not isinstance(on, dt.date) or isinstance(on, dt.datetime):
            raise PolicyError(f"on must be a date, got {type(on).__name__}")
        return regime.policy_on(on)

    # --- derived values ----------------------------------------------------------------

    def pack(self, language: str | None = None) -> TemplateSet:
        """The language pack for ``language`` (falls back to the policy language)."""
        if language is not None and language in self.templates:
            return self.templates[language]
        return self.templates[self.language]

    def rule_for(self, what: NoticeKind | ReasonCode) -> str:
        """The id of the rule behind a notice kind or a reason code under this policy."""
        found = self.rule_ids.get(what)
        if found is not None:
            return found
        if isinstance(what, NoticeKind):
            return NOTICE_RULES[what]
        return REASON_RULES.get(what, "")

    def window_for(self, channel: Channel | None) -> dt.timedelta:
        """How long a confirmation request made on ``channel`` waits for the reply
        (IN1: by channel where the policy says, else ``confirmation_window``)."""
        if channel is None:
            return self.confirmation_window
        return self.confirmation_windows.get(channel, self.confirmation_window)

    def renewal_lead_for(self, validity_days: int) -> dt.timedelta | None:
        """How long before a pack of ``validity_days`` renews its notice is due (IN3;
        IN7: longer for long packs); None: the policy sends none."""
        lead, long = self.renewal_notice_lead, self.long_pack_notice
        if lead is not None and long is not None and validity_days > long[0]:
            return max(lead, long[1])
        return lead

    def reminder_lead_for(self, trial: dt.timedelta) -> dt.timedelta:
        """How long before a trial's end its reminder is due (C6)."""
        if trial > self.trial_reminder_lead:
            return self.trial_reminder_lead
        return trial / 2

    def conversion_lead_for(self, trial: dt.timedelta) -> dt.timedelta:
        """How long before a converting trial's end its reminder is due (CT1): at
        least the conversion lead, and never less than C6's."""
        lead = max(self.conversion_reminder_lead, self.trial_reminder_lead)
        return lead if trial > lead else trial / 2

    def check_catalog(self, catalog: Catalog) -> None:
        """Refuse a catalog this policy cannot serve (run when a Lifecycle is built):
        each service (:meth:`check_service`), and a trial that converts to anything
        but a subscription of the catalog (CT1)."""
        for service in catalog:
            self.check_service(service)
            target = service.converts_to
            if target is not None and (
                target not in catalog
                or catalog.get(target).kind is not OfferKind.SUBSCRIPTION
                or catalog.get(target).validity_days is not None
            ):
                raise PolicyError(
                    f"trial {service.code!r} converts to {target!r}, not a subscription "
                    "of the catalog (a pack is not one a trial converts to)"
                )

    def check_service(self, service: Service) -> None:
        """Refuse a service this policy cannot serve: a trial too short to be reminded
        (C6), a pack too short for its renewal notice (IN3), a price above the
        per-charge cap (UK7, EU1). Checked when a Lifecycle is
        built and again for every request, because a catalog may gain services later."""
        cap = self.per_charge_cap
        if cap is not None and service.price > cap:
            raise PolicyError(
                f"service {service.code!r} costs {service.price}, above the per-charge cap {cap}"
            )
        days = service.validity_days
        lead = None if days is None else self.renewal_lead_for(days)
        if (
            days is not None
            and service.auto_renew
            and lead is not None
            and (dt.timedelta(days=days) <= lead)
        ):
            raise PolicyError(
                f"pack {service.code!r} is valid {service.validity_days} days, not longer "
                f"than the renewal notice lead {lead}: its renewal could not be notified"
            )
        if service.kind is OfferKind.TRIAL and not self.remind_short_trials_at_midpoint:
            assert service.trial_days is not None
            if dt.timedelta(days=service.trial_days) <= self.trial_reminder_lead:
                raise PolicyError(
                    f"trial {service.code!r} lasts {service.trial_days} days, not longer than "
                    f"the reminder lead {self.trial_reminder_lead}: it could not be reminded"
                )

    def local_day(self, when: dt.datetime) -> tuple[pendulum.DateTime, pendulum.DateTime]:
        """The calendar day (in the policy's time zone) that contains ``when``, as UTC bounds."""
        here = zone(self.timezone)
        day = local_time(when, self.timezone).date()
        start = dt.datetime(day.year, day.month, day.day, tzinfo=here)
        end = start + dt.timedelta(days=1)
        end = dt.datetime(end.year, end.month, end.day, tzinfo=here)  # a day may not be 24 h
        return as_utc(start), as_utc(end)


def _one_meaning(policy: Policy) -> None:
    """No word is in two keyword sets: a reply must mean one thing."""
    keyword_sets = {
        "confirm_words": policy.confirm_words,
        "decline_words": policy.decline_words,
        "list_words": policy.list_words,
        "unsubscribe_words": policy.unsubscribe_words,
        "help_words": policy.help_words,
        "cancel_all_words": policy.cancel_all_words,
        "all_here_words": policy.all_here_words,
    }
    names = sorted(keyword_sets)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = keyword_sets[first] & keyword_sets[second]
            if shared:
                raise PolicyError(
                    f"{first} and {second} share "
                    + ", ".join(sorted(shared))
                    + ": a reply must mean one thing"
                )
