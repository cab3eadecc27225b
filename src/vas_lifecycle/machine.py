"""The state machine: the only module that imports ``transitions``.

One :class:`transitions.Machine` is built when this module is imported, from
:data:`~vas_lifecycle.states.TRANSITIONS` (terminal states are its final states).
The facade does not attach orders to it (one model per order would cost a machine's
worth of bookkeeping per order); instead the machine's own event table is compiled
into a ``(state, trigger) -> state`` dictionary, :data:`TABLE`.
``tests/test_machine.py`` drives the real machine over every pair and proves the two
agree. The diagram is drawn by ``transitions``' own Mermaid engine.
"""

from __future__ import annotations

from transitions import Machine
from transitions.extensions import GraphMachine

from vas_lifecycle.errors import InvalidStateError
from vas_lifecycle.states import TERMINAL_STATES, TRANSITIONS, OrderState, Trigger

__all__ = [
    "TABLE",
    "MachineModel",
    "TransitionTable",
    "build_machine",
    "mermaid_diagram",
    "table",
]


class MachineModel:
    """The small mutable object ``transitions`` drives (records stay frozen)."""

    state: str

    def __init__(self, state: OrderState = OrderState.REQUESTED) -> None:
        self.state = state.value


def _states() -> list[dict[str, object]]:
    """The machine's states; the terminal ones are final."""
    return [{"name": s.value, "final": s in TERMINAL_STATES} for s in OrderState]


def _transitions() -> list[dict[str, object]]:
    """The machine's transitions, from the table (the source of truth)."""
    return [
        {"trigger": trig.value, "source": [s.value for s in sources], "dest": dest.value}
        for trig, sources, dest in TRANSITIONS
    ]


def build_machine(
    model: object | None = None, initial: OrderState = OrderState.REQUESTED
) -> Machine:
    """Build the ``transitions`` machine from the table."""
    return Machine(
        model=model,
        states=_states(),
        transitions=_transitions(),
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


#: The compiled table of this process (the machine is built once, on import).
TABLE = TransitionTable(build_machine())


def table() -> TransitionTable:
    """The process-wide compiled table, :data:`TABLE`."""
    return TABLE


def mermaid_diagram() -> str:
    """A Mermaid ``stateDiagram-v2`` of the lifecycle, drawn by ``transitions``' own
    Mermaid engine from the machine built from the table."""
    model = MachineModel()
    GraphMachine(
        model=model,
        states=_states(),
        transitions=_transitions(),
        initial=OrderState.REQUESTED.value,
        auto_transitions=False,
        title="VAS order lifecycle",
        graph_engine="mermaid",
    )
    drawn: str = model.get_graph().draw(None)  # type: ignore[attr-defined]
    head, title, rest = drawn.split("\n", 2)
    if head == "---" and ":" not in title:  # Mermaid's front matter names its keys
        drawn = f"{head}\ntitle: {title}\n{rest}"
    return drawn.rstrip("\n") + "\n"
