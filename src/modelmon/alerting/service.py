"""The alerting components of one process, wired together.

:class:`Alerting` owns the metric store, the topics, the alarms, the delivery
worker and the missing-data evaluator. ``on_finished(execution_id)`` is what the
scheduler calls when an execution's end is recorded: its metric files are
stored, the alarms on the series written are evaluated, and, when the user opted
in, the execution's end is published (see :meth:`Alerting.on_finished`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from modelmon.alerting.alarms import Alarms
from modelmon.alerting.delivery import DeliveryWorker
from modelmon.alerting.metrics import MetricStore, count_violations
from modelmon.alerting.settings import AlertingSettings
from modelmon.alerting.topics import Topics
from modelmon.config import Settings
from modelmon.db import Database
from modelmon.db.models import MonitoringExecutionRow, MonitoringScheduleRow, utcnow

log = logging.getLogger("modelmon.alerting")

EXECUTION_TOPIC_TAG = "modelmon:ExecutionTopicArn"


class Alerting:
    """Metrics, alarms, topics and delivery of one process.

    ``deliver`` False leaves deliveries to another process (``modelmon scheduler``
    records them; the server's worker sends them).
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        alerting: AlertingSettings | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        deliver: bool = True,
    ) -> None:
        self.db = db
        self.settings = settings
        self.config = alerting or AlertingSettings()
        self.clock = clock
        self.worker = DeliveryWorker(db, self.config, clock=clock) if deliver else None
        self.topics = Topics(
            db,
            settings,
            self.config,
            clock=clock,
            on_publish=self.worker.wake if self.worker is not None else None,
        )
        self.metrics = MetricStore(db, settings, clock=clock)
        self.alarms = Alarms(db, settings, self.metrics, self.topics, clock=clock)
        self._stop = threading.Event()
        self._evaluator: threading.Thread | None = None

    # -- what other components call ----------------------------------------------------------

    def publish(
        self,
        topic_arn: str,
        message: str,
        *,
        subject: str | None = None,
        dedupe_key: str | None = None,
    ) -> str:
        """:meth:`Topics.publish` (the callable handed to the async inference workers)."""
        return self.topics.publish(topic_arn, message, subject=subject, dedupe_key=dedupe_key)

    def put_metric_data(self, namespace: Any, metric_data: Any) -> dict[str, Any]:
        """PutMetricData, then evaluate the alarms on the series written."""
        keys = self.metrics.put_metric_data(namespace, metric_data)
        self.alarms.evaluate_series(keys)
        return {}

    def on_finished(self, execution_id: str) -> None:
        """An execution ended: store its metrics, evaluate alarms on them, and publish its
        end to the schedule's tag ``modelmon:ExecutionTopicArn`` (else
        ``MODELMON_EXECUTION_TOPIC``) when one is set. Never raises (logged)."""
        try:
            keys = self.metrics.ingest_execution(execution_id)
            self.alarms.evaluate_series(keys)
        except Exception:
            log.exception("metrics of execution %s could not be stored", execution_id)
        try:
            self._notify_execution(execution_id)
        except Exception:
            log.exception("the end of execution %s could not be published", execution_id)

    def _notify_execution(self, execution_id: str) -> None:
        with self.db.session() as session:
            row = session.get(MonitoringExecutionRow, execution_id)
            if row is None:
                return
            schedule = session.get(MonitoringScheduleRow, row.schedule_name)
            tags = {
                t.get("Key"): t.get("Value")
                for t in (schedule.tags if schedule is not None else []) or []
                if isinstance(t, dict)
            }
            topic = tags.get(EXECUTION_TOPIC_TAG) or self.config.execution_topic
            if not topic:
                return
            body = {
                "eventSource": "modelmon",
                "eventName": "MonitoringExecutionEnded",
                "MonitoringScheduleName": row.schedule_name,
                "MonitoringExecutionId": row.id,
                "MonitoringExecutionArn": row.arn,
                "MonitoringExecutionStatus": row.status,
                "MonitoringType": row.monitoring_type,
                "EndpointName": row.endpoint_name,
                "ScheduledTime": row.scheduled_time.isoformat(),
                "EndTime": row.end_time.isoformat() if row.end_time else None,
                "FailureReason": row.failure_reason,
                "ReportUri": row.report_uri,
                "Violations": count_violations(row.report_uri, row.status)
                if row.status in ("Completed", "CompletedWithViolations")
                else None,
            }
            subject = f"{row.status}: monitoring execution of {row.schedule_name}"[:100]
        self.topics.publish(
            topic, json.dumps(body), subject=subject, dedupe_key=f"execution:{execution_id}"
        )

    # -- monitoring alerts (the AWS JSON operations call these) -----------------------------

    def list_monitoring_alerts(self, **kwargs: Any) -> dict[str, Any]:
        """ListMonitoringAlerts."""
        return self.alarms.list_monitoring_alerts(**kwargs)

    def update_monitoring_alert(self, **kwargs: Any) -> dict[str, Any]:
        """UpdateMonitoringAlert."""
        return self.alarms.update_monitoring_alert(**kwargs)

    def list_monitoring_alert_history(self, **kwargs: Any) -> dict[str, Any]:
        """ListMonitoringAlertHistory."""
        return self.alarms.list_monitoring_alert_history(**kwargs)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the delivery worker and the periodic (missing data) alarm evaluation."""
        if self.worker is not None:
            self.worker.start()
        self._stop.clear()
        self._evaluator = threading.Thread(
            target=self._evaluate_forever, name="modelmon-alarms", daemon=True
        )
        self._evaluator.start()

    def _evaluate_forever(self) -> None:
        while not self._stop.wait(self.config.alarm_interval):
            try:
                self.alarms.evaluate_all()
            except Exception:  # the next round retries
                log.warning("evaluating alarms failed", exc_info=True)

    def stop(self, grace: float = 5.0) -> None:
        """Stop evaluating; give deliveries in flight ``grace`` seconds, release the rest."""
        self._stop.set()
        if self._evaluator is not None:
            self._evaluator.join(10)
        if self.worker is not None:
            self.worker.stop(grace)
