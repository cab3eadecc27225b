"""``handle_sms_many``: a burst of texts in one transaction, each text all-or-nothing on
its own, with the same outcome as the texts handled one by one (C3, C8, C9, C10)."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import START, make_catalog
from tests.test_store_postgres import DSN, drop_schema, require_postgres
from tests.wrapped_store import WrappedStore
from vas_lifecycle import (
    BatchError,
    Channel,
    InvalidArgumentError,
    InvalidMsisdnError,
    Lifecycle,
    ManualClock,
    MemoryStore,
    RecordingNotifier,
    SQLiteStore,
    Store,
    StoreError,
)
from vas_lifecycle.testing.strategies import sms_texts

SUBS = [f"+86138000{n:05d}" for n in range(3)]
WORDS = ["是", "Y", "否", "0000", "1", "1,2", "TD", "帮助", "Y 1234"]


def _world(store: Store) -> tuple[Lifecycle, RecordingNotifier]:
    """Three subscribers with orders in every state a text can meet, at one instant."""
    clock, notifier, counter = ManualClock(START), RecordingNotifier(), itertools.count()
    lc = Lifecycle(
        make_catalog(),
        clock=clock,
        store=store,
        notifier=notifier,
        rng=random.Random(3),
        ids=lambda: f"id{next(counter)}",
    )
    for sub in SUBS:
        lc.request(sub, "NEWS", channel=Channel.SP_API)
    lc.request(SUBS[0], "WEATHER", channel=Channel.WEB)  # two pending: codes needed (C3)
    lc.request(SUBS[1], "MUSIC7", channel=Channel.WAP)
    clock.advance(dt.timedelta(minutes=1))
    return lc, notifier


def _state(lc: Lifecycle) -> list[object]:
    return [[(o.service_code, o.state) for o in lc.orders_of(sub)] for sub in SUBS]


STORES = ["memory", "sqlite"]


def new_store(kind: str) -> Store:
    return MemoryStore() if kind == "memory" else SQLiteStore(":memory:")


texts = st.lists(
    st.tuples(st.sampled_from(SUBS), st.one_of(st.sampled_from(WORDS), sms_texts())),
    max_size=12,
)


@pytest.mark.parametrize("kind", STORES)
@given(burst=texts)
def test_c10_a_burst_has_the_outcome_of_its_texts_one_by_one(
    kind: str, burst: list[tuple[str, str]]
) -> None:
    one_by_one, batched, alone = _compared(kind, burst)
    assert len(batched.notifier.sent) >= sum(map(len, alone))  # type: ignore[union-attr]
    one_by_one.close()
    batched.close()


def _compared(kind: str, burst: list[tuple[str, str]]) -> tuple[Lifecycle, Lifecycle, list[Any]]:
    """The same texts one by one and as a burst, in two equal worlds: the same
    replies and the same orders. The two lifecycles, and the replies one by one."""
    one_by_one, _ = _world(new_store(kind))
    batched, _ = _world(new_store(kind))
    alone = [[(n.kind, n.text) for n in one_by_one.handle_sms(s, t, to="10086")] for s, t in burst]
    together = batched.handle_sms_many([(s, t, "10086") for s, t in burst])
    assert [[(n.kind, n.text) for n in replies] for replies in together] == alone
    assert _state(batched) == _state(one_by_one)
    return one_by_one, batched, alone


apart = st.lists(
    st.tuples(st.sampled_from(SUBS), st.one_of(st.sampled_from(WORDS), sms_texts())),
    unique_by=lambda text: text[0],
)


@pytest.mark.parametrize("kind", STORES)
@given(burst=apart)
def test_c10_a_burst_of_one_text_per_subscriber_runs_straight_through_like_one_by_one(
    kind: str, burst: list[tuple[str, str]]
) -> None:
    """One text per subscriber: the burst runs without savepoints, each subscriber's
    live orders, request deliveries and waiting notices read ahead for the lot."""
    one_by_one, batched, _alone = _compared(kind, burst)
    with batched.store.transaction() as tx, one_by_one.store.transaction() as other:
        assert [(n.kind, n.order_id) for n in tx.outbox.all_notices()] == [
            (n.kind, n.order_id) for n in other.outbox.all_notices()
        ]


apart_with_ids = st.lists(
    st.tuples(
        st.sampled_from(SUBS),
        st.sampled_from(WORDS),
        st.sampled_from([None, "m-1", "m-2", "seen-before"]),
    ),
    unique_by=lambda text: text[0],
)


def _with_ids(lc: Lifecycle, burst: list[tuple[str, str, str | None]]) -> list[Any]:
    """The burst through ``handle_sms_many`` after a text with the id "seen-before"
    was handled (the gateway retries it): its replies."""
    lc.handle_sms(SUBS[2], "帮助", to="10086", message_id="seen-before")
    texts = [
        (s, t, "10086") if m is None else {"msisdn": s, "text": t, "to": "10086", "message_id": m}
        for s, t, m in burst
    ]
    return [[(n.kind, n.text) for n in replies] for replies in lc.handle_sms_many(texts)]


@pytest.mark.parametrize("kind", STORES)
@given(burst=apart_with_ids)
def test_c10_a_burst_handles_each_gateway_message_id_once_like_one_by_one(
    kind: str, burst: list[tuple[str, str, str | None]]
) -> None:
    """The message ids of a burst are recorded together when it runs straight
    through; a text whose id was handled before, or earlier in the burst, does
    nothing, as one by one."""
    one_by_one, _ = _world(new_store(kind))
    one_by_one.handle_sms(SUBS[2], "帮助", to="10086", message_id="seen-before")
    alone = [
        [(n.kind, n.text) for n in one_by_one.handle_sms(s, t, to="10086", message_id=m)]
        for s, t, m in burst
    ]
    batched, _ = _world(new_store(kind))
    assert _with_ids(batched, burst) == alone
    assert _state(batched) == _state(one_by_one)


def test_c10_postgres_records_a_bursts_message_ids_at_once_and_once() -> None:
    require_postgres()
    from vas_lifecycle import PostgresStore

    drop_schema("vas_test_burst_ids")
    try:
        batched, _ = _world(PostgresStore(DSN, schema="vas_test_burst_ids"))
        one_by_one, _ = _world(MemoryStore())
        burst: list[tuple[str, str, str | None]] = [
            (SUBS[0], "Y", "seen-before"),
            (SUBS[1], "是", "m-1"),
            (SUBS[2], "0000", "m-1"),
        ]
        one_by_one.handle_sms(SUBS[2], "帮助", to="10086", message_id="seen-before")
        alone = [
            [(n.kind, n.text) for n in one_by_one.handle_sms(s, t, to="10086", message_id=m)]
            for s, t, m in burst
        ]
        assert [len(r) for r in alone] == [0, 1, 0]
        assert _with_ids(batched, burst) == alone
        assert _state(batched) == _state(one_by_one)
        batched.close()
    finally:
        drop_schema("vas_test_burst_ids")


def test_c10_postgres_runs_a_burst_of_one_text_per_subscriber_like_one_by_one() -> None:
    require_postgres()
    from vas_lifecycle import PostgresStore

    drop_schema("vas_test_burst")
    try:
        store = PostgresStore(DSN, schema="vas_test_burst")
        batched, _ = _world(store)
        one_by_one, _ = _world(MemoryStore())
        burst = [(SUBS[0], "Y"), (SUBS[1], "是"), (SUBS[2], "0000")]
        alone = [one_by_one.handle_sms(s, t, to="10086") for s, t in burst]
        together = batched.handle_sms_many([(s, t, "10086") for s, t in burst])
        assert [[n.kind for n in r] for r in together] == [[n.kind for n in r] for r in alone]
        assert _state(batched) == _state(one_by_one)
        batched.close()
    finally:
        drop_schema("vas_test_burst")


def test_a_text_handed_over_twice_in_one_burst_is_handled_once() -> None:
    lc, _ = _world(MemoryStore())
    replies = lc.handle_sms_many(
        [
            (SUBS[1], "是", "10086", "k-1"),
            {"msisdn": SUBS[1], "text": "是", "to": "10086", "message_id": "k-1"},
        ]
    )
    assert [len(r) for r in replies] == [1, 0]
    assert lc.orders_of(SUBS[1])[0].state.value == "active"


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (("not a number", "是", "10086"), InvalidMsisdnError, "text 1"),
        ((SUBS[0], "是"), InvalidArgumentError, "text 1 must be"),
        (
            {"msisdn": SUBS[0], "text": "是", "to": "10086", "colour": 1},
            InvalidArgumentError,
            "text 1",
        ),
        ((SUBS[0], "是", 10086), InvalidArgumentError, "to must be"),
        ((SUBS[0], "是", "10086", "bad id!"), InvalidArgumentError, "message_id"),
    ],
)
def test_a_malformed_text_refuses_the_burst_before_any_text_runs(
    bad: Any, error: type[Exception], message: str
) -> None:
    lc, notifier = _world(MemoryStore())
    before = (_state(lc), len(notifier.sent))
    with pytest.raises(error, match=message):
        lc.handle_sms_many([(SUBS[1], "是", "10086"), bad])
    assert (_state(lc), len(notifier.sent)) == before
    with pytest.raises(InvalidArgumentError, match="sequence of texts"):
        lc.handle_sms_many("是")  # type: ignore[arg-type]


class _FailsOn:
    """A transaction's keys that fail when a given message id is first seen (a disk
    error in the middle of a burst), and are otherwise the store's own."""

    def __init__(self, keys: Any, poison: str) -> None:
        self._keys, self._poison = keys, poison

    def __getattr__(self, name: str) -> Any:
        return getattr(self._keys, name)

    def first_sight(self, message_id: str, at: Any) -> bool:
        if message_id == self._poison:
            raise OSError("disk I/O error")
        return bool(self._keys.first_sight(message_id, at))


@pytest.mark.parametrize("kind", STORES)
def test_a_failure_in_the_middle_of_a_burst_loses_no_other_texts_outcome(kind: str) -> None:
    store = new_store(kind)
    lc, _ = _world(store)
    wrapped = WrappedStore(
        store, lambda keys: _FailsOn(keys, "boom"), readonly=False, recorder="keys"
    )
    failing = Lifecycle(make_catalog(), clock=lc.clock, store=wrapped, notifier=RecordingNotifier())
    burst = [
        (SUBS[1], "是", "10086", "a"),
        (SUBS[2], "是", "10086", "boom"),
        (SUBS[0], "0000", "10086"),
    ]
    with pytest.raises(BatchError) as raised:
        failing.handle_sms_many(burst)
    error = raised.value
    assert list(error.errors) == [1] and isinstance(error.errors[1], StoreError)
    assert len(error.results[0]) == 1 and error.results[1] == [] and len(error.results[2]) == 1
    states = _state(lc)
    assert ("NEWS", "active") in [(c, s.value) for c, s in states[1]]  # type: ignore[attr-defined]
    assert [s.value for _c, s in states[2]] == ["awaiting_confirmation"]  # type: ignore[attr-defined]
