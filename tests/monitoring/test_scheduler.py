"""The scheduler on a real SQLite database, driven through an injected clock (no sleeps for
time to pass): runs fire on the hour, missed runs are skipped, two schedulers share the work,
crashes are recovered. The runner is a stand-in recording what it was asked to run."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from modelmon.db import Database
from modelmon.db.models import MonitoringExecutionRow
from modelmon.errors import ConflictError, InputError
from modelmon.monitoring.registry import Monitoring
from modelmon.monitoring.runner import ExecutionResult, ExecutionSpec
from modelmon.monitoring.scheduler import SCHEDULER_STOPPED, Scheduler
from modelmon.monitoring.shapes import (
    CreateMonitoringScheduleRequest,
    UpdateMonitoringScheduleRequest,
)
from modelmon.serving.registry import Hosting
from modelmon.serving.shapes import (
    parse,
)

UTC = dt.UTC
ENDPOINT = "churn"
CAPTURE = "s3://bucket/capture"


class Clock:
    """A settable time source."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self.now

    def set(self, *args: int) -> None:
        with self._lock:
            self.now = dt.datetime(*args, tzinfo=UTC)


class FakeRunner:
    """Records each spec; ends it ``status`` at once, or when released (``block``)."""

    def __init__(self, status: str = "Completed", *, block: bool = False) -> None:
        self.status = status
        self.block = block
        self.release = threading.Event()
        self.specs: list[ExecutionSpec] = []
        self.started = threading.Semaphore(0)
        self._lock = threading.Lock()

    def run(self, spec: ExecutionSpec, stop: threading.Event | None = None) -> ExecutionResult:
        with self._lock:
            self.specs.append(spec)
        self.started.release()
        status, reason = self.status, None
        if self.block:
            assert stop is not None
            while not self.release.is_set():
                if stop.wait(0.01):
                    status, reason = "Stopped", "Stopped by the user"
                    break
        spec.work_dir.mkdir(parents=True, exist_ok=True)
        log = spec.work_dir / "log.txt"
        log.write_text(f"ran {spec.execution_id}\n")
        now = dt.datetime.now(UTC)
        return ExecutionResult(
            status=status,
            failure_reason=reason,
            exit_message=f"{status}: done",
            report_uri=f"s3://bucket/reports/{spec.schedule_name}/"
            if status != "Stopped"
            else None,
            log_path=log,
            started_at=now,
            ended_at=now,
        )


@pytest.fixture
def world(tmp_path: Path, capturing_endpoint: Any) -> Iterator[dict[str, Any]]:
    """Settings, a database, an endpoint with data capture and a baseline file."""
    settings, db, hosting = capturing_endpoint
    constraints = tmp_path / "objects" / "bucket" / "baseline" / "constraints.json"
    constraints.parent.mkdir(parents=True)
    constraints.write_text(json.dumps({"version": 0.0, "features": []}))
    yield {"settings": settings, "db": db, "hosting": hosting}


def make_monitoring(world: dict[str, Any], clock: Clock) -> Monitoring:
    return Monitoring(world["db"], world["settings"], world["hosting"], clock=clock)


def make_scheduler(
    world: dict[str, Any],
    clock: Clock,
    runner: FakeRunner,
    *,
    db: Database | None = None,
    max_concurrent: int = 2,
) -> Scheduler:
    db = db or world["db"]
    monitoring = Monitoring(db, world["settings"], Hosting(db, world["settings"]), clock=clock)
    return Scheduler(
        db, world["settings"], monitoring, runner, clock=clock, max_concurrent=max_concurrent
    )


