"""Consent evidence nobody can edit unnoticed (C18): the hash chain of each order.

Every event of an order is chained to the one before it. With each event the store
keeps ``prev``, the hash of the event before it (:data:`GENESIS`, 64 zeros, for the
order's first), and ``hash``, the SHA-256 of the event's canonical encoding, which
includes ``prev``; with the order it keeps ``head``, the hash of its last event. All
three are written in the unit of work that writes the event, on every store.

**The canonical encoding** (version ``vas-evidence/1``) of an event is the UTF-8 text
of the JSON array::

    ["vas-evidence/1", prev, order_id, seq, kind, at, channel, actor,
     text_in, text_out, data]

with ``prev`` as 64 lower-case hex digits, ``seq`` an integer, ``at`` the event's
time in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, ``channel``, ``text_in`` and
``text_out`` a string or ``null``, and ``data`` an object of strings with its keys
sorted; written without whitespace, with characters outside ASCII as themselves and
the JSON escapes for ``"``, ``\\`` and control characters. For these values that is
the JSON Canonicalization Scheme (RFC 8785), so any language can recompute a hash.

A change to an event's text, time, actor or facts changes its hash; removing,
inserting or re-ordering events breaks the links (each hash covers the event's
``seq`` and the hash before it); removing the last events leaves the order's version
and head pointing past them. :func:`check` finds each of these in one order's
:class:`Chain`; ``Lifecycle.verify_evidence`` and ``Lifecycle.verify_store`` run it
over a store.

What a chain cannot do alone: someone who rewrites an event *and* recomputes every
hash after it, and the order's head, leaves a consistent chain. Exported bundles
(``Lifecycle.evidence_bundle``) can be signed with a key the store never sees, and
the heads of a store can be copied elsewhere; either anchors the chain.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import attrs

from vas_lifecycle.clock import utc_text
from vas_lifecycle.order import Event

__all__ = [
    "ENCODING",
    "GENESIS",
    "Chain",
    "EvidenceCheck",
    "EvidenceProblem",
    "ProblemKind",
    "StoreCheck",
    "StoreTally",
    "StoredEvent",
    "canonical",
    "check",
    "digest",
    "event_values",
    "link",
]

#: the name and version of the canonical encoding, the first element of every array
ENCODING = "vas-evidence/1"
#: the ``prev`` of an order's first event
GENESIS = "0" * 64
#: how many problems a store check keeps as examples (the counts cover all)
EXAMPLES = 20

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode

#: an event's fields in the order the encoding lists them: order_id, seq, kind, at,
#: channel, actor, text_in, text_out, data (plain strings, an int, and a dict)
Values = tuple[str, int, str, str, "str | None", str, "str | None", "str | None", dict[str, str]]


def event_values(event: Event) -> Values:
    """The fields of ``event`` as the canonical encoding lists them."""
    return (
        event.order_id,
        event.seq,
        str(event.kind),
        utc_text(event.at),
        None if event.channel is None else str(event.channel),
        event.actor,
        event.text_in,
        event.text_out,
        dict(event.data),
    )


def canonical(prev: str, values: Sequence[Any]) -> bytes:
    """The canonical encoding of an event with these fields, after ``prev``."""
    return _ENCODE([ENCODING, prev, *values]).encode()


def link(prev: str, values: Sequence[Any]) -> str:
    """The hash of an event with these fields, after the event whose hash is
    ``prev``: SHA-256 of :func:`canonical`, as 64 hex digits."""
    return hashlib.sha256(canonical(prev, values)).hexdigest()


def digest(prev: str, values: Sequence[Any]) -> bytes:
    """:func:`link` as its 32 bytes."""
    return hashlib.sha256(canonical(prev, values)).digest()


class ProblemKind(enum.StrEnum):
    """What a check found wrong with an order's evidence."""

    #: an event's content does not match its hash (edited, or unreadable)
    CHANGED = "changed"
    #: events missing: a gap in the sequence, or fewer events than the order's version
    REMOVED = "removed"
    #: events the chain does not account for: after the order's version, or between
    #: two events that were linked to each other
    INSERTED = "inserted"
    #: an event stored under another position than the one it was hashed at
    REORDERED = "reordered"
    #: an event (or the order's head) does not point to the event before it
    BROKEN_LINK = "broken_link"
    #: events written before the store kept chains, not sealed yet (run ``seal``)
    UNSEALED = "unsealed"
    #: events whose order is gone
    ORPHANED = "orphaned"


@attrs.frozen
class EvidenceProblem:
    """One thing wrong with an order's evidence, at event ``seq`` (None: the order)."""

    order_id: str
    kind: ProblemKind
    seq: int | None
    detail: str

    def __str__(self) -> str:
        where = f"event {self.seq}" if self.seq is not None else "the order"
        return f"order {self.order_id}, {where}: {self.kind}: {self.detail}"


class StoredEvent(NamedTuple):
    """An event as a store holds it: its position, its fields as the encoding lists
    them (None when the stored row cannot be read), and its stored links."""

    seq: int
    values: Values | None
    prev: str | None
    hash: str | None


