"""Metric time series: PutMetricData, ListMetrics, GetMetricStatistics, and the
ingestion of a monitoring execution's metric files.

A series is (namespace, metric name, dimensions); every datapoint is kept as a
statistic set (SampleCount, Sum, Minimum, Maximum; a ``Value`` v is 1, v, v, v),
so a period's Average is Sum/SampleCount over its datapoints, as in CloudWatch.
Periods are aligned to multiples of the period since the Unix epoch (an hourly
period starts on the hour). Timestamps may be any time (executions analyse the
past); ``Unit`` is stored per series as given first.

An execution's metric files (SPEC §5.5 JSON lines in its work directory) are
stored in the namespace SageMaker uses for the execution's kind:
``aws/sagemaker/Endpoints/data-metrics`` (batch transform input:
``aws/sagemaker/ModelMonitoring/data-metrics``) for data quality,
``aws/sagemaker/Endpoints/model-metrics`` (batch:
``aws/sagemaker/ModelMonitoring/model-metrics``) for model quality. Every
ended execution that completed also adds one datapoint ``constraint_violations``
(the number of violations it found) in namespace ``modelmon/monitoring`` with
dimension ``MonitoringSchedule``: the series monitoring alerts watch.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelmon.config import Settings
from modelmon.db import Database
from modelmon.db.listing import paginate
from modelmon.db.models import MonitoringExecutionRow, MonitoringScheduleRow, utcnow
from modelmon.db.models_alerting import MetricDatapointRow, MetricSeriesRow
from modelmon.errors import InputError
from modelmon.formats.cloudwatch import METRICS_PATH, metrics_namespace
from modelmon.storage.files import exists, open_raw

log = logging.getLogger("modelmon.alerting.metrics")

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
MAX_DATUMS = 1000  # PutMetricData's limit per call
MAX_DIMENSIONS = 30
MAX_BUCKETS = 1440  # GetMetricStatistics answers at most this many datapoints
VIOLATIONS_NAMESPACE = "modelmon/monitoring"
VIOLATIONS_METRIC = "constraint_violations"
COMPLETED = ("Completed", "CompletedWithViolations")

Dimensions = tuple[tuple[str, str], ...]


def canonical_dimensions(raw: Any, field: str = "Dimensions") -> Dimensions:
    """``[{"Name", "Value"}]`` as sorted (name, value) pairs, validated (InputError naming
    ``field``)."""
    if raw is None:
        return ()
    if isinstance(raw, Mapping):  # {"Endpoint": "x"} is accepted too
        raw = [{"Name": k, "Value": v} for k, v in raw.items()]
    if not isinstance(raw, list):
        raise InputError("must be a list of {Name, Value}", field=field)
    if len(raw) > MAX_DIMENSIONS:
        raise InputError(f"at most {MAX_DIMENSIONS} dimensions", field=field)
    pairs: dict[str, str] = {}
    for i, item in enumerate(raw):
        name = item.get("Name") if isinstance(item, Mapping) else None
        value = item.get("Value") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise InputError("Name must be 1 to 255 characters", field=f"{field}[{i}].Name")
        if not isinstance(value, str) or not 1 <= len(value) <= 1024:
            raise InputError("Value must be 1 to 1024 characters", field=f"{field}[{i}].Value")
        if name in pairs:
            raise InputError(f"dimension {name!r} given twice", field=f"{field}[{i}].Name")
        pairs[name] = value
    return tuple(sorted(pairs.items()))


def series_key(namespace: str, metric_name: str, dimensions: Dimensions) -> str:
    """The canonical key of a series (what alarms refer to)."""
    dims = "\x1e".join(f"{n}={v}" for n, v in dimensions)
    return f"{namespace}\x1f{metric_name}\x1f{dims}"


def dimension_list(dimensions: Dimensions) -> list[dict[str, str]]:
    """Sorted pairs back to ``[{"Name", "Value"}]``."""
    return [{"Name": n, "Value": v} for n, v in dimensions]


def parse_time(value: Any, field: str) -> dt.datetime:
    """An ISO-8601 string or epoch seconds (as boto3 sends) as an aware UTC datetime."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, bool):
        raise InputError("must be a time", field=field)
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return dt.datetime.fromtimestamp(float(text), dt.UTC)
        except ValueError:
            pass
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"{value!r} is not an ISO-8601 time", field=field) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    raise InputError("must be an ISO-8601 time or epoch seconds", field=field)


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(f"{value!r} is not a number", field=field)
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{value!r} is not a number", field=field) from None
    if not math.isfinite(number):
        raise InputError(f"{value!r} is not a finite number", field=field)
    return number


