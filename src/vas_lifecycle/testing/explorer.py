"""An exhaustive, bounded explorer: every sequence of up to N actions in a small world.

Random interleavings (the Hypothesis machine) find most bugs; this finds the rest of
the short ones, by enumerating *every* sequence of up to ``depth`` actions in a world
small enough for that: two subscribers, two SPs, a subscription, an on-demand service
and a one-day trial, under a policy with short windows. The actions are what the
parties do: the SPs' requests, the subscribers' orders and texts (yes, no, with the
right or a wrong code, ``0000``, picks, ``TD``), unsubscribing, pausing and
resuming, charging, the clock
moving a little or to the next deadline, ``run_due``, ``dispatch`` and the SMS
gateway going down and up.

It explores states, not prefixes: each world is kept as a copy of its memory store,
each action runs on a copy of its parent, and worlds that are the same up to order
ids, the swap of the two subscribers and the absolute date are explored once. The
invariant checker runs after every step; the search is breadth-first, so the first
violation found comes with a shortest sequence that leads to it.

Run it deeper than the test suite does with
``python -m vas_lifecycle.testing.explorer --depth 4``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pendulum

from vas_lifecycle.catalog import Catalog, OfferKind
from vas_lifecycle.clock import ManualClock
from vas_lifecycle.errors import VasError
from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.notices import Notice
from vas_lifecycle.notify import RecordingNotifier
from vas_lifecycle.order import Order
from vas_lifecycle.policy import Channel, Policy
from vas_lifecycle.states import OrderState
from vas_lifecycle.store.memory import MemoryStore
from vas_lifecycle.testing.catalogs import small_catalog
from vas_lifecycle.testing.invariants import InvariantViolation, check_invariants

__all__ = [
    "Exploration",
    "breadth_catalog",
    "breadth_policy",
    "explore",
    "small_catalog",
    "small_policy",
]

A, B = "+8613800000001", "+8613800000002"
NAMES = {A: "A", B: "B"}
START = pendulum.datetime(2026, 11, 24, 21, 0, tz="Asia/Shanghai")  # 3 h before midnight
WRONG_CODE = "0001"  # never drawn: codes are 1000 to 9999


def small_policy() -> Policy:
    """Short windows, so that a few clock steps cross every deadline."""
    return Policy.china_mobile(
        confirmation_window=dt.timedelta(hours=1),
        pick_window=dt.timedelta(minutes=10),
        trial_reminder_lead=dt.timedelta(hours=6),
        sp_daily_request_limit=2,
    )


class _Gateway(RecordingNotifier):
    """A notifier that can be down (it raises, the outbox retries)."""

    def __init__(self, down: bool) -> None:
        super().__init__()
        self.down = down

    def send(self, notice: Notice) -> None:
        """Fail while the gateway is down, else keep the notice."""
        if self.down:
            raise ConnectionError("gateway down")
        super().send(notice)


def breadth_policy() -> Policy:
    """The small policy with the lifecycle's breadth on (issue 18): receipts, a spend
    cap, refunds claimed within an hour, a renewal notice six hours before a pack
    renews, and trials that convert."""
    return attrs.evolve(
        small_policy(),
        receipt_after_charge=True,
        spend_cap=Decimal("7.00"),
        refund_window=dt.timedelta(hours=1),
        renewal_notice_lead=dt.timedelta(hours=6),
        trial_converts=True,
    )


def breadth_catalog() -> Catalog:
    """The small catalog with a one-day pack (PACK) and a one-day trial that converts
    to NEWS (TRYNEWS)."""
    pack = attrs.evolve(small_catalog().get("NEWS"), code="PACK", price=Decimal("2.00"))
    pack = attrs.evolve(pack, validity_days=1, period=None)
    trial = attrs.evolve(small_catalog().get("GAME"), code="TRYNEWS", converts_to="NEWS")
    return Catalog([*small_catalog(), pack, trial])


@attrs.frozen
class _World:
    """One explored state: the store, the time, the next id and the gateway; with
    ``breadth``, under :func:`breadth_policy` and :func:`breadth_catalog`."""

    store: MemoryStore
    now: pendulum.DateTime
    next_id: int
    gateway_down: bool
    breadth: bool = False
    #: a regime preset (its version in force at the start, with the small windows)
    preset: str = ""


@attrs.define
class _Run:
    """A world being stepped: a copy of the parent with a lifecycle over it."""

    lc: Lifecycle
    clock: ManualClock
    gateway: _Gateway
    ids: list[int]
    breadth: bool = False
    preset: str = ""

    def world(self) -> _World:
        store = self.lc.store
        assert isinstance(store, MemoryStore)
        now, down = self.clock.now(), self.gateway.down
        return _World(store, now, self.ids[0], down, self.breadth, self.preset)


Action = tuple[str, Callable[[_Run], object]]
LifecycleFactory = Callable[..., Lifecycle]


def _start(world: _World, make: LifecycleFactory) -> _Run:
    clock = ManualClock(world.now)
    gateway = _Gateway(world.gateway_down)
    ids = [world.next_id]

    def new_id() -> str:
        ids[0] += 1
        return f"x{ids[0]}"

    policy = _policy(world)
    breadth = world.breadth or policy.trial_converts  # a preset whose trials convert
    lc = make(
        breadth_catalog() if breadth else small_catalog(),
        policy=policy,
        clock=clock,
        notifier=gateway,
        store=world.store.copy(),
        ids=new_id,
        rng=random.Random(ids[0]),
    )
    return _Run(lc, clock, gateway, ids, breadth, world.preset)


def _policy(world: _World) -> Policy:
    """The world's rules: a preset's version in force at the start with the small
    policy's windows, the breadth policy, or the small policy."""
    if world.preset:
        day = START.in_timezone(Policy.regime(world.preset).timezone).date()
        small, preset = small_policy(), Policy.preset(world.preset, on=day)
        resend = None
        if preset.confirmation_resend is not None:  # AU1: inside the small window
            resend = (dt.timedelta(minutes=15), dt.timedelta(minutes=30))
        return attrs.evolve(
            preset,
            confirmation_resend=resend,
            confirmation_window=small.confirmation_window,
            pick_window=small.pick_window,
            trial_reminder_lead=small.trial_reminder_lead,
            sp_daily_request_limit=small.sp_daily_request_limit,
        )
    return breadth_policy() if world.breadth else small_policy()