@attrs.frozen
class Chain:
    """One order's evidence as stored: the order row's version and head (None when the
    order row is gone) and every stored event, by position. ``chained_from`` is the
    first event hashed when it was written; the events before it were written before
    the store kept chains and were sealed at ``sealed_at`` (UTC text) by the
    migration."""

    order_id: str
    version: int | None
    head: str | None
    events: tuple[StoredEvent, ...]
    chained_from: int = 1
    sealed_at: str | None = None


@attrs.frozen
class EvidenceCheck:
    """What :func:`check` found in one order's evidence: ``ok`` when nothing."""

    order_id: str
    events: int
    problems: tuple[EvidenceProblem, ...]
    chained_from: int = 1
    sealed_at: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def check(chain: Chain) -> EvidenceCheck:
    """Check one order's chain: every event's hash against its content, every link
    against the event before it, the positions against the order's version, and the
    order's head against its last event."""
    found = _Findings(chain.order_id)
    if chain.version is None:
        found.add(ProblemKind.ORPHANED, None, "events whose order row is gone")
    events = sorted(chain.events, key=lambda e: e.seq)
    top = max([chain.version or 0, *(e.seq for e in events)])
    before: str | None = GENESIS  # what the next event's prev must be
    hashes: dict[int, str] = {}
    expected = 1
    for event in events:
        if event.seq > expected:
            found.add(
                ProblemKind.REMOVED, expected, f"events {expected} to {event.seq - 1} missing"
            )
        if event.hash is None or event.prev is None:
            found.add(ProblemKind.UNSEALED, event.seq, "written before the store kept chains")
            before, expected = None, event.seq + 1
            continue
        if event.values is None or link(event.prev, event.values) != event.hash:
            moved = _hashed_at(event, top)
            if moved is not None:
                found.add(ProblemKind.REORDERED, event.seq, f"hashed as event {moved}")
            else:
                found.add(ProblemKind.CHANGED, event.seq, "its content does not match its hash")
        elif before is not None and event.seq == expected and event.prev != before:
            if event.prev == hashes.get(event.seq - 2):
                found.add(ProblemKind.INSERTED, event.seq - 1, "not linked from the event after it")
            else:
                found.add(ProblemKind.BROKEN_LINK, event.seq, "does not follow the event before it")
        hashes[event.seq] = event.hash
        before, expected = event.hash, event.seq + 1
    _check_order(found, chain, expected - 1, before)
    return EvidenceCheck(
        chain.order_id, len(events), tuple(found.problems), chain.chained_from, chain.sealed_at
    )


def _check_order(found: _Findings, chain: Chain, last: int, head: str | None) -> None:
    """The order row against its events: the version is the last position, and the
    head the last event's hash."""
    version = chain.version
    if version is None:
        return
    if last < version:
        found.add(ProblemKind.REMOVED, last + 1, f"events {last + 1} to {version} missing")
    elif last > version:
        found.add(ProblemKind.INSERTED, version + 1, f"events after the order's version {version}")
    elif head is not None and chain.head != head:
        found.add(ProblemKind.BROKEN_LINK, None, "the order's head is not its last event's hash")


def _hashed_at(event: StoredEvent, top: int) -> int | None:
    """The other position whose hash ``event``'s content matches, if any (it was moved)."""
    values = event.values
    if values is None or event.prev is None:
        return None
    for seq in range(1, top + 2):
        if seq != event.seq and link(event.prev, (values[0], seq, *values[2:])) == event.hash:
            return seq
    return None


class _Findings:
    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        self.problems: list[EvidenceProblem] = []

    def add(self, kind: ProblemKind, seq: int | None, detail: str) -> None:
        self.problems.append(EvidenceProblem(self.order_id, kind, seq, detail))


@attrs.frozen
class StoreCheck:
    """What a check of a whole store found: how many orders and events it read, how
    many orders have problems, the problems by kind, and the first few of them."""

    orders: int
    events: int
    bad_orders: int
    problems: Mapping[ProblemKind, int]
    examples: tuple[EvidenceProblem, ...]
    #: orders whose first events were sealed by the migration, not as written
    sealed_later: int = 0

    @property
    def ok(self) -> bool:
        return self.bad_orders == 0

    def summary(self) -> str:
        """One line: what was checked and what was found."""
        checked = f"{_count(self.orders, 'order')}, {_count(self.events, 'event')} checked"
        if self.ok:
            return f"evidence intact: {checked}"
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.problems.items()))
        return f"evidence NOT intact: {checked}; {_count(self.bad_orders, 'order')} with problems ({kinds})"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


class StoreTally:
    """Adds up order checks into a :class:`StoreCheck`, keeping only counts and the
    first :data:`EXAMPLES` problems (constant memory over any number of orders)."""

    def __init__(self) -> None:
        self.orders = self.events = self.bad = self.sealed_later = 0
        self.kinds: Counter[ProblemKind] = Counter()
        self.examples: list[EvidenceProblem] = []

    def add(self, result: EvidenceCheck) -> None:
        self.orders += 1
        self.events += result.events
        self.sealed_later += result.chained_from > 1
        if result.problems:
            self.bad += 1
            self.kinds.update(p.kind for p in result.problems)
            self.examples.extend(result.problems[: EXAMPLES - len(self.examples)])

    def result(self) -> StoreCheck:
        return StoreCheck(
            self.orders,
            self.events,
            self.bad,
            dict(self.kinds),
            tuple(self.examples),
            self.sealed_later,
        )
