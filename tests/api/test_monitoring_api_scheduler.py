"""``modelmon scheduler`` as its own process beside a server that does not schedule:
it runs the executions, a kill -9 leaves one InProgress that the next scheduler fails at once,
and SIGTERM ends it cleanly."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from modelmon.monitoring.scheduler import SCHEDULER_STOPPED
from modelmon.sdk import Session

ENDED = ("Completed", "CompletedWithViolations", "Failed", "Stopped")


def _batch_capture(objects: Path) -> None:
    """A batch transform's capture manifest for this hour, listing one CSV file."""
    data = objects / "bucket" / "transform-input" / "part-0.csv"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("1.0,2.0\n3.0,4.0\n")
    hour = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d/%H")
    manifest = objects / "bucket" / "transform-capture" / "input" / hour / "job.manifest"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps([{"prefix": "s3://bucket/transform-input/"}, "part-0.csv"]))


def _schedule(name: str, command: list[str], max_runtime: int = 600) -> dict[str, Any]:
    """A NOW schedule over the batch capture, whose analyzer is ``command``."""
    return {
        "MonitoringScheduleName": name,
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT1H",
                "DataAnalysisEndTime": "-PT0H",
            },
            "MonitoringJobDefinition": {
                "MonitoringInputs": [
                    {
                        "BatchTransformInput": {
                            "DataCapturedDestinationS3Uri": "s3://bucket/transform-capture",
                            "DatasetFormat": {"Csv": {"Header": False}},
                        }
                    }
                ],
                "MonitoringOutputConfig": {
                    "MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://bucket/reports"}}]
                },
                "MonitoringAppSpecification": {
                    "ImageUri": "example.com/custom-analyzer:1",
                    "ContainerEntrypoint": command,
                },
                "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
            },
        },
    }


def _scheduler(data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "modelmon.cli", "scheduler", "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if k != "MODELMON_OBJECT_ROOT"},
        )


def _execution(session: Session, schedule: str) -> dict[str, Any]:
    (summary,) = session.call(
        "GET", "/api/monitoring-executions", params={"MonitoringScheduleName": schedule}
    )["MonitoringExecutionSummaries"]
    return summary


def _wait(session: Session, schedule: str, statuses: tuple[str, ...]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        summary = _execution(session, schedule)
        if summary["MonitoringExecutionStatus"] in statuses:
            return summary
        assert time.monotonic() < deadline, summary
        time.sleep(0.1)


def test_a_standalone_scheduler_runs_recovers_and_stops(start_server, tmp_path) -> None:
    server = start_server("srv", env={"MODELMON_SCHEDULER": "off"})
    _batch_capture(server.objects)
    log = tmp_path / "scheduler.log"
    with Session(server.url) as session:
        session.call("POST", "/api/monitoring-schedules", json=_schedule("slow", ["sleep", "5"]))
        time.sleep(1.5)  # the server schedules nothing itself
        assert _execution(session, "slow")["MonitoringExecutionStatus"] == "Pending"
        described = session.call("GET", "/api/monitoring-schedules/slow")
        assert described["MonitoringScheduleStatus"] == "Pending"

        first = _scheduler(server.data_dir, log)
        try:
            _wait(session, "slow", ("InProgress",))
        finally:
            first.kill()  # kill -9 with the execution running
            first.wait(10)
        assert _execution(session, "slow")["MonitoringExecutionStatus"] == "InProgress"

        second = _scheduler(server.data_dir, log)
        try:
            failed = _wait(session, "slow", ENDED)
            assert failed["MonitoringExecutionStatus"] == "Failed"
            assert failed["FailureReason"] == SCHEDULER_STOPPED

            session.call("POST", "/api/monitoring-schedules", json=_schedule("quick", ["true"]))
            done = _wait(session, "quick", ENDED)
            assert done["MonitoringExecutionStatus"] == "Completed", done
            execution = session.call(
                "GET", f"/api/monitoring-executions/{done['MonitoringExecutionId']}"
            )
            assert execution["LogUri"].startswith(str(server.data_dir / "executions"))
            logs = session.http.get(
                f"/api/monitoring-executions/{done['MonitoringExecutionId']}/logs"
            ).text
            assert "staged 1 file(s) of the batch transform input manifests" in logs
            assert (
                session.call("GET", "/api/monitoring-schedules/quick")["MonitoringScheduleStatus"]
                == "Scheduled"
            )

            # MaxRuntimeInSeconds exceeded: Stopped, with the reason
            session.call(
                "POST",
                "/api/monitoring-schedules",
                json=_schedule("limited", ["sleep", "30"], max_runtime=1),
            )
            limited = _wait(session, "limited", ENDED)
            assert limited["MonitoringExecutionStatus"] == "Stopped", limited
            assert "MaxRuntimeInSeconds" in limited["FailureReason"]

            # stopped by the user through the server, run by this other process
            session.call(
                "POST", "/api/monitoring-schedules", json=_schedule("long", ["sleep", "30"])
            )
            running = _wait(session, "long", ("InProgress",))
            stopping = session.call(
                "POST", f"/api/monitoring-executions/{running['MonitoringExecutionId']}/stop"
            )
            assert stopping["MonitoringExecutionStatus"] in ("Stopping", "Stopped")
            stopped = _wait(session, "long", ENDED)
            assert stopped["MonitoringExecutionStatus"] == "Stopped", stopped
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0, log.read_text()
    text = log.read_text()
    assert "scheduler" in text and "stopped" in text, text
