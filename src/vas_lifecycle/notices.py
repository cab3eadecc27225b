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
from vas_lifecycle.clock import local_time
from vas_lifecycle.errors import TemplateError
from vas_lifecycle.privacy import masked_repr
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
    PURCHASE_REQUEST = "purchase_request"  # C5a: an SP's on-demand order, confirmed first
    ACTIVATED = "activated"  # C4
    DECLINED = "declined"  # the subscriber said no
    FEE_NOTICE = "fee_notice"  # C5
    TRIAL_REQUEST = "trial_request"  # CN25a: a trial asked for, confirmed before it starts
    TRIAL_STARTED = "trial_started"  # C6
    TRIAL_REMINDER = "trial_reminder"  # C6
    TRIAL_ENDED = "trial_ended"  # C6
    CANCELLED = "cancelled"  # C7
    # replies of the SMS channel (C3, C8, C9, C10)
    HELP = "help"  # the help word
    UNRECOGNISED = "unrecognised"  # anything not understood: changes nothing
    PENDING_LIST = "pending_list"  # a bare yes/no with several pending orders (C3)
    NOTHING_PENDING = "nothing_pending"  # a yes/no with no pending order
    WRONG_CODE = "wrong_code"  # a yes/no quoting a code of no pending order (C3)
    CONFIRMATION_FAILED = "confirmation_failed"  # a reply the rules refused
    CONFIRM_AT_OPERATOR = "confirm_at_operator"  # a yes/no sent to an SP's access code
    LIVE_LIST = "live_list"  # the numbered list after 0000 (C8)
    LIST_EMPTY = "list_empty"  # 0000 with no live order (C8)
    PICK_INVALID = "pick_invalid"  # numbers outside the list (C8)
    PICK_EXPIRED = "pick_expired"  # numbers after the pick window, or with no list (C8)
    ALREADY_CANCELLED = "already_cancelled"  # a second unsubscribe, answered politely (C7)
    NOTHING_TO_CANCEL = "nothing_to_cancel"  # TD with no live order behind it (C9)
    RECEIPT = "receipt"  # UK3: after every recorded charge, where the policy asks
    SPEND_REMINDER = "spend_reminder"  # UK2, AU2: spend on an access code crossed a step
    PAUSED = "paused"  # a subscription paused: nothing charged until it resumes
    RESUMED = "resumed"  # a paused subscription runs, and is charged, again
    REFUNDED = "refunded"  # IN5, CN25c: money given back against a charge
    INACTIVE_CANCELLED = "inactive_cancelled"  # UK6: cancelled after going unused
    RENEWAL_NOTICE = "renewal_notice"  # IN3, IN7, CN25b: before a pack renews by itself
    LAPSED = "lapsed"  # a pack's validity ended and it was not renewed
    CONVERTING_TRIAL_STARTED = "converting_trial_started"  # CT1: free, then paid
    CONVERSION_REMINDER = "conversion_reminder"  # CT1: before the trial turns paid
    MONTHLY_REMINDER = "monthly_reminder"  # C17: the free reminder of paid subscriptions
    OPTED_OUT = "opted_out"  # US2: one text confirms every service one opt-out ended
    OPT_OUT_RECEIVED = "opt_out_received"  # IN4: the opt-out was received (then: done)


@attrs.frozen
class Notice:
    """A message to a subscriber, recorded once and delivered at least once.

    ``sender`` is the number it comes from (the operator number or an access code);
    ``id`` is the idempotency key notifiers should use.
    """

    id: str
    kind: NoticeKind
    msisdn: str = attrs.field(repr=masked_repr)
    order_id: str | None
    text: str
    at: pendulum.DateTime
    sender: str
    language: str
    #: the id of the rule that sends it (``C4``, ``UK3``, ``IN4``: the policy's)
    rule: str = ""


