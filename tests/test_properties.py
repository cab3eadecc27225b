"""Property tests: every invariant of the specification (docs/specification.md) over random interleavings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pendulum
from hypothesis import settings

from vas_lifecycle import Catalog, OfferKind, Policy, Regime, Service
from vas_lifecycle.testing import LifecycleMachine, demo_catalog

TestLifecycleMachine = LifecycleMachine.TestCase


class _OtherOperator(LifecycleMachine):
    """An integrator's own regime: another operator number, another catalog, with
    access codes the default machine never texts."""

    def make_policy(self) -> Policy:
        return attrs.evolve(Policy.china_mobile(), operator_number="10010")

    def make_catalog(self) -> Catalog:
        return Catalog(
            [
                attrs.evolve(s, access_code=f"1066{n:04d}")
                for n, s in enumerate(demo_catalog())
                if s.code in ("NEWS", "JOKE", "MUSIC7")
            ]
        )


_OtherOperator.TestCase.settings = settings(max_examples=15, stateful_step_count=25)
TestOtherOperator = _OtherOperator.TestCase


class _WithReceipts(LifecycleMachine):
    """A regime that sends a receipt after every charge (UK3): every sequence of
    charges, billing passes, cancellations and restarts keeps one receipt per
    charge (the checker's UK3 rule runs after every step)."""

    def make_policy(self) -> Policy:
        return Policy.china_mobile(receipt_after_charge=True)


_WithReceipts.TestCase.settings = settings(max_examples=15, stateful_step_count=25)
TestUk3WithReceipts = _WithReceipts.TestCase


def test_the_machine_takes_its_numbers_and_services_from_its_hooks() -> None:
    machine = _OtherOperator()
    assert machine.operator == "10010"
    assert machine.service_codes() == ["JOKE", "MUSIC7", "NEWS"]
    assert machine.numbers_texted() == ["10010", "10660000", "10660002", "10660003", "106"]


class _Extended(LifecycleMachine):
    """The lifecycle's breadth (issue 18) under random interleavings: receipts, caps,
    spend reminders at a step and an interval, refunds with a claim window, inactivity
    and packs with renewal notices, beside pauses, refunds, uses and claims; every
    invariant and rule the checker knows holds after every step."""

    def make_policy(self) -> Policy:
        return Policy.china_mobile(
            receipt_after_charge=True,
            per_charge_cap=Decimal("30"),
            spend_cap=Decimal("40"),
            spend_reminder_every=Decimal("10"),
            spend_reminder_interval=dt.timedelta(days=3),
            refund_window=dt.timedelta(hours=24),
            cancel_after_inactivity=dt.timedelta(days=2),
            renewal_notice_lead=dt.timedelta(hours=24),
        )

    def make_catalog(self) -> Catalog:
        pack = Service(
            code="PACK3",
            sp_id="SP01",
            sp_name="星辰科技",
            name="三日包",
            kind=OfferKind.SUBSCRIPTION,
            price=Decimal("2.00"),
            access_code="10658001",
            validity_days=3,
        )
        return Catalog([*demo_catalog(), pack])


_Extended.TestCase.settings = settings(max_examples=25, stateful_step_count=30)
TestExtendedPolicy = _Extended.TestCase


def _preset_machine(name: str, start: pendulum.DateTime | None) -> type[LifecycleMachine]:
    """The machine under a preset's regime (its versions followed by the clock)."""

    class _Preset(LifecycleMachine):
        def make_policy(self) -> Regime:
            return Policy.regime(name)

    _Preset.__name__ = _Preset.__qualname__ = f"Preset_{name}"
    if start is not None:
        _Preset.start = start
    _Preset.TestCase.settings = settings(max_examples=20, stateful_step_count=25)
    return _Preset


#: Each preset, some started days before a version of theirs begins so that runs
#: cross the switch (CN25b/c on 17 May 2025; UK5 on 1 Feb 2025; IN8 on 13 Nov 2026).
PRESET_STARTS = {
    "china_mobile": pendulum.datetime(2025, 5, 14, 9, tz="Asia/Shanghai"),
    "india_trai": pendulum.datetime(2026, 11, 10, 9, tz="Asia/Kolkata"),
    "uk_psa": pendulum.datetime(2025, 1, 29, 9, tz="Europe/London"),
    "us_ctia": None,
    "australia_acma": None,
    "card_trials": None,
}
TestPresetChinaMobile = _preset_machine("china_mobile", PRESET_STARTS["china_mobile"]).TestCase
TestPresetIndiaTrai = _preset_machine("india_trai", PRESET_STARTS["india_trai"]).TestCase
TestPresetUkPsa = _preset_machine("uk_psa", PRESET_STARTS["uk_psa"]).TestCase
TestPresetUsCtia = _preset_machine("us_ctia", None).TestCase
TestPresetAustraliaAcma = _preset_machine("australia_acma", None).TestCase
TestPresetUsCtiaCardTrials = _preset_machine("us_ctia+card_trials", None).TestCase


def test_every_preset_has_its_stateful_machine() -> None:
    assert set(PRESET_STARTS) == set(Policy.presets())
