"""The outbox: notices are stored with the change that makes them and delivered after
the commit, so a notifier failure never undoes a state change and never loses a notice.

Delivery claims notices (concurrent dispatchers never send one at the same time),
hands each to the notifier with ``notice.id`` as idempotency key, and records how each
went in one transaction: delivered, or failed with an exponential backoff, and parked
after ``DeliveryRules.max_attempts``.

A command's own notices are handed over right after its commit: in the caller's
thread, or by a :class:`BackgroundSender` so that a slow or hung gateway never holds
the caller (a web request answers as soon as its unit of work commits).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

import attrs
import pendulum

from vas_lifecycle.clock import later
from vas_lifecycle.errors import VasError
from vas_lifecycle.notices import Notice, NoticeKind
from vas_lifecycle.notify import DeliveryRules, Notifier
from vas_lifecycle.store.base import Delivery, LeasedQueue, Store
from vas_lifecycle.unit_of_work import ClockReader, call

__all__ = ["Attempts", "BackgroundSender", "Outbox", "attempt_each"]

log = logging.getLogger("vas_lifecycle")


class Outbox:
    """Delivers the notices stored in ``store`` through ``notifier``."""

    def __init__(
        self,
        store: Store,
        notifier: Notifier | None,
        rules: DeliveryRules,
        clock: ClockReader,
        hold: Callable[[Notice, pendulum.DateTime], pendulum.DateTime | None] | None = None,
        unordered: frozenset[NoticeKind] = frozenset(),
        senders: int = 0,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.rules = rules
        self.clock = clock
        #: when a notice about to go out must wait (the quiet hours, C16), or None
        self.hold = hold if hold is not None else (lambda notice, now: None)
        #: the kinds ``hold`` may hold back (the quiet hours' kinds), which hold no
        #: later notice of their order back (see NoticeRecorder.claim)
        self.unordered = unordered
        #: hands commands' notices over from threads of its own (None: the caller does)
        self._sender = BackgroundSender(self, threads=senders) if senders else None
        self._lock = threading.Lock()
        #: notices handed to the notifier and recorded delivered, by every path
        self.handed_over = 0

    def dispatch(self, limit: int) -> int:
        """Claim and deliver up to ``limit`` due notices; how many were delivered.

        A notice waiting behind an earlier one of its order is claimed in the next
        round, once that one is out, so rounds go on until one claims nothing. Without
        a notifier nothing is claimed: the notices wait for one."""
        if self.notifier is None:
            return 0
        delivered = 0
        while delivered < limit:
            now = self.clock.now()
            claimed = self._claim(now, limit - delivered)
            if not claimed:
                break
            sent = self.deliver(claimed, now)
            delivered += sent
            if sent == 0:
                break  # all failed or held: their retries are later
        return delivered

    def _claim(self, now: pendulum.DateTime, limit: int) -> list[Delivery]:
        until = later(now, self.rules.lease)
        return call(
            self.store,
            lambda tx: tx.outbox.claim(now, until, limit, unordered=self.unordered),
        )

    def deliver(self, claimed: Sequence[Delivery], now: pendulum.DateTime) -> int:
        """Send claimed notices, then record in one transaction how each went."""
        notifier = self.notifier
        if not claimed or notifier is None:
            return 0
        sending: list[Delivery] = []
        held: list[tuple[str, str, pendulum.DateTime]] = []
        for item in claimed:
            # only the kinds kept out of the quiet hours are ever held (C16)
            until = self.hold(item.notice, now) if item.notice.kind in self.unordered else None
            if until is None:
                sending.append(item)
            else:
                held.append((item.id, f"quiet hours: held until {until.isoformat()}", until))
        done = attempt_each(sending, lambda item: notifier.send(item.notice), "notice")
        done.held = held
        call(self.store, lambda tx: done.settle(tx.outbox, self.rules, now))
        with self._lock:
            self.handed_over += len(done.sent)
        return len(done.sent)

    def deliver_committed(self, notices: Sequence[Notice]) -> None:
        """Deliver a command's own notices right after its commit (they were written
        already claimed for one lease); a delivery problem never fails the command."""
        try:
            self.deliver([Delivery(n, 1) for n in notices], notices[0].at)
        except VasError as err:
            log.warning("delivery after a command failed; notices stay queued: %s", err)

    def hand_over(self) -> Callable[[Sequence[Notice]], None]:
        """Where a committed command's own notices go: delivered in the caller's thread
        (:meth:`deliver_committed`), or queued for the background senders."""
        if self._sender is None:
            return self.deliver_committed
        return self._sender.submit

    def close(self) -> None:
        """Stop the background senders, if they were started."""
        if self._sender is not None:
            self._sender.close()

    def parked(self, limit: int) -> list[Delivery]:
        """Notices given up on, with their last error."""
        return call(self.store, lambda tx: tx.outbox.parked(limit), readonly=True)

    def retry_parked(self, notice_ids: Sequence[str] | None) -> int:
        """Queue parked notices (all, or those named) for delivery again."""
        now = self.clock.now()

        ids = list(notice_ids) if notice_ids is not None else None
        return call(self.store, lambda tx: tx.outbox.unpark(ids, now))


class _Leased(Protocol):
    """What a :class:`LeasedQueue` hands out: an item with an id and its attempts."""

    @property
    def id(self) -> str: ...

    @property
    def attempts(self) -> int: ...


ItemT = TypeVar("ItemT", bound=_Leased)


@attrs.define
class Attempts(Generic[ItemT]):
    """How one round of claimed items went, to record on their queue in one
    transaction (:meth:`settle`): the outbox's notices and each feed subscriber's
    events are delivered the same way."""

    sent: list[str] = attrs.Factory(list)
    failed: list[tuple[ItemT, str]] = attrs.Factory(list)
    #: items not tried now: id, why, and when to try again
    held: list[tuple[str, str, pendulum.DateTime]] = attrs.Factory(list)

    def settle(
        self, queue: LeasedQueue[ItemT], rules: DeliveryRules, now: pendulum.DateTime
    ) -> None:
        """Record on ``queue``: the sent delivered, the failed retried with the
        rules' backoff (parked after their last attempt), the held due later."""
        queue.mark_delivered(self.sent, now)
        for item, error in self.failed:
            queue.mark_failed(item.id, error, rules.retry_at(now, item.attempts))
        for item_id, why, until in self.held:
            queue.mark_failed(item_id, why, until)


