"""A command that lost a race is retried on the winner's result, dated after it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import SUB, make_catalog
from tests.test_store_postgres import DSN, drop_schema, require_postgres
from tests.wrapped_store import WrappedStore
from vas_lifecycle import (
    Channel,
    Lifecycle,
    ManualClock,
    MemoryStore,
    OrderState,
    RecordingNotifier,
    Store,
)
from vas_lifecycle.testing import check_invariants


class RacedStore(WrappedStore):
    """The first time a unit of work loads an order, ``race`` runs (another worker's
    command on its own connection) before this one goes on."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, lambda orders: _Racing(orders, self), readonly=False)
        self.race: Callable[[], None] | None = None


class _Racing:
    def __init__(self, orders: Any, owner: RacedStore) -> None:
        self._orders, self._owner = orders, owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._orders, name)

    def get_order(self, order_id: str) -> Any:
        found = self._orders.get_order(order_id)
        race, self._owner.race = self._owner.race, None
        if race is not None:
            race()
        return found


@pytest.fixture(params=["memory", "postgres"])
def two_stores(request: pytest.FixtureRequest) -> Iterator[tuple[Store, Store]]:
    if request.param == "memory":
        shared = MemoryStore()
        yield shared, shared
        return
    require_postgres()
    from vas_lifecycle import PostgresStore

    drop_schema("vas_test_retries")
    first = PostgresStore(DSN, schema="vas_test_retries")
    second = PostgresStore(DSN, schema="vas_test_retries")
    yield first, second
    first.close()
    second.close()
    drop_schema("vas_test_retries")


def test_invariant_7_a_retried_command_reads_the_clock_again(
    two_stores: tuple[Store, Store], clock: ManualClock
) -> None:
    mine, theirs = two_stores
    raced = RacedStore(mine)
    lc = Lifecycle(make_catalog(), clock=clock, store=raced, notifier=RecordingNotifier())  # type: ignore[arg-type]
    other = Lifecycle(make_catalog(), clock=clock, store=theirs, notifier=RecordingNotifier())
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(minutes=1))

    def confirm_elsewhere() -> None:  # a minute later, another worker commits a yes
        clock.advance(dt.timedelta(minutes=1))
        other.confirm(order.id, msisdn=SUB, channel=Channel.SMS)

    raced.race = confirm_elsewhere
    cancelled = lc.unsubscribe(order.id, channel=Channel.HOTLINE)  # lost the race: retried
    assert cancelled.state is OrderState.CANCELLED
    kinds_and_times = [(e.kind.value, e.at) for e in lc.history(order.id)]
    assert [k for k, _at in kinds_and_times][-2:] == ["consent_granted", "order_cancelled"]
    assert kinds_and_times[-1][1] >= kinds_and_times[-2][1], "evidence out of time order"
    assert check_invariants(lc) == []
