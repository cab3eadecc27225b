"""``vas-lifecycle serve``, ``worker``, ``bill`` and ``sp-key``: running the library for real.

``serve`` answers Kannel (MO texts, delivery reports) and SPs (the SP API) over
HTTP, and with ``--with-worker`` runs the worker in the same process; ``worker``
runs timers and the outbox alone (run one or several beside any number of
``serve`` processes on one PostgreSQL). ``bill`` runs a billing pass for a period.
``sp-key`` makes and revokes SP API keys.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import signal
import threading
from pathlib import Path
from typing import Any

import click

from vas_lifecycle.catalog import Catalog, Period
from vas_lifecycle.cli.app import clean_errors, console, fail, main, open_store, store_options
from vas_lifecycle.cli.settings import Settings, quiet_hours
from vas_lifecycle.clock import SystemClock
from vas_lifecycle.errors import InvalidArgumentError
from vas_lifecycle.gateways.kannel import KannelConfig, KannelNotifier
from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.policy import Policy
from vas_lifecycle.sp_keys import SpKeys
from vas_lifecycle.store.base import Store
from vas_lifecycle.worker import Worker

__all__: list[str] = []

log = logging.getLogger("vas_lifecycle")


def _store(settings: Settings, create: bool) -> Store:
    return open_store(
        settings.get("store.db"),
        settings.get("store.dsn"),
        settings.get("store.schema"),
        reader=False,
        create=create,
    )


def _catalog(settings: Settings) -> Catalog:
    path = settings.get("store.catalog")
    if path is None:
        fail("say which services are on sale: --catalog FILE (TOML, [[service]] tables)")
    return Catalog.from_toml(Path(path))


def _kannel(settings: Settings) -> KannelConfig:
    missing = [k for k in ("username", "password", "token") if settings.get(f"kannel.{k}") is None]
    if missing:
        names = ", ".join(f"VAS_KANNEL_{k.upper()}" for k in missing)
        fail(f"no SMS gateway configured: set {names} (or [kannel] in --config)")
    return KannelConfig(
        sendsms_url=settings.get("kannel.sendsms_url"),
        username=settings.get("kannel.username"),
        password=settings.get("kannel.password"),
        dlr_url=settings.get("kannel.dlr_url"),
        token=settings.get("kannel.token"),
        smsc=settings.get("kannel.smsc"),
        timeout=settings.get("kannel.timeout"),
    )


def _lifecycle(
    settings: Settings,
    kannel: KannelConfig,
    *,
    create: bool,
    senders: int = 0,
    count: bool = False,
) -> Lifecycle:
    """The Lifecycle a command runs; ``senders`` background threads hand notices to
    the gateway (serve: a request never waits for smsbox), and with ``count`` it counts
    what its commands came to (serve's ``/metrics``)."""
    return Lifecycle(
        _catalog(settings),
        policy=_policy(settings),
        clock=SystemClock(),
        store=_store(settings, create),
        notifier=KannelNotifier(kannel),
        senders=senders,
        count_commands=count,
    )


def _policy(settings: Settings) -> Policy:
    return Policy.china_mobile(quiet_hours=quiet_hours(settings.get("policy.quiet_hours")))


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _on_stop(stop: Any) -> None:
    """Call ``stop`` on SIGTERM and SIGINT: the current unit of work finishes first."""

    def handler(signum: int, frame: object) -> None:
        log.info("signal %s: stopping after the current unit of work", signum)
        stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def store_flags(func: Any) -> Any:
    """The settings file, the store and the catalog: what every running command reads."""
    options = [
        click.option("--config", "config", default=None, help="A TOML settings file."),
        click.option("--db", default=None, help="SQLite database file."),
        click.option("--dsn", default=None, help="PostgreSQL DSN (instead of --db)."),
        click.option("--schema", default=None, help="PostgreSQL schema (public)."),
        click.option("--catalog", default=None, help="The services on sale (TOML)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def running_options(func: Any) -> Any:
    func = click.option(
        "--create", is_flag=True, help="Make the SQLite file if it does not exist."
    )(func)
    func = click.option("--tick", type=float, default=None, help="Longest sleep, seconds (30).")(
        func
    )
    return store_flags(func)


@main.command()
@running_options
@click.option("--host", default=None, help="Address to listen on (127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (8080).")
@click.option("--with-worker", is_flag=True, help="Run the worker in this process too.")
def serve(with_worker: bool, create: bool, **flags: Any) -> None:
    """Answer Kannel (/kannel/mo, /kannel/dlr) and SPs (/sp/v1/orders) over HTTP."""
    try:
        import waitress
    except ImportError:  # pragma: no cover - depends on the installation
        fail("serve needs the 'serve' extra: pip install 'vas-lifecycle[serve]'")
    from vas_lifecycle.server import make_app

    _logging()
    with clean_errors():
        settings = _settings(flags)
        kannel = _kannel(settings)
        senders = settings.get("server.senders")
        lc = _lifecycle(settings, kannel, create=create, senders=senders, count=True)
        app = make_app(lc, keys=SpKeys(lc.store), gateway_token=kannel.token)
        server = waitress.create_server(
            app,
            host=settings.get("server.host"),
            port=settings.get("server.port"),
            threads=settings.get("server.threads"),
        )
        worker = Worker(lc, tick=settings.get("worker.tick"), batch=settings.get("worker.batch"))
        thread = threading.Thread(target=worker.run, name="vas-worker", daemon=True)
        if with_worker:
            thread.start()

        def stop() -> None:
            worker.stop()
            raise KeyboardInterrupt  # ends waitress's loop in the main thread

        _on_stop(stop)
        log.info("serving on http://%s:%s", settings.get("server.host"), server.effective_port)
        try:
            server.run()
        finally:
            worker.stop()
            if with_worker:
                thread.join()
            server.close()
            lc.close()
            log.info("stopped")


@main.command()
@running_options
@click.option("--batch", type=int, default=None, help="Orders or notices per unit (500).")
def worker(create: bool, **flags: Any) -> None:
    """Run timers (confirmation expiry, trial reminders and ends) and the outbox."""
    _logging()
    with clean_errors():
        settings = _settings(flags)
        lc = _lifecycle(settings, _kannel(settings), create=create)
        runner = Worker(lc, tick=settings.get("worker.tick"), batch=settings.get("worker.batch"))
        _on_stop(runner.stop)
        try:
            runner.run()
        finally:
            lc.close()


@main.command()
@click.option(
    "--period",
    required=True,
    help="What to bill: a month YYYY-MM, a week YYYY-Www (ISO) or a day YYYY-MM-DD.",
)
@store_flags
@click.option("--batch", type=int, default=None, help="Orders per transaction (500).")
def bill(period: str, **flags: Any) -> None:
    """Charge every subscription C11 allows for one period, each once: a rerun, a run
    resumed after a crash, or several at once on PostgreSQL never charge twice."""
    every, start = _billing_period(period)
    with clean_errors():
        settings = _settings(flags)
        lc = Lifecycle(
            _catalog(settings),
            policy=_policy(settings),
            clock=SystemClock(),
            store=_store(settings, create=False),
        )
        try:
            summary = lc.billing_run(start, period=every, batch=settings.get("worker.batch"))
        finally:
            lc.close()
    console.print(
        f"Billed {summary.period_key}: {summary.charged:,} charged, {summary.amount} in all"
    )
    for reason, count in sorted(summary.refused.items()):
        console.print(f"  not charged, {reason}: {count:,}")


def _billing_period(text: str) -> tuple[Period, dt.date]:
    """``--period``: a month, an ISO week or a day, as the period and its first day."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}", text):
            return Period.MONTH, dt.date.fromisoformat(f"{text}-01")
        if re.fullmatch(r"\d{4}-W\d{2}", text):
            return Period.WEEK, dt.date.fromisocalendar(int(text[:4]), int(text[6:]), 1)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return Period.DAY, dt.date.fromisoformat(text)
    except ValueError:
        pass
    fail(f"--period must be a month (2026-12), an ISO week (2026-W49) or a day, got {text!r}")


def _settings(flags: dict[str, Any]) -> Settings:
    names = {
        "db": "store.db",
        "dsn": "store.dsn",
        "schema": "store.schema",
        "catalog": "store.catalog",
        "tick": "worker.tick",
        "batch": "worker.batch",
        "host": "server.host",
        "port": "server.port",
    }
    config = flags.pop("config", None)
    return Settings(config, {names[k]: v for k, v in flags.items()})


# --- SP keys -------------------------------------------------------------------------------


@main.group(name="sp-key")
def sp_key() -> None:
    """Make, list and revoke SP API keys (stored as digests)."""


@sp_key.command(name="add")
@click.argument("sp_id")
@store_options
@click.option(
    "--catalog",
    default=None,
    envvar="VAS_STORE_CATALOG",
    show_envvar=True,
    help="The services on sale: SP_ID must sell one of them.",
)
@click.option("--force", is_flag=True, help="Add a key for an SP the catalog does not name.")
@click.option("--create", is_flag=True, help="Make the SQLite file if it does not exist.")
def sp_key_add(
    sp_id: str,
    db: str | None,
    dsn: str | None,
    schema: str,
    catalog: str | None,
    force: bool,
    create: bool,
) -> None:
    """A new key for SP_ID, printed once: only its digest is stored.

    SP_ID must be an SP of the catalog (a typo would make a key nobody's services
    answer to), unless --force says otherwise."""
    with clean_errors():
        if not force:
            if catalog is None:
                fail("say which catalog SP_ID must be in (--catalog FILE), or pass --force")
            known = {service.sp_id for service in Catalog.from_toml(Path(catalog))}
            if sp_id not in known:
                shown = ", ".join(sorted(known)) or "none"
                fail(
                    f"{sp_id} sells nothing in {catalog} (its SPs: {shown}); --force to add anyway"
                )
        store = open_store(db, dsn, schema, reader=False, create=create)
        try:
            key = SpKeys(store).add(sp_id)
        finally:
            store.close()
    click.echo(key)


@sp_key.command(name="revoke")
@click.argument("sp_id")
@click.option("--key", "key_id", default=None, help="The key id (the part after vas_).")
@click.option("--all", "every", is_flag=True, help="Revoke every live key of SP_ID.")
@store_options
def sp_key_revoke(
    sp_id: str, key_id: str | None, every: bool, db: str | None, dsn: str | None, schema: str
) -> None:
    """Revoke one key of SP_ID (--key ID), or all of them (--all)."""
    if (key_id is None) == (not every):
        fail("say which key to revoke: --key ID, or --all for every key of the SP")
    with clean_errors():
        store = open_store(db, dsn, schema, reader=False)
        try:
            count = SpKeys(store).revoke(sp_id, key_id)
        finally:
            store.close()
        if key_id is not None and count == 0:
            raise InvalidArgumentError(f"{sp_id} has no live key {key_id!r}")
    console.print(f"revoked {count} key(s) of {sp_id}", markup=False)


@sp_key.command(name="list")
@click.argument("sp_id")
@store_options
def sp_key_list(sp_id: str, db: str | None, dsn: str | None, schema: str) -> None:
    """The keys of SP_ID: id, made, revoked (never the secrets)."""
    with clean_errors():
        store = open_store(db, dsn, schema, reader=False)
        try:
            keys = SpKeys(store).keys(sp_id)
        finally:
            store.close()
    for key in keys:
        revoked = key.revoked_at.isoformat() if key.revoked_at else "live"
        console.print(f"{key.key_id}  {key.created_at.isoformat()}  {revoked}", markup=False)
