"""Metrics: each command counted by outcome and reason as it ends, the store's backlog
counted at scrape time, and ``GET /metrics`` in the Prometheus text format (and
OpenMetrics when asked), read back with prometheus-client's own parser."""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.test_operations import DownStore
from tests.wsgi_client import call
from vas_lifecycle import (
    Backlog,
    Channel,
    ChargeRefusedError,
    CommandCount,
    ConcurrencyError,
    InvalidArgumentError,
    Lifecycle,
    ManualClock,
    MemoryStore,
    QueueDepth,
    ReasonCode,
    SQLiteStore,
    Store,
    UnknownOrderError,
)
from vas_lifecycle.metrics import LifecycleCollector, metrics_endpoints
from vas_lifecycle.testing import demo_catalog
from vas_lifecycle.testing.stateful import FlakyNotifier
from vas_lifecycle.unit_of_work import Tally

SUB = "+8613800138000"
START = pendulum.datetime(2026, 12, 7, 9, tz="Asia/Shanghai")


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "m.db")
    yield made
    made.close()


def _lifecycle(store: Store) -> tuple[Lifecycle, ManualClock, FlakyNotifier]:
    clock, notifier = ManualClock(START), FlakyNotifier()
    lc = Lifecycle(demo_catalog(), clock=clock, store=store, notifier=notifier, count_commands=True)
    return lc, clock, notifier


def _scrape(app: object, accept: str = "") -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = call(app, "GET", "/metrics", headers={"Accept": accept} if accept else None)
    assert answer.status == 200
    families = text_string_to_metric_families(answer.body.decode())
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families
        for sample in family.samples
    }


# --- the tally, on plain values --------------------------------------------------------


def test_a_tally_counts_each_end_by_outcome_and_reason() -> None:
    tally = Tally()
    tally.add("request", "ok")
    tally.add("request", "ok")
    tally.add("receive_text", "duplicate")
    tally.ended("record_charge", ChargeRefusedError("o1", ReasonCode.IN_TRIAL))
    tally.ended("confirm", UnknownOrderError("o2"))
    tally.ended("confirm", ConcurrencyError("o3", 1, 2))
    assert tally.counts() == {
        CommandCount("request", "ok"): 2,
        CommandCount("receive_text", "duplicate"): 1,
        CommandCount("record_charge", "refused", "in_trial"): 1,
        CommandCount("confirm", "rejected", "UnknownOrderError"): 1,
        CommandCount("confirm", "failed", "ConcurrencyError"): 1,
    }


