"""Property tests: every invariant of RULES.md over random interleavings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
from hypothesis import settings

from vas_lifecycle import Catalog, OfferKind, Policy, Service
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
