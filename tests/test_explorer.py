"""The exhaustive explorer: every sequence of up to 4 actions in the small world."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from vas_lifecycle import Charge, Lifecycle, Policy, PolicyError
from vas_lifecycle.testing import explore

#: The depth the suite explores (about a minute on the 2-core development machine;
#: docs/testing.md has the figures). Run deeper: python -m vas_lifecycle.testing.explorer
DEPTH = 4


def test_every_sequence_of_four_actions_keeps_every_invariant() -> None:
    found = explore(DEPTH)
    assert found.violation is None, found.report()
    assert found.depth == DEPTH
    assert found.states < found.sequences  # equivalent worlds were explored once


class ChargesWithoutAsking(Lifecycle):
    """A billing integration that records charges without the C11 check."""

    def record_charge(
        self,
        order_id: str,
        amount: Decimal | int | str,
        *,
        key: str,
        period_start: dt.datetime | None = None,
    ) -> Charge:
        order = self.get(order_id)
        charge = Charge(
            key, order_id, Decimal(amount), "use", None, self.clock.now(), order.version
        )
        with self.store.transaction() as tx:
            tx.ledger.add_charge(charge)
        return charge


def test_the_explorer_reports_a_shortest_sequence_to_a_broken_rule() -> None:
    found = explore(3, make_lifecycle=ChargesWithoutAsking)
    assert found.violation is not None
    path, problems = found.violation
    assert len(path) == 2, found.report()  # nothing shorter can charge an unconfirmed order
    assert path[0].startswith("SP01 requests") and path[1].startswith("billing charges")
    assert any(p.invariant == "1" for p in problems)
    assert "VIOLATION after 2 actions" in found.report()


def test_every_sequence_of_three_actions_under_the_breadth_policy_keeps_every_rule() -> None:
    """Issue 18's world (a pack, a trial that converts, claims, refunds, receipts and a
    spend cap) explored exhaustively to depth 3; deeper by hand:
    python -m vas_lifecycle.testing.explorer --breadth --depth 5."""
    found = explore(3, breadth=True)
    assert found.violation is None, found.report()
    assert found.depth == 3 and found.states < found.sequences


@pytest.mark.parametrize("preset", [p for p in Policy.presets() if p != "china_mobile"])
def test_r1_every_sequence_of_three_actions_under_each_preset_keeps_every_rule(
    preset: str,
) -> None:
    """Each regime preset (its words, numbers, confirming channel and numbers, with
    the small world's windows) explored exhaustively to depth 3 (about 10 s each);
    the China preset is the depth-4 run above. Deeper by hand:
    python -m vas_lifecycle.testing.explorer --preset uk_psa --depth 5."""
    found = explore(3, preset=preset)
    assert found.violation is None, found.report()
    assert found.depth == 3 and found.states < found.sequences


def test_an_unknown_preset_is_refused_before_anything_runs() -> None:
    with pytest.raises(PolicyError, match="no preset 'martian'"):
        explore(1, preset="martian")
