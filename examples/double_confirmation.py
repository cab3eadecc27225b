"""Double confirmation (二次确认): one order confirmed, one declined, one left unanswered.

Run: python examples/double_confirmation.py
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pendulum

from vas_lifecycle import (
    Catalog,
    Channel,
    ConfirmationRefusedError,
    Lifecycle,
    ManualClock,
    OfferKind,
    RecordingNotifier,
    Service,
)


def run() -> list[str]:
    """Three subscribers, three outcomes; returns what happened as lines."""
    catalog = Catalog(
        [
            Service(
                code="NEWS",
                sp_id="SP01",
                sp_name="星辰科技",
                name="新闻早报",
                kind=OfferKind.SUBSCRIPTION,
                price=Decimal("5.00"),
                access_code="10658001",
            )
        ]
    )
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, 0, tz="Asia/Shanghai"))
    notifier = RecordingNotifier()
    lc = Lifecycle(catalog, clock=clock, notifier=notifier)
    lines: list[str] = []

    yes = lc.request("13800138001", "NEWS", channel=Channel.SP_API)
    no = lc.request("13800138002", "NEWS", channel=Channel.SP_API)
    silent = lc.request("13800138003", "NEWS", channel=Channel.SP_API)
    lines.append("confirmation request sent: " + notifier.sent[0].text)

    clock.advance(dt.timedelta(minutes=2))
    lc.confirm(yes.id, msisdn="13800138001", channel=Channel.SMS, text="是")
    lc.decline(no.id, msisdn="13800138002", channel=Channel.SMS, text="否")
    try:  # the SP's platform cannot confirm for the subscriber (C13)
        lc.confirm(silent.id, msisdn="13800138003", channel=Channel.SP_API)
    except ConfirmationRefusedError as err:
        lines.append(f"refused: {err}")

    clock.advance(dt.timedelta(hours=24))
    lc.run_due()  # silence is refusal: the window has closed

    for order in (yes, no, silent):
        current = lc.get(order.id)
        decision = lc.may_charge(order.id, Decimal("5.00"))
        lines.append(
            f"{current.msisdn}: {current.state.value}; may charge: "
            f"{decision.allowed} ({decision.reason.value})"
        )
    for violation in lc.sp_violations("SP01"):
        lines.append(f"SP01 violation: {violation.reason.value} on {violation.msisdn}")
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
