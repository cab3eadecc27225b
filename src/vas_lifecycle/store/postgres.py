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
from vas_lifecycle.store.base import ConflictError, ConnectionLostError, Store, Transaction
from vas_lifecycle.store.sql import SCHEMA_VERSION, SchemaError, SqlTransaction, migrate

__all__ = ["PostgresStore"]

#: advisory lock key that serialises migrations of concurrent openers
_MIGRATION_LOCK = 74_202_611


def check_schema_name(schema: object) -> str:
    """A schema name this library will use: a lower-case SQL identifier that is not one
    of PostgreSQL's own schemas.

    Raises:
        StoreError: anything else.
    """
    if not isinstance(schema, str) or not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise StoreError(f"schema must be a lower-case SQL identifier, got {schema!r}")
    if schema.startswith("pg_") or schema == "information_schema":
        raise StoreError(f"schema {schema!r} belongs to PostgreSQL itself")
    return schema


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
    in_values = "= ANY(?)"
    rows_of = "(SELECT unnest(?::text[]) AS v)"

    def values(self, items: list[str]) -> list[str]:
        return items

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
            A lower-case SQL identifier; PostgreSQL's own schemas (``pg_*``,
            ``information_schema``) are refused.
        connect_timeout: seconds to wait for the server.
        migrate: create or upgrade the schema when opening (the default). ``False``
            opens an existing, current vas_lifecycle schema only, and changes nothing
            (for readers such as ``vas-lifecycle audit``).

    Raises:
        StoreError: psycopg is missing, the server cannot be reached or refuses the
            login, the schema name is refused, or the schema is newer than this
            library (:class:`SchemaError`), or (``migrate=False``) it is missing, not a
            vas_lifecycle schema, or older than this library.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "public",
        connect_timeout: int = 10,
        migrate: bool = True,
    ) -> None:
        check_schema_name(schema)
        self._psycopg = _psycopg()
        self._dsn = dsn
        self.schema = schema
        self._timeout = connect_timeout
        self._dialect = _PostgresDialect(self._psycopg)
        #: the recorders, made once: transactions run one at a time (the lock)
        self._tx = SqlTransaction(None, self._dialect)
        self._lock = threading.RLock()
        self._conn: Any = None
        self._connect()
        if migrate:
            self._migrate()
        else:
            self._check_current()

    def _connect(self) -> Any:
        psycopg = self._psycopg
        sql = psycopg.sql
        try:
            conn = psycopg.connect(self._dsn, autocommit=False, connect_timeout=self._timeout)
            with conn.cursor() as cur:
                # the schema may not exist yet: it is created under the migration lock
                cur.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            conn.commit()
        except psycopg.Error as err:
            raise StoreError(f"cannot connect to PostgreSQL: {_first_line(err)}") from err
        self._conn = conn
        return conn

    def _check_current(self) -> None:
        """Refuse anything but a current vas_lifecycle schema, and change nothing."""
        psycopg = self._psycopg
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT 1 FROM information_schema.tables "
                    "WHERE table_schema = %s AND table_name = 'vas_schema'",
                    (self.schema,),
                )
                found = cur.fetchone() is not None
                version = None
                if found:
                    cur.execute("SELECT max(version) FROM vas_schema")
                    version = cur.fetchone()[0]
            conn.rollback()
        except psycopg.Error as err:
            conn.rollback()
            raise StoreError(f"cannot read schema {self.schema}: {_first_line(err)}") from err
        if not found:
            raise StoreError(f"schema {self.schema} holds no vas_lifecycle store")
        if version != SCHEMA_VERSION:
            raise SchemaError(
                f"schema {self.schema} has version {version!r}, this library "
                f"{SCHEMA_VERSION}: open it once with migrate=True to upgrade"
            )

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed or self._conn.broken:
            return self._connect()
        return self._conn

    def _migrate(self) -> None:
        psycopg = self._psycopg
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                # concurrent openers of a new schema: one creates it, the others wait
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                cur.execute(
                    psycopg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        psycopg.sql.Identifier(self.schema)
                    )
                )
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
        """The version of the schema the database holds (see ``SCHEMA_VERSION``)."""
        with self.transaction() as tx:
            rows = tx.query("SELECT max(version) FROM vas_schema")  # type: ignore[attr-defined]
            return int(rows[0][0])

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Transaction]:
        """A unit of work: committed when the block ends normally, rolled back otherwise."""
        psycopg = self._psycopg
        with self._lock:
            conn = self._connection()
            tx = self._tx.begin(conn.cursor())
            committing = False
            try:
                yield tx
                tx.flush()
                committing = True
                conn.commit()
            except BaseException as err:
                with contextlib.suppress(psycopg.Error):
                    conn.rollback()  # if the connection is gone, the next one reconnects
                if isinstance(err, ConflictError):
                    raise
                if self._dialect.is_retryable(err):
                    raise ConflictError.concurrent(err) from err
                if isinstance(err, psycopg.Error):
                    if (conn.closed or conn.broken) and not committing:
                        # the server dropped the transaction with the connection, and
                        # no commit was sent: nothing was stored, so it may run again
                        raise ConnectionLostError(_first_line(err)) from err
                    raise StoreError(f"PostgreSQL failed: {_first_line(err)}") from err
                raise
            finally:
                tx.end()

    def close(self) -> None:
        """Close the store's connections; it cannot be used afterwards."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
