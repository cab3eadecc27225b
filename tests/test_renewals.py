"""Packs and their renewals (IN3, IN7, CN25b; issue 18): a pack is valid a number of
days from its activation and charged once per validity period. Where the policy asks,
a renewal notice goes out the lead before each renewal, with the date, the charge and
how to stop; a pack that renews by itself renews only if that notice went out in
time, else it lapses (state and event), never charged silently; a policy can ask for
a fresh confirmation of each renewal instead, and a pack lapses without it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.conftest import START, make_catalog
from tests.test_store_postgres import store_factories
from vas_lifecycle import (
    Catalog,
    Channel,
    FeedEvent,
    FeedKind,
    Lifecycle,
    ManualClock,
    MemoryStore,
    NoticeKind,
    OfferKind,
    Order,
    OrderState,
    Period,
    Policy,
    PolicyError,
    ReasonCode,
    RecordingNotifier,
    Service,
    SQLiteStore,
    Store,
)
from vas_lifecycle.order import Event, EventKind, apply
from vas_lifecycle.testing import check_invariants

SUB = "+8613800138000"
LEAD = dt.timedelta(hours=24)
IN3 = Policy.china_mobile(renewal_notice_lead=LEAD)


def _pack(code: str = "PACK28", days: int = 28, *, auto_renew: bool = True) -> Service:
    return Service(
        code=code,
        sp_id="SP01",
        sp_name="星辰科技",
        name="音乐包",
        kind=OfferKind.SUBSCRIPTION,
        price=Decimal("10.00"),
        access_code="10658001",
        validity_days=days,
        auto_renew=auto_renew,
    )


CATALOG = Catalog([*make_catalog(), _pack(), _pack("ONCE7", 7, auto_renew=False)])


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], Store]]:
    yield from store_factories(request.param, "vas_test_renewals")


def _world(
    store: Store, policy: Policy = IN3, start: pendulum.DateTime = START
) -> tuple[Lifecycle, ManualClock]:
    clock = ManualClock(start)
    lc = Lifecycle(CATALOG, clock=clock, store=store, policy=policy, notifier=RecordingNotifier())
    return lc, clock


def _active(lc: Lifecycle, clock: ManualClock, code: str = "PACK28") -> Order:
    order = lc.request(SUB, code, channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    return lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)


def _until(order: Order) -> pendulum.DateTime:
    assert order.pack is not None and order.pack.valid_until is not None
    return order.pack.valid_until


def test_in3_a_pack_is_told_of_its_renewal_the_lead_before_and_then_renews(
    make_store: Callable[[], Store],
) -> None:
    lc, clock = _world(make_store())
    heard: list[FeedEvent] = []
    lc.feed.subscribe("billing", heard.append)
    order = _active(lc, clock)
    until = _until(order)
    assert until == pendulum.instance(order.activated_at or START).add(days=28)
    first = lc.record_charge(order.id, Decimal("10.00"), key="p1")
    assert first.period_key == "2026-11-24+28d"
    assert order.remind_at == until - LEAD
    # the next period is not chargeable before the notice, nor before the renewal
    early = lc.may_charge(order.id, "10.00", period_start=until)
    assert early.reason is ReasonCode.RENEWAL_NOT_NOTIFIED
    clock.set(until - LEAD)
    lc.run_due()
    (notice,) = [n for n in lc.notices(order.id) if n.kind is NoticeKind.RENEWAL_NOTICE]
    for part in ("2026年12月22日", "10元/28天", "TD", "10658001"):
        assert part in notice.text, part
    assert lc.may_charge(order.id, "10.00", period_start=until).reason is (
        ReasonCode.PERIOD_NOT_STARTED
    )
    clock.set(until)
    lc.run_due()
    renewed = lc.get(order.id)
    assert renewed.state is OrderState.ACTIVE and _until(renewed) == until.add(days=28)
    assert lc.history(order.id)[-1].kind.value == "order_renewed"
    second = lc.record_charge(order.id, Decimal("10.00"), key="p2")
    assert second.period_key == "2026-12-22+28d"
    assert not lc.may_charge(order.id, "10.00", period_start=until)  # charged already
    lc.feed.publish()
    kinds = [e.kind for e in heard if e.order_id == order.id]
    assert FeedKind.RENEWED in kinds
    (renewal,) = [e for e in heard if e.kind is FeedKind.RENEWED]
    assert renewal.data["valid_until"] == until.add(days=28).isoformat()
    assert check_invariants(lc, settled=True) == []


def test_in3_without_its_notice_in_time_a_pack_lapses_and_is_never_charged_again() -> None:
    lc, clock = _world(MemoryStore())
    order = _active(lc, clock)
    lc.record_charge(order.id, Decimal("10.00"), key="p1")
    until = _until(order)
    clock.set(until - dt.timedelta(hours=2))  # the worker was down: the notice is late
    lc.run_due()
    clock.set(until)
    lc.run_due()
    lapsed = lc.get(order.id)
    assert lapsed.state is OrderState.LAPSED and lapsed.end_reason == "renewal_not_notified"
    assert [n.kind for n in lc.notices(order.id)][-1] is NoticeKind.LAPSED
    decision = lc.may_charge(order.id, "10.00", period_start=until)
    assert not decision and decision.reason is ReasonCode.RENEWAL_NOT_NOTIFIED
    assert lc.live_orders(SUB) == []
    assert check_invariants(lc, settled=True) == []


def test_in3_a_notice_skipped_entirely_lapses_the_pack_too() -> None:
    lc, clock = _world(MemoryStore())
    order = _active(lc, clock)
    clock.set(_until(order).add(hours=1))  # nothing ran between activation and the end
    lc.run_due()
    assert lc.get(order.id).end_reason == "renewal_not_notified"
    assert NoticeKind.RENEWAL_NOTICE not in [n.kind for n in lc.notices(order.id)]


def test_in7_a_pack_that_does_not_renew_by_itself_lapses_at_its_end() -> None:
    lc, clock = _world(MemoryStore())
    order = _active(lc, clock, "ONCE7")
    assert order.remind_at is None  # nothing to announce
    clock.set(_until(order))
    lc.run_due()
    lapsed = lc.get(order.id)
    assert (lapsed.state, lapsed.end_reason) == (OrderState.LAPSED, "validity_ended")
    assert NoticeKind.RENEWAL_NOTICE not in [n.kind for n in lc.notices(order.id)]


def test_in7_a_renewal_that_needs_a_fresh_confirmation_waits_for_it_or_lapses() -> None:
    policy = Policy.china_mobile(renewal_notice_lead=LEAD, renewal_requires_consent=True)
    lc, clock = _world(MemoryStore(), policy)
    order = _active(lc, clock)
    lc.record_charge(order.id, Decimal("10.00"), key="p1")
    until = _until(order)
    clock.set(until - LEAD)
    lc.run_due()
    clock.set(until)
    lc.run_due()
    asking = lc.get(order.id)
    assert asking.state is OrderState.AWAITING_CONFIRMATION and asking.code is not None
    request = [n for n in lc.notices(order.id) if n.kind is NoticeKind.CONFIRMATION_REQUEST]
    assert len(request) == 2 and asking.code in request[-1].text
    assert lc.may_charge(order.id, "10.00").reason is ReasonCode.AWAITING_CONFIRMATION
    clock.advance(dt.timedelta(minutes=5))
    lc.handle_sms(SUB, f"Y {asking.code}", to="10086")
    again = lc.get(order.id)
    assert again.state is OrderState.ACTIVE and _until(again) == clock.now().add(days=28)
    assert lc.record_charge(order.id, Decimal("10.00"), key="p2").amount == Decimal("10.00")
    # the next renewal goes unanswered: the pack lapses
    clock.set(_until(again))
    lc.run_due()
    clock.advance(policy.confirmation_window)
    lc.run_due()
    lapsed = lc.get(order.id)
    assert (lapsed.state, lapsed.end_reason) == (OrderState.LAPSED, "renewal_not_confirmed")
    assert check_invariants(lc, settled=True) == []


def test_in3_a_paused_pack_keeps_its_clock_and_lapses_at_its_end() -> None:
    lc, clock = _world(MemoryStore())
    order = _active(lc, clock)
    lc.pause(order.id, channel=Channel.HOTLINE)
    clock.set(_until(order))
    lc.run_due()
    lapsed = lc.get(order.id)
    assert (lapsed.state, lapsed.end_reason) == (OrderState.LAPSED, "paused")
    assert NoticeKind.RENEWAL_NOTICE not in [n.kind for n in lc.notices(order.id)]


def test_in3_the_notice_keeps_out_of_the_quiet_hours_in_a_dst_zone() -> None:
    """London, a pack activated at 23:00 the day before the clocks go back: its
    notice falls due at night and is moved before the quiet hours; the period keys
    are local dates."""
    policy = Policy.china_mobile(
        renewal_notice_lead=LEAD, timezone="Europe/London", country_code="44"
    )
    start = pendulum.datetime(2026, 9, 27, 23, 0, tz="Europe/London")
    clock = ManualClock(start)
    lc = Lifecycle(
        CATALOG, clock=clock, store=MemoryStore(), policy=policy, notifier=RecordingNotifier()
    )
    order = lc.request("+447700900123", "PACK28", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    active = lc.confirm(order.id, msisdn="+447700900123", channel=Channel.SMS)
    until = _until(active)
    assert active.remind_at is not None and active.remind_at < until - LEAD
    local = active.remind_at.in_timezone("Europe/London")
    assert local.hour < 22  # before the quiet hours of the evening before
    assert lc.record_charge(order.id, Decimal("10.00"), key="p1").period_key == "2026-09-27+28d"
    clock.set(active.remind_at)
    lc.run_due()
    clock.set(until)
    lc.run_due()
    renewed = lc.get(order.id)
    assert renewed.state is OrderState.ACTIVE
    # 28 days of 24 hours, across the change back to GMT: 22:00 local, 25 October
    assert lc.record_charge(order.id, Decimal("10.00"), key="p2").period_key == "2026-10-25+28d"


def test_in3_the_policy_refuses_a_pack_it_could_not_announce_and_bad_packs_are_refused() -> None:
    with pytest.raises(PolicyError, match="renewal notice lead"):
        Lifecycle(
            Catalog([_pack("SHORT1", 1)]),
            policy=Policy.china_mobile(renewal_notice_lead=dt.timedelta(days=3)),
        )
    Lifecycle(Catalog([_pack("ONCE1", 1, auto_renew=False)]), policy=IN3)  # never renews
    fields = {
        "code": "BAD",
        "sp_id": "SP01",
        "sp_name": "s",
        "name": "n",
        "kind": OfferKind.SUBSCRIPTION,
        "price": Decimal(1),
        "access_code": "10658001",
        "validity_days": 7,
    }
    Service(**fields)  # type: ignore[arg-type]
    for bad in (
        {"validity_days": 0},
        {"validity_days": True},
        {"kind": OfferKind.ON_DEMAND},
        {"period": Period.MONTH},
        {"validity_days": None, "period": Period.VALIDITY},
    ):
        with pytest.raises(PolicyError):
            Service(**{**fields, **bad})  # type: ignore[arg-type]
    with pytest.raises(PolicyError):
        Policy.china_mobile(renewal_notice_lead=dt.timedelta(0))


def test_in3_a_catalog_file_sells_packs(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(
        '[[service]]\ncode = "PACK28"\nsp_id = "SP01"\nsp_name = "星辰科技"\nname = "音乐包"\n'
        'kind = "subscription"\nprice = "10.00"\naccess_code = "10658001"\n'
        "validity_days = 28\nauto_renew = false\n",
        encoding="utf-8",
    )
    service = Catalog.from_toml(path).get("PACK28")
    assert (service.validity_days, service.auto_renew, service.period) == (
        28,
        False,
        Period.VALIDITY,
    )


@given(
    steps=st.lists(
        st.sampled_from(["day", "week", "due", "due", "due", "run_due", "charge", "pause"]),
        max_size=30,
    ),
    consent=st.booleans(),
    sqlite=st.booleans(),
)
def test_in3_every_sequence_renews_only_with_the_notice_and_charges_once_a_period(
    steps: list[str], consent: bool, sqlite: bool
) -> None:
    """Whatever the clock and the worker do, a pack renews only with
    its notice recorded the lead before (or a fresh confirmation where the policy
    asks for one), lapses otherwise, and is charged at most once per validity period,
    only for its current one (the checker's IN3 and invariant 1)."""
    policy = Policy.china_mobile(renewal_notice_lead=LEAD, renewal_requires_consent=consent)
    store: Store = SQLiteStore(":memory:") if sqlite else MemoryStore()
    notifier = RecordingNotifier()
    clock = ManualClock(START)
    lc = Lifecycle(CATALOG, clock=clock, store=store, policy=policy, notifier=notifier)
    order = _active(lc, clock)
    for n, step in enumerate(steps):
        if step in ("day", "week"):
            clock.advance(dt.timedelta(days=1 if step == "day" else 7))
        elif step == "due":  # the worker wakes at the order's next timer
            due = lc.get(order.id).due_at
            if due is not None and due > clock.now():
                clock.set(due)
            lc.run_due()
            lc.dispatch()
        elif step == "run_due":
            lc.run_due()
            lc.dispatch()
        elif step == "charge":
            if lc.may_charge(order.id, "10.00"):
                lc.record_charge(order.id, Decimal("10.00"), key=f"k{n}")
        elif step == "pause" and lc.get(order.id).state is OrderState.ACTIVE and n % 3 == 0:
            lc.pause(order.id, channel=Channel.SMS)
        current = lc.get(order.id)
        if current.state is OrderState.AWAITING_CONFIRMATION and current.code and n % 2:
            lc.handle_sms(SUB, f"Y {current.code}", to="10086")
    keys = [c.period_key for c in lc.charges(order.id)]
    assert len(keys) == len(set(keys))
    kinds = [e.kind.value for e in lc.history(order.id)]
    event(f"renewed: {min(kinds.count('order_renewed'), 2)}, {lc.get(order.id).state.value}")
    assert check_invariants(lc) == []
    lc.close()


def test_in3_the_checker_reports_a_renewal_without_its_notice() -> None:
    """A pack renewed past the guard (an integration writing the event itself, with no
    notice) is caught by the invariant checker (IN3)."""
    lc, clock = _world(MemoryStore())
    order = _active(lc, clock)
    until = _until(order)
    clock.set(until)
    renewed = Event(
        order.id,
        order.version + 1,
        EventKind.ORDER_RENEWED,
        until,
        None,
        "rogue",
        data={"valid_until": until.add(days=28).isoformat()},
    )
    with lc.store.transaction() as tx:
        tx.orders.append(apply(order, renewed), [renewed], order.version)
    problems = [(p.invariant, p.message) for p in check_invariants(lc)]
    assert ("IN3", "a pack renewed without its renewal notice in time") in problems
