"""Metric series, Prometheus exposition, alert rules and notification topics (issue 5)."""

from modelmon.alerting.alarms import Alarms
from modelmon.alerting.delivery import DeliveryWorker
from modelmon.alerting.metrics import MetricStore
from modelmon.alerting.prometheus import Exposition
from modelmon.alerting.service import Alerting
from modelmon.alerting.settings import AlertingSettings
from modelmon.alerting.topics import Topics

__all__ = [
    "Alarms",
    "Alerting",
    "AlertingSettings",
    "DeliveryWorker",
    "Exposition",
    "MetricStore",
    "Topics",
]
