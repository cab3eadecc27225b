"""The ``vas-lifecycle`` command line (also ``python -m vas_lifecycle``).

Needs the ``cli`` extra (click and rich): ``pip install 'vas-lifecycle[cli]'``.
Every error prints one clear line and exits non-zero; no traceback reaches the user.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn, TypeVar

try:
    import click
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table
except ImportError as err:  # pragma: no cover - depends on the installation
    sys.stderr.write(
        f"vas-lifecycle: the command line needs the 'cli' extra ({err.name} is missing): "
        "pip install 'vas-lifecycle[cli]'\n"
    )
    raise SystemExit(2) from err

import pendulum

from vas_lifecycle.catalog import Catalog
from vas_lifecycle.cli.simulation import POLICIES, SimulationReport, simulate
from vas_lifecycle.clock import ManualClock, SystemClock
from vas_lifecycle.errors import VasError
from vas_lifecycle.evidence import bundle_bytes, verify_bundle
from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.machine import mermaid_diagram
from vas_lifecycle.notices import Notice
from vas_lifecycle.notify import CallbackNotifier
from vas_lifecycle.policy import Channel, Policy
from vas_lifecycle.privacy import mask_msisdn, mask_numbers
from vas_lifecycle.store.base import Store
from vas_lifecycle.store.memory import MemoryStore
from vas_lifecycle.testing.catalogs import simulation_catalog
from vas_lifecycle.values import normalize_msisdn

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])
TZ = "Asia/Shanghai"
#: piped into a file or another program, lines are not wrapped at 80 columns (a
#: terminal wraps them itself; a pipe would get them broken mid-text)
console = Console(highlight=False, soft_wrap=not sys.stdout.isatty())


def plural(count: int, word: str) -> str:
    """``1 subscriber``, ``2 subscribers``, ``1,000 days``."""
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def fail(message: str) -> NoReturn:
    """One clear line on stderr, exit 2."""
    click.echo(f"error: {' '.join(message.split())}", err=True)  # one line, never wrapped
    raise SystemExit(2)


@contextmanager
def clean_errors() -> Iterator[None]:
    try:
        yield
    except VasError as err:
        fail(mask_numbers(str(err)))
    except OSError as err:
        fail(f"{err.strerror or err}: {err.filename}" if err.filename else str(err))
    except KeyboardInterrupt:
        fail("interrupted")


#: The comment simulate puts on the schemas it creates: it empties no other schema.
SIMULATION_MARK = "created by vas-lifecycle simulate; emptied by its next run"


class Shown:
    """How stored data is printed: literally (never read as markup) and, unless asked
    for in full, with subscriber numbers masked (C14a)."""

    def __init__(self, full_numbers: bool) -> None:
        self.full = full_numbers

    def number(self, value: str) -> str:
        return escape(value if self.full else mask_msisdn(value))

    def text(self, value: str) -> str:
        return escape(value if self.full else mask_numbers(value))


def show_numbers_option(func: F) -> F:
    return click.option(
        "--show-numbers",
        is_flag=True,
        help="Print subscriber numbers in full (they are personal data: masked by default).",
    )(func)


def open_store(
    db: str | None, dsn: str | None, schema: str, *, reader: bool, create: bool = False
) -> Store:
    """The store to work on. A reader (audit, sp-report) opens an existing, current
    vas_lifecycle store only, and never creates or migrates anything in it. A writer
    opens an existing SQLite file, or makes a new one only when asked (``create``): a
    mistyped path must not start an empty store beside the real one."""
    from vas_lifecycle.store.postgres import PostgresStore
    from vas_lifecycle.store.sqlite import SQLiteStore

    if dsn:
        return PostgresStore(dsn, schema=schema, migrate=not reader)
    if db is None:
        fail("say where the history is: --db PATH (SQLite) or --dsn DSN (PostgreSQL)")
    if not reader and not create and db != ":memory:" and not Path(db).exists():
        fail(f"{db} does not exist: check the path, or pass --create to make a new store there")
    return SQLiteStore(db, migrate=not reader)


#: The one environment variable of each store option, for every command.
DSN_ENV, DB_ENV, SCHEMA_ENV = "VAS_STORE_DSN", "VAS_STORE_DB", "VAS_STORE_SCHEMA"


def store_options(func: F) -> F:
    """``--db``, ``--dsn`` and ``--schema``, each also from its ``VAS_STORE_*``
    variable (the names serve and worker read too)."""
    func = click.option(
        "--schema",
        default="public",
        show_default=True,
        envvar=SCHEMA_ENV,
        show_envvar=True,
        help="PostgreSQL schema.",
    )(func)
    func = click.option(
        "--dsn",
        default=None,
        envvar=DSN_ENV,
        show_envvar=True,
        help="PostgreSQL DSN (instead of --db).",
    )(func)
    return click.option(
        "--db", default=None, envvar=DB_ENV, show_envvar=True, help="SQLite database file."
    )(func)


def local(when: dt.datetime, zone: str = TZ) -> str:
    """An instant as local time in ``zone``, with its offset (``2026-12-07 09:00:00 +08:00``)."""
    return pendulum.instance(when).in_timezone(zone).format("YYYY-MM-DD HH:mm:ss Z")


def policy_option(func: F) -> F:
    """``--policy NAME``: the preset whose time zone and money the output is shown in."""
    return click.option(
        "--policy",
        "policy_name",
        type=click.Choice(Policy.presets()),
        default="china_mobile",
        show_default=True,
        help="The regime preset the store was run under: times are shown in its time "
        "zone, amounts in its currency.",
    )(func)


def reading(db: str | None, dsn: str | None, schema: str, policy_name: str) -> Lifecycle:
    """A Lifecycle that reads a store under a preset (it changes nothing)."""
    regime = Policy.regime(policy_name)
    return Lifecycle(Catalog(), policy=regime, store=open_store(db, dsn, schema, reader=True))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vas-lifecycle")
def main() -> None:
    """Consent-safe lifecycle of value-added-service orders."""
    if "VAS_DSN" in os.environ and DSN_ENV not in os.environ:
        fail(f"VAS_DSN is now {DSN_ENV} (one name for every command): rename it")


# --- simulate ----------------------------------------------------------------------------


@main.command(name="simulate")
@click.option("--subscribers", type=click.IntRange(1), default=2000, show_default=True)
@click.option("--days", type=click.IntRange(1, 366), default=30, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    help="Keep the history in this SQLite file (default: a temporary one).",
)
@click.option(
    "--dsn",
    default=None,
    envvar=DSN_ENV,
    show_envvar=True,
    help="Use PostgreSQL instead (then the history goes there).",
)
@click.option(
    "--schema",
    default="vas_simulation",
    show_default=True,
    help="PostgreSQL schema; one that an earlier simulate made is emptied first, any "
    "other existing schema is refused.",
)
@click.option("--memory", is_flag=True, help="Keep the history in memory only.")
@click.option(
    "--policy",
    "policy_name",
    type=click.Choice(sorted(POLICIES)),
    default="china",
    show_default=True,
    help="china: the China Mobile preset; extended: it with receipts, caps, spend "
    "reminders, refunds, inactivity and packs with renewal notices on (and subscribers "
    "who buy packs, pause and use their services); or a regime preset (india_trai, "
    "uk_psa, us_ctia, australia_acma, card_trials...), its versions followed by date, "
    "with the extended subscribers.",
)
def simulate_(
    subscribers: int,
    days: int,
    seed: int,
    db: str | None,
    dsn: str | None,
    schema: str,
    memory: bool,
    policy_name: str,
) -> None:
    """A synthetic month of an operator's life, then the invariant check.

    Exits 1 when the test kit's checker finds any violation of the consent rules.
    """
    with clean_errors(), _simulation_store(db, dsn, schema, memory) as (store, where):
        console.print(
            f"Simulating [bold]{plural(subscribers, 'subscriber')}[/] for "
            f"[bold]{plural(days, 'day')}[/] (seed {seed}, policy {policy_name}) in {where}"
        )
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} actions"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("simulating", total=1)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = simulate(
                subscribers=subscribers,
                days=days,
                seed=seed,
                store=store,
                progress=progress,
                policy=policy_name,
            )
        show_report(report)
        if not report.ok:
            raise SystemExit(1)


@contextmanager
def _simulation_store(
    db: str | None, dsn: str | None, schema: str, memory: bool
) -> Iterator[tuple[Store, str]]:
    from vas_lifecycle.store.postgres import PostgresStore
    from vas_lifecycle.store.sqlite import SQLiteStore

    if memory:
        yield MemoryStore(), "memory"
        return
    if dsn:
        _fresh_simulation_schema(dsn, schema)
        server = PostgresStore(dsn, schema=schema)
        yield server, f"PostgreSQL schema {schema}"
        server.close()
        return
    if db is not None:
        path = Path(db)
        if path.exists():
            fail(f"{db} exists: the simulation needs a new database (remove it or pick another)")
        store = SQLiteStore(path)
        yield store, f"SQLite {db}"
        store.close()
        return
    with tempfile.TemporaryDirectory(prefix="vas-sim-") as folder:
        store = SQLiteStore(Path(folder) / "simulation.db")
        yield store, "a temporary SQLite database"
        store.close()


def _fresh_simulation_schema(dsn: str, schema: str) -> None:
    """Make ``schema`` new and empty for a simulation. Only a schema that simulate made
    (it carries SIMULATION_MARK) is emptied; any other existing schema is refused."""
    from vas_lifecycle.store.postgres import check_schema_name

    check_schema_name(schema)  # before anything is sent
    try:
        import psycopg
        from psycopg import sql
    except ImportError:
        fail("--dsn needs psycopg: pip install 'vas-lifecycle[postgres]'")
    name = sql.Identifier(schema)
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
                (schema,),
            ).fetchone()
            if row is not None and row[0] != SIMULATION_MARK:
                fail(
                    f"schema {schema} exists and was not made by vas-lifecycle simulate: "
                    "refusing to empty it (pick another --schema)"
                )
            with conn.transaction():
                if row is not None:
                    conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(name))
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(name))
                conn.execute(
                    sql.SQL("COMMENT ON SCHEMA {} IS {}").format(name, sql.Literal(SIMULATION_MARK))
                )
    except psycopg.Error as err:
        fail(f"PostgreSQL refused: {str(err).strip().splitlines()[0]}")


def show_report(report: SimulationReport) -> None:
    def table(title: str, rows: dict[str, int], name: str = "", value: str = "count") -> Table:
        out = Table(title=title, title_justify="left", show_edge=False, min_width=len(title))
        out.add_column(name)
        out.add_column(value, justify="right")
        for key, count in rows.items():
            out.add_row(escape(key), f"{count:,}")
        if not rows:
            out.add_row("(none)", "0")
        return out

    console.print(table("Orders by final state", report.orders_by_state, "state"))
    console.print(table("Notices by kind", report.notices_by_kind, "kind"))
    charges = {"charges recorded": report.charges, **report.refusals_by_reason}
    console.print(table("Charges and refusals by reason", charges, "reason"))
    money = report.amount_format
    console.print(f"  amount charged: {money.format(amount=report.charged_amount)}")
    if report.refunds:
        refunded = money.format(amount=report.refunded_amount)
        console.print(f"  refunds paid: {report.refunds:,}, {refunded}")
    console.print(table("SP violations (C13)", report.violations_by_sp, "SP"))
    console.print(table("SP violations by reason", report.violations_by_reason, "reason"))
    rate = report.commands / report.elapsed if report.elapsed else 0.0
    console.print(
        f"{plural(report.commands, 'command')} in {report.elapsed:.1f} s ({rate:,.0f} per second)"
    )
    if report.ok:
        console.print("[bold green]Invariant check: 0 violations[/]")
    else:
        found = plural(len(report.invariant_violations), "violation")
        console.print(f"[bold red]Invariant check: {found}[/]")
        for line in report.invariant_violations[:20]:
            console.print(f"  {escape(mask_numbers(str(line)))}")


# --- demo --------------------------------------------------------------------------------


@main.command()
@show_numbers_option
def demo(show_numbers: bool) -> None:
    """A narrated, dated timeline: a confirmed order, a silent one, a trial, a 0000."""
    shown = Shown(show_numbers)
    with clean_errors():
        start = pendulum.datetime(2026, 11, 24, 9, 0, tz=TZ)
        clock = ManualClock(start)
        lines: list[tuple[str, str]] = []

        def heard(notice: Notice) -> None:
            lines.append(
                (
                    local(notice.at),
                    f"  📱 {shown.number(notice.msisdn)} ← {escape(notice.sender)}: "
                    f"{escape(notice.text)}",
                )
            )

        lc = Lifecycle(simulation_catalog(), clock=clock, notifier=CallbackNotifier(heard))

        def say(text: str) -> None:
            lines.append((local(clock.now()), f"[bold]{text}[/]"))

        alice, bob = "+8613800000001", "+8613800000002"
        say("星辰科技 asks to subscribe Alice to 新闻早报 (5元/月)")
        news = lc.request(alice, "NEWS", channel=Channel.SP_API)
        say("星辰科技 also asks to subscribe Bob")
        silent = lc.request(bob, "NEWS", channel=Channel.SP_API)
        clock.advance(dt.timedelta(minutes=2))
        say("Alice replies 是 — only her own reply, by SMS to 10086, activates the order")
        lc.handle_sms(alice, "是", to="10086")
        decision = lc.may_charge(news.id, news.price)
        say(f"The billing backend asks before charging Alice: {decision.reason.value}")
        lc.record_charge(news.id, news.price, key="2026-11/alice")
        say("Alice starts a 7-day free trial of 彩铃体验")
        trial = lc.request(alice, "MUSIC7", channel=Channel.WAP)
        clock.advance(dt.timedelta(hours=24))
        lc.run_due()
        say(f"24 hours later Bob has not answered: his order is {lc.get(silent.id).state.value}")
        say(f"May Bob be charged? {lc.may_charge(silent.id, silent.price).reason.value}")
        clock.set(trial.trial_ends_at.subtract(hours=48) if trial.trial_ends_at else start)
        say("48 hours before the trial ends, Alice is reminded")
        lc.run_due()
        clock.set(trial.trial_ends_at or start)
        say("The trial ends by itself, with a notice, and is never charged")
        lc.run_due()
        say(f"Trial: {lc.get(trial.id).state.value}; charges: {len(lc.charges(trial.id))}")
        clock.advance(dt.timedelta(days=1))
        say("Alice sends 0000 to 10086 to see what she pays for")
        lc.handle_sms(alice, "0000", to="10086")
        clock.advance(dt.timedelta(minutes=1))
        say("…and replies 1 to cancel 新闻早报")
        lc.handle_sms(alice, "1", to="10086")
        say(f"May Alice be charged for December? {lc.may_charge(news.id, news.price).reason.value}")
        for when, text in lines:
            console.print(f"[dim]{when}[/] {text}")


# --- sms -------------------------------------------------------------------------------


@main.command()
@store_options
@click.option(
    "--msisdn", default="+8613800138000", show_default=True, help="The subscriber you type as."
)
@show_numbers_option
def sms(db: str | None, dsn: str | None, schema: str, msisdn: str, show_numbers: bool) -> None:
    """Type as a subscriber: each line is an SMS to 10086 (or to NUMBER with `@NUMBER`).

    `order CODE` makes an SP ask for CODE; `quit` ends. History stays in the store.
    """
    shown = Shown(show_numbers)
    with clean_errors():
        store = open_store(db, dsn, schema, reader=False, create=True)  # a sandbox
        heard: list[Notice] = []
        lc = Lifecycle(
            simulation_catalog(),
            clock=SystemClock(),
            store=store,
            notifier=CallbackNotifier(heard.append),
        )
        number = normalize_msisdn(msisdn, lc.regime.country_code)  # bad number: exit 2
        codes = ", ".join(s.code for s in lc.catalog)
        console.print(
            f"Handset {shown.number(number)}. Services: {escape(codes)}. Type `quit` to leave."
        )
        for raw in sys.stdin:
            line = raw.strip()
            if line.lower() in {"quit", "exit"}:
                break
            heard.clear()
            try:
                if line.lower().startswith("order "):
                    lc.request(number, line[6:].strip(), channel=Channel.SP_API)
                else:
                    text, _, to = line.partition("@")
                    lc.handle_sms(number, text, to=to.strip() or "10086")
            except VasError as err:
                console.print(f"[red]{shown.text(str(err))}[/]")
            for notice in heard:
                console.print(f"← {escape(notice.sender)}: {escape(notice.text)}")


# --- audit and sp-report -------------------------------------------------------------------


@main.command()
@click.argument("order_id")
@store_options
@show_numbers_option
@policy_option
@click.option(
    "--export",
    "export",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the order's evidence bundle (JSON, C18) to this file instead.",
)
@click.option(
    "--signing-key",
    type=click.Path(exists=True, dir_okay=False),
    help="Sign the exported bundle with this Ed25519 private key (PEM).",
)
def audit(
    order_id: str,
    db: str | None,
    dsn: str | None,
    schema: str,
    show_numbers: bool,
    policy_name: str,
    export: str | None,
    signing_key: str | None,
) -> None:
    """The consent evidence of one order, as a readable timeline (or, with --export,
    as a bundle anyone can verify)."""
    shown = Shown(show_numbers)
    with clean_errors():
        lc = reading(db, dsn, schema, policy_name)
        zone = lc.regime.timezone
        if export is not None:
            key = Path(signing_key).read_bytes() if signing_key else None
            bundle = lc.evidence_bundle(order_id, signing_key=key)
            Path(export).write_bytes(bundle_bytes(bundle))
            signed = f", signed by key {bundle['signature']['key_id']}" if key else ""
            click.echo(f"wrote the evidence of order {order_id} to {export}{signed}")
            return
        order = lc.get(order_id)
        pack = lc.policy.pack(order.language)
        days = None if order.pack is None else order.pack.validity_days
        console.print(
            f"[bold]Order {escape(order.id)}[/]: {shown.number(order.msisdn)}, "
            f"{escape(order.sp_name)} “{escape(order.service_name)}” "
            f"{escape(pack.price_label(order.price, order.period, days))} "
            f"({order.kind.value}) — now [bold]{order.state.value}[/]"
        )
        console.print(f"[dim]Times in {zone}.[/]")
        for event in lc.history(order_id):
            channel = event.channel.value if event.channel else "timer"
            console.print(
                f"[dim]{local(event.at, zone)}[/] {event.kind.value:<24} via {channel:<12} "
                f"by {shown.number(event.actor)}"
            )
            if event.text_in:
                console.print(f"    received: {shown.text(event.text_in[:200])}")
            if event.text_out:
                console.print(f"    sent:     {shown.text(event.text_out)}")
        for charge in lc.charges(order_id):
            console.print(
                f"[dim]{local(charge.at, zone)}[/] charged {escape(pack.amount_label(charge.amount))} for "
                f"{escape(charge.period_key)} (key {shown.text(charge.key)})"
            )
        for refund in lc.refunds(order_id):
            console.print(
                f"[dim]{local(refund.at, zone)}[/] refunded {escape(pack.amount_label(refund.amount))} of charge "
                f"{shown.text(refund.charge_key)} (key {shown.text(refund.key)}): "
                f"{shown.text(refund.reason)}"
            )
        show_deliveries(lc, order_id, shown, zone)


def show_deliveries(lc: Lifecycle, order_id: str, shown: Shown, zone: str) -> None:
    """Each notice of the order, with what the SMS gateway reported about it."""
    notices = lc.notices(order_id)
    if notices:
        console.print("[bold]Notices and delivery reports[/]")
    for notice in notices:
        rule = " " + escape(f"[rule {notice.rule}]") if notice.rule else ""
        console.print(
            f"[dim]{local(notice.at, zone)}[/] {notice.kind.value:<24} from {escape(notice.sender)}{rule}"
        )
        console.print(f"    notice id {escape(notice.id)}")
        reports = lc.delivery_reports(notice.id)
        if not reports:
            console.print("    no delivery report")
        for report in reports:
            detail = f": {shown.text(report.detail)}" if report.detail else ""
            console.print(f"    [dim]{local(report.at, zone)}[/] {report.status.value}{detail}")


@main.command(name="sp-report")
@store_options
@show_numbers_option
@policy_option
def sp_report(
    db: str | None, dsn: str | None, schema: str, show_numbers: bool, policy_name: str
) -> None:
    """Forced-subscription violations (C13), per SP."""
    shown = Shown(show_numbers)
    with clean_errors():
        lc = reading(db, dsn, schema, policy_name)
        violations = lc.sp_violations()
        if not violations:
            console.print("No SP violations.")
            return
        per_sp: dict[str, dict[str, int]] = {}
        for v in violations:
            reasons = per_sp.setdefault(v.sp_id, {})
            reasons[v.reason.value] = reasons.get(v.reason.value, 0) + 1
        table = Table(title="SP violations", title_justify="left", min_width=len("SP violations"))
        table.add_column("SP")
        table.add_column("reason")
        table.add_column("count", justify="right")
        for sp, reasons in sorted(per_sp.items()):
            for reason, count in sorted(reasons.items()):
                table.add_row(escape(sp), escape(reason), f"{count:,}")
        console.print(table)
        latest = violations[-5:]
        console.print(f"Latest evidence (times in {lc.regime.timezone}):")
        for v in latest:
            console.print(
                f"  {local(v.at, lc.regime.timezone)} {escape(v.sp_id)} {v.reason.value} ({v.rule}) "
                f"{shown.number(v.msisdn)} "
                f"order {escape(str(v.order_id))}: {shown.text(v.evidence[:120])}"
            )


@main.command(name="refunds-due")
@store_options
@show_numbers_option
@policy_option
def refunds_due(
    db: str | None, dsn: str | None, schema: str, show_numbers: bool, policy_name: str
) -> None:
    """What the rules say must be refunded and is not yet (IN5, CN25c), by order."""
    shown = Shown(show_numbers)
    with clean_errors():
        lc = reading(db, dsn, schema, policy_name)
        due = lc.refunds_due(limit=100_000)
        if not due:
            console.print("No refunds due.")
            return
        pack = lc.policy.pack(None)
        table = Table(title="Refunds due", title_justify="left", min_width=len("Refunds due"))
        for column in ("order", "subscriber", "charge", f"claimed ({lc.regime.timezone})", "rule"):
            table.add_column(column)
        table.add_column("amount", justify="right")
        for d in due:
            table.add_row(
                escape(d.order_id),
                shown.number(d.msisdn),
                shown.text(d.charge_key),
                local(d.claimed_at, lc.regime.timezone),
                d.rule,
                escape(pack.amount_label(d.amount)),
            )
        console.print(table)
        total = sum((d.amount for d in due), Decimal(0))
        console.print(f"{plural(len(due), 'refund')} due, {pack.amount_label(total)} in all")


@main.command()
@store_options
@click.option("--order", "order_id", help="Check this order only.")
@click.option(
    "--bundle",
    type=click.Path(exists=True, dir_okay=False),
    help="Check an exported evidence bundle instead (no store needed).",
)
@click.option(
    "--public-key",
    type=click.Path(exists=True, dir_okay=False),
    help="The operator's Ed25519 public key (PEM) the bundle must be signed with.",
)
def verify(
    db: str | None,
    dsn: str | None,
    schema: str,
    order_id: str | None,
    bundle: str | None,
    public_key: str | None,
) -> None:
    """Check the consent evidence's hash chains (C18): one line, and a non-zero exit
    code (1) when anything was changed, removed, inserted or re-ordered."""
    with clean_errors():
        if bundle is not None:
            key = Path(public_key).read_bytes() if public_key else None
            checked = verify_bundle(Path(bundle).read_bytes(), public_key=key)
            signed = f", signed by key {checked.signed_by}" if checked.signature_verified else ""
            word = "intact" if checked.ok else "NOT intact"
            click.echo(f"bundle of order {checked.order_id}: evidence {word}{signed}")
            for line in checked.problems:
                click.echo(f"  {line}")
            if not checked.ok:
                raise SystemExit(1)
            return
        lc = Lifecycle(Catalog(), store=open_store(db, dsn, schema, reader=True))
        if order_id is not None:
            result = lc.verify_evidence(order_id)
            problems = [str(p) for p in result.problems]
            word = "intact" if result.ok else "NOT intact"
            click.echo(f"order {order_id}: evidence {word} ({result.events} events checked)")
        else:
            summary = lc.verify_store()
            problems = [str(p) for p in summary.examples]
            click.echo(summary.summary())
        for line in problems:
            click.echo(f"  {line}")
        if problems:
            raise SystemExit(1)


@main.command()
@store_options
@click.option("--batch", type=click.IntRange(1), default=1000, show_default=True)
def seal(db: str | None, dsn: str | None, schema: str, batch: int) -> None:
    """Chain the orders stored before the store kept hash chains (schema 14), a batch
    per transaction; safe to stop and run again."""
    with clean_errors():
        lc = Lifecycle(Catalog(), store=open_store(db, dsn, schema, reader=False))
        sealed = lc.seal_evidence(batch=batch)
        click.echo(f"sealed {sealed:,} order{'' if sealed == 1 else 's'}")


@main.command()
def diagram() -> None:
    """The lifecycle as a Mermaid state diagram."""
    click.echo(mermaid_diagram(), nl=False)


def run() -> None:
    """Entry point that keeps tracebacks away from users (click handles usage errors)."""
    main()
