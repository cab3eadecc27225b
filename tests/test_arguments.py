"""Bad arguments get a clear error of our own tree, up front, and change nothing."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SUB, make_catalog
from vas_lifecycle import (
    CallbackError,
    Channel,
    ChargeRefusedError,
    InvalidAmountError,
    InvalidArgumentError,
    Lifecycle,
    ManualClock,
    ReasonCode,
    SQLiteStore,
    StoreError,
    VasError,
)


def active(lc: Lifecycle, clock: ManualClock) -> str:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(minutes=1))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    return order.id


@pytest.mark.parametrize("amount", [Decimal("1e30"), 10**40, "1e30", Decimal("1e-30")])
def test_c11_absurd_amounts_are_refused_as_amounts(
    lc: Lifecycle, clock: ManualClock, amount: Any
) -> None:
    order_id = active(lc, clock)
    with pytest.raises(InvalidAmountError):
        lc.may_charge(order_id, amount)
    with pytest.raises(InvalidAmountError):
        lc.record_charge(order_id, amount, key="k")
    assert lc.charges(order_id) == []


@pytest.mark.parametrize(
    "start",
    [
        dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        dt.datetime(9999, 12, 31, 23, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
        dt.datetime(1, 1, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, tzinfo=dt.UTC),
    ],
)
def test_c11_periods_out_of_range_are_refused_clearly(
    lc: Lifecycle, clock: ManualClock, start: dt.datetime
) -> None:
    order_id = active(lc, clock)
    with pytest.raises(InvalidArgumentError):
        lc.may_charge(order_id, Decimal("5.00"), period_start=start)
    with pytest.raises(InvalidArgumentError):
        lc.record_charge(order_id, Decimal("5.00"), key="k", period_start=start)


def test_c11_a_future_period_is_refused_by_record_charge_as_by_may_charge(
    lc: Lifecycle, clock: ManualClock
) -> None:
    order_id = active(lc, clock)
    later = clock.now().add(months=2)
    decision = lc.may_charge(order_id, Decimal("5.00"), period_start=later)
    assert decision.reason is ReasonCode.PERIOD_NOT_STARTED
    with pytest.raises(ChargeRefusedError) as refused:
        lc.record_charge(order_id, Decimal("5.00"), key="k", period_start=later)
    assert refused.value.reason is ReasonCode.PERIOD_NOT_STARTED


@pytest.mark.parametrize(
    "call",
    [
        lambda lc: lc.request(SUB, "NEWS", channel=Channel.WEB, language=[]),
        lambda lc: lc.request(SUB, "NEWS", channel=Channel.WEB, language="fr"),
        lambda lc: lc.run_due(batch="x"),
        lambda lc: lc.run_due(batch=0),
        lambda lc: lc.run_due(batch=True),
        lambda lc: lc.handle_sms(SUB, "Y", to=None),
        lambda lc: lc.dispatch(limit=-1),
        lambda lc: lc.dispatch(limit=0),
        lambda lc: lc.dispatch(limit="5"),
        lambda lc: lc.parked_notices(limit=-1),
        lambda lc: lc.retry_parked("abc"),
        lambda lc: lc.request(SUB, "NEWS", channel=Channel.WEB, actor=5),
        lambda lc: lc.request(SUB, "NEWS", channel=Channel.WEB, text=b"Y"),
        lambda lc: lc.request(SUB, 5, channel=Channel.WEB),
        lambda lc: lc.get(5),
        lambda lc: lc.sp_violations(5),
        lambda lc: lc.record_charge("x", Decimal("1"), key="a\x00b"),
        lambda lc: lc.record_charge("x", Decimal("1"), key="k" * 201),
    ],
)
def test_bad_arguments_are_our_clear_errors(
    lc: Lifecycle, call: Callable[[Lifecycle], object]
) -> None:
    with pytest.raises(VasError) as caught:
        call(lc)
    assert not isinstance(caught.value, StoreError)
    assert lc.orders_of(SUB) == []


@pytest.mark.parametrize("retries", [-5, 0, "3", 2.5])
def test_max_retries_must_be_a_positive_count(retries: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        Lifecycle(make_catalog(), max_retries=retries)


def test_a_failing_id_factory_is_its_own_error(clock: ManualClock) -> None:
    def ids() -> str:
        raise RuntimeError("id service down")

    lc = Lifecycle(make_catalog(), clock=clock, ids=ids, store=SQLiteStore(":memory:"))
    with pytest.raises(VasError) as caught:
        lc.request(SUB, "NEWS", channel=Channel.WEB)
    assert not isinstance(caught.value, StoreError)
    assert "id" in str(caught.value) and isinstance(caught.value.__cause__, RuntimeError)
    assert lc.orders_of(SUB) == []


def test_an_id_factory_that_returns_no_string_is_refused(clock: ManualClock) -> None:
    lc = Lifecycle(make_catalog(), clock=clock, ids=lambda: 42)  # type: ignore[arg-type, return-value]
    with pytest.raises(InvalidArgumentError):
        lc.request(SUB, "NEWS", channel=Channel.WEB)


def damage(path: Path, statement: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(statement)
    conn.commit()
    conn.close()


def test_stores_doc_promise_a_damaged_order_row_is_a_store_error(
    tmp_path: Path, clock: ManualClock
) -> None:
    db = tmp_path / "vas.db"
    lc = Lifecycle(make_catalog(), clock=clock, store=SQLiteStore(db))
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    lc.close()
    damage(db, "UPDATE vas_orders SET price = 'five'")
    lc = Lifecycle(make_catalog(), clock=clock, store=SQLiteStore(db))
    for read in (
        lambda: lc.get(order.id),
        lambda: lc.orders_of(SUB),
        lambda: lc.live_orders(SUB),
        lambda: lc.handle_sms(SUB, "0000", to="10086"),
        lambda: lc.unsubscribe(order.id, channel=Channel.HOTLINE),
    ):
        with pytest.raises(StoreError):
            read()
    damage(db, "UPDATE vas_orders SET price = '5', kind = 'nonsense'")
    with pytest.raises(StoreError):
        Lifecycle(make_catalog(), clock=clock, store=SQLiteStore(db)).get(order.id)


def test_stores_doc_promise_a_schema_version_that_is_not_a_number_is_a_store_error(
    tmp_path: Path,
) -> None:
    db = tmp_path / "vas.db"
    SQLiteStore(db).close()
    damage(db, "UPDATE vas_schema SET version = 'two'")
    with pytest.raises(StoreError):
        SQLiteStore(db)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"notifier": object()},
        {"clock": "now"},
        {"store": {}},
        {"policy": "china"},
        {"ids": "uuid"},
        {"rng": 7},
        {"delivery": 3},
    ],
)
def test_ports_of_the_wrong_kind_are_refused_when_built(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        Lifecycle(make_catalog(), **kwargs)


def test_a_failing_clock_is_its_own_error() -> None:
    class BrokenClock:
        def now(self) -> dt.datetime:
            raise OSError("no time source")

    lc = Lifecycle(make_catalog(), clock=BrokenClock())  # type: ignore[arg-type]
    with pytest.raises(CallbackError) as caught:
        lc.request(SUB, "NEWS", channel=Channel.WEB)
    assert isinstance(caught.value.__cause__, OSError)
