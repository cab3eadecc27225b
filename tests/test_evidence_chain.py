"""C18: every event of an order is chained to the one before it, and a check finds any
event changed, removed, inserted or re-ordered, on plain values and on real stores
whose rows are edited behind the library's back."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pendulum
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SUB, make_catalog
from tests.test_store_postgres import DSN, drop_schema, require_postgres
from vas_lifecycle import (
    Channel,
    Lifecycle,
    ManualClock,
    MemoryStore,
    Policy,
    RecordingNotifier,
    SQLiteStore,
    Store,
)
from vas_lifecycle.cli.app import main
from vas_lifecycle.errors import InvalidArgumentError, UnknownOrderError
from vas_lifecycle.evidence import (
    GENESIS,
    Chain,
    ProblemKind,
    StoredEvent,
    _content,
    bundle_bytes,
    canonical,
    check,
    data_text,
    event_values,
    key_id,
    link,
    link_text,
    new_signing_key,
    verify_bundle,
)
from vas_lifecycle.order import Event, EventKind

START = pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai")


# --- the chain on plain values ---------------------------------------------------------


def _event(seq: int, kind: EventKind = EventKind.CONSENT_GRANTED, **data: str) -> Event:
    return Event(
        "o1", seq, kind, START.add(minutes=seq), Channel.SMS, SUB, "Y", "好的", data or {"k": "v"}
    )


def _chain(count: int = 4) -> Chain:
    """A well-formed chain of ``count`` events, as a store would hold it."""
    stored, prev = [], GENESIS
    for seq in range(1, count + 1):
        values = event_values(_event(seq, code=str(seq)))
        digest = link(prev, values)
        stored.append(StoredEvent(seq, values, prev, digest))
        prev = digest
    return Chain("o1", count, prev, tuple(stored))


def _moved(event: StoredEvent, seq: int) -> StoredEvent:
    """``event`` stored under position ``seq`` (a row's seq column changed)."""
    assert event.values is not None
    return event._replace(seq=seq, values=(event.values[0], seq, *event.values[2:]))


def _kinds(chain: Chain) -> set[ProblemKind]:
    return {p.kind for p in check(chain).problems}


def test_c18_the_canonical_encoding_is_the_documented_json_array() -> None:
    """The hash covers exactly the documented array, byte for byte, so anyone can
    recompute it without this library."""
    event = Event(
        "o1",
        1,
        EventKind.ORDER_REQUESTED,
        pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai"),
        Channel.WEB,
        "+8613800138000",
        None,
        '回复"是"',
        {"price": "5", "code": "123"},
    )
    expected = (
        '["vas-evidence/1","' + GENESIS + '","o1",1,"order_requested",'
        '"2026-11-24T01:00:00.000000Z","web","+8613800138000",null,"回复\\"是\\"",'
        '{"code":"123","price":"5"}]'
    ).encode()
    assert canonical(GENESIS, event_values(event)) == expected
    assert link(GENESIS, event_values(event)) == hashlib.sha256(expected).hexdigest()


@given(
    texts=st.lists(st.text(), min_size=3, max_size=3),
    data=st.dictionaries(st.text(), st.text(), max_size=5),
    seq=st.integers(1, 10**6),
)
def test_c18_the_writers_encoding_is_the_reference_encoding_for_every_text(
    texts: list[str], data: dict[str, str], seq: int
) -> None:
    """Commands build the encoding field by field (fast); checks read it back through
    json (any values): both give the same bytes for every text, escapes included."""
    actor, text_in, text_out = texts
    event = Event(
        "o1", seq, EventKind.ORDER_CANCELLED, START, Channel.SMS, actor, text_in, text_out, data
    )
    values = event_values(event)
    fast = link_text("f" * 64, *values[:8], data_text(event.data))
    assert fast.hex() == link("f" * 64, values)
    none = link_text(
        "f" * 64, "o1", seq, "order_cancelled", values[3], None, actor, None, None, "{}"
    )
    assert none.hex() == link(
        "f" * 64, ("o1", seq, "order_cancelled", values[3], None, actor, None, None, {})
    )


def test_c18_an_intact_chain_checks_clean() -> None:
    result = check(_chain())
    assert result.ok and result.events == 4 and result.problems == ()


def test_c18_a_changed_event_is_found_where_it_was_changed() -> None:
    chain = _chain()
    e = chain.events[1]
    assert e.values is not None
    forged = e._replace(values=(*e.values[:7], "我没有同意", e.values[8]))
    result = check(attrs.evolve(chain, events=(chain.events[0], forged, *chain.events[2:])))
    assert [(p.kind, p.seq) for p in result.problems] == [(ProblemKind.CHANGED, 2)]


def test_c18_a_removed_event_is_found_in_the_middle_and_at_the_end() -> None:
    chain = _chain()
    middle = attrs.evolve(chain, events=(chain.events[0], *chain.events[2:]))
    assert [(p.kind, p.seq) for p in check(middle).problems] == [(ProblemKind.REMOVED, 2)]
    tail = attrs.evolve(chain, events=chain.events[:3])
    assert [(p.kind, p.seq) for p in check(tail).problems] == [(ProblemKind.REMOVED, 4)]


def test_c18_an_inserted_event_is_found_even_with_a_correct_hash() -> None:
    chain = _chain()
    values = event_values(_event(5, EventKind.ORDER_CANCELLED))
    extra = StoredEvent(5, values, chain.head, link(str(chain.head), values))
    assert _kinds(attrs.evolve(chain, events=(*chain.events, extra))) == {ProblemKind.INSERTED}


def test_c18_an_event_inserted_in_the_middle_and_the_rest_renumbered_is_found() -> None:
    chain = _chain(3)
    first = chain.events[0]
    values = event_values(_event(2, EventKind.CONSENT_GRANTED, forged="yes"))
    forged = StoredEvent(2, values, first.hash, link(str(first.hash), values))
    shifted = tuple(_moved(e, e.seq + 1) for e in chain.events[1:])
    kinds = _kinds(attrs.evolve(chain, events=(first, forged, *shifted)))
    assert ProblemKind.INSERTED in kinds and ProblemKind.REORDERED in kinds


def test_c18_reordered_events_are_found_with_where_they_were_hashed() -> None:
    chain = _chain()
    a, b = chain.events[1], chain.events[2]
    swapped = (chain.events[0], _moved(b, 2), _moved(a, 3), chain.events[3])
    problems = check(attrs.evolve(chain, events=swapped)).problems
    assert {(p.kind, p.seq, p.detail) for p in problems} >= {
        (ProblemKind.REORDERED, 2, "hashed as event 3"),
        (ProblemKind.REORDERED, 3, "hashed as event 2"),
    }


def test_c18_a_broken_link_and_a_wrong_head_are_found() -> None:
    chain = _chain()
    e = chain.events[2]
    assert e.values is not None
    relinked = e._replace(prev="1" * 64, hash=link("1" * 64, e.values))
    broken = attrs.evolve(chain, events=(*chain.events[:2], relinked, chain.events[3]))
    # event 3 no longer follows event 2, and event 4 no longer follows event 3
    assert [(p.kind, p.seq) for p in check(broken).problems] == [
        (ProblemKind.BROKEN_LINK, 3),
        (ProblemKind.BROKEN_LINK, 4),
    ]
    headless = attrs.evolve(chain, head="2" * 64)
    assert [(p.kind, p.seq) for p in check(headless).problems] == [(ProblemKind.BROKEN_LINK, None)]


def test_c18_unsealed_orphaned_and_unreadable_events_are_problems() -> None:
    chain = _chain(2)
    unsealed = attrs.evolve(
        chain, head=None, events=tuple(e._replace(prev=None, hash=None) for e in chain.events)
    )
    assert _kinds(unsealed) == {ProblemKind.UNSEALED}
    assert _kinds(attrs.evolve(chain, version=None)) == {ProblemKind.ORPHANED}
    unreadable = attrs.evolve(
        chain, events=(chain.events[0]._replace(values=None), chain.events[1])
    )
    assert _kinds(unreadable) == {ProblemKind.CHANGED}


# --- the chain in real stores, edited behind the library's back ------------------------


@attrs.define
class Tampered:
    """A store with a few orders, and a raw connection to edit its rows."""

    lc: Lifecycle
    execute: Callable[[str, tuple[Any, ...]], None]
    orders: list[str]
    reopen: Callable[[], Store]
    where: list[str]


def _populate(lc: Lifecycle, clock: ManualClock) -> list[str]:
    ids = []
    for n in range(3):
        order = lc.request(f"+86138001380{n:02d}", "NEWS", channel=Channel.WEB)
        clock.advance(pendulum.duration(seconds=20))
        lc.confirm(order.id, msisdn=order.msisdn, channel=Channel.SMS)
        clock.advance(pendulum.duration(minutes=1))
        if n < 2:  # the last stays active
            lc.unsubscribe(order.id, channel=Channel.SMS, text="TD")
        ids.append(order.id)
    return ids


@pytest.fixture(params=["sqlite", "postgres"])
def tampered(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tampered]:
    clock = ManualClock(START)
    if request.param == "sqlite":
        path = tmp_path / "vas.db"

        def execute_sqlite(sql: str, params: tuple[Any, ...]) -> None:
            with sqlite3.connect(path) as conn:
                conn.execute(sql.replace("%s", "?"), params)

        lc = Lifecycle(
            make_catalog(), clock=clock, notifier=RecordingNotifier(), store=SQLiteStore(path)
        )
        yield Tampered(
            lc, execute_sqlite, _populate(lc, clock), lambda: SQLiteStore(path), ["--db", str(path)]
        )
        lc.close()
        return
    import psycopg

    from vas_lifecycle import PostgresStore

    require_postgres()
    schema = "vas_test_tamper"
    drop_schema(schema)

    def execute_pg(sql: str, params: tuple[Any, ...]) -> None:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            conn.execute(sql, params)

    lc = Lifecycle(
        make_catalog(),
        clock=clock,
        notifier=RecordingNotifier(),
        store=PostgresStore(DSN, schema=schema),
    )
    yield Tampered(
        lc,
        execute_pg,
        _populate(lc, clock),
        lambda: PostgresStore(DSN, schema=schema),
        ["--dsn", DSN, "--schema", schema],
    )
    lc.close()
    drop_schema(schema)


def _verify_cli(t: Tampered) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["verify", *t.where])
    return result.exit_code, result.output