#: The rule each notice kind comes from in the China preset (a policy's ``rule_ids``
#: may name another for its regime: the yearly reminder is ``UK4`` in the UK).
NOTICE_RULES: Mapping[NoticeKind, str] = MappingProxyType(
    {
        NoticeKind.CONFIRMATION_REQUEST: "C2",
        NoticeKind.PURCHASE_REQUEST: "C5",
        NoticeKind.ACTIVATED: "C4",
        NoticeKind.DECLINED: "C1",
        NoticeKind.FEE_NOTICE: "C5",
        NoticeKind.TRIAL_REQUEST: "CN25a",
        NoticeKind.TRIAL_STARTED: "C6",
        NoticeKind.TRIAL_REMINDER: "C6",
        NoticeKind.TRIAL_ENDED: "C6",
        NoticeKind.CANCELLED: "C7",
        NoticeKind.HELP: "C10",
        NoticeKind.UNRECOGNISED: "C10",
        NoticeKind.PENDING_LIST: "C3",
        NoticeKind.NOTHING_PENDING: "C10",
        NoticeKind.WRONG_CODE: "C3",
        NoticeKind.CONFIRMATION_FAILED: "C1",
        NoticeKind.CONFIRM_AT_OPERATOR: "C1",
        NoticeKind.LIVE_LIST: "C8",
        NoticeKind.LIST_EMPTY: "C8",
        NoticeKind.PICK_INVALID: "C8",
        NoticeKind.PICK_EXPIRED: "C8",
        NoticeKind.ALREADY_CANCELLED: "C7",
        NoticeKind.NOTHING_TO_CANCEL: "C9",
        NoticeKind.RECEIPT: "UK3",
        NoticeKind.SPEND_REMINDER: "UK2",
        NoticeKind.PAUSED: "C7",
        NoticeKind.RESUMED: "C12",
        NoticeKind.REFUNDED: "IN5",
        NoticeKind.INACTIVE_CANCELLED: "UK6",
        NoticeKind.RENEWAL_NOTICE: "IN3",
        NoticeKind.LAPSED: "IN3",
        NoticeKind.CONVERTING_TRIAL_STARTED: "CT1",
        NoticeKind.CONVERSION_REMINDER: "CT1",
        NoticeKind.MONTHLY_REMINDER: "C17",
        NoticeKind.OPTED_OUT: "US2",
        NoticeKind.OPT_OUT_RECEIVED: "IN4",
    }
)


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
        "trial_days": "how many days a trial lasts once it starts",
        "access_code": "the service's access number",
        "operator_number": "the operator's number",
        "recurring": "phrase: this is a recurring subscription",
        "silence": "phrase: no reply means no order",
        "free": "phrase: the trial is free and ends by itself",
        "effective_now": "phrase: the cancellation takes effect at once",
        "items": "the lines of a list (live orders, pending orders)",
        "numbers": "the numbers of a pick that are not on the list",
        "pick_window": "how long a 0000 list can be picked from",
        "amount": "the amount of a charge, with its currency",
        "period": "the period a charge is for (its period key: 2026-12, 2026-W49, 2026-12-06)",
        "complain": "phrase: where to ask or complain about a charge",
        "spent": "what the subscriber spent on the access code in the period so far",
        "idle_days": "how many days a subscription went unused before it was cancelled",
        "renewal_date": "when a pack renews (the end of its validity period)",
        "list_word": "the word that lists live orders (0000)",
        "fragment": "a short, sanitised fragment of the text received",
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
        NoticeKind.PURCHASE_REQUEST: frozenset(
            {"sp_name", "service_name", "price", "confirm_word", "code", "silence", "valid_for"}
        ),
        NoticeKind.ACTIVATED: frozenset({"sp_name", "service_name", "price", "how_to_unsubscribe"}),
        NoticeKind.DECLINED: frozenset({"service_name"}),
        NoticeKind.FEE_NOTICE: frozenset({"sp_name", "service_name", "price"}),
        # CN25a: what the trial is, that it is free and ends by itself, how to say yes
        NoticeKind.TRIAL_REQUEST: frozenset(
            {
                "sp_name",
                "service_name",
                "trial_days",
                "free",
                "confirm_word",
                "code",
                "silence",
                "valid_for",
            }
        ),
        NoticeKind.TRIAL_STARTED: frozenset(
            {"sp_name", "service_name", "how_to_use", "how_to_unsubscribe", "trial_end", "free"}
        ),
        NoticeKind.TRIAL_REMINDER: frozenset(
            {"service_name", "trial_end", "free", "how_to_unsubscribe"}
        ),
        NoticeKind.TRIAL_ENDED: frozenset({"service_name", "trial_end"}),
        NoticeKind.CANCELLED: frozenset({"sp_name", "service_name", "effective_now"}),
        NoticeKind.HELP: frozenset({"confirm_word", "list_word", "operator_number"}),
        NoticeKind.UNRECOGNISED: frozenset({"operator_number"}),
        NoticeKind.PENDING_LIST: frozenset({"items", "confirm_word"}),
        NoticeKind.NOTHING_PENDING: frozenset(),
        NoticeKind.WRONG_CODE: frozenset({"items"}),
        NoticeKind.CONFIRMATION_FAILED: frozenset({"service_name"}),
        NoticeKind.CONFIRM_AT_OPERATOR: frozenset({"operator_number"}),
        NoticeKind.LIVE_LIST: frozenset({"items", "pick_window"}),
        NoticeKind.LIST_EMPTY: frozenset(),
        NoticeKind.PICK_INVALID: frozenset({"numbers", "list_word"}),
        NoticeKind.PICK_EXPIRED: frozenset({"list_word", "operator_number"}),
        NoticeKind.ALREADY_CANCELLED: frozenset({"service_name"}),
        NoticeKind.NOTHING_TO_CANCEL: frozenset({"access_code"}),
        NoticeKind.RECEIPT: frozenset(
            {"sp_name", "service_name", "amount", "period", "how_to_unsubscribe", "complain"}
        ),
        NoticeKind.SPEND_REMINDER: frozenset(
            {"spent", "period", "access_code", "how_to_unsubscribe"}
        ),
        NoticeKind.PAUSED: frozenset({"sp_name", "service_name", "how_to_unsubscribe"}),
        NoticeKind.RESUMED: frozenset({"sp_name", "service_name", "price", "how_to_unsubscribe"}),
        NoticeKind.REFUNDED: frozenset({"sp_name", "service_name", "amount", "complain"}),
        NoticeKind.INACTIVE_CANCELLED: frozenset(
            {"sp_name", "service_name", "idle_days", "effective_now"}
        ),
        NoticeKind.RENEWAL_NOTICE: frozenset(
            {"sp_name", "service_name", "price", "renewal_date", "how_to_unsubscribe"}
        ),
        NoticeKind.LAPSED: frozenset({"sp_name", "service_name"}),
        NoticeKind.CONVERTING_TRIAL_STARTED: frozenset(
            {"sp_name", "service_name", "trial_end", "price", "how_to_unsubscribe"}
        ),
        NoticeKind.CONVERSION_REMINDER: frozenset(
            {"service_name", "trial_end", "price", "how_to_unsubscribe"}
        ),
        # C17: each paid subscription (its line names SP, service, price and access
        # code), and how to cancel: 0000 to the operator number, TD to the access code
        NoticeKind.MONTHLY_REMINDER: frozenset({"items", "list_word", "operator_number"}),
        NoticeKind.OPTED_OUT: frozenset({"items", "effective_now"}),
        NoticeKind.OPT_OUT_RECEIVED: frozenset({"items"}),
    }
)

