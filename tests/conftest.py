"""Shared fixtures and Hypothesis profiles.

``HYPOTHESIS_PROFILE=ci`` (set by ``.ci/run``) runs every property test with at least
200 examples; the default ``dev`` profile keeps local runs quick.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pendulum
import pytest
from hypothesis import HealthCheck, settings

from vas_lifecycle import (
    Catalog,
    Lifecycle,
    ManualClock,
    MemoryStore,
    Policy,
    RecordingNotifier,
    SQLiteStore,
    Store,
)
from vas_lifecycle.testing import demo_catalog

# CI is derandomized so a landing never depends on luck; dev runs explore new seeds,
# and ``thorough`` is for long local hunts.
_common = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", _common, max_examples=200, derandomize=True, stateful_step_count=40)
settings.register_profile("dev", _common, max_examples=40, stateful_step_count=30)
settings.register_profile("thorough", _common, max_examples=2000, stateful_step_count=60)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

SUB = "+8613800138000"
OTHER = "+8613900139000"
START = pendulum.datetime(2026, 11, 24, 9, 0, tz="Asia/Shanghai")
#: the catalog file of the examples, which serve and worker processes in tests load
CATALOG_TOML = Path(__file__).resolve().parent.parent / "examples" / "catalog.toml"


def make_catalog() -> Catalog:
    """NEWS and WEATHER (subscriptions of SP01), JOKE (on demand), MUSIC7 and GAME1
    (7-day and 1-day trials of SP02): the test kit's demo catalog."""
    return demo_catalog()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def catalog() -> Catalog:
    return make_catalog()


@pytest.fixture
def lc(catalog: Catalog, clock: ManualClock, notifier: RecordingNotifier) -> Lifecycle:
    return Lifecycle(
        catalog, policy=Policy.china_mobile(), clock=clock, notifier=notifier, rng=random.Random(7)
    )


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A store for a rule test: each runs on memory and on SQLite (a module may
    define its own ``store``)."""
    if request.param == "memory":
        return MemoryStore()
    return SQLiteStore(tmp_path / "rules.db")
