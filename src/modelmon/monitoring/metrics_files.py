"""CloudWatch-style metric files of a monitoring job (SPEC §5.5).

A job writes one file per run into its metrics directory: JSON Lines, one
record per metric, in the shape of SageMaker's bring-your-own-container
contract (closely based on PutMetricData)::

    {"MetricName": "feature_non_null_Day Mins", "Timestamp": "2024-01-02T03:00:00Z",
     "Dimensions": [{"Name": "Endpoint", "Value": "churn"},
                    {"Name": "MonitoringSchedule", "Value": "hourly"}],
     "Value": 0.99, "Unit": "None"}

A record holds either ``Value`` or ``StatisticValues`` ({SampleCount, Sum,
Minimum, Maximum}; CloudWatch derives Average). Choices where SPEC is [U]:

* Dimensions are ``Endpoint`` + ``MonitoringSchedule`` (SageMaker's BYOC page and
  its model-quality alarms); batch transform monitoring has no endpoint, so only
  ``MonitoringSchedule``. A name that is not known is left out.
* ``Unit`` is ``"None"`` for every data-quality metric: drift distances and the
  non-null share are ratios, and a feature's values have no known unit.
* Values that are not finite (a NaN p-value, an infinite sum) are not written:
  CloudWatch refuses them.

The namespace is not part of a record; whoever publishes the file picks it
(:func:`modelmon.formats.cloudwatch.metrics_namespace`).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from modelmon.formats.statistics import Statistics
from modelmon.storage.files import atomic_write_text

UNIT = "None"
DRIFT_PREFIX = "feature_baseline_drift_"
NON_NULL_PREFIX = "feature_non_null_"
DATA_PREFIX = "feature_data_"
DATA_METRICS_FILE_PREFIX = "data-metrics"


def metric_timestamp(moment: datetime | str) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds) of a datetime or ISO-8601 text."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.strip())
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def dimensions(endpoint: str | None, schedule: str | None) -> list[dict[str, str]]:
    """``[{"Name": "Endpoint", ...}, {"Name": "MonitoringSchedule", ...}]`` for the names known."""
    out = []
    if endpoint:
        out.append({"Name": "Endpoint", "Value": endpoint})
    if schedule:
        out.append({"Name": "MonitoringSchedule", "Value": schedule})
    return out


def metric_record(
    name: str,
    timestamp: str,
    dims: list[dict[str, str]],
    *,
    value: float | None = None,
    statistic_values: Mapping[str, float] | None = None,
    unit: str = UNIT,
) -> dict[str, Any] | None:
    """One metric record (``value`` xor ``statistic_values``), or None if not finite."""
    if (value is None) == (statistic_values is None):
        raise ValueError("a metric record holds either a value or statistic values")
    record: dict[str, Any] = {
        "MetricName": name,
        "Timestamp": timestamp,
        "Dimensions": [dict(d) for d in dims],
    }
    if value is not None:
        if not math.isfinite(value):
            return None
        record["Value"] = float(value)
    else:
        assert statistic_values is not None
        stats = {k: float(v) for k, v in statistic_values.items()}
        if not all(math.isfinite(v) for v in stats.values()):
            return None
        record["StatisticValues"] = stats
    record["Unit"] = unit
    return record


def data_quality_metrics(
    statistics: Statistics,
    drift: Mapping[str, tuple[str, float]],
    *,
    endpoint: str | None,
    schedule: str | None,
    timestamp: datetime | str,
    skip: Collection[str] = (),
) -> list[dict[str, Any]]:
    """The data-quality metric records of one run, feature by feature in statistics order.

    For each feature: ``feature_data_{name}`` (numeric features: SampleCount =
    values present, Sum, Minimum, Maximum of the statistics), ``feature_non_null_{name}``
    (num_present / (num_present + num_missing)) and, for features compared with
    the baseline, ``feature_baseline_drift_{name}`` (the distance of ``drift``, as
    :class:`~modelmon.analysis.api.AnalysisResult` gives it; for ChiSquared the
    p-value). Features named in ``skip`` (``emit_metrics: Disabled``) are left out.
    """
    stamp = metric_timestamp(timestamp)
    dims = dimensions(endpoint, schedule)
    records: list[dict[str, Any] | None] = []
    for feature in statistics.features:
        name = feature.name
        if name in skip:
            continue
        numeric = feature.numerical
        if numeric is not None and numeric.num_present > 0:
            records.append(
                metric_record(
                    f"{DATA_PREFIX}{name}",
                    stamp,
                    dims,
                    statistic_values={
                        "SampleCount": numeric.num_present,
                        "Sum": numeric.sum,
                        "Minimum": numeric.min,
                        "Maximum": numeric.max,
                    },
                )
            )
        rows = feature.num_present + feature.num_missing
        if rows > 0:
            records.append(
                metric_record(
                    f"{NON_NULL_PREFIX}{name}", stamp, dims, value=feature.num_present / rows
                )
            )
        if name in drift:
            records.append(
                metric_record(f"{DRIFT_PREFIX}{name}", stamp, dims, value=drift[name][1])
            )
    return [r for r in records if r is not None]


def write_metric_file(
    records: Iterable[Mapping[str, Any]],
    directory: str,
    *,
    prefix: str = DATA_METRICS_FILE_PREFIX,
) -> str | None:
    """Write ``records`` as one JSON Lines file ``{directory}/{prefix}-{uuid}.json``, atomically.

    Returns the file's path, or None when there is nothing to write.
    """
    lines = [json.dumps(dict(r), ensure_ascii=False, allow_nan=False) + "\n" for r in records]
    if not lines:
        return None
    path = f"{directory.rstrip('/')}/{prefix}-{uuid.uuid4()}.json"
    atomic_write_text(path, "".join(lines))
    return path