@dataclass(frozen=True)
class Datum:
    """One validated datapoint: a statistic set at a time."""

    metric_name: str
    dimensions: Dimensions
    timestamp: dt.datetime
    count: float
    sum: float
    minimum: float
    maximum: float
    unit: str | None


def parse_datum(raw: Any, field: str, now: dt.datetime) -> Datum:
    """A MetricDatum (``Value`` | ``StatisticValues`` | ``Values`` + ``Counts``) validated."""
    if not isinstance(raw, Mapping):
        raise InputError("must be an object", field=field)
    name = raw.get("MetricName")
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise InputError("MetricName must be 1 to 255 characters", field=f"{field}.MetricName")
    dims = canonical_dimensions(raw.get("Dimensions"), f"{field}.Dimensions")
    stamp = raw.get("Timestamp")
    timestamp = now if stamp is None else parse_time(stamp, f"{field}.Timestamp")
    unit = raw.get("Unit")
    if unit is not None and not isinstance(unit, str):
        raise InputError("Unit must be a string", field=f"{field}.Unit")
    given = [k for k in ("Value", "StatisticValues", "Values") if raw.get(k) is not None]
    if len(given) != 1:
        raise InputError(
            "give exactly one of Value, StatisticValues or Values", field=f"{field}.Value"
        )
    if given[0] == "Value":
        v = _number(raw["Value"], f"{field}.Value")
        return Datum(name, dims, timestamp, 1.0, v, v, v, unit)
    if given[0] == "StatisticValues":
        stats = raw["StatisticValues"]
        where = f"{field}.StatisticValues"
        if not isinstance(stats, Mapping):
            raise InputError("must be {SampleCount, Sum, Minimum, Maximum}", field=where)
        count, total, low, high = (
            _number(stats.get(k), f"{where}.{k}")
            for k in ("SampleCount", "Sum", "Minimum", "Maximum")
        )
        if count <= 0:
            raise InputError("SampleCount must be positive", field=f"{where}.SampleCount")
        if low > high:
            raise InputError("Minimum is greater than Maximum", field=f"{where}.Minimum")
        return Datum(name, dims, timestamp, count, total, low, high, unit)
    values = raw["Values"]
    counts = raw.get("Counts")
    if not isinstance(values, list) or not values:
        raise InputError("must be a non-empty list of numbers", field=f"{field}.Values")
    numbers = [_number(v, f"{field}.Values[{i}]") for i, v in enumerate(values)]
    if counts is None:
        weights = [1.0] * len(numbers)
    elif not isinstance(counts, list) or len(counts) != len(numbers):
        raise InputError("must list one count per value", field=f"{field}.Counts")
    else:
        weights = [_number(c, f"{field}.Counts[{i}]") for i, c in enumerate(counts)]
    return Datum(
        name,
        dims,
        timestamp,
        sum(weights),
        sum(v * w for v, w in zip(numbers, weights, strict=True)),
        min(numbers),
        max(numbers),
        unit,
    )


def check_namespace(namespace: Any, field: str = "Namespace") -> str:
    """A namespace: 1 to 255 characters."""
    if not isinstance(namespace, str) or not 1 <= len(namespace) <= 255:
        raise InputError("Namespace must be 1 to 255 characters", field=field)
    return namespace


