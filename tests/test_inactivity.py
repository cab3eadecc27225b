"""Inactivity (UK6, issue 18): where the policy says so, a paid subscription nobody
used for the window (from its last use or its activation, whichever is later) is
cancelled by ``run_due`` with a notice saying why; push, seasonal and annual services
can be exempt; a pause is not idleness. Off in the China preset."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import START, make_catalog
from tests.test_store_postgres import store_factories
from vas_lifecycle import (
    Catalog,
    Channel,
    ClockError,
    FeedEvent,
    FeedKind,
    Lifecycle,
    ManualClock,
    MemoryStore,
    NoticeKind,
    OfferKind,
    OrderState,
    Policy,
    PolicyError,
    RecordingNotifier,
    Service,
    SQLiteStore,
    Store,
    UnknownOrderError,
)
from vas_lifecycle.testing import check_invariants
from vas_lifecycle.timers import Idle, idle_step, tracks_use

SUB = "+8613800138000"
WINDOW = dt.timedelta(days=120)
UK6 = Policy.china_mobile(cancel_after_inactivity=WINDOW)
DAY = dt.timedelta(days=1)
PUSH = Service(
    code="PUSH",
    sp_id="SP01",
    sp_name="星辰科技",
    name="每日推送",
    kind=OfferKind.SUBSCRIPTION,
    price=Decimal("2.00"),
    access_code="10658001",
    inactivity_exempt=True,
)


def catalog() -> Catalog:
    return Catalog([*make_catalog(), PUSH])


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], Store]]:
    yield from store_factories(request.param, "vas_test_idle")


def _world(store: Store, policy: Policy = UK6) -> tuple[Lifecycle, ManualClock]:
    clock = ManualClock(START)
    lc = Lifecycle(catalog(), clock=clock, store=store, policy=policy, notifier=RecordingNotifier())
    return lc, clock


def _active(lc: Lifecycle, clock: ManualClock, service: str = "NEWS") -> str:
    order = lc.request(SUB, service, channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    return order.id


# --- the rule on plain values ----------------------------------------------------------


def test_uk6_the_decision_on_plain_values() -> None:
    lc, clock = _world(MemoryStore())
    active = lc.get(_active(lc, clock))
    assert active.activated_at is not None
    activated = pendulum.instance(active.activated_at)
    used = activated.add(days=10)
    assert idle_step(active, used, used + WINDOW, UK6) == Idle(look_again=used)
    cancel = idle_step(active, used, used + WINDOW + dt.timedelta(seconds=1), UK6).step
    assert cancel is not None and cancel.notice is NoticeKind.INACTIVE_CANCELLED
    assert cancel.data["reason"] == "inactive" and cancel.fields == {"idle_days": "120"}
    # a use recorded before the activation counts from the activation
    early = activated.subtract(days=1)
    assert idle_step(active, early, activated.add(days=119), UK6).look_again == activated
    assert idle_step(active, used, used.add(days=999), Policy.china_mobile()) == Idle()
    assert tracks_use(catalog().get("NEWS"), UK6)
    assert not tracks_use(PUSH, UK6) and not tracks_use(catalog().get("MUSIC7"), UK6)
    assert not tracks_use(catalog().get("NEWS"), Policy.china_mobile())
    with pytest.raises(PolicyError):
        Policy.china_mobile(cancel_after_inactivity=dt.timedelta(0))
    with pytest.raises(TypeError):
        Service(
            code="X",
            sp_id="SP01",
            sp_name="s",
            name="n",
            kind=OfferKind.SUBSCRIPTION,
            price=Decimal(1),
            access_code="10658001",
            inactivity_exempt="yes",  # type: ignore[arg-type]
        )


# --- through the public API -------------------------------------------------------------


def test_uk6_an_unused_subscription_is_cancelled_with_a_notice_and_a_used_one_is_not(
    make_store: Callable[[], Store],
) -> None:
    lc, clock = _world(make_store())
    heard: list[FeedEvent] = []
    lc.feed.subscribe("billing", heard.append)
    idle = _active(lc, clock)
    used = _active(lc, clock, "WEATHER")
    clock.advance(100 * DAY)
    lc.record_usage(used)
    clock.advance(20 * DAY - dt.timedelta(seconds=61))
    assert lc.run_due() >= 0 and lc.get(idle).state is OrderState.ACTIVE  # not yet
    clock.advance(dt.timedelta(seconds=61))
    lc.run_due()
    cancelled = lc.get(idle)
    assert cancelled.state is OrderState.CANCELLED and cancelled.end_reason == "inactive"
    event = lc.history(idle)[-1]
    assert event.actor == "system" and event.data["idle_days"] == "120"
    (notice,) = [n for n in lc.notices(idle) if n.kind is NoticeKind.INACTIVE_CANCELLED]
    assert "120" in notice.text and cancelled.service_name in notice.text
    assert lc.get(used).state is OrderState.ACTIVE  # used 20 days ago
    lc.feed.publish()
    assert [(e.kind, e.data.get("reason")) for e in heard if e.order_id == idle][-1] == (
        FeedKind.CANCELLED,
        "inactive",
    )
    clock.advance(101 * DAY)
    lc.run_due()
    assert lc.get(used).state is OrderState.CANCELLED
    assert check_invariants(lc, settled=True) == []


def test_uk6_exempt_services_trials_and_the_china_preset_are_never_cancelled_for_it() -> None:
    lc, clock = _world(MemoryStore())
    push = _active(lc, clock, "PUSH")
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB).id
    clock.advance(400 * DAY)
    lc.run_due()
    assert lc.get(push).state is OrderState.ACTIVE
    assert lc.get(trial).end_reason == "trial_ended"
    china, clock2 = _world(MemoryStore(), Policy.china_mobile())
    news = _active(china, clock2)
    clock2.advance(400 * DAY)
    china.run_due()
    assert china.get(news).state is OrderState.ACTIVE


def test_uk6_a_pause_is_not_idleness_and_idleness_counts_again_from_the_resume() -> None:
    lc, clock = _world(MemoryStore())
    order_id = _active(lc, clock)
    clock.advance(100 * DAY)
    lc.pause(order_id, channel=Channel.HOTLINE)
    clock.advance(200 * DAY)
    lc.run_due()
    assert lc.get(order_id).state is OrderState.PAUSED
    lc.resume(order_id, channel=Channel.HOTLINE)
    clock.advance(WINDOW - DAY)
    lc.run_due()
    assert lc.get(order_id).state is OrderState.ACTIVE
    clock.advance(DAY)  # the whole window, not more
    lc.run_due()
    assert lc.get(order_id).state is OrderState.ACTIVE
    clock.advance(dt.timedelta(seconds=1))
    lc.run_due()
    assert lc.get(order_id).state is OrderState.CANCELLED


def test_uk6_usage_is_taken_up_to_now_and_bad_input_gets_our_errors() -> None:
    lc, clock = _world(MemoryStore())
    order_id = _active(lc, clock)
    # a use reported for the future counts as now; one reported late counts when it was
    lc.record_usage(order_id, at=clock.now().add(days=30))
    clock.advance(WINDOW + dt.timedelta(seconds=1))
    lc.run_due()
    assert lc.get(order_id).state is OrderState.CANCELLED
    with pytest.raises(UnknownOrderError):
        lc.record_usage("nope")
    with pytest.raises(ClockError):
        lc.record_usage(order_id, at=dt.datetime(2026, 1, 1))  # noqa: DTZ001 - naive
    assert lc.record_usage(order_id).state is OrderState.CANCELLED  # no longer live


@given(
    steps=st.lists(
        st.sampled_from(["use", "day", "month", "pause", "resume", "run_due"]), max_size=30
    ),
    sqlite=st.booleans(),
)
def test_uk6_every_sequence_cancels_only_what_went_unused_for_the_window(
    steps: list[str], sqlite: bool
) -> None:
    """Whatever the uses, pauses and clock moves, an order cancelled as inactive was
    active and unused (since its activation, a use, or a resume) for the whole window
    when it was cancelled, and after ``run_due`` no active order is past its window."""
    store: Store = SQLiteStore(":memory:") if sqlite else MemoryStore()
    lc, clock = _world(store)
    order_id = _active(lc, clock)
    order = lc.get(order_id)
    assert order.activated_at is not None
    since = pendulum.instance(order.activated_at)
    for step in steps:
        state = lc.get(order_id).state
        if step == "use":
            lc.record_usage(order_id)
            if state is OrderState.ACTIVE:
                since = clock.now()
        elif step in ("day", "month"):
            clock.advance(DAY if step == "day" else 30 * DAY)
        elif step == "pause" and state is OrderState.ACTIVE:
            lc.pause(order_id, channel=Channel.SMS)
        elif step == "resume" and state is OrderState.PAUSED:
            lc.resume(order_id, channel=Channel.SMS)
            since = clock.now()
        elif step == "run_due":
            lc.run_due()
            after = lc.get(order_id)
            if after.end_reason == "inactive" and state is OrderState.ACTIVE:
                assert after.ended_at is not None and after.ended_at - since > WINDOW
            if after.state is OrderState.ACTIVE:
                assert clock.now() - since <= WINDOW
    assert check_invariants(lc) == []
    lc.close()
