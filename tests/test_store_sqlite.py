"""The store contract on SQLiteStore, and what is particular to a file database."""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pendulum
import pytest

from vas_lifecycle import Channel, Lifecycle, ManualClock, SQLiteStore, Store, StoreError
from vas_lifecycle.states import LIVE_STATES
from vas_lifecycle.store.sql import MIGRATIONS, SCHEMA_VERSION, SchemaError
from vas_lifecycle.store.sql.schema import LIVE_STATES_SQL
from vas_lifecycle.testing import StoreContract, demo_catalog

_counter = itertools.count()


class TestSQLiteStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path: Path) -> None:
        self.tmp = tmp_path

    def make_store(self) -> Store:
        return SQLiteStore(self.tmp / f"vas-{next(_counter)}.db")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="directory"):
        SQLiteStore(tmp_path)


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no directory"):
        SQLiteStore(tmp_path / "nowhere" / "vas.db")


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are not the tables you are looking for\n" * 100)
    with pytest.raises(StoreError, match="cannot open"):
        SQLiteStore(path)


def test_a_read_only_file_is_refused() -> None:
    """Opened by a user who may read but not write the file (root ignores file modes,
    so under root the check runs as ``nobody``)."""
    folder = Path(tempfile.mkdtemp(prefix="vas-ro-"))
    try:
        folder.chmod(0o755)
        path = folder / "ro.db"
        SQLiteStore(path).close()
        path.chmod(0o444)
        probe = (
            "import sys\n"
            "from vas_lifecycle import SQLiteStore, StoreError\n"
            "try:\n"
            f"    SQLiteStore({str(path)!r})\n"
            "except StoreError as err:\n"
            "    print('refused:', err)\n"
            "    sys.exit(0)\n"
            "sys.exit(3)\n"
        )
        command = [sys.executable, "-c", probe]
        if os.geteuid() == 0:
            command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "refused:" in done.stdout and "readonly" in done.stdout
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO vas_schema (version) VALUES (99)")
    with pytest.raises(SchemaError, match="99"):
        SQLiteStore(path)


def test_migrations_run_once_and_refuse_a_development_schema(tmp_path: Path) -> None:
    fresh = SQLiteStore(tmp_path / "fresh.db")
    assert fresh.schema_version == SCHEMA_VERSION
    fresh.close()
    assert SQLiteStore(tmp_path / "fresh.db").schema_version == SCHEMA_VERSION  # unchanged
    # schemas 1 to 3 were development builds, never released: refused, not guessed at
    path = tmp_path / "dev.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE vas_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO vas_schema (version) VALUES (3)")
    with pytest.raises(SchemaError, match="development build"):
        SQLiteStore(path)


