"""The store contract on PostgresStore, and what is particular to a server database.

Needs ``VAS_TEST_POSTGRES_DSN``; without it the tests are skipped, except in CI
(``CI=true``), where a missing server is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from vas_lifecycle import MemoryStore, PostgresStore, SQLiteStore, Store, StoreError
from vas_lifecycle.store.sql import SCHEMA_VERSION, SchemaError
from vas_lifecycle.testing import StoreContract

DSN = os.environ.get("VAS_TEST_POSTGRES_DSN", "")


def require_postgres() -> str:
    if DSN:
        return DSN
    if os.environ.get("CI"):
        pytest.fail("CI must provide PostgreSQL: VAS_TEST_POSTGRES_DSN is not set")
    pytest.skip("no PostgreSQL: set VAS_TEST_POSTGRES_DSN to run the PostgreSQL tests")


def drop_schema(schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def store_factories(kind: str, prefix: str) -> Iterator[Callable[[], Store]]:
    """Fresh stores of ``kind`` (memory, sqlite, postgres): on PostgreSQL each in a
    schema ``<prefix>_<n>`` of its own, dropped after (a fixture's body: yield from)."""
    if kind == "memory":
        yield MemoryStore
        return
    if kind == "sqlite":
        yield lambda: SQLiteStore(":memory:")
        return
    require_postgres()
    made: list[str] = []

    def make() -> Store:
        schema = f"{prefix}_{len(made)}"
        drop_schema(schema)
        made.append(schema)
        return PostgresStore(DSN, schema=schema)

    yield make
    for schema in made:
        drop_schema(schema)


@pytest.fixture
def schemas() -> Iterator[list[str]]:
    require_postgres()
    made: list[str] = []
    yield made
    for schema in made:
        drop_schema(schema)


def new_schema(made: list[str]) -> str:
    schema = f"vas_test_{uuid.uuid4().hex[:12]}"
    made.append(schema)
    return schema


class TestPostgresStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _schemas(self, schemas: list[str]) -> None:
        self.made = schemas

    def make_store(self) -> Store:
        return PostgresStore(DSN, schema=new_schema(self.made))


def test_wrong_dsn_is_a_clear_store_error() -> None:
    require_postgres()
    with pytest.raises(StoreError, match="cannot connect"):
        PostgresStore("postgresql://nobody:wrong@127.0.0.1:1/none", connect_timeout=2)
    with pytest.raises(StoreError, match="cannot connect"):
        PostgresStore("this is not a dsn")


def test_bad_schema_name_is_refused() -> None:
    with pytest.raises(StoreError, match="identifier"):
        PostgresStore("postgresql://localhost/x", schema='x"; DROP TABLE y; --')


def test_newer_schema_is_refused(schemas: list[str]) -> None:
    schema = new_schema(schemas)
    store = PostgresStore(DSN, schema=schema)
    assert store.schema_version == SCHEMA_VERSION
    with store.transaction() as tx:
        tx.execute("INSERT INTO vas_schema (version) VALUES (99)")  # type: ignore[attr-defined]
    store.close()
    with pytest.raises(SchemaError, match="99"):
        PostgresStore(DSN, schema=schema)


def test_a_development_schema_is_refused(schemas: list[str]) -> None:
    import psycopg

    schema = new_schema(schemas)
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute("CREATE TABLE vas_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO vas_schema (version) VALUES (2)")
    with pytest.raises(SchemaError, match="development build"):
        PostgresStore(DSN, schema=schema)


@pytest.mark.parametrize("schema", ["information_schema", "pg_catalog", "pg_toast", "pg_temp_3"])
def test_system_schemas_are_refused(schema: str) -> None:
    with pytest.raises(StoreError, match="PostgreSQL itself"):
        PostgresStore("postgresql://localhost/x", schema=schema)


def test_the_first_command_after_a_lost_connection_works(schemas: list[str]) -> None:
    import pendulum
    import psycopg

    from vas_lifecycle import Channel, Lifecycle, ManualClock
    from vas_lifecycle.testing import demo_catalog

    store = PostgresStore(DSN, schema=new_schema(schemas))
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai"))
    lc = Lifecycle(demo_catalog(), clock=clock, store=store)
    order = lc.request("+8613800138000", "NEWS", channel=Channel.WEB)

    def cut() -> None:  # the server ends the session (a restart, a failover, a proxy)
        with store.transaction(readonly=True) as tx:
            (pid,) = tx.query("SELECT pg_backend_pid()")[0]  # type: ignore[attr-defined]
        with psycopg.connect(DSN, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    cut()
    assert lc.get(order.id).state.value == "awaiting_confirmation"  # a read
    cut()
    assert lc.unsubscribe(order.id, channel=Channel.HOTLINE).state.value == "cancelled"
    cut()
    assert lc.dispatch() == 0
    assert [e.kind.value for e in lc.history(order.id)][-1] == "order_cancelled"
    store.close()


def _open(names: list[str], barrier: object) -> None:
    for schema in names:
        barrier.wait(timeout=300)  # type: ignore[attr-defined]
        PostgresStore(DSN, schema=schema).close()


def test_many_workers_open_a_new_schema_at_once(schemas: list[str]) -> None:
    import multiprocessing

    names = [new_schema(schemas) for _ in range(10)]
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(8)
    procs = [ctx.Process(target=_open, args=(names, barrier)) for _ in range(8)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0] * 8
    for schema in names:
        assert PostgresStore(DSN, schema=schema).schema_version == SCHEMA_VERSION


def test_readers_open_without_migrating_and_refuse_what_is_not_a_store(
    schemas: list[str],
) -> None:
    import psycopg
    from psycopg import sql

    empty = new_schema(schemas)
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(empty)))
    with pytest.raises(StoreError, match="no vas_lifecycle store"):
        PostgresStore(DSN, schema=empty, migrate=False)
    with psycopg.connect(DSN, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (empty,)
        ).fetchone()
    assert tables == (0,)  # nothing was created
    with pytest.raises(StoreError, match="no vas_lifecycle store"):
        PostgresStore(DSN, schema=new_schema(schemas), migrate=False)  # missing schema
    current = new_schema(schemas)
    PostgresStore(DSN, schema=current).close()
    PostgresStore(DSN, schema=current, migrate=False).close()
