"""Schedule expressions, run times, analysis windows and offsets (SPEC §5.1, §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest

from modelmon.errors import InputError
from modelmon.monitoring.schedule import (
    CronExpressionGenerator,
    ScheduleExpression,
    analysis_window,
    due_runs,
    format_time,
    next_time,
    parse_offset,
    period_before,
    previous_time,
    report_hour_path,
    scheduled_times,
    validate_schedule_config,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "kind", "hour", "interval", "canonical"),
    [
        ("cron(0 * ? * * *)", "hourly", None, 1, "cron(0 * ? * * *)"),
        ("cron(0 12 ? * * *)", "daily", 12, 24, "cron(0 12 ? * * *)"),
        ("cron(0 0 ? * * *)", "daily", 0, 24, "cron(0 0 ? * * *)"),
        ("cron(0 00 ? * * *)", "daily", 0, 24, "cron(0 0 ? * * *)"),
        ("cron(0 05 ? * * *)", "daily", 5, 24, "cron(0 5 ? * * *)"),
        ("cron(0 23 ? * * *)", "daily", 23, 24, "cron(0 23 ? * * *)"),
        ("cron(0 17/12 ? * * *)", "every_n_hours", 17, 12, "cron(0 17/12 ? * * *)"),
        ("cron(0 0/2 ? * * *)", "every_n_hours", 0, 2, "cron(0 0/2 ? * * *)"),
        ("cron(0 00/01 ? * * *)", "every_n_hours", 0, 1, "cron(0 0/1 ? * * *)"),
        ("cron(0 23/24 ? * * *)", "every_n_hours", 23, 24, "cron(0 23/24 ? * * *)"),
        ("cron(  0   6/6 ?  * * *  )", "every_n_hours", 6, 6, "cron(0 6/6 ? * * *)"),
        ("NOW", "now", None, None, "NOW"),
    ],
)
def test_parse_allowed_forms(
    text: str, kind: str, hour: int | None, interval: int | None, canonical: str
) -> None:
    expr = ScheduleExpression.parse(text)
    assert (expr.kind, expr.hour, expr.interval_hours) == (kind, hour, interval)
    assert str(expr) == canonical
    assert ScheduleExpression.parse(str(expr)) == expr


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("cron(0 0 * * ? *)", "'? * * *'"),
        ("cron(30 * ? * * *)", "minute field must be 0"),
        ("cron(00 * ? * * *)", "minute field must be 0"),
        ("rate(1 hour)", "rate() expressions are not supported"),
        ("cron(0 24 ? * * *)", "hour 24 is out of range 0-23"),
        ("cron(0 0/25 ? * * *)", "interval 25 hours is out of range 1-24"),
        ("cron(0 0/0 ? * * *)", "interval 0 hours is out of range 1-24"),
        ("cron(0 24/2 ? * * *)", "starting hour 24 is out of range 0-23"),
        ("cron(0 1-5 ? * * *)", "hour field '1-5'"),
        ("cron(0 1,5 ? * * *)", "hour field '1,5'"),
        ("cron(0 */2 ? * * *)", "hour field '*/2'"),
        ("cron(0 100 ? * * *)", "hour field '100'"),
        ("cron(0 * ? * *)", "6 fields"),
        ("cron(0 * ? * * * *)", "6 fields"),
        ("cron(0 * ? * MON *)", "'? * * *'"),
        ("0 * ? * * *", "neither 'NOW' nor 'cron(...)'"),
        ("CRON(0 * ? * * *)", "neither"),
        ("cron 0 * ? * * *", "neither"),
        ("", "empty"),
        ("   ", "empty"),
        ("cron(0 * ? * * *)" + " " * 240, "257 characters long"),
        ("now", "case-sensitive"),
        ("Now", "case-sensitive"),
        ("NOW NOW", "neither"),
    ],
)
def test_parse_refused_forms(text: str, reason: str) -> None:
    with pytest.raises(InputError) as info:
        ScheduleExpression.parse(text)
    err = info.value
    assert err.field == "ScheduleExpression"
    message = str(err)
    assert reason in message
    for form in ("cron(0 * ? * * *)", "cron(0 H ? * * *)", "cron(0 H/N ? * * *)", "'NOW'"):
        assert form in message
    assert len(message) < 700  # a long expression is shortened in the message


def test_parse_limits_and_types() -> None:
    assert len("cron(0 * ? * * *)" + " " * 239) == 256
    assert ScheduleExpression.parse("cron(0 * ? * * *)" + " " * 239).kind == "hourly"
    with pytest.raises(InputError, match="must be a string"):
        ScheduleExpression.parse(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="inconsistent"):
        ScheduleExpression("daily", 24, 24)
    with pytest.raises(ValueError, match="inconsistent"):
        ScheduleExpression("weekly")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- run times


def brute_force(text: str, after: datetime, until: datetime) -> list[datetime]:
    """Every whole hour in (after, until] whose hour the expression matches, by hand."""
    fields = text[len("cron(") : -1].split()
    hours_field = fields[1]
    if hours_field == "*":
        matches = set(range(24))
    elif "/" in hours_field:
        start, step = (int(x) for x in hours_field.split("/"))
        matches = {h for h in range(24) if h >= start and (h - start) % step == 0}
    else:
        matches = {int(hours_field)}
    out = []
    t = after.replace(minute=0, second=0, microsecond=0)
    while t <= until:
        if t > after and t.hour in matches:
            out.append(t)
        t += timedelta(hours=1)
    return out


@pytest.mark.parametrize(
    "text",
    [
        "cron(0 * ? * * *)",
        "cron(0 0 ? * * *)",
        "cron(0 5 ? * * *)",
        "cron(0 23 ? * * *)",
        "cron(0 0/2 ? * * *)",
        "cron(0 0/5 ? * * *)",
        "cron(0 17/12 ? * * *)",
        "cron(0 3/7 ? * * *)",
        "cron(0 0/1 ? * * *)",
        "cron(0 22/24 ? * * *)",
        "cron(0 1/13 ? * * *)",
    ],
)
@pytest.mark.parametrize(
    ("after", "until"),
    [
        # across a month and a leap day, starting off the hour
        (utc(2020, 2, 27, 21, 30), utc(2020, 3, 2, 4, 0)),
        # across a year boundary, starting exactly on an hour (exclusive)
        (utc(2019, 12, 30, 17, 0), utc(2020, 1, 2, 17, 0)),
        # a window shorter than an hour
        (utc(2020, 6, 1, 4, 59, 59), utc(2020, 6, 1, 5, 0)),
    ],
)
def test_scheduled_times_match_brute_force(text: str, after: datetime, until: datetime) -> None:
    expected = brute_force(text, after, until)
    assert scheduled_times(text, after, until) == expected
    assert scheduled_times(ScheduleExpression.parse(text), after, until) == expected


def test_every_n_hours_follow_aws_cron() -> None:
    day = utc(2020, 1, 1)
    end = utc(2020, 1, 2)
    hours = lambda text: [t.hour for t in scheduled_times(text, day, end) if t.day == 1]  # noqa: E731
    assert hours("cron(0 0/5 ? * * *)") == [5, 10, 15, 20]  # and 0 on the next day
    assert hours("cron(0 17/12 ? * * *)") == [17]
    assert hours("cron(0 0/10 ? * * *)") == [10, 20]  # SDK docstring: midnight, 10am, 8pm
    assert ScheduleExpression.parse("cron(0 0/10 ? * * *)").hours == (0, 10, 20)
    assert ScheduleExpression.parse("cron(0 5/24 ? * * *)").hours == (5,)


def test_next_and_previous_time() -> None:
    hourly = "cron(0 * ? * * *)"
    assert next_time(hourly, utc(2020, 2, 20, 4, 0)) == utc(2020, 2, 20, 5)
    assert next_time(hourly, utc(2020, 2, 20, 4, 59, 59, 999999)) == utc(2020, 2, 20, 5)
    assert next_time(hourly, utc(2020, 12, 31, 23, 0)) == utc(2021, 1, 1, 0)
    assert previous_time(hourly, utc(2020, 2, 20, 5, 0)) == utc(2020, 2, 20, 5)
    assert previous_time(hourly, utc(2020, 2, 20, 5, 0, 1)) == utc(2020, 2, 20, 5)
    daily = "cron(0 5 ? * * *)"
    assert next_time(daily, utc(2020, 2, 20, 5)) == utc(2020, 2, 21, 5)
    assert previous_time(daily, utc(2020, 2, 20, 4, 59)) == utc(2020, 2, 19, 5)
    assert previous_time(daily, utc(2020, 3, 1, 0)) == utc(2020, 2, 29, 5)
    every = "cron(0 17/12 ? * * *)"
    assert next_time(every, utc(2020, 1, 1, 18)) == utc(2020, 1, 2, 17)
    assert previous_time(every, utc(2020, 1, 2, 16)) == utc(2020, 1, 1, 17)
    assert next_time("NOW", utc(2020, 1, 1)) is None
    assert previous_time("NOW", utc(2020, 1, 1)) is None
    assert scheduled_times("NOW", utc(2020, 1, 1), utc(2020, 1, 2)) == []


def test_other_time_zones_are_converted_and_naive_refused() -> None:
    plus2 = timezone(timedelta(hours=2))
    # 06:30+02:00 is 04:30 UTC: the 05:00 UTC run of the same day is next
    t = next_time("cron(0 5 ? * * *)", datetime(2020, 2, 20, 6, 30, tzinfo=plus2))
    assert t == utc(2020, 2, 20, 5)
    assert t.tzinfo is UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        next_time("cron(0 * ? * * *)", datetime(2020, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        scheduled_times("cron(0 * ? * * *)", utc(2020, 1, 1), datetime(2020, 1, 2))
    with pytest.raises(ValueError, match="timezone-aware"):
        format_time(datetime(2020, 1, 1))
    assert scheduled_times("cron(0 * ? * * *)", utc(2020, 1, 2), utc(2020, 1, 1)) == []


# --------------------------------------------------------------------------- downtime


def test_due_runs_hourly_after_five_hours_of_downtime() -> None:
    run_now, skipped = due_runs(
        "cron(0 * ? * * *)", since=utc(2020, 2, 20, 5), now=utc(2020, 2, 20, 10, 7)
    )
    assert run_now == utc(2020, 2, 20, 10)
    assert skipped == [utc(2020, 2, 20, h) for h in (6, 7, 8, 9)]


def test_due_runs_daily_and_nothing_due() -> None:
    daily = "cron(0 5 ? * * *)"
    run_now, skipped = due_runs(daily, since=utc(2020, 2, 17, 5), now=utc(2020, 2, 20, 12))
    assert run_now == utc(2020, 2, 20, 5)
    assert skipped == [utc(2020, 2, 18, 5), utc(2020, 2, 19, 5)]
    # on time: exactly one due, nothing skipped
    assert due_runs(daily, since=utc(2020, 2, 19, 5), now=utc(2020, 2, 20, 5)) == (
        utc(2020, 2, 20, 5),
        [],
    )
    # a new schedule created at 05:30: nothing before creation counts
    assert due_runs(daily, since=utc(2020, 2, 20, 5, 30), now=utc(2020, 2, 21, 4, 59)) == (
        None,
        [],
    )
    assert due_runs("NOW", since=utc(2020, 1, 1), now=utc(2020, 1, 5)) == (None, [])


# --------------------------------------------------------------------------- windows


def test_hourly_window_is_the_previous_hour() -> None:
    start, end = analysis_window("cron(0 * ? * * *)", utc(2020, 2, 20, 5))
    assert (start, end) == (utc(2020, 2, 20, 4), utc(2020, 2, 20, 5))
    assert (format_time(start), format_time(end)) == (
        "2020-02-20T04:00:00Z",
        "2020-02-20T05:00:00Z",
    )


def test_default_window_is_the_period_since_the_previous_run() -> None:
    # daily: 24 h (the DG example's 23-hour window, starting 06:00, is taken as a slip)
    daily = analysis_window("cron(0 5 ? * * *)", utc(2020, 2, 20, 5))
    assert daily == (utc(2020, 2, 19, 5), utc(2020, 2, 20, 5))
    assert analysis_window("cron(0 0/6 ? * * *)", utc(2020, 1, 1, 0)) == (
        utc(2019, 12, 31, 18),
        utc(2020, 1, 1, 0),
    )
    # uneven intervals: the actual gap, so consecutive runs tile the timeline
    assert analysis_window("cron(0 0/5 ? * * *)", utc(2020, 1, 2, 0)) == (
        utc(2020, 1, 1, 20),
        utc(2020, 1, 2, 0),
    )
    assert analysis_window("cron(0 0/5 ? * * *)", utc(2020, 1, 2, 5)) == (
        utc(2020, 1, 2, 0),
        utc(2020, 1, 2, 5),
    )
    assert period_before("cron(0 17/12 ? * * *)", utc(2020, 1, 2, 17)) == timedelta(hours=24)
    # a run started late (off the grid) still gets its slot's length
    assert analysis_window("cron(0 * ? * * *)", utc(2020, 2, 20, 5, 12)) == (
        utc(2020, 2, 20, 4, 12),
        utc(2020, 2, 20, 5, 12),
    )


def test_consecutive_default_windows_tile_the_timeline() -> None:
    for text in ("cron(0 * ? * * *)", "cron(0 3/7 ? * * *)", "cron(0 17/12 ? * * *)"):
        times = scheduled_times(text, utc(2020, 1, 1), utc(2020, 1, 4))
        windows = [analysis_window(text, t) for t in times]
        for (_, end), (start, _) in pairwise(windows):
            assert end == start


def test_model_quality_offsets_shift_the_window() -> None:
    window = analysis_window(
        "cron(0 * ? * * *)", utc(2020, 1, 9, 13), start_offset="-P8D", end_offset="-P1D"
    )
    assert window == (utc(2020, 1, 1, 13), utc(2020, 1, 8, 13))
    # the AWS guide writes days after the T
    assert analysis_window(
        "cron(0 * ? * * *)", utc(2020, 1, 9, 13), start_offset="-PT2D", end_offset="-PT1D"
    ) == (utc(2020, 1, 7, 13), utc(2020, 1, 8, 13))
    # only one offset: the end defaults to the scheduled time, the start to one period before
    assert analysis_window("cron(0 * ? * * *)", utc(2020, 1, 9, 13), start_offset="-PT6H") == (
        utc(2020, 1, 9, 7),
        utc(2020, 1, 9, 13),
    )
    assert analysis_window("cron(0 * ? * * *)", utc(2020, 1, 9, 13), end_offset="-P1D") == (
        utc(2020, 1, 8, 12),
        utc(2020, 1, 8, 13),
    )


@pytest.mark.parametrize(
    ("start", "end", "fragment"),
    [
        ("-P1D", "-P2D", "start before it ends"),
        ("-PT1H", "-PT1H", "start before it ends"),
        ("-PT1H", "PT1H", "end at or before"),
        ("-PT1H", "nonsense", "not an ISO-8601 duration"),
    ],
)
def test_offset_window_errors(start: str, end: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment) as info:
        analysis_window(
            "cron(0 * ? * * *)", utc(2020, 1, 9, 13), start_offset=start, end_offset=end
        )
    assert info.value.field in {"StartTimeOffset/EndTimeOffset", "EndTimeOffset"}


def test_now_window() -> None:
    created = utc(2020, 2, 20, 5, 17, 3)
    assert analysis_window(
        "NOW", created, data_analysis_start="-PT1H", data_analysis_end="-PT0H"
    ) == (utc(2020, 2, 20, 4, 17, 3), created)
    # exactly 24 hours is allowed
    assert analysis_window(
        "NOW", created, data_analysis_start="-P1D", data_analysis_end="-PT0H"
    ) == (created - timedelta(days=1), created)
    assert analysis_window(
        "NOW", created, data_analysis_start="-PT25H", data_analysis_end="-PT1H"
    ) == (created - timedelta(hours=25), created - timedelta(hours=1))
    # the schedule's window wins over the input's offsets
    assert analysis_window(
        "NOW",
        created,
        start_offset="-P8D",
        end_offset="-P1D",
        data_analysis_start="-PT5H",
        data_analysis_end="-PT1H",
    ) == (created - timedelta(hours=5), created - timedelta(hours=1))


@pytest.mark.parametrize(
    ("start", "end", "field", "fragment"),
    [
        (None, None, "DataAnalysisStartTime", "Both data_analysis_start_time and"),
        ("-PT1H", None, "DataAnalysisEndTime", "required for one time monitoring schedule"),
        (None, "-PT0H", "DataAnalysisStartTime", "required for one time monitoring schedule"),
        ("-PT25H", "-PT0H", "DataAnalysisStartTime/DataAnalysisEndTime", "more than 24 hours"),
        ("-P2D", "-PT1H", "DataAnalysisStartTime/DataAnalysisEndTime", "more than 24 hours"),
        ("-PT1H", "-PT2H", "DataAnalysisStartTime/DataAnalysisEndTime", "start before it ends"),
        ("-PT1H", "-PT1H", "DataAnalysisStartTime/DataAnalysisEndTime", "start before it ends"),
        ("-PT1H", "PT1H", "DataAnalysisStartTime/DataAnalysisEndTime", "end at or before"),
        ("-P1M", "-PT0H", "DataAnalysisStartTime", "months are not supported"),
        ("1 hour", "-PT0H", "DataAnalysisStartTime", "not an ISO-8601 duration"),
    ],
)
def test_now_window_errors(start: str | None, end: str | None, field: str, fragment: str) -> None:
    for call in (
        lambda: analysis_window(
            "NOW", utc(2020, 1, 1), data_analysis_start=start, data_analysis_end=end
        ),
        lambda: validate_schedule_config("NOW", start, end),
    ):
        with pytest.raises(InputError, match=fragment) as info:
            call()
        assert info.value.field == field


def test_validate_schedule_config() -> None:
    assert validate_schedule_config("cron(0 * ? * * *)", None, None).kind == "hourly"
    assert validate_schedule_config("NOW", "-PT1H", "-PT0H").kind == "now"
    # with a cron expression the data analysis times are optional, but go together
    assert validate_schedule_config("cron(0 0 ? * * *)", "-PT5H", "-PT1H").kind == "daily"
    assert analysis_window(
        "cron(0 0 ? * * *)",
        utc(2020, 1, 2),
        data_analysis_start="-PT5H",
        data_analysis_end="-PT1H",
    ) == (utc(2020, 1, 1, 19), utc(2020, 1, 1, 23))
    with pytest.raises(InputError, match="give both or neither") as info:
        validate_schedule_config("cron(0 0 ? * * *)", "-PT5H", None)
    assert info.value.field == "DataAnalysisEndTime"
    with pytest.raises(InputError, match="more than 24 hours"):
        validate_schedule_config("cron(0 0 ? * * *)", "-P2D", "-PT0H")
    with pytest.raises(InputError) as info:
        validate_schedule_config("rate(1 day)", None, None)
    assert info.value.field == "ScheduleExpression"


# --------------------------------------------------------------------------- offsets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-PT1H", timedelta(hours=-1)),
        ("-PT0H", timedelta(0)),
        ("PT0H", timedelta(0)),
        ("-P1D", timedelta(days=-1)),
        ("-P2D", timedelta(days=-2)),
        ("-PT5H", timedelta(hours=-5)),
        ("-P8D", timedelta(days=-8)),
        ("-PT30M", timedelta(minutes=-30)),
        ("-PT2D", timedelta(days=-2)),
        ("+PT1H", timedelta(hours=1)),
        ("-P1DT12H", timedelta(days=-1, hours=-12)),
        ("-P1W", timedelta(weeks=-1)),
        ("-PT1H30M15S", -timedelta(hours=1, minutes=30, seconds=15)),
        ("-PT1.5H", timedelta(minutes=-90)),
        ("-PT0,5H", timedelta(minutes=-30)),
        ("-PT90S", timedelta(seconds=-90)),
    ],
)
def test_parse_offset(text: str, expected: timedelta) -> None:
    assert parse_offset(text, "StartTimeOffset") == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "1-15 characters"),
        ("-PT1234567890123H", "1-15 characters"),
        ("-P1M", "months are not supported"),
        ("-P1Y", "months are not supported"),
        ("P1Y2M3D", "months are not supported"),
        ("-P", "not an ISO-8601 duration"),
        ("-PT", "not an ISO-8601 duration"),
        ("-1H", "not an ISO-8601 duration"),
        ("-pt1h", "not an ISO-8601 duration"),
        ("-PT1H ", "not an ISO-8601 duration"),
        ("--PT1H", "not an ISO-8601 duration"),
        ("-PT1X", "not an ISO-8601 duration"),
        ("-P1H", "not an ISO-8601 duration"),
        ("-PT-1H", "not an ISO-8601 duration"),
        ("1 hour", "not an ISO-8601 duration"),
    ],
)
def test_parse_offset_errors(text: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment) as info:
        parse_offset(text, "EndTimeOffset")
    assert info.value.field == "EndTimeOffset"
    assert "-PT1H" in str(info.value)  # shows an example


def test_parse_offset_refuses_non_strings() -> None:
    with pytest.raises(InputError, match="ISO-8601 duration string"):
        parse_offset(3600, "StartTimeOffset")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- formatting


def test_format_time_and_report_hour_path() -> None:
    assert format_time(utc(2020, 2, 20, 5)) == "2020-02-20T05:00:00Z"
    assert format_time(utc(2020, 2, 19, 6, 0, 0, 999)) == "2020-02-19T06:00:00Z"
    plus5 = timezone(timedelta(hours=5))
    assert format_time(datetime(2020, 2, 20, 10, 0, tzinfo=plus5)) == "2020-02-20T05:00:00Z"
    assert report_hour_path(utc(2020, 2, 20, 5)) == "2020/02/20/05"
    assert report_hour_path(utc(2020, 12, 1, 23, 59)) == "2020/12/01/23"


# --------------------------------------------------------------------------- generator


def test_cron_expression_generator_strings() -> None:
    assert CronExpressionGenerator.hourly() == "cron(0 * ? * * *)"
    assert CronExpressionGenerator.daily() == "cron(0 0 ? * * *)"
    assert CronExpressionGenerator.daily(17) == "cron(0 17 ? * * *)"
    assert CronExpressionGenerator.daily_every_x_hours(2) == "cron(0 0/2 ? * * *)"
    assert (
        CronExpressionGenerator.daily_every_x_hours(hour_interval=12, starting_hour=17)
        == "cron(0 17/12 ? * * *)"
    )
    assert CronExpressionGenerator.now() == "NOW"
    for text in (
        CronExpressionGenerator.hourly(),
        CronExpressionGenerator.daily(23),
        CronExpressionGenerator.daily_every_x_hours(24, 23),
        CronExpressionGenerator.now(),
    ):
        assert str(ScheduleExpression.parse(text)) == text


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: CronExpressionGenerator.daily(24), "hour"),
        (lambda: CronExpressionGenerator.daily(-1), "hour"),
        (lambda: CronExpressionGenerator.daily("5"), "hour"),
        (lambda: CronExpressionGenerator.daily(True), "hour"),
        (lambda: CronExpressionGenerator.daily_every_x_hours(0), "hour_interval"),
        (lambda: CronExpressionGenerator.daily_every_x_hours(25), "hour_interval"),
        (lambda: CronExpressionGenerator.daily_every_x_hours(2, 24), "starting_hour"),
        (lambda: CronExpressionGenerator.daily_every_x_hours(2.0), "hour_interval"),
    ],
)
def test_cron_expression_generator_validates(call, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as info:
        call()
    assert info.value.field == field
