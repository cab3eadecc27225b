"""The worker: runs ``run_due()``, ``dispatch()`` and ``feed.publish()`` on a schedule,
so confirmations expire, trials are reminded and end, and notices and feed events are
retried with nobody calling them (feed events go to the subscribers whose handlers are
attached to the worker's Lifecycle: a billing backend runs a Worker in its own process).

One pass fires every due timer and delivers every due notice, a unit of work at a
time, checking for a stop request between units. Then the worker sleeps until the
next timer or notice attempt is due, at most ``tick`` (new work written by other
processes is found within a tick), and never less than ``min_sleep`` (half a second,
or the tick if shorter) when nothing moved (no busy loop while another worker holds the due rows). Any number of workers
may run against one PostgreSQL store: due orders and notices are claimed
(``SKIP LOCKED``), so each is handled once.
"""

from __future__ import annotations

import logging
import threading

import attrs

from vas_lifecycle.errors import InvalidArgumentError, StoreError
from vas_lifecycle.lifecycle import Lifecycle

__all__ = ["Pass", "Worker"]

log = logging.getLogger("vas_lifecycle.worker")


@attrs.frozen
class Pass:
    """What one pass did."""

    moved: int  # orders whose timer fired
    delivered: int  # notices this process handed to the notifier during the pass
    finished: bool  # False when a stop request cut the pass short
    published: int = 0  # feed events handed to this process's subscribers


class Worker:
    """Runs the timers and the outbox of ``lifecycle`` until :meth:`stop`."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        *,
        tick: float = 30.0,
        batch: int = 500,
        min_sleep: float | None = None,
    ) -> None:
        min_sleep = min(0.5, tick) if min_sleep is None else min_sleep
        if not 0 < min_sleep <= tick:
            raise InvalidArgumentError("need 0 < min_sleep <= tick (seconds)")
        if not isinstance(batch, int) or batch < 1:
            raise InvalidArgumentError(f"batch must be at least 1, got {batch!r}")
        self.lifecycle = lifecycle
        self.tick = tick
        self.batch = batch
        self.min_sleep = min_sleep
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the worker to stop after the unit of work it is in (signal-safe)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run_once(self) -> Pass:
        """Fire every due timer and deliver every due notice, one unit at a time."""
        moved = 0
        lc = self.lifecycle
        # counted by the outbox: notices of the timers' own commands go out right after
        # their commits, and are not among what dispatch() returns
        before = lc.handed_over
        while not self.stopping:
            count = lc.run_due(batch=self.batch, max_batches=1)
            moved += count
            if count < self.batch:
                break
        while not self.stopping:
            if lc.dispatch(limit=self.batch) < self.batch:
                break
        published = 0
        while not self.stopping and lc.feed.attached:
            count = lc.feed.publish(limit=self.batch)
            published += count
            if count < self.batch:
                break
        delivered = lc.handed_over - before
        return Pass(moved, delivered, finished=not self.stopping, published=published)

    def sleep_for(self) -> float:
        """Seconds until the next timer, notice or feed attempt, within
        [min_sleep, tick]."""
        times = [self.lifecycle.next_due(), self.lifecycle.feed.next_attempt()]
        known = [t for t in times if t is not None]
        if not known:
            return self.tick
        due = min(known)
        wait = (due - self.lifecycle.clock.now()).total_seconds()
        return min(self.tick, max(self.min_sleep, wait))

    def run(self) -> None:
        """Pass, sleep, pass again, until :meth:`stop`. A store that is down is logged
        and tried again after a tick; nothing else is caught."""
        log.info("worker started (tick %.1fs, batch %d)", self.tick, self.batch)
        while not self.stopping:
            try:
                done = self.run_once()
                if done.moved or done.delivered or done.published:
                    log.info(
                        "timers fired: %d, notices delivered: %d, feed events delivered: %d",
                        done.moved,
                        done.delivered,
                        done.published,
                    )
                wait = self.sleep_for() if done.finished else 0.0
            except StoreError as err:
                log.warning("store unavailable, trying again in %.1fs: %s", self.tick, err)
                wait = self.tick
            self._stop.wait(wait)
        log.info("worker stopped")
