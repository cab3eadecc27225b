"""The event feed's delivery: every change a billing backend must know of, handed to
each registered subscriber at least once, one order's events in commit order.

A subscriber is registered by name in the store (:meth:`EventFeed.subscribe`): from
then on, every feed event is stored for it in the same transaction as the change that
made it (the transactional outbox), whichever process made the change. Delivery
happens in the processes that attach a handler to that name: :meth:`EventFeed.publish`
claims the subscriber's due events (a lease, so a crashed process's events come back),
calls the handler with each, and records in one transaction how each went: delivered
(and forgotten), or failed with the outbox's backoff (:class:`DeliveryRules`) and
parked after ``max_attempts``. An order's later events wait behind its undelivered
one, parked or not, so a consumer never sees an order cancelled before it saw it
activated; other orders go on.

At least once: an event whose handler returned but whose delivery could not be
recorded (a crash in between, a lease that ran out) is delivered again, with the same
``id``. Consumers make their effects idempotent by that id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import pendulum

from vas_lifecycle import arguments
from vas_lifecycle.clock import later
from vas_lifecycle.errors import InvalidArgumentError, VasError
from vas_lifecycle.notify import DeliveryRules
from vas_lifecycle.outbox import attempt_each
from vas_lifecycle.records import FeedDelivery, FeedEvent
from vas_lifecycle.store.base import Store
from vas_lifecycle.unit_of_work import ClockReader, call

__all__ = ["EventFeed", "Handler"]

log = logging.getLogger("vas_lifecycle.feed")

#: What a subscriber's handler is: called with one event; returning is success,
#: raising is a failed delivery (retried later).
Handler = Callable[[FeedEvent], object]


class EventFeed:
    """The event feed of one :class:`~vas_lifecycle.lifecycle.Lifecycle` (its
    ``feed`` attribute). Threads may share it."""

    def __init__(
        self, store: Store, rules: DeliveryRules, clock: ClockReader, *, auto: bool
    ) -> None:
        self._store = store
        self._rules = rules
        self._clock = clock
        self._auto = auto
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._local = threading.local()  # is this thread publishing already?

    def subscribe(self, name: str, handler: Handler) -> bool:
        """Register the subscriber ``name`` in the store and deliver its events to
        ``handler`` in this process.

        Registration is durable: every event committed after it, by any process, is
        kept for ``name`` until delivered. Subscribing again under the same name (a
        restarted consumer) keeps its backlog and only attaches the handler; returns
        False then, True when newly registered. With ``auto_dispatch`` on the
        Lifecycle, a command's events are delivered right after its commit; else, and
        for retries, call :meth:`publish` (the worker does).

        Raises:
            InvalidArgumentError: a malformed name, or a handler that is not callable.
        """
        key = arguments.identifier(name, "name")
        if not callable(handler):
            raise InvalidArgumentError(f"handler must be callable, got {handler!r}")
        now = self._clock.now()
        created = call(self._store, lambda tx: tx.feed.add_subscriber(key, now))
        with self._lock:
            self._handlers[key] = handler
        return created

    def detach(self, name: str) -> None:
        """Stop delivering ``name``'s events in this process; its registration and
        backlog stay (another process may deliver them)."""
        with self._lock:
            self._handlers.pop(name, None)

    def remove(self, name: str) -> bool:
        """Forget the subscriber ``name`` and every event still owed to it; False if
        it was not registered."""
        key = arguments.identifier(name, "name")
        self.detach(key)
        return call(self._store, lambda tx: tx.feed.remove_subscriber(key))

    def subscribers(self) -> list[str]:
        """Every registered subscriber, with a handler here or not."""
        return call(self._store, lambda tx: tx.feed.subscribers(), readonly=True)

    @property
    def attached(self) -> list[str]:
        """The subscribers with a handler in this process."""
        with self._lock:
            return sorted(self._handlers)

    def publish(self, *, limit: int = 500) -> int:
        """Deliver the due events of the subscribers attached here, at most ``limit``
        to each; returns how many deliveries succeeded. An order's next event is
        claimed in the next round, once the one before it is delivered: rounds go on
        until one delivers nothing."""
        size = arguments.count(limit, "limit")
        local = self._local
        if getattr(local, "busy", False):
            # a handler's own command: the publish running in this thread delivers it
            local.extra += size
            return 0
        local.busy, local.extra = True, 0
        try:
            with self._lock:
                handlers = list(self._handlers.items())
            delivered = 0
            for name, handler in handlers:
                done = 0
                while done < size + local.extra:
                    sent = self._round(name, handler, size + local.extra - done)
                    if sent == 0:
                        break
                    done += sent
                delivered += done
            return delivered
        finally:
            local.busy = False

    def _round(self, name: str, handler: Handler, limit: int) -> int:
        now = self._clock.now()
        until = later(now, self._rules.lease)
        claimed = call(self._store, lambda tx: tx.feed.queue(name).claim(now, until, limit))
        done = attempt_each(claimed, lambda item: handler(item.event), f"feed event for {name}")
        if claimed:
            call(self._store, lambda tx: done.settle(tx.feed.queue(name), self._rules, now))
        return len(done.sent)

    def after_commit(self, count: int) -> None:
        """Deliver about as many events as a command just published (``count``), right
        after its commit, with ``auto_dispatch`` and a handler attached here: the
        command's own when nothing older waits, and never a long backlog that would
        keep the command's caller waiting (the worker delivers that). A delivery
        problem never fails the command."""
        if not self._auto or not self._handlers:
            return
        try:
            self.publish(limit=count)
        except VasError as err:
            log.warning("feed delivery after a command failed; events stay queued: %s", err)

    def parked(self, name: str, *, limit: int = 100) -> list[FeedDelivery]:
        """The subscriber's events given up on after too many failed deliveries, with
        the last error; each holds its order's later events back."""
        key = arguments.identifier(name, "name")
        size = arguments.count(limit, "limit")
        return call(self._store, lambda tx: tx.feed.queue(key).parked(size), readonly=True)

    def retry_parked(self, name: str, event_ids: Sequence[str] | None = None) -> int:
        """Queue the subscriber's parked events (all, or those named) again."""
        key = arguments.identifier(name, "name")
        ids = arguments.ids(event_ids, "event_ids")
        now = self._clock.now()
        return call(self._store, lambda tx: tx.feed.queue(key).unpark(ids, now))

    def backlog(self, name: str) -> int:
        """How many events ``name`` is still owed (parked ones included)."""
        key = arguments.identifier(name, "name")
        return call(self._store, lambda tx: tx.feed.backlog(key), readonly=True)

    def next_attempt(self) -> pendulum.DateTime | None:
        """When the next event owed to a subscriber attached here is due."""
        names = self.attached
        if not names:
            return None
        return call(self._store, lambda tx: tx.feed.next_attempt(names), readonly=True)