def _orders(run: _Run) -> list[Order]:
    return [o for who in (A, B) for o in run.lc.orders_of(who)]


def _label(order: Order) -> str:
    return f"{NAMES[order.msisdn]}'s {order.service_code} ({order.state.value})"


def _deadlines(run: _Run) -> list[pendulum.DateTime]:
    now = run.clock.now()
    found = [o.due_at for o in _orders(run) if o.due_at is not None]
    with run.lc.store.transaction(readonly=True) as tx:
        found += [s.expires_at for who in (A, B) if (s := tx.orders.pick_session(who)) is not None]
    found.append(run.lc.policy.local_day(now)[1])  # midnight: the day's counts start again
    return sorted(t for t in found if t > now)


def actions(run: _Run) -> list[Action]:
    """Everything any party can do next in this world."""
    out: list[Action] = []
    for who in (A, B):
        name = NAMES[who]
        for sp, code in (("SP01", "NEWS"), ("SP01", "JOKE"), ("SP02", "GAME")):
            out.append((f"{sp} requests {code} for {name}", _request(who, code, Channel.SP_API)))
        out.append((f"{name} orders NEWS on the web", _request(who, "NEWS", Channel.WEB)))
        out.append((f"{name} orders JOKE by SMS", _request(who, "JOKE", Channel.SMS)))
        yes, no, listing, stop, operator = _words(run.lc.policy)
        texts = [yes, no, listing, "1", f"{yes} {WRONG_CODE}"]
        texts += [f"{yes} {o.code}" for o in run.lc.live_orders(who) if o.code is not None]
        for text in texts:
            out.append((f"{name} texts {text!r} to {operator}", _text(who, text, operator)))
        here = [(stop, "10658001"), (f"{stop} NEWS", "10658001"), (stop, "10658002")]
        here += [(word, "10658001") for word in sorted(run.lc.policy.all_here_words)]
        for text, to in here:
            out.append((f"{name} texts {text!r} to {to}", _text(who, text, to)))
        if Channel.CONSENT_GATEWAY in run.lc.policy.operator_channels:
            for order in run.lc.live_orders(who):
                if order.state is OrderState.AWAITING_CONFIRMATION:
                    label = f"the consent gateway confirms {_label(order)}"
                    out.append((label, _gateway_yes(order)))
    for order in _orders(run):
        if order.is_live:
            out.append((f"hotline cancels {_label(order)}", _cancel(order.id)))
        if order.state is OrderState.ACTIVE:
            out.append((f"hotline pauses {_label(order)}", _hold(order.id, pause=True)))
        if order.state is OrderState.PAUSED:
            out.append((f"subscriber resumes {_label(order)}", _hold(order.id, pause=False)))
        if order.kind is not OfferKind.TRIAL and order.state in (
            OrderState.ACTIVE,
            OrderState.COMPLETED,
            OrderState.AWAITING_CONFIRMATION,
            OrderState.PAUSED,
        ):
            out.append((f"billing charges {_label(order)} {order.price}", _charge(order)))
    out.append(("clock +1 s", _wait(dt.timedelta(seconds=1))))
    out.append(("clock +5 s", _wait(dt.timedelta(seconds=5))))
    upcoming = _deadlines(run)
    if upcoming:
        out.append((f"clock to {upcoming[0].isoformat()}", _wait(upcoming[0] - run.clock.now())))
    out.append(("run_due", lambda r: r.lc.run_due()))
    out.append(("dispatch", lambda r: r.lc.dispatch()))
    flip = "up" if run.gateway.down else "down"
    out.append((f"gateway goes {flip}", _flip))
    if run.breadth:
        out += _breadth_actions(run)
    return out


