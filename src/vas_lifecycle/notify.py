"""The Notifier port and ready notifiers.

A notifier delivers a :class:`~vas_lifecycle.Notice` (an SMS, usually). The facade
records every notice in the store in the same transaction as the state change, then
hands it to the notifier; ``notice.id`` is the idempotency key, because a notice may be
handed over again after a failure (at least once, recorded exactly once).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import attrs
import pendulum

from vas_lifecycle.clock import later
from vas_lifecycle.errors import PolicyError
from vas_lifecycle.notices import Notice, NoticeKind

__all__ = ["CallbackNotifier", "DeliveryRules", "Notifier", "RecordingNotifier"]


@attrs.frozen(kw_only=True)
class DeliveryRules:
    """How the outbox retries: exponential backoff from ``first_retry`` up to
    ``max_retry``, parked after ``max_attempts``; a claimed notice comes back after
    ``lease`` if its sender died before saying how it went."""

    max_attempts: int = 8
    first_retry: dt.timedelta = dt.timedelta(seconds=30)
    max_retry: dt.timedelta = dt.timedelta(hours=1)
    lease: dt.timedelta = dt.timedelta(minutes=2)

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1:
            raise PolicyError("max_attempts must be at least 1")
        zero = dt.timedelta(0)
        if self.first_retry <= zero or self.lease <= zero or self.max_retry < self.first_retry:
            raise PolicyError("retry delays and lease must be positive, max_retry >= first_retry")

    def retry_at(self, now: pendulum.DateTime, attempts: int) -> pendulum.DateTime | None:
        """When to try again after ``attempts`` failures; None when it is time to park."""
        if attempts >= self.max_attempts:
            return None
        delay: dt.timedelta = min(self.first_retry * (2 ** max(0, attempts - 1)), self.max_retry)
        return later(now, delay)


@runtime_checkable
class Notifier(Protocol):
    """Delivers notices. Raising means "not delivered, try again later"."""

    def send(self, notice: Notice) -> None:
        """Deliver one notice (its ``id`` is the idempotency key: a retry may hand the
        same notice over again). Raise to have it retried later."""


class RecordingNotifier:
    """Keeps every notice it is given in ``sent`` (a fake for tests and examples).

    A notice handed over twice (a retry) is kept once: ``sent`` is what the subscriber
    would see, deduplicated by notice id as a real SMS gateway does.
    """

    def __init__(self) -> None:
        self.sent: list[Notice] = []
        self._ids: set[str] = set()

    def send(self, notice: Notice) -> None:
        """Keep the notice, once per id."""
        if notice.id not in self._ids:
            self._ids.add(notice.id)
            self.sent.append(notice)

    def of_kind(self, kind: NoticeKind) -> list[Notice]:
        """The notices of one kind, in the order they were sent."""
        return [n for n in self.sent if n.kind is kind]

    def to(self, msisdn: str) -> list[Notice]:
        """The notices sent to one number (E.164, as the notices carry it)."""
        return [n for n in self.sent if n.msisdn == msisdn]

    def clear(self) -> None:
        """Forget every notice kept so far."""
        self.sent.clear()
        self._ids.clear()


class CallbackNotifier:
    """Adapts a plain function (``send(notice)``) to the port."""

    def __init__(self, callback: Callable[[Notice], None]) -> None:
        self._callback = callback

    def send(self, notice: Notice) -> None:
        """Call the function with the notice (what it raises means: retry later)."""
        self._callback(notice)
