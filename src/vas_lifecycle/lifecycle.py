"""The ``Lifecycle`` facade that billing backends call.

Every command runs as one unit of work on the store: load, decide with the pure rules
of :mod:`vas_lifecycle.consent`, append events (and the notices, charges and SP
violations they bring), commit. Notices are delivered after the commit, from the
store (an outbox), so a notifier failure never undoes a state change and never loses
a notice.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import pendulum

from vas_lifecycle.catalog import Catalog, OfferKind, Service
from vas_lifecycle.clock import Clock, SystemClock, as_utc, later
from vas_lifecycle.consent import (
    Charge,
    ChargeDecision,
    ReasonCode,
    SpViolation,
    check_confirmation,
    decide_charge,
    period_key,
)
from vas_lifecycle.errors import (
    CallbackError,
    ChargeRefusedError,
    ClockError,
    ConcurrencyError,
    ConfirmationRefusedError,
    ForcedSubscriptionError,
    IdempotencyKeyError,
    InvalidArgumentError,
    InvalidStateError,
    PolicyError,
    RetentionError,
    StoreError,
    UnknownOrderError,
    VasError,
)
from vas_lifecycle.notices import Notice, NoticeKind
from vas_lifecycle.notify import DeliveryRules, Notifier, RecordingNotifier
from vas_lifecycle.order import Event, EventData, EventKind, Order, apply
from vas_lifecycle.policy import Channel, Policy
from vas_lifecycle.rendering import Renderer
from vas_lifecycle.sms import Command, CommandKind, PickSession, fragment, parse
from vas_lifecycle.states import OrderState
from vas_lifecycle.store.base import (
    ConflictError,
    ConnectionLostError,
    Delivery,
    RetryableError,
    Store,
    Transaction,
)
from vas_lifecycle.store.memory import MemoryStore
from vas_lifecycle.values import (
    canonical_access_code,
    clean_text,
    code_key,
    normalize_msisdn,
    to_amount,
)

__all__ = ["Lifecycle"]

log = logging.getLogger("vas_lifecycle")

T = TypeVar("T")
SYSTEM = "system"


class _Raise:
    """Returned by a unit of work to commit what it wrote, then raise ``error``."""

    def __init__(self, error: VasError) -> None:
        self.error = error


class _Change:
    """Events of one order in one command, applied as they are made."""

    def __init__(self, lc: Lifecycle, order: Order | None) -> None:
        self._lc = lc
        self.order = order
        self.start_version = order.version if order is not None else 0
        self.events: list[Event] = []
        self.notices: list[Notice] = []

    def add(
        self,
        kind: EventKind,
        *,
        at: pendulum.DateTime,
        channel: Channel | None,
        actor: str,
        order_id: str | None = None,
        text_in: str | None = None,
        data: Mapping[str, str] | None = None,
        notice: NoticeKind | None = None,
    ) -> Order:
        seq = (self.order.version if self.order is not None else 0) + 1
        oid = order_id if self.order is None else self.order.id
        assert oid is not None
        event = Event(oid, seq, kind, at, channel, actor, text_in, None, EventData.of(data))
        order = apply(self.order, event)
        if notice is not None:
            sent = self._lc._renderer.notice(
                notice,
                msisdn=order.msisdn,
                order=order,
                at=at,
                notice_id=event.data.get("notice_id"),
            )
            event = Event(oid, seq, kind, at, channel, actor, text_in, sent.text, event.data)
            self.notices.append(sent)
        self.events.append(event)
        self.order = order
        return order

    def save(self, tx: Transaction) -> Order:
        assert self.order is not None
        tx.append(self.order, self.events, self.start_version)
        for notice in self.notices:
            self._lc._stage(tx, notice)
        return self.order


class Lifecycle:
    """Runs the life of every VAS order under a :class:`Policy`.

    Args:
        catalog: the services on sale.
        policy: the rule parameters; ``Policy.china_mobile()`` by default.
        clock: the only source of time; ``SystemClock()`` by default.
        notifier: delivers notices; a ``RecordingNotifier`` by default.
        store: where everything lives; a ``MemoryStore`` by default.
        ids: makes order, notice and violation ids; random UUIDs by default.
        rng: draws confirmation codes (C3); seed it for reproducible runs.
        auto_dispatch: deliver notices right after each command (else call
            :meth:`dispatch`).
        delivery: the outbox's retry rules (backoff, attempts before parking).
        max_retries: how often a command is retried when its order changed under it.

    Threads may share a Lifecycle (each unit of work keeps its state per thread, and
    the stores serialise or isolate transactions); processes each build their own.

    Raises:
        PolicyError: the policy cannot serve the catalog.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        policy: Policy | None = None,
        clock: Clock | None = None,
        notifier: Notifier | None = None,
        store: Store | None = None,
        ids: Callable[[], str] | None = None,
        rng: random.Random | None = None,
        auto_dispatch: bool = True,
        max_retries: int = 5,
        delivery: DeliveryRules | None = None,
    ) -> None:
        if not isinstance(catalog, Catalog):
            raise InvalidArgumentError(f"catalog must be a Catalog, got {type(catalog).__name__}")
        for name, value, needs in (
            ("policy", policy, Policy),
            ("store", store, Store),
            ("rng", rng, random.Random),
            ("delivery", delivery, DeliveryRules),
        ):
            if value is not None and not isinstance(value, needs):
                raise InvalidArgumentError(
                    f"{name} must be a {needs.__name__}, got {type(value).__name__}"
                )
        for name, port, method in (("clock", clock, "now"), ("notifier", notifier, "send")):
            if port is not None and not callable(getattr(port, method, None)):
                raise InvalidArgumentError(f"{name} needs a {method}() method")
        if ids is not None and not callable(ids):
            raise InvalidArgumentError("ids must be a function that returns a new id")
        self.catalog = catalog
        self.policy = policy if policy is not None else Policy.china_mobile()
        self.policy.check_catalog(catalog)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.notifier: Notifier = notifier if notifier is not None else RecordingNotifier()
        self.store: Store = store if store is not None else MemoryStore()
        self._id_factory = ids if ids is not None else _random_id
        self._rng = rng if rng is not None else random.Random()
        self._auto_dispatch = auto_dispatch
        self._max_retries = _count(max_retries, "max_retries")
        self.delivery = delivery if delivery is not None else DeliveryRules()
        self._last_now: pendulum.DateTime | None = None
        self._clock_lock = threading.Lock()
        self._renderer = Renderer(self.policy, self._ids)
        self._snapshots: dict[tuple[str, str], tuple[Service, dict[str, str]]] = {}
        # per thread: the notices of the unit of work under way, and the list that
        # handle_sms collects its replies in (so threads may share one Lifecycle)
        self._local = threading.local()

    # --- plumbing --------------------------------------------------------------------

    def _now(self) -> pendulum.DateTime:
        # read and compared under a lock: threads sharing this Lifecycle must not see
        # each other's reads out of order as a clock that went backwards
        with self._clock_lock:
            try:
                reading = self.clock.now()
            except Exception as err:
                raise CallbackError(f"the clock failed: {err!r}") from err
            now = as_utc(reading)
            if self._last_now is not None and now < self._last_now:
                raise ClockError(
                    f"the clock went backwards ({now.isoformat()} < {self._last_now.isoformat()})"
                )
            self._last_now = now
            return now

    def _ids(self) -> str:
        """A new id from the id factory, checked: its failure is not the store's."""
        try:
            value = self._id_factory()
        except Exception as err:
            raise CallbackError(f"the id factory failed: {err!r}") from err
        if not isinstance(value, str) or not value or not value.isprintable() or len(value) > 64:
            raise InvalidArgumentError(
                f"the id factory must return a printable string of 1 to 64 characters, "
                f"got {value!r}"
            )
        return value

    def _msisdn(self, value: object) -> str:
        return normalize_msisdn(value, self.policy.country_code)

    @staticmethod
    def _channel(value: object) -> Channel:
        try:
            return Channel(str(value))
        except ValueError as err:
            choices = ", ".join(c.value for c in Channel)
            raise InvalidArgumentError(f"unknown channel {value!r} (one of {choices})") from err

    def _run(self, work: Callable[[Transaction, pendulum.DateTime], T | _Raise]) -> T:
        """Run ``work`` in one unit of work, retrying on version conflicts.

        Each try reads the clock afresh, so a retried command is dated after the
        change that made it retry (the evidence stays in time order)."""
        retried: RetryableError | None = None
        lost = 0
        for _attempt in range(self._max_retries):
            staged: list[Notice] = []
            self._local.staged = staged
            now = self._now()
            try:
                with self.store.transaction() as tx:
                    result = work(tx, now)
            except ConnectionLostError as err:
                # nothing was stored: once on a new connection, not again and again
                lost += 1
                if lost > 1:
                    raise StoreError(f"the store's connection keeps failing: {err}") from err
                retried = err
                continue
            except RetryableError as err:
                retried = err
                continue
            except VasError:
                raise
            except Exception as err:
                raise StoreError(f"the store failed: {err}") from err
            capture: list[Notice] | None = getattr(self._local, "capture", None)
            if capture is not None:
                capture.extend(staged)
            if self._auto_dispatch and staged:
                self._deliver_quietly([Delivery(n, 1) for n in staged])
            if isinstance(result, _Raise):
                raise result.error
            return result
        if isinstance(retried, ConflictError):
            raise ConcurrencyError(retried.order_id, retried.expected_version) from retried
        raise StoreError(f"the store could not run the command: {retried}") from retried

    def _awaiting(self, tx: Transaction, order_id: str, trigger: str) -> Order:
        """The order, which must be awaiting confirmation for a yes or a no."""
        order = self._load(tx, order_id)
        if order.state is not OrderState.AWAITING_CONFIRMATION:
            raise InvalidStateError(order.id, order.state, trigger)
        return order

    def _stage(self, tx: Transaction, notice: Notice) -> None:
        """Record a notice in the unit of work (the outbox); delivered after commit.

        With auto-dispatch the notice is written already claimed by this process (for
        one lease), so it is sent right after the commit without a claiming round;
        if this process dies first, the lease runs out and any dispatcher sends it.
        """
        claimed_until = later(notice.at, self.delivery.lease) if self._auto_dispatch else None
        tx.add_notice(notice, claimed_until=claimed_until)
        self._local.staged.append(notice)

    def _load(self, tx: Transaction, order_id: str) -> Order:
        order = tx.get_order(order_id) if isinstance(order_id, str) else None
        if order is None:
            raise UnknownOrderError(str(order_id))
        return order

    def _violation(
        self,
        tx: Transaction,
        *,
        sp_id: str,
        msisdn: str,
        order_id: str | None,
        reason: ReasonCode,
        at: pendulum.DateTime,
        channel: Channel | None,
        evidence: str,
    ) -> None:
        tx.add_violation(
            SpViolation(self._ids(), sp_id, msisdn, order_id, reason, at, channel, evidence)
        )

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
    ) -> Order:
        """Receive an order for a service.

        A subscription goes to ``AWAITING_CONFIRMATION`` and the subscriber is sent the
        confirmation request (C1, C2). A trial starts with its notice (C6). An on-demand
        order is ``COMPLETED`` with its fee notice (C5). An order over the SP's daily
        limit, or a second live order of the same service, is ``REJECTED`` (C13).
        """
        number = self._msisdn(msisdn)
        service = self.catalog.get(service_code)
        chan = self._channel(channel)
        if language is not None and (
            not isinstance(language, str) or language not in self.policy.templates
        ):
            raise InvalidArgumentError(f"no language pack for {language!r}")
        lang = language or self.policy.language
        given = _text_arg(actor, "actor", ACTOR_LIMIT)
        text = _text_arg(text, "text", EVIDENCE_LIMIT)
        who = given or (service.sp_id if chan is Channel.SP_API else number)
        return self._run(
            lambda tx, now: self._request(tx, number, service, chan, who, text, lang, now)
        )

    def _request(
        self,
        tx: Transaction,
        msisdn: str,
        service: Service,
        channel: Channel,
        actor: str,
        text: str | None,
        language: str,
        now: pendulum.DateTime,
    ) -> Order:
        policy = self.policy
        # what the decision needs, never the whole history (invariant 9), read while
        # holding the subscriber so that concurrent requests decide one after the
        # other (invariant 8)
        tx.lock_subscriber(msisdn)
        live = tx.live_orders_of(msisdn)
        day_start, day_end = policy.local_day(now)
        change = _Change(self, None)
        change.add(
            EventKind.ORDER_REQUESTED,
            order_id=self._ids(),
            at=now,
            channel=channel,
            actor=actor,
            text_in=text,
            data={"msisdn": msisdn, **self._snapshot(service, language)},
        )
        common: dict[str, Any] = {"at": now, "channel": channel, "actor": SYSTEM}
        if channel is Channel.SP_API:
            sent_today = tx.count_sp_requests(msisdn, service.sp_id, day_start, day_end)
            if sent_today >= policy.sp_daily_request_limit:
                order = change.add(
                    EventKind.ORDER_REJECTED,
                    data=_fixed({"reason": ReasonCode.DAILY_LIMIT.value}),
                    **common,
                )
                self._violation(
                    tx,
                    sp_id=service.sp_id,
                    msisdn=msisdn,
                    order_id=order.id,
                    reason=ReasonCode.DAILY_LIMIT,
                    at=now,
                    channel=channel,
                    evidence=f"request {sent_today + 1} of {service.code} today; "
                    f"limit {policy.sp_daily_request_limit}",
                )
                return change.save(tx)
        if service.kind is not OfferKind.ON_DEMAND and any(
            o.service_code == service.code for o in live
        ):
            change.add(
                EventKind.ORDER_REJECTED,
                data=_fixed({"reason": ReasonCode.DUPLICATE_ORDER.value}),
                **common,
            )
            return change.save(tx)
        if service.kind is OfferKind.SUBSCRIPTION or (
            service.kind is OfferKind.ON_DEMAND and channel is Channel.SP_API
        ):
            # a subscription, or an SP's own on-demand order (C5a): the subscriber
            # confirms first (C1)
            taken = {o.code for o in live if o.state is OrderState.AWAITING_CONFIRMATION}
            change.add(
                EventKind.CONFIRMATION_REQUESTED,
                data={
                    "code": self._new_code(taken),
                    "confirm_by": later(now, policy.confirmation_window).isoformat(),
                    "notice_id": self._ids(),
                },
                notice=NoticeKind.CONFIRMATION_REQUEST
                if service.kind is OfferKind.SUBSCRIPTION
                else NoticeKind.PURCHASE_REQUEST,
                **common,
            )
        elif service.kind is OfferKind.TRIAL:
            assert service.trial_days is not None
            length = dt.timedelta(days=service.trial_days)
            ends = later(now, length)
            change.add(
                EventKind.TRIAL_STARTED,
                data={
                    "trial_ends_at": ends.isoformat(),
                    "remind_at": later(ends, -policy.reminder_lead_for(length)).isoformat(),
                },
                notice=NoticeKind.TRIAL_STARTED,
                **common,
            )
        else:
            earlier = (  # C5: by SMS, the day's first fee notice covers later orders
                tx.fee_notice_between(msisdn, service.code, day_start, day_end)
                if channel is Channel.SMS
                else None
            )
            if earlier is not None:
                change.add(
                    EventKind.ORDER_COMPLETED,
                    data={"fee_notice_id": earlier, "fee_notice": "earlier today"},
                    **common,
                )
            else:
                notice_id = self._ids()
                change.add(
                    EventKind.ORDER_COMPLETED,
                    data={"fee_notice_id": notice_id, "notice_id": notice_id},
                    notice=NoticeKind.FEE_NOTICE,
                    **common,
                )
        return change.save(tx)

    def _snapshot(self, service: Service, language: str) -> dict[str, str]:
        """What an order keeps of its service (C12), built once per service and language
        so that every order of it shares the same strings."""
        key = (service.code, language)
        known = self._snapshots.get(key)
        if known is not None and known[0] is service:
            return known[1]
        snapshot = {
            "service_code": service.code,
            "sp_id": service.sp_id,
            "sp_name": service.sp_name,
            "service_name": service.name,
            "kind": service.kind.value,
            "price": str(service.price),
            "period": service.billing_period.value,
            "access_code": service.access_code,
            "language": language,
        }
        # the catalog may be replaced: the entry holds the service it was made from
        self._snapshots[key] = (service, snapshot)
        return snapshot

    def _new_code(self, taken: set[str | None]) -> str:
        digits = self.policy.code_digits
        low, high = 10 ** (digits - 1), 10**digits - 1
        while True:
            code = str(self._rng.randint(low, high))
            if code not in taken and set(code) != {"0"}:
                return code

    def confirm(
        self,
        order_id: str,
        *,
        msisdn: str,
        channel: Channel | str,
        code: str | None = None,
        text: str | None = None,
    ) -> Order:
        """The subscriber's second confirmation (二次确认, C1).

        Only the subscriber's own number, through an operator-controlled channel,
        after the request and inside the window, with the request's code when several
        orders are pending (C3), activates the order and sends the activation notice
        (C4).

        Raises:
            UnknownOrderError: no such order.
            InvalidStateError: the order is not awaiting confirmation.
            ForcedSubscriptionError: the SP's platform, another number, or a reply
                faster than a human (C13); booked against the SP, order unchanged.
            ConfirmationRefusedError: any other invalid confirmation; order unchanged.
        """
        number = self._msisdn(msisdn)
        chan = self._channel(channel)
        quoted = self._code(code)
        text = _text_arg(text, "text", EVIDENCE_LIMIT)
        return self._run(
            lambda tx, now: self._confirm_in(tx, order_id, number, chan, quoted, text, now)
        )

    def _confirm_in(
        self,
        tx: Transaction,
        order_id: str,
        number: str,
        chan: Channel,
        quoted: str | None,
        text: str | None,
        now: pendulum.DateTime,
        pending: list[Order] | None = None,
    ) -> Order | _Raise:
        """``confirm`` inside a unit of work (shared with the SMS channel, which passes
        the pending orders it has already read)."""
        order = self._awaiting(tx, order_id, "confirm")
        if pending is None:
            pending = self._pending(tx, order.msisdn, now)
        check = check_confirmation(
            order,
            msisdn=number,
            channel=chan,
            at=now,
            code=quoted,
            pending_count=len(pending),
            policy=self.policy,
            informed=_informed(tx, order),
        )
        if check.reason is not None:
            if check.forced:
                self._violation(
                    tx,
                    sp_id=order.sp_id,
                    msisdn=order.msisdn,
                    order_id=order.id,
                    reason=check.reason,
                    at=now,
                    channel=chan,
                    evidence=f"{check.detail}; text: {text!r}",
                )
                return _Raise(
                    ForcedSubscriptionError(order.id, check.reason, check.detail, sp_id=order.sp_id)
                )
            return _Raise(ConfirmationRefusedError(order.id, check.reason, check.detail))
        change = _Change(self, order)
        if order.kind is OfferKind.ON_DEMAND:  # C5a: the purchase, with its fee notice
            notice_id = self._ids()
            change.add(
                EventKind.PURCHASE_CONFIRMED,
                at=now,
                channel=chan,
                actor=order.msisdn,
                text_in=text,
                data={"code": quoted or "", "fee_notice_id": notice_id, "notice_id": notice_id},
                notice=NoticeKind.FEE_NOTICE,
            )
            return change.save(tx)
        change.add(
            EventKind.CONSENT_GRANTED,
            at=now,
            channel=chan,
            actor=order.msisdn,  # the same number (checked), one string
            text_in=text,
            data={"code": quoted} if quoted else _fixed({"code": ""}),
            notice=NoticeKind.ACTIVATED,
        )
        return change.save(tx)

    @staticmethod
    def _code(code: object) -> str | None:
        if code is None:
            return None
        if isinstance(code, int) and not isinstance(code, bool):
            return str(code)
        if isinstance(code, str) and code.strip().isdigit() and code.strip().isascii():
            return code.strip()
        raise InvalidArgumentError(f"a confirmation code is digits, got {code!r}")

    def _pending(self, tx: Transaction, msisdn: str, now: pendulum.DateTime) -> list[Order]:
        """The orders the subscriber can answer now: awaiting confirmation, inside the
        window, and asked (their request went out, C1a)."""
        tx.lock_subscriber(msisdn)
        return [o for o in tx.live_orders_of(msisdn) if _answerable(tx, o, now)]

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
            UnknownOrderError, InvalidStateError, ConfirmationRefusedError (another
            number, a wrong code, or a missing code when several orders are pending).
        """
        number = self._msisdn(msisdn)
        chan = self._channel(channel)
        quoted = self._code(code)
        text = _text_arg(text, "text", EVIDENCE_LIMIT)
        return self._run(
            lambda tx, now: self._decline_in(tx, order_id, number, chan, quoted, text, now)
        )

    def _decline_in(
        self,
        tx: Transaction,
        order_id: str,
        number: str,
        chan: Channel,
        quoted: str | None,
        text: str | None,
        now: pendulum.DateTime,
        pending: list[Order] | None = None,
    ) -> Order | _Raise:
        """``decline`` inside a unit of work (shared with the SMS channel, which passes
        the pending orders it has already read)."""
        order = self._awaiting(tx, order_id, "decline")
        if number != order.msisdn:
            return _Raise(ConfirmationRefusedError(order.id, ReasonCode.FOREIGN_NUMBER))
        if quoted is not None and quoted != order.code:
            return _Raise(ConfirmationRefusedError(order.id, ReasonCode.WRONG_CODE))
        if pending is None and quoted is None:
            pending = self._pending(tx, order.msisdn, now)
        if quoted is None and pending is not None and len(pending) > 1:
            return _Raise(ConfirmationRefusedError(order.id, ReasonCode.CODE_REQUIRED))
        change = _Change(self, order)
        change.add(
            EventKind.CONSENT_DECLINED,
            at=now,
            channel=chan,
            actor=order.msisdn,  # the same number (checked), one string
            text_in=text,
            data=_fixed({"reason": "declined"}),
            notice=NoticeKind.DECLINED,
        )
        return change.save(tx)

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
        chan = self._channel(channel)
        actor = _text_arg(actor, "actor", ACTOR_LIMIT)
        text = _text_arg(text, "text", EVIDENCE_LIMIT)
        return self._run(lambda tx, now: self._unsubscribe_in(tx, order_id, chan, actor, text, now))

    def _unsubscribe_in(
        self,
        tx: Transaction,
        order_id: str,
        chan: Channel,
        actor: str | None,
        text: str | None,
        now: pendulum.DateTime,
    ) -> Order:
        """``unsubscribe`` inside a unit of work (shared with the SMS channel)."""
        order = self._load(tx, order_id)
        if not order.is_live:
            return order
        change = _Change(self, order)
        change.add(
            EventKind.ORDER_CANCELLED,
            at=now,
            channel=chan,
            actor=actor or order.msisdn,
            text_in=text,
            data=_fixed({"reason": "unsubscribed", "from_state": order.state.value}),
            notice=NoticeKind.CANCELLED,
        )
        return change.save(tx)

    def unsubscribe_all(
        self, msisdn: str, *, channel: Channel | str, actor: str | None = None
    ) -> list[Order]:
        """Cancel every live order of a subscriber (each confirmed once)."""
        number = self._msisdn(msisdn)
        return [
            self.unsubscribe(o.id, channel=channel, actor=actor) for o in self.live_orders(number)
        ]

    def run_due(self, *, batch: int = 500) -> int:
        """Fire every timer due at ``clock.now()``: expire unanswered confirmations (C1),
        remind trials (C6) and end them (C6). Returns how many orders moved.

        A trial whose end has already passed is ended without a late reminder.
        """
        batch = _count(batch, "batch")
        moved = 0
        while True:

            def work(tx: Transaction, now: pendulum.DateTime) -> int:
                due = tx.due_orders(now, batch)
                for order in due:
                    self._fire(tx, order, now)
                return len(due)

            count = self._run(work)
            moved += count
            if count < batch:
                return moved

    def _fire(self, tx: Transaction, order: Order, now: pendulum.DateTime) -> None:
        change = _Change(self, order)
        common: dict[str, Any] = {"at": now, "channel": None, "actor": SYSTEM}
        state = order.state
        if state is OrderState.AWAITING_CONFIRMATION:
            change.add(
                EventKind.CONFIRMATION_EXPIRED, data=_fixed({"reason": "no_reply"}), **common
            )
        elif order.trial_ends_at is not None and order.trial_ends_at <= now:
            change.add(
                EventKind.TRIAL_ENDED,
                data=_fixed({"reason": "trial_ended"}),
                notice=NoticeKind.TRIAL_ENDED,
                **common,
            )
        elif state is OrderState.TRIAL:
            change.add(EventKind.TRIAL_REMINDED, notice=NoticeKind.TRIAL_REMINDER, **common)
        else:  # pragma: no cover - due_at only points at the timers above
            return
        change.save(tx)

    # --- the SMS channel ---------------------------------------------------------------

    def handle_sms(self, msisdn: str, text: object, *, to: str) -> list[Notice]:
        """Handle one inbound text (MO) from ``msisdn`` to the number ``to``.

        ``to`` is the operator number (yes/no replies, ``0000`` and picks) or a
        service's access code (``TD``). Returns the replies it produced, which are also
        recorded and handed to the notifier. Nothing about the text raises: what cannot
        be read gets a short help reply and changes nothing (C10).

        Raises:
            InvalidMsisdnError: the sender's number is malformed.
        """
        number = self._msisdn(msisdn)
        if not isinstance(to, str):
            raise InvalidArgumentError(f"to must be the number the text was sent to, got {to!r}")
        target = _short_code(to)
        body = text if isinstance(text, str) else ""
        to_operator = target == self.policy.operator_number
        command = parse(body, self.policy, to_operator=to_operator)
        captured: list[Notice] = []
        outer = getattr(self._local, "capture", None)
        self._local.capture = captured
        try:
            # one inbound text is one unit of work: its changes and replies, or nothing
            self._run(
                lambda tx, now: _SmsSession(self, tx, number, target, body, now).handle(
                    command, to_operator
                )
            )
        finally:
            self._local.capture = outer
        return captured

    # --- charging ----------------------------------------------------------------------

    def may_charge(
        self, order_id: str, amount: Decimal | int | str, *, period_start: dt.datetime | None = None
    ) -> ChargeDecision:
        """May the billing backend charge ``amount`` now (C11)? Always answers with a reason.

        ``period_start`` is the start of the billing period being charged (now when
        omitted); on-demand orders ignore it.
        """
        value = to_amount(amount)
        start = _period_start(period_start)
        now = self._now()

        def work(tx: Transaction) -> ChargeDecision:
            order = self._load(tx, order_id)
            return decide_charge(
                order,
                value,
                period_start=start,
                now=now,
                charges=tx.charges(order.id),
                policy=self.policy,
            )

        return self._store_call(work, readonly=True)

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
        value = to_amount(amount)
        if not isinstance(key, str) or not key.strip():
            raise InvalidArgumentError("a charge needs a non-empty idempotency key")
        if clean_text(key, KEY_LIMIT) != key:
            raise InvalidArgumentError(
                f"a charge key is at most {KEY_LIMIT} characters, with no control characters "
                "or lone surrogates"
            )
        start = _period_start(period_start)

        def work(tx: Transaction, now: pendulum.DateTime) -> Charge | _Raise:
            order = self._load(tx, order_id)
            pkey = period_key(order, start or now, self.policy)
            existing = tx.charge(key)
            if existing is not None:
                if (existing.order_id, existing.amount, existing.period_key) == (
                    order.id,
                    value,
                    pkey,
                ):
                    return existing
                return _Raise(IdempotencyKeyError(key))
            decision = decide_charge(
                order,
                value,
                period_start=start,
                now=now,
                charges=tx.charges(order.id),
                policy=self.policy,
            )
            if not decision.allowed:
                return _Raise(ChargeRefusedError(order.id, decision.reason))
            charge = Charge(key, order.id, value, pkey, start, now, order.version)
            tx.add_charge(charge)
            return charge

        return self._run(work)

    # --- notices -----------------------------------------------------------------------

    def dispatch(self, *, limit: int = 500) -> int:
        """Deliver the notices that are due; returns how many were delivered.

        Each notice is claimed (so concurrent dispatchers never send it at the same
        time), handed to the notifier with ``notice.id`` as idempotency key, and marked
        delivered. A notifier that raises leaves it for a retry with exponential
        backoff; after ``delivery.max_attempts`` it is parked, where
        :meth:`parked_notices` shows it and :meth:`retry_parked` re-queues it. A
        notifier failure never undoes the state change that made the notice.
        """
        limit = _count(limit, "limit")
        now = self._now()
        lease = self.delivery.lease
        claimed = self._store_call(lambda tx: tx.claim_notices(now, later(now, lease), limit))
        return self._deliver(claimed, now)

    def _deliver(self, claimed: list[Delivery], now: pendulum.DateTime) -> int:
        """Send claimed notices, then record in one unit of work how each went."""
        if not claimed:
            return 0
        rules = self.delivery
        sent: list[str] = []
        failed: list[tuple[Delivery, str]] = []
        for item in claimed:
            try:
                self.notifier.send(item.notice)
            except Exception as err:
                log.warning(
                    "notice %s not delivered (attempt %d): %s", item.notice.id, item.attempts, err
                )
                failed.append((item, f"{type(err).__name__}: {err}"))
            else:
                sent.append(item.notice.id)

        def settle(tx: Transaction) -> None:
            tx.mark_delivered(sent, now)
            for item, error in failed:
                tx.mark_failed(item.notice.id, error, rules.retry_at(now, item.attempts))

        self._store_call(settle)
        return len(sent)

    def _deliver_quietly(self, claimed: list[Delivery]) -> None:
        """Deliver a command's own notices; a delivery problem never fails the command."""
        try:
            self._deliver(claimed, claimed[0].notice.at)
        except VasError as err:
            log.warning("delivery after a command failed; notices stay queued: %s", err)

    def parked_notices(self, *, limit: int = 1000) -> list[Delivery]:
        """Notices given up on after ``delivery.max_attempts`` failures, with the error."""
        limit = _count(limit, "limit")
        return self._store_call(lambda tx: tx.parked_notices(limit), readonly=True)

    def retry_parked(self, notice_ids: Sequence[str] | None = None) -> int:
        """Queue parked notices (all, or those named) for delivery again."""
        if notice_ids is not None and (
            isinstance(notice_ids, str) or not all(isinstance(n, str) for n in notice_ids)
        ):
            raise InvalidArgumentError("notice_ids must be a list of notice ids")
        now = self._now()

        def work(tx: Transaction) -> int:
            ids = (
                notice_ids
                if notice_ids is not None
                else [d.notice.id for d in tx.parked_notices(1_000_000)]
            )
            return tx.unpark(list(ids), now)

        return self._store_call(work)

    def _store_call(self, work: Callable[[Transaction], T], *, readonly: bool = False) -> T:
        """One unit of work with no notices of its own (no dispatch); run once more on a
        new connection when the first one was lost before anything was stored."""
        for attempt in (1, 2):
            try:
                with self.store.transaction(readonly=readonly) as tx:
                    return work(tx)
            except ConnectionLostError as err:
                if attempt == 2:
                    raise StoreError(f"the store's connection keeps failing: {err}") from err
            except VasError:
                raise
            except Exception as err:
                raise StoreError(f"the store failed: {err}") from err
        raise AssertionError("unreachable")  # pragma: no cover

    # --- queries -----------------------------------------------------------------------

    def get(self, order_id: str) -> Order:
        """The order with that id. Raises UnknownOrderError."""
        return self._store_call(lambda tx: self._load(tx, order_id), readonly=True)

    def history(self, order_id: str) -> list[Event]:
        """The order's events, oldest first: its consent evidence (C14)."""
        return self._store_call(lambda tx: tx.events(self._load(tx, order_id).id), readonly=True)

    def notices(self, order_id: str) -> list[Notice]:
        """The notices recorded for an order."""
        return self._store_call(lambda tx: tx.notices(self._load(tx, order_id).id), readonly=True)

    def charges(self, order_id: str) -> list[Charge]:
        """The charges recorded on an order."""
        return self._store_call(lambda tx: tx.charges(self._load(tx, order_id).id), readonly=True)

    def orders_of(self, msisdn: str) -> list[Order]:
        """Every order of a subscriber, oldest first."""
        number = self._msisdn(msisdn)
        return self._store_call(lambda tx: tx.orders_of(number), readonly=True)

    def live_orders(self, msisdn: str) -> list[Order]:
        """The subscriber's live orders (awaiting confirmation, active, in trial)."""
        number = self._msisdn(msisdn)
        return self._store_call(lambda tx: tx.live_orders_of(number), readonly=True)

    def sp_violations(self, sp_id: str | None = None) -> list[SpViolation]:
        """C13 evidence, for one SP or for all."""
        if sp_id is not None and not isinstance(sp_id, str):
            raise InvalidArgumentError(f"sp_id must be a string, got {type(sp_id).__name__}")
        return self._store_call(lambda tx: tx.violations(sp_id), readonly=True)

    def close(self) -> None:
        """Close the store (a Lifecycle may also be used as a context manager)."""
        self.store.close()

    def __enter__(self) -> Lifecycle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- retention ---------------------------------------------------------------------

    def purge(self, before: dt.datetime) -> int:
        """Delete finished orders that ended before ``before`` (C14).

        Raises:
            RetentionError: ``before`` is inside the retention period.
        """
        cutoff = as_utc(before)
        now = self._now()
        earliest = now.subtract(months=self.policy.retention_months)
        if cutoff > earliest:
            raise RetentionError(
                f"evidence is kept {self.policy.retention_months} months: cannot purge "
                f"anything that ended after {earliest.isoformat()}"
            )

        def work(tx: Transaction, now: pendulum.DateTime) -> int:
            old = [
                o.id
                for o in tx.all_orders()
                if not o.is_live and o.ended_at is not None and o.ended_at < cutoff
            ]
            return tx.purge(old)

        return self._run(work)


