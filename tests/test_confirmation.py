"""C1 (double confirmation), C2 (what the request says), C3 (codes), C4 (activation
notice), C13 (forced subscription)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import OTHER, SUB, make_catalog
from vas_lifecycle import (
    Channel,
    ConfirmationRefusedError,
    Event,
    EventKind,
    ForcedSubscriptionError,
    InvalidStateError,
    Lifecycle,
    ManualClock,
    NoticeKind,
    OrderState,
    Policy,
    ReasonCode,
    RecordingNotifier,
)
from vas_lifecycle.order import apply
from vas_lifecycle.testing import FlakyNotifier, check_invariants, strategies

SECONDS = dt.timedelta(seconds=5)


def test_c1_confirmation_activates_and_is_recorded(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    assert order.state is OrderState.AWAITING_CONFIRMATION
    clock.advance(SECONDS)
    active = lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS, text="是")
    assert active.state is OrderState.ACTIVE
    assert active.activated_at == clock.now()
    granted = [e for e in lc.history(order.id) if e.kind is EventKind.CONSENT_GRANTED]
    assert len(granted) == 1
    assert (granted[0].actor, granted[0].channel, granted[0].text_in) == (SUB, Channel.SMS, "是")


def test_c1_silence_is_refusal(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(hours=23, minutes=59))
    assert lc.run_due() == 0
    assert lc.get(order.id).state is OrderState.AWAITING_CONFIRMATION
    clock.advance(dt.timedelta(minutes=1))
    assert lc.run_due() == 1
    expired = lc.get(order.id)
    assert expired.state is OrderState.EXPIRED
    decision = lc.may_charge(order.id, Decimal("5.00"))
    assert not decision.allowed and decision.reason is ReasonCode.NOT_ACTIVE


def test_c1_decline_makes_declined_and_never_charged(
    lc: Lifecycle, clock: ManualClock, notifier: RecordingNotifier
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(SECONDS)
    declined = lc.decline(order.id, msisdn=SUB, channel=Channel.SMS, text="否")
    assert declined.state is OrderState.DECLINED
    assert not lc.may_charge(order.id, Decimal("5.00")).allowed
    assert [n.kind for n in notifier.to(SUB)][-1] is NoticeKind.DECLINED


def test_c1_confirmation_after_window_is_refused(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(hours=24))
    with pytest.raises(ConfirmationRefusedError) as err:
        lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    assert err.value.reason is ReasonCode.WINDOW_CLOSED
    assert lc.get(order.id).state is OrderState.AWAITING_CONFIRMATION
    lc.run_due()
    assert lc.get(order.id).state is OrderState.EXPIRED


@pytest.mark.parametrize("channel", [Channel.IVR])
def test_c1_only_operator_controlled_channels_confirm(
    lc: Lifecycle, clock: ManualClock, channel: Channel
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(SECONDS)
    with pytest.raises(ConfirmationRefusedError) as err:
        lc.confirm(order.id, msisdn=SUB, channel=channel)
    assert err.value.reason is ReasonCode.NOT_OPERATOR_CHANNEL
    assert lc.get(order.id).version == order.version


def test_c1_confirming_a_finished_order_is_an_error(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(SECONDS)
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    with pytest.raises(InvalidStateError) as err:
        lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    assert err.value.order_id == order.id and err.value.state is OrderState.ACTIVE
    with pytest.raises(InvalidStateError):
        lc.decline(order.id, msisdn=SUB, channel=Channel.SMS)


@given(
    replies=st.lists(
        st.tuples(
            st.integers(0, 30 * 3600),
            st.sampled_from([SUB, OTHER]),
            strategies.channels,
            st.sampled_from(["none", "right", "wrong"]),
        ),
        max_size=6,
    )
)
def test_c1_every_sequence_of_replies_activates_only_on_a_valid_one(
    replies: list[tuple[int, str, Channel, str]],
) -> None:
    """Property: whatever arrives, ACTIVE is reached only by the subscriber's own reply
    through an operator channel, after the request, inside the window."""
    clock = ManualClock(dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC))
    lc = Lifecycle(make_catalog(), clock=clock)
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    for delay, who, channel, code_mode in replies:
        clock.advance(dt.timedelta(seconds=delay))
        code = {"none": None, "right": order.code, "wrong": "1"}[code_mode]
        before = lc.get(order.id)
        try:
            after = lc.confirm(order.id, msisdn=who, channel=channel, code=code)
        except (ConfirmationRefusedError, InvalidStateError):
            assert lc.get(order.id) == before
            continue
        elapsed = clock.now() - order.requested_at
        assert before.state is OrderState.AWAITING_CONFIRMATION
        assert who == SUB and channel in lc.policy.operator_channels
        assert dt.timedelta(seconds=2) <= elapsed < dt.timedelta(hours=24)
        assert after.state is OrderState.ACTIVE
    lc.run_due()
    final = lc.get(order.id)
    assert final.state in {OrderState.ACTIVE, OrderState.EXPIRED, OrderState.AWAITING_CONFIRMATION}
    if final.state is not OrderState.ACTIVE:
        assert not lc.may_charge(order.id, Decimal("5.00")).allowed


# --- C2 ------------------------------------------------------------------------------


def test_c2_confirmation_request_names_everything(
    lc: Lifecycle, notifier: RecordingNotifier
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    (request,) = notifier.of_kind(NoticeKind.CONFIRMATION_REQUEST)
    text = request.text
    assert request.msisdn == SUB and request.order_id == order.id
    assert request.sender == "10086"  # replies go to an operator-controlled number
    for part in (
        "星辰科技",
        "新闻早报",
        "5元/月",
        "包月",
        "自动续订",
        "不回复视为不订购",
        "24小时",
    ):
        assert part in text, part
    assert f"是 {order.code}" in text and f"否 {order.code}" in text


def test_c2_english_confirmation_request(lc: Lifecycle, notifier: RecordingNotifier) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API, language="en")
    (request,) = notifier.of_kind(NoticeKind.CONFIRMATION_REQUEST)
    assert request.language == "en"
    for part in ("新闻早报", "CNY 5/month", "renews", "If you do not reply", "24 hours"):
        assert part in request.text, part
    assert f"Y {order.code}" in request.text


# --- C3 ------------------------------------------------------------------------------


def test_c3_each_pending_request_has_its_own_code(lc: Lifecycle) -> None:
    first = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    second = lc.request(SUB, "WEATHER", channel=Channel.SP_API)
    assert first.code and second.code and first.code != second.code
    assert len(first.code) == len(second.code) == 4 and first.code.isdigit()


def test_c3_bare_confirmation_is_ambiguous_with_two_pending(
    lc: Lifecycle, clock: ManualClock
) -> None:
    first = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    lc.request(SUB, "WEATHER", channel=Channel.SP_API)
    clock.advance(SECONDS)
    with pytest.raises(ConfirmationRefusedError) as err:
        lc.confirm(first.id, msisdn=SUB, channel=Channel.SMS)
    assert err.value.reason is ReasonCode.CODE_REQUIRED
    assert lc.get(first.id).state is OrderState.AWAITING_CONFIRMATION
    assert lc.confirm(first.id, msisdn=SUB, channel=Channel.SMS, code=first.code).state is (
        OrderState.ACTIVE
    )


def test_c3_wrong_code_confirms_nothing(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    other = lc.request(SUB, "WEATHER", channel=Channel.SP_API)
    clock.advance(SECONDS)
    for code in (other.code, "0000"):
        with pytest.raises(ConfirmationRefusedError) as err:
            lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS, code=code)
        assert err.value.reason is ReasonCode.WRONG_CODE
    assert {o.state for o in lc.live_orders(SUB)} == {OrderState.AWAITING_CONFIRMATION}


def test_c3_single_pending_bare_yes_confirms(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(SECONDS)
    assert lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS).state is OrderState.ACTIVE


# --- C4 ------------------------------------------------------------------------------


def test_c4_activation_notice_tells_how_to_unsubscribe(
    lc: Lifecycle, clock: ManualClock, notifier: RecordingNotifier
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(SECONDS)
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    (activated,) = notifier.of_kind(NoticeKind.ACTIVATED)
    for part in ("新闻早报", "星辰科技", "5元/月", "TD", "10658001", "0000", "10086"):
        assert part in activated.text, part


# --- C13 -----------------------------------------------------------------------------


def test_c13_confirmation_from_sp_platform_is_forced_subscription(
    lc: Lifecycle, clock: ManualClock
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(SECONDS)
    with pytest.raises(ForcedSubscriptionError) as err:
        lc.confirm(order.id, msisdn=SUB, channel=Channel.SP_API)
    assert err.value.reason is ReasonCode.SP_CONFIRMATION and err.value.sp_id == "SP01"
    assert lc.get(order.id).state is OrderState.AWAITING_CONFIRMATION
    (violation,) = lc.sp_violations("SP01")
    assert (violation.order_id, violation.reason, violation.msisdn) == (
        order.id,
        ReasonCode.SP_CONFIRMATION,
        SUB,
    )
    assert lc.sp_violations("SP02") == []


def test_c13_confirmation_from_another_number(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(SECONDS)
    with pytest.raises(ForcedSubscriptionError) as err:
        lc.confirm(order.id, msisdn=OTHER, channel=Channel.SMS)
    assert err.value.reason is ReasonCode.FOREIGN_NUMBER
    assert [v.reason for v in lc.sp_violations("SP01")] == [ReasonCode.FOREIGN_NUMBER]


def test_c13_confirmation_faster_than_a_human(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(milliseconds=1500))
    with pytest.raises(ForcedSubscriptionError) as err:
        lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    assert err.value.reason is ReasonCode.TOO_FAST
    assert lc.sp_violations("SP01")[0].reason is ReasonCode.TOO_FAST
    clock.advance(dt.timedelta(seconds=1))
    assert lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS).state is OrderState.ACTIVE


def test_c13_sp_daily_request_limit(lc: Lifecycle, clock: ManualClock) -> None:
    states = []
    for code in ("NEWS", "WEATHER", "JOKE", "NEWS"):
        states.append(lc.request(SUB, code, channel=Channel.SP_API).state)
    assert states[:3] == [OrderState.AWAITING_CONFIRMATION] * 3  # on demand too (C5a)
    assert states[3] is OrderState.REJECTED
    (violation,) = lc.sp_violations("SP01")
    assert violation.reason is ReasonCode.DAILY_LIMIT
    # another SP and the subscriber's own orders are not counted against SP01
    assert lc.request(SUB, "MUSIC7", channel=Channel.SP_API).state is OrderState.TRIAL
    assert lc.request(SUB, "JOKE", channel=Channel.WEB).state is OrderState.COMPLETED
    # the limit is per calendar day in the policy's time zone (Asia/Shanghai)
    clock.set(dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.UTC))  # 00:00 on the 25th in Shanghai
    assert lc.request(SUB, "JOKE", channel=Channel.SP_API).state is OrderState.AWAITING_CONFIRMATION


def test_c13_limit_is_a_policy_setting(clock: ManualClock) -> None:
    lc = Lifecycle(
        make_catalog(), policy=Policy.china_mobile(sp_daily_request_limit=1), clock=clock
    )
    assert lc.request(SUB, "NEWS", channel=Channel.SP_API).state is OrderState.AWAITING_CONFIRMATION
    assert lc.request(SUB, "WEATHER", channel=Channel.SP_API).state is OrderState.REJECTED


def test_duplicate_live_order_is_rejected(lc: Lifecycle) -> None:
    lc.request(SUB, "NEWS", channel=Channel.WEB)
    again = lc.request(SUB, "NEWS", channel=Channel.WEB)
    assert again.state is OrderState.REJECTED and again.end_reason == "duplicate_order"


def test_c1a_a_yes_before_the_request_went_out_is_not_consent(clock: ManualClock) -> None:
    notifier = FlakyNotifier()
    notifier.failing = True  # the gateway refuses the confirmation request
    lc = Lifecycle(make_catalog(), clock=clock, notifier=notifier)
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(minutes=1))
    replies = lc.handle_sms(SUB, "Y", to="10086")  # told by the SP's salesman, not by us
    assert [r.kind for r in replies] == [NoticeKind.NOTHING_PENDING]
    with pytest.raises(ConfirmationRefusedError) as refused:
        lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    assert refused.value.reason is ReasonCode.REQUEST_NOT_SENT
    assert lc.get(order.id).state is OrderState.AWAITING_CONFIRMATION
    assert not lc.may_charge(order.id, Decimal("5.00")).allowed
    # the outbox re-sends the request; once it is out, the subscriber's yes counts
    notifier.failing = False
    clock.advance(dt.timedelta(minutes=5))
    assert lc.dispatch() == 2  # the request and the reply to the early yes
    assert NoticeKind.CONFIRMATION_REQUEST in [n.kind for n in notifier.sent]
    lc.handle_sms(SUB, "Y", to="10086")
    assert lc.get(order.id).state is OrderState.ACTIVE
    assert check_invariants(lc) == []


def test_c1a_the_checker_reports_consent_to_a_request_never_sent(clock: ManualClock) -> None:
    notifier = FlakyNotifier()
    notifier.failing = True
    lc = Lifecycle(make_catalog(), clock=clock, notifier=notifier)
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(minutes=1))
    # a store edited behind the library's back: consent granted with no request out
    forged = Event(order.id, 3, EventKind.CONSENT_GRANTED, clock.now(), Channel.SMS, SUB)
    with lc.store.transaction() as tx:
        tx.orders.append(apply(order, forged), [forged], order.version)
    problems = check_invariants(lc)
    assert any("C1a" in p.message for p in problems)


def test_c5a_an_sp_cannot_start_an_on_demand_charge_alone(
    lc: Lifecycle, clock: ManualClock, notifier: RecordingNotifier
) -> None:
    order = lc.request(SUB, "JOKE", channel=Channel.SP_API)
    assert order.state is OrderState.AWAITING_CONFIRMATION
    request = notifier.sent[-1]
    assert request.kind is NoticeKind.PURCHASE_REQUEST
    assert "1元" in request.text and "仅收取一次" in request.text and order.code in request.text
    decision = lc.may_charge(order.id, Decimal("1.00"))
    assert not decision.allowed and decision.reason is ReasonCode.NOT_ACTIVE
    clock.advance(dt.timedelta(seconds=30))
    lc.handle_sms(SUB, "是", to="10086")
    done = lc.get(order.id)
    assert done.state is OrderState.COMPLETED and done.consent_channel is Channel.SMS
    assert notifier.sent[-1].kind is NoticeKind.FEE_NOTICE
    assert lc.may_charge(order.id, Decimal("1.00")).allowed
    lc.record_charge(order.id, Decimal("1.00"), key="joke-1")
    assert check_invariants(lc) == []


def test_c5a_an_unanswered_sp_on_demand_order_expires_uncharged(
    lc: Lifecycle, clock: ManualClock
) -> None:
    order = lc.request(SUB, "JOKE", channel=Channel.SP_API)
    clock.advance(dt.timedelta(hours=25))
    lc.run_due()
    assert lc.get(order.id).state is OrderState.EXPIRED
    assert lc.may_charge(order.id, Decimal("1.00")).reason is ReasonCode.NOT_ACTIVE


def test_c5a_the_subscribers_own_on_demand_order_needs_no_reply(lc: Lifecycle) -> None:
    assert lc.request(SUB, "JOKE", channel=Channel.WEB).state is OrderState.COMPLETED
