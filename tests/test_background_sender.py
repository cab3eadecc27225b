"""Background senders (``Lifecycle(senders=N)``): a command answers as soon as it
commits, whatever the gateway does, and no notice is lost or recorded twice.

Run on memory and on SQLite: the notices are written to the outbox already claimed,
and whatever the senders cannot hand over goes out by ``dispatch`` after its lease.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import START, make_catalog
from vas_lifecycle import (
    Channel,
    InvalidArgumentError,
    Lifecycle,
    ManualClock,
    MemoryStore,
    Notice,
    RecordingNotifier,
    SQLiteStore,
    Store,
)

NUMBERS = [f"+86138001{n:05d}" for n in range(3)]


class HungGateway:
    """A notifier that hangs in ``send`` until released, and counts every hand-over."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.handed: list[str] = []
        self._lock = threading.Lock()

    def send(self, notice: Notice) -> None:
        self.entered.set()
        if not self.release.wait(30):
            raise TimeoutError("the test never released the gateway")
        with self._lock:
            self.handed.append(notice.id)


@pytest.fixture(params=["memory", "sqlite"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    """Makes the store under test; SQLite is a file, so a second Lifecycle can open it."""
    shared = MemoryStore()

    def make() -> Store:
        return shared if request.param == "memory" else SQLiteStore(tmp_path / "vas.db")

    return make


def _wait(event: threading.Event, seconds: float = 30) -> None:
    assert event.wait(seconds), "timed out waiting for the gateway"


def test_a_command_answers_while_the_gateway_hangs_and_its_notice_is_recorded_once(
    new_store,
) -> None:
    clock, gateway = ManualClock(START), HungGateway()
    lc = Lifecycle(make_catalog(), clock=clock, notifier=gateway, store=new_store(), senders=1)
    first = lc.request(NUMBERS[0], "NEWS", channel=Channel.SP_API)
    _wait(gateway.entered)  # the sender is stuck in the gateway with the first notice...
    second = lc.request(NUMBERS[1], "NEWS", channel=Channel.SP_API)  # ...and we go on
    assert gateway.handed == []
    gateway.release.set()
    lc.close()  # waits for what was queued
    assert sorted(gateway.handed) == sorted(
        n.id for o in (first, second) for n in _notices(new_store, o.id)
    )
    # recorded as delivered: a dispatcher after the lease has nothing to send again
    clock.advance(lc.delivery.lease * 2)
    again = Lifecycle(make_catalog(), clock=clock, notifier=gateway, store=new_store())
    assert again.dispatch() == 0
    assert len(gateway.handed) == 2
    again.close()


def _notices(new_store, order_id: str) -> list[Notice]:
    with Lifecycle(make_catalog(), store=new_store()) as reader:
        return reader.notices(order_id)


def test_a_hung_gateway_at_shutdown_loses_nothing_the_queued_notices_go_out_by_dispatch(
    new_store,
) -> None:
    clock, gateway = ManualClock(START), HungGateway()
    lc = Lifecycle(make_catalog(), clock=clock, notifier=gateway, store=new_store(), senders=1)
    orders = [lc.request(n, "NEWS", channel=Channel.SP_API) for n in NUMBERS]
    _wait(gateway.entered)
    lc.close()  # bounded: the stuck thread is left behind, the rest of the queue dropped
    # the process is gone; the gateway answers again, and a worker comes after the lease
    gateway.release.set()
    clock.advance(lc.delivery.lease * 2)
    recorder = RecordingNotifier()
    worker = Lifecycle(make_catalog(), clock=clock, notifier=recorder, store=new_store())
    worker.dispatch()
    owed = {n.id for o in orders for n in worker.notices(o.id)}
    # every notice reached a gateway: at least once (the first one may go out twice,
    # if the stuck sender's hand-over was never recorded), and none is still owed
    assert owed <= {n.id for n in recorder.sent} | set(gateway.handed)
    assert worker.dispatch() == 0
    worker.close()


def test_senders_must_be_a_whole_number() -> None:
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(InvalidArgumentError, match="senders"):
            Lifecycle(make_catalog(), notifier=RecordingNotifier(), senders=bad)  # type: ignore[arg-type]


def test_without_a_notifier_or_auto_dispatch_no_sender_thread_is_started() -> None:
    before = threading.active_count()
    quiet = Lifecycle(make_catalog(), senders=4)
    manual = Lifecycle(make_catalog(), notifier=RecordingNotifier(), senders=4, auto_dispatch=False)
    assert threading.active_count() == before
    quiet.close()
    manual.close()


def test_more_commands_than_the_queue_holds_lose_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A hung gateway and a burst bigger than the senders' bounded queue: every
    command still answers, and what did not fit goes out by dispatch after its lease."""
    clock, gateway, store = ManualClock(START), HungGateway(), MemoryStore()
    lc = Lifecycle(make_catalog(), clock=clock, notifier=gateway, store=store, senders=1)
    numbers = [f"+86138{n:08d}" for n in range(1100)]
    for number in numbers:
        lc.request(number, "NEWS", channel=Channel.SP_API)
    assert "sender queue full" in caplog.text
    lc.close()  # bounded, though the queue is full and its one thread is stuck
    gateway.release.set()
    clock.advance(lc.delivery.lease * 2)
    recorder = RecordingNotifier()
    worker = Lifecycle(make_catalog(), clock=clock, notifier=recorder, store=store)
    while worker.dispatch():
        pass
    reached = {n.msisdn for n in recorder.sent} | {
        n.msisdn for n in store_notices(store) if n.id in set(gateway.handed)
    }
    assert reached == set(numbers)


def store_notices(store: Store) -> list[Notice]:
    with store.transaction(readonly=True) as tx:
        return list(tx.outbox.all_notices())
