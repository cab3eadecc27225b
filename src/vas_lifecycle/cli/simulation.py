"""A synthetic operator: thousands of subscribers, a month of orders, one rogue SP.

Used by ``vas-lifecycle simulate`` (the README's main job) and by the benchmarks. It
drives a real :class:`Lifecycle` on any store with a :class:`ManualClock`, the way a
billing backend and its subscribers would: SPs ask for subscriptions, subscribers
confirm, decline, ignore or answer too late, start trials, order on demand, list
with ``0000`` and pick, send ``TD``; the billing backend asks before every charge; a
rogue SP tries forced subscriptions (C13). At the end the test kit's invariant
checker reads the whole history.

Under the ``extended`` policy (the China preset with the lifecycle's breadth on:
receipts, caps, spend reminders, refunds, inactivity, packs with renewal notices)
subscribers also buy packs, pause and resume, and use their services; the billing
backend charges packs when they renew and pays the refunds the rules make due.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import attrs
import pendulum

from vas_lifecycle.catalog import OfferKind, Service
from vas_lifecycle.clock import ManualClock
from vas_lifecycle.errors import (
    BatchError,
    ChargeRefusedError,
    ConfirmationRefusedError,
    VasError,
)
from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.policy import Channel, Policy
from vas_lifecycle.records import FeedEvent, FeedKind
from vas_lifecycle.regimes import Regime
from vas_lifecycle.states import OrderState
from vas_lifecycle.store.base import Store
from vas_lifecycle.store.memory import MemoryStore
from vas_lifecycle.testing.catalogs import simulation_catalog
from vas_lifecycle.testing.invariants import check_invariants

__all__ = ["POLICIES", "Mix", "SimulationReport", "simulate", "simulation_catalog"]

T = TypeVar("T")


SUBSCRIPTIONS = ("NEWS", "WEATHER", "RING", "GAME")
PACKS = ("PACK28",)


def _extended() -> Policy:
    """The China preset with every rule of the lifecycle's breadth on (numbers from
    the regimes that name them, inactivity shortened so a month shows it)."""
    return Policy.china_mobile(
        receipt_after_charge=True,
        per_charge_cap=Decimal("30"),
        spend_cap=Decimal("200"),
        spend_reminder_every=Decimal("20"),
        spend_reminder_interval=dt.timedelta(days=30),
        refund_window=dt.timedelta(hours=24),
        cancel_after_inactivity=dt.timedelta(days=20),
        renewal_notice_lead=dt.timedelta(hours=24),
    )


#: The policies ``simulate`` runs under, by name: the China preset, the China preset
#: with the lifecycle's breadth on, and every regime preset (its versions followed by
#: the simulated clock).
POLICIES: dict[str, Callable[[], Policy | Regime]] = {
    "china": Policy.china_mobile,
    "extended": _extended,
    **{name: functools.partial(Policy.regime, name) for name in Policy.presets()},
    "us_ctia+card_trials": functools.partial(Policy.regime, "us_ctia+card_trials"),
}
TRIALS = ("MUSIC7", "GAME1")
ON_DEMAND = ("JOKE", "SONG")


@attrs.frozen(kw_only=True)
class Mix:
    """How the population behaves; rates are per subscriber per day."""

    order_rate: float = 0.04
    trial_share: float = 0.2
    on_demand_share: float = 0.2
    #: what a subscriber does with a confirmation request
    confirm: float = 0.55
    decline: float = 0.1
    late: float = 0.1  # answers after the window; the rest ignores it
    list_and_pick_rate: float = 0.004
    td_rate: float = 0.004
    #: forced-subscription attempts of the rogue SP, per 1 000 subscribers per day
    rogue_per_thousand: float = 2.0
    # under the extended policy: a pack among the subscriptions, pauses, uses
    pack_share: float = 0.3
    pause_rate: float = 0.003
    use_rate: float = 0.05


@attrs.frozen
class SimulationReport:
    """What happened, for the closing table."""

    subscribers: int
    days: int
    seed: int
    orders_by_state: dict[str, int]
    notices_by_kind: dict[str, int]
    charges: int
    charged_amount: Decimal
    refusals_by_reason: dict[str, int]
    violations_by_sp: dict[str, int]
    violations_by_reason: dict[str, int]
    invariant_violations: list[str]
    commands: int
    elapsed: float
    policy: str = "china"
    refunds: int = 0
    refunded_amount: Decimal = Decimal(0)
    #: how the policy writes an amount (``{amount}元``, ``£{amount}``)
    amount_format: str = "{amount}元"

    @property
    def ok(self) -> bool:
        return not self.invariant_violations


_Action = Callable[[], None]


class _Simulation:
    def __init__(
        self,
        store: Store,
        subscribers: int,
        days: int,
        seed: int,
        mix: Mix,
        start: pendulum.DateTime,
        policy: str = "china",
    ) -> None:
        self.rng = random.Random(seed)
        self.clock = ManualClock(start)
        ids = random.Random(seed + 1)
        self.extended = policy not in ("china", "china_mobile")
        catalog = simulation_catalog()
        rules = POLICIES[policy]()
        if self.extended:
            catalog.put(_pack())
        dated = rules.dated if isinstance(rules, Regime) else ((None, None, rules),)
        #: CT1: trials that become the paid subscription where the policy lets them
        self.converting = any(p.trial_converts for _, _, p in dated)
        if self.converting:
            catalog.put(_converting_trial())
        self.lc = Lifecycle(
            catalog,
            policy=rules,
            clock=self.clock,
            notifier=_Gateway(),
            store=store,
            rng=random.Random(seed + 2),
            ids=lambda: f"{ids.getrandbits(80):020x}",
        )
        self.start = start
        self.days = days
        self.mix = mix
        self.subscribers = subscribers
        self.queue: list[tuple[pendulum.DateTime, int, _Action]] = []
        self.seq = itertools.count()
        self.commands = 0
        self.refusals: Counter[str] = Counter()
        self.charges = 0
        self.charged = Decimal(0)
        #: the answers that reached the gateway at this instant, handed over together
        self.inbox: list[tuple[str, str, str | None]] = []
        self.refunds = 0
        self.refunded = Decimal(0)
        #: packs that renewed, heard on the event feed: the billing backend charges them
        self.renewed: list[str] = []
        if self.extended:
            self.lc.feed.subscribe("simulated-billing", self.hear)

    # --- scheduling --------------------------------------------------------------------
    def at(self, when: pendulum.DateTime, action: _Action) -> None:
        heapq.heappush(self.queue, (when, next(self.seq), action))

    def number(self) -> str:
        """A subscriber drawn at random (numbers are made when drawn: nothing is kept
        per subscriber)."""
        n = self.rng.randrange(self.subscribers)
        code = self.lc.regime.country_code
        return f"+86138{n:08d}" if code == "86" else f"+{code}7{n:09d}"

    def run(self, progress: Callable[[int, int], None] | None) -> None:
        end = self.start.add(days=self.days)
        for day in range(self.days):
            # each day is planned when it begins: the queue holds a day, not the month
            start = self.start.add(days=day)
            self.at(start, functools.partial(self.plan_day, start))
        hour = self.start
        while hour <= end:
            self.at(hour, self.timers)
            hour = hour.add(hours=1)
        for month_start in self.month_starts(end):
            self.at(month_start, self.billing_run)
        done = 0
        while self.queue:
            when, _seq, action = heapq.heappop(self.queue)
            if when > end:
                continue
            if when > self.clock.now():
                self.clock.set(when)
            action()
            done += 1
            if progress is not None and done % 500 == 0:
                progress(done, done + len(self.queue))  # what is planned so far
        self.clock.set(end)
        self.lc.run_due()
        while self.lc.dispatch():
            pass
        if progress is not None:
            progress(done, done)

    def month_starts(self, end: pendulum.DateTime) -> list[pendulum.DateTime]:
        tz = self.lc.policy.timezone
        first = self.start.in_timezone(tz).start_of("month").add(months=1)
        result = []
        while first < end:
            result.append(first.add(minutes=30).in_timezone("UTC"))
            first = first.add(months=1)
        return result

    def plan_day(self, day: pendulum.DateTime) -> None:
        rng, mix = self.rng, self.mix
        seconds = 86_400
        count = self.subscribers
        for _ in range(_poisson(rng, count * mix.order_rate)):
            msisdn = self.number()
            self.at(
                day.add(seconds=rng.randrange(seconds)), functools.partial(self.new_order, msisdn)
            )
        for _ in range(_poisson(rng, count * mix.list_and_pick_rate)):
            msisdn = self.number()
            self.at(
                day.add(seconds=rng.randrange(seconds)),
                functools.partial(self.list_and_pick, msisdn),
            )
        for _ in range(_poisson(rng, count * mix.td_rate)):
            msisdn = self.number()
            self.at(
                day.add(seconds=rng.randrange(seconds)), functools.partial(self.send_td, msisdn)
            )
        for _ in range(_poisson(rng, count / 1000 * mix.rogue_per_thousand)):
            msisdn = self.number()
            self.at(day.add(seconds=rng.randrange(seconds)), functools.partial(self.rogue, msisdn))
        if self.extended:
            self.plan_breadth(day)

    def plan_breadth(self, day: pendulum.DateTime) -> None:
        """Pauses (resumed a few days later), uses of services, and the billing
        backend's daily refund run."""
        rng, mix, count = self.rng, self.mix, self.subscribers
        for _ in range(_poisson(rng, count * mix.pause_rate)):
            when = day.add(seconds=rng.randrange(86_400))
            self.at(when, functools.partial(self.pause, self.number()))
        for _ in range(_poisson(rng, count * mix.use_rate)):
            when = day.add(seconds=rng.randrange(86_400))
            self.at(when, functools.partial(self.use, self.number()))
        self.at(day.add(hours=12), self.pay_refunds)

    # --- behaviours ------------------------------------------------------------------------
    def call(self, action: Callable[[], T]) -> T | None:
        self.commands += 1
        try:
            return action()
        except (ConfirmationRefusedError, ChargeRefusedError) as err:
            self.refusals[str(err.reason.value)] += 1
        except VasError as err:
            self.refusals[type(err).__name__] += 1
        return None

    def new_order(self, msisdn: str) -> None:
        rng, mix = self.rng, self.mix
        roll = rng.random()
        if roll < mix.trial_share and self.converting and rng.random() < 0.5:
            # CT1: a trial that becomes the paid subscription, agreed to at its start
            self.call(
                lambda: self.lc.request(
                    msisdn, "TRYNEWS", channel=Channel.WEB, conversion_consent=True
                )
            )
            return
        if roll < mix.trial_share:
            code, channel = rng.choice(TRIALS), rng.choice([Channel.WAP, Channel.WEB, Channel.SMS])
        elif roll < mix.trial_share + mix.on_demand_share:
            code, channel = (
                rng.choice(ON_DEMAND),
                rng.choice([Channel.WEB, Channel.WAP, Channel.SMS]),
            )
        elif self.extended and rng.random() < mix.pack_share:
            code, channel = rng.choice(PACKS), rng.choice([Channel.SP_API, Channel.WEB])
        else:
            code, channel = rng.choice(SUBSCRIPTIONS), rng.choice([Channel.SP_API, Channel.WEB])
        order = self.call(lambda: self.lc.request(msisdn, code, channel=channel))
        if order is None:
            return
        if order.state is OrderState.COMPLETED:
            self.charge(order.id)
        elif order.state is OrderState.AWAITING_CONFIRMATION:
            self.plan_answer(msisdn, order.id, order.code or "")

    def plan_answer(self, msisdn: str, order_id: str, code: str) -> None:
        rng, mix = self.rng, self.mix
        roll = rng.random()
        now = self.clock.now()
        policy = self.lc.policy
        yes, no = _words(policy.confirm_words), _words(policy.decline_words)
        if roll < mix.confirm:
            delay = dt.timedelta(seconds=rng.choice([5, 20, 60, 600, 3600, 6 * 3600]))
            short = yes[1]  # China: 是, Y, y, Ｙ, YES, 是 <code>, Y<code>
            spellings = [yes[0], short, short.lower(), _wide(short), *yes[2:3]]
            word = rng.choice([*spellings, f"{yes[0]} {code}", short + code])
            if Channel.SMS not in policy.operator_channels:  # IN1: the consent gateway asks
                delay = dt.timedelta(seconds=rng.choice([5, 20, 60, 600]))
                self.at(now + delay, functools.partial(self.gateway_yes, order_id, msisdn))
                return
            self.at(now + delay, lambda: self.answer(msisdn, word, order_id))
        elif roll < mix.confirm + mix.decline:
            delay = dt.timedelta(seconds=rng.choice([10, 120, 7200]))
            word = rng.choice([no[0], no[1], no[-1].lower(), f"{no[0]} {code}"])
            self.at(now + delay, lambda: self.answer(msisdn, word, None))
        elif roll < mix.confirm + mix.decline + mix.late:
            delay = dt.timedelta(hours=rng.choice([25, 30, 48]))
            self.at(now + delay, lambda: self.answer(msisdn, f"{yes[0]} {code}", None))
        # the rest ignores the request: silence is refusal (C1)

    def answer(self, msisdn: str, text: str, order_id: str | None) -> None:
        """An answer reaches the gateway: it hands the texts of one instant over as a
        burst (``handle_sms_many``), as a gateway's queue does."""
        if not self.inbox:
            self.at(self.clock.now(), self.hand_over)
        self.inbox.append((msisdn, text, order_id))

    def hand_over(self) -> None:
        burst, self.inbox = self.inbox, []
        self.commands += len(burst)
        try:
            operator = self.lc.policy.operator_number
            self.lc.handle_sms_many([(msisdn, text, operator) for msisdn, text, _o in burst])
        except BatchError as err:  # the others were handled
            self.refusals.update(type(error).__name__ for error in err.errors.values())
        except VasError as err:
            self.refusals[type(err).__name__] += len(burst)
        for _msisdn, _text, order_id in burst:
            if order_id is None:
                continue
            order = self.lc.get(order_id)
            if order.state is OrderState.ACTIVE and order.activated_at == self.clock.now():
                self.charge(order_id)  # the first period, right after activation

    def charge(self, order_id: str, period_start: dt.datetime | None = None) -> None:
        order = self.lc.get(order_id)
        amount = order.price
        decision = self.lc.may_charge(order_id, amount, period_start=period_start)
        if not decision.allowed:
            self.refusals[decision.reason.value] += 1
            return
        key = f"{order_id}/{period_start.isoformat() if period_start else 'first'}"
        charge = self.call(
            lambda: self.lc.record_charge(order_id, amount, key=key, period_start=period_start)
        )
        if charge is not None:
            self.charges += 1
            self.charged += amount

    def billing_run(self) -> None:
        """The month's billing pass: every subscription C11 allows, charged once."""
        month = self.clock.now().in_timezone(self.lc.policy.timezone).date().replace(day=1)
        summary = self.call(lambda: self.lc.billing_run(month))
        if summary is None:
            return
        self.charges += summary.charged
        self.charged += summary.amount
        self.refusals.update({str(r): n for r, n in summary.refused.items()})

    def list_and_pick(self, msisdn: str) -> None:
        policy = self.lc.policy
        word = min(policy.list_words)  # 0000
        if policy.blank_lists:  # IN4: STOP, or an empty text
            word = self.rng.choice([word, *sorted(policy.unsubscribe_words), ""])
        to = policy.operator_number
        replies = self.call(lambda: self.lc.handle_sms(msisdn, word, to=to))
        if not replies:
            return
        pick = self.rng.choice(["1", "2", "1，2", "1 3", "2、1"])
        later = self.clock.now() + dt.timedelta(minutes=self.rng.choice([1, 10, 180]))
        self.at(later, lambda: self.answer(msisdn, pick, None))

    def send_td(self, msisdn: str) -> None:
        live = self.lc.live_orders(msisdn)
        if not live:
            return
        order = self.rng.choice(live)
        policy = self.lc.policy
        word = "TD" if "TD" in policy.unsubscribe_words else min(policy.unsubscribe_words)
        others = sorted((policy.unsubscribe_words | policy.all_here_words) - {word})
        spellings = [word, _wide(word), word.lower(), *others[:1]]  # China: TD, ＴＤ, td, QX
        text = self.rng.choice([*spellings, f"{word} {order.service_code}"])
        self.call(lambda: self.lc.handle_sms(msisdn, text, to=order.access_code))

    def rogue(self, msisdn: str) -> None:
        """The rogue SP: bursts of requests, then 'confirms' through its own platform or
        through an automated reply faster than a human."""
        order = None
        for _ in range(self.rng.choice([1, 2, 4])):
            order = self.call(lambda: self.lc.request(msisdn, "SHADOW", channel=Channel.SP_API))
        if order is None or order.state is not OrderState.AWAITING_CONFIRMATION:
            return
        oid = order.id
        if self.rng.random() < 0.5:
            self.call(lambda: self.lc.confirm(oid, msisdn=msisdn, channel=Channel.SP_API))
        else:
            soon = self.clock.now() + dt.timedelta(milliseconds=800)
            self.at(soon, functools.partial(self.automated_yes, oid, msisdn))

    def gateway_yes(self, order_id: str, msisdn: str) -> None:
        """The consent gateway reports the subscriber's yes, with its attestation (IN1)."""
        attestation = f"cg-{order_id[:12]}"
        self.call(
            lambda: self.lc.confirm(
                order_id, msisdn=msisdn, channel=Channel.CONSENT_GATEWAY, attestation=attestation
            )
        )
        order = self.lc.get(order_id)
        if order.state is OrderState.ACTIVE and order.activated_at == self.clock.now():
            self.charge(order_id)

    def automated_yes(self, order_id: str, msisdn: str) -> None:
        """A 'yes' sent by a machine 0.8 s after the request: faster than a human."""
        self.call(lambda: self.lc.confirm(order_id, msisdn=msisdn, channel=Channel.SMS, text="Y"))

    def timers(self) -> None:
        self.call(self.lc.run_due)
        self.call(self.lc.dispatch)
        renewed, self.renewed = self.renewed, []
        for order_id in renewed:
            self.charge(order_id, self.clock.now())  # a renewed pack's new period

    # --- the lifecycle's breadth (extended policy) -----------------------------------------
    def hear(self, event: FeedEvent) -> None:
        if event.kind in (FeedKind.RENEWED, FeedKind.CONVERTED):  # charge the new period
            self.renewed.append(event.order_id)

    def pause(self, msisdn: str) -> None:
        active = [o for o in self.lc.live_orders(msisdn) if o.state is OrderState.ACTIVE]
        if not active:
            return
        order = self.rng.choice(active)
        if self.call(lambda: self.lc.pause(order.id, channel=Channel.SELF_SERVICE)) is None:
            return
        later = self.clock.now() + dt.timedelta(days=self.rng.choice([1, 3, 10]))
        self.at(later, functools.partial(self.resume, order.id))

    def resume(self, order_id: str) -> None:
        if self.lc.get(order_id).state is OrderState.PAUSED:
            self.call(lambda: self.lc.resume(order_id, channel=Channel.SELF_SERVICE))

    def use(self, msisdn: str) -> None:
        for order in self.lc.live_orders(msisdn):
            self.call(functools.partial(self.lc.record_usage, order.id))

    def pay_refunds(self) -> None:
        """The billing backend pays back what the rules say is due (IN5)."""
        for due in self.call(self.lc.refunds_due) or []:
            refund = self.call(
                functools.partial(
                    self.lc.refund,
                    due.order_id,
                    key=f"refund/{due.order_id}/{due.charge_key}",
                    reason=due.rule,
                    charge_key=due.charge_key,
                )
            )
            if refund is not None:
                self.refunds += 1
                self.refunded += refund.amount


