"""Each preset's own rules, through the public API under that preset (named by rule
id in docs/rules.md): what its texts say, its numbers, and its dated versions."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest

from tests.conftest import make_catalog
from vas_lifecycle import (
    Catalog,
    Channel,
    ChargeRefusedError,
    ConfirmationRefusedError,
    Lifecycle,
    ManualClock,
    MemoryStore,
    NoticeKind,
    OfferKind,
    Policy,
    PolicyError,
    ReasonCode,
    RecordingNotifier,
    Service,
)
from vas_lifecycle.cli.simulation import simulate
from vas_lifecycle.testing import check_invariants


def _world(preset: str, start: pendulum.DateTime) -> tuple[Lifecycle, ManualClock]:
    clock = ManualClock(start)
    lc = Lifecycle(
        make_catalog(),
        policy=Policy.regime(preset),
        clock=clock,
        store=MemoryStore(),
        notifier=RecordingNotifier(),
        rng=random.Random(2),
    )
    return lc, clock


def _sent(lc: Lifecycle) -> list:  # type: ignore[type-arg]
    notifier = lc.notifier
    assert isinstance(notifier, RecordingNotifier)
    return notifier.sent


def _confirm(lc: Lifecycle, clock: ManualClock, order_id: str, msisdn: str) -> None:
    clock.advance(dt.timedelta(seconds=20))
    gateway = Channel.CONSENT_GATEWAY in lc.policy.operator_channels
    lc.confirm(
        order_id,
        msisdn=msisdn,
        channel=Channel.CONSENT_GATEWAY if gateway else Channel.SMS,
        attestation="cg-9" if gateway else None,
    )


def test_us1_the_request_states_program_price_and_frequency_and_the_welcome_help_and_stop() -> None:
    lc, clock = _world("us_ctia", pendulum.datetime(2026, 5, 4, 15, tz="UTC"))
    sub = "+12025550123"
    order = lc.request(sub, "NEWS", channel=Channel.WEB)
    (ask,) = lc.notices(order.id)
    assert ask.rule == "US1"
    for part in ("新闻早报", "星辰科技", "$5/month", "reply YES", order.code):
        assert part in ask.text, part
    _confirm(lc, clock, order.id, sub)
    welcome = lc.notices(order.id)[-1]
    assert welcome.kind is NoticeKind.ACTIVATED
    assert "text STOP to 10658001" in welcome.text and "HELP" in welcome.text
    (help_reply,) = lc.handle_sms(sub, "help", to="10658001")
    assert help_reply.kind is NoticeKind.HELP and "STOP" in help_reply.text
    assert check_invariants(lc) == []


def test_us3_from_1_july_2025_a_yearly_reminder_and_three_years_of_consent_proof() -> None:
    before, after = (Policy.preset("us_ctia", dt.date(2025, m, 1)) for m in (6, 7))
    assert (before.monthly_reminder, before.retention_months) == (False, 5)
    assert (after.monthly_reminder, after.reminder_months, after.retention_months) == (True, 12, 36)
    lc, clock = _world("us_ctia", pendulum.datetime(2025, 8, 4, 15, tz="UTC"))
    sub = "+12025550124"
    order = lc.request(sub, "NEWS", channel=Channel.WEB)
    _confirm(lc, clock, order.id, sub)
    clock.set(pendulum.datetime(2026, 1, 5, 15, tz="UTC"))
    lc.run_due()
    (reminder,) = [n for n in _sent(lc) if n.kind is NoticeKind.MONTHLY_REMINDER]
    assert reminder.rule == "US3" and "$5/month" in reminder.text
    assert check_invariants(lc, settled=True) == []


def test_us4_the_opt_out_confirmation_goes_with_the_opt_out() -> None:
    """Sent in the unit of work that ends the services: within FCC's 5 minutes by
    construction, whatever the gateway's queue."""
    lc, clock = _world("us_ctia", pendulum.datetime(2026, 5, 4, 15, tz="UTC"))
    sub = "+12025550125"
    order = lc.request(sub, "NEWS", channel=Channel.WEB)
    _confirm(lc, clock, order.id, sub)
    clock.advance(dt.timedelta(hours=1))
    (done,) = lc.handle_sms(sub, "STOP", to="10658001")
    cancelled = lc.history(order.id)[-1]
    assert done.kind is NoticeKind.CANCELLED and done.rule == "US2"
    assert done.at == cancelled.at and done.id in {n.id for n in _sent(lc)}