def schedule_request(name: str, expression: str = "cron(0 * ? * * *)", **config: Any) -> Any:
    schedule: dict[str, Any] = {"ScheduleExpression": expression}
    for key in ("DataAnalysisStartTime", "DataAnalysisEndTime"):
        if key in config:
            schedule[key] = config.pop(key)
    return parse(
        CreateMonitoringScheduleRequest,
        {
            "MonitoringScheduleName": name,
            "MonitoringScheduleConfig": {
                "ScheduleConfig": schedule,
                "MonitoringJobDefinition": {
                    "BaselineConfig": {
                        "ConstraintsResource": {"S3Uri": "s3://bucket/baseline/constraints.json"}
                    },
                    "MonitoringInputs": [{"EndpointInput": {"EndpointName": ENDPOINT}}],
                    "MonitoringOutputConfig": {
                        "MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://bucket/reports"}}]
                    },
                    "MonitoringAppSpecification": {"ImageUri": "modelmon"},
                    "StoppingCondition": {"MaxRuntimeInSeconds": 600},
                },
                **config,
            },
        },
    )


def executions(db: Database, schedule: str | None = None) -> list[MonitoringExecutionRow]:
    with db.session() as session:
        query = select(MonitoringExecutionRow).order_by(MonitoringExecutionRow.scheduled_time)
        if schedule:
            query = query.where(MonitoringExecutionRow.schedule_name == schedule)
        return list(session.scalars(query))


def settle(scheduler: Scheduler, timeout: float = 10.0) -> None:
    """Wait until the executions this scheduler started have ended."""
    deadline = time.monotonic() + timeout
    while scheduler.running():
        assert time.monotonic() < deadline, "executions did not end"
        time.sleep(0.01)


# -- firing on time -------------------------------------------------------------------------


def test_an_hourly_schedule_fires_at_the_top_of_the_hour(world) -> None:
    clock = Clock(dt.datetime(2024, 3, 1, 4, 30, tzinfo=UTC))
    monitoring = make_monitoring(world, clock)
    runner = FakeRunner()
    scheduler = make_scheduler(world, clock, runner)
    monitoring.create_monitoring_schedule(schedule_request("hourly"))
    assert (
        monitoring.describe_monitoring_schedule("hourly")["MonitoringScheduleStatus"] == "Pending"
    )

    clock.set(2024, 3, 1, 4, 59, 59)
    scheduler.tick()
    assert executions(world["db"]) == []
    described = monitoring.describe_monitoring_schedule("hourly")
    assert described["MonitoringScheduleStatus"] == "Scheduled"
    assert "LastMonitoringExecutionSummary" not in described

    clock.set(2024, 3, 1, 5, 0, 0)
    scheduler.tick()
    settle(scheduler)
    (run,) = executions(world["db"])
    assert run.scheduled_time == dt.datetime(2024, 3, 1, 5, tzinfo=UTC)
    assert (run.window_start, run.window_end) == (
        dt.datetime(2024, 3, 1, 4, tzinfo=UTC),
        dt.datetime(2024, 3, 1, 5, tzinfo=UTC),
    )
    (spec,) = runner.specs
    assert spec.execution_id == run.id
    assert spec.window_start == dt.datetime(2024, 3, 1, 4, tzinfo=UTC)
    assert spec.capture_destination == CAPTURE
    assert spec.work_dir == world["settings"].executions_dir / run.id
    assert spec.job_definition["MonitoringInputs"][0]["EndpointInput"]["EndpointName"] == ENDPOINT
    assert run.status == "Completed"
    assert run.report_uri == "s3://bucket/reports/hourly/"

    summary = monitoring.describe_monitoring_schedule("hourly")["LastMonitoringExecutionSummary"]
    assert summary["MonitoringExecutionStatus"] == "Completed"
    assert summary["ScheduledTime"] == dt.datetime(2024, 3, 1, 5, tzinfo=UTC)
    assert summary["ProcessingJobArn"].endswith(f":processing-job/{run.id}")
    assert summary["EndpointName"] == ENDPOINT
    assert summary["MonitoringType"] == "DataQuality"
    assert monitoring.execution_logs(run.id) == f"ran {run.id}\n"
    described = monitoring.describe_monitoring_execution(run.id)
    assert described["WindowStart"] == dt.datetime(2024, 3, 1, 4, tzinfo=UTC)
    assert described["ReportUri"] == "s3://bucket/reports/hourly/"
    assert described["LogUri"].endswith("log.txt")

    clock.set(2024, 3, 1, 5, 30)  # nothing more until 06:00
    scheduler.tick()
    assert len(executions(world["db"])) == 1
    clock.set(2024, 3, 1, 6, 0, 0, 1)
    scheduler.tick()
    settle(scheduler)
    assert [r.scheduled_time.hour for r in executions(world["db"])] == [5, 6]


