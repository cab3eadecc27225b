"""Threads sharing one Lifecycle (the facade's promise in its docstring)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pendulum

from tests.conftest import START, make_catalog
from vas_lifecycle import Lifecycle, VasError


class SteppingClock:
    """A clock that moves forward a microsecond per reading and lets other threads
    run between taking a reading and returning it (as a clock that asks the OS does)."""

    def __init__(self) -> None:
        self._now = pendulum.instance(START).in_timezone("UTC")
        self._lock = threading.Lock()

    def now(self) -> pendulum.DateTime:
        with self._lock:
            self._now = self._now + dt.timedelta(microseconds=1)
            reading = self._now
        time.sleep(0)  # release the GIL: another thread may read a later time first
        return reading


def test_invariant_7_threads_sharing_a_lifecycle_never_see_the_clock_go_backwards() -> None:
    lc = Lifecycle(make_catalog(), clock=SteppingClock())
    errors: list[VasError] = []

    def work(n: int) -> None:
        for i in range(300):
            try:
                lc.handle_sms(f"+86138{n:04d}{i:04d}", "帮助", to="10086")
            except VasError as err:
                errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
