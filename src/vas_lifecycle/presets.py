"""The regime presets as data: each a :class:`~vas_lifecycle.regimes.Regime` of
dated versions with its rule ids and sources (docs/specification.md, "Other regimes").

Numbers and dates come from the sources named. Where a source gives only a month or a
year, the version begins on its first day and says so in its note. A preset's
``operator_number`` is the number subscribers text to list their services; outside
China and India no rule names one, so those presets carry a placeholder that an
operator replaces with its own (``attrs.evolve`` on the policy, or a version of its
own over the regime).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

import attrs

from vas_lifecycle.catalog import Period
from vas_lifecycle.notices import ENGLISH, NoticeKind, TemplateSet
from vas_lifecycle.policy import UnsubscribeScope
from vas_lifecycle.records import Channel, ReasonCode
from vas_lifecycle.regimes import Regime, Version

__all__ = ["OVERLAYS", "PRESETS"]


def _english(symbol: str, templates: Mapping[NoticeKind, str], **phrases: str) -> TemplateSet:
    """The English pack with a currency and the regime's own wording."""
    return attrs.evolve(
        ENGLISH,
        templates={**ENGLISH.templates, **templates},
        phrases={
            **ENGLISH.phrases,
            "amount": symbol + "{amount}",
            "price": symbol + "{amount}/{unit}",
            **phrases,
        },
    )


def _stop_pack(symbol: str, *, stop_all: bool) -> TemplateSet:
    """English texts for regimes where ``STOP`` to a service's number leaves it."""
    rest = " (STOP ALL stops every service on that number)" if stop_all else ""
    return _english(
        symbol,
        {
            NoticeKind.ACTIVATED: (
                "You are now subscribed to {service_name} from {sp_name} at {price}. "
                "{how_to_unsubscribe}. Text HELP to {access_code} for help."
            ),
            NoticeKind.HELP: (
                "To confirm an order reply {confirm_word} and its code to {operator_number}. "
                f"To stop a service text STOP to its number{rest}. To list your services "
                "send {list_word} to {operator_number}."
            ),
            NoticeKind.MONTHLY_REMINDER: (
                "[Free reminder] Your paid services: {items}. To stop one, text STOP to its "
                "number, or send {list_word} to {operator_number} and pick from the list. "
                "This text is free."
            ),
        },
        confirm_word="YES",
        decline_word="NO",
        how_to_unsubscribe=f"To stop it, text STOP to {{access_code}}{rest}",
        reminder_item="{n}. {service_name} from {sp_name}, {price} (text STOP to {access_code})",
    )


_WORDS_YES_NO = {"confirm_words": {"YES", "Y"}, "decline_words": {"NO", "N"}}


def _locale(
    country_code: str,
    timezone: str,
    currency: str,
    operator_number: str,
    pack: TemplateSet,
    rule_ids: Mapping[NoticeKind | ReasonCode, str],
) -> dict[str, object]:
    """A preset's locale group: where it is, its money, its number, its texts (in
    English) and the rule ids it names its own."""
    return {
        "country_code": country_code,
        "timezone": timezone,
        "currency": currency,
        "language": "en",
        "operator_number": operator_number,
        "templates": (pack,),
        "rule_ids": rule_ids,
    }


CHINA_MOBILE = Regime(
    name="china_mobile",
    title="China Mobile (MII / MIIT)",
    versions=(
        Version(
            effective=dt.date(2006, 1, 1),
            rules=tuple(f"C{n}" for n in range(1, 19)),
            sources=(
                "the seed: China Mobile Shaanxi on value-added services, 2011",
                "MII rules of 2006 (no charge until the second confirmation; records kept "
                "at least 5 months)",
            ),
            note="the year of the MII rules (day unconfirmed); the policy's defaults are these",
        ),
        Version(
            effective=dt.date(2025, 4, 30),
            changes={"trials": {"trials_need_confirmation": True}},
            rules=("CN25a",),
            sources=('MIIT "明白办、放心用" campaign, as reported by 中国消费者报 on 21 May 2025',),
            note=(
                "reported as in force from about 30 April 2025 (the day is approximate): "
                "free trials and gifted services need the explicit confirmation a "
                "subscription does, and start only on it"
            ),
        ),
        Version(
            effective=dt.date(2025, 5, 17),
            changes={
                "locale": {
                    "rule_ids": {NoticeKind.RENEWAL_NOTICE: "CN25b", NoticeKind.REFUNDED: "CN25c"}
                },
                "renewals": {"charge_notice_lead": dt.timedelta(days=5)},
                "refunds": {"refund_unused": True},
            },
            rules=("CN25b", "CN25c"),
            sources=("MIIT 2025 十件实事, as reported by 中国消费者报 on 21 May 2025",),
            note=(
                "a notice 5 days before each automatic monthly charge (a month not "
                "announced in time is not charged); an unsubscribe refunds the unused "
                "days of the period"
            ),
        ),
    ),
)

