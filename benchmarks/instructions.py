"""Instructions per operation, counted by valgrind's callgrind: before and after.

Wall-clock figures on a shared machine move by 20 % and more from run to run; an
instruction count does not (the same program and input give the same count, whatever
else the machine is doing). Each scenario runs twice under callgrind, with and without
its measured part, and the difference is divided by the number of operations, so the
set-up (imports, seeding) cancels out. An earlier commit is checked out in a
temporary git worktree and measured with its own benchmark helpers, beside the work
tree.

Scenarios: ``p1`` a full lifecycle in memory (the P1 engine benchmark), ``p2`` a due
trial ended by ``run_due()`` on SQLite (P2), ``confirm`` a "是" through ``handle_sms`` on
SQLite (P4), and ``history-*`` one command of a subscriber with 1 000 finished orders
on SQLite (invariant 9's benchmark).

Run: .venv/bin/python benchmarks/instructions.py --ref COMMIT [--scenarios p1,p2,...]
Needs valgrind (Debian's package of that name).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from before_after import checked_out  # noqa: E402 - a sibling script

#: scenario -> operations measured
SIZES = {
    "p1": 300,
    "p2": 2000,
    "confirm": 300,
    "history-0000": 200,
    "history-Y": 200,
    "history-hello": 200,
    "history-web": 200,
}
_COLLECTED = re.compile(r"Collected : (\d+)")


def drive(tree: Path, scenario: str, n: int, full: bool) -> None:
    """The scenario's set-up, and with ``full`` its ``n`` operations (in a child)."""
    sys.path.insert(0, str(tree / "benchmarks"))
    folder = Path(tempfile.mkdtemp())
    try:
        if scenario == "p1":
            import p1_engine

            p1_engine.engine(n if full else 1)
        elif scenario == "p2":
            _p2(folder, n, full)
        elif scenario == "confirm":
            _confirm(folder, n, full)
        else:
            _history(folder, scenario.removeprefix("history-"), n, full)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _p2(folder: Path, n: int, full: bool) -> None:
    import p2_timers

    from vas_lifecycle import Lifecycle, ManualClock, RecordingNotifier, SQLiteStore
    from vas_lifecycle.testing import demo_catalog

    path = folder / "p2.db"
    p2_timers.seed(path, n)
    if full:
        lc = Lifecycle(
            demo_catalog(),
            clock=ManualClock(p2_timers.START.add(days=8)),
            store=SQLiteStore(path),
            notifier=RecordingNotifier(),
            auto_dispatch=False,
        )
        assert lc.run_due(batch=p2_timers.BATCH) == n


def _confirm(folder: Path, n: int, full: bool) -> None:
    import store_throughput as st

    from vas_lifecycle import Channel, SQLiteStore

    store = SQLiteStore(folder / "confirm.db")
    setup = st.lifecycle(store, st.START, auto_dispatch=False)
    numbers = [f"+86138{k:08d}" for k in range(n)]
    for msisdn in numbers:
        setup.request(msisdn, "NEWS", channel=Channel.SP_API)
    setup.dispatch(limit=n * 2)
    lc = st.lifecycle(store, st.START.add(minutes=1))
    if full:
        for msisdn in numbers:
            lc.handle_sms(msisdn, "是", to="10086")


def _history(folder: Path, command: str, n: int, full: bool) -> None:
    import history

    from vas_lifecycle import Channel, SQLiteStore

    lc, _clock = history.with_history(SQLiteStore(folder / "h.db"), 1000)
    for _ in range(n if full else 0):
        if command == "web":
            lc.request(history.SUB, "JOKE", channel=Channel.WEB)
        else:
            lc.handle_sms(history.SUB, command, to="10086")


def count(tree: Path, scenario: str, n: int, full: bool) -> int:
    # a fixed hash seed: set iteration order, and so the count, repeats exactly
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--drive",
            str(tree),
            scenario,
            str(n),
            "1" if full else "0",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{scenario} failed on {tree}:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_operation(tree: Path, scenario: str) -> int:
    n = SIZES[scenario]
    return (count(tree, scenario, n, True) - count(tree, scenario, n, False)) // n


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--drive":
        tree, scenario, n, full = sys.argv[2:6]
        drive(Path(tree), scenario, int(n), full == "1")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True, help="the earlier commit")
    parser.add_argument("--scenarios", default=",".join(SIZES))
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed: apt-get install valgrind")
    with checked_out(args.ref) as before:
        print(f"instructions per operation: {args.ref[:10]} -> work tree")
        for scenario in args.scenarios.split(","):
            old, new = per_operation(before, scenario), per_operation(ROOT, scenario)
            change = (new - old) / old * 100
            print(f"{scenario:>14}: {old:>12,} -> {new:>12,}  {change:+.1f} %")


if __name__ == "__main__":
    main()
