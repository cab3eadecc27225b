"""Notices to subscribers: kinds, records, language packs and their checks.

A template is a ``str.format`` text with named fields. Each notice kind has fields its
rule requires (C2 for the confirmation request, C4 for activation, C5 for the fee
notice, C6 for trials); a :class:`TemplateSet` refuses a template that lacks one, or
that names a field we do not know, when it is built, never when a message is sent.
Fixed statements a rule requires ("silence means no order", "the trial is free and
ends by itself") are *phrases* of the language pack, placed by fields such as
``{silence}``, so their presence is checked too.
"""

from __future__ import annotations

import datetime as dt
import enum
import string
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType

import attrs
import pendulum

from vas_lifecycle.catalog import Period
from vas_lifecycle.errors import TemplateError
from vas_lifecycle.values import format_amount

__all__ = [
    "ENGLISH",
    "FIELDS",
    "REQUIRED_FIELDS",
    "SIMPLIFIED_CHINESE",
    "Notice",
    "NoticeKind",
    "TemplateSet",
]


class NoticeKind(enum.StrEnum):
    """What a notice is for."""

    CONFIRMATION_REQUEST = "confirmation_request"  # C1, C2
    ACTIVATED = "activated"  # C4
    DECLINED = "declined"  # the subscriber said no
    FEE_NOTICE = "fee_notice"  # C5
    TRIAL_STARTED = "trial_started"  # C6
    TRIAL_REMINDER = "trial_reminder"  # C6
    TRIAL_ENDED = "trial_ended"  # C6
    CANCELLED = "cancelled"  # C7


@attrs.frozen
class Notice:
    """A message to a subscriber, recorded once and delivered at least once.

    ``sender`` is the number it comes from (the operator number or an access code);
    ``id`` is the idempotency key notifiers should use.
    """

    id: str
    kind: NoticeKind
    msisdn: str
    order_id: str | None
    text: str
    at: pendulum.DateTime
    sender: str
    language: str


#: Every field a template may use, with what it holds.
FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "sp_name": "the SP's name",
        "service_name": "the service name frozen in the order",
        "service_code": "the service code",
        "price": "the price with its period, e.g. 5元/月",
        "code": "the order's confirmation code (C3)",
        "confirm_word": "the word that confirms",
        "decline_word": "the word that declines",
        "valid_for": "how long the confirmation request is valid",
        "deadline": "when the confirmation request expires",
        "how_to_unsubscribe": "TD to the access number or 0000 to the operator number",
        "how_to_use": "how to use the service",
        "trial_end": "when the trial ends",
        "access_code": "the service's access number",
        "operator_number": "the operator's number",
        "recurring": "phrase: this is a recurring subscription",
        "silence": "phrase: no reply means no order",
        "free": "phrase: the trial is free and ends by itself",
        "effective_now": "phrase: the cancellation takes effect at once",
    }
)

#: The fields each notice kind must contain, by rule.
REQUIRED_FIELDS: Mapping[NoticeKind, frozenset[str]] = MappingProxyType(
    {
        NoticeKind.CONFIRMATION_REQUEST: frozenset(
            {
                "sp_name",
                "service_name",
                "price",
                "recurring",
                "confirm_word",
                "code",
                "silence",
                "valid_for",
            }
        ),
        NoticeKind.ACTIVATED: frozenset({"sp_name", "service_name", "price", "how_to_unsubscribe"}),
        NoticeKind.DECLINED: frozenset({"service_name"}),
        NoticeKind.FEE_NOTICE: frozenset({"sp_name", "service_name", "price"}),
        NoticeKind.TRIAL_STARTED: frozenset(
            {"sp_name", "service_name", "how_to_use", "how_to_unsubscribe", "trial_end", "free"}
        ),
        NoticeKind.TRIAL_REMINDER: frozenset(
            {"service_name", "trial_end", "free", "how_to_unsubscribe"}
        ),
        NoticeKind.TRIAL_ENDED: frozenset({"service_name", "trial_end"}),
        NoticeKind.CANCELLED: frozenset({"sp_name", "service_name", "effective_now"}),
    }
)

