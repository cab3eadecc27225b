"""The transition table: the compiled dispatch agrees with the transitions machine."""

from __future__ import annotations

from decimal import Decimal

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


def test_apply_changes_exactly_the_fields_each_event_sets() -> None:
    """Every event kind, from every state it may leave, applied to an order whose every
    field is set: the fields the event does not set are carried over unchanged (a field
    forgotten by ``apply`` would fall back to its default and show here)."""
    import attrs
    import pendulum

    from vas_lifecycle import Channel, Event, EventKind, Order, OrderState, Pack
    from vas_lifecycle.catalog import OfferKind, Period
    from vas_lifecycle.order import EVENT_TRIGGERS, apply
    from vas_lifecycle.states import TRANSITIONS

    at = pendulum.datetime(2026, 11, 24, 1, tz="UTC")
    sets = {
        EventKind.CONFIRMATION_REQUESTED: {"code", "confirm_by", "request_notice_id", "remind_at"},
        EventKind.CONFIRMATION_RESENT: {"reminded_at", "remind_at"},
        EventKind.CONSENT_GRANTED: {"activated_at", "consent_channel"},
        EventKind.PURCHASE_CONFIRMED: {"activated_at", "consent_channel", "fee_notice_id"},
        EventKind.TRIAL_STARTED: {"trial_ends_at", "remind_at"},
        EventKind.TRIAL_REMINDED: {"reminded_at", "remind_at"},
        EventKind.RENEWAL_NOTIFIED: {"reminded_at", "remind_at"},
        EventKind.TRIAL_CONVERTED: {
            "service_code",
            "service_name",
            "kind",
            "activated_at",
            "consent_channel",
        },
        EventKind.ORDER_COMPLETED: {"fee_notice_id"},
    }
    data = {
        "code": "4321",
        "confirm_by": at.add(days=1).isoformat(),
        "notice_id": "n9",
        "trial_ends_at": at.add(days=7).isoformat(),
        "remind_at": at.add(days=5).isoformat(),
        "fee_notice_id": "f9",
        "reason": "why",
        "service_code": "MUSIC",
        "service_name": "Music",
    }
    checked = 0
    for trigger, sources, _dest in TRANSITIONS:
        for kind in (k for k, t in EVENT_TRIGGERS.items() if t is trigger):
            for source in sources:
                full = Order(
                    "o1", "+8613800138000", "NEWS", "SP01", "SP", "News",
                    OfferKind.SUBSCRIPTION, Decimal("5"), Period.MONTH, "10658001", "zh-CN",
                    at.subtract(days=9), Channel.WEB, source, 3, "1111", at.subtract(days=8),
                    at.subtract(days=7), Channel.WEB, at.subtract(days=6), at.subtract(days=5),
                    at.subtract(days=4), "f1", at.subtract(days=3), "earlier", "n1",
                )  # fmt: skip
                event = Event("o1", 4, kind, at, Channel.SMS, "someone", None, None, data)
                after = apply(full, event)
                changed = {"state", "version", *sets.get(kind, set())}
                if kind is EventKind.TRIAL_STARTED and source is OrderState.AWAITING_CONFIRMATION:
                    changed.add("consent_channel")  # CN25a: a trial confirmed before it starts
                if not after.is_live:
                    changed |= {"ended_at", "end_reason"}
                kept = {f.name for f in attrs.fields(Order)} - changed
                assert {n: getattr(after, n) for n in kept} == {
                    n: getattr(full, n) for n in kept
                }, kind
                assert (after.state, after.version) == (_dest, 4)
                checked += 1
    assert checked >= len(TRANSITIONS)
    # a pack's consent and renewal also set its validity and its next notice
    pack = attrs.evolve(full, state=OrderState.ACTIVE, pack=Pack(28, True, at), remind_at=None)
    facts = {"valid_until": at.add(days=28).isoformat(), "remind_at": at.add(days=27).isoformat()}
    for kind in (EventKind.ORDER_RENEWED, EventKind.RENEWAL_NOTIFIED):
        event = Event("o1", 4, kind, at, None, "system", None, None, facts)
        after = apply(pack, event)
        renewed = kind is EventKind.ORDER_RENEWED
        assert after.pack == (Pack(28, True, at.add(days=28)) if renewed else pack.pack)
        assert after.remind_at == (at.add(days=27) if renewed else None)
        assert after.reminded_at == (pack.reminded_at if renewed else at)
