"""SQLite store (stdlib ``sqlite3``, WAL): the embedded default for one machine.

Each transaction starts with ``BEGIN IMMEDIATE``, which takes the database's write lock
at once, so concurrent processes on the same file run their units of work one after
another (``busy_timeout`` waits for the lock) and optimistic versions are checked
against committed data. WAL with ``synchronous=NORMAL`` survives a killed process: a
committed transaction is never lost to a crash of the writer.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from vas_lifecycle.errors import StoreError
from vas_lifecycle.store.base import ConflictError, Store, Transaction
from vas_lifecycle.store.sql import SCHEMA_VERSION, SchemaError, SqlTransaction, migrate

__all__ = ["SQLiteStore"]

# The sqlite3 module binds None through its adapter protocol: with no adapter for
# NoneType it looks for ``__adapt__`` and ``__conform__`` and fails, raising and
# formatting an AttributeError for every NULL bound (several times the cost of
# binding a string; an order row holds a dozen). An adapter that answers None binds
# the same NULL without that search. Registered only if nobody registered one (the
# registry is the process's, shared with the application's own sqlite3 use, whose
# NULLs it leaves as they are).
if (type(None), sqlite3.PrepareProtocol) not in sqlite3.adapters:
    # a built-in that answers None to one argument: no Python frame per NULL
    sqlite3.register_adapter(type(None), cast("Callable[[None], None]", {}.get))


#: The page cache of each connection, in KiB.
CACHE_KIB = 32 * 1024


class _SqliteDialect:
    claim = ""  # BEGIN IMMEDIATE already holds the only write lock
    lock = ""
    subscriber_lock = ""  # BEGIN IMMEDIATE: one writer at a time already
    in_values = "IN (SELECT value FROM json_each(?))"
    rows_of = "(SELECT value AS v FROM json_each(?))"

    def values(self, items: list[str]) -> str:
        return json.dumps(items)

    def sql(self, statement: str) -> str:
        return statement

    def among(self, subquery: str) -> str:
        return f"IN ({subquery})"

    def is_integrity_error(self, err: BaseException) -> bool:
        return isinstance(err, sqlite3.IntegrityError)


class SQLiteStore(Store):
    """A store in one SQLite file (``":memory:"`` for a private in-memory database).

    Args:
        path: the database file; created (with its schema) when missing.
        timeout: seconds to wait for another process's write lock.
        migrate: create or upgrade the schema when opening (the default). ``False``
            opens an existing file holding a current vas_lifecycle store only, and
            changes nothing in it (for readers such as ``vas-lifecycle audit``).

    Raises:
        StoreError: the path is a directory, not writable, not a database, or its
            schema is newer than this library (:class:`SchemaError`), or
            (``migrate=False``) it is missing, not a vas_lifecycle store, or older.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, timeout: float = 30.0, migrate: bool = True
    ) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            target = Path(self.path)
            if target.is_dir():
                raise StoreError(f"{self.path} is a directory, not a database file")
            if not target.parent.is_dir():
                raise StoreError(f"cannot create {self.path}: no directory {target.parent}")
            if not migrate and not target.is_file():
                raise StoreError(f"no database at {self.path}")
        self._lock = threading.RLock()
        self._dialect = _SqliteDialect()
        #: the recorders, made once: transactions run one at a time (the lock)
        self._tx = SqlTransaction(None, self._dialect)
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            # a unit of work touches an order's row, its indexes, and the events and
            # notices it appends; SQLite's default 2 MiB page cache makes a batch of a
            # thousand re-read the pages it just wrote
            self._conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            if migrate:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._migrate()
            else:
                self._check_current()
        except sqlite3.Error as err:
            raise StoreError(f"cannot open SQLite database {self.path}: {err}") from err

    def _check_current(self) -> None:
        """Refuse anything but a current vas_lifecycle store, and change nothing."""
        found = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'vas_schema'"
        ).fetchone()
        if found is None:
            self._conn.close()
            raise StoreError(f"{self.path} holds no vas_lifecycle store")
        (version,) = self._conn.execute("SELECT max(version) FROM vas_schema").fetchone()
        if version != SCHEMA_VERSION:
            self._conn.close()
            raise SchemaError(
                f"{self.path} has schema version {version!r}, this library "
                f"{SCHEMA_VERSION}: open it once with migrate=True to upgrade"
            )

    def _migrate(self) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            migrate(conn.cursor(), self._dialect, self.path)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @property
    def schema_version(self) -> int:
        """The version of the schema the database holds (see ``SCHEMA_VERSION``)."""
        with self._lock:
            row = self._conn.execute("SELECT max(version) FROM vas_schema").fetchone()
            return int(row[0])

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Transaction]:
        """A unit of work: committed when the block ends normally, rolled back otherwise."""
        with self._lock:
            conn = self._conn
            try:
                # a reader takes no write lock (WAL lets it read beside a writer)
                conn.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")
            except sqlite3.Error as err:
                raise StoreError(f"cannot start a transaction on {self.path}: {err}") from err
            tx = self._tx.begin(conn.cursor())
            try:
                yield tx
                tx.flush()
                conn.execute("COMMIT")
            except BaseException as err:
                conn.execute("ROLLBACK")
                if isinstance(err, sqlite3.IntegrityError):
                    raise ConflictError.concurrent(err) from err
                if isinstance(err, sqlite3.Error):
                    raise StoreError(f"SQLite failed on {self.path}: {err}") from err
                raise
            finally:
                tx.end()

    def close(self) -> None:
        """Close the store's connections; it cannot be used afterwards."""
        with self._lock:
            self._conn.close()