#: Phrases that are templates themselves: (required fields, allowed fields).
PHRASE_FIELDS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = MappingProxyType(
    {
        "how_to_unsubscribe": (frozenset(), frozenset({"access_code", "operator_number"})),
        "how_to_use": (frozenset(), frozenset({"access_code", "operator_number"})),
        "complain": (frozenset(), frozenset({"access_code", "operator_number"})),
        "amount": (frozenset({"amount"}), frozenset({"amount"})),
        "period_validity": (frozenset({"days"}), frozenset({"days"})),
        # the lines of the 0000 list name SP, service and price or trial end (C8)
        "list_item": (
            frozenset({"n", "sp_name", "service_name", "price"}),
            frozenset({"n", "sp_name", "service_name", "price", "service_code"}),
        ),
        "list_item_trial": (
            frozenset({"n", "sp_name", "service_name", "trial_end"}),
            frozenset({"n", "sp_name", "service_name", "trial_end", "service_code"}),
        ),
        # the lines of the monthly reminder: SP, service, price, and where TD goes (C17)
        "reminder_item": (
            frozenset({"sp_name", "service_name", "price", "access_code"}),
            frozenset({"n", "sp_name", "service_name", "price", "access_code", "service_code"}),
        ),
        # the lines of the pending list carry each request's code (C3)
        "pending_item": (
            frozenset({"code", "sp_name", "service_name", "price"}),
            frozenset({"code", "sp_name", "service_name", "price", "service_code"}),
        ),
    }
)

