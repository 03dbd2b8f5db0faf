"""Schedule expressions, run times and analysis windows of monitoring schedules.

Pure logic: no I/O, no database, no clock (callers pass ``now``).

Schedule expressions (SPEC §6) are exactly SageMaker's:

* hourly: ``cron(0 * ? * * *)``
* daily at hour H (0-23, leading zero allowed): ``cron(0 H ? * * *)``
* every N hours (1-24) from hour H: ``cron(0 H/N ? * * *)``. As in AWS cron the
  runs are at H, H+N, H+2N, ... up to 23 on each day, restarting at H the next
  day: ``0/5`` runs at 0, 5, 10, 15, 20 and ``17/12`` only at 17.
* one time, immediately: ``NOW`` (case-sensitive, as SageMaker).

All times are aware UTC datetimes; naive ones are refused (``ValueError``: a
programming error, not user input).

Analysis window of a run scheduled at ``t`` (decisions, SPEC marks the exact rule
as documentation-only):

1. ``DataAnalysisStartTime``/``DataAnalysisEndTime`` (ScheduleConfig) when given:
   ``(t + start, t + end)``. Required with ``NOW`` (``t`` is then the creation
   time). The API reference describes them as offsets "to the times that you
   schedule your monitoring jobs to run" and only says they are *required* with
   ``NOW``, so they are also accepted with cron expressions (both or neither).
   The window must be positive and at most 24 hours.
2. else ``StartTimeOffset``/``EndTimeOffset`` (EndpointInput/BatchTransformInput,
   used by model quality because labels arrive late) when given, applied to the
   scheduled time: ``(t + StartTimeOffset, t + EndTimeOffset)``; SPEC §0: with
   ``-P8D``/``-P1D`` a run at 2020-01-09T13:00 analyzes 2020-01-01T13:00 to
   2020-01-08T13:00. A missing EndTimeOffset means ``t``; a missing
   StartTimeOffset means one period (see 3) before the end. No 24-hour limit.
3. else the period since the previous scheduled run: ``(p, t)`` where ``p`` is the
   schedule's run before ``t``. Hourly: 1 h; daily: 24 h; every N hours: N h when N
   divides 24, otherwise the actual gap (``0/5`` at 00:00 analyzes 20:00-00:00,
   ``17/12`` analyzes 24 h), so consecutive runs cover the data without gaps or
   overlaps. The DG example (SPEC §5.1) gives a daily job at 05:00 UTC on
   2020-02-20 the window ``2020-02-19T06:00:00Z``-``2020-02-20T05:00:00Z``, i.e.
   23 hours, which no rule above (nor any stated SageMaker rule) yields; we read
   it as a documentation slip and use 24 h (start ``2020-02-19T05:00:00Z``).

In every case the window must end at or before the scheduled time (data after it
does not exist yet) and start before it ends.

After downtime (:func:`due_runs`) only the latest missed run is executed; the
earlier missed ones are reported so the caller records them as skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from modelmon.errors import InputError

__all__ = [
    "CronExpressionGenerator",
    "ScheduleExpression",
    "analysis_window",
    "due_runs",
    "format_time",
    "next_time",
    "parse_offset",
    "previous_time",
    "report_hour_path",
    "scheduled_times",
    "validate_schedule_config",
]

ScheduleKind = Literal["hourly", "daily", "every_n_hours", "now"]

SCHEDULE_FIELD = "ScheduleExpression"
START_FIELD = "DataAnalysisStartTime"
END_FIELD = "DataAnalysisEndTime"
START_OFFSET_FIELD = "StartTimeOffset"
END_OFFSET_FIELD = "EndTimeOffset"

MAX_EXPRESSION_LENGTH = 256
MAX_OFFSET_LENGTH = 15  # MonitoringTimeOffsetString
MAX_ANALYSIS_WINDOW = timedelta(hours=24)

HOUR = timedelta(hours=1)
_EPSILON = timedelta(microseconds=1)

ALLOWED_FORMS = (
    "allowed forms: hourly 'cron(0 * ? * * *)'; "
    "daily at hour H (0-23) 'cron(0 H ? * * *)', e.g. 'cron(0 12 ? * * *)'; "
    "every N hours (1-24) starting at hour H 'cron(0 H/N ? * * *)', "
    "e.g. 'cron(0 0/2 ? * * *)' or 'cron(0 17/12 ? * * *)'; "
    "one time, immediately 'NOW' (with DataAnalysisStartTime and DataAnalysisEndTime)"
)

NOW_REQUIRES_BOTH = (
    "Both data_analysis_start_time and data_analysis_end_time are required for one time "
    "monitoring schedule (DataAnalysisStartTime and DataAnalysisEndTime, e.g. '-PT1H' and "
    "'-PT0H')"
)

_CRON_RE = re.compile(r"cron\((?P<body>.*)\)", re.DOTALL)
_NUMBER_RE = re.compile(r"\d{1,2}")
_STEP_RE = re.compile(r"(?P<start>\d{1,2})/(?P<step>\d{1,2})")

# ISO-8601 duration with an optional sign. Days are also accepted after the T
# ("-PT2D"), as the AWS developer guide's model-quality example writes them.
_NUM = r"(\d+(?:[.,]\d+)?)"
_DURATION_RE = re.compile(
    rf"(?P<sign>[+-]?)P(?:{_NUM}W)?(?:{_NUM}D)?"
    rf"(?:T(?:{_NUM}D)?(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?"
)
_CALENDAR_RE = re.compile(r"[+-]?P[^T]*\d[YM]")


def _shown(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _refuse(text: str, reason: str) -> InputError:
    return InputError(
        f"unsupported schedule expression {_shown(text)}: {reason}; {ALLOWED_FORMS}",
        field=SCHEDULE_FIELD,
    )


@dataclass(frozen=True)
class ScheduleExpression:
    """A parsed SageMaker schedule expression.

    ``hour`` is the (first) hour of the day of daily and every-N-hours schedules;
    ``interval_hours`` is 1 for hourly, 24 for daily, N for every N hours, and
    ``None`` (like ``hour``) where it does not apply.
    """

    kind: ScheduleKind
    hour: int | None = None
    interval_hours: int | None = None

    def __post_init__(self) -> None:
        ok = {
            "hourly": self.hour is None and self.interval_hours == 1,
            "daily": _in(self.hour, 0, 23) and self.interval_hours == 24,
            "every_n_hours": _in(self.hour, 0, 23) and _in(self.interval_hours, 1, 24),
            "now": self.hour is None and self.interval_hours is None,
        }.get(self.kind, False)
        if not ok:
            raise ValueError(f"inconsistent ScheduleExpression {self!r}")

    @classmethod
    def hourly(cls) -> ScheduleExpression:
        return cls("hourly", None, 1)

    @classmethod
    def daily(cls, hour: int) -> ScheduleExpression:
        return cls("daily", hour, 24)

    @classmethod
    def every_n_hours(cls, hour: int, interval_hours: int) -> ScheduleExpression:
        return cls("every_n_hours", hour, interval_hours)

    @classmethod
    def now(cls) -> ScheduleExpression:
        return cls("now")

    @classmethod
    def parse(cls, text: str) -> ScheduleExpression:
        """Parse one of SageMaker's forms; anything else raises :class:`InputError`."""
        if not isinstance(text, str):
            raise InputError(
                f"schedule expression must be a string, not {type(text).__name__}; {ALLOWED_FORMS}",
                field=SCHEDULE_FIELD,
            )
        if not text.strip():
            raise _refuse(text, "it is empty")
        if len(text) > MAX_EXPRESSION_LENGTH:
            raise _refuse(
                text, f"it is {len(text)} characters long (at most {MAX_EXPRESSION_LENGTH})"
            )
        stripped = text.strip()
        if stripped == "NOW":
            return cls.now()
        if stripped.upper() == "NOW":
            raise _refuse(text, "the keyword is case-sensitive: write 'NOW'")
        if stripped.lower().startswith("rate("):
            raise _refuse(
                text,
                "rate() expressions are not supported (SageMaker only supports hourly "
                "integer rates between 1 hour and 24 hours, written as cron)",
            )
        match = _CRON_RE.fullmatch(stripped)
        if not match:
            raise _refuse(text, "it is neither 'NOW' nor 'cron(...)'")
        fields = match.group("body").split()
        if len(fields) != 6:
            raise _refuse(text, f"a cron expression has 6 fields, this one has {len(fields)}")
        minute, hours, rest = fields[0], fields[1], fields[2:]
        if minute != "0":
            raise _refuse(
                text, f"the minute field must be 0 (runs start on the hour), not {minute!r}"
            )
        if rest != ["?", "*", "*", "*"]:
            raise _refuse(
                text,
                "the day-of-month, month, day-of-week and year fields must be '? * * *', "
                f"not {' '.join(rest)!r}",
            )
        if hours == "*":
            return cls.hourly()
        if _NUMBER_RE.fullmatch(hours):
            hour = int(hours)
            if hour > 23:
                raise _refuse(text, f"hour {hour} is out of range 0-23")
            return cls.daily(hour)
        step = _STEP_RE.fullmatch(hours)
        if step:
            hour, interval = int(step.group("start")), int(step.group("step"))
            if hour > 23:
                raise _refuse(text, f"starting hour {hour} is out of range 0-23")
            if not 1 <= interval <= 24:
                raise _refuse(text, f"interval {interval} hours is out of range 1-24")
            return cls.every_n_hours(hour, interval)
        raise _refuse(text, f"hour field {hours!r} is not '*', 'H' or 'H/N'")

    @property
    def is_one_time(self) -> bool:
        return self.kind == "now"

    @property
    def hours(self) -> tuple[int, ...]:
        """The hours of the day (UTC) at which runs start; empty for ``NOW``."""
        if self.kind == "hourly":
            return tuple(range(24))
        if self.kind == "daily":
            assert self.hour is not None
            return (self.hour,)
        if self.kind == "every_n_hours":
            assert self.hour is not None and self.interval_hours is not None
            return tuple(range(self.hour, 24, self.interval_hours))
        return ()

    def __str__(self) -> str:
        if self.kind == "hourly":
            return CronExpressionGenerator.hourly()
        if self.kind == "daily":
            return CronExpressionGenerator.daily(self.hour or 0)
        if self.kind == "every_n_hours":
            assert self.interval_hours is not None
            return CronExpressionGenerator.daily_every_x_hours(self.interval_hours, self.hour or 0)
        return CronExpressionGenerator.now()


