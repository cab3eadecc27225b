"""The ``Lifecycle`` facade that billing backends call.

It checks arguments, hands each command to its handler (:mod:`vas_lifecycle.handlers`)
inside one unit of work (:mod:`vas_lifecycle.unit_of_work`), and answers queries.
Notices are delivered after the commit, from the store (:mod:`vas_lifecycle.outbox`),
so a notifier failure never undoes a state change and never loses a notice.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import random
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TypeVar

from vas_lifecycle import arguments, commands, handlers, timers
from vas_lifecycle.arguments import ACTOR_LIMIT, InboundText
from vas_lifecycle.catalog import Catalog, Period, Service
from vas_lifecycle.charging import BillingPeriod
from vas_lifecycle.clock import Clock, SystemClock
from vas_lifecycle.deliveries import Deliveries
from vas_lifecycle.notices import Notice
from vas_lifecycle.notify import DeliveryRules, Notifier
from vas_lifecycle.order import Order
from vas_lifecycle.outbox import Outbox
from vas_lifecycle.policy import Policy
from vas_lifecycle.publisher import EventFeed
from vas_lifecycle.queries import Queries
from vas_lifecycle.records import BillingSummary, Channel, Charge, Refund
from vas_lifecycle.regimes import Regime
from vas_lifecycle.rendering import Renderer
from vas_lifecycle.sms_channel import EVIDENCE_LIMIT, inbound, receive_all, receive_text
from vas_lifecycle.sp_platform import SpPlatform
from vas_lifecycle.store.base import Store
from vas_lifecycle.store.memory import MemoryStore
from vas_lifecycle.unit_of_work import (
    ClockReader,
    Context,
    IdMaker,
    NoticeOrder,
    Refused,
    Runner,
    Tally,
    UnitOfWork,
)
from vas_lifecycle.values import to_amount
from vas_lifecycle.verification import Verification

__all__ = ["Lifecycle"]

T = TypeVar("T")
C = TypeVar("C")


class Lifecycle(Queries, Deliveries, SpPlatform, Verification):
    """Runs the life of every VAS order under a :class:`Policy`.

    Args:
        catalog: the services on sale.
        policy: the rule parameters; ``Policy.china_mobile()`` by default. A
            :class:`Regime` (``Policy.regime("uk_psa")``) is followed by date: each
            command runs under the version in force at its instant, and one before
            the regime's first version is refused with ``PolicyError``.
        clock: the only source of time; ``SystemClock()`` by default.
        notifier: delivers notices. Without one (the default) nothing is ever handed
            over or marked delivered: notices wait in the outbox for a Lifecycle with a
            real notifier to dispatch them (and, C1a, no reply to a request that never
            went out counts). Tests that want every notice handed over at once pass
            ``RecordingNotifier()``.
        store: where everything lives; a ``MemoryStore`` by default.
        ids: makes order, notice and violation ids; random UUIDs by default.
        rng: draws confirmation codes (C3); seed it for reproducible runs.
        auto_dispatch: deliver notices and feed events right after each command
            (else call :meth:`dispatch` and ``feed.publish()``).
        delivery: the outbox's retry rules (backoff, attempts before parking).
        senders: background threads handing commands' notices over, so a command returns
            at its commit whatever the gateway does (for servers); 0: the caller's thread.
        max_retries: how often a command is retried when its order changed under it.
        count_commands: count what each command comes to, by outcome and reason
            (:meth:`command_counts`, ``/metrics``); off, counting costs nothing.

    Threads may share a Lifecycle (the stores serialise or isolate transactions);
    processes each build their own. The read side (``get``, ``history``, ...) lives
    in ``vas_lifecycle.queries`` and is documented here; ``feed`` is the event feed for billing
    backends (:class:`~vas_lifecycle.publisher.EventFeed`).

    Raises:
        PolicyError: the policy (any version of the regime) cannot serve the catalog.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        policy: Policy | Regime | None = None,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
        store: Store | None = None,
        ids: Callable[[], str] | None = None,
        rng: random.Random | None = None,
        auto_dispatch: bool = True,
        max_retries: int = 5,
        delivery: DeliveryRules | None = None,
        senders: int = 0,
        count_commands: bool = False,
    ) -> None:
        arguments.check_ports(catalog, policy, store, rng, delivery, clock, notifier, ids)
        self.catalog = catalog
        self.regime = arguments.regime(policy, catalog)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.notifier: Notifier | None = notifier
        self.store: Store = store if store is not None else MemoryStore()
        self.delivery = delivery if delivery is not None else DeliveryRules()
        self._rng = rng if rng is not None else random.Random()
        self._now = ClockReader(self.clock)
        self._outbox = _outbox(self, arguments.whole(senders, "senders"))
        self.feed = EventFeed(self.store, self.delivery, self._now, auto=auto_dispatch)
        tally = Tally() if arguments.flag(count_commands, "count_commands") else None
        self._runner = _runner(self, IdMaker(ids), max_retries, auto_dispatch, tally)

    @property
    def policy(self) -> Policy:
        """The policy in force now (by the clock); ``regime`` has every version."""
        only = self.regime.only
        return only if only is not None else self.regime.policy_at(self._now.now())

    def _run(self, handler: Callable[[C, UnitOfWork], T | Refused], command: C) -> T:
        return self._runner.run(handler, command)[0]

    # --- commands ----------------------------------------------------------------------

    def request(
        self,
        msisdn: str,
        service_code: str,
        *,
        channel: Channel | str,
        actor: str | None = None,
        text: str | None = None,
        language: str | None = None,
        sp_id: str | None = None,
        idempotency_key: str | None = None,
        conversion_consent: bool = False,
    ) -> Order:
        """Receive an order for a service.

        A subscription goes to ``AWAITING_CONFIRMATION`` and the subscriber is sent the
        confirmation request (C1, C2). A trial starts with its notice (C6). An on-demand
        order is ``COMPLETED`` with its fee notice (C5), or, from the SP's platform,
        awaits the subscriber's confirmation (C5a). An order over the SP's daily limit,
        or a second live order of the same service, is ``REJECTED`` (C13).

        ``sp_id`` is the SP whose platform asks (the SP API): it may order only its own
        services; another SP's is refused (:class:`SpAccessError`) and booked against it.

        ``idempotency_key`` (per ``sp_id``): a retry answers the first request's order as
        it left it, and does nothing again (docs/sp_api.md).

        ``conversion_consent``: the subscriber agreed, through this channel, that the
        trial becomes its paid subscription at its end (CT1; a policy with
        ``trial_converts``, a trial sold with ``converts_to``, never the SP's platform).

        Raises:
            IdempotencyKeyError: the key was used for a request with other arguments.
            InvalidArgumentError: a conversion consent the rules do not allow.
        """
        number = self._msisdn(msisdn)
        service, policy = self.catalog.get(service_code), self.policy
        chan = arguments.channel(channel)
        lang = arguments.language(language, policy)
        given = arguments.text(actor, "actor", ACTOR_LIMIT)
        evidence = arguments.text(text, "text", EVIDENCE_LIMIT)
        target = arguments.conversion(conversion_consent, service, chan, self.catalog, policy)
        # a consent to convert is a fact of the request (none: the digest as before)
        facts = (number, service.code, chan, lang, given, evidence, *_converts(target))
        keyed = None if idempotency_key is None else _keyed(idempotency_key, sp_id, *facts)
        if sp_id is not None and sp_id != service.sp_id:
            self._refuse_sp(sp_id, number, service, keyed)
        actor = given or (service.sp_id if chan is Channel.SP_API else number)
        command = commands.Request(number, service, chan, actor, evidence, lang, keyed, target)
        return self._run(handlers.request, command)

    def confirm(
        self,
        order_id: str,
        *,
        msisdn: str,
        channel: Channel | str,
        code: str | None = None,
        text: str | None = None,
        attestation: str | None = None,
    ) -> Order:
        """The subscriber's second confirmation (二次确认, C1).

        Only the subscriber's own number, through an operator-controlled channel,
        after the request went out and inside the window, with the request's code when
        several orders are pending (C3), activates the order and sends the activation
        notice (C4). A confirmation through a consent gateway
        (``Channel.CONSENT_GATEWAY``, IN1) carries the gateway's ``attestation`` id,
        kept with the consent event.

        Raises:
            UnknownOrderError: no such order.
            InvalidStateError: the order is not awaiting confirmation.
            ForcedSubscriptionError: the SP's platform, another number, or a reply
                faster than a human (C13); booked against the SP, order unchanged.
            ConfirmationRefusedError: any other invalid confirmation; order unchanged.
        """
        number, chan = self._msisdn(msisdn), arguments.channel(channel)
        quoted, evidence = arguments.code(code), arguments.text(text, "text", EVIDENCE_LIMIT)
        attested = arguments.attestation(attestation, chan)
        confirmed = commands.Confirm(order_id, number, chan, quoted, evidence, None, attested)
        return self._run(handlers.confirm, confirmed)

    def decline(
        self,
        order_id: str,
        *,
        msisdn: str,
        channel: Channel | str,
        code: str | None = None,
        text: str | None = None,
    ) -> Order:
        """The subscriber says no: the order is ``DECLINED`` and never charged.

        Raises:
            UnknownOrderError, InvalidStateError: no such order, or not awaiting.
            ConfirmationRefusedError: another number, a wrong code, or a missing
                code when several orders are pending.
        """
        number, chan = self._msisdn(msisdn), arguments.channel(channel)
        quoted, evidence = arguments.code(code), arguments.text(text, "text", EVIDENCE_LIMIT)
        return self._run(
            handlers.decline, commands.Decline(order_id, number, chan, quoted, evidence)
        )

    def unsubscribe(
        self,
        order_id: str,
        *,
        channel: Channel | str,
        actor: str | None = None,
        text: str | None = None,
    ) -> Order:
        """Cancel an order now, from any live state, through any channel (C7).

        Idempotent: an order that is no longer live is returned unchanged and no second
        notice is sent. Never refused for the state the order is in.
        """
        chan = arguments.channel(channel)
        who, evidence = arguments.said(actor, text, ACTOR_LIMIT, EVIDENCE_LIMIT)
        return self._run(handlers.unsubscribe, commands.Unsubscribe(order_id, chan, who, evidence))

    def pause(
        self,
        order_id: str,
        *,
        channel: Channel | str,
        actor: str | None = None,
        text: str | None = None,
    ) -> Order:
        """Pause an active subscription: ``PAUSED``, with a notice; nothing is charged
        until it resumes (reason ``paused``). Pausing a paused order changes nothing. A
        trial is free and its clock never stops: it cannot be paused.

        Raises:
            InvalidArgumentError: the SP's platform as ``channel`` (only the subscriber
                or the operator pauses).
            UnknownOrderError, InvalidStateError: no such order, or not active or paused.
        """
        chan = arguments.subscriber_channel(channel, "pause")
        who, evidence = arguments.said(actor, text, ACTOR_LIMIT, EVIDENCE_LIMIT)
        return self._run(handlers.pause, commands.Pause(order_id, chan, who, evidence))

    def resume(
        self,
        order_id: str,
        *,
        channel: Channel | str,
        actor: str | None = None,
        text: str | None = None,
    ) -> Order:
        """Resume a paused subscription: ``ACTIVE`` again, with a notice, charged from
        its next period on. Resuming an active order changes nothing.

        Raises:
            InvalidArgumentError, UnknownOrderError, InvalidStateError: as :meth:`pause`.
        """
        chan = arguments.subscriber_channel(channel, "resume")
        who, evidence = arguments.said(actor, text, ACTOR_LIMIT, EVIDENCE_LIMIT)
        return self._run(handlers.resume, commands.Resume(order_id, chan, who, evidence))

    def record_usage(self, order_id: str, *, at: dt.datetime | None = None) -> Order:
        """The subscriber used a subscription at ``at`` (now by default; a later time is
        taken as now): where the policy cancels idle subscriptions (UK6,
        ``Policy.cancel_after_inactivity``), the idle time counts from the latest use.
        Nothing is recorded in the order's history; an order that is not live, or not
        watched, is left as it is. Returns the order.

        Raises:
            UnknownOrderError, ClockError: no such order; ``at`` is not an aware
                instant.
        """
        when = None if at is None else arguments.instant(at, "at")
        return self._run(handlers.record_usage, commands.RecordUsage(order_id, when))

    def unsubscribe_all(
        self, msisdn: str, *, channel: Channel | str, actor: str | None = None
    ) -> list[Order]:
        """Cancel every live order of a subscriber (each confirmed once)."""
        live = self.live_orders(self._msisdn(msisdn))
        return [self.unsubscribe(o.id, channel=channel, actor=actor) for o in live]

    def run_due(self, *, batch: int = 500, max_batches: int | None = None) -> int:
        """Fire every timer due at ``clock.now()``: expire unanswered confirmations (C1),
        remind trials (C6) and end them (C6). Returns how many orders moved.

        Each batch is one unit of work; ``max_batches`` stops after that many (a worker
        checks for a stop request between them). A trial whose end has already passed
        is ended without a late reminder.
        """
        size = arguments.count(batch, "batch")
        left = None if max_batches is None else arguments.count(max_batches, "max_batches")
        moved = 0
        while left is None or left > 0:
            count = self._run(handlers.fire_due, commands.FireDue(size))
            moved += count
            if count < size:
                break
            left = None if left is None else left - 1
        return moved

    def handle_sms(
        self, msisdn: str, text: object, *, to: str, message_id: str | None = None
    ) -> list[Notice]:
        """Handle one inbound text (MO) from ``msisdn`` to the number ``to``.

        ``to`` is the operator number (yes/no replies, ``0000`` and picks) or a
        service's access code (``TD``). Returns the replies it produced, which are also
        recorded and handed to the notifier. Nothing about the text raises: what cannot
        be read gets a short help reply and changes nothing (C10). With the gateway's
        ``message_id``, the same text handed over again changes nothing and gets no
        second reply (returns ``[]``).

        Raises:
            InvalidMsisdnError: the sender's number is malformed.
        """
        # one inbound text is one unit of work: its changes and replies, or nothing
        return self._runner.run(receive_text, inbound(self._msisdn(msisdn), text, to, message_id))[
            1
        ]

    def handle_sms_many(self, texts: Iterable[InboundText]) -> list[list[Notice]]:
        """A burst of inbound texts (a gateway's queue), each ``(msisdn, text, to)``
        with an optional ``message_id`` (or a mapping with those keys), handled as
        :meth:`handle_sms` handles one, in one transaction: one commit for the lot,
        each text all-or-nothing on its own. One list of replies per text, in order.

        Raises:
            InvalidArgumentError, InvalidMsisdnError: a malformed text, before any runs.
            BatchError: some texts failed (undone) and the others were committed;
                ``results`` holds the replies, ``errors`` the failures by position.
        """
        batch = arguments.inbound_texts(texts, self._msisdn)
        return receive_all(self._runner, [inbound(*text) for text in batch])

    # --- charging ----------------------------------------------------------------------

    def record_charge(
        self,
        order_id: str,
        amount: Decimal | int | str,
        *,
        key: str,
        period_start: dt.datetime | None = None,
    ) -> Charge:
        """Record a charge that C11 allows; idempotent by ``key``.

        Raises:
            ChargeRefusedError: C11 refuses it (``reason`` says why); nothing is stored.
            IdempotencyKeyError: ``key`` was used for a different charge.
        """
        value, start = to_amount(amount), arguments.period_start(period_start)
        checked = arguments.charge_key(key)
        return self._run(
            handlers.record_charge, commands.RecordCharge(order_id, value, checked, start)
        )

    def refund(
        self,
        order_id: str,
        *,
        key: str,
        reason: str,
        amount: Decimal | int | str | None = None,
        charge_key: str | None = None,
        actor: str | None = None,
        channel: Channel | str | None = None,
    ) -> Refund:
        """Give back ``amount`` (all that is left by default) of a recorded charge: the
        one keyed ``charge_key``, or the order's latest with something left. Recorded
        as the order's ``refund_recorded`` event, in the ledger (the spend of the
        charge's day goes down) and on the feed, with a notice to the subscriber.
        Idempotent by ``key``; never more than was charged (docs/billing.md).

        Raises:
            RefundRefusedError: nothing left to refund, or more than is left.
            IdempotencyKeyError: ``key`` was used for another refund.
        """
        command = commands.RecordRefund(
            order_id,
            arguments.charge_key(key, "refund"),
            arguments.refund_amount(amount),
            arguments.required_text(reason, "reason", EVIDENCE_LIMIT),
            None if charge_key is None else arguments.charge_key(charge_key),
            arguments.text(actor, "actor", ACTOR_LIMIT),
            None if channel is None else arguments.channel(channel),
        )
        return self._run(handlers.record_refund, command)

    def claim_refund(
        self,
        order_id: str,
        *,
        channel: Channel | str,
        actor: str | None = None,
        text: str | None = None,
    ) -> Order:
        """The subscriber says an activation was wrongful (IN5). Recorded as the
        order's ``refund_claimed`` event; inside ``Policy.refund_window`` after the
        activation, the order's charges so far become due (:meth:`refunds_due`).
        The order's state is unchanged: unsubscribing is a command of its own (and
        inside the window counts as a claim by itself)."""
        chan = arguments.channel(channel)
        who, evidence = arguments.said(actor, text, ACTOR_LIMIT, EVIDENCE_LIMIT)
        return self._run(handlers.claim_refund, commands.ClaimRefund(order_id, chan, who, evidence))

    def billing_run(
        self,
        period_start: dt.date,
        *,
        period: Period | str = Period.MONTH,
        batch: int = 1000,
        progress: Callable[[BillingSummary], object] | None = None,
    ) -> BillingSummary:
        """Charge every subscription billed per ``period`` for the period starting at
        ``period_start`` (a date: its midnight in the policy's time zone) as C11 and
        C15 allow, ``batch`` orders per transaction (``progress`` gets the summary so
        far after each), each order and period once: a rerun, a run resumed after a
        crash and several workers at once never charge twice (docs/billing.md).

        Raises:
            InvalidArgumentError: ``period_start`` does not start a ``period``.
        """
        billing = arguments.billing_period(period_start, period, self.policy)
        size = arguments.count(batch, "batch")
        return _billing_pass(
            functools.partial(self._run, handlers.charge_period), billing, size, progress
        )

    # --- retention and resources -------------------------------------------------------

    def purge(self, before: dt.datetime) -> int:
        """Delete finished orders that ended before ``before`` (C14).

        Raises:
            RetentionError: ``before`` is inside the retention period.
        """
        cutoff = arguments.instant(before, "before")
        return self._run(handlers.purge, commands.Purge(cutoff))

    def close(self) -> None:
        """Stop the senders and close the store (or use the Lifecycle in a ``with``)."""
        self._outbox.close()
        self.store.close()

    def __enter__(self) -> Lifecycle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _converts(target: Service | None) -> tuple[str, ...]:
    return () if target is None else (target.code,)


