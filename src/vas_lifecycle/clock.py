"""The Clock port. Domain code reads time only from here (ruff bans the rest)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Protocol, runtime_checkable

import pendulum

from vas_lifecycle.errors import ClockError

_ZERO = dt.timedelta(0)
_UTC_TEXT = "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ"

__all__ = [
    "Clock",
    "ManualClock",
    "SystemClock",
    "as_utc",
    "later",
    "local_time",
    "parse_utc",
    "utc_text",
    "zone",
]


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the current time as an aware datetime."""

    def now(self) -> pendulum.DateTime:
        """The current time, aware (the library keeps it in UTC)."""


def as_utc(value: dt.datetime) -> pendulum.DateTime:
    """An aware datetime as a pendulum UTC DateTime; a naive one is refused."""
    if value.__class__ is pendulum.DateTime and value.tzinfo is pendulum.UTC:
        return value  # already what we keep (the hot path: every command reads the clock)
    if not isinstance(value, dt.datetime):
        raise ClockError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ClockError(f"naive datetime {value.isoformat()}: give a time zone")
    if isinstance(value, pendulum.DateTime) and value.tzinfo is pendulum.UTC:
        return value
    utc = value.astimezone(dt.UTC)
    return pendulum.DateTime(
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond,
        tzinfo=pendulum.UTC,
        fold=utc.fold,
    )


def utc_text(value: dt.datetime) -> str:
    """An aware time as canonical UTC text, ``2026-11-24T01:00:00.000000Z``: what the
    SQL stores keep and the evidence chain hashes (it sorts chronologically)."""
    if value.tzinfo is not pendulum.UTC and value.utcoffset() != _ZERO:
        value = value.astimezone(dt.UTC)
    return _UTC_TEXT % (
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


def zone(name: str) -> zoneinfo.ZoneInfo:
    """A time zone by name (``zoneinfo`` keeps one object per name)."""
    return zoneinfo.ZoneInfo(name)


def local_time(when: dt.datetime, zone_name: str) -> dt.datetime:
    """``when`` in the named zone, as a plain ``datetime`` (pendulum's own
    ``astimezone`` costs several times the standard library's, and a local time is
    only read: its fields, its date, its key)."""
    plain = dt.datetime(
        when.year,
        when.month,
        when.day,
        when.hour,
        when.minute,
        when.second,
        when.microsecond,
        when.tzinfo,
        fold=when.fold,
    )
    return plain.astimezone(zone(zone_name))


def parse_utc(text: str) -> pendulum.DateTime:
    """An ISO 8601 time as a pendulum UTC DateTime (fast: no pendulum parser)."""
    return as_utc(dt.datetime.fromisoformat(text))


def later(when: pendulum.DateTime, by: dt.timedelta) -> pendulum.DateTime:
    """``when + by`` in UTC, without pendulum's (slow) calendar arithmetic."""
    return as_utc(dt.datetime.__add__(when, by))


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> pendulum.DateTime:
        """The machine's current time, in UTC."""
        return pendulum.now("UTC")


class ManualClock:
    """A clock that moves only when told to, and never backwards.

    Used by tests, simulations and examples.
    """

    def __init__(self, start: dt.datetime) -> None:
        self._now = as_utc(start)

    def now(self) -> pendulum.DateTime:
        """The time it was set or advanced to (it does not move by itself)."""
        return self._now

    def advance(self, by: dt.timedelta) -> pendulum.DateTime:
        """Move forward by a pendulum Duration or a timedelta; returns the new time.

        Raises:
            ClockError: ``by`` is negative or not a duration.
        """
        if not isinstance(by, dt.timedelta):
            raise ClockError(f"advance takes a duration, got {type(by).__name__}")
        if by < dt.timedelta(0):
            raise ClockError(f"the clock never moves backwards (asked to move by {by})")
        self._now = self._now + by
        return self._now

    def set(self, when: dt.datetime) -> pendulum.DateTime:
        """Jump to ``when``, which must not be earlier than now."""
        target = as_utc(when)
        if target < self._now:
            raise ClockError(
                f"the clock never moves backwards ({target.isoformat()} < {self._now.isoformat()})"
            )
        self._now = target
        return self._now
