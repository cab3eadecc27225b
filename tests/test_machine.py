"""The transition table: the compiled dispatch agrees with the transitions machine."""

from __future__ import annotations

import pytest
from transitions import MachineError

from vas_lifecycle import LIVE_STATES, TERMINAL_STATES, InvalidStateError, OrderState, Trigger
from vas_lifecycle.machine import MachineModel, build_machine, table


@pytest.mark.parametrize("state", list(OrderState))
@pytest.mark.parametrize("trigger", list(Trigger))
def test_compiled_table_agrees_with_transitions_on_every_pair(
    state: OrderState, trigger: Trigger
) -> None:
    model = MachineModel(state)
    build_machine(model, initial=state)
    try:
        model.trigger(trigger.value)
    except MachineError:
        expected = None
    else:
        expected = OrderState(model.state)
    compiled = table()
    assert compiled.allows(state, trigger) is (expected is not None)
    if expected is None:
        with pytest.raises(InvalidStateError) as err:
            compiled.next_state("o1", state, trigger)
        assert (err.value.state, err.value.trigger) == (state, trigger.value)
    else:
        assert compiled.next_state("o1", state, trigger) is expected


def test_terminal_states_have_no_way_out() -> None:
    for (state, _trigger), _dest in table().moves().items():
        assert state not in TERMINAL_STATES


def test_c7_every_live_state_can_be_cancelled() -> None:
    for state in LIVE_STATES:
        assert table().next_state("o", state, Trigger.CANCEL) is OrderState.CANCELLED


def test_machine_is_built_once_per_process() -> None:
    assert table() is table()


def test_diagram_drawn_by_transitions_has_exactly_the_table_s_moves() -> None:
    """The Mermaid diagram comes from transitions' own engine; every edge it draws is a
    move of the table and every move of the table is drawn."""
    from vas_lifecycle import mermaid_diagram
    from vas_lifecycle.states import TRANSITIONS

    drawn: set[tuple[str, str, str]] = set()
    for line in mermaid_diagram().splitlines():
        source, arrow, rest = line.strip().partition(" --> ")
        if not arrow or source == "[*]":
            continue
        dest, _, labels = rest.partition(": ")
        drawn |= {(source, trigger, dest) for trigger in labels.split(" | ")}
    declared = {
        (source.value, trigger.value, dest.value)
        for trigger, sources, dest in TRANSITIONS
        for source in sources
    }
    assert drawn == declared
    assert "[*] --> requested" in mermaid_diagram()
