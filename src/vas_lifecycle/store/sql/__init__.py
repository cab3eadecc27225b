"""What the SQLite and PostgreSQL stores share: schema and migrations
(:mod:`~vas_lifecycle.store.sql.schema`), the codec between records and rows
(:mod:`~vas_lifecycle.store.sql.codec`) and the transaction
(:mod:`~vas_lifecycle.store.sql.transaction`)."""

from vas_lifecycle.store.sql.codec import (
    ORDER_COLUMNS,
    ORDER_FIELDS,
    order_from_row,
    order_row,
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
    "FIRST_RELEASED",
    "MIGRATIONS",
    "ORDER_COLUMNS",
    "ORDER_FIELDS",
    "SCHEMA_VERSION",
    "Dialect",
    "SchemaError",
    "SqlTransaction",
    "migrate",
    "order_from_row",
    "order_row",
    "ts",
]
