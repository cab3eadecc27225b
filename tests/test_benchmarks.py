"""The benchmark scripts run, at toy sizes, and print their figures.

They are not timed here (speed is never asserted by a test); this keeps them from
rotting as the library changes, so the figures in docs/performance.md stay
reproducible with the commands given there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.test_store_postgres import require_postgres

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
FIGURE = re.compile(r"[\d,]+(\.\d+)?")


def run(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def figure(output: str, label: str) -> float:
    line = next(line for line in output.splitlines() if line.startswith(label))
    found = FIGURE.search(line[len(label) :])
    assert found is not None, line
    return float(found.group(0).replace(",", ""))


def test_p1_engine_prints_both_ratios() -> None:
    out = run("p1_engine.py", "--orders", "40", "--repeat", "1")
    assert figure(out, "engine, full lifecycle per order:") > 0
    assert figure(out, "engine / bare transitions:") > 0
    assert figure(out, "engine / python-statemachine:") > 0


def test_p2_timers_compares_with_raw_sqlite() -> None:
    out = run("p2_timers.py", "--orders", "300")
    assert figure(out, "raw sqlite3, same row work:") > 0
    assert figure(out, "library / raw:") > 0


def test_p3_memory_counts_every_order() -> None:
    out = run("p3_memory.py", "--orders", "300")
    assert "300 live orders (900 events, 600 notices)" in out
    assert figure(out, "MemoryStore, 300 live orders (900 events, 600 notices):") > 0


def test_store_throughput_prints_sqlite_figures() -> None:
    env = {k: v for k, v in os.environ.items() if "POSTGRES_DSN" not in k}
    out = run("store_throughput.py", "--orders", "30", "--trials", "60", env=env)
    assert figure(out, "SQLite  confirmations via handle_sms:") > 0
    assert figure(out, "SQLite  same SQL by hand (reference):") > 0
    assert figure(out, "SQLite  due trials ended by run_due:") > 0


def test_scaling_draws_the_curve(tmp_path: Path) -> None:
    png = tmp_path / "curve.png"
    out = run("scaling.py", "--sizes", "100,200", "--memory-max", "200", "--out", str(png))
    assert "wrote" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_store_throughput_scales_out_on_postgres() -> None:
    env = {**os.environ, "VAS_BENCH_POSTGRES_DSN": require_postgres()}
    out = run("store_throughput.py", "--orders", "10", "--trials", "80", env=env)
    assert figure(out, "Postgres confirmations via handle_sms:") > 0
    assert figure(out, "Postgres same SQL by hand (reference):") > 0
    assert figure(out, "Postgres due trials, 1 worker(s):") > 0
    assert figure(out, "Postgres due trials, 2 worker(s):") > 0


def test_history_prints_a_figure_per_store_size_and_command() -> None:
    env = {k: v for k, v in os.environ.items() if "POSTGRES_DSN" not in k}
    out = run("history.py", "--sizes", "0,30", "--repeat", "3", env=env)
    assert figure(out, "SQLite, 30 finished orders, text 0000:") > 0
    assert figure(out, "memory, 0 finished orders, web on-demand order:") > 0


def test_mo_http_compares_the_endpoint_with_handle_sms() -> None:
    out = run("mo_http.py", "--texts", "30")
    assert figure(out, "SQLite   MO texts via handle_sms directly:") > 0
    assert figure(out, "SQLite   MO texts via GET /kannel/mo:") > 0
    assert "Traceback" not in out


def test_every_instruction_count_scenario_runs_on_the_work_tree() -> None:
    """Without valgrind: each scenario's driver, at toy size, on this tree."""
    root = BENCH.parent
    for scenario in ("p1", "p2", "confirm", "history-Y", "history-web"):
        done = subprocess.run(
            [
                sys.executable,
                str(BENCH / "instructions.py"),
                "--drive",
                str(root),
                scenario,
                "3",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, (scenario, done.stderr)


def test_feed_prints_command_rates_with_and_without_a_subscriber() -> None:
    out = run("feed.py", "--orders", "10")
    assert figure(out, "SQLite     commands/s, no subscriber:") > 0
    assert figure(out, "SQLite     commands/s, attached here:") > 0
    assert figure(out, "SQLite     feed events delivered by publish():") > 0


def test_hung_gateway_prints_latency_with_and_without_background_senders() -> None:
    out = run("hung_gateway.py", "--clients", "3", "--requests", "2", "--timeout", "0.3")
    rows = [line.split() for line in out.splitlines() if line.startswith(("answers", "hangs"))]
    assert [(r[0], r[1]) for r in rows] == [
        ("answers", "0"),
        ("answers", "2"),
        ("hangs", "0"),
        ("hangs", "2"),
    ]
    assert all(r[2].endswith("ms") for r in rows)


def test_mo_batch_compares_bursts_with_one_text_per_transaction() -> None:
    out = run("mo_batch.py", "--texts", "40", "--batch", "10")
    assert figure(out, "SQLite   MO texts, one per transaction:") > 0
    assert figure(out, "SQLite   MO texts,   10 per transaction:") > 0
    assert figure(out, "SQLite   by hand, one per transaction:") > 0
    assert figure(out, "SQLite   bursts / by hand in bursts:") > 0


def test_billing_compares_the_pass_with_set_based_sql() -> None:
    env = {**os.environ, "VAS_BENCH_POSTGRES_DSN": require_postgres()}
    out = run("billing.py", "--orders", "300", "--batch", "50", env=env)
    for name in ("SQLite", "Postgres"):
        assert figure(out, f"{name} hand-written INSERT ... SELECT:") > 0
        assert figure(out, f"{name} billing_run, 1 worker(s):") > 0
    assert figure(out, "Postgres billing_run, 2 worker(s):") > 0
    assert "10 million subscriptions in 10 minutes need 16,667 orders/s" in out


def test_evidence_prints_the_chains_cost_and_the_monthly_rates_per_store() -> None:
    env = {**os.environ, "VAS_BENCH_POSTGRES_DSN": require_postgres()}
    out = run("evidence.py", "--orders", "30", "--batch", "10", "--repeat", "1", env=env)
    lines = {line.split(":")[0].strip(): line for line in out.splitlines() if ":" in line}
    for store in ("memory", "sqlite", "postgres"):
        assert "us per command with the chain" in lines[store]
        assert re.search(r"monthly reminders\s+[\d,]+ subscribers/s", lines[store])
        assert re.search(r"verify_store\s+[\d,]+ events/s", lines[store])


def test_metrics_scrape_reads_only_the_backlog() -> None:
    out = run("metrics_scrape.py", "--history", "200", "--repeat", "2")
    label = "200 notices delivered, 50 waiting, 5 parked: backlog()"
    assert figure(out, label) > 0
