"""Prometheus metrics of a Lifecycle: ``GET /metrics`` on ``vas-lifecycle serve``, or
a collector to register in an application's own registry (``prometheus-client``, in
the ``serve`` extra).

Two kinds of figure, read at scrape time, never on a command's path:

- **Counters of this process** (:meth:`~vas_lifecycle.Lifecycle.command_counts`, of a
  Lifecycle made with ``count_commands=True``, as ``serve`` makes it):
  the commands its Lifecycle ran, by command and outcome; the refusals, by reason
  code; the errors, by type. Each process counts its own: sum them across processes.
- **Gauges of the store** (:meth:`~vas_lifecycle.Lifecycle.backlog`): the outbox's
  waiting and parked notices, each feed subscriber's, and how late the timers are,
  counted in one read-only transaction. Every process sees the same store: take the
  max across processes, not the sum. When the store does not answer,
  ``vas_lifecycle_store_up`` is 0 and the gauges are left out; the counters stay.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pendulum

from vas_lifecycle import __version__
from vas_lifecycle.errors import VasError
from vas_lifecycle.lifecycle import Lifecycle
from vas_lifecycle.records import Backlog, QueueDepth
from vas_lifecycle.wsgi import Request, Response, Routes

try:
    from prometheus_client import (
        CollectorRegistry,
        GCCollector,
        PlatformCollector,
        ProcessCollector,
    )
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        InfoMetricFamily,
        Metric,
    )
    from prometheus_client.exposition import choose_encoder
    from prometheus_client.registry import Collector
except ImportError as err:  # pragma: no cover - depends on the installation
    raise ImportError(
        "vas_lifecycle.metrics needs prometheus-client: pip install 'vas-lifecycle[serve]'"
    ) from err

__all__ = ["LifecycleCollector", "metrics_endpoints", "metrics_registry"]

PREFIX = "vas_lifecycle"
log = logging.getLogger("vas_lifecycle.metrics")


class LifecycleCollector(Collector):
    """The metrics of ``lifecycle`` for a ``prometheus_client`` registry: register it
    in yours (``registry.register(LifecycleCollector(lc))``) to expose them beside
    your application's own. The counters stay empty unless the Lifecycle was made
    with ``count_commands=True``; the store's gauges are there either way.

    Metrics (all prefixed ``vas_lifecycle_``):

    - ``info{version, regime}``: the library's version and the regime (or preset)
      the Lifecycle runs under.
    - ``commands_total{command, outcome}``: commands run by this process; ``outcome``
      is ``ok``, ``duplicate`` (a text or key seen before: nothing done twice),
      ``refused``, ``rejected`` (bad input, unknown order, wrong state) or ``failed``
      (the store). ``may_charge`` counts C11's answers; a billing run counts as its
      batches (``charge_period``).
    - ``refusals_total{command, reason}``: the refused ones by reason code.
    - ``errors_total{command, error}``: the rejected and failed ones by error type.
    - ``store_up``: 1 when the store answered this scrape, else 0.
    - ``outbox_waiting``, ``outbox_parked``, ``outbox_oldest_age_seconds``: notices not
      yet handed to the gateway, those given up on, and how long the oldest waiting
      one has waited.
    - ``feed_waiting{subscriber}``, ``feed_parked{subscriber}``,
      ``feed_oldest_age_seconds{subscriber}``: the same for each event feed subscriber.
    - ``timers_overdue_seconds``: how long the earliest due timer or notice attempt
      has been due (0 when none is): a worker that keeps up keeps it near 0.
    """

    def __init__(self, lifecycle: Lifecycle) -> None:
        self._lc = lifecycle

    def describe(self) -> Iterable[Metric]:
        """The metrics' names, without reading the store (a registry asks once)."""
        return [self._info(), *_counters(), *_gauges(_NOTHING), _store_up(0)]

    def _info(self) -> InfoMetricFamily:
        return InfoMetricFamily(
            PREFIX,
            "The library's version and the regime it runs under.",
            value={"version": __version__, "regime": self._lc.regime.name},
        )

    def collect(self) -> Iterable[Metric]:
        """The figures now: this process's counts and one read of the store."""
        commands, refusals, errors = _counters()
        by_outcome: dict[tuple[str, str], int] = {}
        for (command, outcome, reason), n in sorted((self._lc.command_counts() or {}).items()):
            by_outcome[command, outcome] = by_outcome.get((command, outcome), 0) + n
            if outcome == "refused":
                refusals.add_metric([command, reason], n)
            elif reason:
                errors.add_metric([command, reason], n)
        for labels, n in by_outcome.items():
            commands.add_metric(list(labels), n)
        try:
            backlog = self._lc.backlog()
        except VasError as err:  # the store: reported as down, the counters still shown
            log.warning("metrics: the store did not answer: %s", err)
            return [self._info(), commands, refusals, errors, _store_up(0)]
        return [self._info(), commands, refusals, errors, _store_up(1), *_gauges(backlog)]