def _words(words: frozenset[str]) -> list[str]:
    """A keyword set, its own-script words first, then the ASCII ones shortest first
    (China's yes: 是, Y, YES); the ASCII ones repeated so there are at least three."""
    found = sorted(words, key=lambda w: (w.isascii(), len(w), w))
    while len(found) < 3:
        found.append(found[-1])
    return found


def _wide(text: str) -> str:
    """``text`` in full-width forms (C10a folds them back)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _converting_trial() -> Service:
    """A 14-day trial that becomes NEWS at its end, where the policy lets trials
    convert (CT1)."""
    return Service(
        code="TRYNEWS",
        sp_id="SP01",
        sp_name="星辰科技",
        name="新闻早报体验",
        kind=OfferKind.TRIAL,
        price=Decimal("0"),
        access_code="10658001",
        trial_days=14,
        converts_to="NEWS",
    )


def _pack() -> Service:
    return Service(
        code="PACK28",
        sp_id="SP01",
        sp_name="星辰科技",
        name="音乐包",
        kind=OfferKind.SUBSCRIPTION,
        price=Decimal("10.00"),
        access_code="10658001",
        validity_days=28,
    )


class _Gateway:
    """Stands for the SMS gateway: takes every notice (the report counts them in the
    store, where they are recorded)."""

    def send(self, notice: object) -> None:
        pass


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth for small means, a normal approximation for large)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def simulate(
    *,
    subscribers: int,
    days: int,
    seed: int = 1,
    store: Store | None = None,
    mix: Mix | None = None,
    start: pendulum.DateTime | None = None,
    progress: Callable[[int, int], None] | None = None,
    check: bool = True,
    policy: str = "china",
) -> SimulationReport:
    """Run the synthetic operator and report what happened.

    Args:
        subscribers, days, seed: the population, the length and the random seed.
        store: where the history goes (a ``MemoryStore`` by default).
        progress: called now and then with (actions done, actions planned).
        check: run the invariant checker over the whole history at the end.
        policy: a name of :data:`POLICIES`.
    """
    if subscribers < 1 or days < 1:
        raise ValueError("subscribers and days must be at least 1")
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r} (one of {', '.join(POLICIES)})")
    began = time.perf_counter()
    sim = _Simulation(
        store if store is not None else MemoryStore(),
        subscribers,
        days,
        seed,
        mix or Mix(),
        start or pendulum.datetime(2026, 11, 10, 0, 0, tz="Asia/Shanghai").in_timezone("UTC"),
        policy,
    )
    sim.run(progress)
    return _report(sim, seed, policy, began, check)


def _report(
    sim: _Simulation, seed: int, policy: str, began: float, check: bool
) -> SimulationReport:
    """What the simulation did, read from its store (and checked, with ``check``)."""
    lc = sim.lc
    problems = [str(p) for p in check_invariants(lc, settled=True)] if check else []
    with lc.store.transaction(readonly=True) as tx:
        states = Counter(o.state.value for o in tx.orders.all_orders())
        kinds = Counter(n.kind.value for n in tx.outbox.all_notices())
        violations = tx.evidence.violations(None)
    return SimulationReport(
        subscribers=sim.subscribers,
        days=sim.days,
        seed=seed,
        orders_by_state=dict(states.most_common()),
        notices_by_kind=dict(kinds.most_common()),
        charges=sim.charges,
        charged_amount=sim.charged,
        refusals_by_reason=dict(sim.refusals.most_common()),
        violations_by_sp=dict(Counter(v.sp_id for v in violations).most_common()),
        violations_by_reason=dict(Counter(v.reason.value for v in violations).most_common()),
        invariant_violations=problems,
        commands=sim.commands,
        elapsed=time.perf_counter() - began,
        policy=policy,
        refunds=sim.refunds,
        refunded_amount=sim.refunded,
        amount_format=lc.policy.pack(None).phrases["amount"],
    )
