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
from vas_lifecycle.store.sql import MIGRATIONS, SCHEMA_VERSION, SchemaError
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


def test_migrations_from_empty_and_from_the_previous_version(tmp_path: Path) -> None:
    fresh = SQLiteStore(tmp_path / "fresh.db")
    assert fresh.schema_version == SCHEMA_VERSION
    fresh.close()
    # a database left at version 1 (before the outbox bookkeeping and pick sessions)
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE vas_schema (version INTEGER NOT NULL)")
        version, statements = MIGRATIONS[0]
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO vas_schema (version) VALUES (?)", (version,))
        conn.execute(
            "INSERT INTO vas_notices (id, kind, msisdn, order_id, text, at, sender, language) "
            "VALUES ('n1', 'help', '+8613800138000', NULL, 'old notice', "
            "'2026-11-24T01:00:00.000000Z', '10086', 'zh-CN')"
        )
    upgraded = SQLiteStore(path)
    assert upgraded.schema_version == SCHEMA_VERSION
    with upgraded.transaction() as tx:  # the undelivered notice of v1 is due in v2's outbox
        now = pendulum.datetime(2026, 11, 25, tz="UTC")
        (claimed,) = tx.claim_notices(now, now.add(minutes=2), 10)
        assert claimed.notice.text == "old notice"
        assert tx.pick_session("+8613800138000") is None
    upgraded.close()
    assert SQLiteStore(path).schema_version == SCHEMA_VERSION  # opening again changes nothing


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


def test_order_body_keeps_every_field_and_reads_old_bodies() -> None:
    import json

    import attrs

    from vas_lifecycle import Order
    from vas_lifecycle.store.sql import ORDER_BODY_FIELDS, order_from_json, order_to_json

    assert tuple(f.name for f in attrs.fields(Order)) == ORDER_BODY_FIELDS
    start = pendulum.datetime(2026, 11, 24, 9, tz="UTC")
    lc = Lifecycle(demo_catalog(), clock=ManualClock(start))
    trial = lc.request("+8613800138000", "MUSIC7", channel=Channel.WEB)
    order = lc.unsubscribe(trial.id, channel=Channel.SMS)
    # every optional field set, so a field the codec forgot cannot hide as None
    full = attrs.evolve(
        order,
        code="1234",
        confirm_by=start,
        activated_at=start,
        consent_channel=Channel.SMS,
        reminded_at=start,
        remind_at=start,
        fee_notice_id="n1",
    )
    assert order_from_json(order_to_json(full)) == full
    # bodies written by earlier development builds were objects keyed by field name
    old = dict(zip(ORDER_BODY_FIELDS, json.loads(order_to_json(full)), strict=True))
    assert order_from_json(json.dumps(old)) == full