def _keyed(key: object, sp_id: str | None, *facts: str | None) -> commands.KeyedRequest:
    """A request's idempotency key, among the asking SP's keys, with a digest of the
    request's checked and normalised arguments ``facts``."""
    scope = "" if sp_id is None else arguments.text(sp_id, "sp_id", ACTOR_LIMIT) or ""
    text = "\x00".join(fact or "" for fact in (*facts, scope))
    return commands.KeyedRequest(
        scope, arguments.idempotency_key(key), hashlib.sha256(text.encode()).hexdigest()
    )


def _billing_pass(
    run: Callable[[commands.ChargePeriod], tuple[BillingSummary, str | None]],
    billing: BillingPeriod,
    size: int,
    progress: Callable[[BillingSummary], object] | None,
) -> BillingSummary:
    """A billing pass as batches of ``size`` orders in id order, each its own unit of
    work (``run``), until the store hands out no more."""
    summary, after = BillingSummary(billing.key), None
    while True:
        done, after = run(commands.ChargePeriod(*billing, after, size))
        summary += done
        if progress is not None:
            progress(summary)
        if after is None:
            return summary


def _outbox(lc: Lifecycle, senders: int) -> Outbox:
    """The outbox of ``lc``: its notifier and retry rules, the quiet hours (C16), and
    ``senders`` background threads to hand commands' notices over."""
    regime, dated = lc.regime, lc.regime.dated
    return Outbox(
        lc.store,
        lc.notifier,
        lc.delivery,
        lc._now,
        hold=lambda notice, now: timers.held_until(
            notice.kind, now, regime.policy_at(now, or_first=True)
        ),
        unordered=frozenset().union(*(policy.quiet_kinds for _, _, policy in dated)),
        senders=senders,
    )


def _runner(
    lc: Lifecycle, new_id: IdMaker, max_retries: int, auto_dispatch: bool, tally: Tally | None
) -> Runner:
    """How ``lc`` runs commands: its store and clock, its policy with the renderer for
    it, ids and randomness, notices delivered right after the commit unless
    ``auto_dispatch`` is off or there is no notifier to deliver them."""
    deliver = auto_dispatch and lc.notifier is not None
    policies = tuple((at, p, Renderer(p, new_id)) for _, at, p in lc.regime.dated)
    context = Context(policies, new_id, lc._rng, lc.delivery)
    every = [policy for _, _, policy in lc.regime.dated]
    return Runner(
        lc.store,
        lc._now,
        context,
        max_retries=arguments.count(max_retries, "max_retries"),
        claim_for=lc.delivery.lease if deliver else None,
        notice_order=NoticeOrder(
            frozenset().union(*(p.stale_kinds for p in every)),
            frozenset().union(*(p.quiet_kinds for p in every)),
        ),
        after_commit=lc._outbox.hand_over() if deliver else None,
        after_feed=lc.feed.after_commit,
        tally=tally,
    )