#: Phrases every language pack must define (non-empty).
REQUIRED_PHRASES = frozenset(
    {
        "amount",
        "complain",
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
        "period_validity",
        "hours",
        "minutes",
        "seconds",
        "datetime",
        "confirm_word",
        "decline_word",
        "list_item",
        "list_item_trial",
        "pending_item",
        "reminder_item",
        "item_separator",
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
            if not isinstance(value, str) or (not value.strip() and phrase != "item_separator"):
                raise TemplateError(
                    f"language pack {self.language!r} lacks the phrase {phrase!r}",
                    kind="phrase",
                    language=self.language,
                )
        for phrase, (required, allowed) in PHRASE_FIELDS.items():
            try:
                used = template_fields(self.phrases[phrase])
            except ValueError as err:
                raise TemplateError(
                    f"phrase {phrase} ({self.language}) is malformed: {err}",
                    kind=phrase,
                    language=self.language,
                ) from err
            if not required <= used or not used <= allowed:
                raise TemplateError(
                    f"phrase {phrase} ({self.language}) must use "
                    + ", ".join("{" + f + "}" for f in sorted(required))
                    + " and may use only "
                    + ", ".join("{" + f + "}" for f in sorted(allowed)),
                    kind=phrase,
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

    def price_label(self, price: Decimal, period: Period, days: int | None = None) -> str:
        """A price with its period in this language (``5元/月``; a pack's validity in days)."""
        unit = self.phrases[f"period_{period}"]  # a StrEnum formats as its value
        if days is not None:  # a pack: its validity, in days
            unit = unit.format(days=days)
        return self.phrases["price"].format(amount=format_amount(price), unit=unit)

    def amount_label(self, amount: Decimal) -> str:
        """An amount with its currency in this language (``5元``, ``CNY 5``)."""
        return self.phrases["amount"].format(amount=format_amount(amount))

    def duration_label(self, duration: dt.timedelta) -> str:
        """A duration in its largest whole unit: hours, minutes or seconds (a USSD
        window of 10 s reads "10秒", not a fraction of an hour)."""
        seconds = duration.total_seconds()
        if seconds % 3600 == 0:
            return self.hours_label(duration)
        unit, count = ("minutes", seconds / 60) if seconds % 60 == 0 else ("seconds", seconds)
        return self.phrases[unit].format(n=f"{count:g}")

    def hours_label(self, duration: dt.timedelta) -> str:
        """A duration in hours in this language (``24小时``, ``2 hours``)."""
        hours = duration.total_seconds() / 3600
        shown = f"{hours:g}"
        return self.phrases["hours"].format(n=shown)

    def datetime_label(self, when: dt.datetime, timezone: str) -> str:
        """An instant as local date and time of ``timezone`` in this language."""
        local = local_time(when, timezone)
        return self.phrases["datetime"].format(
            year=local.year,
            month=local.month,
            day=local.day,
            hm=f"{local.hour:02d}:{local.minute:02d}",
        )

    def render(self, kind: NoticeKind, values: Mapping[str, str]) -> str:
        """The text of a notice of ``kind`` with these field values."""
        return self.templates[kind].format_map(values)


SIMPLIFIED_CHINESE = TemplateSet(
    language="zh-CN",
    templates={
        NoticeKind.CONFIRMATION_REQUEST: (
            "【二次确认】您正在订购{sp_name}的“{service_name}”，资费{price}，{recurring}。"
            "确认订购请回复“{confirm_word} {code}”，拒绝请回复“{decline_word} {code}”。"
            "{silence}。本短信{valid_for}内有效。"
        ),
        NoticeKind.PURCHASE_REQUEST: (
            "【二次确认】{sp_name}申请为您点播“{service_name}”，信息费{price}，仅收取一次。"
            "确认购买请回复“{confirm_word} {code}”，拒绝请回复“{decline_word} {code}”。"
            "{silence}。本短信{valid_for}内有效。"
        ),
        NoticeKind.ACTIVATED: (
            "您已成功订购{sp_name}的“{service_name}”，资费{price}。{how_to_unsubscribe}。"
        ),
        NoticeKind.DECLINED: "您已拒绝订购“{service_name}”，不会产生任何费用。",
        NoticeKind.FEE_NOTICE: (
            "【资费提示】您点播了{sp_name}的“{service_name}”，信息费{price}，由中国移动代收。"
        ),
        NoticeKind.TRIAL_REQUEST: (
            "【二次确认】您正在申请{sp_name}的“{service_name}”免费体验{trial_days}天，{free}。"
            "确认开通请回复“{confirm_word} {code}”，拒绝请回复“{decline_word} {code}”。"
            "{silence}。本短信{valid_for}内有效。"
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
        NoticeKind.HELP: (
            "确认订购请回复“{confirm_word} 验证码”至{operator_number}；查询或退订已订业务请发送"
            "{list_word}至{operator_number}；退订某项业务也可发送TD至该业务的端口号。"
        ),
        NoticeKind.UNRECOGNISED: (
            "抱歉，未能识别您发送的“{fragment}”，未做任何变更。回复“帮助”至{operator_number}查看用法。"
        ),
        NoticeKind.PENDING_LIST: (
            "您有多笔待确认的订购，请回复“{confirm_word} 验证码”确认其中一笔：{items}"
        ),
        NoticeKind.NOTHING_PENDING: "您当前没有待确认的订购，未做任何变更。",
        NoticeKind.WRONG_CODE: "验证码不正确，未做任何变更。您待确认的订购：{items}",
        NoticeKind.CONFIRMATION_FAILED: "“{service_name}”的订购确认未能生效，未产生任何费用。",
        NoticeKind.CONFIRM_AT_OPERATOR: "请将确认回复发送至{operator_number}，本号码不能确认订购。",
        NoticeKind.LIVE_LIST: (
            "您已订购的业务：{items}。回复序号即可退订（多个序号用逗号或空格分隔），"
            "{pick_window}内有效。"
        ),
        NoticeKind.LIST_EMPTY: "您当前没有已订购的增值业务。",
        NoticeKind.PICK_INVALID: "序号{numbers}不在列表中，未做处理。如需查询请发送{list_word}。",
        NoticeKind.PICK_EXPIRED: (
            "退订列表已过期或不存在，请重新发送{list_word}至{operator_number}查询。"
        ),
        NoticeKind.ALREADY_CANCELLED: "“{service_name}”已不在订购中，无需重复退订，不会再收取费用。",
        NoticeKind.NOTHING_TO_CANCEL: "您在端口{access_code}上没有可退订的业务。",
        NoticeKind.OPTED_OUT: "您已退订：{items}。{effective_now}。",
        NoticeKind.OPT_OUT_RECEIVED: "已收到您的退订请求：{items}。办理完成后将另行通知您。",
        NoticeKind.RECEIPT: (
            "【扣费凭证】您订购的{sp_name}“{service_name}”已扣费{amount}（{period}）。"
            "{how_to_unsubscribe}。{complain}。"
        ),
        NoticeKind.SPEND_REMINDER: (
            "【消费提醒】您在{period}通过端口{access_code}产生的信息费已累计{spent}。"
            "{how_to_unsubscribe}。"
        ),
        NoticeKind.PAUSED: (
            "您订购的{sp_name}“{service_name}”已暂停，暂停期间不收取费用。{how_to_unsubscribe}。"
        ),
        NoticeKind.RESUMED: (
            "您订购的{sp_name}“{service_name}”已恢复，资费{price}，恢复后按期收费。"
            "{how_to_unsubscribe}。"
        ),
        NoticeKind.REFUNDED: (
            "【退费通知】您订购的{sp_name}“{service_name}”已退还{amount}至您的话费账户。"
            "{complain}。"
        ),
        NoticeKind.INACTIVE_CANCELLED: (
            "您订购的{sp_name}“{service_name}”已连续{idle_days}天未使用，已为您自动退订，"
            "{effective_now}。"
        ),
        NoticeKind.RENEWAL_NOTICE: (
            "【续订提醒】您订购的{sp_name}“{service_name}”将于{renewal_date}自动续订，"
            "资费{price}。不再使用请在此前退订：{how_to_unsubscribe}。"
        ),
        NoticeKind.LAPSED: "您订购的{sp_name}“{service_name}”有效期已到，未续订，不会再收取费用。",
        NoticeKind.CONVERTING_TRIAL_STARTED: (
            "您已开通{sp_name}“{service_name}”免费体验，至{trial_end}结束，"
            "届时按您的同意转为包月，资费{price}。不想转为收费请在此前退订：{how_to_unsubscribe}。"
        ),
        NoticeKind.CONVERSION_REMINDER: (
            "【转收费提醒】“{service_name}”免费体验将于{trial_end}结束并转为收费，资费{price}。"
            "不想继续请在此前退订：{how_to_unsubscribe}。"
        ),
        NoticeKind.MONTHLY_REMINDER: (
            "【免费提醒】您当前订购的收费增值业务：{items}。退订请发送{list_word}至"
            "{operator_number}查询后选择，或发送TD至相应业务端口。本短信免费。"
        ),
    },
    phrases={
        "recurring": "为包月业务，按月自动续订扣费，可随时退订",
        "silence": "不回复视为不订购，不收取任何费用",
        "free": "体验期内免费，到期自动取消，不会转为收费业务",
        "effective_now": "即时生效，此后不再收取费用",
        "how_to_unsubscribe": "退订请发送TD至{access_code}，或发送0000至{operator_number}",
        "how_to_use": "发送任意内容至{access_code}即可使用",
        "complain": "如有疑问或投诉请致电{operator_number}",
        "amount": "{amount}元",
        "price": "{amount}元/{unit}",
        "period_month": "月",
        "period_week": "周",
        "period_day": "天",
        "period_use": "次",
        "period_validity": "{days}天",
        "hours": "{n}小时",
        "minutes": "{n}分钟",
        "seconds": "{n}秒",
        "datetime": "{year}年{month}月{day}日{hm}",
        "confirm_word": "是",
        "decline_word": "否",
        "list_item": "{n}.{sp_name}“{service_name}”{price}",
        "list_item_trial": "{n}.{sp_name}“{service_name}”免费体验至{trial_end}",
        "pending_item": "{code}：{sp_name}“{service_name}”{price}",
        "reminder_item": "{n}.{sp_name}“{service_name}”{price}（退订发TD至{access_code}）",
        "item_separator": "；",
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
        NoticeKind.PURCHASE_REQUEST: (
            "[Confirm your purchase] {sp_name} asks to charge you {price} once for "
            "{service_name}. To confirm, reply {confirm_word} {code}; to refuse, reply "
            "{decline_word} {code}. {silence}. This request is valid for {valid_for}."
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
        NoticeKind.TRIAL_REQUEST: (
            "[Confirm your trial] You asked for a free {trial_days}-day trial of "
            "{service_name} from {sp_name}: {free}. To start it, reply {confirm_word} {code}; "
            "to refuse, reply {decline_word} {code}. {silence}. This request is valid for "
            "{valid_for}."
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
        NoticeKind.HELP: (
            "To confirm an order reply {confirm_word} and its code to {operator_number}. "
            "To list or cancel your services send {list_word} to {operator_number}, or TD to "
            "the service's number."
        ),
        NoticeKind.UNRECOGNISED: (
            'Sorry, we did not understand "{fragment}"; nothing was changed. '
            "Send HELP to {operator_number} for help."
        ),
        NoticeKind.PENDING_LIST: (
            "You have several orders waiting; reply {confirm_word} and the code of the one "
            "you want: {items}"
        ),
        NoticeKind.NOTHING_PENDING: "You have no order waiting for confirmation; nothing changed.",
        NoticeKind.WRONG_CODE: "That code is not right; nothing changed. Your orders waiting: {items}",
        NoticeKind.CONFIRMATION_FAILED: (
            "Your confirmation of {service_name} could not be accepted; nothing will be charged."
        ),
        NoticeKind.CONFIRM_AT_OPERATOR: (
            "Please send confirmations to {operator_number}; this number cannot confirm orders."
        ),
        NoticeKind.LIVE_LIST: (
            "Your services: {items}. Reply with the numbers to cancel (separate several with "
            "commas or spaces), within {pick_window}."
        ),
        NoticeKind.LIST_EMPTY: "You have no value-added services.",
        NoticeKind.PICK_INVALID: (
            "Number(s) {numbers} are not on the list; nothing done for them. Send {list_word} "
            "to see the list."
        ),
        NoticeKind.PICK_EXPIRED: (
            "That list has expired or does not exist; send {list_word} to {operator_number} again."
        ),
        NoticeKind.ALREADY_CANCELLED: (
            "{service_name} is no longer subscribed; nothing more will be charged."
        ),
        NoticeKind.NOTHING_TO_CANCEL: "You have no service to cancel on {access_code}.",
        NoticeKind.OPTED_OUT: "You have unsubscribed from: {items}. {effective_now}.",
        NoticeKind.OPT_OUT_RECEIVED: (
            "We have your request to stop: {items}. We will text you again when it is done."
        ),
        NoticeKind.RECEIPT: (
            "[Receipt] You were charged {amount} for {service_name} from {sp_name} "
            "({period}). {how_to_unsubscribe}. {complain}."
        ),
        NoticeKind.SPEND_REMINDER: (
            "[Spend reminder] You have spent {spent} on {access_code} in {period}. "
            "{how_to_unsubscribe}."
        ),
        NoticeKind.PAUSED: (
            "{service_name} from {sp_name} is paused: nothing is charged while it is. "
            "{how_to_unsubscribe}."
        ),
        NoticeKind.RESUMED: (
            "{service_name} from {sp_name} runs again at {price}, charged from now on. "
            "{how_to_unsubscribe}."
        ),
        NoticeKind.REFUNDED: (
            "[Refund] {amount} for {service_name} from {sp_name} has been given back to "
            "your account. {complain}."
        ),
        NoticeKind.INACTIVE_CANCELLED: (
            "{service_name} from {sp_name} was not used for {idle_days} days and has been "
            "cancelled: {effective_now}."
        ),
        NoticeKind.RENEWAL_NOTICE: (
            "[Renewal] {service_name} from {sp_name} renews by itself on {renewal_date} at "
            "{price}. To stop it, before then: {how_to_unsubscribe}."
        ),
        NoticeKind.LAPSED: (
            "{service_name} from {sp_name} has reached the end of its validity and was not "
            "renewed; nothing more will be charged."
        ),
        NoticeKind.CONVERTING_TRIAL_STARTED: (
            "Your free trial of {service_name} from {sp_name} runs until {trial_end}; then, "
            "as you agreed, it becomes a subscription at {price}. To stop it before then: "
            "{how_to_unsubscribe}."
        ),
        NoticeKind.CONVERSION_REMINDER: (
            "[Reminder] Your free trial of {service_name} ends on {trial_end} and becomes "
            "a subscription at {price}. To stop it before then: {how_to_unsubscribe}."
        ),
        NoticeKind.MONTHLY_REMINDER: (
            "[Free reminder] Your paid value-added services: {items}. To cancel, send "
            "{list_word} to {operator_number} and pick from the list, or TD to the service's "
            "number. This text is free."
        ),
    },
    phrases={
        "recurring": "it is a subscription that renews and is charged every period until you cancel",
        "silence": "If you do not reply, nothing is ordered and nothing is charged",
        "free": "it is free and ends by itself; it never turns into a paid service",
        "effective_now": "this takes effect at once and nothing more will be charged",
        "how_to_unsubscribe": "To unsubscribe send TD to {access_code} or 0000 to {operator_number}",
        "how_to_use": "send any text to {access_code}",
        "complain": "Questions or complaints: call {operator_number}",
        "amount": "CNY {amount}",
        "price": "CNY {amount}/{unit}",
        "period_month": "month",
        "period_week": "week",
        "period_day": "day",
        "period_use": "use",
        "period_validity": "{days} days",
        "hours": "{n} hours",
        "minutes": "{n} minutes",
        "seconds": "{n} seconds",
        "datetime": "{year}-{month:02d}-{day:02d} {hm}",
        "confirm_word": "Y",
        "decline_word": "N",
        "list_item": "{n}. {service_name} from {sp_name}, {price}",
        "list_item_trial": "{n}. {service_name} from {sp_name}, free trial until {trial_end}",
        "pending_item": "{code}: {service_name} from {sp_name}, {price}",
        "reminder_item": "{n}. {service_name} from {sp_name}, {price} (send TD to {access_code} to stop)",
        "item_separator": "; ",
    },
)