def test_a_tally_loses_no_count_between_threads() -> None:
    tally, threads, each = Tally(), 8, 5_000
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        workers = [
            threading.Thread(target=lambda: [tally.add("request", "ok") for _ in range(each)])
            for _ in range(threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(before)
    assert tally.counts() == {CommandCount("request", "ok"): threads * each}


# --- through the Lifecycle, on memory and SQLite ----------------------------------------


def test_commands_are_counted_by_outcome_and_reason(store: Store) -> None:
    lc, clock, _notifier = _lifecycle(store)
    first = lc.request(SUB, "NEWS", channel=Channel.WEB, idempotency_key="k1")
    again = lc.request(SUB, "NEWS", channel=Channel.WEB, idempotency_key="k1")
    assert again.id == first.id  # the same key again: nothing done twice
    assert not lc.may_charge(first.id, Decimal("5.00")).allowed
    with pytest.raises(ChargeRefusedError):
        lc.record_charge(first.id, Decimal("5.00"), key="c1")
    with pytest.raises(UnknownOrderError):
        lc.unsubscribe("no-such-order", channel=Channel.HOTLINE)
    clock.advance(pendulum.duration(minutes=1))
    operator = lc.policy.operator_number
    lc.handle_sms(SUB, "是", to=operator, message_id="mo-1")
    assert lc.handle_sms(SUB, "是", to=operator, message_id="mo-1") == []  # de-duplicated
    assert lc.may_charge(first.id, Decimal("5.00")).allowed
    lc.record_charge(first.id, Decimal("5.00"), key="c2")
    lc.record_charge(first.id, Decimal("5.00"), key="c2")
    lc.handle_sms_many([("+8613800138001", "帮助", operator), ("+8613800138002", "?", operator)])
    assert lc.command_counts() == {
        CommandCount("request", "ok"): 1,
        CommandCount("request", "duplicate"): 1,
        CommandCount("may_charge", "refused", "awaiting_confirmation"): 1,
        CommandCount("may_charge", "ok"): 1,
        CommandCount("record_charge", "refused", "awaiting_confirmation"): 1,
        CommandCount("record_charge", "ok"): 1,
        CommandCount("record_charge", "duplicate"): 1,
        CommandCount("unsubscribe", "rejected", "UnknownOrderError"): 1,
        CommandCount("receive_text", "ok"): 3,
        CommandCount("receive_text", "duplicate"): 1,
    }


def test_counting_is_asked_for_and_costs_nothing_when_it_is_not(store: Store) -> None:
    lc = Lifecycle(demo_catalog(), clock=ManualClock(START), store=store)
    lc.request(SUB, "NEWS", channel=Channel.WEB)
    assert lc.command_counts() is None  # not counted, not a misleading zero
    seen = _scrape(metrics_endpoints(lc))  # the store's figures are there all the same
    assert seen[("vas_lifecycle_outbox_waiting", ())] == 1
    assert not any(name == "vas_lifecycle_commands_total" for name, _ in seen)
    with pytest.raises(InvalidArgumentError, match="count_commands"):
        Lifecycle(demo_catalog(), store=store, count_commands="yes")  # type: ignore[arg-type]


def test_the_backlog_counts_what_the_store_still_owes(store: Store) -> None:
    lc, clock, notifier = _lifecycle(store)
    assert lc.backlog() == Backlog(START, QueueDepth(0, 0), {}, None)
    lc.feed.subscribe("billing", _refuse)  # its handler fails: the event stays owed
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)  # its request goes out
    notifier.failing = True
    clock.advance(pendulum.duration(minutes=1))
    lc.confirm(order.id, msisdn=SUB, channel=Channel.SMS, text="是")
    clock.advance(pendulum.duration(minutes=10))
    backlog = lc.backlog()
    assert backlog.at == clock.now()
    # the activation notice waits for the gateway, the activation for the consumer
    assert backlog.outbox == QueueDepth(1, 0, START.add(minutes=1))
    assert backlog.feed == {"billing": QueueDepth(1, 0, START.add(minutes=1))}
    assert backlog.next_due is not None and backlog.next_due <= clock.now()
    last = lc.notices(order.id)[-1]
    with lc.store.transaction() as tx:
        tx.outbox.mark_failed(last.id, "gave up", None)
    assert lc.backlog().outbox == QueueDepth(0, 1, None)


def _refuse(event: object) -> None:
    raise RuntimeError("the consumer is down")


# --- GET /metrics ----------------------------------------------------------------------


def test_metrics_shows_the_counts_and_the_backlog_in_the_text_format(store: Store) -> None:
    lc, clock, notifier = _lifecycle(store)
    app = metrics_endpoints(lc)
    notifier.failing = True
    order = lc.request(SUB, "NEWS", channel=Channel.WEB)
    lc.may_charge(order.id, 5)
    with pytest.raises(UnknownOrderError):
        lc.pause("nope", channel=Channel.WEB)
    clock.advance(pendulum.duration(minutes=2))
    seen = _scrape(app)
    assert seen[("vas_lifecycle_commands_total", (("command", "request"), ("outcome", "ok")))] == 1
    refused = (("command", "may_charge"), ("reason", "awaiting_confirmation"))
    assert seen[("vas_lifecycle_refusals_total", refused)] == 1
    errors = (("command", "pause"), ("error", "UnknownOrderError"))
    assert seen[("vas_lifecycle_errors_total", errors)] == 1
    assert seen[("vas_lifecycle_store_up", ())] == 1
    assert seen[("vas_lifecycle_outbox_waiting", ())] == 1
    assert seen[("vas_lifecycle_outbox_parked", ())] == 0
    assert seen[("vas_lifecycle_outbox_oldest_age_seconds", ())] == 120
    assert seen[("vas_lifecycle_timers_overdue_seconds", ())] > 0  # the retry is due
    info = (("regime", lc.regime.name), ("version", _version()))
    assert seen[("vas_lifecycle_info", info)] == 1
    assert ("process_cpu_seconds_total", ()) in seen  # the process's own, beside ours


def _version() -> str:
    from vas_lifecycle import __version__

    return __version__


def test_metrics_speaks_openmetrics_when_the_scraper_asks() -> None:
    lc, _clock, _notifier = _lifecycle(MemoryStore())
    lc.request(SUB, "NEWS", channel=Channel.WEB)
    answer = call(
        metrics_endpoints(lc),
        "GET",
        "/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
    )
    assert answer.headers["Content-Type"].startswith("application/openmetrics-text")
    text = answer.body.decode()
    assert text.endswith("# EOF\n")
    assert 'vas_lifecycle_commands_total{command="request",outcome="ok"} 1.0' in text


def test_metrics_answers_while_the_store_is_down_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lc = Lifecycle(demo_catalog(), clock=ManualClock(START), store=DownStore(), count_commands=True)
    app = metrics_endpoints(lc)
    with contextlib.suppress(Exception):
        lc.request(SUB, "NEWS", channel=Channel.WEB)
    with caplog.at_level(logging.WARNING, logger="vas_lifecycle.metrics"):
        seen = _scrape(app)
    assert "the store did not answer: connection refused" in caplog.text
    assert seen[("vas_lifecycle_store_up", ())] == 0
    failed = (("command", "request"), ("outcome", "failed"))
    assert seen[("vas_lifecycle_commands_total", failed)] == 1
    assert not any(name.startswith("vas_lifecycle_outbox") for name, _ in seen)
    assert call(app, "POST", "/metrics").status == 405


def test_the_collector_registers_in_an_applications_own_registry() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    lc, _clock, _notifier = _lifecycle(MemoryStore())
    registry = CollectorRegistry(auto_describe=True)  # asks describe(), not the store
    registry.register(LifecycleCollector(lc))
    lc.request(SUB, "NEWS", channel=Channel.WEB)
    text = generate_latest(registry).decode()
    assert 'vas_lifecycle_commands_total{command="request",outcome="ok"} 1.0' in text
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(LifecycleCollector(lc))  # the names are known: no second copy
