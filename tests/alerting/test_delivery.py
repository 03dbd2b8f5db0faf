"""Notification delivery to real HTTP receivers on loopback (and a real SMTP exchange):
one delivery per alarm transition in SNS's shape with a verifiable signature, retries with
backoff, a hanging receiver that stalls nothing else, deduplicated publishes."""

from __future__ import annotations

import hashlib
import hmac
import json
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelmon.alerting import Alerting, AlertingSettings, DeliveryWorker
from modelmon.config import Settings
from modelmon.db import Database

NS = "custom/app"
DIMS = [{"Name": "Endpoint", "Value": "churn"}]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Any) -> Iterator[dict[str, Any]]:
    """Alarms on the test's clock; a delivery worker on real time (retries come due)."""
    monkeypatch.delenv("MODELMON_DATABASE_URL", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    db = Database(settings.database_url)
    config = AlertingSettings(
        delivery_timeout=1.0, backoff=0.05, backoff_max=0.2, delivery_attempts=4, poll_interval=0.1
    )
    alerting = Alerting(db, settings, config, clock=clock, deliver=False)
    worker = DeliveryWorker(db, config)
    alerting.topics.on_publish = worker.wake
    worker.start()
    yield {"alerting": alerting, "worker": worker, "db": db}
    worker.stop(1.0)
    db.dispose()


def test_one_signed_sns_notification_per_transition(world, receiver, clock, wait_until) -> None:
    alerting: Alerting = world["alerting"]
    topic = alerting.topics.create_topic("alarms")["TopicArn"]
    alerting.topics.subscribe(topic, "http", receiver.url, secret="s3cret")
    alerting.alarms.put_metric_alarm(
        {
            "AlarmName": "slow",
            "Namespace": NS,
            "MetricName": "latency",
            "Dimensions": DIMS,
            "Statistic": "Average",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 100,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [topic],
            "OKActions": [topic],
        }
    )
    states = []
    for value in (120, 130, 20, 30, 140):  # ALARM, (ALARM), OK, (OK), ALARM
        alerting.put_metric_data(
            NS, [{"MetricName": "latency", "Dimensions": DIMS, "Value": value}]
        )
        states.append(alerting.alarms.describe_alarm("slow")["StateValue"])
        clock.advance(60)
    assert states == ["ALARM", "ALARM", "OK", "OK", "ALARM"]
    got = receiver.wait_for(3)
    alerting.alarms.evaluate_all()  # nothing new: no more deliveries
    deliveries = world["worker"]
    wait_until(lambda: deliveries.counters()["delivered"] == 3, message="3 delivered")
    assert len(receiver.received()) == 3
    documents = sorted(
        (d.document for d in got), key=lambda d: json.loads(d["Message"])["StateChangeTime"]
    )
    assert [json.loads(d["Message"])["NewStateValue"] for d in documents] == [
        "ALARM",
        "OK",
        "ALARM",
    ]
    first = documents[0]
    assert first["Type"] == "Notification"
    assert first["TopicArn"] == topic
    assert first["Subject"] == 'ALARM: "slow" in us-east-1'
    message = json.loads(first["Message"])
    assert message["AlarmName"] == "slow" and message["OldStateValue"] == "INSUFFICIENT_DATA"
    assert message["Trigger"]["MetricName"] == "latency"
    for delivery in got:
        headers = delivery.headers
        assert headers["x-amz-sns-message-type"] == "Notification"
        assert headers["x-amz-sns-message-id"] == delivery.document["MessageId"]
        assert headers["x-amz-sns-topic-arn"] == topic
        expected = hmac.new(b"s3cret", delivery.body, hashlib.sha256).hexdigest()
        assert headers["x-modelmon-signature"] == f"sha256={expected}"
    assert len({d.document["MessageId"] for d in got}) == 3


def test_a_receiver_failing_twice_gets_the_message_on_the_third_attempt(
    world, receiver, wait_until
) -> None:
    alerting: Alerting = world["alerting"]
    topic = alerting.topics.create_topic("t")["TopicArn"]
    alerting.topics.subscribe(topic, "http", receiver.url)
    receiver.answers = [500, 503]
    message_id = alerting.publish(topic, "hello", subject="hi")
    got = receiver.wait_for(3)
    assert [d.document["MessageId"] for d in got] == [message_id] * 3  # stable id
    assert [d.headers["x-modelmon-delivery-attempt"] for d in got] == ["1", "2", "3"]

    def delivered() -> dict[str, Any] | None:
        (delivery,) = alerting.topics.list_deliveries(message_id=message_id)["Deliveries"]
        return delivery if delivery["Status"] == "delivered" else None

    delivery = wait_until(delivered, message="the delivery recorded")
    assert [a["StatusCode"] for a in delivery["Attempts"]] == [500, 503, 200]
    assert delivery["Attempts"][0]["Error"] == "HTTP 500"
    assert all(a["DurationMs"] >= 0 for a in delivery["Attempts"])
    # a repeated publish with the same dedupe key is a no-op answering the first id
    first = alerting.publish(topic, "once", dedupe_key="request-1")
    assert alerting.publish(topic, "once", dedupe_key="request-1") == first
    receiver.wait_for(4)
    assert len(alerting.topics.list_deliveries(message_id=first)["Deliveries"]) == 1


def test_a_hanging_receiver_stalls_nothing_else(world, receiver_factory, wait_until) -> None:
    alerting: Alerting = world["alerting"]
    slow, fast = receiver_factory(), receiver_factory()
    slow.answers = ["hang"] * 10
    topic = alerting.topics.create_topic("t")["TopicArn"]
    alerting.topics.subscribe(topic, "http", slow.url)
    other = alerting.topics.create_topic("other")["TopicArn"]
    alerting.topics.subscribe(other, "http", fast.url)
    hung = alerting.publish(topic, "to the slow one")
    for i in range(5):
        alerting.publish(other, f"message {i}")
    assert len(fast.wait_for(5, timeout=5)) == 5  # while the slow one still hangs

    def timed_out() -> bool:
        (delivery,) = alerting.topics.list_deliveries(message_id=hung)["Deliveries"]
        return any("no answer within 1 s" in (a["Error"] or "") for a in delivery["Attempts"])

    wait_until(timed_out, message="the hanging attempt to time out")


class _Smtp(socketserver.StreamRequestHandler):
    """The smallest SMTP receiver that smtplib talks to: records each DATA."""

    def handle(self) -> None:
        self.wfile.write(b"220 test ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line.strip().split(b" ")[0].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250 test\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                lines = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(data)
                self.server.mails.append(b"".join(lines))  # type: ignore[attr-defined]
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:  # MAIL, RCPT, RSET, NOOP
                self.wfile.write(b"250 ok\r\n")


def test_email_subscriptions_go_through_smtp(tmp_path: Path, monkeypatch, wait_until) -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    server.daemon_threads = True
    server.mails = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.delenv("MODELMON_DATABASE_URL", raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir(parents=True)
    db = Database(settings.database_url)
    config = AlertingSettings(
        smtp_host="127.0.0.1", smtp_port=server.server_address[1], smtp_from="mm@example.com"
    )
    alerting = Alerting(db, settings, config)
    alerting.start()
    try:
        topic = alerting.topics.create_topic("mail")["TopicArn"]
        alerting.topics.subscribe(topic, "email", "oncall@example.com")
        alerting.publish(topic, "drift on churn", subject="drift")
        (mail,) = wait_until(lambda: server.mails, message="an email")  # type: ignore[attr-defined]
        assert b"Subject: drift" in mail and b"To: oncall@example.com" in mail
        assert b"drift on churn" in mail
    finally:
        alerting.stop(1.0)
        server.shutdown()
        server.server_close()
        db.dispose()
