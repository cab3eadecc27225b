"""The SMS channel (C3, C8, C8a, C9, C10): one inbound text, read, then acted on
through the same handlers every other channel uses.

Nothing about a text raises: what cannot be read gets a short help reply and changes
nothing (C10). A yes or a no acts on exactly one answerable order or on none (C3);
``0000`` lists the live orders and keeps the list as sent (C8, C8a); numbers after it
cancel exactly those of the list; ``TD`` to an access code cancels that service (C9).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from vas_lifecycle import arguments, handlers
from vas_lifecycle.clock import later
from vas_lifecycle.commands import Confirm, Decline, ReceiveText, Unsubscribe
from vas_lifecycle.errors import BatchError, PolicyError
from vas_lifecycle.notices import Notice, NoticeKind
from vas_lifecycle.order import EventKind, Order, Step
from vas_lifecycle.policy import UnsubscribeScope
from vas_lifecycle.records import Channel, PickSession
from vas_lifecycle.sms import Command, CommandKind, fragment, parse
from vas_lifecycle.unit_of_work import Refused, Runner, UnitOfWork
from vas_lifecycle.values import canonical_access_code, clean_text, code_key

__all__ = ["EVIDENCE_LIMIT", "SmsSession", "receive_text", "short_code"]

#: How much of a received text is kept as evidence (C14); the rest is cut.
EVIDENCE_LIMIT = 500


def short_code(value: str) -> str:
    """The number a text was sent to, as the catalog writes access codes; a number
    that cannot be one (a gateway's garbage) matches nothing."""
    try:
        return canonical_access_code(value)
    except PolicyError:
        return ""


def inbound(msisdn: str, text: object, to: object, message_id: object) -> ReceiveText:
    """An inbound text's command: ``msisdn`` already read, the number it was sent to
    read as an access code, anything but a string as no text (C10: what a text says
    never raises), the gateway's message id checked."""
    seen = None if message_id is None else arguments.identifier(message_id, "message_id")
    body = text if isinstance(text, str) else ""
    return ReceiveText(msisdn, short_code(arguments.destination(to)), body, seen)


def receive_all(runner: Runner, texts: list[ReceiveText]) -> list[list[Notice]]:
    """A burst of texts in one transaction, each all-or-nothing on its own: the
    replies of each, in order, or a BatchError once the others are committed."""
    numbers = [text.msisdn for text in texts]
    # one text per subscriber: none reads what another writes, so they may run
    # straight through, with their live orders read ahead for the lot
    apart = len(set(numbers)) == len(numbers)
    seen = [text.seen for text in texts if text.seen is not None]
    ahead = (lambda tx, now: tx.read_ahead(numbers, seen=seen, at=now)) if apart else None
    outcomes = runner.run_all(receive_text, texts, read_ahead=ahead)
    errors = {n: o.error for n, o in enumerate(outcomes) if o.error is not None}
    replies = [o.notices for o in outcomes]
    if errors:
        raise BatchError(replies, errors)
    return replies


def receive_text(cmd: ReceiveText, uow: UnitOfWork) -> None:
    """One inbound text; ``seen`` is the gateway's message id, handled at most once
    (recorded in this unit of work, so a failed one can come again)."""
    if cmd.seen is not None and not uow.tx.keys.first_sight(cmd.seen, uow.now):
        uow.repeat = True  # the gateway handed the text over again: de-duplicated
        return
    SmsSession(uow, msisdn=cmd.msisdn, to=cmd.to, body=cmd.body).handle()


class SmsSession:
    """One inbound text from ``msisdn`` to ``to``, handled inside one unit of work."""

    def __init__(self, uow: UnitOfWork, *, msisdn: str, to: str, body: str) -> None:
        self.uow = uow
        self.policy = policy = uow.policy
        self.msisdn = msisdn
        self.to = to
        self.body = body
        self.evidence = clean_text(body, EVIDENCE_LIMIT)
        # the live orders only (invariant 9), read while holding the subscriber
        # (invariant 8)
        uow.tx.orders.lock_subscriber(msisdn)
        self.orders = uow.tx.orders.live_orders_of(msisdn)
        # replies speak the language of the subscriber's latest order
        latest = self.orders[-1].language if self.orders else uow.tx.orders.latest_language(msisdn)
        self.language = latest if latest is not None else policy.language

    def handle(self) -> None:
        """Read the text and act on it."""
        to_operator = self.to == self.policy.operator_number
        command = parse(self.body, self.policy, to_operator=to_operator)
        kind = command.kind
        if kind is CommandKind.HELP:
            self.reply(NoticeKind.HELP)
        elif kind is CommandKind.UNKNOWN:
            if command.flagged:
                self.flag(to_operator)
            self.reply(NoticeKind.UNRECOGNISED, extra={"fragment": fragment(self.body)})
        elif kind in (CommandKind.CONFIRM, CommandKind.DECLINE):
            if to_operator:
                self.answer(command)
            else:
                self.reply(NoticeKind.CONFIRM_AT_OPERATOR)
        elif kind is CommandKind.LIST or (
            kind in (CommandKind.UNSUBSCRIBE, CommandKind.UNSUBSCRIBE_ALL) and to_operator
        ):
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
            everything = kind is CommandKind.UNSUBSCRIBE_ALL
            self.unsubscribe_here(command.service_code, everything=everything)

    def reply(
        self,
        kind: NoticeKind,
        *,
        order: Order | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        self.uow.reply(
            kind,
            msisdn=self.msisdn,
            sender=self.to,
            language=self.language,
            order=order,
            extra=extra,
        )

    def answer(self, command: Command) -> None:
        """A yes or a no (C1, C3): acts on exactly one answerable order, or on none."""
        pending = handlers.pending(self.uow, self.msisdn, self.orders)
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
        answer = (target.id, self.msisdn, Channel.SMS, command.code, self.evidence, pending)
        if command.kind is CommandKind.CONFIRM:
            done = handlers.confirm(Confirm(*answer), self.uow)
        else:
            done = handlers.decline(Decline(*answer), self.uow)
        if isinstance(done, Refused):
            # refused (a C13 violation is booked all the same): say so, change nothing
            self.reply(NoticeKind.CONFIRMATION_FAILED, order=target)

    def pending_items(self, pending: list[Order]) -> dict[str, str]:
        return {"items": self.uow.renderer.items(pending, self.language, numbered=False)}

    def list_live(self) -> None:
        """``0000`` (C8): the numbered list of live orders, kept as a pick session."""
        live = [o for o in self.orders if o.is_live]
        now = self.uow.now
        # a new list replaces the last one, even an empty list (C8a): a later pick
        # must never answer about a list the subscriber no longer has
        self.uow.tx.orders.put_pick_session(
            PickSession(
                self.msisdn, tuple(o.id for o in live), now, later(now, self.policy.pick_window)
            )
        )
        if not live:
            self.reply(NoticeKind.LIST_EMPTY)
            return
        items = self.uow.renderer.items(live, self.language, numbered=True)
        self.reply(NoticeKind.LIVE_LIST, extra={"items": items})

    def pick(self, numbers: tuple[int, ...]) -> None:
        """Numbers after ``0000`` (C8): cancel exactly those of the list as it was sent."""
        session = self.uow.tx.orders.pick_session(self.msisdn)
        if session is None or self.uow.now >= session.expires_at:
            self.reply(NoticeKind.PICK_EXPIRED)
            return
        chosen: list[str] = []
        outside: list[int] = []
        for n in dict.fromkeys(numbers):
            if 1 <= n <= len(session.order_ids):
                chosen.append(session.order_ids[n - 1])
            else:
                outside.append(n)
        listed = [self.uow.tx.orders.get_order(oid) for oid in chosen]
        self.cancel(o for o in listed if o is not None)
        if outside:
            self.reply(
                NoticeKind.PICK_INVALID, extra={"numbers": "、".join(str(n) for n in outside)}
            )

    def unsubscribe_here(self, service_code: str | None, *, everything: bool = False) -> None:
        """``TD`` / ``QX`` to an access code (C9): that service, or all of that number;
        UK1: ``STOP`` the latest service there, ``STOP ALL`` all of them; US4 (from 31
        Jan 2027): ``STOP`` every service of that SP, on any of its numbers."""
        targets = [
            o
            for o in self.orders
            if o.is_live
            and o.access_code == self.to
            and (service_code is None or code_key(o.service_code) == service_code)
        ]
        if not targets:
            here = any(o.is_live and o.access_code == self.to for o in self.orders)
            if here and self.policy.revocation_hints:
                # a wish to leave in words no service code matches: a person reviews it
                self.flag(to_operator=False)
                self.reply(NoticeKind.UNRECOGNISED, extra={"fragment": fragment(self.body)})
                return
            self.reply(NoticeKind.NOTHING_TO_CANCEL, extra={"access_code": self.to})
            return
        scope = self.policy.unsubscribe_scope
        if scope is UnsubscribeScope.LATEST and service_code is None and not everything:
            targets = [max(targets, key=lambda o: (o.requested_at, o.id))]
        elif scope is UnsubscribeScope.SP and service_code is None:
            senders = {o.sp_id for o in targets}
            targets = [o for o in self.orders if o.is_live and o.sp_id in senders]
        self.cancel(targets)

    def flag(self, to_operator: bool) -> None:
        """A text that looks like a wish to leave but matched no keyword: recorded on
        each live order it may concern (all of them when sent to the operator number,
        else those of the number it was sent to) for a person to review."""
        step = Step(EventKind.OPT_OUT_FLAGGED, {"to": self.to})
        for order in self.orders:
            if order.is_live and (to_operator or order.access_code == self.to):
                self.uow.record(
                    order, [step], channel=Channel.SMS, actor=self.msisdn, text_in=self.evidence
                )

    def cancel(self, orders: Iterable[Order]) -> None:
        """Unsubscribe each order (C7); one no longer live gets a polite reply instead.
        Where the policy says, the request is first acknowledged (IN4), and several
        services ended by one text are confirmed by one text (US2)."""
        orders = list(orders)
        live = [o for o in orders if o.is_live]
        policy, items = self.policy, ""
        if live and (policy.acknowledge_opt_out or policy.one_opt_out_text):
            items = self.uow.renderer.items(live, self.language, numbered=True)
        if live and policy.acknowledge_opt_out:
            self.reply(NoticeKind.OPT_OUT_RECEIVED, extra={"items": items})
        together = self.uow.new_id() if len(live) > 1 and policy.one_opt_out_text else ""
        for order in orders:
            if order.is_live:
                command = Unsubscribe(order.id, Channel.SMS, None, self.evidence)
                handlers.unsubscribe(command, self.uow, confirmed_by=together)
            else:
                self.reply(NoticeKind.ALREADY_CANCELLED, order=order)
        if together:
            self.uow.reply(
                NoticeKind.OPTED_OUT,
                msisdn=self.msisdn,
                sender=self.to,
                language=self.language,
                extra={"items": items},
                notice_id=together,
            )
