"""Turning notice kinds, orders and policy into the text a subscriber reads."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import pendulum

from vas_lifecycle.catalog import OfferKind
from vas_lifecycle.notices import Notice, NoticeKind, TemplateSet, template_fields
from vas_lifecycle.order import Order
from vas_lifecycle.policy import Policy

__all__ = ["Renderer"]


class Renderer:
    """Renders notices under one policy; caches which fields each template uses."""

    def __init__(self, policy: Policy, ids: Callable[[], str]) -> None:
        self.policy = policy
        self._ids = ids
        self._fields: dict[tuple[str, str], frozenset[str]] = {}
        self.list_word = min(policy.list_words, key=lambda w: (len(w), w))

    def _uses(self, pack: TemplateSet, name: str, template: str) -> frozenset[str]:
        key = (pack.language, name)
        fields = self._fields.get(key)
        if fields is None:
            fields = frozenset(template_fields(template))
            self._fields[key] = fields
        return fields

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
    ) -> Notice:
        pack = self.policy.pack(
            language if language is not None else getattr(order, "language", None)
        )
        fields = self._uses(pack, kind.value, pack.templates[kind])
        values = self.values(pack, fields, order, extra or {})
        return Notice(
            id=notice_id or self._ids(),
            kind=kind,
            msisdn=msisdn,
            order_id=order.id if order is not None else None,
            text=pack.render(kind, values),
            at=at,
            sender=sender or self.policy.operator_number,
            language=pack.language,
        )

    def items(self, orders: Iterable[Order], language: str | None, *, numbered: bool) -> str:
        """The lines of a list: numbered live orders (C8) or pending orders with codes (C3)."""
        pack = self.policy.pack(language)
        lines = []
        for n, order in enumerate(orders, start=1):
            if not numbered:
                phrase = "pending_item"
            elif order.kind is OfferKind.TRIAL and order.trial_ends_at is not None:
                phrase = "list_item_trial"
            else:
                phrase = "list_item"
            template = pack.phrases[phrase]
            fields = self._uses(pack, phrase, template)
            lines.append(template.format_map(self.values(pack, fields, order, {"n": str(n)})))
        return pack.phrases["item_separator"].join(lines)

    def values(
        self,
        pack: TemplateSet,
        fields: frozenset[str],
        order: Order | None,
        extra: Mapping[str, str],
    ) -> dict[str, str]:
        policy = self.policy
        phrases = pack.phrases
        values: dict[str, str] = {}
        for name in fields:
            if name in extra:
                values[name] = extra[name]
            elif order is not None and name in _ORDER_FIELDS:
                values[name] = _ORDER_FIELDS[name](order, pack, policy)
            elif name in ("how_to_unsubscribe", "how_to_use"):
                values[name] = phrases[name].format(
                    access_code=order.access_code if order else "",
                    operator_number=policy.operator_number,
                )
            elif name == "operator_number":
                values[name] = policy.operator_number
            elif name == "valid_for":
                values[name] = pack.hours_label(policy.confirmation_window)
            elif name == "pick_window":
                values[name] = pack.hours_label(policy.pick_window)
            elif name == "list_word":
                values[name] = self.list_word
            elif name in phrases:
                values[name] = phrases[name]
            else:
                values[name] = ""
        return values


def _when(value: pendulum.DateTime | None, pack: TemplateSet, policy: Policy) -> str:
    return pack.datetime_label(value, policy.timezone) if value is not None else ""


_ORDER_FIELDS: Mapping[str, Callable[[Order, TemplateSet, Policy], str]] = {
    "sp_name": lambda o, pack, policy: o.sp_name,
    "service_name": lambda o, pack, policy: o.service_name,
    "service_code": lambda o, pack, policy: o.service_code,
    "price": lambda o, pack, policy: pack.price_label(o.price, o.period),
    "code": lambda o, pack, policy: o.code or "",
    "deadline": lambda o, pack, policy: _when(o.confirm_by, pack, policy),
    "trial_end": lambda o, pack, policy: _when(o.trial_ends_at, pack, policy),
    "access_code": lambda o, pack, policy: o.access_code,
}