def _words(policy: Policy) -> tuple[str, str, str, str, str]:
    """The texts the parties send under ``policy``: its shortest yes and no, its list
    word, its unsubscribe word (``TD`` in China) and its operator number."""
    yes = min(policy.confirm_words, key=lambda w: (len(w), w))
    no = min(policy.decline_words, key=lambda w: (len(w), w))
    stop = "TD" if "TD" in policy.unsubscribe_words else min(policy.unsubscribe_words)
    return yes, no, min(policy.list_words), stop, policy.operator_number


def _gateway_yes(order: Order) -> Callable[[_Run], object]:
    return lambda r: r.lc.confirm(
        order.id, msisdn=order.msisdn, channel=Channel.CONSENT_GATEWAY, attestation="cg"
    )


def _breadth_actions(run: _Run) -> list[Action]:
    """What the parties do beside under the breadth policy: order a pack, start a
    trial that converts with consent, claim a wrongful activation, give money back."""
    out: list[Action] = []
    for who in (A, B):
        name = NAMES[who]
        out.append((f"{name} orders PACK on the web", _request(who, "PACK", Channel.WEB)))
        out.append((f"{name} starts TRYNEWS, agreeing to pay after", _convert(who)))
    for order in _orders(run):
        if order.activated_at is not None:
            out.append((f"{NAMES[order.msisdn]} claims {_label(order)}", _claim(order.id)))
        if run.lc.charges(order.id):
            out.append((f"billing refunds {_label(order)}", _refund(order.id)))
    return out


def _convert(who: str) -> Callable[[_Run], object]:
    return lambda r: r.lc.request(who, "TRYNEWS", channel=Channel.WEB, conversion_consent=True)


def _claim(order_id: str) -> Callable[[_Run], object]:
    return lambda r: r.lc.claim_refund(order_id, channel=Channel.HOTLINE)


def _refund(order_id: str) -> Callable[[_Run], object]:
    return lambda r: r.lc.refund(order_id, key=f"r-{r.ids[0]}", reason="explored")


def _request(who: str, code: str, channel: Channel) -> Callable[[_Run], object]:
    return lambda r: r.lc.request(who, code, channel=channel)


