"""Regimes: a rule set as a sequence of dated versions (docs/specification.md, "Other regimes").

A :class:`Regime` is a name and its :class:`Version` s, each with the local date it
applies from (in the regime's time zone), what it changes, grouped as the policy is
(:data:`GROUPS`: a version states only what changed, group by group), the rule ids it
brings in and retires, and its sources (a version's ``rule_ids`` add to those
before it; every other field it names replaces the one before). The policy in force on a day is the first
version's changes over the default :class:`Policy`, then each later version's over
that, up to the day. Every version's policy is built (and so validated) when the
regime is: a version that makes an impossible policy is refused then, not the day it
comes into force.

An *overlay* (``card_trials``) is a regime over another one: :meth:`Regime.over`
gives the combination, whose versions begin on the dates of either.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs
import pendulum

from vas_lifecycle.errors import PolicyError
from vas_lifecycle.policy import Policy

__all__ = ["GROUPS", "Regime", "Version"]

#: The policy's fields by group: a version's changes name the group of each field.
GROUPS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "locale": frozenset(
            {
                "country_code",
                "timezone",
                "currency",
                "language",
                "operator_number",
                "templates",
                "rule_ids",
            }
        ),
        "consent": frozenset(
            {
                "confirmation_window",
                "confirmation_windows",
                "confirm_words",
                "decline_words",
                "operator_channels",
                "code_digits",
                "fastest_human_reply",
                "confirmation_resend",
            }
        ),
        "trials": frozenset(
            {
                "trial_reminder_lead",
                "remind_short_trials_at_midpoint",
                "trial_converts",
                "conversion_reminder_lead",
                "short_conversions_need_reminder",
                "trials_need_confirmation",
            }
        ),
        "quiet_hours": frozenset({"quiet_hours", "quiet_kinds", "stale_kinds"}),
        "words": frozenset(
            {
                "pick_window",
                "list_words",
                "cancel_all_words",
                "pick_separators",
                "unsubscribe_words",
                "unsubscribe_scope",
                "all_here_words",
                "blank_lists",
                "one_opt_out_text",
                "acknowledge_opt_out",
                "revocation_hints",
                "help_words",
            }
        ),
        "limits": frozenset(
            {
                "sp_daily_request_limit",
                "per_charge_cap",
                "spend_cap",
                "spend_cap_period",
                "retention_months",
            }
        ),
        "renewals": frozenset(
            {
                "first_period",
                "renewal_notice_lead",
                "long_pack_notice",
                "renewal_requires_consent",
                "charge_notice_lead",
                "cancel_after_inactivity",
            }
        ),
        "refunds": frozenset({"refund_window", "refund_unused"}),
        "spend": frozenset(
            {
                "receipt_after_charge",
                "spend_reminder_every",
                "spend_reminder_interval",
                "monthly_reminder",
                "reminder_months",
            }
        ),
    }
)

#: The first day the library has any rule for; a fixed policy applies from it.
EVER = dt.date(1, 1, 1)
_DAWN = pendulum.DateTime(1, 1, 2, tzinfo=pendulum.UTC)  # every zone's 1 Jan 0001 is over by then


def _changes(value: Mapping[str, Mapping[str, object]]) -> Mapping[str, Mapping[str, object]]:
    if not isinstance(value, Mapping):
        raise PolicyError("a version's changes are a mapping of group to {field: value}")
    checked: dict[str, Mapping[str, object]] = {}
    for group, fields in value.items():
        if group not in GROUPS:
            raise PolicyError(f"unknown policy group {group!r} (groups: {', '.join(GROUPS)})")
        if not isinstance(fields, Mapping):
            raise PolicyError(f"the changes of group {group!r} are a mapping of field to value")
        strangers = sorted(set(fields) - GROUPS[group])
        if strangers:
            raise PolicyError(f"{', '.join(strangers)} not in policy group {group!r}")
        checked[group] = MappingProxyType(dict(fields))
    return MappingProxyType(checked)


def _day(value: object) -> dt.date:
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise PolicyError(f"a version's effective day is a date, got {type(value).__name__}")
    return value


def _ids(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise PolicyError("rule ids and sources are a collection of texts, not one text")
    return tuple(value)


@attrs.frozen(kw_only=True)
class Version:
    """One dated version of a regime: from ``effective`` (a local date of the regime's
    time zone), ``changes`` (``{group: {field: value}}``) over the version before;
    ``rules`` in force from then on, ``retired`` no longer; where the rules come from."""

    effective: dt.date = attrs.field(converter=_day)
    changes: Mapping[str, Mapping[str, object]] = attrs.field(factory=dict, converter=_changes)
    rules: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    retired: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    sources: tuple[str, ...] = attrs.field(default=(), converter=_ids)
    note: str = ""

    def fields(self) -> dict[str, object]:
        """The changes as one ``{field: value}`` mapping."""
        return {name: v for group in self.changes.values() for name, v in group.items()}


def _versions(value: Iterable[Version]) -> tuple[Version, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise PolicyError("a regime's versions are a sequence of Version")
    found = tuple(value)
    for version in found:
        if not isinstance(version, Version):
            raise PolicyError(f"a regime's versions are Version, got {type(version).__name__}")
    return found


def _in_order(instance: Regime, attribute: object, value: tuple[Version, ...]) -> None:
    if not value:
        raise PolicyError(f"regime {instance.name!r} needs at least one version")
    days = [v.effective for v in value]
    if any(later <= earlier for earlier, later in itertools.pairwise(days)):
        raise PolicyError(f"the versions of {instance.name!r} must be in date order, one a day")


@attrs.frozen(kw_only=True)
class Regime:
    """A named rule set as dated versions; ``base`` is the regime an overlay lies on
    (None: the versions lie on the default policy, or on ``start`` when given)."""

    name: str
    title: str = ""
    versions: tuple[Version, ...] = attrs.field(converter=_versions, validator=_in_order)
    base: Regime | None = None
    start: Policy | None = None
    #: (first local day, its first instant in UTC, the policy in force from it),
    #: oldest first, built with the regime
    dated: tuple[tuple[dt.date, pendulum.DateTime, Policy], ...] = attrs.field(
        init=False, eq=False, repr=False
    )
    #: the policy, when one is in force at every instant (a fixed regime), else None
    only: Policy | None = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        days = {v.effective for v in self.versions}
        if self.base is not None:
            days = {d for d in days if d >= self.base.dated[0][0]}
            days |= {day for day, _, _ in self.base.dated}
        built = []
        for day in sorted(days):
            policy = self._build(day)
            built.append((day, _midnight(day, policy), policy))
        for _, _, policy in built[1:]:
            for name in ("country_code", "timezone"):
                if getattr(policy, name) != getattr(built[0][2], name):
                    raise PolicyError(f"the versions of {self.name!r} must keep one {name}")
        object.__setattr__(self, "dated", tuple(built))
        fixed = len(built) == 1 and built[0][0] == EVER
        object.__setattr__(self, "only", built[0][2] if fixed else None)

    @property
    def country_code(self) -> str:
        """The country calling code, the same in every version."""
        return self.dated[0][2].country_code

    @property
    def timezone(self) -> str:
        """The time zone, the same in every version (where its dates are days)."""
        return self.dated[0][2].timezone

    def _build(self, day: dt.date) -> Policy:
        if self.base is not None:
            policy = self.base.policy_on(day)
        else:
            policy = self.start if self.start is not None else Policy()
        changes: dict[str, Any] = {}
        rule_ids: dict[Any, str] = dict(policy.rule_ids)
        for version in self.versions:
            if version.effective <= day:
                fields = version.fields()
                added = fields.pop("rule_ids", None)
                if isinstance(added, Mapping):  # they add up
                    rule_ids.update(added)
                changes.update(fields)
        changes["rule_ids"] = rule_ids
        try:
            return attrs.evolve(policy, name=self.name, **changes)
        except PolicyError as err:
            raise PolicyError(f"{self.name!r} on {day}: {err}") from err

    @classmethod
    def fixed(cls, policy: Policy) -> Regime:
        """One policy, in force at every instant."""
        return cls(name=policy.name, versions=(Version(effective=EVER),), start=policy)

    def over(self, base: Regime) -> Regime:
        """This overlay over ``base``: ``base``'s policy on each day with this
        regime's changes in force that day."""
        return Regime(
            name=f"{base.name}+{self.name}",
            title=f"{base.title or base.name}, with {self.title or self.name}",
            versions=self.versions,
            base=base,
        )

    # --- reading ------------------------------------------------------------------------

    def policy_on(self, day: dt.date) -> Policy:
        """The policy in force on the local day ``day``; :class:`PolicyError` before
        the first version (the library has no rules of this regime for that day)."""
        for first, _, policy in reversed(self.dated):
            if day >= first:
                return policy
        raise self._none_before(day.isoformat())

    def policy_at(self, when: dt.datetime, *, or_first: bool = False) -> Policy:
        """The policy in force at the instant ``when`` (see :meth:`policy_on`); with
        ``or_first``, the first version before the regime begins instead of a
        ``PolicyError`` (for what only reads: the outbox, the checker)."""
        for _, first, policy in reversed(self.dated):
            if when >= first:
                return policy
        if or_first:
            return self.dated[0][2]
        raise self._none_before(when.isoformat())

    def _none_before(self, asked: str) -> PolicyError:
        return PolicyError(
            f"{self.name!r} has no rules before {self.dated[0][0].isoformat()} (asked for {asked})"
        )

    def rules_on(self, day: dt.date) -> tuple[str, ...]:
        """The rule ids in force on ``day`` (the base's first, for an overlay)."""
        rules: list[str] = list(self.base.rules_on(day)) if self.base is not None else []
        for version in self.versions:
            if version.effective <= day:
                rules = [r for r in rules if r not in version.retired]
                rules += [r for r in version.rules if r not in rules]
        return tuple(rules)


def _midnight(day: dt.date, policy: Policy) -> pendulum.DateTime:
    if day == EVER:
        return _DAWN
    local = pendulum.datetime(day.year, day.month, day.day, tz=policy.timezone)
    return local.in_timezone("UTC")