UK_PSA = Regime(
    name="uk_psa",
    title="United Kingdom (PSA, Payment Services Regulations)",
    versions=(
        Version(
            effective=dt.date(2018, 1, 13),
            changes={
                "locale": _locale(
                    "44",
                    "Europe/London",
                    "GBP",
                    "150",
                    _stop_pack("£", stop_all=True),
                    {
                        ReasonCode.SPEND_CAP: "UK7",
                        NoticeKind.CANCELLED: "UK1",
                        NoticeKind.NOTHING_TO_CANCEL: "UK1",
                    },
                ),
                "consent": _WORDS_YES_NO,
                "quiet_hours": {"quiet_hours": None},
                "words": {
                    "unsubscribe_words": {"STOP"},
                    "unsubscribe_scope": UnsubscribeScope.LATEST,
                    "all_here_words": {"STOP ALL"},
                    "revocation_hints": {"STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"},
                },
                "limits": {
                    "per_charge_cap": Decimal(40),
                    "spend_cap": Decimal(240),
                    "spend_cap_period": Period.MONTH,
                },
                "renewals": {"cancel_after_inactivity": dt.timedelta(days=120)},
                "spend": {
                    "monthly_reminder": False,
                    "spend_reminder_every": Decimal(20),
                    "spend_reminder_interval": dt.timedelta(days=30),
                },
            },
            rules=("UK1", "UK2", "UK6", "UK7"),
            sources=(
                "PhonepayPlus / PSA Code of Practice (STOP, STOP ALL; spend reminders)",
                "EE practice, 2015 (120 days without use)",
                "Payment Services Regulations 2017, in force 13 Jan 2018 (£40 / £240)",
            ),
            note="the first day of the carrier-billing limits; operator_number is a placeholder",
        ),
        Version(
            effective=dt.date(2019, 11, 1),
            changes={"spend": {"receipt_after_charge": True}},
            rules=("UK3",),
            sources=("PSA special conditions for subscription services, from 1 Nov 2019",),
        ),
        Version(
            effective=dt.date(2022, 4, 5),
            changes={
                "locale": {"rule_ids": {NoticeKind.MONTHLY_REMINDER: "UK4"}},
                "spend": {"monthly_reminder": True, "reminder_months": 12},
            },
            rules=("UK4",),
            sources=("PSA Code of Practice 15, 5 Apr 2022 - 31 Jan 2025",),
        ),
        Version(
            effective=dt.date(2025, 2, 1),
            changes={"spend": {"monthly_reminder": False, "reminder_months": 1}},
            rules=("UK5",),
            retired=("UK4",),
            sources=("Ofcom: the PRS Order 2024 (SI 2024/1046) replaces Code 15, 1 Feb 2025",),
            note="UK2 and UK3 are kept as practice: they cost the subscriber nothing",
        ),
    ),
)

