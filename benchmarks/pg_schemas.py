"""PostgreSQL schemas for the benchmarks: each measurement starts from an empty schema
of its own, dropped again afterwards (its name quoted as an identifier, never
formatted into the SQL)."""

from __future__ import annotations

from vas_lifecycle import PostgresStore


def drop_schema(dsn: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def fresh_store(dsn: str, schema: str) -> PostgresStore:
    """A store in ``schema``, emptied first."""
    drop_schema(dsn, schema)
    return PostgresStore(dsn, schema=schema)
