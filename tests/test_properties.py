"""Property tests: every invariant of RULES.md over random interleavings."""

from __future__ import annotations

import attrs
from hypothesis import settings

from vas_lifecycle import Catalog, Policy
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