_FIXED: dict[tuple[tuple[str, str], ...], EventData] = {}


def _fixed(data: dict[str, str]) -> EventData:
    """Event data made only of constants: one object shared by every event carrying it
    (they are immutable; millions of events may be kept in memory)."""
    key = tuple(data.items())
    shared = _FIXED.get(key)
    if shared is None:
        shared = _FIXED[key] = EventData.of(data)
    return shared


def _answerable(tx: Transaction, order: Order, now: pendulum.DateTime) -> bool:
    """Can the subscriber answer this order now: awaiting confirmation, inside the
    window, and asked (its request went out, C1a)?"""
    return (
        order.state is OrderState.AWAITING_CONFIRMATION
        and order.confirm_by is not None
        and now < order.confirm_by
        and _informed(tx, order)
    )


def _informed(tx: Transaction, order: Order) -> bool:
    """Has the order's confirmation request been handed to the gateway (C1a)?"""
    return order.request_notice_id is not None and tx.delivered(order.request_notice_id)


def _random_id() -> str:
    """A random 128-bit id in hex (what ``uuid4().hex`` gives, at a fraction of the cost)."""
    return os.urandom(16).hex()


#: How much of a received text is kept as evidence (C14); the rest is cut.
EVIDENCE_LIMIT = 500
#: The longest actor (an agent's or a system's id) and charge key kept.
ACTOR_LIMIT = 100
KEY_LIMIT = 200