def test_au2_a_spend_notice_at_a30_a_month_after_a_double_opt_in() -> None:
    lc, clock = _world("australia_acma", pendulum.datetime(2026, 5, 4, 1, tz="UTC"))
    sub = "+61412345679"
    order = lc.request(sub, "NEWS", channel=Channel.WEB)
    (ask,) = lc.notices(order.id)
    assert ask.rule == "AU1" and "A$5/month" in ask.text
    with pytest.raises(ChargeRefusedError):  # nothing before the confirmation
        lc.record_charge(order.id, Decimal("5.00"), key="early")
    for n in range(31):  # on-demand JOKE, A$1.00 each, on the same access code
        joke = lc.request(sub, "JOKE", channel=Channel.WEB)
        lc.record_charge(joke.id, Decimal("1.00"), key=f"joke-{n}")
        clock.advance(dt.timedelta(minutes=1))
    spend = [n for n in _sent(lc) if n.kind is NoticeKind.SPEND_REMINDER]
    assert len(spend) == 1 and spend[0].rule == "AU2" and "A$30" in spend[0].text
    assert check_invariants(lc) == []


def test_au1_the_request_is_a_double_opt_in() -> None:
    lc, clock = _world("australia_acma", pendulum.datetime(2026, 5, 4, 1, tz="UTC"))
    sub = "+61412345670"
    order = lc.request(sub, "NEWS", channel=Channel.WEB)
    decision = lc.may_charge(order.id, Decimal("5.00"))
    assert (decision.allowed, decision.reason) == (False, ReasonCode.AWAITING_CONFIRMATION)
    _confirm(lc, clock, order.id, sub)
    assert lc.may_charge(order.id, Decimal("5.00")).allowed


def test_au1_an_unanswered_request_is_sent_once_more_after_30_minutes() -> None:
    lc, clock = _world("australia_acma", pendulum.datetime(2026, 5, 4, 1, tz="UTC"))
    sub = "+61412345670"
    order = lc.request(sub, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(minutes=29))
    lc.run_due()
    assert len(lc.notices(order.id)) == 1
    clock.advance(dt.timedelta(minutes=1))
    lc.run_due()
    first, again = lc.notices(order.id)
    assert again.kind is NoticeKind.CONFIRMATION_REQUEST and again.rule == "AU1"
    assert again.text == first.text and order.code in again.text  # the same request, code
    clock.advance(dt.timedelta(hours=5))
    lc.run_due()
    assert len(lc.notices(order.id)) == 2  # once, never again
    _confirm(lc, clock, order.id, sub)
    assert lc.may_charge(order.id, Decimal("5.00")).allowed
    kinds = [e.kind.value for e in lc.history(order.id)]
    assert kinds.count("confirmation_resent") == 1
    assert check_invariants(lc) == []


def test_au1_an_answered_request_or_a_late_worker_sends_nothing_more() -> None:
    lc, clock = _world("australia_acma", pendulum.datetime(2026, 5, 4, 1, tz="UTC"))
    answered, late = "+61412345670", "+61412345671"
    first = lc.request(answered, "NEWS", channel=Channel.WEB)
    second = lc.request(late, "NEWS", channel=Channel.WEB)
    _confirm(lc, clock, first.id, answered)
    clock.advance(dt.timedelta(minutes=61))  # the worker was down past the hour
    lc.run_due()
    assert len(lc.notices(first.id)) == 2  # the request and the welcome
    assert len(lc.notices(second.id)) == 1
    (skipped,) = [e for e in lc.history(second.id) if e.kind.value == "confirmation_resent"]
    assert skipped.data["resend"] == "skipped: too late" and skipped.text_out is None
    clock.advance(dt.timedelta(days=1))
    lc.run_due()
    assert lc.get(second.id).state.value == "expired"  # silence is still refusal
    assert check_invariants(lc, settled=True) == []


def test_au1_a_trial_request_is_resent_with_its_length() -> None:
    policy = Policy.china_mobile(
        trials_need_confirmation=True,
        confirmation_resend=(dt.timedelta(minutes=30), dt.timedelta(hours=1)),
    )
    clock = ManualClock(pendulum.datetime(2026, 5, 4, 3, tz="UTC"))
    lc = Lifecycle(
        make_catalog(),
        policy=policy,
        clock=clock,
        store=MemoryStore(),
        notifier=RecordingNotifier(),
    )
    order = lc.request("13800138000", "MUSIC7", channel=Channel.WEB)
    clock.advance(dt.timedelta(minutes=30))
    lc.run_due()
    first, again = lc.notices(order.id)
    assert again.kind is NoticeKind.TRIAL_REQUEST and again.text == first.text
    assert "7天" in again.text
    assert check_invariants(lc) == []


