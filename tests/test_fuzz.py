"""Hostile texts (C10, C10a): NUL, lone surrogates, direction marks, look-alike
letters, markup, SQL, format strings and huge texts, alone and around real commands,
to the operator number, to access codes and to garbage numbers.

No text raises out of handle_sms, and no text changes more than its words say: a text
read as help, a list, or as nothing changes no order; a yes or a no changes at most
one pending order; anything else only cancels. Runs 100 000 texts on SQLite and
10 000 on PostgreSQL (in CI; elsewhere when VAS_TEST_POSTGRES_DSN is set).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

import pytest

from tests.conftest import START, make_catalog
from tests.test_store_postgres import DSN, drop_schema, require_postgres
from vas_lifecycle import (
    Channel,
    Lifecycle,
    ManualClock,
    OrderState,
    RecordingNotifier,
    SQLiteStore,
    Store,
)
from vas_lifecycle.sms import CommandKind, parse
from vas_lifecycle.testing import check_invariants

WORDS = ["Y", "是", "YES", "N", "否", "NO", "0000", "00000", "TD", "QX", "退订", "帮助", "?",
         "1", "2", "1,2", "2、3", "1，3", "Y 1234", "TD NEWS", "TD MUSIC7", "QX 彩铃"]  # fmt: skip
NOISE = [
    "\x00", "\x07", "\x1b[31m", "\ud800", "\udfff", "\u202e", "\u200b", "\ufeff", "\u0301",
    "<b>", "</b>", "[/]", "[bold]", "<script>alert(1)</script>", "'; DROP TABLE vas_orders; --",
    "%s", "{0}", "{code}", "\\", "\"", "ʸ", "ⓨ", "🅈", "⒴", "𝐘", "№", "ſ", "Ｙ", "ｎｏ", "ＴＤ",
    "０", "\u3000", "\n", "\t", "\r\n", "😀", "👍🏽", "١", "Ⅰ", "¹", "..."
]  # fmt: skip
TARGETS = ["10086", "10086", "10658001", "10658002", "1065-8001", "", "<to>", "\x00", "9" * 40]


def hostile_texts(seed: int, count: int) -> Iterator[tuple[str, str]]:
    rng = random.Random(seed)
    for n in range(count):
        if n % 1000 == 999:  # now and then a huge one
            yield rng.choice(NOISE + WORDS) * rng.choice([5_000, 100_000]), rng.choice(TARGETS)
            continue
        parts = rng.choices(WORDS + NOISE + NOISE, k=rng.randint(1, 4))
        glue = rng.choice(["", " ", "\x00", "\u200b"])
        yield glue.join(parts), rng.choice(TARGETS)


def snapshot(lc: Lifecycle, msisdn: str) -> dict[str, tuple[OrderState, int]]:
    return {o.id: (o.state, o.version) for o in lc.orders_of(msisdn)}


def fuzz(store: Store, count: int, seed: int) -> None:
    clock = ManualClock(START)
    lc = Lifecycle(
        make_catalog(),
        clock=clock,
        store=store,
        rng=random.Random(seed),
        notifier=RecordingNotifier(),
    )
    people = (f"+86138{n:08d}" for n in range(10**8))

    def fresh() -> str:  # an active subscription, a pending one and a trial
        msisdn = next(people)
        news = lc.request(msisdn, "NEWS", channel=Channel.WEB)
        lc.request(msisdn, "WEATHER", channel=Channel.WEB)
        lc.request(msisdn, "MUSIC7", channel=Channel.WEB)
        clock.advance(dt.timedelta(seconds=5))
        lc.confirm(news.id, msisdn=msisdn, channel=Channel.SMS, code=news.code)
        return msisdn

    msisdn = fresh()
    for text, to in hostile_texts(seed, count):
        before = snapshot(lc, msisdn)
        replies = lc.handle_sms(msisdn, text, to=to)  # must never raise
        assert replies, repr(text[:80])
        after = snapshot(lc, msisdn)
        changed = {
            oid: (before[oid][0], after[oid][0]) for oid in before if before[oid] != after[oid]
        }
        if not changed:
            continue
        command = parse(text, lc.policy, to_operator=to == "10086")
        kind = command.kind
        assert kind not in (CommandKind.UNKNOWN, CommandKind.HELP, CommandKind.LIST), repr(text)
        if kind in (CommandKind.CONFIRM, CommandKind.DECLINE):
            assert to == "10086" and len(changed) == 1, repr(text)
            (move,) = changed.values()
            assert move[0] is OrderState.AWAITING_CONFIRMATION, repr(text)
        else:
            assert all(new is OrderState.CANCELLED for _old, new in changed.values()), repr(text)
        msisdn = fresh()  # start again with a full set of orders
    assert check_invariants(lc) == []
    lc.close()


def test_c10a_100_000_hostile_texts_on_sqlite() -> None:
    fuzz(SQLiteStore(":memory:"), 100_000, seed=20261126)


@pytest.fixture
def postgres_store() -> Iterator[Store]:
    require_postgres()
    from vas_lifecycle import PostgresStore

    drop_schema("vas_test_fuzz")
    store = PostgresStore(DSN, schema="vas_test_fuzz")
    yield store
    drop_schema("vas_test_fuzz")


def test_c10a_10_000_hostile_texts_on_postgres(postgres_store: Store) -> None:
    fuzz(postgres_store, 10_000, seed=20261127)