US_CTIA = Regime(
    name="us_ctia",
    title="United States (CTIA, FCC, California)",
    versions=(
        Version(
            effective=dt.date(2025, 4, 11),
            changes={
                "locale": _locale(
                    "1",
                    "America/New_York",
                    "USD",
                    "611",
                    _stop_pack("$", stop_all=False),
                    {
                        NoticeKind.CONFIRMATION_REQUEST: "US1",
                        NoticeKind.CANCELLED: "US2",
                        NoticeKind.OPTED_OUT: "US2",
                    },
                ),
                "consent": _WORDS_YES_NO,
                "quiet_hours": {"quiet_hours": None},
                "words": {
                    "unsubscribe_words": {
                        "STOP",
                        "END",
                        "CANCEL",
                        "UNSUBSCRIBE",
                        "QUIT",
                        "REVOKE",
                        "OPT OUT",
                    },
                    "help_words": {"HELP", "INFO", "?"},
                    "one_opt_out_text": True,
                    "revocation_hints": {"STOP", "UNSUBSCRIBE", "OPT", "REMOVE", "DON'T TEXT"},
                },
                "spend": {"monthly_reminder": False},
            },
            rules=("US1", "US2", "US4"),
            sources=(
                "CTIA Short Code Monitoring Handbook; MMA (double opt-in, HELP and STOP)",
                "FCC 24-18 (opt-out words, any reasonable means), from 11 Apr 2025",
                "FCC 24-24 (the opt-out confirmation within 5 minutes), from 11 Apr 2025",
            ),
            note="the first day of the FCC's opt-out rules; operator_number is a placeholder",
        ),
        Version(
            effective=dt.date(2025, 7, 1),
            changes={
                "locale": {"rule_ids": {NoticeKind.MONTHLY_REMINDER: "US3"}},
                "limits": {"retention_months": 36},
                "spend": {"monthly_reminder": True, "reminder_months": 12},
            },
            rules=("US3",),
            sources=("Cal. Bus. & Prof. Code §17600 ff. as amended by AB 2863, 1 Jul 2025",),
            note="California's automatic-renewal law, applied to every subscriber",
        ),
        Version(
            effective=dt.date(2027, 1, 31),
            changes={"words": {"unsubscribe_scope": UnsubscribeScope.SP}},
            rules=("US4",),
            sources=("FCC 24-24 and its delay order: revoke-all from 31 Jan 2027",),
            note="a future-dated version: an opt-out ends every program of that SP",
        ),
    ),
)

AUSTRALIA_ACMA = Regime(
    name="australia_acma",
    title="Australia (ACMA, Communications Alliance C637)",
    versions=(
        Version(
            effective=dt.date(2011, 1, 1),
            changes={
                "locale": _locale(
                    "61",
                    "Australia/Sydney",
                    "AUD",
                    "1555",
                    _stop_pack("A$", stop_all=False),
                    {
                        NoticeKind.CONFIRMATION_REQUEST: "AU1",
                        NoticeKind.SPEND_REMINDER: "AU2",
                        NoticeKind.CANCELLED: "AU3",
                        NoticeKind.OPTED_OUT: "AU3",
                    },
                ),
                "consent": {
                    **_WORDS_YES_NO,
                    "confirmation_resend": (dt.timedelta(minutes=30), dt.timedelta(hours=1)),
                },
                "quiet_hours": {"quiet_hours": None},
                "words": {
                    "unsubscribe_words": {"STOP"},
                    "one_opt_out_text": True,
                    "revocation_hints": {"STOP", "UNSUBSCRIBE", "CANCEL"},
                },
                "spend": {
                    "monthly_reminder": False,
                    "spend_reminder_every": Decimal(30),
                    "spend_reminder_interval": dt.timedelta(days=30),
                },
            },
            rules=("AU1", "AU2", "AU3"),
            sources=("Communications Alliance C637:2011, registered by ACMA",),
            note=(
                "the code's year (day unconfirmed); operator_number is a placeholder; the "
                "one resend within 1 h goes out after 30 minutes without an answer"
            ),
        ),
    ),
)

_INDIA_PACK = _english(
    "₹",
    {
        NoticeKind.CONFIRMATION_REQUEST: (
            "[Confirm your order] You asked for {service_name} from {sp_name} at {price}; "
            "{recurring}. The consent gateway will ask you to confirm: answer "
            "{confirm_word} (code {code}) there. {silence}. This request is valid for "
            "{valid_for}."
        ),
        NoticeKind.PURCHASE_REQUEST: (
            "[Confirm your purchase] {sp_name} asks to charge you {price} once for "
            "{service_name}. The consent gateway will ask you to confirm: answer "
            "{confirm_word} (code {code}) there. {silence}. This request is valid for "
            "{valid_for}."
        ),
        NoticeKind.HELP: (
            "Orders are confirmed only through the consent gateway (answer {confirm_word}). "
            "To stop a service send STOP, or an empty text, to {operator_number} (free), or "
            "{list_word}, and pick from the list."
        ),
        NoticeKind.MONTHLY_REMINDER: (
            "[Free reminder] Your paid services: {items}. To stop one, send STOP to "
            "{operator_number} and pick from the list ({list_word} works too). This text is "
            "free."
        ),
    },
    confirm_word="YES",
    decline_word="NO",
    how_to_unsubscribe="To stop it, send STOP to {operator_number} (free)",
    reminder_item="{n}. {service_name} from {sp_name} on {access_code}, {price}",
)

