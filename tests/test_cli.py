"""The command line: every command runs, errors are one line and a non-zero exit."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pendulum
import pytest
from click.testing import CliRunner

from vas_lifecycle import (
    Channel,
    Lifecycle,
    ManualClock,
    Policy,
    RecordingNotifier,
    SQLiteStore,
    mermaid_diagram,
)
from vas_lifecycle.cli import main
from vas_lifecycle.cli.settings import Settings
from vas_lifecycle.privacy import mask_msisdn
from vas_lifecycle.testing import demo_catalog


def invoke(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.output


def test_simulate_reports_outcomes_and_zero_violations() -> None:
    code, out = invoke("simulate", "--subscribers", "300", "--days", "35", "--memory")
    assert code == 0, out
    for part in (
        "Orders by final state",
        "Notices by kind",
        "Charges and refusals by reason",
        "SP violations",
        "SP09",
        "daily_limit",
        "Invariant check: 0 violations",
    ):
        assert part in out, part


def test_simulate_under_the_extended_policy_shows_the_lifecycles_breadth() -> None:
    """The month under the China preset with issue 18's rules on: receipts, spend
    reminders, pauses, inactivity, packs told of their renewal (or lapsed), refunds
    paid, and still no invariant broken."""
    code, out = invoke(
        "simulate", "--subscribers", "400", "--days", "35", "--memory", "--policy", "extended"
    )
    assert code == 0, out
    assert "policy extended" in out and "Invariant check: 0 violations" in out
    for kind in ("receipt", "spend_reminder", "paused", "inactive_cancelled", "renewal_notice"):
        assert re.search(rf"{kind}\s+│\s+[1-9]", out), kind
    assert re.search(r"refunds paid: [1-9]", out), out
    code, out = invoke("simulate", "--policy", "india")
    assert code == 2 and "india" in out


def test_simulate_hands_the_answers_of_one_instant_over_as_one_burst(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Subscribers' answers reach the library the way a gateway's queue delivers
    them: every text of an instant in one ``handle_sms_many``, never ``handle_sms``
    one by one."""
    bursts: list[tuple[object, int]] = []
    singles: list[str] = []
    many, one = Lifecycle.handle_sms_many, Lifecycle.handle_sms

    def spy_many(self: Lifecycle, texts: Any) -> Any:
        batch = list(texts)
        bursts.append((self.clock.now(), len(batch)))
        return many(self, batch)

    def spy_one(self: Lifecycle, msisdn: str, text: str, **kwargs: Any) -> Any:
        singles.append(text)
        return one(self, msisdn, text, **kwargs)

    monkeypatch.setattr(Lifecycle, "handle_sms_many", spy_many)
    monkeypatch.setattr(Lifecycle, "handle_sms", spy_one)
    code, out = invoke("simulate", "--subscribers", "20000", "--days", "2", "--memory")
    assert code == 0, out
    assert "Invariant check: 0 violations" in out
    assert sum(n for _at, n in bursts) > 300
    assert max(n for _at, n in bursts) > 1  # some instants had several answers
    instants = [at for at, _n in bursts]
    assert len(set(instants)) == len(instants)  # one burst per instant
    # what is still sent one by one are the texts whose replies the subscriber reads
    # before answering (0000) and unsubscribing (TD)
    assert set(singles) <= {"0000", "TD", "ＴＤ", "td", "QX"} | {t for t in singles if " " in t}


