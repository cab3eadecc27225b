"""The store contract on PostgresStore, and what is particular to a server database.

Needs ``VAS_TEST_POSTGRES_DSN``; without it the tests are skipped, except in CI
(``CI=true``), where a missing server is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from vas_lifecycle import PostgresStore, Store, StoreError
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

    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


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
        tx._execute("INSERT INTO vas_schema (version) VALUES (99)")  # type: ignore[attr-defined]
    store.close()
    with pytest.raises(SchemaError, match="99"):
        PostgresStore(DSN, schema=schema)


def test_migrations_from_the_previous_version(schemas: list[str]) -> None:
    import pendulum
    import psycopg

    from vas_lifecycle.store.sql import MIGRATIONS

    schema = new_schema(schemas)
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute("CREATE TABLE vas_schema (version INTEGER NOT NULL)")
        for statement in MIGRATIONS[0][1]:
            conn.execute(statement)
        conn.execute("INSERT INTO vas_schema (version) VALUES (1)")
        conn.execute(
            "INSERT INTO vas_notices (id, kind, msisdn, order_id, text, at, sender, language) "
            "VALUES ('n1', 'help', '+8613800138000', NULL, 'old notice', "
            "'2026-11-24T01:00:00.000000Z', '10086', 'zh-CN')"
        )
    store = PostgresStore(DSN, schema=schema)
    assert store.schema_version == SCHEMA_VERSION
    now = pendulum.datetime(2026, 11, 25, tz="UTC")
    with store.transaction() as tx:
        (claimed,) = tx.claim_notices(now, now.add(minutes=2), 10)
        assert claimed.notice.text == "old notice"