def test_au1_a_resend_must_come_inside_the_window() -> None:
    with pytest.raises(PolicyError, match="confirmation_resend"):
        Policy.china_mobile(confirmation_resend=(dt.timedelta(hours=2), dt.timedelta(hours=1)))
    with pytest.raises(PolicyError, match="inside every confirmation window"):
        Policy.china_mobile(confirmation_resend=(dt.timedelta(hours=1), dt.timedelta(hours=24)))


def test_in2_the_activation_names_the_deactivation_number_validity_and_charge() -> None:
    lc, clock = _world("india_trai", pendulum.datetime(2026, 5, 4, 6, tz="UTC"))
    sub = "+919812345679"
    order = lc.request(sub, "NEWS", channel=Channel.USSD)
    (ask,) = lc.notices(order.id)
    assert ask.rule == "IN1" and "10 seconds" in ask.text and "consent gateway" in ask.text
    with pytest.raises(ConfirmationRefusedError) as late:
        _confirm(lc, clock, order.id, sub)  # 20 s: outside USSD's 10 s window
    assert (late.value.reason, late.value.rule) == (ReasonCode.WINDOW_CLOSED, "IN1")
    lc.run_due()
    order = lc.request(sub, "NEWS", channel=Channel.WEB)  # an hour to answer
    _confirm(lc, clock, order.id, sub)
    welcome = lc.notices(order.id)[-1]
    assert welcome.kind is NoticeKind.ACTIVATED and welcome.rule == "IN2"
    for part in ("₹5/month", "STOP to 155223"):
        assert part in welcome.text, part


def test_in8_consent_logs_are_kept_seven_years_from_13_november_2026() -> None:
    assert Policy.preset("india_trai", dt.date(2026, 11, 12)).retention_months == 5
    assert Policy.preset("india_trai", dt.date(2026, 11, 13)).retention_months == 84
    assert "IN8" in Policy.regime("india_trai").rules_on(dt.date(2026, 11, 13))


def test_uk5_the_prs_order_version_retires_code_15s_reminder_and_keeps_the_rest() -> None:
    code15, order = (
        Policy.preset("uk_psa", d) for d in (dt.date(2025, 1, 31), dt.date(2025, 2, 1))
    )
    assert code15.monthly_reminder and not order.monthly_reminder
    assert order.receipt_after_charge and order.per_charge_cap == Decimal(40)  # kept
    assert order.spend_reminder_every == Decimal(20)


def test_eu1_carrier_billing_limits_are_policy_numbers_with_their_rule() -> None:
    with pytest.raises(PolicyError, match="above the per-charge cap"):
        Lifecycle(make_catalog(), policy=Policy.china_mobile(per_charge_cap=Decimal(4)))
    eu = Policy.china_mobile(spend_cap=Decimal(8), currency="EUR")
    clock = ManualClock(pendulum.datetime(2026, 5, 4, 9, tz="Asia/Shanghai"))
    lc = Lifecycle(make_catalog(), policy=eu, clock=clock, notifier=RecordingNotifier())
    sub = "+8613800000009"
    for service in ("NEWS", "WEATHER"):  # 5.00 + 3.00: the month's 8.00
        order = lc.request(sub, service, channel=Channel.WEB)
        _confirm(lc, clock, order.id, sub)
        lc.record_charge(order.id, order.price, key=service)
    joke = lc.request(sub, "JOKE", channel=Channel.WEB)
    decision = lc.may_charge(joke.id, Decimal("1.00"))
    assert (decision.allowed, decision.reason, decision.rule) == (
        False,
        ReasonCode.SPEND_CAP,
        "EU1",
    )
    with pytest.raises(ChargeRefusedError) as refused:
        lc.record_charge(joke.id, Decimal("1.00"), key="joke")
    assert refused.value.rule == "EU1"


