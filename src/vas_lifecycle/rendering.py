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
        self._labels: dict[tuple[object, ...], str] = {}

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
        values: dict[str, str] = {}
        access_code = order.access_code if order is not None else ""
        for name in fields:
            if name in extra:
                values[name] = extra[name]
            elif order is not None and name in _ORDER_FIELDS:
                values[name] = _ORDER_FIELDS[name](self, order, pack)
            else:
                values[name] = self._label(pack, name, access_code)
        return values

    def _label(self, pack: TemplateSet, name: str, access_code: str) -> str:
        """A value that depends on the pack, the policy and at most the access code;
        computed once (the labels of dates and prices are cached the same way: the
        same few recur in every batch of notices)."""
        key = ("label", pack.language, name, access_code)
        label = self._labels.get(key)
        if label is None:
            label = self._labels[key] = self._make_label(pack, name, access_code)
        return label

    def _make_label(self, pack: TemplateSet, name: str, access_code: str) -> str:
        policy = self.policy
        phrases = pack.phrases
        if name in ("how_to_unsubscribe", "how_to_use"):
            return phrases[name].format(
                access_code=access_code, operator_number=policy.operator_number
            )
        if name == "operator_number":
            return policy.operator_number
        if name == "valid_for":
            return pack.hours_label(policy.confirmation_window)
        if name == "pick_window":
            return pack.hours_label(policy.pick_window)
        if name == "list_word":
            return self.list_word
        return phrases.get(name, "")

    def price(self, order: Order, pack: TemplateSet) -> str:
        key = ("price", pack.language, order.price, order.period)
        label = self._labels.get(key)
        if label is None:
            label = self._labels[key] = pack.price_label(order.price, order.period)
        return label

    def when(self, value: pendulum.DateTime | None, pack: TemplateSet) -> str:
        if value is None:
            return ""
        key = ("when", pack.language, value)
        label = self._labels.get(key)
        if label is None:
            if len(self._labels) > 100_000:  # dates keep coming: start over now and then
                self._labels.clear()
            label = self._labels[key] = pack.datetime_label(value, self.policy.timezone)
        return label


_ORDER_FIELDS: Mapping[str, Callable[[Renderer, Order, TemplateSet], str]] = {
    "sp_name": lambda r, o, pack: o.sp_name,
    "service_name": lambda r, o, pack: o.service_name,
    "service_code": lambda r, o, pack: o.service_code,
    "price": lambda r, o, pack: r.price(o, pack),
    "code": lambda r, o, pack: o.code or "",
    "deadline": lambda r, o, pack: r.when(o.confirm_by, pack),
    "trial_end": lambda r, o, pack: r.when(o.trial_ends_at, pack),
    "access_code": lambda r, o, pack: o.access_code,
}