def test_after_downtime_the_latest_missed_run_runs_and_the_others_are_skipped(world) -> None:
    clock = Clock(dt.datetime(2024, 3, 1, 4, 30, tzinfo=UTC))
    monitoring = make_monitoring(world, clock)
    runner = FakeRunner()
    monitoring.create_monitoring_schedule(schedule_request("hourly"))
    clock.set(2024, 3, 1, 7, 10)  # no scheduler ran at 05:00 and 06:00
    scheduler = make_scheduler(world, clock, runner)
    scheduler.tick()
    settle(scheduler)
    rows = executions(world["db"])
    assert [(r.scheduled_time.hour, r.status, r.skipped) for r in rows] == [
        (5, "Failed", True),
        (6, "Failed", True),
        (7, "Completed", False),
    ]
    assert rows[0].failure_reason.startswith("Skipped: the scheduler was not running at ")
    assert "2024-03-01T07:00:00Z" in rows[0].failure_reason
    assert (rows[2].window_start.hour, rows[2].window_end.hour) == (6, 7)
    assert len(runner.specs) == 1
    skipped = monitoring.list_monitoring_executions(
        monitoring_schedule_name="hourly", status_equals="Failed", sort_by="ScheduledTime"
    )["MonitoringExecutionSummaries"]
    assert [s["ScheduledTime"].hour for s in skipped] == [6, 5]
    assert all("ProcessingJobArn" not in s for s in skipped)
    clock.set(2024, 3, 1, 7, 20)
    scheduler.tick()
    assert len(executions(world["db"])) == 3


def test_a_now_schedule_runs_once_over_its_window(world) -> None:
    clock = Clock(dt.datetime(2024, 3, 1, 4, 30, 15, tzinfo=UTC))
    monitoring = make_monitoring(world, clock)
    runner = FakeRunner("CompletedWithViolations")
    request = schedule_request(
        "once", "NOW", DataAnalysisStartTime="-PT1H", DataAnalysisEndTime="-PT0H"
    )
    monitoring.create_monitoring_schedule(request)
    (pending,) = executions(world["db"])  # recorded at creation, before any scheduler runs
    assert pending.status == "Pending"
    assert pending.scheduled_time == clock.now
    assert pending.window_start == clock.now - dt.timedelta(hours=1)
    scheduler = make_scheduler(world, clock, runner)
    for minutes in (0, 1, 120):
        clock.now = dt.datetime(2024, 3, 1, 4, 30, 15, tzinfo=UTC) + dt.timedelta(minutes=minutes)
        scheduler.tick()
        settle(scheduler)
    (run,) = executions(world["db"])
    assert run.status == "CompletedWithViolations"
    assert len(runner.specs) == 1
    assert runner.specs[0].window_end == dt.datetime(2024, 3, 1, 4, 30, 15, tzinfo=UTC)


