"""The read side of the facade: orders, their evidence and the outbox, as stored.

Queries run in read-only transactions and never change anything; the commands are
in :class:`~vas_lifecycle.lifecycle.Lifecycle`, which inherits these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import pendulum

from vas_lifecycle import arguments, charging, handlers
from vas_lifecycle.errors import InvalidArgumentError, VasError
from vas_lifecycle.notices import Notice
from vas_lifecycle.order import Event, Order
from vas_lifecycle.outbox import Outbox
from vas_lifecycle.records import (
    Backlog,
    Charge,
    ChargeDecision,
    CommandCount,
    Refund,
    RefundDue,
    Spend,
    SpViolation,
)
from vas_lifecycle.regimes import Regime
from vas_lifecycle.store.base import Delivery, Transaction
from vas_lifecycle.unit_of_work import ClockReader, Runner
from vas_lifecycle.values import normalize_msisdn, to_amount

__all__ = ["Queries"]

T = TypeVar("T")


class Queries:
    """What a Lifecycle answers without changing anything: C11's answer to a charge,
    and the stored orders, evidence and outbox."""

    regime: Regime
    _runner: Runner
    _outbox: Outbox
    _now: ClockReader

    def may_charge(
        self, order_id: str, amount: Decimal | int | str, *, period_start: dt.datetime | None = None
    ) -> ChargeDecision:
        """May the billing backend charge ``amount`` now (C11)? Always answers with a reason.

        ``period_start`` is the start of the billing period being charged (now when
        omitted); on-demand orders ignore it.
        """
        value, start = to_amount(amount), arguments.period_start(period_start)
        now = self._now.now()
        policy = self.regime.policy_at(now)

        def decide(tx: Transaction) -> ChargeDecision:
            return handlers.may_charge(
                tx, now, policy=policy, order_id=order_id, amount=value, period_start=start
            )

        tally = self._runner.tally
        if tally is None:
            return self._read(decide)
        try:
            decision = self._read(decide)
        except VasError as err:
            tally.ended("may_charge", err)
            raise
        if decision.allowed:
            tally.add("may_charge", "ok")
        else:
            tally.add("may_charge", "refused", decision.reason.value)
        return decision

    def _read(self, work: Callable[[Transaction], T]) -> T:
        return self._runner.call(work, readonly=True)

    def _msisdn(self, value: object) -> str:
        return normalize_msisdn(value, self.regime.country_code)

    def spend(
        self,
        msisdn: str,
        access_code: str | None = None,
        *,
        period: str = "month",
        at: dt.datetime | None = None,
    ) -> Spend:
        """What the subscriber was charged in the calendar ``period`` (``"month"``,
        ``"week"`` or ``"day"`` of the policy's time zone) that contains ``at`` (now by
        default), on the access code ``access_code`` or on all: the spend ledger,
        kept with every charge (spend reminders and caps read it).

        Raises:
            InvalidMsisdnError, InvalidArgumentError: a malformed argument.
        """
        number = self._msisdn(msisdn)
        code = None if access_code is None else arguments.identifier(access_code, "access_code")
        every = arguments.calendar_period(period)
        when = self._now.now() if at is None else arguments.instant(at, "at")
        key, first, end = charging.spend_days(every, when, self.regime.policy_at(when))
        amount, count = self._read(lambda tx: tx.spend.spent(number, first, end, code))
        return Spend(number, code, key, first, end, amount, count)

    def get(self, order_id: str) -> Order:
        """The order with that id. Raises UnknownOrderError."""
        return self._read(lambda tx: handlers.load(tx.orders, order_id))

    def history(self, order_id: str) -> list[Event]:
        """The order's events, oldest first: its consent evidence (C14)."""
        return self._read(lambda tx: tx.orders.events(handlers.load(tx.orders, order_id).id))

    def notices(self, order_id: str) -> list[Notice]:
        """The notices recorded for an order."""
        return self._read(lambda tx: tx.outbox.notices(handlers.load(tx.orders, order_id).id))

    def charges(self, order_id: str) -> list[Charge]:
        """The charges recorded on an order."""
        return self._read(lambda tx: tx.ledger.charges(handlers.load(tx.orders, order_id).id))

    def refunds(self, order_id: str) -> list[Refund]:
        """The refunds recorded on an order, oldest first."""
        return self._read(lambda tx: tx.ledger.refunds(handlers.load(tx.orders, order_id).id))

    def refunds_due(self, *, limit: int = 1000) -> list[RefundDue]:
        """What the rules say must be refunded and is not yet (IN5: the charges of an
        order unsubscribed or claimed inside ``Policy.refund_window`` after its
        activation; CN25c: the unused part of the period an unsubscribe left, under
        ``Policy.refund_unused``), each with its rule and the time of the claim."""
        size, regime = arguments.count(limit, "limit"), self.regime
        return self._read(
            lambda tx: handlers.refunds_due(
                tx, size, lambda at: regime.policy_at(at, or_first=True)
            )
        )

    def orders_of(self, msisdn: str) -> list[Order]:
        """Every order of a subscriber, oldest first."""
        number = self._msisdn(msisdn)
        return self._read(lambda tx: tx.orders.orders_of(number))

    def live_orders(self, msisdn: str) -> list[Order]:
        """The subscriber's live orders (awaiting confirmation, active, in trial)."""
        number = self._msisdn(msisdn)
        return self._read(lambda tx: tx.orders.live_orders_of(number))

    def sp_violations(self, sp_id: str | None = None) -> list[SpViolation]:
        """C13 evidence, for one SP or for all."""
        if sp_id is not None and not isinstance(sp_id, str):
            raise InvalidArgumentError(f"sp_id must be a string, got {type(sp_id).__name__}")
        return self._read(lambda tx: tx.evidence.violations(sp_id))

    def next_due(self) -> pendulum.DateTime | None:
        """When the next timer or notice attempt is due (None: nothing is waiting), so
        a scheduler can sleep until then; it may already have passed."""
        return self._read(_next_due)

    def backlog(self) -> Backlog:
        """What the store still owes, in one read-only transaction: the outbox's
        notices waiting and parked, each feed subscriber's events, and when the next
        timer or notice attempt is due (the figures ``/metrics`` shows). Counted by
        the store in a few set-based reads, whatever the number of orders."""
        now = self._now.now()

        def read(tx: Transaction) -> Backlog:
            feed = {name: tx.feed.queue(name).depth() for name in tx.feed.subscribers()}
            return Backlog(now, tx.outbox.depth(), feed, _next_due(tx))

        return self._read(read)

    def command_counts(self) -> dict[CommandCount, int] | None:
        """How many commands this Lifecycle ran, by command, outcome and reason, since
        it was made; None unless it was made with ``count_commands=True``. Counted in
        the process as each ends, so several processes each count their own
        (``/metrics`` shows them as counters). ``may_charge`` counts C11's answers; a
        billing run counts as its batches (``charge_period``), its orders are in its
        :class:`~vas_lifecycle.records.BillingSummary`."""
        tally = self._runner.tally
        return None if tally is None else tally.counts()

    def parked_notices(self, *, limit: int = 1000) -> list[Delivery]:
        """Notices given up on after ``delivery.max_attempts`` failures, with the error."""
        return self._outbox.parked(arguments.count(limit, "limit"))


def _next_due(tx: Transaction) -> pendulum.DateTime | None:
    """The earliest of the next timer and the next notice attempt."""
    found = [t for t in (tx.orders.next_due(), tx.outbox.next_attempt()) if t is not None]
    return min(found) if found else None