def test_simulate_keeps_history_for_audit_and_sp_report(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    code, out = invoke("simulate", "--subscribers", "200", "--days", "10", "--db", str(db))
    assert code == 0, out
    with SQLiteStore(db).transaction(readonly=True) as tx:
        order = next(o for o in tx.orders.all_orders() if o.activated_at is not None)
    code, out = invoke("audit", order.id, "--db", str(db))
    assert code == 0, out
    assert "consent_granted" in out and "via sms" in out
    assert order.msisdn not in out and mask_msisdn(order.msisdn) in out  # C14a
    code, out = invoke("audit", order.id, "--db", str(db), "--show-numbers")
    assert code == 0 and order.msisdn in out
    code, out = invoke("sp-report", "--db", str(db))
    assert code == 0 and "SP09" in out and "Latest evidence" in out
    code, out = invoke("simulate", "--subscribers", "10", "--days", "1", "--db", str(db))
    assert code == 2 and "exists" in out


def test_demo_tells_the_story() -> None:
    code, out = invoke("demo")
    assert code == 0, out
    for part in ("二次确认", "expired", "not_active", "温馨提示", "您已订购的业务", "成功退订"):
        assert part in out, part


def test_diagram_is_the_generated_one() -> None:
    code, out = invoke("diagram")
    assert code == 0 and out == mermaid_diagram()


def test_sms_console(tmp_path: Path) -> None:
    db = tmp_path / "phone.db"
    code, out = invoke("sms", "--db", str(db), input="order NEWS\nhello\n0000\nquit\n")
    assert code == 0, out
    assert "二次确认" in out and "未能识别" in out and "您已订购的业务" in out
    assert "Handset +86138****8000." in out  # as the library keeps it, masked (C14a)


def test_sms_console_refuses_a_malformed_number(tmp_path: Path) -> None:
    code, out = invoke("sms", "--db", str(tmp_path / "p.db"), "--msisdn", "12ab", input="0000\n")
    assert code == 2 and "error:" in out and "Traceback" not in out
    assert "Handset" not in out


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    for args in (
        ("audit", "nope", "--db", str(tmp_path / "missing.db")),
        ("audit", "nope"),
        ("sp-report", "--db", str(tmp_path)),
        ("sp-report", "--dsn", "postgresql://nobody:wrong@127.0.0.1:1/none"),
    ):
        code, out = invoke(*args)
        assert code == 2, (args, out)
        assert "Traceback" not in out and out.strip().startswith("error:"), out
        assert len(out.strip().splitlines()) == 1, out
    SQLiteStore(tmp_path / "empty.db").close()
    code, out = invoke("audit", "no-such-order", "--db", str(tmp_path / "empty.db"))
    assert code == 2 and "unknown order" in out and "Traceback" not in out


def test_module_and_console_script_run() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vas_lifecycle", "diagram"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == mermaid_diagram()
    done = subprocess.run(
        [sys.executable, "-m", "vas_lifecycle", "audit", "x", "--db", "/nonexistent/vas.db"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr and "error:" in done.stderr


def test_help_lists_each_command_once() -> None:
    commands = [
        "audit",
        "bill",
        "demo",
        "diagram",
        "refunds-due",
        "seal",
        "serve",
        "simulate",
        "sms",
        "sp-key",
        "sp-report",
        "verify",
        "worker",
    ]
    assert sorted(main.commands) == commands
    code, out = invoke("--help")
    assert code == 0
    listed = [line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == commands


MARKUP = "[/][bold]<b>'; DROP TABLE vas_orders; --"


def test_c14_stored_text_is_printed_literally_never_as_markup(tmp_path: Path) -> None:
    db = tmp_path / "hostile.db"
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai"))
    lc = Lifecycle(demo_catalog(), clock=clock, store=SQLiteStore(db), notifier=RecordingNotifier())
    order = lc.request("+8613800138000", "NEWS", channel=Channel.SP_API, text=MARKUP)
    lc.handle_sms("+8613800138000", "Y [/]", to="10086")  # too fast: booked (C13)
    lc.handle_sms("+8613800138000", "TD [/]", to="10658001")
    lc.close()
    code, out = invoke("audit", order.id, "--db", str(db))
    assert code == 0, out
    assert f"received: {MARKUP}" in out and "received: TD [/]" in out
    code, out = invoke("sp-report", "--db", str(db))
    assert code == 0 and "too_fast" in out and "'Y [/]'" in out, out
    code, out = invoke("sms", "--db", str(db), input=f"{MARKUP}\nTD [/]@10658001\nquit\n")
    assert code == 0 and "Traceback" not in out, out


def test_c14a_numbers_are_masked_unless_asked_for(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    code, out = invoke("simulate", "--subscribers", "100", "--days", "3", "--db", str(db))
    assert code == 0, out
    code, out = invoke("sp-report", "--db", str(db))
    assert code == 0 and "****" in out and not re.search(r"\+86\d{11}", out), out
    code, out = invoke("sp-report", "--db", str(db), "--show-numbers")
    assert code == 0 and re.search(r"\+86\d{11}", out), out
    code, out = invoke("demo")
    assert code == 0 and "+86138****0001" in out and "+8613800000001" not in out
    code, out = invoke("demo", "--show-numbers")
    assert code == 0 and "+8613800000001" in out


def test_readers_refuse_a_database_that_is_not_a_store_and_change_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "billing.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    for args in (
        ("audit", "x", "--db", str(db)),
        ("sp-report", "--db", str(db)),
        ("refunds-due", "--db", str(db)),
    ):
        code, out = invoke(*args)
        assert code == 2 and "no vas_lifecycle store" in out, out
    assert db.read_bytes() == before
    tables = sqlite3.connect(db).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("invoices",)]


def test_one_environment_variable_names_the_store_for_every_command() -> None:
    for command in (["simulate"], ["audit"], ["sp-report"], ["sp-key", "add"], ["sp-key", "list"]):
        code, out = invoke(*command, "--help")
        assert code == 0 and "VAS_STORE_DSN" in out and "VAS_DSN]" not in out, command
    # serve and worker read their settings as VAS_<SECTION>_<KEY>: the same name
    assert Settings(None, {}, {"VAS_STORE_DSN": "postgresql://x"}).get("store.dsn") == (
        "postgresql://x"
    )
    # the old name is not silently ignored (simulate would write to SQLite instead)
    result = CliRunner(env={"VAS_DSN": "postgresql://x", "VAS_STORE_DSN": None}).invoke(
        main, ["simulate", "--memory", "--subscribers", "1", "--days", "1"]
    )
    assert result.exit_code == 2 and "VAS_DSN is now VAS_STORE_DSN" in result.output


def test_a_bare_install_without_the_cli_extra_says_which_extra_in_one_line() -> None:
    script = "import sys; sys.modules['click'] = None\nfrom vas_lifecycle.cli import run\nrun()\n"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "pip install 'vas-lifecycle[cli]'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_audit_shows_each_notice_with_its_delivery_reports(tmp_path: Path) -> None:
    db = tmp_path / "vas.db"
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai"))
    lc = Lifecycle(demo_catalog(), clock=clock, store=SQLiteStore(db), notifier=RecordingNotifier())
    order = lc.request("+8613800138000", "NEWS", channel=Channel.WEB)
    (asked,) = lc.notices(order.id)
    clock.advance(pendulum.duration(seconds=20))
    lc.record_delivery_report(asked.id, "submitted", detail="ACK <b>")
    clock.advance(pendulum.duration(seconds=5))  # reports are listed by when they came
    lc.record_delivery_report(asked.id, "delivered")
    lc.close()
    code, out = invoke("audit", order.id, "--db", str(db))
    assert code == 0, out
    lines = out.splitlines()
    at = lines.index("Notices and delivery reports")
    assert "confirmation_request" in lines[at + 1] and asked.id in lines[at + 2]
    assert lines[at + 1].endswith("[rule C2]")  # the rule that sent it
    assert "submitted: ACK <b>" in lines[at + 3] and lines[at + 4].endswith("delivered")


def test_simulate_dsn_without_psycopg_is_one_line() -> None:
    script = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from vas_lifecycle.cli import run\n"
        "sys.argv = ['vas-lifecycle', 'simulate', '--dsn', 'postgresql://x/y']\n"
        "run()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "psycopg" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_simulate_never_empties_a_schema_it_did_not_make() -> None:
    from tests.test_store_postgres import DSN, drop_schema, require_postgres

    require_postgres()
    import psycopg

    schema = "vas_test_cli_simulation"
    drop_schema(schema)
    try:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS public.keep_me (id INTEGER)")
        crafted = 'x"; DROP SCHEMA public CASCADE; --'
        for name in ("public", crafted, "information_schema"):
            code, out = invoke(*SMALL, "--dsn", DSN, "--schema", name)
            assert code == 2 and "Traceback" not in out, out
        with psycopg.connect(DSN, autocommit=True) as conn:
            assert conn.execute("SELECT to_regclass('public.keep_me')").fetchone() != (None,)
            conn.execute("DROP TABLE public.keep_me")
        for _run in range(2):  # the second run empties what the first made
            code, out = invoke(*SMALL, "--dsn", DSN, "--schema", schema)
            assert code == 0 and "0 violations" in out, out
    finally:
        drop_schema(schema)


SMALL = ("simulate", "--subscribers", "20", "--days", "2")


def test_in5_refunds_show_in_the_audit_and_the_refunds_due(tmp_path: Path) -> None:
    db = tmp_path / "refunds.db"
    clock = ManualClock(pendulum.datetime(2026, 11, 24, 9, tz="Asia/Shanghai"))
    policy = Policy.china_mobile(refund_window=dt.timedelta(hours=24))
    lc = Lifecycle(
        demo_catalog(),
        clock=clock,
        store=SQLiteStore(db),
        policy=policy,
        notifier=RecordingNotifier(),
    )
    orders = []
    for number in ("+8613800138000", "+8613900139000"):
        order = lc.request(number, "NEWS", channel=Channel.WEB)
        clock.advance(dt.timedelta(seconds=30))
        lc.confirm(order.id, msisdn=number, channel=Channel.SMS)
        lc.record_charge(order.id, Decimal("5.00"), key=f"c-{number}")
        lc.unsubscribe(order.id, channel=Channel.SMS)
        orders.append(order.id)
    lc.refund(orders[0], key="r-1", reason=MARKUP, amount="2.00")
    lc.close()
    code, out = invoke("refunds-due", "--db", str(db))
    assert code == 0, out
    assert orders[0][:8] in out and orders[1][:8] in out and "IN5" in out
    assert "3元" in out and "5元" in out and "2 refunds due, 8元 in all" in out
    assert "****" in out and "+8613800138000" not in out
    code, out = invoke("audit", orders[0], "--db", str(db))
    assert code == 0, out
    assert "refund_recorded" in out and "refunded 2元 of charge c-+86138****8000" in out
    assert MARKUP in out  # printed literally
    lc2 = Lifecycle(demo_catalog(), clock=clock, store=SQLiteStore(db), policy=policy)
    lc2.refund(orders[0], key="r-2", reason="rest")
    lc2.refund(orders[1], key="r-3", reason="all")
    lc2.close()
    code, out = invoke("refunds-due", "--db", str(db))
    assert code == 0 and "No refunds due." in out, out


def test_counts_read_in_the_singular_and_the_plural() -> None:
    code, out = invoke("simulate", "--subscribers", "1", "--days", "1", "--memory")
    assert code == 0, out
    assert "Simulating 1 subscriber for 1 day " in out
    assert re.search(r"\b\d+ commands in ", out)
    code, out = invoke("simulate", "--subscribers", "2", "--days", "3", "--memory")
    assert "Simulating 2 subscribers for 3 days " in out


def _uk_order(db: Path) -> str:
    clock = ManualClock(pendulum.datetime(2026, 7, 6, 9, tz="Europe/London"))
    lc = Lifecycle(
        demo_catalog(),
        clock=clock,
        store=SQLiteStore(db),
        policy=Policy.regime("uk_psa"),
        notifier=RecordingNotifier(),
    )
    order = lc.request("+447700900123", "NEWS", channel=Channel.WEB)
    lc.close()
    return order.id


def test_the_audit_shows_times_in_the_presets_zone_named_and_its_money(tmp_path: Path) -> None:
    order_id = _uk_order(tmp_path / "uk.db")
    code, out = invoke("audit", order_id, "--db", str(tmp_path / "uk.db"), "--policy", "uk_psa")
    assert code == 0, out
    assert "Times in Europe/London." in out
    assert "2026-07-06 09:00:00 +01:00 order_requested" in out  # summer time, named
    assert "£5/month" in out and "元" not in out
    assert "+447700900123" not in out  # masked unless --show-numbers
    code, out = invoke("audit", order_id, "--db", str(tmp_path / "uk.db"), "--show-numbers")
    assert "+447700900123" in out and "2026-07-06 16:00:00 +08:00" in out  # the default


def test_output_piped_to_another_program_keeps_each_line_whole(tmp_path: Path) -> None:
    db = str(tmp_path / "uk.db")
    order_id = _uk_order(tmp_path / "uk.db")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vas_lifecycle",
            "audit",
            order_id,
            "--db",
            db,
            "--policy",
            "uk_psa",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    (sent,) = [line for line in done.stdout.splitlines() if line.startswith("    sent:")]
    assert len(sent) > 120 and sent.rstrip().endswith(".")  # one line, not cut at 80
    assert "\x1b[" not in done.stdout  # no colour codes in a pipe