def test_a_now_run_starts_at_the_next_whole_second_and_updates_never_collide(world) -> None:
    """Captured records carry whole-second times: a NOW run created at 04:30:15.4 analyzes
    up to 04:30:16, so the records of second 15 are in; updated again within that second,
    the next run is a second later (not a duplicate run time)."""
    clock = Clock(dt.datetime(2024, 3, 1, 4, 30, 15, 400000, tzinfo=UTC))
    monitoring = make_monitoring(world, clock)
    request = schedule_request(
        "twice", "NOW", DataAnalysisStartTime="-PT1H", DataAnalysisEndTime="-PT0H"
    )
    monitoring.create_monitoring_schedule(request)
    clock.now = dt.datetime(2024, 3, 1, 4, 30, 15, 900000, tzinfo=UTC)
    update = parse(
        UpdateMonitoringScheduleRequest,
        {
            "MonitoringScheduleName": "twice",
            "MonitoringScheduleConfig": request.MonitoringScheduleConfig.model_dump(
                mode="json", exclude_none=True
            ),
        },
    )
    monitoring.update_monitoring_schedule(update)
    times = sorted(e.scheduled_time for e in executions(world["db"]))
    assert times == [
        dt.datetime(2024, 3, 1, 4, 30, 16, tzinfo=UTC),
        dt.datetime(2024, 3, 1, 4, 30, 17, tzinfo=UTC),
    ]


def test_stop_and_start_a_schedule(world) -> None:
    clock = Clock(dt.datetime(2024, 3, 1, 4, 30, tzinfo=UTC))
    monitoring = make_monitoring(world, clock)
    scheduler = make_scheduler(world, clock, FakeRunner())
    monitoring.create_monitoring_schedule(schedule_request("hourly"))
    monitoring.stop_monitoring_schedule("hourly")
    clock.set(2024, 3, 1, 5, 0, 1)
    scheduler.tick()
    assert executions(world["db"]) == []
    assert (
        monitoring.describe_monitoring_schedule("hourly")["MonitoringScheduleStatus"] == "Stopped"
    )
    clock.set(2024, 3, 1, 6, 30)
    monitoring.start_monitoring_schedule("hourly")
    scheduler.tick()  # the runs missed while stopped are not made up
    assert executions(world["db"]) == []
    clock.set(2024, 3, 1, 7)
    scheduler.tick()
    settle(scheduler)
    assert [(r.scheduled_time.hour, r.status) for r in executions(world["db"])] == [
        (7, "Completed")
    ]


# -- two schedulers, one database -------------------------------------------------------------


def test_two_schedulers_on_one_database_start_each_run_once(world) -> None:
    clock = Clock(dt.datetime(2024, 3, 1, 0, 30, tzinfo=UTC))
    monitoring = make_monitoring(world, clock)
    names = [f"s{i}" for i in range(4)]
    for name in names:
        monitoring.create_monitoring_schedule(schedule_request(name))
    runners = [FakeRunner(), FakeRunner()]
    # two processes, as far as the database can tell: an engine each
    databases = [Database(world["settings"].database_url) for _ in runners]
    schedulers = [
        make_scheduler(world, clock, runner, db=db, max_concurrent=3)
        for runner, db in zip(runners, databases, strict=True)
    ]
    assert schedulers[0].instance_id != schedulers[1].instance_id
    errors: list[BaseException] = []
    try:
        for hour in range(1, 7):
            clock.set(2024, 3, 1, hour, 0, 0)
            for _ in range(3):  # a few rounds: claims, then the runs left for a free slot
                barrier = threading.Barrier(len(schedulers))

                def tick(scheduler: Scheduler, barrier: threading.Barrier = barrier) -> None:
                    try:
                        barrier.wait()
                        scheduler.tick()
                    except BaseException as err:  # surfaced below
                        errors.append(err)

                threads = [threading.Thread(target=tick, args=(s,)) for s in schedulers]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                assert errors == []
                for scheduler in schedulers:
                    settle(scheduler)
    finally:
        for db in databases:
            db.dispose()
    rows = executions(world["db"])
    runs = sorted((r.schedule_name, r.scheduled_time.hour) for r in rows)
    assert runs == sorted((name, hour) for name in names for hour in range(1, 7))
    assert all(r.status == "Completed" and not r.skipped for r in rows)
    started = [spec.execution_id for runner in runners for spec in runner.specs]
    assert sorted(started) == sorted(r.id for r in rows)  # each run started exactly once
    assert all(runner.specs for runner in runners), "both schedulers took a share"


