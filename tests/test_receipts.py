"""Receipts (UK3): where the policy asks, every recorded charge sends the subscriber a
receipt naming the service, the SP, the amount, the period, how to stop and where to
complain. Off in the China preset, whose notices stay exactly as they were."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import START, make_catalog
from tests.test_store_postgres import store_factories
from vas_lifecycle import (
    ENGLISH,
    SIMPLIFIED_CHINESE,
    Channel,
    ChargeRefusedError,
    Lifecycle,
    ManualClock,
    MemoryStore,
    Notice,
    NoticeKind,
    Policy,
    PolicyError,
    RecordingNotifier,
    Store,
    VasError,
)
from vas_lifecycle.notices import TemplateSet
from vas_lifecycle.testing import check_invariants

RECEIPTS = Policy.china_mobile(receipt_after_charge=True)
SUBS = [f"+86138000{n:05d}" for n in range(5)]


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], Store]]:
    yield from store_factories(request.param, "vas_test_receipts")


def _world(store: Store, policy: Policy = RECEIPTS) -> tuple[Lifecycle, ManualClock]:
    clock = ManualClock(START)
    lc = Lifecycle(
        make_catalog(), clock=clock, store=store, policy=policy, notifier=RecordingNotifier()
    )
    return lc, clock


def _active(lc: Lifecycle, clock: ManualClock, msisdn: str, language: str | None = None) -> str:
    order = lc.request(msisdn, "NEWS", channel=Channel.WEB, language=language)
    clock.advance(dt.timedelta(seconds=30))
    lc.confirm(order.id, msisdn=msisdn, channel=Channel.SMS)
    return order.id


def _receipts(lc: Lifecycle, order_id: str) -> list[Notice]:
    return [n for n in lc.notices(order_id) if n.kind is NoticeKind.RECEIPT]


def test_uk3_a_recorded_charge_sends_a_receipt_with_what_a_receipt_must_say(
    make_store: Callable[[], Store],
) -> None:
    lc, clock = _world(make_store())
    order_id = _active(lc, clock, SUBS[0])
    charge = lc.record_charge(order_id, Decimal("5.00"), key="2026-11/NEWS")
    (receipt,) = _receipts(lc, order_id)
    order = lc.get(order_id)
    assert receipt.msisdn == SUBS[0] and receipt.at == charge.at
    for part in (order.sp_name, order.service_name, "5元", charge.period_key, "TD", "10086"):
        assert part in receipt.text, part
    assert "投诉" in receipt.text  # where to complain
    # a retry of the same charge (same key) is not a second charge, nor a second receipt
    assert lc.record_charge(order_id, Decimal("5.00"), key="2026-11/NEWS") == charge
    assert len(_receipts(lc, order_id)) == 1
    assert check_invariants(lc) == []


def test_uk3_a_refused_charge_sends_no_receipt(make_store: Callable[[], Store]) -> None:
    lc, _clock = _world(make_store())
    order = lc.request(SUBS[0], "NEWS", channel=Channel.WEB)  # never confirmed
    with pytest.raises(ChargeRefusedError):
        lc.record_charge(order.id, Decimal("5.00"), key="k")
    assert _receipts(lc, order.id) == []


def test_uk3_the_billing_pass_sends_one_receipt_per_charge(
    make_store: Callable[[], Store],
) -> None:
    lc, clock = _world(make_store())
    orders = [_active(lc, clock, sub) for sub in SUBS]
    lc.unsubscribe(orders[-1], channel=Channel.SMS)  # not charged: no receipt
    clock.set(pendulum.datetime(2026, 12, 1, 1, tz="Asia/Shanghai"))
    summary = lc.billing_run(dt.date(2026, 12, 1))
    assert summary.charged == len(SUBS) - 1
    assert lc.billing_run(dt.date(2026, 12, 1)).charged == 0  # a rerun: nothing more
    assert [len(_receipts(lc, oid)) for oid in orders] == [1, 1, 1, 1, 0]
    assert all("2026-12" in r.text for oid in orders[:-1] for r in _receipts(lc, oid))
    assert check_invariants(lc) == []


def test_uk3_a_receipt_speaks_the_subscribers_language(make_store: Callable[[], Store]) -> None:
    lc, clock = _world(make_store())
    order_id = _active(lc, clock, SUBS[0], language="en")
    lc.record_charge(order_id, Decimal("5.00"), key="k1")
    (receipt,) = _receipts(lc, order_id)
    assert receipt.language == "en"
    assert receipt.text.startswith("[Receipt] You were charged CNY 5 for")
    assert "complaints" in receipt.text


def test_uk3_the_china_preset_sends_no_receipt(make_store: Callable[[], Store]) -> None:
    lc, clock = _world(make_store(), Policy.china_mobile())
    order_id = _active(lc, clock, SUBS[0])
    lc.record_charge(order_id, Decimal("5.00"), key="k1")
    assert _receipts(lc, order_id) == []
    assert [n.kind for n in lc.notices(order_id)] == [
        NoticeKind.CONFIRMATION_REQUEST,
        NoticeKind.ACTIVATED,
    ]
    assert check_invariants(lc) == []


def test_uk3_the_checker_finds_a_charge_without_its_receipt() -> None:
    # the same history read under the receipt policy: its charge has no receipt
    lc, clock = _world(MemoryStore(), Policy.china_mobile())
    order_id = _active(lc, clock, SUBS[0])
    lc.record_charge(order_id, Decimal("5.00"), key="k1")
    strict = Lifecycle(make_catalog(), clock=clock, store=lc.store, policy=RECEIPTS)
    problems = check_invariants(strict)
    assert [(p.invariant, p.order_id) for p in problems] == [("UK3", order_id)]


def test_uk3_a_pack_without_a_receipt_template_is_refused() -> None:
    templates = dict(SIMPLIFIED_CHINESE.templates)
    del templates[NoticeKind.RECEIPT]
    with pytest.raises(PolicyError, match="receipt"):
        TemplateSet("zh-CN", templates, SIMPLIFIED_CHINESE.phrases)
    lacking = {**ENGLISH.templates, NoticeKind.RECEIPT: "[Receipt] {amount} for {service_name}."}
    with pytest.raises(PolicyError, match="receipt"):
        TemplateSet("en", lacking, ENGLISH.phrases)


@settings(max_examples=30, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, len(SUBS) - 1), st.sampled_from(["charge", "bill", "stop"])),
        max_size=20,
    )
)
def test_uk3_every_sequence_of_charges_has_one_receipt_per_charge(
    steps: list[tuple[int, str]],
) -> None:
    lc, clock = _world(MemoryStore())
    orders = [_active(lc, clock, sub) for sub in SUBS]
    month = 0
    for n, (who, action) in enumerate(steps):
        if action == "charge":
            # refused when cancelled, a period already charged, a key reused
            with contextlib.suppress(VasError):
                lc.record_charge(orders[who], Decimal("5.00"), key=f"k{n % 3}-{who}")
        elif action == "bill":
            first = pendulum.datetime(2026, 12, 1, tz="Asia/Shanghai").add(months=month)
            month += 1
            clock.set(first.add(hours=1))
            lc.billing_run(first.date())
        else:
            lc.unsubscribe(orders[who], channel=Channel.SMS)
    assert check_invariants(lc) == []
