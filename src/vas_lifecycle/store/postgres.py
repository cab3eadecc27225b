"""PostgreSQL store (psycopg 3): for many workers on many machines sharing the work.

Install with ``pip install 'vas-lifecycle[postgres]'``; importing vas_lifecycle does not
need psycopg, only building a :class:`PostgresStore` does.

Due timers and due notices are claimed with ``FOR UPDATE SKIP LOCKED``: several
workers running ``run_due()`` or ``dispatch()`` at once each take different rows.
Replies and unsubscribes racing on one order are settled by the order's version: the
``UPDATE ... WHERE version = expected`` of the loser matches nothing, its unit of work
rolls back and the facade retries it against the winner's result. A charge locks its
order row (``FOR UPDATE``) so a racing cancel waits for it or is seen by it.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from vas_lifecycle.errors import StoreError
from vas_lifecycle.store.base import ConflictError, Store, Transaction
from vas_lifecycle.store.sql import SchemaError, SqlTransaction, migrate

__all__ = ["PostgresStore"]

#: advisory lock key that serialises migrations of concurrent openers
_MIGRATION_LOCK = 74_202_611


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise StoreError(
            "PostgresStore needs psycopg 3: pip install 'vas-lifecycle[postgres]'"
        ) from err
    return psycopg


class _PostgresDialect:
    claim = " FOR UPDATE SKIP LOCKED"
    lock = " FOR UPDATE"
    # held until commit or rollback; the first key keeps these apart from other users'
    # advisory locks in the same database
    subscriber_lock = "SELECT pg_advisory_xact_lock(7420261, hashtext(?))"

    def __init__(self, psycopg: Any) -> None:
        self._errors = psycopg.errors
        self._integrity = psycopg.IntegrityError

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def among(self, subquery: str) -> str:
        # ANY(ARRAY(...)) runs the claiming subquery exactly once, so LIMIT holds
        return f"= ANY(ARRAY({subquery}))"

    def is_integrity_error(self, err: BaseException) -> bool:
        return isinstance(err, self._integrity)

    def is_retryable(self, err: BaseException) -> bool:
        return isinstance(
            err,
            self._integrity | self._errors.SerializationFailure | self._errors.DeadlockDetected,
        )


class PostgresStore(Store):
    """A store in a PostgreSQL database.

    Args:
        dsn: a libpq connection string or URI.
        schema: the schema (namespace) to keep the tables in; created when missing.
        connect_timeout: seconds to wait for the server.

    Raises:
        StoreError: psycopg is missing, the server cannot be reached or refuses the
            login, or the schema is newer than this library (:class:`SchemaError`).
    """

    def __init__(self, dsn: str, *, schema: str = "public", connect_timeout: int = 10) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
            raise StoreError(f"schema must be a lower-case SQL identifier, got {schema!r}")
        self._psycopg = _psycopg()
        self._dsn = dsn
        self.schema = schema
        self._timeout = connect_timeout
        self._dialect = _PostgresDialect(self._psycopg)
        self._lock = threading.RLock()
        self._conn: Any = None
        self._connect()
        self._migrate()

    def _connect(self) -> Any:
        psycopg = self._psycopg
        try:
            conn = psycopg.connect(self._dsn, autocommit=False, connect_timeout=self._timeout)
            with conn.cursor() as cur:
                cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                cur.execute(f'SET search_path TO "{self.schema}"')
            conn.commit()
        except psycopg.Error as err:
            raise StoreError(f"cannot connect to PostgreSQL: {_first_line(err)}") from err
        self._conn = conn
        return conn

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed or self._conn.broken:
            return self._connect()
        return self._conn

    def _migrate(self) -> None:
        psycopg = self._psycopg
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                migrate(cur, self._dialect, f"schema {self.schema}")
            conn.commit()
        except SchemaError:
            conn.rollback()
            raise
        except psycopg.Error as err:
            conn.rollback()
            raise StoreError(f"cannot migrate schema {self.schema}: {_first_line(err)}") from err

    @property
    def schema_version(self) -> int:
        with self.transaction() as tx:
            rows = tx._query("SELECT max(version) FROM vas_schema")  # type: ignore[attr-defined]
            return int(rows[0][0])

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Transaction]:
        psycopg = self._psycopg
        with self._lock:
            conn = self._connection()
            tx = SqlTransaction(conn.cursor(), self._dialect)
            try:
                yield tx
                tx.flush()
                conn.commit()
            except BaseException as err:
                with contextlib.suppress(psycopg.Error):
                    conn.rollback()  # if the connection is gone, the next one reconnects
                if isinstance(err, ConflictError):
                    raise
                if self._dialect.is_retryable(err):
                    raise ConflictError("?", -1) from err
                if isinstance(err, psycopg.Error):
                    raise StoreError(f"PostgreSQL failed: {_first_line(err)}") from err
                raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
