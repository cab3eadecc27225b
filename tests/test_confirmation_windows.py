"""IN1's reply windows by channel: a confirmation request made in a USSD session waits
seconds for the answer, one made by SMS an hour (TRAI); a channel the policy does not
name keeps the policy's window. The request's text says the window it has."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from hypothesis import given

from tests.conftest import SUB, make_catalog
from vas_lifecycle import (
    Channel,
    ConfirmationRefusedError,
    EventKind,
    InvalidArgumentError,
    Lifecycle,
    ManualClock,
    NoticeKind,
    Order,
    OrderState,
    Policy,
    PolicyError,
    RecordingNotifier,
)
from vas_lifecycle.notices import ENGLISH, SIMPLIFIED_CHINESE
from vas_lifecycle.testing import check_invariants
from vas_lifecycle.testing.strategies import policies

START = pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai")
WINDOWS = {Channel.USSD: dt.timedelta(seconds=10), Channel.SMS: dt.timedelta(minutes=60)}


def _lifecycle() -> tuple[Lifecycle, ManualClock, RecordingNotifier]:
    clock, sent = ManualClock(START), RecordingNotifier()
    policy = Policy.china_mobile(confirmation_windows=WINDOWS)
    return Lifecycle(make_catalog(), policy=policy, clock=clock, notifier=sent), clock, sent


def _request_text(sent: RecordingNotifier, order_id: str) -> str:
    (request,) = [
        n for n in sent.sent if n.order_id == order_id and n.kind is NoticeKind.CONFIRMATION_REQUEST
    ]
    return request.text


def test_in1_durations_read_in_their_largest_whole_unit() -> None:
    for pack, labels in (
        (SIMPLIFIED_CHINESE, ["10秒", "1.5秒", "90分钟", "1小时", "24小时"]),
        (ENGLISH, ["10 seconds", "1.5 seconds", "90 minutes", "1 hours", "24 hours"]),
    ):
        durations = [
            dt.timedelta(seconds=10),
            dt.timedelta(seconds=1.5),
            dt.timedelta(minutes=90),
            dt.timedelta(hours=1),
            dt.timedelta(hours=24),
        ]
        assert [pack.duration_label(d) for d in durations] == labels


def test_in1_a_ussd_request_waits_ten_seconds_and_an_sms_one_an_hour() -> None:
    lc, clock, sent = _lifecycle()
    ussd = lc.request(SUB, "NEWS", channel=Channel.USSD)
    sms = lc.request("+8613900139000", "NEWS", channel=Channel.SMS)
    web = lc.request("+8613700137000", "NEWS", channel=Channel.WEB)
    assert ussd.confirm_by == clock.now().add(seconds=10)
    assert sms.confirm_by == clock.now().add(hours=1)
    assert web.confirm_by == clock.now().add(hours=24)  # not named: the policy's window
    assert "本短信10秒内有效" in _request_text(sent, ussd.id)
    assert "本短信1小时内有效" in _request_text(sent, sms.id)
    assert "本短信24小时内有效" in _request_text(sent, web.id)
    clock.advance(dt.timedelta(seconds=11))
    with pytest.raises(ConfirmationRefusedError, match="window_closed"):
        lc.confirm(ussd.id, msisdn=SUB, channel=Channel.SMS, code=ussd.code)
    assert lc.confirm(sms.id, msisdn=sms.msisdn, channel=Channel.SMS).state is OrderState.ACTIVE
    assert lc.run_due() == 1  # the USSD request expires; the web one still waits
    assert lc.get(ussd.id).state is OrderState.EXPIRED
    assert lc.get(web.id).state is OrderState.AWAITING_CONFIRMATION


def test_in1_an_answer_inside_a_short_window_is_taken() -> None:
    lc, clock, _ = _lifecycle()
    ussd = lc.request(SUB, "NEWS", channel=Channel.USSD)
    clock.advance(dt.timedelta(seconds=5))
    assert lc.confirm(ussd.id, msisdn=SUB, channel=Channel.USSD).state is OrderState.ACTIVE


def test_in1_windows_by_channel_are_checked_when_the_policy_is_built() -> None:
    with pytest.raises(PolicyError, match="not a channel"):
        Policy.china_mobile(confirmation_windows={"pigeon": dt.timedelta(hours=1)})
    with pytest.raises(PolicyError, match="positive"):
        Policy.china_mobile(confirmation_windows={Channel.USSD: dt.timedelta(0)})
    with pytest.raises(PolicyError, match="fastest_human_reply"):
        Policy.china_mobile(confirmation_windows={Channel.USSD: dt.timedelta(seconds=1)})
    policy = Policy.china_mobile(confirmation_windows={"ussd": dt.timedelta(seconds=10)})
    assert policy.window_for(Channel.USSD) == dt.timedelta(seconds=10)
    assert policy.window_for(Channel.WEB) == policy.confirmation_window
    assert Policy.china_mobile().confirmation_windows == {}  # China: one window for all


@given(policy=policies())
def test_in1_the_test_kits_policies_vary_the_windows_by_channel(policy: Policy) -> None:
    for channel in Channel:
        assert policy.window_for(channel) > policy.fastest_human_reply
    assert set(policy.confirmation_windows) <= {Channel.USSD, Channel.SMS}


# --- the independent consent gateway ------------------------------------------------


def _pending(policy: Policy, channel: Channel) -> tuple[Lifecycle, Order]:
    """A Lifecycle under ``policy`` with one order requested on ``channel``, awaiting
    its confirmation 20 seconds later."""
    clock = ManualClock(START)
    lc = Lifecycle(make_catalog(), policy=policy, clock=clock, notifier=RecordingNotifier())
    order = lc.request(SUB, "NEWS", channel=channel)
    clock.advance(dt.timedelta(seconds=20))
    return lc, order


#: TRAI's shape: only the third party's consent gateway takes the second consent
GATEWAY_ONLY = Policy.china_mobile(
    operator_channels={Channel.CONSENT_GATEWAY}, confirmation_windows=WINDOWS
)


def test_in1_only_the_consent_gateway_confirms_and_its_attestation_is_evidence() -> None:
    lc, order = _pending(GATEWAY_ONLY, Channel.SMS)
    with pytest.raises(ConfirmationRefusedError, match="not_operator_channel"):
        lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    lc.handle_sms(SUB, "是", to="10086")  # a yes by SMS is not the gateway's consent
    assert lc.get(order.id).state is OrderState.AWAITING_CONFIRMATION
    with pytest.raises(ConfirmationRefusedError, match="no_attestation"):
        lc.confirm(order.id, msisdn=SUB, channel=Channel.CONSENT_GATEWAY)
    active = lc.confirm(
        order.id, msisdn=SUB, channel=Channel.CONSENT_GATEWAY, attestation=" CCG-2026-000123 "
    )
    assert active.state is OrderState.ACTIVE and active.consent_channel is Channel.CONSENT_GATEWAY
    granted = lc.history(order.id)[-1]
    assert granted.kind is EventKind.CONSENT_GRANTED
    assert granted.data["attestation"] == "CCG-2026-000123"
    bundle = lc.evidence_bundle(order.id)
    assert bundle["events"][-1]["data"]["attestation"] == "CCG-2026-000123"
    assert check_invariants(lc) == []


def test_in1_the_china_preset_takes_no_consent_from_a_gateway() -> None:
    lc, order = _pending(Policy.china_mobile(), Channel.WEB)
    with pytest.raises(ConfirmationRefusedError, match="not_operator_channel"):
        lc.confirm(order.id, msisdn=SUB, channel=Channel.CONSENT_GATEWAY, attestation="A1")
    assert lc.get(order.id).state is OrderState.AWAITING_CONFIRMATION


def test_in1_an_attestation_is_only_the_gateways_and_is_cleaned() -> None:
    lc, order = _pending(GATEWAY_ONLY, Channel.WEB)
    with pytest.raises(InvalidArgumentError, match="only comes with the consent gateway"):
        lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS, attestation="A1")
    hostile = "A\x00" + "9" * 500
    active = lc.confirm(order.id, msisdn=SUB, channel=Channel.CONSENT_GATEWAY, attestation=hostile)
    kept = lc.history(active.id)[-1].data["attestation"]
    assert "\x00" not in kept and len(kept) <= 128
