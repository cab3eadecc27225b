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

import datetime as dt
import enum
import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from json.encoder import encode_basestring as _quote  # the C escaper json.dumps uses
from typing import Any, NamedTuple

import attrs

from vas_lifecycle.clock import utc_text
from vas_lifecycle.errors import InvalidArgumentError
from vas_lifecycle.order import Event, EventData

__all__ = [
    "BUNDLE_FORMAT",
    "ENCODING",
    "GENESIS",
    "BundleCheck",
    "Chain",
    "EvidenceCheck",
    "EvidenceProblem",
    "ProblemKind",
    "StoreCheck",
    "StoreTally",
    "StoredEvent",
    "bundle_bytes",
    "canonical",
    "check",
    "data_text",
    "event_values",
    "key_id",
    "link",
    "link_text",
    "make_bundle",
    "new_signing_key",
    "plain",
    "verify_bundle",
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
    """The canonical encoding of an event with these fields, after ``prev`` (the
    reference: any JSON values, as a check reads them back from a store)."""
    return _ENCODE([ENCODING, prev, *values]).encode()


def link(prev: str, values: Sequence[Any]) -> str:
    """The hash of an event with these fields, after the event whose hash is
    ``prev``: SHA-256 of :func:`canonical`, as 64 hex digits."""
    return hashlib.sha256(canonical(prev, values)).hexdigest()


def data_text(data: Mapping[str, str]) -> str:
    """An event's facts as the encoding writes them: keys sorted (an event's data
    keeps them sorted already)."""
    if isinstance(data, EventData):
        flat = data.flat()
    else:
        flat = tuple(text for pair in sorted(data.items()) for text in pair)
    count = len(flat) // 2
    shape = _OBJECTS[count] if count < len(_OBJECTS) else _object(count)
    return shape % tuple(map(_quote, flat))


def _object(count: int) -> str:
    """The shape of a JSON object of ``count`` quoted keys and values."""
    return "{" + ",".join(["%s:%s"] * count) + "}"


#: the shapes of the objects most events' facts make
_OBJECTS = tuple(_object(count) for count in range(32))


def link_text(
    prev: str,
    order_id: str,
    seq: int,
    kind: str,
    at: str,
    channel: str | None,
    actor: str,
    text_in: str | None,
    text_out: str | None,
    data: str,
) -> bytes:
    """:func:`link` on an event about to be written, as its 32 bytes: the same
    encoding built field by field (``at`` already as UTC text, ``data`` as
    :func:`data_text`), the path every command takes."""
    text = (
        f'["{ENCODING}","{prev}",{_quote(order_id)},{seq},"{kind}","{at}",'
        f"{'null' if channel is None else _quote(channel)},{_quote(actor)},"
        f"{'null' if text_in is None else _quote(text_in)},"
        f"{'null' if text_out is None else _quote(text_out)},{data}]"
    )
    return hashlib.sha256(text.encode()).digest()


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
    # a moved event is looked for among the positions there are (never a loop as long
    # as a forged version or position says)
    top = len(events) + 1
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
    first ``EXAMPLES`` problems (constant memory over any number of orders)."""

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


# --- the exported bundle --------------------------------------------------------------

#: the name and version of an exported bundle's layout
BUNDLE_FORMAT = "vas-evidence-bundle/1"
#: the signature scheme of a signed bundle
SIGNATURE = "ed25519"


def plain(value: object) -> Any:
    """A record's field as JSON: text for amounts and times (UTC), values for enums."""
    if value is None or (isinstance(value, bool | int | str) and not isinstance(value, enum.Enum)):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return utc_text(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # a NamedTuple (a pack)
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if attrs.has(type(value)):
        names = [f.name for f in attrs.fields(type(value))]  # type: ignore[arg-type]
        return {name: plain(getattr(value, name)) for name in names}
    raise TypeError(f"cannot export {type(value).__name__}")


def bundle_bytes(bundle: Mapping[str, Any]) -> bytes:
    """A bundle as its file holds it: JSON, keys sorted, two-space indents, characters
    outside ASCII as themselves, and a final newline (one text for one bundle, so a
    changed byte anywhere is found)."""
    return (json.dumps(bundle, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _content(bundle: Mapping[str, Any]) -> bytes:
    """What the digest and the signature cover: everything but themselves, in the
    canonical encoding's JSON (keys sorted, no whitespace)."""
    body = {k: v for k, v in bundle.items() if k not in ("digest", "signature")}
    return _ENCODE(body).encode()


def make_bundle(
    chain: Chain,
    order: Mapping[str, Any],
    notices: Sequence[Mapping[str, Any]],
    charges: Sequence[Mapping[str, Any]],
    refunds: Sequence[Mapping[str, Any]],
    exported_at: str,
    signing_key: bytes | None = None,
) -> dict[str, Any]:
    """One order's evidence as a self-contained bundle: the order, every event with
    its links, every notice as sent (with its delivery reports), the charges and the
    refunds; a digest over all of it, and an Ed25519 signature when a key is given."""
    bundle: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "encoding": ENCODING,
        "order_id": chain.order_id,
        "exported_at": exported_at,
        "order": dict(order),
        # where the chain begins: events before chained_from were written before the
        # store kept chains and were sealed at sealed_at
        "chain": {
            "algorithm": "sha256",
            "genesis": GENESIS,
            "head": chain.head,
            "version": chain.version,
            "chained_from": chain.chained_from,
            "sealed_at": chain.sealed_at,
        },
        "events": _bundle_events(chain),
        "notices": list(notices),
        "charges": list(charges),
        "refunds": list(refunds),
    }
    content = _content(bundle)
    bundle["digest"] = hashlib.sha256(content).hexdigest()
    if signing_key is not None:
        private = _load_key(signing_key, private=True)
        public = _raw_public(private.public_key())
        bundle["signature"] = {
            "algorithm": SIGNATURE,
            "key_id": key_id(public),
            "public_key": public.hex(),
            "value": private.sign(content).hex(),
        }
    return bundle


def _bundle_events(chain: Chain) -> list[dict[str, Any]]:
    """The chain's events as a bundle lists them, each with its links."""
    events = []
    for stored in chain.events:
        assert stored.values is not None, "a store check would have found this event"
        _oid, seq, kind, at, channel, actor, text_in, text_out, data = stored.values
        events.append(
            {
                "seq": seq,
                "kind": kind,
                "at": at,
                "channel": channel,
                "actor": actor,
                "text_in": text_in,
                "text_out": text_out,
                "data": data,
                "prev": stored.prev,
                "hash": stored.hash,
            }
        )
    return events


@attrs.frozen
class BundleCheck:
    """What :func:`verify_bundle` found: ``ok`` when the bundle is intact (its bytes,
    its digest, its events' chain) and, when a key was given, signed with it."""

    order_id: str | None
    problems: tuple[str, ...]
    chain: EvidenceCheck | None = None
    #: the key id of the signature, if the bundle is signed
    signed_by: str | None = None
    #: True when the signature was checked against the key given, and holds
    signature_verified: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_bundle(
    bundle: Mapping[str, Any] | str | bytes, *, public_key: bytes | None = None
) -> BundleCheck:
    """Check an exported bundle with nothing but this module: its text (when given as
    the file's bytes or text, every byte), its digest, its events' hash chain against
    its order, and, with ``public_key`` (the operator's Ed25519 public key, raw or
    PEM), its signature. Never raises for a damaged bundle: the problems say what is
    wrong."""
    try:
        return _verify_any(bundle, public_key)
    except RecursionError:  # hostile input: nested deeper than anything we export
        return BundleCheck(None, ("not a bundle: nested too deeply",))


def _verify_any(bundle: Mapping[str, Any] | str | bytes, public_key: bytes | None) -> BundleCheck:
    if isinstance(bundle, str | bytes):
        raw = bundle.encode() if isinstance(bundle, str) else bundle
        try:
            parsed = json.loads(raw)
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            return BundleCheck(None, (f"not a bundle: {err}",))
        if not isinstance(parsed, dict):
            return BundleCheck(None, ("not a bundle: not a JSON object",))
        if bundle_bytes(parsed) != raw:
            return _verify(parsed, public_key, ("its text was changed (not as exported)",))
        return _verify(parsed, public_key, ())
    return _verify(bundle, public_key, ())


def _verify(
    bundle: Mapping[str, Any], public_key: bytes | None, found: tuple[str, ...]
) -> BundleCheck:
    problems = list(found)
    order_id = bundle.get("order_id") if isinstance(bundle.get("order_id"), str) else None
    if bundle.get("format") != BUNDLE_FORMAT:
        return BundleCheck(order_id, (*problems, f"not a {BUNDLE_FORMAT} bundle"))
    content = _content(bundle)
    if bundle.get("digest") != hashlib.sha256(content).hexdigest():
        problems.append("its content does not match its digest")
    chain = _bundle_chain(bundle)
    result = check(chain) if chain is not None else None
    if result is None:
        problems.append("its events cannot be read")
    else:
        problems += [str(p) for p in result.problems]
    signed_by, verified = _check_signature(bundle, content, public_key, problems)
    return BundleCheck(order_id, tuple(problems), result, signed_by, verified)


def _bundle_chain(bundle: Mapping[str, Any]) -> Chain | None:
    """The chain a bundle states, or None when its shape is not a bundle's (a bundle
    is hostile input: every field is checked for its type before it is used)."""
    try:
        order_id, chain, events = bundle["order_id"], bundle["chain"], bundle["events"]
        head, version = chain["head"], chain["version"]
        chained_from, sealed_at = chain.get("chained_from") or 1, chain.get("sealed_at")
        if not (
            isinstance(order_id, str)
            and _optional(head, str)
            and _optional(version, int)
            and isinstance(chained_from, int)
            and _optional(sealed_at, str)
            and isinstance(events, list)
        ):
            return None
        stored = tuple(_bundle_event(e, order_id) for e in events)
    except (KeyError, TypeError, AttributeError):
        return None
    if any(e is None for e in stored):
        return None
    return Chain(order_id, version, head, stored, chained_from, sealed_at)  # type: ignore[arg-type]


def _bundle_event(e: Any, order_id: str) -> StoredEvent | None:
    """One event of a bundle, as a store would hold it; None when a field has the
    wrong type (its facts not all strings: read as unreadable, so found changed)."""
    if not isinstance(e, Mapping):
        return None
    seq, prev, digest = e.get("seq"), e.get("prev"), e.get("hash")
    if not (isinstance(seq, int) and not isinstance(seq, bool)):
        return None
    if not (_optional(prev, str) and _optional(digest, str)):
        return None
    texts = [e.get(k) for k in ("kind", "at", "channel", "actor", "text_in", "text_out")]
    data = e.get("data")
    readable = all(_optional(t, str) for t in texts) and (
        isinstance(data, dict) and all(isinstance(v, str) for v in data.values())
    )
    kind, at, channel, actor, text_in, text_out = texts
    values = (order_id, seq, kind, at, channel, actor, text_in, text_out, data)
    return StoredEvent(seq, values if readable else None, prev, digest)  # type: ignore[arg-type]


def _optional(value: object, kind: type) -> bool:
    return value is None or (isinstance(value, kind) and not isinstance(value, bool))


def _check_signature(
    bundle: Mapping[str, Any], content: bytes, public_key: bytes | None, problems: list[str]
) -> tuple[str | None, bool]:
    key = _load_key(public_key, private=False) if public_key is not None else None
    signature = bundle.get("signature")
    if signature is None:
        if public_key is not None:
            problems.append("it is not signed")
        return None, False
    if not isinstance(signature, Mapping) or signature.get("algorithm") != SIGNATURE:
        problems.append("its signature is not an Ed25519 signature")
        return None, False
    signed_by = signature.get("key_id")
    if key is None:
        return signed_by if isinstance(signed_by, str) else None, False
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(bytes.fromhex(str(signature.get("value"))), content)
    except (InvalidSignature, ValueError):
        problems.append(f"its signature does not hold for key {key_id(_raw_public(key))}")
        return signed_by if isinstance(signed_by, str) else None, False
    return key_id(_raw_public(key)), True


def key_id(public: bytes) -> str:
    """A public key's short name: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public).hexdigest()[:16]


def new_signing_key() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair for signing bundles: (private, public), raw 32 bytes
    each. Keep the private key where the store is not; give the public key to whoever
    verifies."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    return _raw_private(private), _raw_public(private.public_key())


def _load_key(key: bytes, *, private: bool) -> Any:
    """An Ed25519 key from its 32 raw bytes or its PEM text; InvalidArgumentError for
    anything else, or when the ``signing`` extra is not installed."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise InvalidArgumentError(
            "signing and checking signatures needs the 'signing' extra: "
            "pip install 'vas-lifecycle[signing]'"
        ) from None
    kind: Any = ed25519.Ed25519PrivateKey if private else ed25519.Ed25519PublicKey
    what = "private" if private else "public"
    try:
        if len(key) == 32:
            return kind.from_private_bytes(key) if private else kind.from_public_bytes(key)
        if private:
            loaded: Any = serialization.load_pem_private_key(key, password=None)
        else:
            loaded = serialization.load_pem_public_key(key)
    except (ValueError, TypeError) as err:
        raise InvalidArgumentError(f"not an Ed25519 {what} key: {err}") from None
    if not isinstance(loaded, kind):
        raise InvalidArgumentError(f"the {what} key must be an Ed25519 key")
    return loaded


def _raw_public(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    raw = serialization.Encoding.Raw
    return bytes(key.public_bytes(raw, serialization.PublicFormat.Raw))


def _raw_private(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    )
