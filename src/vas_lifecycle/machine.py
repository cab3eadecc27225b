"""The state machine: the only module that imports ``transitions``.

One :class:`transitions.Machine` is built per process from
:data:`~vas_lifecycle.states.TRANSITIONS`. The facade does not attach orders to it
(one model per order would cost a machine's worth of bookkeeping per order); instead
the machine's own event table is compiled once into a ``(state, trigger) -> state``
dictionary. ``tests/test_machine.py`` drives the real machine over every pair and
proves the two agree.
"""

from __future__ import annotations

from functools import cache

from transitions import Machine

from vas_lifecycle.errors import InvalidStateError
from vas_lifecycle.states import TERMINAL_STATES, TRANSITIONS, OrderState, Trigger

__all__ = ["MachineModel", "TransitionTable", "build_machine", "mermaid_diagram", "table"]


class MachineModel:
    """The small mutable object ``transitions`` drives (records stay frozen)."""

    state: str

    def __init__(self, state: OrderState = OrderState.REQUESTED) -> None:
        self.state = state.value


def build_machine(
    model: object | None = None, initial: OrderState = OrderState.REQUESTED
) -> Machine:
    """Build the ``transitions`` machine from the table (the source of truth)."""
    return Machine(
        model=model,
        states=[s.value for s in OrderState],
        transitions=[
            {"trigger": trig.value, "source": [s.value for s in sources], "dest": dest.value}
            for trig, sources, dest in TRANSITIONS
        ],
        initial=initial.value,
        auto_transitions=False,
        ignore_invalid_triggers=False,
    )


class TransitionTable:
    """Compiled dispatch, read off the ``transitions`` machine's event table."""

    def __init__(self, machine: Machine) -> None:
        moves: dict[tuple[OrderState, Trigger], OrderState] = {}
        for name, event in machine.events.items():
            trigger = Trigger(name)
            for source, transitions in event.transitions.items():
                for transition in transitions:
                    assert transition.dest is not None
                    moves[(OrderState(source), trigger)] = OrderState(transition.dest)
        self._moves = moves

    def next_state(self, order_id: str, state: OrderState, trigger: Trigger) -> OrderState:
        """The state ``trigger`` leads to from ``state``.

        Raises:
            InvalidStateError: the move is not in the table.
        """
        dest = self._moves.get((state, trigger))
        if dest is None:
            raise InvalidStateError(order_id, state, trigger.value)
        return dest

    def allows(self, state: OrderState, trigger: Trigger) -> bool:
        return (state, trigger) in self._moves

    def moves(self) -> dict[tuple[OrderState, Trigger], OrderState]:
        return dict(self._moves)


@cache
def table() -> TransitionTable:
    """The process-wide compiled table (the machine is built once)."""
    return TransitionTable(build_machine())


def mermaid_diagram() -> str:
    """A Mermaid ``stateDiagram-v2`` of the lifecycle, generated from the table."""
    lines = ["stateDiagram-v2", f"    [*] --> {OrderState.REQUESTED.value}"]
    for trigger, sources, dest in TRANSITIONS:
        for source in sources:
            lines.append(f"    {source.value} --> {dest.value}: {trigger.value}")
    for state in OrderState:
        if state in TERMINAL_STATES:
            lines.append(f"    {state.value} --> [*]")
    return "\n".join(lines) + "\n"