def test_c18_an_untouched_store_verifies_clean(tampered: Tampered) -> None:
    t = tampered
    assert all(t.lc.verify_evidence(oid).ok for oid in t.orders)
    summary = t.lc.verify_store(page=2)  # pages of two: the paging is crossed
    assert summary.ok and summary.orders == 3 and summary.events == 11
    code, out = _verify_cli(t)
    assert code == 0 and out.startswith("evidence intact: 3 orders, 11 events checked")


EDITS = {
    # what was done to the rows -> the problem the check must report
    "edit": (
        "UPDATE vas_events SET text_in = %s WHERE order_id = %s AND seq = 3",
        ("N",),
        ProblemKind.CHANGED,
    ),
    "edit_time": (
        "UPDATE vas_events SET at = %s WHERE order_id = %s AND seq = 2",
        ("2026-11-25T01:00:00.000000Z",),
        ProblemKind.CHANGED,
    ),
    "delete": (
        "DELETE FROM vas_events WHERE seq = 2 AND order_id = %s",
        (),
        ProblemKind.REMOVED,
    ),
    "delete_last": (
        "DELETE FROM vas_events WHERE seq = 4 AND order_id = %s",
        (),
        ProblemKind.REMOVED,
    ),
    "insert": (
        "INSERT INTO vas_events (order_id, seq, kind, at, channel, actor, data, prev, hash) "
        "SELECT order_id, 5, kind, at, channel, actor, data, hash, hash FROM vas_events "
        "WHERE order_id = %s AND seq = 4",
        (),
        ProblemKind.INSERTED,
    ),
    "reorder": (
        "UPDATE vas_events SET seq = CASE seq WHEN 2 THEN 3 ELSE 2 END + 100 "
        "WHERE order_id = %s AND seq IN (2, 3); "
        "UPDATE vas_events SET seq = seq - 100 WHERE seq > 100",
        (),
        ProblemKind.REORDERED,
    ),
    "relink": (
        "UPDATE vas_events SET prev = %s WHERE order_id = %s AND seq = 3",
        ("0" * 64,),
        ProblemKind.CHANGED,
    ),
    "orphan": ("DELETE FROM vas_orders WHERE id = %s", (), ProblemKind.ORPHANED),
    "data_not_an_object": (
        "UPDATE vas_events SET data = %s WHERE order_id = %s AND seq = 2",
        ('["not", "an", "object"]',),
        ProblemKind.CHANGED,
    ),
    "data_not_json": (
        "UPDATE vas_events SET data = %s WHERE order_id = %s AND seq = 2",
        ("{broken",),
        ProblemKind.CHANGED,
    ),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_c18_every_edit_of_the_rows_is_found(tampered: Tampered, edit: str) -> None:
    t = tampered
    sql, params, kind = EDITS[edit]
    victim = t.orders[1]
    first, _, then = sql.partition("; ")
    t.execute(first, (*params, victim))
    if then:
        t.execute(then, ())
    result = t.lc.verify_evidence(victim)
    assert not result.ok and kind in {p.kind for p in result.problems}, result
    assert all(t.lc.verify_evidence(oid).ok for oid in t.orders if oid != victim)
    summary = t.lc.verify_store()
    assert not summary.ok and summary.bad_orders == 1 and summary.problems[kind] >= 1
    assert all(p.order_id == victim for p in summary.examples)
    code, out = _verify_cli(t)
    assert code == 1 and "evidence NOT intact" in out and victim in out and str(kind) in out


def test_c18_the_cli_checks_one_order(tampered: Tampered) -> None:
    t = tampered
    t.execute(
        "UPDATE vas_events SET actor = %s WHERE order_id = %s AND seq = 1", ("x", t.orders[0])
    )
    ok = CliRunner().invoke(main, ["verify", *t.where, "--order", t.orders[2]])
    assert ok.exit_code == 0 and "evidence intact (3 events checked)" in ok.output
    bad = CliRunner().invoke(main, ["verify", *t.where, "--order", t.orders[0]])
    assert bad.exit_code == 1 and "event 1: changed" in bad.output


def test_c18_a_store_from_before_the_chain_is_sealed_resumably(tampered: Tampered) -> None:
    """Orders stored before schema 14 have no chain: verify says so; a new event seals
    its order in the same unit of work; seal_evidence seals the rest a batch at a
    time (stopped and taken up again), noting where the chain was written from."""
    t = tampered
    t.execute("UPDATE vas_events SET prev = NULL, hash = NULL WHERE order_id <> %s", ("",))
    t.execute("UPDATE vas_orders SET head = NULL WHERE id <> %s", ("",))
    summary = t.lc.verify_store()
    assert summary.bad_orders == 3 and set(summary.problems) == {ProblemKind.UNSEALED}
    # an order that gets an event is sealed by that unit of work, then chained on
    active = t.orders[2]
    t.lc.unsubscribe(active, channel=Channel.SMS, text="TD")
    result = t.lc.verify_evidence(active)
    assert result.ok and result.events == 4 and result.chained_from == 4 and result.sealed_at
    assert t.lc.seal_evidence(batch=1, max_batches=1) == 1  # stopped after one batch
    assert t.lc.verify_store().problems == {ProblemKind.UNSEALED: 4}  # one order left
    assert t.lc.seal_evidence(batch=1) == 1  # taken up again, to the end
    assert t.lc.seal_evidence() == 0
    summary = t.lc.verify_store()
    assert summary.ok and summary.sealed_later == 3, summary
    sealed = t.lc.verify_evidence(t.orders[0])
    assert sealed.chained_from == 5 and sealed.sealed_at is not None
    # and the sealed chains catch edits like any other
    t.execute("UPDATE vas_events SET text_out = %s WHERE order_id = %s AND seq = 2", ("", active))
    assert not t.lc.verify_evidence(active).ok


def test_c18_verifying_an_unknown_order_is_an_unknown_order_error() -> None:
    lc = Lifecycle(make_catalog(), clock=ManualClock(START), store=MemoryStore())
    with pytest.raises(UnknownOrderError):
        lc.verify_evidence("nope")


def test_c18_the_memory_store_keeps_the_same_chain_as_sqlite(tmp_path: Path) -> None:
    """Both stores hash the same events to the same chain: the encoding is the
    store's business only in where it keeps the hashes."""
    heads = []
    for store in (MemoryStore(), SQLiteStore(tmp_path / "same.db")):
        clock = ManualClock(START)
        ids = iter(f"{n:032x}" for n in range(100))
        lc = Lifecycle(
            make_catalog(),
            clock=clock,
            notifier=RecordingNotifier(),
            store=store,
            ids=lambda: next(ids),  # noqa: B023 - used within the iteration
            rng=random.Random(7),
        )
        order_id = _populate(lc, clock)[0]
        with lc.store.transaction(readonly=True) as tx:
            found = tx.evidence.chain(order_id)
        assert found is not None and check(found).ok
        heads.append([e.hash for e in found.events])
    assert heads[0] == heads[1]
    assert json.dumps(heads[0])  # plain hex strings


# --- the exported bundle ----------------------------------------------------------------


def _billed_order(tmp_path: Path) -> tuple[Lifecycle, str]:
    """An order with everything a bundle holds: events, notices with a delivery
    report, a charge and a refund."""
    clock = ManualClock(START)
    lc = Lifecycle(
        make_catalog(),
        clock=clock,
        notifier=RecordingNotifier(),
        store=SQLiteStore(tmp_path / "bundle.db"),
        policy=Policy.china_mobile(refund_window=dt.timedelta(hours=24)),
    )
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    clock.advance(dt.timedelta(seconds=20))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    (request, *_) = lc.notices(order.id)
    lc.record_delivery_report(request.id, "delivered", detail="DLR 1")
    charge = lc.record_charge(order.id, "5.00", key="bill-1")
    lc.refund(order.id, key="refund-1", reason="goodwill", amount="1.00", charge_key=charge.key)
    return lc, order.id


def test_c18_a_bundle_holds_the_whole_evidence_and_verifies_without_a_store(
    tmp_path: Path,
) -> None:
    lc, order_id = _billed_order(tmp_path)
    bundle = lc.evidence_bundle(order_id)
    assert bundle["format"] == "vas-evidence-bundle/1" and bundle["order"]["id"] == order_id
    assert [e["kind"] for e in bundle["events"]] == [
        "order_requested",
        "confirmation_requested",
        "consent_granted",
        "refund_recorded",
    ]
    assert bundle["events"][0]["prev"] == GENESIS
    assert bundle["chain"]["head"] == bundle["events"][-1]["hash"]
    assert bundle["chain"]["chained_from"] == 1 and bundle["chain"]["sealed_at"] is None
    notices = {n["kind"]: n for n in bundle["notices"]}
    assert set(notices) == {"confirmation_request", "activated", "refunded"}
    assert notices["confirmation_request"]["reports"][0]["detail"] == "DLR 1"
    assert "二次确认" in notices["confirmation_request"]["text"]
    assert [c["amount"] for c in bundle["charges"]] == ["5.00"]
    assert [r["amount"] for r in bundle["refunds"]] == ["1.00"]
    path = tmp_path / "evidence.json"
    path.write_bytes(bundle_bytes(bundle))
    assert verify_bundle(path.read_bytes()).ok and verify_bundle(bundle).ok
    # on its own: a fresh interpreter in another folder, with the file and the package
    script = (
        "import sys; from vas_lifecycle.evidence import verify_bundle; "
        "r = verify_bundle(open(sys.argv[1], 'rb').read()); print(r.ok, r.problems)"
    )
    alone = tmp_path / "elsewhere"
    alone.mkdir()
    done = subprocess.run(
        [sys.executable, "-I", "-c", script, str(path)],
        cwd=alone,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "True ()"


@given(data=st.data())
def test_c18_a_changed_byte_anywhere_fails_the_bundle(data: st.DataObject) -> None:
    raw = _BUNDLE_BYTES
    at = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[at]))
    changed = raw[:at] + bytes([byte]) + raw[at + 1 :]
    assert not verify_bundle(changed).ok


