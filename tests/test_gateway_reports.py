"""What a gateway hands the facade: inbound texts with its message id (each handled
once), and delivery reports about the notices it was given."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import START, SUB, make_catalog
from vas_lifecycle import (
    Channel,
    DeliveryStatus,
    InvalidArgumentError,
    Lifecycle,
    ManualClock,
    NoticeKind,
    OrderState,
    RecordingNotifier,
    UnknownNoticeError,
)
from vas_lifecycle.notices import Notice


class FailingOnce(RecordingNotifier):
    """Fails the first hand-over of every notice, then delivers."""

    def __init__(self) -> None:
        super().__init__()
        self.tried: set[str] = set()

    def send(self, notice: Notice) -> None:
        if notice.id not in self.tried:
            self.tried.add(notice.id)
            raise ConnectionError("gateway down")
        super().send(notice)


def test_the_same_message_id_twice_changes_nothing_and_sends_no_second_reply(
    lc: Lifecycle, clock: ManualClock, notifier: RecordingNotifier
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=30))
    first = lc.handle_sms(SUB, "是", to="10086", message_id="kannel-0001")
    assert [n.kind for n in first] == [NoticeKind.ACTIVATED]
    sent = list(notifier.sent)
    history = lc.history(order.id)
    # a gateway retry of the same text, then the same text again under another id
    assert lc.handle_sms(SUB, "是", to="10086", message_id="kannel-0001") == []
    assert notifier.sent == sent and lc.history(order.id) == history
    again = lc.handle_sms(SUB, "是", to="10086", message_id="kannel-0002")
    assert [n.kind for n in again] == [NoticeKind.NOTHING_PENDING]


def test_texts_without_a_message_id_are_each_handled(lc: Lifecycle) -> None:
    assert len(lc.handle_sms(SUB, "帮助", to="10086")) == 1
    assert len(lc.handle_sms(SUB, "帮助", to="10086")) == 1


@pytest.mark.parametrize("bad", ["", "x" * 65, "id\x00", "id\n", "编号", 7, b"id"])
def test_a_malformed_message_id_is_refused_before_anything_changes(
    lc: Lifecycle, notifier: RecordingNotifier, bad: object
) -> None:
    with pytest.raises(InvalidArgumentError, match="message_id"):
        lc.handle_sms(SUB, "0000", to="10086", message_id=bad)  # type: ignore[arg-type]
    assert notifier.sent == [] and lc.orders_of(SUB) == []


@given(
    texts=st.lists(
        st.tuples(st.sampled_from(["是", "否", "0000", "1", "TD", "hello"]), st.integers(0, 5)),
        max_size=12,
    )
)
def test_every_sequence_with_repeated_message_ids_ends_as_the_sequence_without_them(
    texts: list[tuple[str, int]],
) -> None:
    """Gateway retries are invisible: the state and the replies after any sequence of
    texts, some handed over again, are those of the first hand-over of each id."""

    def run(deduplicated: bool) -> tuple[list[tuple[str, str]], list[str]]:
        clock = ManualClock(START)
        notifier = RecordingNotifier()
        lc = Lifecycle(make_catalog(), clock=clock, notifier=notifier, rng=random.Random(3))
        lc.request(SUB, "NEWS", channel=Channel.WEB)
        clock.advance(dt.timedelta(seconds=1))  # a 0000 list in a known order
        lc.request(SUB, "MUSIC7", channel=Channel.WEB)
        seen: set[int] = set()
        for text, mid in texts:
            clock.advance(dt.timedelta(seconds=20))
            if deduplicated and mid in seen:
                continue
            seen.add(mid)
            to = "10086" if text != "TD" else "10658001"
            lc.handle_sms(SUB, text, to=to, message_id=None if deduplicated else f"m{mid}")
        states = sorted((o.service_code, o.state.value) for o in lc.orders_of(SUB))
        return states, [n.text for n in notifier.sent]

    assert run(deduplicated=False) == run(deduplicated=True)


def test_delivery_reports_are_kept_in_order_and_a_final_failure_sends_again(
    clock: ManualClock,
) -> None:
    notifier = RecordingNotifier()
    lc = Lifecycle(make_catalog(), clock=clock, notifier=notifier, rng=random.Random(1))
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    (request,) = lc.notices(order.id)
    submitted = lc.record_delivery_report(request.id, "submitted", detail="ACK/")
    clock.advance(dt.timedelta(seconds=5))
    failed = lc.record_delivery_report(request.id, DeliveryStatus.FAILED, detail="NACK/34")
    assert lc.delivery_reports(request.id) == [submitted, failed]
    assert failed.status is DeliveryStatus.FAILED and failed.detail == "NACK/34"
    # back in the outbox, after the first backoff
    assert lc.dispatch() == 0
    clock.advance(lc.delivery.first_retry)
    assert lc.dispatch() == 1
    assert [n.id for n in notifier.sent].count(request.id) == 1  # recorded once
    assert lc.get(order.id).state is OrderState.AWAITING_CONFIRMATION


def test_a_delivered_report_changes_nothing_in_the_outbox(
    lc: Lifecycle, clock: ManualClock
) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    (request,) = lc.notices(order.id)
    lc.record_delivery_report(request.id, "delivered")
    clock.advance(dt.timedelta(days=1))
    assert lc.dispatch() == 0


def test_repeated_final_failures_park_the_notice(clock: ManualClock) -> None:
    lc = Lifecycle(make_catalog(), clock=clock, notifier=RecordingNotifier())
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    (request,) = lc.notices(order.id)
    for _ in range(lc.delivery.max_attempts):
        lc.record_delivery_report(request.id, "rejected")
        clock.advance(lc.delivery.max_retry)
        lc.dispatch()
    (parked,) = lc.parked_notices()
    assert parked.notice.id == request.id and "rejected" in (parked.last_error or "")


def test_a_report_about_an_unknown_notice_or_status_is_refused(lc: Lifecycle) -> None:
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    (request,) = lc.notices(order.id)
    with pytest.raises(UnknownNoticeError):
        lc.record_delivery_report("no-such-notice", "delivered")
    with pytest.raises(InvalidArgumentError, match="delivery status"):
        lc.record_delivery_report(request.id, "lost")
    with pytest.raises(InvalidArgumentError, match="notice_id"):
        lc.record_delivery_report("x\x00", "delivered")
    assert lc.delivery_reports(request.id) == []


def test_a_notifier_failure_and_a_failed_report_both_count_as_attempts(
    clock: ManualClock,
) -> None:
    notifier = FailingOnce()
    lc = Lifecycle(make_catalog(), clock=clock, notifier=notifier)
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)  # first hand-over fails
    (request,) = lc.notices(order.id)
    clock.advance(lc.delivery.first_retry)
    assert lc.dispatch() == 1  # second attempt delivers
    lc.record_delivery_report(request.id, "failed")
    # the third attempt waits the backoff after two attempts
    clock.advance(lc.delivery.first_retry)
    assert lc.dispatch() == 0
    clock.advance(lc.delivery.first_retry)
    assert lc.dispatch() == 1