#: Phrases every language pack must define (non-empty).
REQUIRED_PHRASES = frozenset(
    {
        "recurring",
        "silence",
        "free",
        "effective_now",
        "how_to_unsubscribe",
        "how_to_use",
        "price",
        "period_month",
        "period_week",
        "period_day",
        "period_use",
        "hours",
        "datetime",
        "confirm_word",
        "decline_word",
    }
)

_FORMATTER = string.Formatter()


def template_fields(template: str) -> set[str]:
    """The field names a template uses; raises ValueError on a malformed template."""
    names: set[str] = set()
    for _literal, field, spec, conversion in _FORMATTER.parse(template):
        if field is None:
            continue
        if spec or conversion:
            raise ValueError(f"field {{{field}}} may not carry a format spec or conversion")
        names.add(field)
    return names


def _frozen_templates(value: Mapping[NoticeKind, str]) -> Mapping[NoticeKind, str]:
    return MappingProxyType({NoticeKind(k): v for k, v in value.items()})


def _frozen_phrases(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen
class TemplateSet:
    """A language pack: one template per notice kind and the phrases they use.

    Built once, checked once: every kind present, every required field present, no
    unknown field, every phrase present.
    """

    language: str
    templates: Mapping[NoticeKind, str] = attrs.field(converter=_frozen_templates)
    phrases: Mapping[str, str] = attrs.field(converter=_frozen_phrases)

    def __attrs_post_init__(self) -> None:
        for phrase in sorted(REQUIRED_PHRASES):
            value = self.phrases.get(phrase)
            if not isinstance(value, str) or not value.strip():
                raise TemplateError(
                    f"language pack {self.language!r} lacks the phrase {phrase!r}",
                    kind="phrase",
                    language=self.language,
                )
        for kind in NoticeKind:
            template = self.templates.get(kind)
            if not isinstance(template, str) or not template.strip():
                raise TemplateError(
                    f"language pack {self.language!r} has no template for {kind.value}",
                    kind=kind.value,
                    language=self.language,
                )
            try:
                used = template_fields(template)
            except ValueError as err:
                raise TemplateError(
                    f"template {kind.value} ({self.language}) is malformed: {err}",
                    kind=kind.value,
                    language=self.language,
                ) from err
            unknown = used - FIELDS.keys()
            if unknown:
                raise TemplateError(
                    f"template {kind.value} ({self.language}) uses unknown field(s) "
                    + ", ".join(sorted(unknown)),
                    kind=kind.value,
                    language=self.language,
                )
            missing = REQUIRED_FIELDS[kind] - used
            if missing:
                raise TemplateError(
                    f"template {kind.value} ({self.language}) lacks required field(s) "
                    + ", ".join("{" + f + "}" for f in sorted(missing)),
                    kind=kind.value,
                    language=self.language,
                )

    def with_template(self, kind: NoticeKind, template: str) -> TemplateSet:
        """A copy with one template replaced (checked like the rest)."""
        templates = dict(self.templates)
        templates[kind] = template
        return TemplateSet(self.language, templates, self.phrases)

    def price_label(self, price: Decimal, period: Period) -> str:
        unit = self.phrases[f"period_{period.value}"]
        return self.phrases["price"].format(amount=format_amount(price), unit=unit)

    def hours_label(self, duration: dt.timedelta) -> str:
        hours = duration.total_seconds() / 3600
        shown = f"{hours:g}"
        return self.phrases["hours"].format(n=shown)

    def datetime_label(self, when: dt.datetime, timezone: str) -> str:
        local = pendulum.instance(when).in_timezone(timezone)
        return self.phrases["datetime"].format(
            year=local.year,
            month=local.month,
            day=local.day,
            hm=f"{local.hour:02d}:{local.minute:02d}",
        )

    def render(self, kind: NoticeKind, values: Mapping[str, str]) -> str:
        return self.templates[kind].format_map(values)


SIMPLIFIED_CHINESE = TemplateSet(
    language="zh-CN",
    templates={
        NoticeKind.CONFIRMATION_REQUEST: (
            "【二次确认】您正在订购{sp_name}的“{service_name}”，资费{price}，{recurring}。"
            "确认订购请回复“{confirm_word} {code}”，拒绝请回复“{decline_word} {code}”。"
            "{silence}。本短信{valid_for}内有效。"
        ),
        NoticeKind.ACTIVATED: (
            "您已成功订购{sp_name}的“{service_name}”，资费{price}。{how_to_unsubscribe}。"
        ),
        NoticeKind.DECLINED: "您已拒绝订购“{service_name}”，不会产生任何费用。",
        NoticeKind.FEE_NOTICE: (
            "【资费提示】您点播了{sp_name}的“{service_name}”，信息费{price}，由中国移动代收。"
        ),
        NoticeKind.TRIAL_STARTED: (
            "您已开通{sp_name}的“{service_name}”免费体验，{free}，体验期至{trial_end}。"
            "使用方法：{how_to_use}。{how_to_unsubscribe}。"
        ),
        NoticeKind.TRIAL_REMINDER: (
            "温馨提示：您的“{service_name}”免费体验将于{trial_end}结束，{free}。"
            "如需提前取消，{how_to_unsubscribe}。"
        ),
        NoticeKind.TRIAL_ENDED: "您的“{service_name}”免费体验已于{trial_end}结束并自动取消，未产生任何费用。",
        NoticeKind.CANCELLED: "您已成功退订{sp_name}的“{service_name}”，{effective_now}。",
    },
    phrases={
        "recurring": "为包月业务，按月自动续订扣费，可随时退订",
        "silence": "不回复视为不订购，不收取任何费用",
        "free": "体验期内免费，到期自动取消，不会转为收费业务",
        "effective_now": "即时生效，此后不再收取费用",
        "how_to_unsubscribe": "退订请发送TD至{access_code}，或发送0000至{operator_number}",
        "how_to_use": "发送任意内容至{access_code}即可使用",
        "price": "{amount}元/{unit}",
        "period_month": "月",
        "period_week": "周",
        "period_day": "天",
        "period_use": "次",
        "hours": "{n}小时",
        "datetime": "{year}年{month}月{day}日{hm}",
        "confirm_word": "是",
        "decline_word": "否",
    },
)

ENGLISH = TemplateSet(
    language="en",
    templates={
        NoticeKind.CONFIRMATION_REQUEST: (
            "[Confirm your order] You are subscribing to {service_name} from {sp_name} "
            "at {price}; {recurring}. To confirm, reply {confirm_word} {code}; to refuse, "
            "reply {decline_word} {code}. {silence}. This request is valid for {valid_for}."
        ),
        NoticeKind.ACTIVATED: (
            "You are now subscribed to {service_name} from {sp_name} at {price}. "
            "{how_to_unsubscribe}."
        ),
        NoticeKind.DECLINED: "You declined {service_name}. You will not be charged.",
        NoticeKind.FEE_NOTICE: (
            "[Charge notice] You ordered {service_name} from {sp_name}; the fee is {price}, "
            "billed by your operator."
        ),
        NoticeKind.TRIAL_STARTED: (
            "Your free trial of {service_name} from {sp_name} has started: {free}. "
            "It ends on {trial_end}. How to use it: {how_to_use}. {how_to_unsubscribe}."
        ),
        NoticeKind.TRIAL_REMINDER: (
            "Reminder: your free trial of {service_name} ends on {trial_end}; {free}. "
            "To end it sooner, {how_to_unsubscribe}."
        ),
        NoticeKind.TRIAL_ENDED: (
            "Your free trial of {service_name} ended on {trial_end} and was cancelled; "
            "nothing was charged."
        ),
        NoticeKind.CANCELLED: (
            "You have unsubscribed from {service_name} from {sp_name}; {effective_now}."
        ),
    },
    phrases={
        "recurring": "it is a subscription that renews and is charged every period until you cancel",
        "silence": "If you do not reply, nothing is ordered and nothing is charged",
        "free": "it is free and ends by itself; it never turns into a paid service",
        "effective_now": "this takes effect at once and nothing more will be charged",
        "how_to_unsubscribe": "To unsubscribe send TD to {access_code} or 0000 to {operator_number}",
        "how_to_use": "send any text to {access_code}",
        "price": "CNY {amount}/{unit}",
        "period_month": "month",
        "period_week": "week",
        "period_day": "day",
        "period_use": "use",
        "hours": "{n} hours",
        "datetime": "{year}-{month:02d}-{day:02d} {hm}",
        "confirm_word": "Y",
        "decline_word": "N",
    },
)