def test_a_later_migration_runs_its_sql_and_python_steps_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mechanism the next release will use: a store at the current version gets
    the new statements and the named Python step, once, in one transaction."""
    from vas_lifecycle.store.sql import schema
    from vas_lifecycle.store.sqlite import _SqliteDialect

    path = tmp_path / "vas.db"
    SQLiteStore(path).close()
    ran: list[int] = []

    def step(cursor: object, dialect: object) -> None:
        ran.append(1)

    nxt = SCHEMA_VERSION + 1
    monkeypatch.setattr(
        schema,
        "MIGRATIONS",
        (*MIGRATIONS, (nxt, ("ALTER TABLE vas_orders ADD COLUMN note TEXT", "@note"))),
    )
    monkeypatch.setattr(schema, "SCHEMA_VERSION", nxt)
    monkeypatch.setitem(schema.STEPS, "note", step)
    with sqlite3.connect(path, isolation_level=None) as conn:
        cursor = conn.cursor()
        assert schema.migrate(cursor, _SqliteDialect(), "test") == SCHEMA_VERSION
        assert schema.migrate(cursor, _SqliteDialect(), "test") == nxt  # nothing left to do
        columns = [row[1] for row in conn.execute("PRAGMA table_info(vas_orders)")]
    assert "note" in columns
    assert ran == [1]


def test_a_store_of_the_first_release_is_upgraded_keeping_its_orders(tmp_path: Path) -> None:
    """Schema 4 (the first release) gains the gateway and SP-key tables of schema 5,
    the event feed's of schema 6, the request keys of schema 7, the spend ledger of
    schema 8, the live-state indexes with ``paused`` of schema 9, the refunds of
    schema 10, the last uses of schema 11, the packs of schema 12, the spend
    reminders' watch of schema 13, the evidence chain of 14, the sweeps of 15, the
    notices' rule ids of 16, the months announced of 17 and the parked notices'
    index of 18; what it held is still there, and the store works."""
    path = tmp_path / "release.db"
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("CREATE TABLE vas_schema (version INTEGER NOT NULL)")
        for statement in dict(MIGRATIONS)[4]:
            conn.execute(statement)
        conn.execute("INSERT INTO vas_schema (version) VALUES (4)")
        conn.execute("INSERT INTO vas_pick_sessions VALUES ('+8613800138000', '[]', 'a', 'b')")
    store = SQLiteStore(path)
    assert store.schema_version == SCHEMA_VERSION == 18
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai"))
    lc = Lifecycle(demo_catalog(), clock=clock, store=store)
    order = lc.request("+8613800138000", "NEWS", channel=Channel.WEB, idempotency_key="k")
    assert lc.get(order.id) == order
    assert [n.rule for n in lc.notices(order.id)] == ["C2"]  # schema 16: each notice's rule
    assert lc.request("+8613800138000", "NEWS", channel=Channel.WEB, idempotency_key="k") == order
    with store.transaction() as tx:
        assert tx.keys.first_sight("m1", clock.now())
    assert lc.feed.subscribe("billing", print) and lc.feed.backlog("billing") == 0
    assert lc.spend("+8613800138000").charges == 0
    assert lc.refunds_due() == [] and lc.refunds(order.id) == []
    assert lc.record_usage(order.id) == lc.get(order.id)
    store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM vas_pick_sessions").fetchone() == (1,)
        assert conn.execute("SELECT message_id FROM vas_messages").fetchall() == [("m1",)]


def test_the_live_state_indexes_list_the_live_states_as_the_queries_do(tmp_path: Path) -> None:
    """A paused subscription is live: the unique index holds one live order per
    subscription with it too, and the live-order query uses the partial index (its
    state list is the one the index was made with)."""
    assert "('" + "', '".join(sorted(LIVE_STATES)) + "')" == LIVE_STATES_SQL
    SQLiteStore(tmp_path / "live.db").close()
    conn = sqlite3.connect(tmp_path / "live.db")
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM vas_orders WHERE msisdn = ? AND state IN "
        + LIVE_STATES_SQL,
        ("+8613800138000",),
    ).fetchall()
    assert any("vas_orders_live" in str(step) for step in plan)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(vas_orders)")]
    paused = {"msisdn": "+8613800138000", "service_code": "NEWS", "state": "paused"}
    rows = [{**{c: "x" for c in columns}, "id": n, "kind": "subscription", **paused} for n in "ab"]
    insert = (
        f"INSERT INTO vas_orders ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    )
    conn.execute(insert, [rows[0][c] for c in columns])
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(insert, [rows[1][c] for c in columns])
    conn.close()


def test_store_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "vas.db"
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai"))
    first = Lifecycle(demo_catalog(), clock=clock, store=SQLiteStore(path))
    order = first.request("+8613800138000", "NEWS", channel=Channel.WEB)
    history = first.history(order.id)
    first.store.close()
    again = Lifecycle(demo_catalog(), clock=clock, store=SQLiteStore(path))
    assert again.get(order.id) == order
    assert again.history(order.id) == history
    assert [e.kind.value for e in history] == ["order_requested", "confirmation_requested"]


def test_an_order_is_stored_as_one_named_column_per_field(tmp_path: Path) -> None:
    import attrs

    from vas_lifecycle import Order
    from vas_lifecycle.store.sql import ORDER_FIELDS

    # in the fields' own order: a row is read into an Order positionally
    assert tuple(f.name for f in attrs.fields(Order)) == ORDER_FIELDS
    start = pendulum.datetime(2026, 11, 24, 9, tz="UTC")
    store = SQLiteStore(tmp_path / "vas.db")
    lc = Lifecycle(demo_catalog(), clock=ManualClock(start), store=store)
    trial = lc.request("+8613800138000", "MUSIC7", channel=Channel.WEB)
    order = lc.unsubscribe(trial.id, channel=Channel.SMS)
    # every optional field set, so a field the codec forgot cannot hide as None
    full = attrs.evolve(
        order,
        id="full",
        msisdn="+8613800138001",
        code="1234",
        confirm_by=start,
        activated_at=start,
        consent_channel=Channel.SMS,
        reminded_at=start,
        remind_at=start,
        fee_notice_id="n1",
    )
    with store.transaction() as tx:
        tx.orders.append(full, [], 0)
    assert lc.get("full") == full
    store.close()
    with sqlite3.connect(tmp_path / "vas.db") as conn:  # readable with SQL alone
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM vas_orders WHERE id = 'full'").fetchone()
    assert (row["state"], row["msisdn"]) == ("cancelled", "+8613800138001")
    assert row["price"] == str(full.price)
    assert row["consent_channel"] == "sms" and row["fee_notice_id"] == "n1"


def test_nulls_bind_without_the_adapter_search_and_an_applications_own_adapter_stays() -> None:
    """The store registers a NoneType adapter for sqlite3 (binding NULL without the
    failing ``__adapt__``/``__conform__`` search), unless the application has its own,
    which it leaves in place; NULLs stay NULLs either way."""
    import sqlite3 as sq

    assert sq.adapters[(type(None), sq.PrepareProtocol)](None) is None
    code = (
        "import sqlite3\n"
        "mine = lambda value: None\n"
        "sqlite3.register_adapter(type(None), mine)\n"
        "import vas_lifecycle.store.sqlite\n"
        "assert sqlite3.adapters[(type(None), sqlite3.PrepareProtocol)] is mine\n"
        "c = sqlite3.connect(':memory:')\n"
        "assert c.execute('select ? is null', (None,)).fetchone() == (1,)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    conn = sq.connect(":memory:")
    assert conn.execute("select ? is null, typeof(?)", (None, None)).fetchone() == (1, "null")
