"""The SQL schema and its versioned migrations, shared by SQLite and PostgreSQL.

Both stores use the same tables and the same SQL; a :class:`Dialect` says what
differs (placeholders, row locks, how to lock for a migration). Times are stored as
canonical UTC text (``2026-11-24T01:00:00.000000Z``), which sorts chronologically in
both databases, so due timers and due notices are found through plain indexes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from vas_lifecycle.errors import StoreError

__all__ = ["FIRST_RELEASED", "MIGRATIONS", "SCHEMA_VERSION", "Dialect", "SchemaError", "migrate"]


class SchemaError(StoreError):
    """The database's schema is newer than this library, was made by a development
    build, or could not be migrated."""


#: Versioned migrations, applied in order when a store is opened, in one transaction.
#: Never edit one that has shipped: add the next. Versions 1 to 3 were development
#: builds that were never released; version 4 is the first released schema, written
#: whole.
#: the live states as of schema 9, sorted, as SQL (the stores' queries read the same
#: list from ``states.LIVE_STATES``; a test holds the two together)
LIVE_STATES_SQL = "('active', 'awaiting_confirmation', 'paused', 'trial', 'trial_expiring')"

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        4,
        (
            # every field of an order is a column of its own, named as the field
            # (readable and queryable with SQL alone); due_at is derived (the next
            # timer). What commands filter on and the indexes hold comes first (a
            # row's later columns cost more to reach): msisdn, version, state, due_at,
            # ended_at, service_code, kind, requested_at, code, sp_id, request_channel
            # (invariant 9: a command reads only the subscriber's live orders and one
            # day's requests)
            """CREATE TABLE vas_orders (
                id TEXT PRIMARY KEY,
                msisdn TEXT NOT NULL,
                version INTEGER NOT NULL,
                state TEXT NOT NULL,
                due_at TEXT,
                ended_at TEXT,
                service_code TEXT NOT NULL,
                kind TEXT NOT NULL,
                requested_at TEXT NOT NULL,
                code TEXT,
                sp_id TEXT NOT NULL,
                request_channel TEXT NOT NULL,
                sp_name TEXT NOT NULL,
                service_name TEXT NOT NULL,
                price TEXT NOT NULL,
                period TEXT NOT NULL,
                access_code TEXT NOT NULL,
                language TEXT NOT NULL,
                confirm_by TEXT,
                activated_at TEXT,
                consent_channel TEXT,
                trial_ends_at TEXT,
                remind_at TEXT,
                reminded_at TEXT,
                fee_notice_id TEXT,
                end_reason TEXT,
                request_notice_id TEXT)""",
            "CREATE INDEX vas_orders_due ON vas_orders (due_at) WHERE due_at IS NOT NULL",
            "CREATE INDEX vas_orders_requested ON vas_orders (msisdn, requested_at, id)",
            "CREATE INDEX vas_orders_live ON vas_orders (msisdn) WHERE state IN "
            "('awaiting_confirmation', 'active', 'trial', 'trial_expiring')",
            # invariant 8 as constraints, behind the per-subscriber lock: one live order
            # per subscription or trial, and distinct codes among pending orders
            "CREATE UNIQUE INDEX vas_orders_one_live ON vas_orders (msisdn, service_code) "
            "WHERE kind <> 'on_demand' AND state IN "
            "('awaiting_confirmation', 'active', 'trial', 'trial_expiring')",
            "CREATE UNIQUE INDEX vas_orders_pending_code ON vas_orders (msisdn, code) "
            "WHERE state = 'awaiting_confirmation'",
            """CREATE TABLE vas_events (
                order_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                kind TEXT NOT NULL,
                at TEXT NOT NULL,
                channel TEXT,
                actor TEXT NOT NULL,
                text_in TEXT,
                text_out TEXT,
                data TEXT NOT NULL,
                PRIMARY KEY (order_id, seq))""",
            # the outbox, with its delivery bookkeeping (retries with backoff, parking)
            """CREATE TABLE vas_notices (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                msisdn TEXT NOT NULL,
                order_id TEXT,
                text TEXT NOT NULL,
                at TEXT NOT NULL,
                sender TEXT NOT NULL,
                language TEXT NOT NULL,
                delivered_at TEXT,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TEXT,
                parked INTEGER NOT NULL DEFAULT 0,
                last_error TEXT)""",
            "CREATE INDEX vas_notices_order ON vas_notices (order_id)",
            """CREATE INDEX vas_notices_due ON vas_notices (next_attempt_at)
                WHERE delivered_at IS NULL AND parked = 0""",
            """CREATE TABLE vas_charges (
                key TEXT PRIMARY KEY,
                order_id TEXT NOT NULL,
                amount TEXT NOT NULL,
                period_key TEXT NOT NULL,
                period_start TEXT,
                at TEXT NOT NULL,
                order_version INTEGER NOT NULL,
                UNIQUE (order_id, period_key))""",
            """CREATE TABLE vas_violations (
                id TEXT PRIMARY KEY,
                sp_id TEXT NOT NULL,
                msisdn TEXT NOT NULL,
                order_id TEXT,
                reason TEXT NOT NULL,
                at TEXT NOT NULL,
                channel TEXT,
                evidence TEXT NOT NULL)""",
            "CREATE INDEX vas_violations_sp ON vas_violations (sp_id)",
            # the 0000 lists of the SMS channel (C8)
            """CREATE TABLE vas_pick_sessions (
                msisdn TEXT PRIMARY KEY,
                order_ids TEXT NOT NULL,
                sent_at TEXT NOT NULL,
                expires_at TEXT NOT NULL)""",
        ),
    ),
    (
        5,
        (
            # the inbound texts already handled, by the gateway's message id (a gateway
            # retry or a second worker changes nothing)
            """CREATE TABLE vas_messages (
                message_id TEXT PRIMARY KEY,
                at TEXT NOT NULL)""",
            "CREATE INDEX vas_messages_at ON vas_messages (at)",
            # what gateways report about each notice
            """CREATE TABLE vas_delivery_reports (
                id TEXT PRIMARY KEY,
                notice_id TEXT NOT NULL,
                status TEXT NOT NULL,
                at TEXT NOT NULL,
                detail TEXT NOT NULL)""",
            "CREATE INDEX vas_delivery_reports_notice ON vas_delivery_reports (notice_id, at)",
            # the SP API's keys: the SHA-256 digest of each secret, never the secret
            """CREATE TABLE vas_sp_keys (
                key_id TEXT PRIMARY KEY,
                sp_id TEXT NOT NULL,
                digest TEXT NOT NULL,
                created_at TEXT NOT NULL,
                revoked_at TEXT)""",
            "CREATE INDEX vas_sp_keys_sp ON vas_sp_keys (sp_id)",
        ),
    ),
    (
        6,
        (
            # the event feed: who listens, and what each is still owed (a row per
            # subscriber and event, written with the change, deleted once delivered)
            """CREATE TABLE vas_feed_subscribers (
                name TEXT PRIMARY KEY,
                since TEXT NOT NULL)""",
            """CREATE TABLE vas_feed (
                subscriber TEXT NOT NULL,
                event_id TEXT NOT NULL,
                order_id TEXT NOT NULL,
                pos TEXT NOT NULL,
                kind TEXT NOT NULL,
                at TEXT NOT NULL,
                seq INTEGER NOT NULL,
                msisdn TEXT NOT NULL,
                service_code TEXT NOT NULL,
                sp_id TEXT NOT NULL,
                state TEXT NOT NULL,
                data TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TEXT NOT NULL,
                parked INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                PRIMARY KEY (subscriber, event_id))""",
            "CREATE INDEX vas_feed_due ON vas_feed (subscriber, next_attempt_at)",
            "CREATE INDEX vas_feed_order ON vas_feed (subscriber, order_id, pos)",
            # a gateway reported a final failure of the notice's latest attempt: the
            # sender's "delivered", if it comes later, is not to be believed
            "ALTER TABLE vas_notices ADD COLUMN failure_reported INTEGER NOT NULL DEFAULT 0",
        ),
    ),
    (
        7,
        (
            # callers' idempotency keys for order requests, per SP ('' for the
            # operator's own callers), with what the first request did
            """CREATE TABLE vas_request_keys (
                scope TEXT NOT NULL,
                key TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                order_id TEXT,
                version INTEGER NOT NULL,
                refusal TEXT,
                at TEXT NOT NULL,
                PRIMARY KEY (scope, key))""",
            "CREATE INDEX vas_request_keys_at ON vas_request_keys (at)",
        ),
    ),
    (
        8,
        (
            # the spend ledger: what each subscriber was charged, per access code and
            # local day, in cents (amounts have two decimals at most), kept with
            # every charge (issue 18: spend reminders and caps read it)
            """CREATE TABLE vas_spend (
                msisdn TEXT NOT NULL,
                access_code TEXT NOT NULL,
                day TEXT NOT NULL,
                cents BIGINT NOT NULL,
                charges INTEGER NOT NULL,
                PRIMARY KEY (msisdn, day, access_code))""",
        ),
    ),
    (
        9,
        (
            # a paused subscription is live (issue 18): the live-state indexes gain the
            # state, listed as the stores' queries list it (sorted) so they are used
            "DROP INDEX vas_orders_live",
            f"CREATE INDEX vas_orders_live ON vas_orders (msisdn) WHERE state IN {LIVE_STATES_SQL}",
            "DROP INDEX vas_orders_one_live",
            "CREATE UNIQUE INDEX vas_orders_one_live ON vas_orders (msisdn, service_code) "
            f"WHERE kind <> 'on_demand' AND state IN {LIVE_STATES_SQL}",
        ),
    ),
    (
        10,
        (
            # refunds against recorded charges, and the claims that make them due (IN5)
            """CREATE TABLE vas_refunds (
                key TEXT PRIMARY KEY,
                order_id TEXT NOT NULL,
                charge_key TEXT NOT NULL,
                amount TEXT NOT NULL,
                reason TEXT NOT NULL,
                at TEXT NOT NULL,
                order_version INTEGER NOT NULL)""",
            "CREATE INDEX vas_refunds_order ON vas_refunds (order_id)",
            """CREATE TABLE vas_refund_claims (
                order_id TEXT NOT NULL,
                rule TEXT NOT NULL,
                at TEXT NOT NULL,
                PRIMARY KEY (order_id, rule))""",
        ),
    ),
    (
        11,
        (
            # when each tracked subscription was last used (UK6: idle ones are cancelled)
            """CREATE TABLE vas_usage (
                order_id TEXT PRIMARY KEY,
                used_at TEXT NOT NULL)""",
            "CREATE INDEX vas_usage_idle ON vas_usage (used_at)",
        ),
    ),
    (
        12,
        (
            # a pack's validity and renewal (IN3, IN7): days|auto_renew|valid_until
            "ALTER TABLE vas_orders ADD COLUMN pack TEXT",
        ),
    ),
    (
        13,
        (
            # subscribers with paid subscriptions on an access code, and their last
            # spend reminder (UK2, AU2: one at least every interval)
            """CREATE TABLE vas_spend_watch (
                msisdn TEXT NOT NULL,
                access_code TEXT NOT NULL,
                at TEXT NOT NULL,
                PRIMARY KEY (msisdn, access_code))""",
            "CREATE INDEX vas_spend_watch_at ON vas_spend_watch (at)",
        ),
    ),
    (
        14,
        (
            # C18: each event's hash and the hash of the event before it, and each
            # order's head (its last event's hash); orders stored before this version
            # have none until sealed (Lifecycle.seal_evidence, resumable), which notes
            # from which event the chain was written as it happened, and when the
            # events before it were sealed
            "ALTER TABLE vas_events ADD COLUMN prev TEXT",
            "ALTER TABLE vas_events ADD COLUMN hash TEXT",
            "ALTER TABLE vas_orders ADD COLUMN head TEXT",
            "ALTER TABLE vas_orders ADD COLUMN chained_from INTEGER",
            "ALTER TABLE vas_orders ADD COLUMN sealed_at TEXT",
            "CREATE INDEX vas_orders_unsealed ON vas_orders (id) WHERE head IS NULL",
        ),
    ),
    (
        15,
        (
            # where a sweep over all subscribers stands in its period (C17's monthly
            # reminder: the month, and the last subscriber reminded in it)
            """CREATE TABLE vas_sweeps (
                name TEXT PRIMARY KEY,
                period TEXT NOT NULL,
                last_key TEXT NOT NULL)""",
        ),
    ),
    (
        16,
        (
            # the id of the rule that sent each notice (C4, UK3, IN4: the policy's);
            # notices stored before this version have none
            "ALTER TABLE vas_notices ADD COLUMN rule TEXT NOT NULL DEFAULT ''",
        ),
    ),
    (
        17,
        (
            # CN25b: the months whose automatic charge each order announced in time
            "ALTER TABLE vas_orders ADD COLUMN notified TEXT",
        ),
    ),
    (
        18,
        (
            # the parked notices, counted for /metrics and listed for an operator
            # without reading every notice ever sent
            """CREATE INDEX vas_notices_parked ON vas_notices (at, id)
                WHERE delivered_at IS NULL AND parked = 1""",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
FIRST_RELEASED = MIGRATIONS[0][0]
#: Python steps a migration may name as ``@name`` (data SQL alone cannot move, such as
#: values computed from other columns); none yet.
STEPS: dict[str, Callable[[Any, Dialect], None]] = {}


def migrate(cursor: Any, dialect: Dialect, where: str) -> int:
    """Bring the schema behind ``cursor`` to :data:`SCHEMA_VERSION`, inside the caller's
    transaction; returns the version found. Refuses a newer schema, and one made by a
    development build before the first release."""
    cursor.execute("CREATE TABLE IF NOT EXISTS vas_schema (version INTEGER NOT NULL)")
    cursor.execute("SELECT max(version) FROM vas_schema")
    current = cursor.fetchone()[0] or 0
    if not isinstance(current, int):
        raise SchemaError(f"{where} has a schema version that is not a number: {current!r}")
    if current > SCHEMA_VERSION:
        raise SchemaError(
            f"{where} has schema version {current}; this library knows up to "
            f"{SCHEMA_VERSION}: upgrade vas_lifecycle"
        )
    if 0 < current < FIRST_RELEASED:
        raise SchemaError(
            f"{where} was made by a development build of vas_lifecycle (schema {current}), "
            "which cannot be upgraded: start a new store"
        )
    for version, statements in MIGRATIONS:
        if version > current:
            for statement in statements:
                if statement.startswith("@"):
                    STEPS[statement[1:]](cursor, dialect)
                else:
                    cursor.execute(statement)
            cursor.execute(dialect.sql("INSERT INTO vas_schema (version) VALUES (?)"), (version,))
    return int(current)


class Dialect(Protocol):
    """What differs between the SQL databases."""

    #: appended to SELECTs that claim rows for this transaction, skipping rows that
    #: another transaction holds (``FOR UPDATE SKIP LOCKED``)
    claim: str
    #: appended to a SELECT that locks a row, waiting for it (``FOR UPDATE``)
    lock: str
    #: a statement that holds one subscriber (its number as the parameter) until the
    #: transaction ends; empty where transactions already run one at a time
    subscriber_lock: str

    def sql(self, statement: str) -> str:
        """The statement with this driver's placeholders (written with ``?``)."""
        ...

    def is_integrity_error(self, err: BaseException) -> bool: ...

    def among(self, subquery: str) -> str:
        """``id <this>``: membership in the rows a claiming subquery returns."""
        ...

    #: ``column <this>``: membership in a list given as one parameter (see ``values``)
    in_values: str
    #: a subquery of the items of a list given as one parameter, as column ``v``
    rows_of: str

    def values(self, items: list[str]) -> Any:
        """The one parameter ``in_values`` takes for ``items``."""
        ...
