"""Turning notice kinds, orders and policy into the text a subscriber reads."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

import pendulum

from vas_lifecycle.catalog import OfferKind
from vas_lifecycle.charging import month_start
from vas_lifecycle.notices import Notice, NoticeKind, TemplateSet
from vas_lifecycle.order import Order
from vas_lifecycle.policy import Policy
from vas_lifecycle.records import Charge

__all__ = ["Renderer"]


class Renderer:
    """Renders notices under one policy; ``ids`` gives a notice its id when the
    event that sends it did not name one.

    What a notice says that depends only on the policy and the language (the pack's
    phrases, the operator number, the windows in hours) is worked out once per
    language pack when the renderer is built; the rest comes from the order."""

    def __init__(self, policy: Policy, ids: Callable[[], str]) -> None:
        self.policy = policy
        self._ids = ids
        self.list_word = min(policy.list_words, key=lambda w: (len(w), w))
        self.rules = {kind: policy.rule_for(kind) for kind in NoticeKind}
        self.constants = {
            pack.language: self._constants(pack) for pack in policy.templates.values()
        }

    def _constants(self, pack: TemplateSet) -> dict[str, str]:
        """The fields whose value depends only on the pack and the policy (never on
        an order: an order's field of the same name wins)."""
        policy = self.policy
        fields = {
            **pack.phrases,
            "operator_number": policy.operator_number,
            "pick_window": pack.hours_label(policy.pick_window),
            "list_word": self.list_word,
        }
        return {
            k: v
            for k, v in fields.items()
            if k not in _ORDER_FIELDS and k not in _PER_ORDER and k not in _CHARGE_FIELDS
        }

    def notice(
        self,
        kind: NoticeKind,
        *,
        msisdn: str,
        at: pendulum.DateTime,
        order: Order | None = None,
        language: str | None = None,
        sender: str | None = None,
        extra: Mapping[str, str] | None = None,
        notice_id: str | None = None,
        charge: Charge | None = None,
        spent: Decimal | None = None,
        amount: Decimal | None = None,
    ) -> Notice:
        pack = self.policy.pack(
            language if language is not None else getattr(order, "language", None)
        )
        if spent is not None:
            extra = {**(extra or {}), "spent": pack.amount_label(spent)}
        if amount is not None:
            extra = {**(extra or {}), "amount": pack.amount_label(amount)}
        return Notice(
            id=notice_id or self._ids(),
            kind=kind,
            msisdn=msisdn,
            order_id=order.id if order is not None else None,
            text=pack.render(kind, _Fields(self, pack, order, extra or {}, charge)),
            at=at,
            sender=sender or self.policy.operator_number,
            rule=self.rules[kind],
            language=pack.language,
        )

    def items(
        self, orders: Iterable[Order], language: str | None, *, numbered: bool, phrase: str = ""
    ) -> str:
        """The lines of a list: numbered live orders (C8), pending orders with codes
        (C3), or each line in ``phrase`` (the monthly reminder's, C17)."""
        pack = self.policy.pack(language)
        lines = []
        for n, order in enumerate(orders, start=1):
            if phrase:
                line = phrase
            elif not numbered:
                line = "pending_item"
            elif order.kind is OfferKind.TRIAL and order.trial_ends_at is not None:
                line = "list_item_trial"
            else:
                line = "list_item"
            fields = _Fields(self, pack, order, {"n": str(n)})
            lines.append(pack.phrases[line].format_map(fields))
        return pack.phrases["item_separator"].join(lines)

    def label(self, pack: TemplateSet, name: str, access_code: str) -> str:
        """A value that depends only on the pack, the policy and the access code."""
        if name in _PER_ORDER:
            return pack.phrases[name].format(
                access_code=access_code, operator_number=self.policy.operator_number
            )
        return pack.phrases.get(name, "")

    def when(self, value: pendulum.DateTime | None, pack: TemplateSet) -> str:
        return pack.datetime_label(value, self.policy.timezone) if value is not None else ""


class _Fields(dict[str, str]):
    """The values a template may ask for: the pack's constants and the caller's
    ``extra`` up front (a dict copy), the order's fields made only when the template
    uses them."""

    def __init__(
        self,
        renderer: Renderer,
        pack: TemplateSet,
        order: Order | None,
        extra: Mapping[str, str],
        charge: Charge | None = None,
    ) -> None:
        super().__init__(renderer.constants[pack.language])
        self.update(extra)
        self.renderer = renderer
        self.pack = pack
        self.order = order
        self.charge = charge

    def __missing__(self, name: str) -> str:
        order = self.order
        if order is not None and name in _ORDER_FIELDS:
            return _ORDER_FIELDS[name](self.renderer, order, self.pack)
        if self.charge is not None and name in _CHARGE_FIELDS:
            return _CHARGE_FIELDS[name](self.charge, self.pack)
        access_code = order.access_code if order is not None else ""
        return self.renderer.label(self.pack, name, access_code)


def _renewal(order: Order, policy: Policy) -> pendulum.DateTime | None:
    """When the order renews next: a pack at the end of its validity; a monthly
    subscription at the start of the last month announced (CN25b)."""
    if order.pack is not None:
        return order.pack.valid_until
    if order.notified is not None:
        return month_start(order.notified.split("..")[-1], policy)
    return None


#: phrases that name the order's access code (or the operator's number)
_PER_ORDER = ("how_to_unsubscribe", "how_to_use", "complain")

#: what a notice about a charge (a receipt) says of it
_CHARGE_FIELDS: Mapping[str, Callable[[Charge, TemplateSet], str]] = {
    "amount": lambda charge, pack: pack.amount_label(charge.amount),
    "period": lambda charge, pack: charge.period_key,
}

_ORDER_FIELDS: Mapping[str, Callable[[Renderer, Order, TemplateSet], str]] = {
    "sp_name": lambda r, o, pack: o.sp_name,
    "service_name": lambda r, o, pack: o.service_name,
    "service_code": lambda r, o, pack: o.service_code,
    "price": lambda r, o, pack: pack.price_label(
        o.price, o.period, None if o.pack is None else o.pack.validity_days
    ),
    "renewal_date": lambda r, o, pack: r.when(_renewal(o, r.policy), pack),
    "code": lambda r, o, pack: o.code or "",
    "deadline": lambda r, o, pack: r.when(o.confirm_by, pack),
    # IN1: the reply window of the channel the order was requested on
    "valid_for": lambda r, o, pack: pack.duration_label(r.policy.window_for(o.request_channel)),
    "trial_end": lambda r, o, pack: r.when(o.trial_ends_at, pack),
    "access_code": lambda r, o, pack: o.access_code,
}