# -- stopping, concurrency, crashes ----------------------------------------------------------


def test_stop_an_execution_and_the_concurrency_bound(world) -> None:
    clock = Clock(dt.datetime(2024, 3, 1, 4, 30, tzinfo=UTC))
    monitoring = make_monitoring(world, clock)
    runner = FakeRunner(block=True)
    scheduler = make_scheduler(world, clock, runner, max_concurrent=2)
    for name in ("a", "b", "c"):
        monitoring.create_monitoring_schedule(
            schedule_request(
                name, "NOW", DataAnalysisStartTime="-PT1H", DataAnalysisEndTime="-PT0H"
            )
        )
        clock.now += dt.timedelta(seconds=1)
    scheduler.tick()
    for _ in range(2):
        assert runner.started.acquire(timeout=5)
    statuses = {r.schedule_name: r.status for r in executions(world["db"])}
    assert statuses == {"a": "InProgress", "b": "InProgress", "c": "Pending"}
    first = next(r for r in executions(world["db"]) if r.schedule_name == "a")
    monitoring.stop_monitoring_execution(first.id)
    assert monitoring.describe_monitoring_execution(first.id)["MonitoringExecutionStatus"] == (
        "Stopping"
    )
    scheduler.tick()  # the heartbeat sees Stopping and stops the runner
    deadline = time.monotonic() + 5
    while len(scheduler.running()) > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    scheduler.tick()  # a slot is free: c starts
    assert runner.started.acquire(timeout=5)
    runner.release.set()
    settle(scheduler)
    statuses = {r.schedule_name: r.status for r in executions(world["db"])}
    assert statuses == {"a": "Stopped", "b": "Completed", "c": "Completed"}
    monitoring.stop_monitoring_execution(first.id)  # already Stopped: nothing to do
    completed = next(r.id for r in executions(world["db"]) if r.schedule_name == "b")
    with pytest.raises(ConflictError, match="only a Pending or InProgress"):
        monitoring.stop_monitoring_execution(completed)


def test_shutdown_fails_what_still_runs(world) -> None:
    clock = Clock(dt.datetime(2024, 3, 1, 4, 30, tzinfo=UTC))
    monitoring = make_monitoring(world, clock)
    runner = FakeRunner(block=True)
    scheduler = make_scheduler(world, clock, runner)
    monitoring.create_monitoring_schedule(
        schedule_request("once", "NOW", DataAnalysisStartTime="-PT1H", DataAnalysisEndTime="-PT0H")
    )
    scheduler.tick()
    assert runner.started.acquire(timeout=5)
    scheduler.shutdown(grace=0.1)
    (run,) = executions(world["db"])
    assert (run.status, run.failure_reason) == ("Failed", SCHEDULER_STOPPED)


def test_executions_left_running_by_a_crash_are_failed(world) -> None:
    clock = Clock(dt.datetime(2024, 3, 1, 4, 30, tzinfo=UTC))
    monitoring = make_monitoring(world, clock)
    for name in ("dead", "expired", "alive"):
        monitoring.create_monitoring_schedule(
            schedule_request(
                name, "NOW", DataAnalysisStartTime="-PT1H", DataAnalysisEndTime="-PT0H"
            )
        )
    exited = subprocess.Popen(["true"])
    exited.wait()
    host = socket.gethostname()
    owners = {
        # a process of this host that no longer exists: failed at once, whatever its lease
        "dead": (f"{host}:{exited.pid}:cafe0001", clock.now + dt.timedelta(minutes=5)),
        # another host whose lease ran out
        "expired": ("elsewhere:1:cafe0002", clock.now - dt.timedelta(seconds=1)),
        # another host still renewing its lease
        "alive": ("elsewhere:2:cafe0003", clock.now + dt.timedelta(seconds=20)),
    }
    with world["db"].session() as session:
        for row in session.scalars(select(MonitoringExecutionRow)):
            row.owner, row.lease_expires_at = owners[row.schedule_name]
            row.status = "InProgress"
            row.start_time = clock.now
    runner = FakeRunner()
    scheduler = make_scheduler(world, clock, runner)
    scheduler.tick()
    rows = {r.schedule_name: r for r in executions(world["db"])}
    assert (rows["dead"].status, rows["dead"].failure_reason) == ("Failed", SCHEDULER_STOPPED)
    assert (rows["expired"].status, rows["expired"].failure_reason) == (
        "Failed",
        SCHEDULER_STOPPED,
    )
    assert rows["alive"].status == "InProgress"
    assert runner.specs == []


