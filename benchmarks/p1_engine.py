"""P1 engine: a whole order lifecycle in memory, against the bare peer patterns.

The engine does request -> confirm -> may_charge -> record_charge -> unsubscribe per
order on a MemoryStore, with every notice rendered, recorded and delivered. The
references do what a hand-rolled integration does per order: build one state machine
(one ``transitions.Machine``, or one ``python-statemachine`` machine) and drive three
plain state changes. Goal: engine <= 0.3x bare transitions, and faster than
python-statemachine.

Run: .venv/bin/python benchmarks/p1_engine.py [--orders 3000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from decimal import Decimal

import pendulum
from transitions import Machine

from vas_lifecycle import Channel, Lifecycle, ManualClock, RecordingNotifier
from vas_lifecycle.testing import demo_catalog

FIVE = Decimal("5.00")


def engine(orders: int) -> float:
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai"))
    lc = Lifecycle(demo_catalog(), clock=clock, notifier=RecordingNotifier())
    numbers = [f"+86138{i:08d}" for i in range(orders)]
    step = dt.timedelta(seconds=3)
    began = time.perf_counter()
    for msisdn in numbers:
        order = lc.request(msisdn, "NEWS", channel=Channel.WEB)
        clock.advance(step)
        lc.confirm(order.id, msisdn=msisdn, channel=Channel.SMS)
        lc.may_charge(order.id, FIVE)
        lc.record_charge(order.id, FIVE, key=order.id)
        lc.unsubscribe(order.id, channel=Channel.SMS)
    return (time.perf_counter() - began) / orders


class _Model:
    pass


def bare_transitions(orders: int) -> float:
    states = ["requested", "awaiting", "active", "cancelled"]
    moves = [
        ["ask", "requested", "awaiting"],
        ["confirm", "awaiting", "active"],
        ["cancel", "active", "cancelled"],
    ]
    began = time.perf_counter()
    for _ in range(orders):
        model = _Model()
        Machine(model=model, states=states, transitions=moves, initial="requested")
        model.ask()  # type: ignore[attr-defined]
        model.confirm()  # type: ignore[attr-defined]
        model.cancel()  # type: ignore[attr-defined]
    return (time.perf_counter() - began) / orders


def python_statemachine(orders: int) -> float:
    from statemachine import State, StateMachine

    class OrderMachine(StateMachine):  # type: ignore[misc]
        requested = State(initial=True)
        awaiting = State()
        active = State()
        cancelled = State(final=True)
        ask = requested.to(awaiting)
        confirm = awaiting.to(active)
        cancel = active.to(cancelled)

    began = time.perf_counter()
    for _ in range(orders):
        machine = OrderMachine()
        machine.ask()
        machine.confirm()
        machine.cancel()
    return (time.perf_counter() - began) / orders


def best(run: object, orders: int, repeat: int) -> float:
    return min(run(orders) for _ in range(repeat))  # type: ignore[operator]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ours = best(engine, args.orders, args.repeat)
    bare = best(bare_transitions, args.orders, args.repeat)
    print(f"engine, full lifecycle per order:       {ours * 1e6:8.1f} us")
    print(f"bare transitions (machine + 3 changes): {bare * 1e6:8.1f} us")
    try:
        psm = best(python_statemachine, args.orders, args.repeat)
    except ImportError:
        print("python-statemachine: not installed (pip install python-statemachine)")
    else:
        print(f"python-statemachine (machine + 3):      {psm * 1e6:8.1f} us")
        print(f"engine / python-statemachine:           {ours / psm:8.2f}x (goal < 1)")
    print(f"engine / bare transitions:              {ours / bare:8.2f}x (goal <= 0.3)")


if __name__ == "__main__":
    main()
