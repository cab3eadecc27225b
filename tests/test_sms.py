"""The subscriber SMS channel: C3 (codes), C8 (0000 and picks), C9 (TD), C10 (tolerance)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import OTHER, SUB, make_catalog
from vas_lifecycle import (
    Catalog,
    Channel,
    InvalidArgumentError,
    InvalidMsisdnError,
    Lifecycle,
    ManualClock,
    MemoryStore,
    NoticeKind,
    OfferKind,
    Order,
    OrderState,
    Policy,
    PolicyError,
    RecordingNotifier,
    Service,
)
from vas_lifecycle.testing import check_invariants, strategies

OPERATOR = "10086"


def kinds(replies: list) -> list[NoticeKind]:  # type: ignore[type-arg]
    return [r.kind for r in replies]


def states(lc: Lifecycle, *orders: Order) -> list[OrderState]:
    return [lc.get(o.id).state for o in orders]


def two_pending(lc: Lifecycle, clock: ManualClock) -> tuple[Order, Order]:
    first = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    second = lc.request(SUB, "WEATHER", channel=Channel.SP_API)
    clock.advance(dt.timedelta(seconds=30))
    return first, second


# --- C3 ------------------------------------------------------------------------------


def test_c3_bare_yes_with_two_pending_confirms_nothing_and_lists_codes(
    lc: Lifecycle, clock: ManualClock
) -> None:
    first, second = two_pending(lc, clock)
    replies = lc.handle_sms(SUB, "是", to=OPERATOR)
    assert kinds(replies) == [NoticeKind.PENDING_LIST]
    assert states(lc, first, second) == [OrderState.AWAITING_CONFIRMATION] * 2
    text = replies[0].text
    assert first.code in text and second.code in text
    assert "新闻早报" in text and "天气预报" in text and "5元/月" in text
    assert replies[0].sender == OPERATOR and replies[0].msisdn == SUB


def test_c3_full_width_yes_with_code_confirms_that_order(lc: Lifecycle, clock: ManualClock) -> None:
    first, second = two_pending(lc, clock)
    full_width_code = "".join(chr(ord(d) + 0xFEE0) for d in second.code or "")
    replies = lc.handle_sms(SUB, f"Ｙ\u3000{full_width_code}", to=OPERATOR)
    assert kinds(replies) == [NoticeKind.ACTIVATED]
    assert states(lc, first, second) == [OrderState.AWAITING_CONFIRMATION, OrderState.ACTIVE]
    granted = lc.history(second.id)[-1]
    assert granted.text_in == f"Ｙ\u3000{full_width_code}" and granted.channel is Channel.SMS


def test_c3_wrong_code_confirms_nothing(lc: Lifecycle, clock: ManualClock) -> None:
    first, second = two_pending(lc, clock)
    wrong = "1000" if "1000" not in (first.code, second.code) else "1001"
    replies = lc.handle_sms(SUB, f"Y {wrong}", to=OPERATOR)
    assert kinds(replies) == [NoticeKind.WRONG_CODE]
    assert states(lc, first, second) == [OrderState.AWAITING_CONFIRMATION] * 2


def test_c3_bare_yes_with_one_pending_confirms_it(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(seconds=30))
    assert kinds(lc.handle_sms(SUB, " y! ", to=OPERATOR)) == [NoticeKind.ACTIVATED]
    assert lc.get(order.id).state is OrderState.ACTIVE


def test_c3_no_with_code_declines_that_order(lc: Lifecycle, clock: ManualClock) -> None:
    first, second = two_pending(lc, clock)
    replies = lc.handle_sms(SUB, f"否{first.code}", to=OPERATOR)
    assert kinds(replies) == [NoticeKind.DECLINED]
    assert states(lc, first, second) == [OrderState.DECLINED, OrderState.AWAITING_CONFIRMATION]


def test_c3_yes_without_pending_order(lc: Lifecycle) -> None:
    assert kinds(lc.handle_sms(SUB, "是", to=OPERATOR)) == [NoticeKind.NOTHING_PENDING]


def test_c3_yes_to_an_access_code_confirms_nothing(lc: Lifecycle, clock: ManualClock) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(seconds=30))
    replies = lc.handle_sms(SUB, "Y", to="10658001")
    assert kinds(replies) == [NoticeKind.CONFIRM_AT_OPERATOR]
    assert lc.get(order.id).state is OrderState.AWAITING_CONFIRMATION


def test_c3_another_subscribers_yes_does_not_touch_my_order(
    lc: Lifecycle, clock: ManualClock
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(seconds=30))
    replies = lc.handle_sms(OTHER, f"Y {order.code}", to=OPERATOR)
    assert kinds(replies) == [NoticeKind.NOTHING_PENDING]
    assert lc.get(order.id).state is OrderState.AWAITING_CONFIRMATION


def test_c3_a_too_fast_sms_reply_is_refused_politely(lc: Lifecycle) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    replies = lc.handle_sms(SUB, "是", to=OPERATOR)  # 0 s after the request
    assert kinds(replies) == [NoticeKind.CONFIRMATION_FAILED]
    assert lc.get(order.id).state is OrderState.AWAITING_CONFIRMATION
    assert [v.reason.value for v in lc.sp_violations("SP01")] == ["too_fast"]


# --- C8 ------------------------------------------------------------------------------


def live_three(lc: Lifecycle, clock: ManualClock) -> list[Order]:
    news = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    lc.confirm(news.id, msisdn=SUB, channel=Channel.SMS)
    weather = lc.request(SUB, "WEATHER", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    lc.confirm(weather.id, msisdn=SUB, channel=Channel.SMS, code=weather.code)
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    return [news, weather, trial]


def test_c8_0000_lists_live_orders_numbered(lc: Lifecycle, clock: ManualClock) -> None:
    live_three(lc, clock)
    (reply,) = lc.handle_sms(SUB, "0000", to=OPERATOR)
    assert reply.kind is NoticeKind.LIVE_LIST
    text = reply.text
    assert "1.星辰科技“新闻早报”5元/月" in text
    assert "2.星辰科技“天气预报”3元/月" in text
    assert "3.乐享音乐“彩铃体验”免费体验至2026年12月1日09:01" in text
    assert "2小时" in text


def test_c8_pick_1_3_cancels_exactly_those(
    lc: Lifecycle, clock: ManualClock, notifier: RecordingNotifier
) -> None:
    news, weather, trial = live_three(lc, clock)
    lc.handle_sms(SUB, "0000", to=OPERATOR)
    clock.advance(dt.timedelta(minutes=5))
    replies = lc.handle_sms(SUB, "1，3", to=OPERATOR)
    assert kinds(replies) == [NoticeKind.CANCELLED, NoticeKind.CANCELLED]
    assert states(lc, news, weather, trial) == [
        OrderState.CANCELLED,
        OrderState.ACTIVE,
        OrderState.CANCELLED,
    ]
    assert lc.history(news.id)[-1].text_in == "1，3"


@pytest.mark.parametrize("text", ["1、2", "1 2", "2,1", "１，２", " 1 ,2 。"])
def test_c8_pick_separators(lc: Lifecycle, clock: ManualClock, text: str) -> None:
    news, weather, trial = live_three(lc, clock)
    lc.handle_sms(SUB, "00000", to=OPERATOR)
    lc.handle_sms(SUB, text, to=OPERATOR)
    assert states(lc, news, weather, trial) == [
        OrderState.CANCELLED,
        OrderState.CANCELLED,
        OrderState.TRIAL,
    ]


def test_c8_pick_after_the_window_does_nothing(lc: Lifecycle, clock: ManualClock) -> None:
    orders = live_three(lc, clock)
    lc.handle_sms(SUB, "0000", to=OPERATOR)
    clock.advance(dt.timedelta(hours=2))
    replies = lc.handle_sms(SUB, "1", to=OPERATOR)
    assert kinds(replies) == [NoticeKind.PICK_EXPIRED]
    assert "0000" in replies[0].text
    assert OrderState.CANCELLED not in states(lc, *orders)


def test_c8_pick_without_a_list(lc: Lifecycle, clock: ManualClock) -> None:
    live_three(lc, clock)
    assert kinds(lc.handle_sms(SUB, "2", to=OPERATOR)) == [NoticeKind.PICK_EXPIRED]


def test_c8_pick_after_an_order_was_cancelled_elsewhere(lc: Lifecycle, clock: ManualClock) -> None:
    news, weather, trial = live_three(lc, clock)
    lc.handle_sms(SUB, "0000", to=OPERATOR)
    lc.unsubscribe(weather.id, channel=Channel.HOTLINE)
    replies = lc.handle_sms(SUB, "2 3", to=OPERATOR)
    assert kinds(replies) == [NoticeKind.ALREADY_CANCELLED, NoticeKind.CANCELLED]
    assert "天气预报" in replies[0].text
    assert states(lc, news, weather, trial) == [OrderState.ACTIVE, *[OrderState.CANCELLED] * 2]
    cancel_notices = [n for n in lc.notices(weather.id) if n.kind is NoticeKind.CANCELLED]
    assert len(cancel_notices) == 1  # confirmed once (C7)


def test_c8_numbers_refer_to_the_list_as_sent(lc: Lifecycle, clock: ManualClock) -> None:
    news, weather, trial = live_three(lc, clock)
    lc.handle_sms(SUB, "0000", to=OPERATOR)
    lc.unsubscribe(news.id, channel=Channel.WEB)  # a list computed now would shift by one
    joke_trial = lc.request(SUB, "GAME1", channel=Channel.WEB)
    lc.handle_sms(SUB, "2", to=OPERATOR)
    assert states(lc, weather, trial, joke_trial) == [
        OrderState.CANCELLED,
        OrderState.TRIAL,
        OrderState.TRIAL,
    ]


def test_c8_numbers_outside_the_list_are_named(lc: Lifecycle, clock: ManualClock) -> None:
    news, weather, trial = live_three(lc, clock)
    lc.handle_sms(SUB, "0000", to=OPERATOR)
    replies = lc.handle_sms(SUB, "2,7,0", to=OPERATOR)
    assert kinds(replies) == [NoticeKind.CANCELLED, NoticeKind.PICK_INVALID]
    assert "7" in replies[1].text and "0" in replies[1].text
    assert states(lc, news, weather, trial) == [
        OrderState.ACTIVE,
        OrderState.CANCELLED,
        OrderState.TRIAL,
    ]


def test_c8_empty_list_says_so(lc: Lifecycle) -> None:
    replies = lc.handle_sms(SUB, "0000", to=OPERATOR)
    assert kinds(replies) == [NoticeKind.LIST_EMPTY]
    assert kinds(lc.handle_sms(SUB, "1", to=OPERATOR)) == [NoticeKind.PICK_INVALID]


def test_c8_there_is_no_cancel_all_word(lc: Lifecycle, clock: ManualClock) -> None:
    orders = live_three(lc, clock)
    lc.handle_sms(SUB, "0000", to=OPERATOR)
    for text in ("0", "ALL", "全部"):
        lc.handle_sms(SUB, text, to=OPERATOR)
    assert OrderState.CANCELLED not in states(lc, *orders)


def test_c8_pick_session_survives_a_restart(clock: ManualClock) -> None:
    store = MemoryStore()
    first = Lifecycle(make_catalog(), clock=clock, store=store, notifier=RecordingNotifier())
    trial = first.request(SUB, "MUSIC7", channel=Channel.WEB)
    first.handle_sms(SUB, "0000", to=OPERATOR)
    restarted = Lifecycle(make_catalog(), clock=clock, store=store, notifier=RecordingNotifier())
    assert kinds(restarted.handle_sms(SUB, "1", to=OPERATOR)) == [NoticeKind.CANCELLED]
    assert restarted.get(trial.id).state is OrderState.CANCELLED


# --- C9 ------------------------------------------------------------------------------


def test_c9_full_width_td_to_an_access_code_with_two_services(
    lc: Lifecycle, clock: ManualClock
) -> None:
    news, weather, trial = live_three(lc, clock)
    replies = lc.handle_sms(SUB, "ＴＤ", to="10658001")
    assert kinds(replies) == [NoticeKind.CANCELLED, NoticeKind.CANCELLED]
    assert states(lc, news, weather, trial) == [
        OrderState.CANCELLED,
        OrderState.CANCELLED,
        OrderState.TRIAL,
    ]


def test_c9_td_with_a_service_code_cancels_only_that(lc: Lifecycle, clock: ManualClock) -> None:
    news, weather, trial = live_three(lc, clock)
    replies = lc.handle_sms(SUB, "td weather", to="10658001")
    assert kinds(replies) == [NoticeKind.CANCELLED]
    assert states(lc, news, weather, trial) == [
        OrderState.ACTIVE,
        OrderState.CANCELLED,
        OrderState.TRIAL,
    ]


def test_c9_qx_works_like_td(lc: Lifecycle, clock: ManualClock) -> None:
    news, weather, trial = live_three(lc, clock)
    lc.handle_sms(SUB, "QX", to="10658002")
    assert states(lc, news, weather, trial) == [
        OrderState.ACTIVE,
        OrderState.ACTIVE,
        OrderState.CANCELLED,
    ]


def test_c9_td_with_nothing_behind_it(lc: Lifecycle, clock: ManualClock) -> None:
    live_three(lc, clock)
    assert kinds(lc.handle_sms(SUB, "TD", to="10658009")) == [NoticeKind.NOTHING_TO_CANCEL]
    assert kinds(lc.handle_sms(SUB, "TD NOPE", to="10658001")) == [NoticeKind.NOTHING_TO_CANCEL]
    assert len(lc.live_orders(SUB)) == 3


def test_c9_td_cancels_an_unconfirmed_order_too(lc: Lifecycle) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    lc.handle_sms(SUB, "TD", to="10658001")
    assert lc.get(order.id).state is OrderState.CANCELLED


def test_c9_td_to_the_operator_number_lists(lc: Lifecycle, clock: ManualClock) -> None:
    live_three(lc, clock)
    assert kinds(lc.handle_sms(SUB, "TD", to=OPERATOR)) == [NoticeKind.LIVE_LIST]
    assert len(lc.live_orders(SUB)) == 3


# --- C10 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("帮助", NoticeKind.HELP),
        ("help", NoticeKind.HELP),
        ("?", NoticeKind.HELP),
        ("？", NoticeKind.HELP),
        ("hello", NoticeKind.UNRECOGNISED),
        ("", NoticeKind.UNRECOGNISED),
        ("\u202e\u0000", NoticeKind.UNRECOGNISED),
    ],
)
def test_c10_help_and_anything_else_change_nothing(
    lc: Lifecycle, clock: ManualClock, text: str, kind: NoticeKind
) -> None:
    orders = live_three(lc, clock)
    before = [lc.get(o.id) for o in orders]
    assert kinds(lc.handle_sms(SUB, text, to=OPERATOR)) == [kind]
    assert [lc.get(o.id) for o in orders] == before


def test_c10_a_reply_never_echoes_more_than_a_short_fragment(lc: Lifecycle) -> None:
    text = "<script>" + "x" * 10_000 + "\u202e"
    (reply,) = lc.handle_sms(SUB, text, to=OPERATOR)
    assert reply.kind is NoticeKind.UNRECOGNISED
    assert "<" not in reply.text and "\u202e" not in reply.text
    assert len(reply.text) < 120


def test_c10_malformed_sender_or_no_recipient_are_the_only_errors(lc: Lifecycle) -> None:
    with pytest.raises(InvalidMsisdnError):
        lc.handle_sms("not a number", "Y", to=OPERATOR)
    with pytest.raises(InvalidArgumentError):  # the caller's mistake, not the subscriber's
        lc.handle_sms(SUB, "Y", to=None)  # type: ignore[arg-type]
    assert kinds(lc.handle_sms(SUB, None, to=OPERATOR)) == [NoticeKind.UNRECOGNISED]  # type: ignore[arg-type]
    assert kinds(lc.handle_sms(SUB, "TD", to="<script>")) == [NoticeKind.NOTHING_TO_CANCEL]


def test_c10_english_subscriber_gets_english_replies(lc: Lifecycle, clock: ManualClock) -> None:
    lc.request(SUB, "NEWS", channel=Channel.WEB, language="en")
    lc.request(SUB, "WEATHER", channel=Channel.WEB, language="en")
    clock.advance(dt.timedelta(seconds=30))
    (reply,) = lc.handle_sms(SUB, "Y", to=OPERATOR)
    assert reply.language == "en" and "several orders" in reply.text


@given(text=strategies.sms_texts(), to=st.sampled_from([OPERATOR, "10658001", "", "??"]))
def test_c10_no_text_raises_and_unread_texts_change_nothing(text: str, to: str) -> None:
    clock = ManualClock(dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC))
    lc = Lifecycle(make_catalog(), clock=clock, notifier=RecordingNotifier())
    pending = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(seconds=30))
    from vas_lifecycle.sms import CommandKind, parse

    command = parse(text, lc.policy, to_operator=to == OPERATOR)
    replies = lc.handle_sms(SUB, text, to=to)
    assert replies and all(len(r.text) < 1000 for r in replies)
    state = lc.get(pending.id).state
    if command.kind in (CommandKind.UNKNOWN, CommandKind.HELP, CommandKind.LIST, CommandKind.PICK):
        assert state is OrderState.AWAITING_CONFIRMATION
    assert check_invariants(lc) == []


def test_c10_grammar_is_policy_data(clock: ManualClock) -> None:
    policy = Policy.china_mobile(
        unsubscribe_words={"TD", "QX", "STOP"}, cancel_all_words={"STOPALL"}
    )
    lc = Lifecycle(make_catalog(), policy=policy, clock=clock, notifier=RecordingNotifier())
    lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    lc.request(SUB, "GAME1", channel=Channel.WEB)
    assert kinds(lc.handle_sms(SUB, "stopall", to=OPERATOR)) == [NoticeKind.CANCELLED] * 2
    with pytest.raises(PolicyError):
        Policy.china_mobile(list_words={"TD"})  # a word must mean one thing


@pytest.mark.parametrize("text", ["ʸ", "ⓨ", "🅈", "⒴", "𝐘", "𝐲𝐞𝐬", "Yeſ", "ᵞ", "Ｙ\u0338"])
def test_c10a_look_alike_letters_are_not_yes(lc: Lifecycle, clock: ManualClock, text: str) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(seconds=30))
    replies = lc.handle_sms(SUB, text, to=OPERATOR)
    assert kinds(replies) == [NoticeKind.UNRECOGNISED]
    assert lc.get(order.id).state is OrderState.AWAITING_CONFIRMATION


@pytest.mark.parametrize("text", ["№", "ⓝ", "𝐍𝐎", "ᴺ"])
def test_c10a_look_alike_letters_are_not_no(lc: Lifecycle, clock: ManualClock, text: str) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(seconds=30))
    assert kinds(lc.handle_sms(SUB, text, to=OPERATOR)) == [NoticeKind.UNRECOGNISED]
    assert lc.get(order.id).state is OrderState.AWAITING_CONFIRMATION


@pytest.mark.parametrize("text", ["Ｙ", "ｙｅｓ", " y! ", "\x00Y\x07", "Y\u200f", "是。"])
def test_c10a_width_case_punctuation_and_controls_are_still_read(
    lc: Lifecycle, clock: ManualClock, text: str
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.SP_API)
    clock.advance(dt.timedelta(seconds=30))
    assert kinds(lc.handle_sms(SUB, text, to=OPERATOR)) == [NoticeKind.ACTIVATED]
    assert lc.get(order.id).state is OrderState.ACTIVE


def test_c8a_an_empty_list_replaces_the_earlier_one(lc: Lifecycle, clock: ManualClock) -> None:
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    lc.handle_sms(SUB, "0000", to=OPERATOR)
    lc.unsubscribe(trial.id, channel=Channel.HOTLINE)
    assert kinds(lc.handle_sms(SUB, "0000", to=OPERATOR)) == [NoticeKind.LIST_EMPTY]
    replies = lc.handle_sms(SUB, "1", to=OPERATOR)
    # number 1 of the latest (empty) list: nothing about the old order, no second notice
    assert kinds(replies) == [NoticeKind.PICK_INVALID]
    assert all(r.order_id is None for r in replies)
    assert check_invariants(lc) == []


def test_c8a_a_pick_refers_to_the_latest_list(lc: Lifecycle, clock: ManualClock) -> None:
    news = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    lc.handle_sms(SUB, "Y", to=OPERATOR)
    lc.handle_sms(SUB, "0000", to=OPERATOR)  # 1 = NEWS
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    lc.handle_sms(SUB, "0000", to=OPERATOR)  # 1 = NEWS, 2 = MUSIC7
    lc.handle_sms(SUB, "2", to=OPERATOR)
    assert states(lc, news, trial) == [OrderState.ACTIVE, OrderState.CANCELLED]


def subscription(code: str, access_code: str = "10658002", name: str = "包月") -> Service:
    """A subscription of SP02 with the given codes (how catalogs write them)."""
    return Service(
        code=code,
        sp_id="SP02",
        sp_name="乐享",
        name=name,
        kind=OfferKind.SUBSCRIPTION,
        price=Decimal("3"),
        access_code=access_code,
    )


def hyphen_catalog() -> Catalog:
    return Catalog(
        [
            subscription("MUSIC-7", "1065-8002", "音乐七天"),
            subscription("彩铃", "1065 8002", "彩铃包月"),
        ]
    )


@pytest.mark.parametrize(
    ("text", "to"),
    [
        ("TD MUSIC-7", "10658002"),
        ("td music7", "10658002"),
        ("TD MUSIC 7", "1065-8002"),
        ("ＴＤ ＭＵＳＩＣ－７", "１０６５８００２"),
        ("QX music_7", "10658002"),
    ],
)
def test_c9_td_with_a_code_as_subscribers_type_it(clock: ManualClock, text: str, to: str) -> None:
    lc = Lifecycle(hyphen_catalog(), clock=clock, notifier=RecordingNotifier())
    music = lc.request(SUB, "music-7", channel=Channel.WEB)
    ring = lc.request(SUB, "彩铃", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    lc.handle_sms(SUB, f"Y {music.code}", to=OPERATOR)
    lc.handle_sms(SUB, f"Y {ring.code}", to=OPERATOR)
    replies = lc.handle_sms(SUB, text, to=to)
    assert kinds(replies) == [NoticeKind.CANCELLED]
    assert states(lc, music, ring) == [OrderState.CANCELLED, OrderState.ACTIVE]


def test_c9_td_with_a_chinese_code(clock: ManualClock) -> None:
    lc = Lifecycle(hyphen_catalog(), clock=clock, notifier=RecordingNotifier())
    ring = lc.request(SUB, "彩铃", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    lc.handle_sms(SUB, "是", to=OPERATOR)
    assert kinds(lc.handle_sms(SUB, "TD 彩铃", to="10658002")) == [NoticeKind.CANCELLED]
    assert states(lc, ring) == [OrderState.CANCELLED]


@pytest.mark.parametrize("code", ["MUSIC 7", "A/B", "<b>", "X\x00", "", "A" * 33])
def test_c9_a_code_nobody_can_type_after_td_is_refused_at_catalog_load(code: str) -> None:
    with pytest.raises(PolicyError):
        subscription(code)


def test_c9_codes_that_read_alike_after_td_are_refused_together() -> None:
    with pytest.raises(PolicyError, match="duplicate"):
        Catalog([subscription("MUSIC-7"), subscription("music7")])


@pytest.mark.parametrize("access_code", ["10658A01", "1065#8001", "12", "+10658001"])
def test_c9_an_access_code_must_be_digits(access_code: str) -> None:
    with pytest.raises(PolicyError):
        subscription("X", access_code)
