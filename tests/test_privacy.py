"""C14a: subscriber numbers are masked in reprs and error messages, kept in the store."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import OTHER, SUB
from vas_lifecycle import (
    Channel,
    ForcedSubscriptionError,
    InvalidMsisdnError,
    Lifecycle,
    ManualClock,
    mask_msisdn,
)


def test_c14a_mask_keeps_country_code_prefix_and_last_digits() -> None:
    assert mask_msisdn("+8613800138000") == "+86138****8000"
    assert mask_msisdn("+15551234567") == "+155****4567"
    assert mask_msisdn("SP01") == "SP01"  # not a number: as it is


def test_c14a_reprs_mask_the_subscriber(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(minutes=1))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    shown = " ".join(
        [repr(lc.get(order.id)), *map(repr, lc.history(order.id)), *map(repr, lc.notices(order.id))]
    )
    assert SUB not in shown and "13800138000" not in shown
    assert "+86138****8000" in shown
    assert lc.get(order.id).msisdn == SUB  # the store keeps it in full


def test_c14a_the_forced_subscription_error_masks_both_numbers(
    lc: Lifecycle, clock: ManualClock
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(minutes=1))
    with pytest.raises(ForcedSubscriptionError) as caught:
        lc.confirm(order.id, msisdn=OTHER, channel=Channel.SMS)
    message = str(caught.value)
    assert SUB not in message and OTHER not in message and "****" in message
    (violation,) = lc.sp_violations("SP01")
    assert OTHER in violation.evidence  # the evidence keeps the full number
    assert OTHER not in repr(violation)


def test_c14a_a_malformed_number_is_masked_in_its_error(lc: Lifecycle) -> None:
    with pytest.raises(InvalidMsisdnError) as caught:
        lc.request("1380013800O", "NEWS", channel=Channel.WEB)
    assert "1380013800" not in str(caught.value)


def test_c14a_command_records_mask_numbers_and_leave_texts_out() -> None:
    from vas_lifecycle.commands import Confirm, ReceiveText, RefuseSp, Request
    from vas_lifecycle.errors import SpAccessError
    from vas_lifecycle.records import ReasonCode
    from vas_lifecycle.testing import demo_catalog

    news = demo_catalog().get("NEWS")
    records = [
        Request(SUB, news, Channel.WEB, SUB, "是", "zh"),
        Confirm("o1", SUB, Channel.SMS, "1234", None),
        ReceiveText(SUB, "10086", f"我的号码 {OTHER}", "k-1"),
        RefuseSp("SP02", ReasonCode.NOT_YOUR_SERVICE, SUB, None, "", SpAccessError("x", "y")),
    ]
    for record in records:
        shown = repr(record)
        assert SUB not in shown and mask_msisdn(SUB) in shown, shown
        assert OTHER not in shown and "我的号码" not in shown, shown