def _text(who: str, text: str, to: str) -> Callable[[_Run], object]:
    return lambda r: r.lc.handle_sms(who, text, to=to)


def _cancel(order_id: str) -> Callable[[_Run], object]:
    return lambda r: r.lc.unsubscribe(order_id, channel=Channel.HOTLINE)


def _hold(order_id: str, *, pause: bool) -> Callable[[_Run], object]:
    if pause:
        return lambda r: r.lc.pause(order_id, channel=Channel.HOTLINE)
    return lambda r: r.lc.resume(order_id, channel=Channel.SELF_SERVICE)


def _charge(order: Order) -> Callable[[_Run], object]:
    return lambda r: r.lc.record_charge(order.id, order.price, key=f"k-{order.id}")


def _wait(by: dt.timedelta) -> Callable[[_Run], object]:
    return lambda r: r.clock.advance(by)


def _flip(run: _Run) -> None:
    run.gateway.down = not run.gateway.down


def _key(run: _Run) -> object:
    """The world up to order ids, the two subscribers' names and the absolute date."""
    now = run.clock.now()
    store = run.lc.store
    assert isinstance(store, MemoryStore)
    data = store._data  # the explorer is part of the library: it may read its store

    def rel(when: dt.datetime | None) -> float | None:
        return None if when is None else (when - now).total_seconds()

    per_person = [_person(data, who, rel) for who in (A, B)]
    violations = tuple(sorted((v.sp_id, v.reason.value) for v in data.violations))
    midnight = rel(run.lc.policy.local_day(now)[1])
    return (tuple(sorted(per_person, key=repr)), violations, midnight, run.gateway.down)


_Rel = Callable[[dt.datetime | None], float | None]


def _person(data: Any, who: str, rel: _Rel) -> object:
    """One subscriber's orders (ranked by what they are, not by id), ``0000`` list
    and replies, with times relative to now."""
    described = {oid: _order(data, data.orders[oid], rel) for oid in data.by_msisdn.get(who, ())}
    ranked = sorted(described, key=lambda oid: repr(described[oid]))
    pick = data.picks.get(who)
    session = None
    if pick is not None:
        session = (
            rel(pick.expires_at),
            tuple(ranked.index(oid) if oid in described else -1 for oid in pick.order_ids),
        )
    replies = tuple(
        sorted(
            (n.kind.value, n.id not in data.outbox)
            for n in data.notices.values()
            if n.msisdn == who and n.order_id is None
        )
    )
    return (tuple(described[oid] for oid in ranked), session, replies)


def _order(data: Any, o: Order, rel: _Rel) -> tuple[object, ...]:
    """An order as the explorer compares it: what it is, not what it is called."""
    outbox = data.outbox
    notices = tuple(
        sorted(
            [
                (
                    n.kind.value,
                    n.id not in outbox,
                    outbox[n.id].attempts if n.id in outbox else 0,
                    rel(outbox[n.id].next_at) if n.id in outbox else None,
                )
                for n in (data.notices[nid] for nid in data.notices_by_order.get(o.id, ()))
            ],
            key=repr,
        )
    )
    charges = tuple(sorted(data.charges[k].period_key for k in data.charges_by_order.get(o.id, ())))
    refunds = tuple(
        sorted(str(data.refunds[k].amount) for k in data.refunds_by_order.get(o.id, ()))
    )
    claimed = tuple(sorted(rule for oid, rule in data.claims if oid == o.id))
    return (
        o.service_code,
        o.state.value,
        o.request_channel.value,
        tuple(e.kind.value for e in data.events[o.id]),
        rel(o.requested_at),
        rel(o.confirm_by),
        rel(o.remind_at),
        rel(o.trial_ends_at),
        rel(o.activated_at),
        o.consent_channel,
        charges,
        notices,
        refunds,
        claimed,
        o.kind,
        None if o.pack is None else rel(o.pack.valid_until),
    )


