"""Regimes as dated versions: the machinery on plain values, the presets as data,
and a Lifecycle that follows a regime's versions by the clock (UK3's receipts from
1 Nov 2019, UK4's yearly reminder from 5 Apr 2022 until 1 Feb 2025)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import attrs
import pendulum
import pytest

from tests.conftest import make_catalog
from vas_lifecycle import (
    Catalog,
    Channel,
    ChargeRefusedError,
    ForcedSubscriptionError,
    Lifecycle,
    ManualClock,
    MemoryStore,
    NoticeKind,
    Policy,
    PolicyError,
    ReasonCode,
    RecordingNotifier,
    Regime,
    Store,
    Version,
)
from vas_lifecycle.regimes import GROUPS
from vas_lifecycle.testing import check_invariants

LONDON = "Europe/London"
UK_SUB = "+447700900001"


# --- the machinery, on plain values ------------------------------------------------------


def test_every_policy_field_is_in_exactly_one_group() -> None:
    names = [f.name for f in attrs.fields(Policy) if f.name != "name"]
    grouped = [name for fields in GROUPS.values() for name in fields]
    assert sorted(grouped) == sorted(names)


def test_r1_a_version_states_only_what_changed_and_later_versions_keep_the_rest() -> None:
    regime = Regime(
        name="r",
        versions=(
            Version(effective=dt.date(2020, 1, 1), changes={"limits": {"retention_months": 12}}),
            Version(effective=dt.date(2021, 1, 1), changes={"spend": {"monthly_reminder": False}}),
        ),
    )
    with pytest.raises(PolicyError, match="no rules before 2020-01-01"):
        regime.policy_on(dt.date(2019, 12, 31))
    first, second = regime.policy_on(dt.date(2020, 6, 1)), regime.policy_on(dt.date(2021, 1, 1))
    assert (first.retention_months, first.monthly_reminder) == (12, True)
    assert (second.retention_months, second.monthly_reminder) == (12, False)
    assert first.name == second.name == "r"


def test_the_version_in_force_at_an_instant_begins_at_local_midnight() -> None:
    regime = Policy.regime("uk_psa")
    before = pendulum.datetime(2019, 10, 31, 23, 59, tz=LONDON)
    after = pendulum.datetime(2019, 11, 1, 0, 0, tz=LONDON)
    assert not regime.policy_at(before).receipt_after_charge
    assert regime.policy_at(after).receipt_after_charge


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"nonsense": {}}, "unknown policy group"),
        ({"consent": {"retention_months": 3}}, "not in policy group 'consent'"),
        ({"limits": 3}, "mapping of field to value"),
        ([("limits", {})], "mapping of group"),
    ],
)
def test_a_version_that_names_a_field_outside_its_group_is_refused(
    changes: object, message: str
) -> None:
    with pytest.raises(PolicyError, match=message):
        Version(effective=dt.date(2020, 1, 1), changes=changes)  # type: ignore[arg-type]


def test_a_regime_is_validated_when_built() -> None:
    day = dt.date(2020, 1, 1)
    for versions in ("v1", [day], None):
        with pytest.raises(PolicyError, match="versions are"):
            Regime(name="r", versions=versions)  # type: ignore[arg-type]
    for effective in (dt.datetime(2020, 1, 1, tzinfo=dt.UTC), "2020-01-01"):
        with pytest.raises(PolicyError, match="effective day is a date"):
            Version(effective=effective)  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match="at least one version"):
        Regime(name="r", versions=())
    with pytest.raises(PolicyError, match="date order"):
        Regime(name="r", versions=(Version(effective=day), Version(effective=day)))
    # an impossible policy in a later version is refused now, not the day it applies
    bad = Version(effective=dt.date(2030, 1, 1), changes={"consent": {"code_digits": 12}})
    with pytest.raises(PolicyError, match=r"'r' on 2030-01-01: code_digits"):
        Regime(name="r", versions=(Version(effective=day), bad))
    moved = Version(effective=dt.date(2021, 1, 1), changes={"locale": {"timezone": "UTC"}})
    with pytest.raises(PolicyError, match="keep one timezone"):
        Regime(name="r", versions=(Version(effective=day), moved))


def test_rule_ids_come_and_go_with_the_versions() -> None:
    uk = Policy.regime("uk_psa")
    assert "UK4" not in uk.rules_on(dt.date(2022, 4, 4))
    assert "UK4" in uk.rules_on(dt.date(2022, 4, 5))
    on_switch = uk.rules_on(dt.date(2025, 2, 1))
    assert "UK4" not in on_switch and {"UK1", "UK3", "UK5", "UK7"} <= set(on_switch)


def test_a_fixed_policy_is_a_regime_in_force_at_every_instant() -> None:
    policy = Policy.china_mobile(retention_months=7)
    regime = Regime.fixed(policy)
    assert regime.only == policy
    assert regime.policy_at(pendulum.datetime(1970, 1, 1)) == policy
    assert regime.policy_on(dt.date(1, 1, 1)) == policy
    assert Policy.regime("uk_psa").only is None


# --- the presets ------------------------------------------------------------------------


def test_the_presets_are_listed_by_name() -> None:
    assert Policy.presets() == (
        "china_mobile",
        "india_trai",
        "uk_psa",
        "us_ctia",
        "australia_acma",
        "card_trials",
    )


def test_china_preset_is_the_default_policy_until_its_2025_version() -> None:
    china = Policy.regime("china_mobile")
    for day in (dt.date(2006, 1, 1), dt.date(2025, 4, 29)):
        assert china.policy_on(day) == Policy.china_mobile()
    assert china.policy_on(dt.date(2025, 4, 30)) == Policy.china_mobile(
        trials_need_confirmation=True
    )
    today = Policy.preset("china_mobile")
    assert today == china.policy_on(dt.date(2025, 5, 17))
    assert today == Policy.china_mobile(
        trials_need_confirmation=True,
        charge_notice_lead=dt.timedelta(days=5),
        refund_unused=True,
        rule_ids={NoticeKind.RENEWAL_NOTICE: "CN25b", NoticeKind.REFUNDED: "CN25c"},
    )


@pytest.mark.parametrize("name", Policy.presets())
def test_every_preset_records_its_sources_and_rules(name: str) -> None:
    regime = Policy.regime(name)
    for version in regime.versions:
        assert version.sources, f"{name} {version.effective}: no source"
        assert version.rules, f"{name} {version.effective}: no rule id"
    assert regime.policy_on(regime.versions[-1].effective).name == name


def test_a_day_before_the_library_has_rules_of_a_regime_is_a_clear_error() -> None:
    with pytest.raises(PolicyError, match="'uk_psa' has no rules before 2018-01-13"):
        Policy.preset("uk_psa", dt.date(2017, 12, 31))
    with pytest.raises(PolicyError, match="'us_ctia' has no rules before 2025-04-11"):
        Policy.preset("us_ctia", dt.date(2025, 4, 10))


@pytest.mark.parametrize(
    ("name", "on", "message"),
    [
        ("martian", None, "no preset 'martian'"),
        ("uk_psa+us_ctia", None, "not an overlay"),
        ("uk_psa", dt.datetime(2025, 1, 1, tzinfo=dt.UTC), "must be a date"),
        ("uk_psa", "2025-01-01", "must be a date"),
        (7, None, "a preset name is a text"),
    ],
)
def test_a_bad_preset_request_is_a_policy_error(name: object, on: object, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy.preset(name, on)  # type: ignore[arg-type]


def test_an_overlay_lies_over_a_preset_from_its_own_first_day() -> None:
    regime = Policy.regime("uk_psa+card_trials")
    before, after = dt.date(2020, 4, 17), dt.date(2020, 4, 18)
    assert not regime.policy_on(before).trial_converts
    assert regime.policy_on(before).receipt_after_charge  # the base's 2019 version
    converting = regime.policy_on(after)
    assert converting.trial_converts and converting.currency == "GBP"
    assert converting.conversion_reminder_lead == dt.timedelta(days=7)
    assert "CT1" in regime.rules_on(after) and "CT1" not in regime.rules_on(before)
    assert Policy.preset("card_trials").trial_converts  # alone: over the default policy


def test_in1_the_india_preset_has_the_windows_by_channel_and_only_the_consent_gateway() -> None:
    india = Policy.preset("india_trai", dt.date(2026, 12, 6))
    assert india.window_for(Channel.USSD) == dt.timedelta(seconds=10)
    assert india.window_for(Channel.SMS) == dt.timedelta(minutes=60)
    assert india.operator_channels == {Channel.CONSENT_GATEWAY}
    assert india.operator_number == "155223"
    assert india.retention_months == 84  # IN8, from 13 Nov 2026
    assert Policy.preset("india_trai", dt.date(2026, 11, 12)).retention_months == 5


# --- a Lifecycle that follows the versions ------------------------------------------------


def _uk_catalog() -> Catalog:
    """The demo catalog with NEWS a push service (UK6 never cancels it for idleness)."""
    return Catalog(
        attrs.evolve(s, inactivity_exempt=True) if s.code == "NEWS" else s for s in make_catalog()
    )


def _uk(store: Store, start: pendulum.DateTime) -> tuple[Lifecycle, ManualClock]:
    clock = ManualClock(start)
    lc = Lifecycle(
        _uk_catalog(),
        policy=Policy.regime("uk_psa"),
        clock=clock,
        store=store,
        notifier=RecordingNotifier(),
        rng=random.Random(5),
    )
    return lc, clock


def _subscribe(lc: Lifecycle, clock: ManualClock, msisdn: str, service: str = "NEWS") -> str:
    order = lc.request(msisdn, service, channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=10))
    lc.confirm(order.id, msisdn=msisdn, channel=Channel.SMS)
    return order.id


def _sent(lc: Lifecycle, kind: NoticeKind) -> list[str]:
    notifier = lc.notifier
    assert isinstance(notifier, RecordingNotifier)
    return [n.msisdn for n in notifier.sent if n.kind is kind]


def test_uk3_receipts_begin_on_1_november_2019(store: Store) -> None:
    lc, clock = _uk(store, pendulum.datetime(2019, 10, 1, 10, tz=LONDON))
    order_id = _subscribe(lc, clock, UK_SUB)
    assert lc.policy.currency == "GBP"
    lc.record_charge(order_id, Decimal("5.00"), key="2019-10")
    assert _sent(lc, NoticeKind.RECEIPT) == []  # before the special conditions
    clock.set(pendulum.datetime(2019, 11, 1, 0, 0, 1, tz=LONDON))
    lc.record_charge(order_id, Decimal("5.00"), key="2019-11")
    assert _sent(lc, NoticeKind.RECEIPT) == [UK_SUB]
    assert check_invariants(lc) == []


def test_uk4_uk5_a_uk_order_before_and_after_1_february_2025(store: Store) -> None:
    """Code 15's yearly reminder reaches a subscription of 2024 in January 2025; one
    made after 1 Feb 2025, when the PRS Order replaced the Code, is never sent one."""
    lc, clock = _uk(store, pendulum.datetime(2024, 3, 1, 10, tz=LONDON))
    _subscribe(lc, clock, UK_SUB)
    clock.set(pendulum.datetime(2025, 1, 2, 10, tz=LONDON))
    lc.run_due()
    lc.dispatch()
    (reminder,) = [
        n
        for n in lc.notifier.sent
        if n.kind is NoticeKind.MONTHLY_REMINDER  # type: ignore[union-attr]
    ]
    assert reminder.msisdn == UK_SUB and "£5" in reminder.text and "STOP" in reminder.text
    assert "monthly" not in reminder.text
    clock.set(pendulum.datetime(2025, 1, 20, 10, tz=LONDON))
    lc.run_due()  # once a calendar year: nothing more in January
    later_sub = "+447700900002"
    clock.set(pendulum.datetime(2025, 3, 1, 10, tz=LONDON))
    _subscribe(lc, clock, later_sub)
    for year in (2026, 2027):
        clock.set(pendulum.datetime(year, 1, 2, 10, tz=LONDON))
        lc.run_due()
        lc.dispatch()
    assert _sent(lc, NoticeKind.MONTHLY_REMINDER) == [UK_SUB]
    assert check_invariants(lc, settled=True) == []


def test_a_command_before_the_regimes_first_version_is_refused() -> None:
    lc, _clock = _uk(MemoryStore(), pendulum.datetime(2017, 6, 1, tz=LONDON))
    with pytest.raises(PolicyError, match="no rules before"):
        lc.request(UK_SUB, "NEWS", channel=Channel.WEB)
    assert lc.orders_of(UK_SUB) == []  # nothing half-written


# --- the rule id on every decision ------------------------------------------------------


def test_rule_ids_on_plain_values() -> None:
    china, uk = Policy.china_mobile(), Policy.preset("uk_psa", dt.date(2023, 6, 1))
    assert china.rule_for(NoticeKind.ACTIVATED) == "C4"
    assert china.rule_for(ReasonCode.NOT_ACTIVE) == "C11"
    assert china.rule_for(NoticeKind.MONTHLY_REMINDER) == "C17"
    assert uk.rule_for(NoticeKind.MONTHLY_REMINDER) == "UK4"  # the version's own
    assert uk.rule_for(ReasonCode.SPEND_CAP) == "UK7"
    assert uk.rule_for(NoticeKind.CANCELLED) == "UK1"  # kept from the first version
    every = [*NoticeKind, *ReasonCode]
    assert all(china.rule_for(what) for what in every), "a decision with no rule"
    assert Policy.china_mobile(rule_ids={"activated": "X1"}).rule_for(NoticeKind.ACTIVATED) == "X1"
    for bad in ({"nonsense": "X1"}, {"activated": ""}, {"activated": 7}, [("activated", "X")]):
        with pytest.raises(PolicyError, match="rule_ids"):
            Policy.china_mobile(rule_ids=bad)


def test_every_decision_carries_its_rule(store: Store) -> None:
    """Notices (stored with it), charge decisions, refusals and SP violations each
    name the rule that produced them, under the regime in force."""
    lc, clock = _uk(store, pendulum.datetime(2023, 6, 1, 10, tz=LONDON))
    order_id = _subscribe(lc, clock, UK_SUB)
    assert [n.rule for n in lc.notices(order_id)] == ["C2", "C4"]
    decision = lc.may_charge(order_id, Decimal(50))
    assert (decision.reason, decision.rule) == (ReasonCode.AMOUNT_MISMATCH, "C11")
    with pytest.raises(ChargeRefusedError) as refused:
        lc.record_charge(order_id, Decimal("5.00"), key="k", period_start=clock.now().add(days=40))
    assert refused.value.rule == "C11" and "[C11]" in str(refused.value)
    clock.advance(dt.timedelta(minutes=1))  # notices of one instant are listed by id
    lc.record_charge(order_id, Decimal("5.00"), key="k1")
    assert [n.rule for n in lc.notices(order_id)][-1] == "UK3"  # the receipt
    clock.advance(dt.timedelta(minutes=1))
    lc.handle_sms(UK_SUB, "STOP", to="10658001")
    assert [n.rule for n in lc.notices(order_id)][-1] == "UK1"
    forced = lc.request(UK_SUB, "WEATHER", channel=Channel.WEB)
    with pytest.raises(ForcedSubscriptionError) as sp_yes:
        lc.confirm(forced.id, msisdn=UK_SUB, channel=Channel.SP_API)
    assert sp_yes.value.rule == "C13"
    (violation,) = lc.sp_violations()
    assert violation.rule == "C13"
