"""The Notifier port and ready notifiers.

A notifier delivers a :class:`~vas_lifecycle.Notice` (an SMS, usually). The facade
records every notice in the store in the same transaction as the state change, then
hands it to the notifier; ``notice.id`` is the idempotency key, because a notice may be
handed over again after a failure (at least once, recorded exactly once).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from vas_lifecycle.notices import Notice, NoticeKind

__all__ = ["CallbackNotifier", "Notifier", "RecordingNotifier"]


@runtime_checkable
class Notifier(Protocol):
    """Delivers notices. Raising means "not delivered, try again later"."""

    def send(self, notice: Notice) -> None: ...


class RecordingNotifier:
    """Keeps every notice it is given in ``sent`` (a fake for tests and examples).

    A notice handed over twice (a retry) is kept once: ``sent`` is what the subscriber
    would see, deduplicated by notice id as a real SMS gateway does.
    """

    def __init__(self) -> None:
        self.sent: list[Notice] = []
        self._ids: set[str] = set()

    def send(self, notice: Notice) -> None:
        if notice.id not in self._ids:
            self._ids.add(notice.id)
            self.sent.append(notice)

    def of_kind(self, kind: NoticeKind) -> list[Notice]:
        return [n for n in self.sent if n.kind is kind]

    def to(self, msisdn: str) -> list[Notice]:
        return [n for n in self.sent if n.msisdn == msisdn]

    def clear(self) -> None:
        self.sent.clear()
        self._ids.clear()


class CallbackNotifier:
    """Adapts a plain function (``send(notice)``) to the port."""

    def __init__(self, callback: Callable[[Notice], None]) -> None:
        self._callback = callback

    def send(self, notice: Notice) -> None:
        self._callback(notice)
