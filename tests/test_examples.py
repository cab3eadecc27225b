"""The examples run, and say what they promise."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def example(name: str) -> list[str]:
    module = runpy.run_path(str(ROOT / "examples" / f"{name}.py"))
    lines: list[str] = module["run"]()
    return lines


def test_trial_expiry_timeline() -> None:
    lines = example("trial_expiry")
    kinds = [line.split()[2] for line in lines if line[:4].isdigit()]
    assert kinds == ["order_requested", "trial_started", "trial_reminded", "trial_ended"]
    assert lines[0].startswith("2026-11-24 09:00")
    assert any(line.startswith("2026-11-29 09:00  trial_reminded") for line in lines)
    assert any(line.startswith("2026-12-01 09:00  trial_ended") for line in lines)
    assert lines[-1] == "final state: cancelled; charges: 0"


def test_double_confirmation_outcomes() -> None:
    text = "\n".join(example("double_confirmation"))
    assert "+8613800138001: active; may charge: True (allowed)" in text
    assert "+8613800138002: declined; may charge: False" in text
    assert "+8613800138003: expired; may charge: False" in text
    assert "SP01 violation: sp_confirmation on +8613800138003" in text


def test_billing_backend_month_end() -> None:
    lines = example("billing_backend")
    assert lines[-1] == "summary: after_cancellation=2, allowed=4, in_trial=1, not_active=2"
    assert sum(line.startswith("charged") for line in lines) == 4


def test_examples_run_as_scripts() -> None:
    for path in sorted((ROOT / "examples").glob("*.py")):
        done = subprocess.run(
            [sys.executable, str(path)], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip()


def test_handset_session() -> None:
    module = runpy.run_path(str(ROOT / "examples" / "handset.py"))
    phone = module["Handset"]()
    shown = phone.line("order NEWS")
    assert len(shown) == 1 and "二次确认" in shown[0] and "10086" in shown[0]
    assert phone.line("wait 1m") == []
    assert "成功订购" in phone.line("是")[0]
    assert "1.星辰科技“新闻早报”5元/月" in phone.line("0000")[0]
    assert "退订" in phone.line("1")[0]
    assert "未能识别" in phone.line("hello there")[0]
    assert phone.line("order MUSIC7") and phone.line("wait 8d")[-1].count("自动取消") == 1
    assert "error" in phone.line("order NOPE")[0]
    assert "order CODE" in phone.line("help")[0]
    assert "TD" in phone.line("帮助")[0]  # the subscriber's help word goes to 10086


def test_handset_reads_stdin() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "handset.py")],
        input="order NEWS\nwait 1m\nY\n0000\nquit\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "成功订购" in done.stdout and "1.星辰科技" in done.stdout