@attrs.frozen
class Exploration:
    """What an exploration covered and what it found."""

    depth: int
    sequences: int  # actions run (every sequence of up to depth, without repeats)
    states: int  # distinct worlds reached
    seconds: float
    violation: tuple[tuple[str, ...], list[InvariantViolation]] | None = None

    def report(self) -> str:
        """What was explored, and the shortest sequence that broke a rule, if any."""
        lines = [
            f"depth {self.depth}: {self.sequences:,} actions run, {self.states:,} distinct "
            f"states, {self.seconds:.1f} s"
        ]
        if self.violation is not None:
            path, problems = self.violation
            lines.append(f"VIOLATION after {len(path)} actions:")
            lines += [f"  {n + 1}. {step}" for n, step in enumerate(path)]
            lines += [f"  -> {p}" for p in problems]
        return "\n".join(lines)


def explore(
    depth: int,
    *,
    make_lifecycle: LifecycleFactory = Lifecycle,
    progress: Callable[[int, int, int], None] | None = None,
    breadth: bool = False,
    preset: str = "",
) -> Exploration:
    """Every sequence of up to ``depth`` actions in the small world, breadth first.

    Args:
        depth: the longest sequence explored.
        make_lifecycle: builds the lifecycle under test (the keyword arguments of
            :class:`Lifecycle`); a subclass shows what the explorer finds in it.
        progress: called with (depth reached, actions run, states) after each level.
        breadth: explore under :func:`breadth_policy`, with a pack and a trial that
            converts, and the actions they add (claims, refunds).
        preset: explore under a regime preset (``Policy.presets()``): its version in
            force at the start, with the small windows, its words and numbers.

    Returns:
        The coverage, and the shortest sequence that breaks an invariant, if any.
    """
    began = time.perf_counter()
    if preset:
        Policy.regime(preset)  # an unknown name is a PolicyError before anything runs
    root = _World(MemoryStore(), START, 0, False, breadth, preset)
    first = _start(root, make_lifecycle)
    seen: dict[object, tuple[object, str] | None] = {_key(first): None}
    frontier: list[tuple[object, _World]] = [(_key(first), root)]
    runs = 0
    for level in range(1, depth + 1):
        following: list[tuple[object, _World]] = []
        for parent_key, world in frontier:
            labels = [label for label, _act in actions(_start(world, make_lifecycle))]
            for index, label in enumerate(labels):
                run = _start(world, make_lifecycle)
                _label_now, act = actions(run)[index]
                runs += 1
                problems: list[InvariantViolation]
                try:
                    act(run)
                except VasError:
                    pass  # refusals are part of the world
                except Exception as err:  # a crash is a finding too
                    problems = [InvariantViolation("crash", None, f"{type(err).__name__}: {err}")]
                    return _found(seen, parent_key, label, problems, level, runs, began)
                problems = check_invariants(run.lc)
                if problems:
                    return _found(seen, parent_key, label, problems, level, runs, began)
                key = _key(run)
                if key not in seen:
                    seen[key] = (parent_key, label)
                    following.append((key, run.world()))
        frontier = following
        if progress is not None:
            progress(level, runs, len(seen))
        if not frontier:
            break
    return Exploration(depth, runs, len(seen), time.perf_counter() - began)


def _found(
    seen: dict[object, tuple[object, str] | None],
    parent_key: object,
    label: str,
    problems: list[InvariantViolation],
    level: int,
    runs: int,
    began: float,
) -> Exploration:
    path = [label]
    step = seen[parent_key]
    while step is not None:
        path.append(step[1])
        step = seen[step[0]]
    return Exploration(
        level, runs, len(seen), time.perf_counter() - began, (tuple(reversed(path)), problems)
    )


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - command line only
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--breadth", action="store_true", help="the issue-18 world")
    parser.add_argument("--preset", default="", help="a regime preset (Policy.presets())")
    args = parser.parse_args(argv)
    logging.getLogger("vas_lifecycle").setLevel(logging.ERROR)  # the gateway goes down often

    def show(level: int, runs: int, states: int) -> None:
        print(f"  depth {level}: {runs:,} actions, {states:,} states", flush=True)

    found = explore(args.depth, progress=show, breadth=args.breadth, preset=args.preset)
    print(found.report())
    return 1 if found.violation is not None else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
