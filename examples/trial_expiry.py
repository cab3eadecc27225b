"""A 7-day free trial: start notice, reminder 48 hours before the end, automatic end.

Run: python examples/trial_expiry.py
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pendulum

from vas_lifecycle import (
    Catalog,
    Channel,
    Lifecycle,
    ManualClock,
    OfferKind,
    Policy,
    RecordingNotifier,
    Service,
)

SUBSCRIBER = "+8613800138000"


def run() -> list[str]:
    """Run the trial and return its dated timeline, one line per event."""
    catalog = Catalog(
        [
            Service(
                code="MUSIC7",
                sp_id="SP02",
                sp_name="乐享音乐",
                name="彩铃体验",
                kind=OfferKind.TRIAL,
                price=Decimal("0"),
                trial_days=7,
                access_code="10658002",
            )
        ]
    )
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, 0, tz="Asia/Shanghai"))
    notifier = RecordingNotifier()
    policy = Policy.china_mobile()
    lc = Lifecycle(catalog, policy=policy, clock=clock, notifier=notifier)

    trial = lc.request(SUBSCRIBER, "MUSIC7", channel=Channel.WAP)
    # the billing backend's scheduler calls run_due() every hour
    for _hour in range(8 * 24):
        clock.advance(dt.timedelta(hours=1))
        lc.run_due()

    lines = []
    for event in lc.history(trial.id):
        when = event.at.in_timezone(policy.timezone).format("YYYY-MM-DD HH:mm")
        lines.append(f"{when}  {event.kind.value}")
        if event.text_out:
            lines.append(f"                  短信: {event.text_out}")
    final = lc.get(trial.id)
    lines.append(f"final state: {final.state.value}; charges: {len(lc.charges(trial.id))}")
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
