"""The event feed as a billing backend meets it: every state change it must act on,
once per change, right after the commit or from publish(), never failing a command."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import OTHER, SUB
from vas_lifecycle import (
    Channel,
    FeedEvent,
    FeedKind,
    InvalidArgumentError,
    Lifecycle,
    ManualClock,
    OrderState,
)


def listen(lc: Lifecycle, name: str = "billing") -> list[FeedEvent]:
    heard: list[FeedEvent] = []
    lc.feed.subscribe(name, heard.append)
    return heard


def kinds(heard: list[FeedEvent]) -> list[str]:
    return [f"{e.kind}:{e.state}" for e in heard]


def test_every_ending_and_start_is_published_with_its_state(
    lc: Lifecycle, clock: ManualClock
) -> None:
    heard = listen(lc)
    declined = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=10))
    lc.decline(declined.id, msisdn=SUB, channel=Channel.SMS)
    expired = lc.request(OTHER, "NEWS", channel=Channel.WEB)
    lc.request(SUB, "JOKE", channel=Channel.WEB)  # on demand: completed at once
    trial = lc.request(OTHER, "GAME1", channel=Channel.WEB)
    assert trial.trial_ends_at is not None
    clock.set(trial.trial_ends_at.add(days=3))
    lc.run_due()
    assert lc.get(expired.id).state is OrderState.EXPIRED
    assert sorted(kinds(heard)) == sorted(
        [
            "declined:declined",
            "completed:completed",
            "trial_started:trial",
            "trial_ended:cancelled",
            "expired:expired",
        ]
    )
    ended = next(e for e in heard if e.kind is FeedKind.TRIAL_ENDED)
    assert ended.data["reason"] == "trial_ended" and ended.data["price"] == "0.00"


def test_a_rejected_request_is_published(lc: Lifecycle) -> None:
    heard = listen(lc)
    lc.request(SUB, "NEWS", channel=Channel.WEB)
    lc.request(SUB, "NEWS", channel=Channel.WEB)  # a second live order: rejected
    assert [e.kind for e in heard] == [FeedKind.REJECTED]
    assert heard[0].data["reason"] == "duplicate_order"


def test_events_carry_no_confirmation_code_and_mask_the_number(
    lc: Lifecycle, clock: ManualClock
) -> None:
    heard = listen(lc)
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=10))
    lc.handle_sms(SUB, "是", to="10086")
    (activated,) = heard
    assert activated.id == f"order:{order.id}:{lc.get(order.id).version}"
    assert order.code is not None and order.code not in str(dict(activated.data))
    assert activated.data["channel"] == "sms" and activated.msisdn == SUB
    assert SUB not in repr(activated) and "138****8000" in repr(activated)


def test_a_failing_handler_never_fails_the_command_and_hears_it_later(
    lc: Lifecycle, clock: ManualClock
) -> None:
    heard: list[str] = []
    down = True

    def handler(event: FeedEvent) -> None:
        if down:
            raise RuntimeError("billing is down")
        heard.append(event.kind)

    lc.feed.subscribe("billing", handler)
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=10))
    assert lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS).state is OrderState.ACTIVE
    lc.unsubscribe(order.id, channel=Channel.SMS)
    down = False
    assert lc.feed.publish() == 0  # backing off
    clock.advance(dt.timedelta(minutes=5))
    assert lc.feed.publish() == 2 and heard == [FeedKind.ACTIVATED, FeedKind.CANCELLED]


def test_after_a_command_only_about_its_own_count_is_delivered(
    lc: Lifecycle, clock: ManualClock
) -> None:
    """A backlog (the handler was detached) is left to publish(): a command's caller
    never waits for hundreds of deliveries."""
    heard = listen(lc)
    lc.feed.detach("billing")
    for n in range(20):
        lc.request(f"+86138000{n:05d}", "JOKE", channel=Channel.WEB)
    lc.feed.subscribe("billing", heard.append)
    lc.request(SUB, "JOKE", channel=Channel.WEB)
    assert len(heard) == 1 and lc.feed.backlog("billing") == 20
    assert lc.feed.publish() == 20 and len(heard) == 21


def test_a_handler_may_run_commands_of_its_own(lc: Lifecycle, clock: ManualClock) -> None:
    """A billing backend that charges the first period as soon as it hears of the
    activation: the charge's own event follows, in order."""
    heard: list[str] = []

    def handler(event: FeedEvent) -> None:
        heard.append(event.kind)
        if event.kind is FeedKind.ACTIVATED:
            lc.record_charge(event.order_id, event.data["price"], key=f"first-{event.order_id}")

    lc.feed.subscribe("billing", handler)
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=10))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    assert heard == [FeedKind.ACTIVATED, FeedKind.CHARGE_RECORDED]
    assert lc.feed.backlog("billing") == 0


def test_without_auto_dispatch_events_wait_for_publish(catalog, clock) -> None:  # type: ignore[no-untyped-def]
    lc = Lifecycle(catalog, clock=clock, auto_dispatch=False)
    heard = listen(lc)
    lc.request(SUB, "JOKE", channel=Channel.WEB)
    assert heard == [] and lc.feed.backlog("billing") == 1
    assert lc.feed.publish() == 1 and len(heard) == 1


def test_subscribers_are_durable_and_removable(lc: Lifecycle) -> None:
    heard = listen(lc)
    assert not lc.feed.subscribe("billing", heard.append)  # again: kept, not new
    listen(lc, "crm")
    assert lc.feed.subscribers() == ["billing", "crm"] and lc.feed.attached == ["billing", "crm"]
    before = lc.request(SUB, "JOKE", channel=Channel.WEB)
    assert lc.feed.remove("crm") and not lc.feed.remove("crm")
    assert lc.feed.subscribers() == ["billing"] and lc.feed.attached == ["billing"]
    assert [e.order_id for e in heard] == [before.id]


@pytest.mark.parametrize("name", ["", "bil ling", "x" * 65, "账单", "a\x00b", 7])
def test_a_malformed_subscriber_name_is_refused(lc: Lifecycle, name: object) -> None:
    with pytest.raises(InvalidArgumentError):
        lc.feed.subscribe(name, print)  # type: ignore[arg-type]
    assert lc.feed.subscribers() == []


def test_a_handler_must_be_callable(lc: Lifecycle) -> None:
    with pytest.raises(InvalidArgumentError, match="callable"):
        lc.feed.subscribe("billing", "print")  # type: ignore[arg-type]
    assert lc.feed.subscribers() == []


def test_parked_events_hold_their_order_back_until_retried(catalog, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    from vas_lifecycle import DeliveryRules, RecordingNotifier

    lc = Lifecycle(
        catalog,
        clock=clock,
        notifier=RecordingNotifier(),
        delivery=DeliveryRules(max_attempts=1),
    )
    state = {"down": True}
    heard: list[str] = []

    def handler(event: FeedEvent) -> None:
        if state["down"]:
            raise RuntimeError("down")
        heard.append(event.kind)

    lc.feed.subscribe("billing", handler)
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=10))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)  # parked at once
    state["down"] = False
    lc.unsubscribe(order.id, channel=Channel.SMS)
    lc.request(OTHER, "JOKE", channel=Channel.WEB)  # another order goes on
    assert heard == [FeedKind.COMPLETED]
    (parked,) = lc.feed.parked("billing")
    assert parked.event.kind is FeedKind.ACTIVATED and "down" in (parked.last_error or "")
    assert lc.feed.retry_parked("billing") == 1
    assert lc.feed.publish() == 2
    assert heard == [FeedKind.COMPLETED, FeedKind.ACTIVATED, FeedKind.CANCELLED]
