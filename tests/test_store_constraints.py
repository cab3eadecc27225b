"""Invariant 8 as constraints of the SQL stores: even a writer that skipped the
per-subscriber lock cannot store a second live order of one subscription, or two
pending orders of one subscriber with the same code."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs
import pytest

from tests.conftest import SUB, make_catalog
from tests.test_store_postgres import DSN, drop_schema, require_postgres
from vas_lifecycle import Channel, Event, Lifecycle, ManualClock, Order, SQLiteStore, Store
from vas_lifecycle.store.base import ConflictError
from vas_lifecycle.store.sql import MIGRATIONS


@pytest.fixture(params=["sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], Store]]:
    if request.param == "sqlite":
        yield lambda: SQLiteStore(":memory:")
        return
    require_postgres()
    from vas_lifecycle import PostgresStore

    drop_schema("vas_test_constraints")
    yield lambda: PostgresStore(DSN, schema="vas_test_constraints")
    drop_schema("vas_test_constraints")


def copy_of(lc: Lifecycle, order: Order, new_id: str, **data: str) -> tuple[Order, list[Event]]:
    """The same order under another id, as a careless writer would store it."""
    events = []
    for event in lc.history(order.id):
        changed = {**event.data, **{k: v for k, v in data.items() if k in event.data}}
        events.append(attrs.evolve(event, order_id=new_id, data=changed))
    return Order.from_events(events), events


@pytest.mark.parametrize(
    ("service", "data"),
    [("NEWS", {"code": "9999"}), ("MUSIC7", {}), ("WEATHER", {})],
    ids=["second-live-subscription", "second-live-trial", "same-pending-code"],
)
def test_invariant_8_sql_constraints_refuse_what_the_lock_prevents(
    make_store: Callable[[], Store], clock: ManualClock, service: str, data: dict[str, str]
) -> None:
    lc = Lifecycle(make_catalog(), clock=clock, store=make_store())
    first = lc.request(SUB, service, channel=Channel.WEB)
    if service == "WEATHER":  # another service, but the same code as the first
        news = lc.request(SUB, "NEWS", channel=Channel.WEB)
        copy, events = copy_of(lc, news, "f" * 32, code=first.code or "")
        copy = attrs.evolve(copy, service_code="NEWS2")
        events[0] = attrs.evolve(events[0], data={**events[0].data, "service_code": "NEWS2"})
        copy = Order.from_events(events)
    else:
        copy, events = copy_of(lc, first, "f" * 32, **data)
    with pytest.raises(ConflictError), lc.store.transaction() as tx:
        tx.orders.append(copy, events, 0)
    assert [o.id for o in lc.orders_of(SUB)].count("f" * 32) == 0
    lc.close()


def test_the_sql_live_state_lists_name_every_live_state() -> None:
    # the live-state lists in the partial indexes and queries name these states
    from vas_lifecycle.states import LIVE_STATES

    statements = " ".join(s for _version, step in MIGRATIONS for s in step)
    for state in LIVE_STATES:
        assert f"'{state.value}'" in statements


@pytest.mark.parametrize("kind", ["memory", "sql"])
def test_a_conflict_names_the_order_that_moved_and_both_versions(
    make_store: Callable[[], Store], clock: ManualClock, kind: str
) -> None:
    """Of two orders written in one transaction, the second was read stale: the error
    names that one, the version it was read at and the version it had moved to."""
    from vas_lifecycle import MemoryStore

    store = MemoryStore() if kind == "memory" else make_store()
    lc = Lifecycle(make_catalog(), clock=clock, store=store)
    first = lc.request(SUB, "NEWS", channel=Channel.WEB)
    second = lc.request(SUB, "WEATHER", channel=Channel.WEB)
    lc.unsubscribe(second.id, channel=Channel.WEB)  # second is now at version 4
    stale = attrs.evolve(second, version=second.version + 1)
    with pytest.raises(ConflictError) as err, lc.store.transaction() as tx:
        tx.orders.append(attrs.evolve(first, version=first.version + 1), [], first.version)
        tx.orders.append(stale, [], second.version)
    assert (err.value.order_id, err.value.expected_version) == (second.id, second.version)
    assert err.value.found_version == second.version + 1
    assert second.id in str(err.value)