def test_a_pending_run_of_a_vanished_scheduler_is_taken_over(world) -> None:
    clock = Clock(dt.datetime(2024, 3, 1, 4, 30, tzinfo=UTC))
    monitoring = make_monitoring(world, clock)
    monitoring.create_monitoring_schedule(schedule_request("hourly"))
    clock.set(2024, 3, 1, 5)
    first = make_scheduler(world, clock, FakeRunner(), max_concurrent=1)
    first._closing.set()  # records the run, then "dies" before starting it
    first.tick()
    (run,) = executions(world["db"])
    assert (run.status, run.owner) == ("Pending", first.instance_id)
    runner = FakeRunner()
    second = make_scheduler(world, clock, runner)
    second.tick()
    assert runner.specs == []  # the first one's lease holds
    clock.set(2024, 3, 1, 5, 1)
    second.tick()
    settle(second)
    (run,) = executions(world["db"])
    assert (run.status, run.owner) == ("Completed", second.instance_id)


def test_an_execution_whose_endpoint_was_deleted_fails_with_the_reason(world) -> None:
    clock = Clock(dt.datetime(2024, 3, 1, 4, 30, tzinfo=UTC))
    monitoring = make_monitoring(world, clock)
    monitoring.create_monitoring_schedule(schedule_request("hourly"))
    world["hosting"].delete_endpoint(ENDPOINT)
    clock.set(2024, 3, 1, 5)
    runner = FakeRunner()
    scheduler = make_scheduler(world, clock, runner)
    scheduler.tick()
    (run,) = executions(world["db"])
    assert run.status == "Failed"
    assert "Could not find endpoint" in run.failure_reason
    assert runner.specs == []


def test_deleting_a_schedule_stops_its_executions_and_keeps_the_history(world) -> None:
    clock = Clock(dt.datetime(2024, 3, 1, 4, 30, tzinfo=UTC))
    monitoring = make_monitoring(world, clock)
    runner = FakeRunner(block=True)
    scheduler = make_scheduler(world, clock, runner)
    monitoring.create_monitoring_schedule(
        schedule_request("once", "NOW", DataAnalysisStartTime="-PT1H", DataAnalysisEndTime="-PT0H")
    )
    scheduler.tick()
    assert runner.started.acquire(timeout=5)
    monitoring.delete_monitoring_schedule("once")
    scheduler.tick()
    settle(scheduler)
    (run,) = executions(world["db"])
    assert run.status == "Stopped"
    listed = monitoring.list_monitoring_executions(monitoring_schedule_name="once")
    assert [s["MonitoringExecutionStatus"] for s in listed["MonitoringExecutionSummaries"]] == [
        "Stopped"
    ]


def test_validation_names_the_field(world) -> None:
    monitoring = make_monitoring(world, Clock(dt.datetime(2024, 3, 1, tzinfo=UTC)))
    with pytest.raises(InputError) as caught:
        monitoring.create_monitoring_schedule(schedule_request("x", "cron(5 * ? * * *)"))
    assert caught.value.field == "MonitoringScheduleConfig.ScheduleConfig.ScheduleExpression"
    with pytest.raises(InputError) as caught:
        monitoring.create_monitoring_schedule(schedule_request("x", "NOW"))
    assert caught.value.field == "MonitoringScheduleConfig.ScheduleConfig.DataAnalysisStartTime"
