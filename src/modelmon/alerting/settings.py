"""Settings of metrics, alarms and notification delivery (``MODELMON_*`` environment).

Kept beside :class:`modelmon.config.Settings` (which says where data lives and
which account the server stands for) so alerting's knobs stay in one place:

* ``MODELMON_DELIVERY_TIMEOUT`` seconds one webhook/SMTP attempt may take (5);
* ``MODELMON_DELIVERY_ATTEMPTS`` attempts before a delivery is ``failed`` (8);
* ``MODELMON_DELIVERY_BACKOFF`` seconds before the second attempt, doubled after
  each failure (1) up to ``MODELMON_DELIVERY_BACKOFF_MAX`` (300);
* ``MODELMON_DELIVERY_CONCURRENCY`` deliveries in flight per server (32);
* ``MODELMON_DELIVERY_POLL`` seconds between looks for due deliveries made by
  other processes (1; a publish in this process wakes the worker at once);
* ``MODELMON_ALARM_INTERVAL`` seconds between evaluations of every alarm for
  missing data (60);
* ``MODELMON_EXECUTION_TOPIC`` a topic ARN that gets every monitoring execution's
  end (off when empty; a schedule's tag ``modelmon:ExecutionTopicArn`` opts that
  schedule in instead);
* ``MODELMON_SMTP_HOST``, ``MODELMON_SMTP_PORT`` (25), ``MODELMON_SMTP_FROM``,
  ``MODELMON_SMTP_USER``, ``MODELMON_SMTP_PASSWORD``, ``MODELMON_SMTP_STARTTLS``
  (off): ``email`` subscriptions are accepted only when a host is set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as err:
        raise ValueError(f"{name}={raw!r} is not a number") from err


def _text(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


@dataclass
class AlertingSettings:
    """Delivery retries, evaluation interval and SMTP (see the module doc)."""

    delivery_timeout: float = field(default_factory=lambda: _number("MODELMON_DELIVERY_TIMEOUT", 5))
    delivery_attempts: int = field(
        default_factory=lambda: int(_number("MODELMON_DELIVERY_ATTEMPTS", 8))
    )
    backoff: float = field(default_factory=lambda: _number("MODELMON_DELIVERY_BACKOFF", 1))
    backoff_max: float = field(
        default_factory=lambda: _number("MODELMON_DELIVERY_BACKOFF_MAX", 300)
    )
    concurrency: int = field(
        default_factory=lambda: int(_number("MODELMON_DELIVERY_CONCURRENCY", 32))
    )
    poll_interval: float = field(default_factory=lambda: _number("MODELMON_DELIVERY_POLL", 1))
    alarm_interval: float = field(default_factory=lambda: _number("MODELMON_ALARM_INTERVAL", 60))
    execution_topic: str = field(default_factory=lambda: _text("MODELMON_EXECUTION_TOPIC"))
    smtp_host: str = field(default_factory=lambda: _text("MODELMON_SMTP_HOST"))
    smtp_port: int = field(default_factory=lambda: int(_number("MODELMON_SMTP_PORT", 25)))
    smtp_from: str = field(
        default_factory=lambda: _text("MODELMON_SMTP_FROM", "modelmon@localhost")
    )
    smtp_user: str = field(default_factory=lambda: _text("MODELMON_SMTP_USER"))
    smtp_password: str = field(default_factory=lambda: os.environ.get("MODELMON_SMTP_PASSWORD", ""))
    smtp_starttls: bool = field(
        default_factory=lambda: (
            _text("MODELMON_SMTP_STARTTLS").lower() in ("1", "on", "true", "yes")
        )
    )

    def __post_init__(self) -> None:
        checks = {
            "MODELMON_DELIVERY_TIMEOUT": self.delivery_timeout > 0,
            "MODELMON_DELIVERY_ATTEMPTS": self.delivery_attempts >= 1,
            "MODELMON_DELIVERY_BACKOFF": self.backoff >= 0,
            "MODELMON_DELIVERY_BACKOFF_MAX": self.backoff_max >= 0,
            "MODELMON_DELIVERY_CONCURRENCY": self.concurrency >= 1,
            "MODELMON_DELIVERY_POLL": self.poll_interval > 0,
            "MODELMON_ALARM_INTERVAL": self.alarm_interval > 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"{bad[0]} is out of range (see modelmon.alerting.settings)")

    @property
    def smtp_configured(self) -> bool:
        """Whether ``email`` subscriptions can be delivered."""
        return bool(self.smtp_host)

    def backoff_after(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failed attempts (exponential, capped)."""
        return min(self.backoff * (2 ** max(attempts - 1, 0)), self.backoff_max)