@pytest.mark.parametrize("preset", [*Policy.presets(), "us_ctia+card_trials"])
def test_r1_a_simulated_month_under_every_preset_keeps_every_invariant(preset: str) -> None:
    """The synthetic operator under each preset (its texts, numbers and confirming
    channel): a month of 2 000 subscribers, then the checker over the whole history
    (the closing note reports 10 000 per preset, run from the command line)."""
    report = simulate(subscribers=2000, days=30, seed=3, policy=preset)
    assert report.invariant_violations == []
    assert report.orders_by_state.get("active", 0) > 100 and report.charges > 100
    if preset == "uk_psa":
        assert report.notices_by_kind["receipt"] == report.charges  # UK3, every charge
    if preset in ("us_ctia", "australia_acma", "uk_psa", "india_trai"):
        assert "monthly_reminder" not in report.notices_by_kind or preset == "us_ctia"
    if "card_trials" in preset:
        assert report.notices_by_kind["conversion_reminder"] > 0  # CT1 exercised


def test_us4_from_31_january_2027_an_opt_out_revokes_every_program_of_that_sp() -> None:
    """A future-dated version: before it, STOP ends what is on that shortcode; from
    it, every live service of the SP behind the shortcode, on any of its numbers, and
    none of another SP's."""
    ring = Service(
        code="RING",
        sp_id="SP01",
        sp_name="星辰科技",
        name="彩铃",
        kind=OfferKind.SUBSCRIPTION,
        price=Decimal("2.00"),
        access_code="10658009",
    )
    catalog = Catalog([*make_catalog(), ring])
    sub = "+12025550126"
    for day, ended in ((dt.date(2027, 1, 30), {"NEWS"}), (dt.date(2027, 1, 31), {"NEWS", "RING"})):
        clock = ManualClock(pendulum.datetime(day.year, day.month, day.day, 15, tz="UTC"))
        lc = Lifecycle(
            catalog, policy=Policy.regime("us_ctia"), clock=clock, notifier=RecordingNotifier()
        )
        orders = {}
        for code in ("NEWS", "RING", "MUSIC7"):
            order = lc.request(sub, code, channel=Channel.WEB)
            if order.code is not None:
                _confirm(lc, clock, order.id, sub)
            orders[code] = order.id
        lc.handle_sms(sub, "STOP", to="10658001")
        gone = {code for code, oid in orders.items() if lc.get(oid).state.value == "cancelled"}
        assert gone == ended, day
        assert check_invariants(lc) == []


def test_in7_packs_valid_over_seven_days_are_notified_three_days_before_they_renew() -> None:
    def pack(code: str, days: int) -> Service:
        return Service(
            code=code,
            sp_id="SP01",
            sp_name="星辰科技",
            name="数据包",
            kind=OfferKind.SUBSCRIPTION,
            price=Decimal("30.00"),
            access_code="10658001",
            validity_days=days,
        )

    india = Policy.preset("india_trai", dt.date(2026, 5, 4))
    assert india.renewal_lead_for(7) == dt.timedelta(hours=24)  # IN3
    assert india.renewal_lead_for(28) == dt.timedelta(days=3)  # IN7
    with pytest.raises(PolicyError, match="long_pack_notice"):
        Policy.china_mobile(long_pack_notice=(0, dt.timedelta(days=3)))
    catalog = Catalog([pack("PACK7", 7), pack("PACK28", 28)])
    clock = ManualClock(pendulum.datetime(2026, 5, 4, 6, tz="UTC"))
    lc = Lifecycle(
        catalog, policy=Policy.regime("india_trai"), clock=clock, notifier=RecordingNotifier()
    )
    sub = "+919812345670"
    leads = {}
    for code in ("PACK7", "PACK28"):
        order = lc.request(sub, code, channel=Channel.WEB)
        _confirm(lc, clock, order.id, sub)
        active = lc.get(order.id)
        assert active.pack is not None and active.pack.valid_until is not None
        assert active.remind_at is not None
        leads[code] = active.pack.valid_until - active.remind_at
    assert leads == {"PACK7": dt.timedelta(hours=24), "PACK28": dt.timedelta(days=3)}
    clock.advance(dt.timedelta(days=29))
    lc.run_due()
    assert check_invariants(lc, settled=True) == []  # renewed in time, or lapsed


def test_uk8_the_dmcc_rules_wait_for_their_date_and_the_page_says_so() -> None:
    """UK8 (the DMCC Act's reminders and cooling-off) has no commencement date yet: no
    version of uk_psa claims it, and docs/regimes.md lists it as not yet expressed."""
    uk = Policy.regime("uk_psa")
    assert all("UK8" not in v.rules for v in uk.versions)
    page = (Path(__file__).resolve().parent.parent / "docs" / "regimes.md").read_text("utf-8")
    assert "- **UK8**:" in page.split("## Not yet expressed")[1]
