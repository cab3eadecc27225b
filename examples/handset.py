"""Type as a subscriber: an interactive handset against a demo catalog.

Run: python examples/handset.py
Then type e.g. ``order NEWS``, ``是``, ``0000``, ``1，2``, ``TD @10658001``, ``wait 3h``.
A line is sent to the operator number 10086 unless it ends with ``@<number>``.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import sys
from decimal import Decimal

import pendulum

from vas_lifecycle import (
    Catalog,
    Channel,
    Lifecycle,
    ManualClock,
    OfferKind,
    RecordingNotifier,
    Service,
    VasError,
)

HELP = """commands:
  order CODE        an SP asks to sign you up for CODE (NEWS, WEATHER, JOKE, MUSIC7)
  wait 30s|10m|3h|2d  let time pass (timers fire: expiries, trial reminders and ends)
  TEXT [@NUMBER]    send TEXT by SMS to NUMBER (10086 by default)
  quit"""


class Handset:
    """One subscriber's phone against a demo operator; every method returns what the
    phone would show."""

    def __init__(self, msisdn: str = "+8613800138000") -> None:
        self.msisdn = msisdn
        self.clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, 0, tz="Asia/Shanghai"))
        self.notifier = RecordingNotifier()
        self.lifecycle = Lifecycle(
            demo_catalog(), clock=self.clock, notifier=self.notifier, rng=random.Random(2026)
        )

    def _inbox(self, before: int) -> list[str]:
        stamp = self.clock.now().in_timezone("Asia/Shanghai").format("MM-DD HH:mm")
        return [f"[{stamp}] {n.sender}: {n.text}" for n in self.notifier.sent[before:]]

    def order(self, code: str) -> list[str]:
        before = len(self.notifier.sent)
        try:
            self.lifecycle.request(self.msisdn, code, channel=Channel.SP_API)
        except VasError as err:
            return [f"error: {err}"]
        return self._inbox(before)

    def wait(self, spec: str) -> list[str]:
        match = re.fullmatch(r"(\d+)([smhd])", spec.strip())
        if not match:
            return ["say how long: 30s, 10m, 3h or 2d"]
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        before = len(self.notifier.sent)
        self.clock.advance(dt.timedelta(**{unit: int(match.group(1))}))
        self.lifecycle.run_due()
        return self._inbox(before)

    def send(self, text: str, to: str = "10086") -> list[str]:
        before = len(self.notifier.sent)
        self.lifecycle.handle_sms(self.msisdn, text, to=to)
        return self._inbox(before)

    def line(self, line: str) -> list[str]:
        """Interpret one typed line (the REPL's single step)."""
        stripped = line.strip()
        if stripped.lower() in {"help", "h"}:
            return [HELP]
        if stripped.lower().startswith("order "):
            return self.order(stripped[6:])
        if stripped.lower().startswith("wait "):
            return self.wait(stripped[5:])
        text, _, to = line.partition("@")
        return self.send(text, to.strip() or "10086")


def demo_catalog() -> Catalog:
    def service(
        code: str, sp: str, name: str, kind: OfferKind, price: str, **kw: object
    ) -> Service:
        sp_names = {"SP01": "星辰科技", "SP02": "乐享音乐"}
        access = {"SP01": "10658001", "SP02": "10658002"}
        return Service(
            code=code,
            sp_id=sp,
            sp_name=sp_names[sp],
            name=name,
            kind=kind,
            price=Decimal(price),
            access_code=access[sp],
            **kw,  # type: ignore[arg-type]
        )

    return Catalog(
        [
            service("NEWS", "SP01", "新闻早报", OfferKind.SUBSCRIPTION, "5"),
            service("WEATHER", "SP01", "天气预报", OfferKind.SUBSCRIPTION, "3"),
            service("JOKE", "SP01", "笑话点播", OfferKind.ON_DEMAND, "1"),
            service("MUSIC7", "SP02", "彩铃体验", OfferKind.TRIAL, "0", trial_days=7),
        ]
    )


def main() -> None:
    phone = Handset()
    print(f"handset {phone.msisdn}. Type 'help' for commands.")
    for raw in sys.stdin:
        if raw.strip().lower() in {"quit", "exit"}:
            break
        for shown in phone.line(raw.rstrip("\n")):
            print(shown)


if __name__ == "__main__":
    main()
