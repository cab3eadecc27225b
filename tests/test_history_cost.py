"""Invariant 9: a command's cost does not grow with the subscriber's finished orders.

Measured in what the command reads from the store (orders loaded), not in seconds,
so the test says the same on any machine; benchmarks/history.py has the timings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import START, make_catalog
from tests.test_store_postgres import store_factories
from tests.wrapped_store import WrappedStore
from vas_lifecycle import Channel, Lifecycle, ManualClock, Order, Store


class CountingStore(WrappedStore):
    """Counts the orders a unit of work loads, whatever read it used."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, lambda orders: _Counting(orders, self))
        self.loaded = 0


class _Counting:
    def __init__(self, orders: Any, owner: CountingStore) -> None:
        self._orders, self._owner = orders, owner

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._orders, name)
        if not callable(found):
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            result = found(*args, **kwargs)
            if isinstance(result, Order):
                self._owner.loaded += 1
            elif isinstance(result, list):
                self._owner.loaded += sum(isinstance(o, Order) for o in result)
            return result

        return counted


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def new_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], Store]]:
    yield from store_factories(request.param, "vas_test_history")


def loads_per_command(make_store: Callable[[], Store], finished: int) -> list[int]:
    """Orders loaded by each command of a day's texts, after ``finished`` old orders."""
    clock = ManualClock(START)
    store = CountingStore(make_store())
    lc = Lifecycle(make_catalog(), clock=clock, store=store)
    sub = "+8613800138000"
    for n in range(finished):  # on-demand orders, requests refused, cancelled trials
        if n % 3 == 0:
            lc.request(sub, "JOKE", channel=Channel.WEB)
        elif n % 3 == 1:
            lc.request(sub, "NEWS", channel=Channel.SP_API)  # over the limit: rejected
        else:
            lc.unsubscribe(lc.request(sub, "GAME1", channel=Channel.WAP).id, channel="sms")
    clock.advance(dt.timedelta(days=2))
    lc.run_due()  # every old order is finished now
    assert lc.live_orders(sub) == []
    steps: list[Callable[[], object]] = [
        lambda: lc.request(sub, "NEWS", channel=Channel.SP_API),
        lambda: lc.request(sub, "JOKE", channel=Channel.SMS),
        lambda: lc.request(sub, "JOKE", channel=Channel.SMS),
        lambda: clock.advance(dt.timedelta(minutes=1)),
        lambda: lc.handle_sms(sub, "Y", to="10086"),
        lambda: lc.handle_sms(sub, "0000", to="10086"),
        lambda: lc.handle_sms(sub, "1", to="10086"),
        lambda: lc.handle_sms(sub, "TD", to="10658001"),
        lambda: lc.handle_sms(sub, "hello", to="10086"),
    ]
    counts = []
    for step in steps:
        store.loaded = 0
        step()
        counts.append(store.loaded)
    store.close()
    return counts


def test_invariant_9_a_command_reads_the_same_with_or_without_finished_orders(
    new_store: Callable[[], Store],
) -> None:
    assert loads_per_command(new_store, 0) == loads_per_command(new_store, 90)