def metrics_registry(lifecycle: Lifecycle) -> CollectorRegistry:
    """A registry of ``lifecycle``'s metrics with the process's own (CPU, memory, open
    files, garbage collection): what ``serve`` exposes."""
    registry = CollectorRegistry()
    registry.register(LifecycleCollector(lifecycle))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def metrics_endpoints(lifecycle: Lifecycle) -> Routes:
    """``GET /metrics`` as a WSGI application: the Prometheus text format, or
    OpenMetrics when the scraper asks for it."""
    registry = metrics_registry(lifecycle)

    def metrics(request: Request) -> Response:
        encode, content_type = choose_encoder(request.header("Accept") or "")
        return Response(200, encode(registry), (("Content-Type", content_type),))

    return Routes([("GET", "/metrics", metrics)])


def _counters() -> tuple[CounterMetricFamily, CounterMetricFamily, CounterMetricFamily]:
    return (
        CounterMetricFamily(
            f"{PREFIX}_commands",
            "Commands this process ran, by command and outcome.",
            labels=["command", "outcome"],
        ),
        CounterMetricFamily(
            f"{PREFIX}_refusals",
            "Commands refused by a rule, by reason code.",
            labels=["command", "reason"],
        ),
        CounterMetricFamily(
            f"{PREFIX}_errors",
            "Commands rejected or failed, by error type.",
            labels=["command", "error"],
        ),
    )


def _store_up(value: int) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        f"{PREFIX}_store_up", "1 when the store answered this scrape, else 0.", value=value
    )


def _gauges(backlog: Backlog) -> list[GaugeMetricFamily]:
    """The store's figures."""
    at = backlog.at
    overdue = GaugeMetricFamily(
        f"{PREFIX}_timers_overdue_seconds",
        "How long the earliest timer or notice attempt has been due (0: none is).",
    )
    overdue.add_metric([], _since(backlog.next_due, at))
    return [
        *_queue("outbox", "Notices", [], [("", backlog.outbox)], at),
        *_queue("feed", "Feed events", ["subscriber"], sorted(backlog.feed.items()), at),
        overdue,
    ]


#: a store that owes nothing: the gauges' names and help, to describe them
_NOTHING = Backlog(pendulum.datetime(1970, 1, 1), QueueDepth(0, 0), {}, None)


def _queue(
    name: str,
    what: str,
    labels: list[str],
    depths: list[tuple[str, QueueDepth]],
    at: pendulum.DateTime,
) -> list[GaugeMetricFamily]:
    """The three gauges of a queue, one sample per ``(label, depth)``."""
    waiting = GaugeMetricFamily(
        f"{PREFIX}_{name}_waiting", f"{what} waiting to be handed over.", labels=labels
    )
    parked = GaugeMetricFamily(
        f"{PREFIX}_{name}_parked", f"{what} given up on after failed attempts.", labels=labels
    )
    age = GaugeMetricFamily(
        f"{PREFIX}_{name}_oldest_age_seconds",
        f"How long the oldest of the {what.lower()} waiting has waited (0: none waits).",
        labels=labels,
    )
    for label, depth in depths:
        values = [label] if labels else []
        waiting.add_metric(values, depth.waiting)
        parked.add_metric(values, depth.parked)
        age.add_metric(values, _since(depth.oldest, at))
    return [waiting, parked, age]


def _since(then: pendulum.DateTime | None, now: pendulum.DateTime) -> float:
    """Seconds from ``then`` to ``now``; 0 when there is no ``then`` or it is ahead."""
    if then is None:
        return 0.0
    return max((now - then).total_seconds(), 0.0)
