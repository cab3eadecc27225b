"""A billing backend's month-end run: ask before every charge, print refusals with reasons.

Run: python examples/billing_backend.py
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
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


def build() -> tuple[Lifecycle, ManualClock]:
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
            ),
            Service(
                code="MUSIC7",
                sp_id="SP02",
                sp_name="乐享音乐",
                name="彩铃体验",
                kind=OfferKind.TRIAL,
                price=Decimal("0"),
                trial_days=7,
                access_code="10658002",
            ),
        ]
    )
    clock = ManualClock(pendulum.datetime(2026, 11, 3, 9, 0, tz="Asia/Shanghai"))
    return Lifecycle(
        catalog, policy=Policy.china_mobile(), clock=clock, notifier=RecordingNotifier()
    ), clock


def run() -> list[str]:
    lc, clock = build()
    subscribers = [f"1380013{n:04d}" for n in range(8)]
    orders = []
    for n, msisdn in enumerate(subscribers):
        order = lc.request(msisdn, "NEWS", channel=Channel.SP_API)
        orders.append(order)
        clock.advance(dt.timedelta(minutes=1))
        if n % 4 != 3:  # every fourth subscriber never answers
            lc.confirm(order.id, msisdn=msisdn, channel=Channel.SMS)
        if n % 4 == 1:
            clock.advance(dt.timedelta(days=1))
            lc.unsubscribe(order.id, channel=Channel.HOTLINE)
    orders.append(lc.request(subscribers[0], "MUSIC7", channel=Channel.WEB))
    clock.advance(dt.timedelta(days=2))
    lc.run_due()

    # month-end: the billing run for December, on 1 December
    clock.set(pendulum.datetime(2026, 12, 1, 0, 5, tz="Asia/Shanghai"))
    lc.run_due()
    period = pendulum.datetime(2026, 12, 1, tz="Asia/Shanghai")
    lines = []
    reasons: Counter[str] = Counter()
    for order in orders:
        amount = lc.get(order.id).price
        decision = lc.may_charge(order.id, amount, period_start=period)
        reasons[decision.reason.value] += 1
        if decision.allowed:
            lc.record_charge(order.id, amount, period_start=period, key=f"2026-12/{order.id}")
            lines.append(f"charged {order.msisdn} {amount} for {order.service_code}")
        else:
            lines.append(f"refused {order.msisdn} {order.service_code}: {decision.reason.value}")
    # a retry of the whole run charges nothing twice
    for order in orders:
        decision = lc.may_charge(order.id, lc.get(order.id).price, period_start=period)
        assert not decision.allowed
    lines.append("summary: " + ", ".join(f"{k}={v}" for k, v in sorted(reasons.items())))
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