def _in(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _expression(expr: ScheduleExpression | str) -> ScheduleExpression:
    return expr if isinstance(expr, ScheduleExpression) else ScheduleExpression.parse(expr)


def _utc(dt: datetime, name: str) -> datetime:
    if not isinstance(dt, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {dt.isoformat()}")
    return dt.astimezone(UTC)


# --------------------------------------------------------------------------- run times


def next_time(expr: ScheduleExpression | str, after: datetime) -> datetime | None:
    """The first scheduled run time strictly after ``after``; ``None`` for ``NOW``."""
    expr = _expression(expr)
    after = _utc(after, "after")
    hours = expr.hours
    if not hours:
        return None
    midnight = after.replace(hour=0, minute=0, second=0, microsecond=0)
    for day in (0, 1):
        for hour in hours:
            t = midnight + timedelta(days=day, hours=hour)
            if t > after:
                return t
    raise AssertionError("unreachable: every schedule runs at least once a day")


def previous_time(expr: ScheduleExpression | str, at_or_before: datetime) -> datetime | None:
    """The last scheduled run time at or before ``at_or_before``; ``None`` for ``NOW``."""
    expr = _expression(expr)
    at = _utc(at_or_before, "at_or_before")
    hours = expr.hours
    if not hours:
        return None
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    for day in (0, -1):
        for hour in reversed(hours):
            t = midnight + timedelta(days=day, hours=hour)
            if t <= at:
                return t
    raise AssertionError("unreachable: every schedule runs at least once a day")


def scheduled_times(
    expr: ScheduleExpression | str, after: datetime, until: datetime
) -> list[datetime]:
    """Every scheduled run time ``t`` with ``after < t <= until``, oldest first.

    Empty for ``NOW`` (its one run is started at creation by the caller).
    """
    expr = _expression(expr)
    after = _utc(after, "after")
    until = _utc(until, "until")
    times: list[datetime] = []
    t = next_time(expr, after)
    while t is not None and t <= until:
        times.append(t)
        t = next_time(expr, t)
    return times


def due_runs(
    expr: ScheduleExpression | str, *, since: datetime, now: datetime
) -> tuple[datetime | None, list[datetime]]:
    """The run to execute now and the missed runs to record as skipped.

    ``since`` is the scheduled time of the last run (or, for a schedule that has
    not run yet, its creation or restart time); runs at or before it do not count.
    After downtime only the latest due run is executed (``run_now``); the earlier
    due ones come back in ``skipped``, oldest first. ``(None, [])`` when nothing is
    due, and always for ``NOW`` (its one run is started at creation).
    """
    times = scheduled_times(expr, since, now)
    if not times:
        return None, []
    return times[-1], times[:-1]


def period_before(expr: ScheduleExpression | str, scheduled: datetime) -> timedelta:
    """Length of the default analysis window of a run at ``scheduled`` (module doc, rule 3).

    The gap between the schedule's run at or before ``scheduled`` and the one
    before it: 1 h hourly, 24 h daily, N h (or the actual gap) every N hours.
    """
    expr = _expression(expr)
    if expr.is_one_time:
        raise ValueError("a NOW schedule has no period; its window is DataAnalysisStart/EndTime")
    slot = previous_time(expr, scheduled)
    assert slot is not None
    before = previous_time(expr, slot - _EPSILON)
    assert before is not None
    return slot - before


# --------------------------------------------------------------------------- offsets


def parse_offset(text: str, field: str) -> timedelta:
    """An ISO-8601 duration as SageMaker's time offsets use them: ``-PT1H``, ``-P1D``...

    A sign is optional (``MonitoringTimeOffsetString``: 1-15 characters, ``.?P.*``);
    weeks, days, hours, minutes and seconds are accepted (``-PT2D``, days after the
    ``T`` as the AWS guide writes them, too); years and months are refused since
    their length varies. Errors are :class:`InputError` naming ``field``.
    """
    example = "e.g. '-PT1H' (one hour before), '-P1D' (one day before) or '-PT0H'"
    if not isinstance(text, str):
        raise InputError(
            f"must be an ISO-8601 duration string, not {type(text).__name__}; {example}",
            field=field,
        )
    if not 1 <= len(text) <= MAX_OFFSET_LENGTH:
        raise InputError(
            f"{_shown(text)} must be 1-{MAX_OFFSET_LENGTH} characters (an ISO-8601 duration, "
            f"{example})",
            field=field,
        )
    match = _DURATION_RE.fullmatch(text)
    if not match or not any(match.groups()[1:]):
        if _CALENDAR_RE.match(text):
            raise InputError(
                f"{_shown(text)}: years and months are not supported (their length varies); "
                f"use days, hours or minutes, {example}",
                field=field,
            )
        raise InputError(f"{_shown(text)} is not an ISO-8601 duration; {example}", field=field)
    weeks, days, t_days, hours, minutes, seconds = (
        float(value.replace(",", ".")) if value else 0.0 for value in match.groups()[1:]
    )
    delta = timedelta(
        weeks=weeks, days=days + t_days, hours=hours, minutes=minutes, seconds=seconds
    )
    return -delta if match.group("sign") == "-" else delta


# --------------------------------------------------------------------------- windows


def _check_window(
    start: datetime,
    end: datetime,
    scheduled: datetime,
    fields: str,
    *,
    limit: timedelta | None,
) -> tuple[datetime, datetime]:
    if start >= end:
        raise InputError(
            f"the analysis window must start before it ends: {format_time(start)} to "
            f"{format_time(end)} (relative to {format_time(scheduled)})",
            field=fields,
        )
    if end > scheduled:
        raise InputError(
            f"the analysis window must end at or before the run's time: it ends "
            f"{end - scheduled} after it; use a negative or zero offset such as '-PT0H'",
            field=fields,
        )
    if limit is not None and end - start > limit:
        raise InputError(
            f"the analysis window is {(end - start) / HOUR:g} hours, longer than 24 hours: "
            "the end time must not follow the start time by more than 24 hours",
            field=fields,
        )
    return start, end


def analysis_window(
    expr: ScheduleExpression | str,
    scheduled: datetime,
    *,
    start_offset: str | None = None,
    end_offset: str | None = None,
    data_analysis_start: str | None = None,
    data_analysis_end: str | None = None,
) -> tuple[datetime, datetime]:
    """The ``(start, end)`` of the data a run at ``scheduled`` analyzes (module doc).

    ``scheduled`` is the run's scheduled time (for ``NOW``, the creation time);
    ``start_offset``/``end_offset`` are the input's StartTimeOffset/EndTimeOffset
    and ``data_analysis_start``/``data_analysis_end`` the ScheduleConfig's
    DataAnalysisStartTime/EndTime.
    """
    expr = _expression(expr)
    scheduled = _utc(scheduled, "scheduled")
    if expr.is_one_time or data_analysis_start is not None or data_analysis_end is not None:
        start_delta, end_delta = _data_analysis_offsets(
            expr, data_analysis_start, data_analysis_end
        )
        return _check_window(
            scheduled + start_delta,
            scheduled + end_delta,
            scheduled,
            f"{START_FIELD}/{END_FIELD}",
            limit=MAX_ANALYSIS_WINDOW,
        )
    if start_offset is not None or end_offset is not None:
        end = scheduled + (
            parse_offset(end_offset, END_OFFSET_FIELD) if end_offset is not None else timedelta()
        )
        start = (
            scheduled + parse_offset(start_offset, START_OFFSET_FIELD)
            if start_offset is not None
            else end - period_before(expr, scheduled)
        )
        return _check_window(
            start, end, scheduled, f"{START_OFFSET_FIELD}/{END_OFFSET_FIELD}", limit=None
        )
    return scheduled - period_before(expr, scheduled), scheduled


def _data_analysis_offsets(
    expr: ScheduleExpression, start: str | None, end: str | None
) -> tuple[timedelta, timedelta]:
    if start is None or end is None:
        missing = START_FIELD if start is None else END_FIELD
        if expr.is_one_time:
            raise InputError(NOW_REQUIRES_BOTH, field=missing)
        raise InputError(
            f"{START_FIELD} and {END_FIELD} go together: give both or neither",
            field=missing,
        )
    return parse_offset(start, START_FIELD), parse_offset(end, END_FIELD)


def validate_schedule_config(
    expression: str,
    data_analysis_start: str | None = None,
    data_analysis_end: str | None = None,
) -> ScheduleExpression:
    """The checks of a ScheduleConfig at creation (and update) time.

    The expression must be one of SageMaker's forms; ``NOW`` needs both
    DataAnalysisStartTime and DataAnalysisEndTime; with a cron expression they
    are optional but go together. When given they must be ISO-8601 durations
    making a positive window of at most 24 hours that ends at or before the run.
    """
    expr = ScheduleExpression.parse(expression)
    if expr.is_one_time or data_analysis_start is not None or data_analysis_end is not None:
        reference = datetime(2000, 1, 1, tzinfo=UTC)
        analysis_window(
            expr,
            reference,
            data_analysis_start=data_analysis_start,
            data_analysis_end=data_analysis_end,
        )
    return expr


# --------------------------------------------------------------------------- formatting


def format_time(dt: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC, as the container's ``start_time``/``end_time``."""
    return _utc(dt, "dt").strftime("%Y-%m-%dT%H:%M:%SZ")


def report_hour_path(dt: datetime) -> str:
    """The ``yyyy/mm/dd/hh`` folder part of a scheduled time (UTC): ``2020/02/20/05``."""
    return _utc(dt, "dt").strftime("%Y/%m/%d/%H")


# --------------------------------------------------------------------------- SDK helper


def _int_arg(name: str, value: object, low: int, high: int) -> int:
    if not _in(value, low, high):
        raise InputError(f"must be an integer from {low} to {high}, not {value!r}", field=name)
    assert isinstance(value, int)
    return value


class CronExpressionGenerator:
    """The SageMaker SDK's generator of schedule expressions (same strings)."""

    @staticmethod
    def hourly() -> str:
        """At the top of every hour."""
        return "cron(0 * ? * * *)"

    @staticmethod
    def daily(hour: int = 0) -> str:
        """Once a day at ``hour`` (0-23, UTC)."""
        return f"cron(0 {_int_arg('hour', hour, 0, 23)} ? * * *)"

    @staticmethod
    def daily_every_x_hours(hour_interval: int, starting_hour: int = 0) -> str:
        """Every ``hour_interval`` hours (1-24) from ``starting_hour`` (0-23) each day."""
        interval = _int_arg("hour_interval", hour_interval, 1, 24)
        start = _int_arg("starting_hour", starting_hour, 0, 23)
        return f"cron(0 {start}/{interval} ? * * *)"

    @staticmethod
    def now() -> str:
        """One run, immediately (needs DataAnalysisStartTime/EndTime)."""
        return "NOW"
