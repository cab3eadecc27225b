"""Crash safety: a worker killed with SIGKILL at random moments loses nothing.

After each kill the store is reopened: every order equals the fold of its events, every
command the worker saw return is there, nothing was delivered that was not recorded,
no notice is recorded twice, and the invariant checker reports nothing. At the end,
every recorded notice gets delivered.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pendulum

from tests.crash_worker import START
from vas_lifecycle import CallbackNotifier, Lifecycle, ManualClock, Notice, SQLiteStore
from vas_lifecycle.testing import check_invariants, demo_catalog

ROOT = Path(__file__).resolve().parent.parent
KILLS = 22


def read_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    lines = path.read_text().split("\n")
    return [line for line in lines[:-1] if line]  # the last line may be cut by the kill


def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    db, journal, delivered = tmp_path / "vas.db", tmp_path / "journal", tmp_path / "delivered"
    rng = random.Random(20261126)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worked = 0
    for run in range(KILLS):
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.crash_worker",
                str(db),
                str(journal),
                str(delivered),
                str(run),
                str(rng.randrange(1 << 30)),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # the kill comes at a random moment of the workload, not of the start-up, so a
        # slow machine still does some work before each kill
        assert worker.stdout is not None
        assert worker.stdout.readline() == b"ready\n", worker.stderr.read().decode()
        time.sleep(rng.uniform(0.6, 1.6))
        assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)

        clock = ManualClock(START + pendulum.duration(days=10 * run + 9))
        lc = Lifecycle(demo_catalog(), clock=clock, store=SQLiteStore(db), auto_dispatch=False)
        problems = check_invariants(lc)
        assert problems == [], "\n".join(map(str, problems))
        # C18: every order's hash chain is whole after the kill (events and links are
        # written in the unit of work that writes the event, or not at all)
        evidence = lc.verify_store()
        assert evidence.ok and evidence.events > 0, evidence.summary()
        with lc.store.transaction() as tx:
            versions = {o.id: o.version for o in tx.orders.all_orders()}
            recorded = [n.id for n in tx.outbox.all_notices()]
        assert len(recorded) == len(set(recorded))
        for line in read_lines(journal):
            order_id, version = line.split()
            assert versions.get(order_id, 0) >= int(version), f"lost {order_id} v{version}"
        assert set(read_lines(delivered)) <= set(recorded), "delivered a notice never recorded"
        worked = len(versions)
        lc.store.close()
    assert worked > 50, f"the workload did too little ({worked} orders)"

    # after the last crash: every recorded notice is delivered at least once
    sent: list[Notice] = []
    clock = ManualClock(START + pendulum.duration(days=10 * KILLS + 60))
    lc = Lifecycle(
        demo_catalog(), clock=clock, store=SQLiteStore(db), notifier=CallbackNotifier(sent.append)
    )
    lc.run_due()
    lc.retry_parked()
    while lc.dispatch():
        pass
    with lc.store.transaction() as tx:
        recorded = {n.id for n in tx.outbox.all_notices()}
        # reminders overtaken by their trial's end or cancellation are never sent (C16)
        withdrawn = set(tx.outbox.withdrawn_notices())
    assert recorded - withdrawn <= {n.id for n in sent} | set(read_lines(delivered))
    assert check_invariants(lc, settled=True) == []