def _one_bundle() -> bytes:
    lc = Lifecycle(make_catalog(), clock=ManualClock(START), notifier=RecordingNotifier())
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    lc.clock.advance(dt.timedelta(seconds=20))  # type: ignore[attr-defined]
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS)
    return bundle_bytes(lc.evidence_bundle(order.id))


_BUNDLE_BYTES = _one_bundle()


def test_c18_a_forged_bundle_fails_even_with_its_digest_recomputed() -> None:
    """Someone who edits an event and recomputes the digest (not the chain) is found
    by the chain; one who recomputes both is found by the signature."""
    bundle = json.loads(_BUNDLE_BYTES)
    bundle["events"][2]["text_in"] = "否"
    bundle["digest"] = hashlib.sha256(_content(bundle)).hexdigest()
    result = verify_bundle(bundle)
    assert not result.ok and any("event 3: changed" in p for p in result.problems)


def test_c18_a_signed_bundle_verifies_with_the_operators_key_only(tmp_path: Path) -> None:
    lc, order_id = _billed_order(tmp_path)
    private, public = new_signing_key()
    bundle = lc.evidence_bundle(order_id, signing_key=private)
    result = verify_bundle(bundle_bytes(bundle), public_key=public)
    assert result.ok and result.signature_verified and result.signed_by == key_id(public)
    # no key given: intact, but the signature not checked
    unchecked = verify_bundle(bundle)
    assert unchecked.ok and not unchecked.signature_verified and unchecked.signed_by
    _, other = new_signing_key()
    assert not verify_bundle(bundle, public_key=other).ok
    # a forger who rewrites the chain and the digest cannot re-sign with the key
    forged = json.loads(bundle_bytes(bundle))
    forged["charges"][0]["amount"] = "50.00"
    forged["digest"] = hashlib.sha256(_content(forged)).hexdigest()
    assert verify_bundle(forged).ok  # consistent without the key...
    assert not verify_bundle(forged, public_key=public).ok  # ...but not signed by it
    assert (
        "it is not signed"
        in verify_bundle(lc.evidence_bundle(order_id), public_key=public).problems
    )