def bucket_start(moment: dt.datetime, period: int) -> dt.datetime:
    """Start of the period (aligned to the epoch) that holds ``moment``."""
    epoch = int(moment.timestamp() // period) * period
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def statistic_value(statistic: str, count: float, total: float, low: float, high: float) -> float:
    """One statistic of an aggregated statistic set."""
    if statistic == "Average":
        return total / count
    if statistic == "Sum":
        return total
    if statistic == "Minimum":
        return low
    if statistic == "Maximum":
        return high
    return count


Point = tuple[dt.datetime, float, float, float, float]  # time, count, sum, min, max


def aggregate(points: Iterable[Point], period: int) -> dict[dt.datetime, list[float]]:
    """Datapoints → ``{period start: [count, sum, min, max]}``."""
    buckets: dict[dt.datetime, list[float]] = {}
    for stamp, count, total, low, high in points:
        key = bucket_start(stamp, period)
        agg = buckets.get(key)
        if agg is None:
            buckets[key] = [count, total, low, high]
        else:
            agg[0] += count
            agg[1] += total
            agg[2] = min(agg[2], low)
            agg[3] = max(agg[3], high)
    return buckets


class MetricStore:
    """The metric series of one database (see the module doc)."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._ids: dict[str, int] = {}

    # -- writing --------------------------------------------------------------------------

    def put_metric_data(self, namespace: Any, metric_data: Any) -> list[str]:
        """PutMetricData: validate every datum (InputError naming the first bad one), store
        them; returns the keys of the series written."""
        namespace = check_namespace(namespace)
        if not isinstance(metric_data, list) or not metric_data:
            raise InputError("MetricData must be a non-empty list", field="MetricData")
        if len(metric_data) > MAX_DATUMS:
            raise InputError(
                f"MetricData has {len(metric_data)} items; at most {MAX_DATUMS}",
                field="MetricData",
            )
        now = self.clock()
        data = [parse_datum(d, f"MetricData[{i}]", now) for i, d in enumerate(metric_data)]
        return self.store(namespace, data)

    def store(self, namespace: str, data: Sequence[Datum]) -> list[str]:
        """Store validated datapoints of one namespace; returns the series keys touched."""
        if not data:
            return []
        ids: dict[str, int] = {}
        for d in data:
            key = series_key(namespace, d.metric_name, d.dimensions)
            if key not in ids:
                ids[key] = self._series_id(namespace, d, key)
        latest: dict[int, Datum] = {}
        rows = []
        for d in data:
            sid = ids[series_key(namespace, d.metric_name, d.dimensions)]
            rows.append(
                {
                    "series_id": sid,
                    "timestamp": d.timestamp,
                    "sample_count": d.count,
                    "sum": d.sum,
                    "minimum": d.minimum,
                    "maximum": d.maximum,
                }
            )
            best = latest.get(sid)
            if best is None or d.timestamp >= best.timestamp:
                latest[sid] = d
        with self.db.session() as session:
            session.execute(insert(MetricDatapointRow), rows)
            for sid, d in latest.items():
                session.execute(
                    update(MetricSeriesRow)
                    .where(
                        MetricSeriesRow.id == sid,
                        or_(
                            MetricSeriesRow.last_timestamp.is_(None),
                            MetricSeriesRow.last_timestamp <= d.timestamp,
                        ),
                    )
                    .values(last_timestamp=d.timestamp, last_value=d.sum / d.count)
                )
        return list(ids)

    def _series_id(self, namespace: str, d: Datum, key: str) -> int:
        cached = self._ids.get(key)
        if cached is not None:
            return cached
        for _ in range(2):
            with self.db.session() as session:
                found = session.scalars(
                    select(MetricSeriesRow.id).where(MetricSeriesRow.key == key)
                ).first()
            if found is not None:
                self._ids[key] = found
                return found
            try:
                with self.db.session() as session:
                    row = MetricSeriesRow(
                        key=key,
                        namespace=namespace,
                        metric_name=d.metric_name,
                        dimensions=dimension_list(d.dimensions),
                        unit=d.unit,
                        creation_time=self.clock(),
                    )
                    session.add(row)
                    session.flush()
                    self._ids[key] = row.id
                    return row.id
            except IntegrityError:  # created concurrently: read it
                continue
        raise RuntimeError(f"cannot create the metric series {key!r}")

    # -- executions -----------------------------------------------------------------------

    def ingest_execution(self, execution_id: str) -> list[str]:
        """Store an ended execution's metric files and its violation count; returns the keys
        of the series written (nothing for an execution that did not complete)."""
        with self.db.session() as session:
            row = session.get(MonitoringExecutionRow, execution_id)
            if row is None:
                return []
            status, monitoring_type = row.status, row.monitoring_type
            endpoint, schedule = row.endpoint_name, row.schedule_name
            metrics_uri, report_uri = row.metrics_uri, row.report_uri
            metric_time = row.window_end or row.scheduled_time
        if status not in COMPLETED:
            return []
        namespace = metrics_namespace(monitoring_type, endpoint)
        data: list[Datum] = []
        for path in self._metric_files(execution_id, metrics_uri):
            data.extend(read_metric_file(path, metric_time))
        keys = self.store(namespace, data)
        violations = count_violations(report_uri, status)
        keys += self.store(
            VIOLATIONS_NAMESPACE,
            [
                Datum(
                    VIOLATIONS_METRIC,
                    (("MonitoringSchedule", schedule),),
                    metric_time,
                    1.0,
                    float(violations),
                    float(violations),
                    float(violations),
                    "Count",
                )
            ],
        )
        return keys

    def _metric_files(self, execution_id: str, metrics_uri: str | None) -> list[Path]:
        directory = self.settings.executions_dir / execution_id / METRICS_PATH
        if not directory.is_dir():
            if not metrics_uri:
                return []
            directory = Path(metrics_uri).parent
            if not directory.is_dir():
                return []
        return sorted(p for p in directory.rglob("*") if p.is_file())

    # -- reading --------------------------------------------------------------------------

    def find_series(
        self, session: Session, namespace: str, metric_name: str, dimensions: Dimensions
    ) -> MetricSeriesRow | None:
        """The series with exactly these dimensions, if any."""
        key = series_key(namespace, metric_name, dimensions)
        return session.scalars(select(MetricSeriesRow).where(MetricSeriesRow.key == key)).first()

    def list_metrics(
        self,
        namespace: str | None = None,
        metric_name: str | None = None,
        dimensions: Any = None,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> dict[str, Any]:
        """ListMetrics: series matching the namespace, name and dimension filters (a filter
        without ``Value`` matches any value), with their latest datapoint."""
        filters = _dimension_filters(dimensions)
        with self.db.session() as session:
            query = select(MetricSeriesRow).order_by(
                MetricSeriesRow.namespace, MetricSeriesRow.metric_name, MetricSeriesRow.key
            )
            if namespace:
                query = query.where(MetricSeriesRow.namespace == namespace)
            if metric_name:
                query = query.where(MetricSeriesRow.metric_name == metric_name)
            rows = [r for r in session.scalars(query) if _matches(r.dimensions, filters)]
        page, token = paginate(rows, next_token, max_results or 100)
        out: dict[str, Any] = {
            "Metrics": [
                {
                    "Namespace": r.namespace,
                    "MetricName": r.metric_name,
                    "Dimensions": r.dimensions,
                    "LastTimestamp": r.last_timestamp,
                    "LastValue": r.last_value,
                }
                for r in page
            ]
        }
        if token:
            out["NextToken"] = token
        return out

    def get_metric_statistics(
        self,
        namespace: Any,
        metric_name: Any,
        start_time: Any,
        end_time: Any,
        period: Any,
        statistics: Any,
        dimensions: Any = None,
        unit: str | None = None,
    ) -> dict[str, Any]:
        """GetMetricStatistics: one datapoint per period with data in [start, end), oldest
        first. An unknown series is an InputError naming MetricName."""
        namespace = check_namespace(namespace)
        if not isinstance(metric_name, str) or not metric_name:
            raise InputError("MetricName is required", field="MetricName")
        dims = canonical_dimensions(dimensions)
        start = parse_time(start_time, "StartTime")
        end = parse_time(end_time, "EndTime")
        if end <= start:
            raise InputError("EndTime must be after StartTime", field="EndTime")
        seconds = check_period(period)
        wanted = check_statistics(statistics)
        if (end - start).total_seconds() / seconds > MAX_BUCKETS:
            raise InputError(
                f"{(end - start).total_seconds() / seconds:.0f} periods asked; at most "
                f"{MAX_BUCKETS}: use a longer Period or a shorter range",
                field="Period",
            )
        with self.db.session() as session:
            row = self.find_series(session, namespace, metric_name, dims)
            if row is None:
                raise InputError(
                    f"no metric {metric_name} in namespace {namespace} with dimensions "
                    f"{dict(dims) or '{}'} (see ListMetrics)",
                    field="MetricName",
                )
            points = self.points(session, [row.id], start, end)[row.id]
            series_unit = row.unit
        datapoints = []
        for stamp, (count, total, low, high) in sorted(aggregate(points, seconds).items()):
            item: dict[str, Any] = {"Timestamp": stamp}
            for name in wanted:
                item[name] = statistic_value(name, count, total, low, high)
            item["Unit"] = unit or series_unit or "None"
            datapoints.append(item)
        return {"Label": metric_name, "Datapoints": datapoints}

    def points(
        self,
        session: Session,
        series_ids: Sequence[int],
        start: dt.datetime,
        end: dt.datetime,
    ) -> dict[int, list[Point]]:
        """Raw datapoints of several series in [start, end)."""
        out: dict[int, list[Point]] = {sid: [] for sid in series_ids}
        if not series_ids:
            return out
        rows = session.execute(
            select(
                MetricDatapointRow.series_id,
                MetricDatapointRow.timestamp,
                MetricDatapointRow.sample_count,
                MetricDatapointRow.sum,
                MetricDatapointRow.minimum,
                MetricDatapointRow.maximum,
            ).where(
                MetricDatapointRow.series_id.in_(series_ids),
                MetricDatapointRow.timestamp >= start,
                MetricDatapointRow.timestamp < end,
            )
        )
        for sid, stamp, count, total, low, high in rows:
            out[sid].append((stamp, count, total, low, high))
        return out

    def latest(self) -> list[MetricSeriesRow]:
        """Every series with its latest value (for /metrics)."""
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(MetricSeriesRow).where(MetricSeriesRow.last_value.is_not(None))
                )
            )


def check_period(period: Any, field: str = "Period") -> int:
    """A period in seconds: a positive whole number."""
    seconds = _number(period, field)
    if seconds < 1 or seconds != int(seconds):
        raise InputError(f"{period!r} is not a whole number of seconds ≥ 1", field=field)
    return int(seconds)


def check_statistics(statistics: Any) -> list[str]:
    """A non-empty list of SampleCount, Average, Sum, Minimum, Maximum."""
    if isinstance(statistics, str):
        statistics = [statistics]
    if not isinstance(statistics, list) or not statistics:
        raise InputError(f"give one or more of {', '.join(STATISTICS)}", field="Statistics")
    for s in statistics:
        if s not in STATISTICS:
            raise InputError(f"{s!r} is not one of {', '.join(STATISTICS)}", field="Statistics")
    return list(dict.fromkeys(statistics))


def _dimension_filters(raw: Any) -> list[tuple[str, str | None]]:
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        raw = [{"Name": k, "Value": v} for k, v in raw.items()]
    if not isinstance(raw, list):
        raise InputError("must be a list of {Name, Value}", field="Dimensions")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or not isinstance(item.get("Name"), str):
            raise InputError("Name is required", field=f"Dimensions[{i}].Name")
        value = item.get("Value")
        out.append((item["Name"], value if isinstance(value, str) and value else None))
    return out


def _matches(dimensions: list[dict[str, str]], filters: list[tuple[str, str | None]]) -> bool:
    have = {d["Name"]: d["Value"] for d in dimensions}
    return all(name in have and (value is None or have[name] == value) for name, value in filters)


def read_metric_file(path: Path, default_time: dt.datetime) -> list[Datum]:
    """The records of one SPEC §5.5 metric file; records that are not valid are logged and
    left out (the analyzer may be a user's program)."""
    out = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                out.append(
                    parse_datum(json.loads(line), f"{path.name} line {number}", default_time)
                )
            except (ValueError, InputError) as err:
                log.warning("metric file %s line %d left out: %s", path, number, err)
    return out


def count_violations(report_uri: str | None, status: str) -> int:
    """How many violations an execution's ``constraint_violations.json`` lists (from its
    status when the file cannot be read)."""
    fallback = 1 if status == "CompletedWithViolations" else 0
    if not report_uri:
        return fallback
    uri = report_uri.rstrip("/") + "/constraint_violations.json"
    try:
        if not exists(uri):
            return fallback
        with open_raw(uri) as handle:
            violations = json.load(handle).get("violations")
    except (OSError, ValueError, InputError):
        return fallback
    return len(violations) if isinstance(violations, list) else fallback


def schedule_exists(db: Database, name: str) -> bool:
    """Whether a monitoring schedule named ``name`` exists."""
    with db.session() as session:
        return session.get(MonitoringScheduleRow, name) is not None