def _evidence(text: str) -> str:
    """The received text as stored in events: see :func:`clean_text`."""
    return clean_text(text, EVIDENCE_LIMIT)


def _count(value: object, name: str) -> int:
    """A positive whole number argument (batch sizes, limits, retries)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgumentError(f"{name} must be a whole number of at least 1, got {value!r}")
    return value


#: The years a billing period may start in: outside them a date is a mistake, and
#: period arithmetic near year 1 or 9999 overflows.
PERIOD_YEARS = (1970, 9000)


def _period_start(value: object) -> pendulum.DateTime | None:
    """A billing period's start as UTC, or None; refused clearly when out of range."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise InvalidArgumentError(f"period_start must be a datetime, got {type(value).__name__}")
    try:
        start = as_utc(value)
    except OverflowError as err:
        raise InvalidArgumentError(f"period_start {value.isoformat()} is out of range") from err
    low, high = PERIOD_YEARS
    if not low <= start.year <= high:
        raise InvalidArgumentError(
            f"period_start {value.isoformat()} is outside the years {low} to {high}"
        )
    return start


def _text_arg(value: object, name: str, limit: int) -> str | None:
    """A caller's free text (evidence, an actor), cleaned the way received texts are."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a string, got {type(value).__name__}")
    return clean_text(value, limit)


def _short_code(value: str) -> str:
    """The number a text was sent to, as the catalog writes access codes; a number
    that cannot be one (a gateway's garbage) matches nothing."""
    try:
        return canonical_access_code(value)
    except PolicyError:
        return ""


class _SmsSession:
    """One inbound text being handled inside one unit of work."""

    def __init__(
        self,
        lc: Lifecycle,
        tx: Transaction,
        msisdn: str,
        to: str,
        body: str,
        now: pendulum.DateTime,
    ) -> None:
        self.lc = lc
        self.tx = tx
        self.msisdn = msisdn
        self.to = to
        self.body = body
        self.evidence = _evidence(body)
        self.now = now
        # the live orders only (invariant 9), read while holding the subscriber
        # (invariant 8)
        tx.lock_subscriber(msisdn)
        self.orders = tx.live_orders_of(msisdn)
        # replies speak the language of the subscriber's latest order
        latest = self.orders[-1] if self.orders else tx.latest_order(msisdn)
        self.language = latest.language if latest is not None else lc.policy.language

    def reply(
        self,
        kind: NoticeKind,
        *,
        order: Order | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        notice = self.lc._renderer.notice(
            kind,
            msisdn=self.msisdn,
            at=self.now,
            order=order,
            language=self.language,
            sender=self.to,
            extra=extra,
        )
        self.lc._stage(self.tx, notice)

    def handle(self, command: Command, to_operator: bool) -> None:
        kind = command.kind
        if kind is CommandKind.HELP:
            self.reply(NoticeKind.HELP)
        elif kind is CommandKind.UNKNOWN:
            self.reply(NoticeKind.UNRECOGNISED, extra={"fragment": fragment(self.body)})
        elif kind in (CommandKind.CONFIRM, CommandKind.DECLINE):
            if to_operator:
                self.answer(command)
            else:
                self.reply(NoticeKind.CONFIRM_AT_OPERATOR)
        elif kind is CommandKind.LIST or (kind is CommandKind.UNSUBSCRIBE and to_operator):
            if to_operator:
                self.list_live()
            else:
                self.reply(NoticeKind.HELP)
        elif kind is CommandKind.PICK:
            if to_operator:
                self.pick(command.numbers)
            else:
                self.reply(NoticeKind.HELP)
        elif kind is CommandKind.CANCEL_ALL:
            self.cancel(o for o in self.orders if o.is_live)
        else:
            self.unsubscribe_here(command.service_code)

    def pending(self) -> list[Order]:
        return [o for o in self.orders if _answerable(self.tx, o, self.now)]

    def answer(self, command: Command) -> None:
        """A yes or a no (C1, C3): acts on exactly one pending order, or on none."""
        pending = self.pending()
        if not pending:
            self.reply(NoticeKind.NOTHING_PENDING)
            return
        if command.code is not None:
            matching = [o for o in pending if o.code == command.code]
            if not matching:
                self.reply(NoticeKind.WRONG_CODE, extra=self.pending_items(pending))
                return
            target = matching[0]
        elif len(pending) > 1:
            self.reply(NoticeKind.PENDING_LIST, extra=self.pending_items(pending))
            return
        else:
            target = pending[0]
        act = self.lc._confirm_in if command.kind is CommandKind.CONFIRM else self.lc._decline_in
        outcome = act(
            self.tx,
            target.id,
            self.msisdn,
            Channel.SMS,
            command.code,
            self.evidence,
            self.now,
            pending,
        )
        if isinstance(outcome, _Raise):  # refused; a C13 violation is booked all the same
            self.reply(NoticeKind.CONFIRMATION_FAILED, order=target)

    def pending_items(self, pending: list[Order]) -> dict[str, str]:
        return {"items": self.lc._renderer.items(pending, self.language, numbered=False)}

    def list_live(self) -> None:
        """``0000`` (C8): the numbered list of live orders, kept as a pick session."""
        live = [o for o in self.orders if o.is_live]
        # a new list replaces the last one, even an empty list (C8a): a later pick
        # must never answer about a list the subscriber no longer has
        self.tx.put_pick_session(
            PickSession(
                self.msisdn,
                tuple(o.id for o in live),
                self.now,
                later(self.now, self.lc.policy.pick_window),
            )
        )
        if not live:
            self.reply(NoticeKind.LIST_EMPTY)
            return
        items = self.lc._renderer.items(live, self.language, numbered=True)
        self.reply(NoticeKind.LIVE_LIST, extra={"items": items})

    def pick(self, numbers: tuple[int, ...]) -> None:
        """Numbers after ``0000`` (C8): cancel exactly those of the list as it was sent."""
        session = self.tx.pick_session(self.msisdn)
        if session is None or self.now >= session.expires_at:
            self.reply(NoticeKind.PICK_EXPIRED)
            return
        chosen: list[str] = []
        outside: list[int] = []
        for n in dict.fromkeys(numbers):
            if 1 <= n <= len(session.order_ids):
                chosen.append(session.order_ids[n - 1])
            else:
                outside.append(n)
        listed = [self.tx.get_order(oid) for oid in chosen]
        self.cancel(o for o in listed if o is not None)
        if outside:
            self.reply(
                NoticeKind.PICK_INVALID, extra={"numbers": "、".join(str(n) for n in outside)}
            )

    def unsubscribe_here(self, service_code: str | None) -> None:
        """``TD`` / ``QX`` to an access code (C9): that service, or all of that number."""
        targets = [
            o
            for o in self.orders
            if o.is_live
            and o.access_code == self.to
            and (service_code is None or code_key(o.service_code) == service_code)
        ]
        if not targets:
            self.reply(NoticeKind.NOTHING_TO_CANCEL, extra={"access_code": self.to})
            return
        self.cancel(targets)

    def cancel(self, orders: Iterable[Order]) -> None:
        """Unsubscribe each order (C7); one no longer live gets a polite reply instead."""
        for order in orders:
            if order.is_live:
                self.lc._unsubscribe_in(
                    self.tx, order.id, Channel.SMS, None, self.evidence, self.now
                )
            else:
                self.reply(NoticeKind.ALREADY_CANCELLED, order=order)
