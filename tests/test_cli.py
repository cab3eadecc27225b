"""The command line: every command runs, errors are one line and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from vas_lifecycle import SQLiteStore, mermaid_diagram
from vas_lifecycle.cli import main


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


def test_simulate_keeps_history_for_audit_and_sp_report(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    code, out = invoke("simulate", "--subscribers", "200", "--days", "10", "--db", str(db))
    assert code == 0, out
    with SQLiteStore(db).transaction(readonly=True) as tx:
        order = next(o for o in tx.all_orders() if o.activated_at is not None)
    code, out = invoke("audit", order.id, "--db", str(db))
    assert code == 0, out
    assert "consent_granted" in out and "via sms" in out and order.msisdn in out
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
    assert "Handset +8613800138000." in out  # the number as the library keeps it


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
    assert sorted(main.commands) == ["audit", "demo", "diagram", "simulate", "sms", "sp-report"]
    code, out = invoke("--help")
    assert code == 0
    listed = [line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == ["audit", "demo", "diagram", "simulate", "sms", "sp-report"]