INDIA_TRAI = Regime(
    name="india_trai",
    title="India (TRAI)",
    versions=(
        Version(
            effective=dt.date(2013, 7, 1),
            changes={
                "locale": _locale(
                    "91",
                    "Asia/Kolkata",
                    "INR",
                    "155223",
                    _INDIA_PACK,
                    {
                        NoticeKind.CONFIRMATION_REQUEST: "IN1",
                        NoticeKind.PURCHASE_REQUEST: "IN1",
                        NoticeKind.ACTIVATED: "IN2",
                        NoticeKind.LIVE_LIST: "IN4",
                        NoticeKind.OPTED_OUT: "IN4",
                        NoticeKind.CANCELLED: "IN4",
                        ReasonCode.NOT_OPERATOR_CHANNEL: "IN1",
                        ReasonCode.WINDOW_CLOSED: "IN1",
                    },
                ),
                "consent": {
                    **_WORDS_YES_NO,
                    "confirmation_window": dt.timedelta(minutes=60),
                    "confirmation_windows": {Channel.USSD: dt.timedelta(seconds=10)},
                    "operator_channels": {Channel.CONSENT_GATEWAY},
                },
                "quiet_hours": {"quiet_hours": None},
                "words": {
                    "unsubscribe_words": {"STOP"},
                    "blank_lists": True,
                    "acknowledge_opt_out": True,
                    "one_opt_out_text": True,
                    "revocation_hints": {"STOP", "UNSUBSCRIBE", "CANCEL", "DEACTIVATE"},
                },
                "renewals": {
                    "renewal_notice_lead": dt.timedelta(hours=24),
                    "long_pack_notice": (7, dt.timedelta(days=3)),
                },
                "refunds": {"refund_window": dt.timedelta(hours=24)},
                "spend": {"monthly_reminder": False},
            },
            rules=("IN1", "IN2", "IN3", "IN4", "IN5", "IN7"),
            sources=(
                "TRAI direction on consent for value-added services, Jul 2013",
                "TRAI, Feb 2013 (155223, the toll-free deactivation number)",
                "Telecom Consumers Protection (7th Amendment) Regulations 2013 (packs)",
            ),
            note="the month of the direction (day unconfirmed)",
        ),
        Version(
            effective=dt.date(2014, 11, 1),
            rules=("IN6",),
            sources=("TRAI direction, Nov 2014 (consent logs cannot be edited)",),
            note="kept by the evidence chain (C18); the month of the direction",
        ),
        Version(
            effective=dt.date(2026, 11, 13),
            changes={"limits": {"retention_months": 84}},
            rules=("IN8",),
            sources=("DPDP Rules 2025, notified 13 Nov 2025 (consent managers: +12 months)",),
        ),
    ),
)

CARD_TRIALS = Regime(
    name="card_trials",
    title="Trials billed to cards (Visa, Mastercard)",
    versions=(
        Version(
            effective=dt.date(2020, 4, 18),
            changes={
                "trials": {
                    "trial_converts": True,
                    "conversion_reminder_lead": dt.timedelta(days=7),
                    "short_conversions_need_reminder": False,
                },
            },
            rules=("CT1",),
            sources=("Visa rules for free trials, Apr 2020",),
        ),
    ),
)

#: Every preset by name, in the order the docs list them.
PRESETS: Mapping[str, Regime] = MappingProxyType(
    {r.name: r for r in (CHINA_MOBILE, INDIA_TRAI, UK_PSA, US_CTIA, AUSTRALIA_ACMA, CARD_TRIALS)}
)
#: The presets that lie over another one (alone, over the default policy).
OVERLAYS: frozenset[str] = frozenset({"card_trials"})
