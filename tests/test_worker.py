"""The worker ends trials and retries notices with nobody calling run_due(); it stops
between units of work, and a SIGTERM in the middle of a run loses nothing.

No test here depends on the machine's speed: they wait for a condition with a
generous deadline, never for a fixed time."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CATALOG_TOML, START, SUB, make_catalog
from tests.fake_smsbox import running_smsbox
from vas_lifecycle import (
    Channel,
    FeedEvent,
    InvalidArgumentError,
    Lifecycle,
    ManualClock,
    NoticeKind,
    OrderState,
    RecordingNotifier,
    SQLiteStore,
    SystemClock,
)
from vas_lifecycle.notices import Notice
from vas_lifecycle.testing import check_invariants
from vas_lifecycle.worker import Worker


def eventually(
    condition: Callable[[], bool],
    timeout: float = 60.0,
    alive: subprocess.Popen[bytes] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"the process ended: {alive.communicate()[1].decode()}")
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)


def test_a_worker_delivers_the_feed_of_its_process_and_retries_it() -> None:
    """A billing backend runs a worker in its own process: the trial's end reaches its
    handler with nobody calling run_due() or publish(), after a failed attempt."""
    clock = ManualClock(START)
    lc = Lifecycle(make_catalog(), clock=clock, notifier=RecordingNotifier(), auto_dispatch=False)
    heard: list[str] = []
    failures = [ConnectionError("billing restarting")]

    def handler(event: FeedEvent) -> None:
        if failures:
            raise failures.pop()
        heard.append(f"{event.kind}@{event.seq}")

    lc.feed.subscribe("billing", handler)
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    assert trial.trial_ends_at is not None
    worker = Worker(lc, tick=0.05, min_sleep=0.01)
    first = worker.run_once()  # the trial start fails once
    assert (first.published, heard, lc.feed.backlog("billing")) == (0, [], 1)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        clock.set(trial.trial_ends_at)  # past the retry, and the trial is over
        eventually(lambda: len(heard) == 2)
    finally:
        worker.stop()
        thread.join(30)
    assert heard == ["trial_started@2", f"trial_ended@{lc.get(trial.id).version}"]
    assert lc.feed.backlog("billing") == 0


def test_a_worker_ends_a_trial_after_its_reminder_with_no_run_due_call() -> None:
    clock = ManualClock(START)
    notifier = RecordingNotifier()
    lc = Lifecycle(make_catalog(), clock=clock, notifier=notifier)
    trial = lc.request(SUB, "MUSIC7", channel=Channel.WEB)
    worker = Worker(lc, tick=0.05, min_sleep=0.01)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        assert trial.remind_at is not None and trial.trial_ends_at is not None
        clock.set(trial.remind_at)
        eventually(lambda: lc.get(trial.id).state is OrderState.TRIAL_EXPIRING)
        clock.set(trial.trial_ends_at)
        eventually(lambda: not lc.get(trial.id).is_live)
    finally:
        worker.stop()
        thread.join(30)
    assert not thread.is_alive()
    kinds = [n.kind for n in notifier.to(SUB)]
    assert kinds.index(NoticeKind.TRIAL_REMINDER) < len(kinds) - 1
    assert check_invariants(lc) == []


def test_a_pass_stops_between_units_of_work_when_asked() -> None:
    clock = ManualClock(START)
    armed = False

    def send(notice: Notice) -> None:
        if armed:
            worker.stop()  # asked to stop while the first unit's notices go out

    lc = Lifecycle(make_catalog(), clock=clock, notifier=_Callback(send))
    worker = Worker(lc, batch=2, tick=1.0, min_sleep=0.1)
    for n in range(5):
        lc.request(f"+86138000000{n:02d}", "MUSIC7", channel=Channel.WEB)
    armed = True
    clock.advance(dt.timedelta(days=8))
    done = worker.run_once()
    assert (done.moved, done.finished) == (2, False)
    assert lc.run_due() == 3  # the rest were left, untouched, for the next pass


class _Callback(RecordingNotifier):
    def __init__(self, hook: Callable[[Notice], None]) -> None:
        super().__init__()
        self.hook = hook

    def send(self, notice: Notice) -> None:
        self.hook(notice)
        super().send(notice)


def test_the_worker_sleeps_until_the_next_due_time_within_its_bounds() -> None:
    clock = ManualClock(START)
    lc = Lifecycle(make_catalog(), clock=clock, notifier=RecordingNotifier())
    worker = Worker(lc, tick=30.0, min_sleep=0.5)
    assert worker.sleep_for() == 30.0  # nothing waiting
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    assert order.confirm_by is not None
    clock.set(order.confirm_by.subtract(seconds=5))
    assert worker.sleep_for() == pytest.approx(5.0)
    clock.set(order.confirm_by.add(seconds=5))
    assert worker.sleep_for() == 0.5  # overdue: the floor, never a busy loop
    with pytest.raises(InvalidArgumentError):
        Worker(lc, tick=1.0, min_sleep=2.0)


def _seed_due_trials(path: Path, count: int) -> list[str]:
    """``count`` 7-day trials that started 8 days before the real now."""
    now = SystemClock().now()
    clock = ManualClock(now.subtract(days=8))
    lc = Lifecycle(
        make_catalog(),
        clock=clock,
        store=SQLiteStore(path),
        notifier=RecordingNotifier(),
        rng=random.Random(4),
    )
    ids = [lc.request(f"+86138{n:08d}", "MUSIC7", channel=Channel.WEB).id for n in range(count)]
    lc.close()
    return ids


def _ended(path: Path) -> int:
    with sqlite3.connect(path, timeout=30) as conn:
        return int(
            conn.execute("SELECT count(*) FROM vas_orders WHERE due_at IS NULL").fetchone()[0]
        )


def _worker_process(path: Path, url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "VAS_KANNEL_SENDSMS_URL": url,
        "VAS_KANNEL_USERNAME": "vas",
        "VAS_KANNEL_PASSWORD": "secret",
        "VAS_KANNEL_TOKEN": "a-gateway-token-of-length",
        # real time of day: quiet hours (C16, tested with a manual clock) would hold
        # the trial-end texts until morning
        "VAS_POLICY_QUIET_HOURS": "off",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vas_lifecycle",
            "worker",
            "--db",
            str(path),
            "--catalog",
            str(CATALOG_TOML),
            "--batch",
            "10",
            "--tick",
            "0.2",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_sigterm_mid_run_loses_nothing_and_a_second_worker_finishes(tmp_path: Path) -> None:
    path = tmp_path / "vas.db"
    ids = _seed_due_trials(path, 200)
    # a slow gateway (10 ms a text) keeps the worker busy long enough to stop it mid-run
    with running_smsbox(delay=0.01) as (url, box):
        first = _worker_process(path, url)
        eventually(lambda: _ended(path) >= 20, alive=first)
        first.send_signal(signal.SIGTERM)
        _out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err.decode()
        assert b"stopping after the current unit of work" in err
        stopped_at = _ended(path)
        assert stopped_at >= 20
        second = _worker_process(path, url)
        eventually(lambda: _ended(path) == len(ids), timeout=300, alive=second)
        eventually(lambda: _outbox_empty(path), timeout=120, alive=second)
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=120)
        assert second.returncode == 0
    lc = Lifecycle(make_catalog(), store=SQLiteStore(path), notifier=RecordingNotifier())
    try:
        for order_id in ids:
            order = lc.get(order_id)
            assert not order.is_live and order.end_reason == "trial_ended", order
            ends = [n for n in lc.notices(order_id) if n.kind is NoticeKind.TRIAL_ENDED]
            assert len(ends) == 1  # recorded once
        assert check_invariants(lc) == []
        sent = {q["text"][0] for q in box.seen}
        assert all(any(n.text in sent for n in lc.notices(i)) for i in ids)
    finally:
        lc.close()


def _outbox_empty(path: Path) -> bool:
    with sqlite3.connect(path, timeout=30) as conn:
        row = conn.execute(
            "SELECT count(*) FROM vas_notices WHERE delivered_at IS NULL AND parked = 0"
        ).fetchone()
        return int(row[0]) == 0


class _FailsOnce:
    """A gateway that refuses the first text it is given, then takes everything."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.failed = False

    def send(self, notice: Notice) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("smsbox restarting")
        self.sent.append(notice.id)


def test_a_pass_counts_every_notice_it_handed_over_the_timers_own_and_the_retries() -> None:
    """The worker's log said "notices delivered: 0" while its timers' notices went out
    right after their commits: a pass counts those too."""
    clock, gateway = ManualClock(START), _FailsOnce()
    lc = Lifecycle(make_catalog(), clock=clock, notifier=gateway)
    for n in range(3):
        lc.request(f"+86138001{n:05d}", "MUSIC7", channel=Channel.WAP)  # one start notice fails
    clock.advance(dt.timedelta(days=8))  # past every trial's end and the failed retry
    done = Worker(lc).run_once()
    # three trials ended (three notices right after the commits), one start retried
    assert done.moved == 3 and done.delivered == 4 == len(gateway.sent) - 2
