"""``GET /metrics``: the Prometheus text exposition (prometheus-client).

Everything is read at scrape time by one custom collector, so nothing on a
request path calls prometheus-client:

* ``modelmon_metric{namespace, metric_name, <dimensions>}``: the latest value of
  every stored series (a statistic set shows its Average); dimension names
  become label names (characters other than letters, digits and ``_`` become
  ``_``; ``namespace``/``metric_name`` clashes get a ``dimension_`` prefix);
* ``modelmon_invocations_total``, ``modelmon_invocation_errors_total`` and the
  histogram ``modelmon_invocation_latency_seconds`` per endpoint, from the
  invoker's plain counters (``invocation_stats``);
* ``modelmon_capture_*`` from the capture writer's counters;
* ``modelmon_monitoring_executions{status}`` and ``modelmon_alarms{state}``
  counted in the database;
* ``modelmon_notification_deliveries{status}`` (database) and the delivery
  worker's counters;
* any other source registered with :meth:`Exposition.add_source` (the async
  inference queue's ``stats()``): ``modelmon_{prefix}_{key}`` gauges.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

from modelmon.alerting.metrics import MetricStore
from modelmon.db import Database
from modelmon.db.models import MonitoringExecutionRow
from modelmon.db.models_alerting import AlarmRow, DeliveryRow

log = logging.getLogger("modelmon.alerting.prometheus")

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LABEL = re.compile(r"[^a-zA-Z0-9_]")
RESERVED = {"namespace", "metric_name"}
CAPTURE_TOTALS = frozenset(
    {
        "captured",
        "sampled_out",
        "dropped_queue_full",
        "dropped_disk",
        "dropped_error",
        "written",
        "files_published",
    }
)
WORKER_TOTALS = frozenset({"delivered", "failed", "attempts_failed"})

# endpoint -> (requests, errors, latency seconds sum, per-bucket counts (last: above all bounds))
InvocationStats = Callable[[], Mapping[str, tuple[int, int, float, Sequence[int]]]]


def snake(key: str) -> str:
    """``QueueDepth`` → ``queue_depth`` (a metric name part)."""
    return label_name(re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower())


def label_name(name: str) -> str:
    """A dimension name as a Prometheus label name."""
    label = _LABEL.sub("_", name) or "_"
    if label[0].isdigit() or label.startswith("__"):
        label = f"d_{label}"
    return f"dimension_{label}" if label in RESERVED else label


class Exposition:
    """The ``/metrics`` document of one server process (see the module doc)."""

    def __init__(
        self,
        db: Database,
        metrics: MetricStore,
        *,
        invocation_stats: InvocationStats | None = None,
        latency_bounds: Sequence[float] = (),
        capture_counters: Callable[[], Mapping[str, int]] | None = None,
        delivery_counters: Callable[[], Mapping[str, int]] | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics
        self.invocation_stats = invocation_stats
        self.latency_bounds = tuple(latency_bounds)
        self.capture_counters = capture_counters
        self.delivery_counters = delivery_counters
        self.sources: dict[str, Callable[[], Any]] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)  # type: ignore[arg-type]

    def add_source(self, prefix: str, stats: Callable[[], Any]) -> None:
        """Expose ``stats()`` as ``modelmon_{prefix}_{key}`` gauges: numbers by key, or a list
        of such mappings with an ``EndpointName`` (the async inference queue's ``stats()``)."""
        self.sources[label_name(prefix)] = stats

    def render(self) -> bytes:
        """The exposition document (text format 0.0.4)."""
        return generate_latest(self.registry)

    # prometheus-client's collector protocol
    def collect(self) -> Iterator[Metric]:
        """Every family, read now."""
        yield from self._series()
        yield from self._invocations()
        yield from self._counters("capture", self.capture_counters, CAPTURE_TOTALS)
        yield from self._database()
        yield from self._counters("notification_worker", self.delivery_counters, WORKER_TOTALS)
        for prefix, stats in self.sources.items():
            yield from self._counters(prefix, stats)

    def _series(self) -> Iterator[Metric]:
        family = Metric("modelmon_metric", "Latest value of each stored metric series", "gauge")
        for row in self.metrics.latest():
            labels = {"namespace": row.namespace, "metric_name": row.metric_name}
            for d in row.dimensions:
                labels[label_name(d["Name"])] = d["Value"]
            family.add_sample("modelmon_metric", labels, float(row.last_value or 0.0))
        yield family

    def _invocations(self) -> Iterator[Metric]:
        if self.invocation_stats is None:
            return
        requests = CounterMetricFamily(
            "modelmon_invocations", "InvokeEndpoint requests", labels=["endpoint"]
        )
        errors = CounterMetricFamily(
            "modelmon_invocation_errors", "InvokeEndpoint answers >= 400", labels=["endpoint"]
        )
        latency = Metric(
            "modelmon_invocation_latency_seconds", "InvokeEndpoint latency", "histogram"
        )
        for endpoint, (count, failed, total, buckets) in sorted(self.invocation_stats().items()):
            requests.add_metric([endpoint], count)
            errors.add_metric([endpoint], failed)
            running = 0
            for bound, n in zip(self.latency_bounds, buckets, strict=False):
                running += n
                latency.add_sample(
                    "modelmon_invocation_latency_seconds_bucket",
                    {"endpoint": endpoint, "le": _bound(bound)},
                    running,
                )
            latency.add_sample(
                "modelmon_invocation_latency_seconds_bucket",
                {"endpoint": endpoint, "le": "+Inf"},
                sum(buckets),
            )
            latency.add_sample(
                "modelmon_invocation_latency_seconds_count", {"endpoint": endpoint}, sum(buckets)
            )
            latency.add_sample(
                "modelmon_invocation_latency_seconds_sum", {"endpoint": endpoint}, total
            )
        yield requests
        yield errors
        yield latency

    def _counters(
        self, prefix: str, source: Callable[[], Any] | None, totals: frozenset[str] = frozenset()
    ) -> Iterator[Metric]:
        """Gauges (counters for keys in ``totals``) from ``source()``: numbers by key, or a list
        of such mappings each naming its endpoint (``EndpointName``: the ``endpoint`` label)."""
        if source is None:
            return
        try:
            values = source()
        except Exception:  # a broken source must not break the scrape
            log.exception("metrics source %s failed", prefix)
            return
        rows = values if isinstance(values, list) else [values]
        families: dict[str, Metric] = {}
        for row in rows:
            if not isinstance(row, Mapping):
                continue
            endpoint = row.get("EndpointName")
            for key, value in sorted(row.items()):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                name = f"modelmon_{prefix}_{snake(key)}"
                family = families.get(name)
                if family is None:
                    labels = ["endpoint"] if isinstance(endpoint, str) else []
                    kind = CounterMetricFamily if key in totals else GaugeMetricFamily
                    family = families[name] = kind(name, f"{prefix} {key}", labels=labels)
                family.add_metric([endpoint] if isinstance(endpoint, str) else [], float(value))
        yield from families.values()

    def _database(self) -> Iterator[Metric]:
        with self.db.session() as session:
            executions = session.execute(
                select(MonitoringExecutionRow.status, func.count()).group_by(
                    MonitoringExecutionRow.status
                )
            ).all()
            alarms = session.execute(
                select(AlarmRow.state, func.count()).group_by(AlarmRow.state)
            ).all()
            deliveries = session.execute(
                select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
            ).all()
        yield _by_label(
            "modelmon_monitoring_executions",
            "Monitoring executions by status",
            "status",
            executions,
        )
        yield _by_label("modelmon_alarms", "Alarms by state", "state", alarms)
        yield _by_label(
            "modelmon_notification_deliveries",
            "Notification deliveries by status",
            "status",
            deliveries,
        )


def _by_label(name: str, doc: str, label: str, rows: Sequence[Any]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for value, count in sorted(rows):
        family.add_metric([value], count)
    return family


def _bound(bound: float) -> str:
    return repr(float(bound))
