"""Trials that convert (CT1, issue 18): where the policy lets trials convert (never in
the China preset: C6), a trial sold with a subscription to convert to becomes that
subscription at its end only when the subscriber consented to it at the trial's
start (never on the SP's word), after a reminder at least the conversion lead before
the end (a short trial: at its midpoint), with a cancel instruction; otherwise it
ends like any trial, never charged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.conftest import START
from tests.test_store_postgres import store_factories
from vas_lifecycle import (
    Catalog,
    Channel,
    FeedEvent,
    FeedKind,
    InvalidArgumentError,
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
)
from vas_lifecycle.order import Event, EventKind, apply
from vas_lifecycle.testing import check_invariants

SUB = "+8613800138000"
CT1 = Policy.china_mobile(trial_converts=True)


def _service(code: str, kind: OfferKind, price: str, **more: object) -> Service:
    return Service(
        code=code,
        sp_id="SP02",
        sp_name="云端音乐",
        name=f"音乐{code}",
        kind=kind,
        price=Decimal(price),
        access_code="10658002",
        **more,  # type: ignore[arg-type]
    )


CATALOG = Catalog(
    [
        _service("MUSIC", OfferKind.SUBSCRIPTION, "6.00"),
        _service("MUSIC14", OfferKind.TRIAL, "0", trial_days=14, converts_to="MUSIC"),
        _service("MUSIC3", OfferKind.TRIAL, "0", trial_days=3, converts_to="MUSIC"),
        _service("FREE7", OfferKind.TRIAL, "0", trial_days=7),
    ]
)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], Store]]:
    yield from store_factories(request.param, "vas_test_conversions")


def _world(store: Store, policy: Policy = CT1) -> tuple[Lifecycle, ManualClock]:
    clock = ManualClock(START)
    lc = Lifecycle(CATALOG, clock=clock, store=store, policy=policy, notifier=RecordingNotifier())
    return lc, clock


def _kinds(lc: Lifecycle, order_id: str) -> list[NoticeKind]:
    return [n.kind for n in lc.notices(order_id)]


def test_ct1_a_trial_consented_at_its_start_is_reminded_a_week_before_and_converts(
    make_store: Callable[[], Store],
) -> None:
    lc, clock = _world(make_store())
    heard: list[FeedEvent] = []
    lc.feed.subscribe("billing", heard.append)
    trial = lc.request(
        SUB, "MUSIC14", channel=Channel.WEB, conversion_consent=True, text="I agree to pay after"
    )
    assert trial.state is OrderState.TRIAL and trial.price == Decimal("6.00")
    assert trial.kind is OfferKind.TRIAL and trial.trial_ends_at is not None
    (started,) = [n for n in lc.notices(trial.id) if n.kind is NoticeKind.CONVERTING_TRIAL_STARTED]
    for part in ("6元/月", "TD", "10658002"):
        assert part in started.text, part
    assert trial.remind_at == trial.trial_ends_at - dt.timedelta(days=7)
    assert not lc.may_charge(trial.id, "6.00")  # a trial is never charged
    clock.set(trial.remind_at)
    lc.run_due()
    (reminder,) = [n for n in lc.notices(trial.id) if n.kind is NoticeKind.CONVERSION_REMINDER]
    assert "6元/月" in reminder.text and "TD" in reminder.text
    clock.set(trial.trial_ends_at)
    lc.run_due()
    paid = lc.get(trial.id)
    assert (paid.state, paid.kind, paid.service_code) == (
        OrderState.ACTIVE,
        OfferKind.SUBSCRIPTION,
        "MUSIC",
    )
    assert paid.consent_channel is Channel.WEB and paid.activated_at == clock.now()
    assert NoticeKind.ACTIVATED in _kinds(lc, trial.id)
    assert lc.may_charge(trial.id, "6.00")
    lc.feed.publish()
    assert FeedKind.CONVERTED in [e.kind for e in heard if e.order_id == trial.id]
    assert check_invariants(lc, settled=True) == []


def test_ct1_without_the_consent_a_trial_ends_like_any_other() -> None:
    lc, clock = _world(MemoryStore())
    trial = lc.request(SUB, "MUSIC14", channel=Channel.WEB)
    assert trial.price == 0 and NoticeKind.TRIAL_STARTED in _kinds(lc, trial.id)
    assert trial.trial_ends_at is not None
    clock.set(trial.trial_ends_at)
    lc.run_due()
    ended = lc.get(trial.id)
    assert (ended.state, ended.end_reason) == (OrderState.CANCELLED, "trial_ended")
    assert check_invariants(lc, settled=True) == []


def test_ct1_the_china_preset_the_sp_and_a_plain_trial_cannot_convert() -> None:
    china, _clock = _world(MemoryStore(), Policy.china_mobile())
    with pytest.raises(InvalidArgumentError, match="does not convert"):
        china.request(SUB, "MUSIC14", channel=Channel.WEB, conversion_consent=True)
    lc, _clock2 = _world(MemoryStore())
    with pytest.raises(InvalidArgumentError, match="SP"):
        lc.request(SUB, "MUSIC14", channel=Channel.SP_API, conversion_consent=True)
    with pytest.raises(InvalidArgumentError, match="does not convert"):
        lc.request(SUB, "FREE7", channel=Channel.WEB, conversion_consent=True)
    with pytest.raises(InvalidArgumentError):
        lc.request(SUB, "MUSIC14", channel=Channel.WEB, conversion_consent="yes")  # type: ignore[arg-type]
    assert lc.orders_of(SUB) == [] and china.orders_of(SUB) == []


def test_ct1_a_reminder_sent_late_means_no_conversion() -> None:
    lc, clock = _world(MemoryStore())
    trial = lc.request(SUB, "MUSIC14", channel=Channel.WEB, conversion_consent=True)
    assert trial.trial_ends_at is not None
    clock.set(trial.trial_ends_at - dt.timedelta(days=3))  # the worker was down
    lc.run_due()
    clock.set(trial.trial_ends_at)
    lc.run_due()
    ended = lc.get(trial.id)
    assert (ended.state, ended.end_reason) == (OrderState.CANCELLED, "not_converted")
    assert not lc.may_charge(ended.id, "6.00")
    assert check_invariants(lc, settled=True) == []


def test_ct1_a_short_trial_is_reminded_at_its_midpoint_and_converts() -> None:
    lc, clock = _world(MemoryStore())
    trial = lc.request(SUB, "MUSIC3", channel=Channel.WEB, conversion_consent=True)
    assert trial.trial_ends_at is not None and trial.remind_at is not None
    assert trial.remind_at == trial.trial_ends_at - dt.timedelta(days=1, hours=12)
    clock.set(trial.remind_at)
    lc.run_due()
    clock.set(trial.trial_ends_at)
    lc.run_due()
    assert lc.get(trial.id).state is OrderState.ACTIVE


def test_ct1_a_catalog_must_convert_trials_to_a_plain_subscription_of_it() -> None:
    with pytest.raises(PolicyError):
        _service("X", OfferKind.SUBSCRIPTION, "1.00", converts_to="MUSIC")
    for target in ("NOPE", "FREE7"):
        bad = Catalog(
            [*CATALOG, _service("T", OfferKind.TRIAL, "0", trial_days=9, converts_to=target)]
        )
        with pytest.raises(PolicyError, match="converts to"):
            Lifecycle(bad, policy=CT1)
    pack = _service("PACK", OfferKind.SUBSCRIPTION, "9.00", validity_days=28)
    with pytest.raises(PolicyError, match="pack"):
        Lifecycle(
            Catalog([pack, _service("T", OfferKind.TRIAL, "0", trial_days=9, converts_to="PACK")]),
            policy=CT1,
        )


def test_ct1_the_checker_reports_a_conversion_without_consent() -> None:
    lc, clock = _world(MemoryStore())
    trial = lc.request(SUB, "FREE7", channel=Channel.WEB)
    assert trial.trial_ends_at is not None
    clock.set(trial.trial_ends_at)
    converted = Event(
        trial.id,
        trial.version + 1,
        EventKind.TRIAL_CONVERTED,
        clock.now(),
        None,
        "rogue",
        data={"service_code": "MUSIC", "service_name": "音乐"},
    )
    with lc.store.transaction() as tx:
        tx.orders.append(apply(trial, converted), [converted], trial.version)
    problems = {(p.invariant, p.message) for p in check_invariants(lc)}
    assert ("CT1", "a trial converted without the consent and reminder") in problems


@given(
    consent=st.booleans(),
    service=st.sampled_from(["MUSIC14", "MUSIC3"]),
    steps=st.lists(st.sampled_from(["hour", "day", "due", "run_due", "td"]), max_size=20),
    sqlite=st.booleans(),
)
def test_ct1_every_sequence_converts_only_with_the_consent_and_the_reminder(
    consent: bool, service: str, steps: list[str], sqlite: bool
) -> None:
    store: Store = SQLiteStore(":memory:") if sqlite else MemoryStore()
    lc, clock = _world(store)
    trial = lc.request(SUB, service, channel=Channel.WEB, conversion_consent=consent)
    for step in steps:
        if step in ("hour", "day"):
            clock.advance(dt.timedelta(hours=1) if step == "hour" else dt.timedelta(days=1))
        elif step == "due":
            due = lc.get(trial.id).due_at
            if due is not None:
                clock.set(max(due, clock.now()))
            lc.run_due()
        elif step == "run_due":
            lc.run_due()
        elif step == "td":
            lc.handle_sms(SUB, "TD", to="10658002")
    after = lc.get(trial.id)
    event(f"{after.state.value}, consent: {consent}")
    if after.state is OrderState.ACTIVE:
        assert consent and NoticeKind.CONVERSION_REMINDER in _kinds(lc, trial.id)
    assert check_invariants(lc) == []
    lc.close()


def test_ct1_a_short_trial_converts_without_a_reminder_where_the_policy_says_so() -> None:
    """Visa asks for the reminder only for trials longer than 7 days: a policy may
    let a shorter one convert without it; a longer one never does."""
    lax = Policy.china_mobile(trial_converts=True, short_conversions_need_reminder=False)
    for code, converts in (("MUSIC3", True), ("MUSIC14", False)):
        lc, clock = _world(MemoryStore(), lax)
        trial = lc.request(SUB, code, channel=Channel.WEB, conversion_consent=True)
        assert trial.trial_ends_at is not None
        clock.set(trial.trial_ends_at)  # the worker slept through the reminder
        lc.run_due()
        state = lc.get(trial.id).state
        assert state is (OrderState.ACTIVE if converts else OrderState.CANCELLED), code
        assert check_invariants(lc, settled=True) == []
