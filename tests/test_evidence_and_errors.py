"""C14 (evidence and retention), invariant 5 (rebuild), invariant 7 (clock), bad input."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SUB, make_catalog
from vas_lifecycle import (
    Catalog,
    Channel,
    ChargeRefusedError,
    ClockError,
    ConfirmationRefusedError,
    EventKind,
    InvalidAmountError,
    InvalidArgumentError,
    InvalidMsisdnError,
    InvalidStateError,
    Lifecycle,
    ManualClock,
    MemoryStore,
    OfferKind,
    Order,
    OrderState,
    Policy,
    PolicyError,
    RecordingNotifier,
    RetentionError,
    Service,
    StoreError,
    TemplateError,
    UnknownOrderError,
    UnknownServiceError,
    VasError,
    normalize_msisdn,
)
from vas_lifecycle.notices import SIMPLIFIED_CHINESE, NoticeKind
from vas_lifecycle.testing import strategies

# --- C14 -----------------------------------------------------------------------------


def test_c14_every_state_change_is_an_event_with_texts(
    lc: Lifecycle, clock: ManualClock, notifier: RecordingNotifier
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API, text="订购新闻早报")
    clock.advance(dt.timedelta(seconds=30))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS, code=order.code, text=f"Y {order.code}")
    clock.advance(dt.timedelta(days=3))
    lc.unsubscribe(order.id, channel=Channel.HOTLINE, actor="agent-007", text="客户来电退订")
    events = lc.history(order.id)
    assert [e.kind for e in events] == [
        EventKind.ORDER_REQUESTED,
        EventKind.CONFIRMATION_REQUESTED,
        EventKind.CONSENT_GRANTED,
        EventKind.ORDER_CANCELLED,
    ]
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert events[0].text_in == "订购新闻早报" and events[0].actor == "SP01"
    assert events[1].text_out == notifier.of_kind(NoticeKind.CONFIRMATION_REQUEST)[0].text
    assert events[2].text_in == f"Y {order.code}" and events[2].actor == SUB
    assert events[2].text_out == notifier.of_kind(NoticeKind.ACTIVATED)[0].text
    assert (events[3].actor, events[3].channel) == ("agent-007", Channel.HOTLINE)
    assert [e.at for e in events] == sorted(e.at for e in events)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        events[0].actor = "someone else"  # type: ignore[misc]


def test_c14_purge_refuses_to_go_below_retention(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    live = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    lc.unsubscribe(order.id, channel=Channel.SMS)
    clock.advance(dt.timedelta(days=8))
    lc.run_due()  # the trial ended on day 7
    clock.advance(dt.timedelta(days=92))
    with pytest.raises(RetentionError):
        lc.purge(clock.now())
    assert lc.get(order.id).state is OrderState.CANCELLED  # nothing was deleted
    clock.advance(dt.timedelta(days=60))  # now past 5 months
    cutoff = clock.now().subtract(months=5)
    assert lc.purge(cutoff) == 2  # the cancelled order and the trial that ended long ago
    with pytest.raises(UnknownOrderError):
        lc.get(order.id)
    with pytest.raises(UnknownOrderError):
        lc.history(live.id)


def test_c14_lifecycle_never_deletes_on_its_own(lc: Lifecycle, clock: ManualClock) -> None:
    ids = [lc.request(SUB, code, channel=Channel.WEB).id for code in ("NEWS", "MUSIC7", "JOKE")]
    clock.advance(dt.timedelta(days=400))
    lc.run_due()
    assert all(lc.history(i) for i in ids)


# --- invariant 5 ---------------------------------------------------------------------


@given(
    steps=st.lists(
        st.sampled_from(["request_news", "request_trial", "confirm", "advance", "due", "unsub"]),
        max_size=25,
    )
)
def test_invariant5_order_is_a_function_of_its_events(steps: list[str]) -> None:
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai"))
    lc = Lifecycle(make_catalog(), clock=clock)
    ids: list[str] = []
    for step in steps:
        if step == "request_news":
            ids.append(lc.request(SUB, "NEWS", channel=Channel.WEB).id)
        elif step == "request_trial":
            ids.append(lc.request(SUB, "MUSIC7", channel=Channel.WEB).id)
        elif step == "advance":
            clock.advance(dt.timedelta(hours=13))
        elif step == "due":
            lc.run_due()
        elif ids:
            target = lc.get(ids[-1])
            if step == "unsub":
                lc.unsubscribe(target.id, channel=Channel.SMS)
            elif target.state is OrderState.AWAITING_CONFIRMATION:
                clock.advance(dt.timedelta(seconds=5))
                with contextlib.suppress(ConfirmationRefusedError):  # the window may be over
                    lc.confirm(target.id, msisdn=SUB, channel=Channel.SMS, code=target.code)
    for order_id in ids:
        assert Order.from_events(lc.history(order_id)) == lc.get(order_id)


def test_invariant5_replay_refuses_a_broken_history(lc: Lifecycle) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    events = lc.history(order.id)
    with pytest.raises(ValueError):
        Order.from_events(events[1:])
    with pytest.raises(ValueError):
        Order.from_events([events[0], events[1], events[1]])


# --- invariant 7: the clock ------------------------------------------------------------


def test_invariant7_manual_clock_never_goes_back(clock: ManualClock) -> None:
    with pytest.raises(ClockError):
        clock.advance(dt.timedelta(seconds=-1))
    with pytest.raises(ClockError):
        clock.set(clock.now() - dt.timedelta(minutes=1))
    with pytest.raises(ClockError):
        clock.advance(5)  # type: ignore[arg-type]
    before = clock.now()
    clock.advance(pendulum.duration(hours=1))
    clock.advance(dt.timedelta(hours=1))
    assert clock.now() - before == dt.timedelta(hours=2)
    with pytest.raises(ClockError):
        ManualClock(dt.datetime(2026, 1, 1))  # noqa: DTZ001 - naive on purpose


def test_invariant7_lifecycle_refuses_a_clock_that_went_back() -> None:
    class SettableClock:
        def __init__(self) -> None:
            self.current = pendulum.datetime(2026, 1, 1, 12, tz="UTC")

        def now(self) -> pendulum.DateTime:
            return self.current

    clock = SettableClock()
    lc = Lifecycle(make_catalog(), clock=clock)
    lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.current = clock.current.subtract(hours=1)
    with pytest.raises(ClockError):
        lc.request(SUB, "WEATHER", channel=Channel.WEB)
    with pytest.raises(ClockError):
        lc.run_due()
    assert len(lc.orders_of(SUB)) == 1


# --- bad input ---------------------------------------------------------------------


def snapshot(lc: Lifecycle) -> tuple[object, ...]:
    with lc.store.transaction() as tx:
        orders = sorted(tx.orders.all_orders(), key=lambda o: o.id)
        return (
            orders,
            [tx.orders.events(o.id) for o in orders],
            sorted(n.id for n in tx.outbox.all_notices()),
            list(tx.ledger.all_charges()),
            tx.evidence.violations(None),
        )


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda lc, o: lc.request(SUB, "NOPE", channel=Channel.WEB), UnknownServiceError),
        (lambda lc, o: lc.request("12ab", "NEWS", channel=Channel.WEB), InvalidMsisdnError),
        (lambda lc, o: lc.request(SUB, "NEWS", channel="pigeon"), InvalidArgumentError),
        (lambda lc, o: lc.request(SUB, "NEWS", channel="web", language="xx"), InvalidArgumentError),
        (lambda lc, o: lc.get("no-such-order"), UnknownOrderError),
        (lambda lc, o: lc.confirm("nope", msisdn=SUB, channel="sms"), UnknownOrderError),
        (lambda lc, o: lc.confirm(o, msisdn="", channel="sms"), InvalidMsisdnError),
        (lambda lc, o: lc.confirm(o, msisdn=SUB, channel="sms", code="12a"), InvalidArgumentError),
        (lambda lc, o: lc.unsubscribe("nope", channel="sms"), UnknownOrderError),
        (lambda lc, o: lc.may_charge(o, 5.0), InvalidAmountError),
        (lambda lc, o: lc.may_charge(o, Decimal("-5")), InvalidAmountError),
        (lambda lc, o: lc.may_charge(o, Decimal("5.001")), InvalidAmountError),
        (lambda lc, o: lc.record_charge(o, 5.0, key="k"), InvalidAmountError),
        (lambda lc, o: lc.record_charge(o, Decimal("5"), key=""), InvalidArgumentError),
        (lambda lc, o: lc.record_charge(o, Decimal("5"), key="k"), ChargeRefusedError),
        (
            lambda lc, o: lc.may_charge(o, 5, period_start=dt.datetime(2026, 1, 1)),  # noqa: DTZ001
            ClockError,
        ),
        (lambda lc, o: lc.history("nope"), UnknownOrderError),
        (lambda lc, o: lc.run_due(batch=0), InvalidArgumentError),
    ],
)
def test_bad_input_gets_a_vas_error_and_changes_nothing(call, error) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai"))
    lc = Lifecycle(make_catalog(), clock=clock)
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    before = snapshot(lc)
    with pytest.raises(error) as err:
        call(lc, order.id)
    assert isinstance(err.value, VasError)
    assert str(err.value)
    assert snapshot(lc) == before


def test_confirming_a_finished_order_leaves_store_unchanged(
    lc: Lifecycle, clock: ManualClock
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    lc.unsubscribe(order.id, channel=Channel.SMS)
    before = snapshot(lc)
    with pytest.raises(InvalidStateError):
        lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    assert snapshot(lc) == before


def test_errors_subclass_fitting_builtins() -> None:
    assert issubclass(UnknownOrderError, LookupError)
    assert issubclass(UnknownServiceError, LookupError)
    assert issubclass(InvalidMsisdnError, ValueError)
    assert issubclass(InvalidAmountError, ValueError)
    assert issubclass(PolicyError, ValueError)
    assert issubclass(ChargeRefusedError, PermissionError)


@given(pair=strategies.msisdn_spellings())
def test_msisdn_spellings_normalise_to_e164(pair: tuple[str, str]) -> None:
    spelling, e164 = pair
    assert normalize_msisdn(spelling, "86") == e164


@given(value=strategies.bad_msisdns)
def test_malformed_msisdns_are_refused(value: object) -> None:
    with pytest.raises(InvalidMsisdnError):
        normalize_msisdn(value, "86")


@given(value=strategies.bad_amounts)
def test_bad_amounts_are_refused(value: object) -> None:
    from vas_lifecycle.values import to_amount

    with pytest.raises(InvalidAmountError):
        to_amount(value)


def test_store_failure_is_wrapped_and_nothing_half_written(clock: ManualClock) -> None:
    class FailingStore(MemoryStore):
        fail = False

        def transaction(self, **kwargs):  # type: ignore[no-untyped-def]
            if self.fail:
                raise OSError("disk full")
            return super().transaction(**kwargs)

    store = FailingStore()
    lc = Lifecycle(make_catalog(), clock=clock, store=store)
    store.fail = True
    with pytest.raises(StoreError) as err:
        lc.request(SUB, "NEWS", channel=Channel.WEB)
    assert isinstance(err.value.__cause__, OSError)
    store.fail = False
    assert lc.orders_of(SUB) == []


# --- catalog and policy validation ---------------------------------------------------


def news(**changes: object) -> Service:
    base: dict[str, object] = {
        "code": "NEWS",
        "sp_id": "SP01",
        "sp_name": "星辰科技",
        "name": "新闻早报",
        "kind": OfferKind.SUBSCRIPTION,
        "price": Decimal("5"),
        "access_code": "10658001",
    }
    base.update(changes)
    return Service(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"price": 5.0}, InvalidAmountError),
        ({"price": Decimal("-1")}, InvalidAmountError),
        ({"price": Decimal("0")}, PolicyError),
        ({"code": ""}, PolicyError),
        ({"kind": OfferKind.TRIAL, "price": Decimal("0")}, PolicyError),  # no trial_days
        ({"kind": OfferKind.TRIAL, "price": Decimal("1"), "trial_days": 7}, PolicyError),
        ({"trial_days": 7}, PolicyError),
    ],
)
def test_invalid_services_are_refused(changes: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        news(**changes)


def test_catalog_refuses_duplicates_and_unknown_codes() -> None:
    with pytest.raises(PolicyError):
        Catalog([news(), news()])
    catalog = Catalog([news()])
    assert catalog.get(" news ").code == "NEWS"
    with pytest.raises(UnknownServiceError):
        catalog.get("MISSING")


@pytest.mark.parametrize(
    "overrides",
    [
        {"confirmation_window": dt.timedelta(0)},
        {"confirmation_window": dt.timedelta(hours=-1)},
        {"trial_reminder_lead": dt.timedelta(0)},
        {"pick_window": dt.timedelta(0)},
        {"confirm_words": {"Y", "N"}},
        {"confirm_words": "YES"},
        {"operator_channels": {Channel.SMS, Channel.SP_API}},
        {"code_digits": 1},
        {"sp_daily_request_limit": 0},
        {"retention_months": 0},
        {"timezone": "Mars/Olympus"},
        {"language": "fr"},
        {"fastest_human_reply": dt.timedelta(days=2)},
    ],
)
def test_impossible_policies_are_refused_when_built(overrides: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        Policy.china_mobile(**overrides)


def test_c2_templates_are_checked_when_loaded() -> None:
    with pytest.raises(TemplateError, match="silence") as err:
        SIMPLIFIED_CHINESE.with_template(
            NoticeKind.CONFIRMATION_REQUEST,
            "订购{sp_name}{service_name}{price}{recurring}，回复{confirm_word}{code}，{valid_for}",
        )
    assert err.value.kind == "confirmation_request"
    with pytest.raises(TemplateError, match="unknown"):
        SIMPLIFIED_CHINESE.with_template(NoticeKind.DECLINED, "{service_name}{balance}")
    with pytest.raises(TemplateError, match="how_to_unsubscribe"):
        SIMPLIFIED_CHINESE.with_template(NoticeKind.ACTIVATED, "{sp_name}{service_name}{price}")
    with pytest.raises(TemplateError):
        SIMPLIFIED_CHINESE.with_template(NoticeKind.DECLINED, "{service_name.__class__}")
    good = SIMPLIFIED_CHINESE.with_template(NoticeKind.DECLINED, "已拒绝：{service_name}")
    assert good.templates[NoticeKind.DECLINED] == "已拒绝：{service_name}"


def test_a_conflict_is_retried_then_raised_as_concurrency_error(clock: ManualClock) -> None:
    from vas_lifecycle import ConcurrencyError
    from vas_lifecycle.store.base import ConflictError

    class AlwaysRacing(MemoryStore):
        attempts = 0

        def transaction(self, **kwargs):  # type: ignore[no-untyped-def]
            store = self

            class Racing:
                def __enter__(self):  # type: ignore[no-untyped-def]
                    store.attempts += 1
                    raise ConflictError("o1", 1)

                def __exit__(self, *exc: object) -> None:
                    return None

            return Racing()

    store = AlwaysRacing()
    lc = Lifecycle(make_catalog(), clock=clock, store=store, max_retries=3, auto_dispatch=False)
    with pytest.raises(ConcurrencyError) as err:
        lc.request(SUB, "NEWS", channel=Channel.WEB)
    assert store.attempts == 3 and err.value.order_id == "o1"
    assert isinstance(err.value, VasError)