def attempt_each(
    items: Sequence[ItemT], send: Callable[[ItemT], object], what: str
) -> Attempts[ItemT]:
    """Hand each claimed item to ``send``: returning is success, raising a failed
    attempt (logged, with ``what`` the item is)."""
    done: Attempts[ItemT] = Attempts()
    for item in items:
        try:
            send(item)
        except Exception as err:
            log.warning("%s %s not delivered (attempt %d): %r", what, item.id, item.attempts, err)
            done.failed.append((item, f"{type(err).__name__}: {err}"))
        else:
            done.sent.append(item.id)
    return done


class BackgroundSender:
    """Hands each command's notices to the notifier from threads of its own, so the
    command answers as soon as it commits.

    The notices were written to the outbox already claimed by this process for one
    lease, so nothing is lost whatever happens here: a batch that does not fit in the
    bounded queue (``capacity`` commands), that waited past its lease, or that was
    still queued when the sender stopped, is sent by the next ``dispatch`` after the
    lease runs out (the worker's job). One order's notices keep their order: a later
    notice of an order whose earlier one is still queued is written unclaimed, for
    ``dispatch`` to send after it.
    """

    def __init__(self, outbox: Outbox, *, threads: int, capacity: int = 1000) -> None:
        self.outbox = outbox
        self._queue: queue.Queue[Sequence[Notice] | None] = queue.Queue(capacity)
        self._threads = [
            threading.Thread(target=self._run, name=f"vas-sender-{n}", daemon=True)
            for n in range(threads)
        ]
        self._closed = self._started = False
        self._start = threading.Lock()

    def submit(self, notices: Sequence[Notice]) -> None:
        """Queue a committed command's notices; never blocks."""
        if self._closed:
            return  # they wait in the outbox for dispatch
        if not self._started:
            with self._start:  # the threads start with the first notices
                if not self._started:
                    for thread in self._threads:
                        thread.start()
                    self._started = True
        try:
            self._queue.put_nowait(notices)
        except queue.Full:
            log.warning(
                "sender queue full: %d notice(s) left to dispatch after their lease",
                len(notices),
            )

    def _run(self) -> None:
        lease = self.outbox.rules.lease
        while True:
            notices = self._queue.get()
            if notices is None:
                return
            try:
                # past its lease another dispatcher may already have claimed the batch
                if self.outbox.clock.now() < later(notices[0].at, lease):
                    self.outbox.deliver_committed(notices)
            except Exception:  # a bug, a clock or a closed store: never kill the sender
                log.exception("background delivery failed; the notices stay queued")

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the batches already queued, waiting at most ``timeout`` seconds
        in all. A hung gateway may hold a thread past that: what is still queued then
        is left to ``dispatch``, which sends it once its lease runs out."""
        if self._closed:
            return
        self._closed = True
        if not self._started:
            return
        deadline = time.monotonic() + timeout
        for _thread in self._threads:
            try:
                self._queue.put(None, timeout=max(0.0, deadline - time.monotonic()))
            except queue.Full:
                break
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = 0
        while True:
            try:
                left += self._queue.get_nowait() is not None
            except queue.Empty:
                break
        if left:
            log.warning("sender stopped with %d batch(es) left to dispatch after their lease", left)
        for _thread in self._threads:  # a thread still stuck in the gateway stops after it
            self._queue.put_nowait(None)