def test_c18_the_cli_exports_a_signed_bundle_and_verifies_it(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    lc, order_id = _billed_order(tmp_path)
    lc.close()
    key = Ed25519PrivateKey.generate()
    secret, public = tmp_path / "operator.pem", tmp_path / "operator.pub.pem"
    secret.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    out = tmp_path / "order.json"
    db = str(tmp_path / "bundle.db")
    runner = CliRunner()
    exported = runner.invoke(
        main, ["audit", order_id, "--db", db, "--export", str(out), "--signing-key", str(secret)]
    )
    assert exported.exit_code == 0 and "signed by key" in exported.output, exported.output
    checked = runner.invoke(main, ["verify", "--bundle", str(out), "--public-key", str(public)])
    assert checked.exit_code == 0 and "evidence intact, signed by key" in checked.output
    raw = out.read_bytes()
    out.write_bytes(raw.replace(b'"5.00"', b'"0.50"', 1))
    broken = runner.invoke(main, ["verify", "--bundle", str(out), "--public-key", str(public)])
    assert broken.exit_code == 1 and "NOT intact" in broken.output


def test_c18_a_key_that_is_not_an_ed25519_key_is_a_clear_error(tmp_path: Path) -> None:
    lc, order_id = _billed_order(tmp_path)
    with pytest.raises(InvalidArgumentError, match="Ed25519 private key"):
        lc.evidence_bundle(order_id, signing_key=b"not a key at all")
    with pytest.raises(InvalidArgumentError, match="Ed25519 public key"):
        verify_bundle(lc.evidence_bundle(order_id), public_key=b"-----BEGIN nonsense")
    assert lc.verify_store().ok  # nothing was written by the refused export


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(data=st.data(), value=_JSON)
def test_c18_a_bundle_with_any_field_replaced_is_refused_never_raises(
    data: st.DataObject, value: object
) -> None:
    """A bundle comes from outside: whatever a field is replaced with, the check
    answers (not intact) and never raises."""
    bundle = json.loads(_BUNDLE_BYTES)
    event = data.draw(st.integers(0, len(bundle["events"]) - 1))
    where = data.draw(
        st.sampled_from(
            [("top", k) for k in sorted(bundle)]
            + [("chain", k) for k in sorted(bundle["chain"])]
            + [("event", k) for k in sorted(bundle["events"][event])]
        )
    )
    place = {"top": bundle, "chain": bundle["chain"], "event": bundle["events"][event]}[where[0]]
    if place[where[1]] == value:
        return
    place[where[1]] = value
    for form in (bundle, json.dumps(bundle).encode(), bundle_bytes(bundle)):
        result = verify_bundle(form)
        assert not result.ok and result.problems


def test_c18_a_bundle_nested_too_deeply_is_refused() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert verify_bundle(deep).problems[0].startswith("not a bundle")
    bundle = json.loads(_BUNDLE_BYTES)
    nested: object = "x"
    for _ in range(5000):
        nested = [nested]
    bundle["order"]["note"] = nested
    assert not verify_bundle(bundle).ok


def test_c18_a_value_of_another_type_in_a_sqlite_text_column_is_found(tmp_path: Path) -> None:
    """SQLite keeps whatever is written into a column: a blob where a text was is an
    edit like any other, found and never a crash of the check."""
    path = tmp_path / "typed.db"
    clock = ManualClock(START)
    lc = Lifecycle(
        make_catalog(), clock=clock, notifier=RecordingNotifier(), store=SQLiteStore(path)
    )
    order_id = _populate(lc, clock)[0]
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE vas_events SET text_out = X'00ff', prev = 7 WHERE order_id = ? AND seq = 2",
            (order_id,),
        )
    result = lc.verify_evidence(order_id)
    assert not result.ok and lc.verify_store().bad_orders == 1


def test_in6_consent_logs_cannot_be_edited_unnoticed(tampered: Tampered) -> None:
    """TRAI's consent logs that cannot be edited: the consent event of an order (who
    said yes, when, through which channel) edited in the store is found (C18)."""
    t = tampered
    victim = t.orders[2]
    t.execute(
        "UPDATE vas_events SET channel = %s WHERE order_id = %s AND kind = 'consent_granted'",
        ("hotline", victim),
    )
    result = t.lc.verify_evidence(victim)
    assert [(p.kind, p.seq) for p in result.problems] == [(ProblemKind.CHANGED, 3)]
