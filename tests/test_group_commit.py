"""Group commit of inbound texts (issue 17): texts handed over on concurrent requests
go to the store in bursts, and each caller still gets its own text's outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import START
from vas_lifecycle import (
    BatchError,
    Channel,
    InvalidArgumentError,
    InvalidMsisdnError,
    Lifecycle,
    ManualClock,
    NoticeKind,
    OrderState,
    RecordingNotifier,
    SQLiteStore,
    StoreError,
)
from vas_lifecycle.gateways.group_commit import GroupCommit
from vas_lifecycle.testing import demo_catalog


def eventually(condition: Callable[[], bool]) -> None:
    """Wait until ``condition`` holds (threads get there in their own time)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


class Held:
    """Stands for a Lifecycle: its first text is held until released, so the texts
    of the other callers pile up behind it (what happens while a commit is slow)."""

    def __init__(self, fail: dict[str, Exception] | None = None) -> None:
        self.release = threading.Event()
        self.calls: list[list[str]] = []
        self.fail = fail or {}

    def reply(self, msisdn: str) -> Any:
        return [f"reply to {msisdn}"]

    def handle_sms(self, msisdn: str, text: object, *, to: str, message_id: Any = None) -> Any:
        self.calls.append([msisdn])
        if len(self.calls) == 1:
            self.release.wait(30)
        if msisdn in self.fail:
            raise self.fail[msisdn]
        return self.reply(msisdn)

    def handle_sms_many(self, texts: list[tuple[str, object, str, Any]]) -> Any:
        numbers = [t[0] for t in texts]
        self.calls.append(numbers)
        bad = [n for n in numbers if isinstance(self.fail.get(n), InvalidMsisdnError)]
        if bad:
            raise InvalidMsisdnError(bad[0], "malformed")
        errors = {n: self.fail[m] for n, m in enumerate(numbers) if m in self.fail}
        results = [[] if m in self.fail else self.reply(m) for m in numbers]
        if errors:
            raise BatchError(results, errors)
        return results


def callers(
    group: GroupCommit, numbers: list[str]
) -> tuple[list[threading.Thread], dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def call(msisdn: str) -> None:
        try:
            outcome[msisdn] = group.handle_sms(msisdn, "是", to="10086")
        except Exception as err:
            outcome[msisdn] = err

    threads = [threading.Thread(target=call, args=(m,)) for m in numbers]
    return threads, outcome


def pile_up(fail: dict[str, Exception] | None = None) -> tuple[Held, GroupCommit, dict[str, Any]]:
    """Six callers: the first leads alone and is held; five pile up behind it."""
    held = Held(fail)
    group = GroupCommit(held, most=4)  # type: ignore[arg-type]
    numbers = [f"+8613800000{n:03d}" for n in range(6)]
    threads, outcome = callers(group, numbers)
    threads[0].start()
    eventually(lambda: len(held.calls) == 1)
    for thread in threads[1:]:
        thread.start()
    eventually(lambda: group.waiting == 5)
    held.release.set()
    for thread in threads:
        thread.join(30)
    return held, group, outcome


def test_texts_that_arrive_during_a_commit_go_together_in_the_next_one() -> None:
    held, group, outcome = pile_up()
    first, *rest = [f"+8613800000{n:03d}" for n in range(6)]
    # the first alone; the five that waited in bursts of at most four
    assert [len(c) for c in held.calls] == [1, 4, 1]
    assert sorted(n for c in held.calls for n in c) == sorted([first, *rest])
    assert outcome == {m: [f"reply to {m}"] for m in [first, *rest]}
    assert (group.bursts, group.texts, group.waiting) == (3, 6, 0)


def test_a_text_that_fails_in_a_burst_fails_alone() -> None:
    broken = StoreError("the store failed on this one")
    _held, _group, outcome = pile_up({"+8613800000002": broken})
    assert outcome["+8613800000002"] is broken
    others = [f"+8613800000{n:03d}" for n in (0, 1, 3, 4, 5)]
    assert all(outcome[m] == [f"reply to {m}"] for m in others)


def test_a_malformed_text_sends_its_burst_through_one_by_one() -> None:
    held, _group, outcome = pile_up(
        {"+8613800000003": InvalidMsisdnError("+8613800000003", "malformed")}
    )
    assert isinstance(outcome["+8613800000003"], InvalidMsisdnError)
    others = [f"+8613800000{n:03d}" for n in (0, 1, 2, 4, 5)]
    assert all(outcome[m] == [f"reply to {m}"] for m in others)
    # the refused burst, then each of its texts alone
    assert [len(c) for c in held.calls] == [1, 4, 1, 1, 1, 1, 1]


def test_group_commit_refuses_a_burst_size_that_is_not_one() -> None:
    lc = Lifecycle(demo_catalog())
    for most in (0, -1, True, 2.0):
        with pytest.raises(InvalidArgumentError, match="most"):
            GroupCommit(lc, most=most)  # type: ignore[arg-type]


def test_c1_concurrent_confirmations_through_group_commit_each_activate_their_order(
    tmp_path: Path,
) -> None:
    """Real threads, a real store: every subscriber's 是 activates their own order and
    gets their own activation notice, however the texts were grouped."""
    clock = ManualClock(START)
    notifier = RecordingNotifier()
    lc = Lifecycle(
        demo_catalog(), clock=clock, store=SQLiteStore(tmp_path / "v.db"), notifier=notifier
    )
    numbers = [f"+86138{n:08d}" for n in range(40)]
    orders = {m: lc.request(m, "NEWS", channel=Channel.SP_API) for m in numbers}
    clock.set(START.add(minutes=1))
    group = GroupCommit(lc, most=8)
    threads, outcome = callers(group, numbers)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for m in numbers:
        assert [r.kind for r in outcome[m]] == [NoticeKind.ACTIVATED], outcome[m]
        assert outcome[m][0].msisdn == m
        assert lc.get(orders[m].id).state is OrderState.ACTIVE
    assert group.texts == 40 and 1 <= group.bursts <= 40
