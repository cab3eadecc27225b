"""What the SQLite and PostgreSQL stores share: schema and migrations
(:mod:`~vas_lifecycle.store.sql.schema`), the codec between records and rows
(:mod:`~vas_lifecycle.store.sql.codec`) and the transaction
(:mod:`~vas_lifecycle.store.sql.transaction`)."""

from vas_lifecycle.store.sql.codec import (
    BODY_VERSION,
    ORDER_BODY_FIELDS,
    ORDER_COLUMNS,
    order_from_json,
    order_row,
    order_to_json,
    ts,
)
from vas_lifecycle.store.sql.schema import (
    FIRST_RELEASED,
    MIGRATIONS,
    SCHEMA_VERSION,
    Dialect,
    SchemaError,
    migrate,
)
from vas_lifecycle.store.sql.transaction import SqlTransaction

__all__ = [
    "BODY_VERSION",
    "FIRST_RELEASED",
    "MIGRATIONS",
    "ORDER_BODY_FIELDS",
    "ORDER_COLUMNS",
    "SCHEMA_VERSION",
    "Dialect",
    "SchemaError",
    "SqlTransaction",
    "migrate",
    "order_from_json",
    "order_row",
    "order_to_json",
    "ts",
]
