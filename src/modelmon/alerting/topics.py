"""Notification topics: create, subscribe webhooks (or email), publish.

A topic is named by an SNS-style ARN ``arn:aws:sns:{region}:{account_id}:{name}``.
:meth:`Topics.publish` records the message and one pending delivery per
subscription in one transaction and returns the message id at once; the
delivery worker (:mod:`modelmon.alerting.delivery`) sends them. A publish with a
``dedupe_key`` already used on the topic is a no-op answering the first message's
id, so a caller that repeats itself after a crash never notifies twice.

Subscriptions are confirmed at once (there is no SubscriptionConfirmation
handshake); a webhook URL must be http or https with a host that resolves, an
``email`` endpoint needs SMTP to be configured (``MODELMON_SMTP_HOST``).
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from modelmon.alerting.settings import AlertingSettings
from modelmon.config import Settings
from modelmon.db import Database
from modelmon.db.listing import paginate
from modelmon.db.models import utcnow
from modelmon.db.models_alerting import (
    AttemptRow,
    DeliveryRow,
    MessageRow,
    SubscriptionRow,
    TopicRow,
)
from modelmon.errors import InputError, NotFoundError

TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PROTOCOLS = ("http", "https", "email")
MAX_MESSAGE_BYTES = 256 * 1024  # SNS's limit


def check_webhook_url(url: str, field: str = "Endpoint") -> None:
    """Refuse a URL that is not http(s) with a host that resolves (InputError naming ``field``)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise InputError(f"{url!r} is not a valid URL ({err})", field=field) from None
    if parts.scheme not in ("http", "https"):
        raise InputError(
            f"{url!r} is not an http or https URL (scheme {parts.scheme or 'missing'!r})",
            field=field,
        )
    if not parts.hostname:
        raise InputError(f"{url!r} has no host", field=field)
    try:
        socket.getaddrinfo(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    except OSError as err:
        raise InputError(
            f"the host {parts.hostname!r} of {url!r} cannot be resolved ({err})", field=field
        ) from None


class Topics:
    """Topics, subscriptions and the publish call (see the module doc).

    ``on_publish`` is called (from the publishing thread) after a message's
    deliveries are committed: the delivery worker's wake-up.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        alerting: AlertingSettings | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        on_publish: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.alerting = alerting or AlertingSettings()
        self.clock = clock
        self.on_publish = on_publish

    # -- names -----------------------------------------------------------------------

    def topic_arn(self, name: str) -> str:
        """The ARN of topic ``name`` on this server."""
        return f"arn:aws:sns:{self.settings.region}:{self.settings.account_id}:{name}"

    def _arn(self, topic: str) -> str:
        """A topic ARN from an ARN or a bare name."""
        return topic if topic.startswith("arn:") else self.topic_arn(topic)

    def _topic(self, session: Session, topic: str) -> TopicRow:
        row = session.get(TopicRow, self._arn(topic))
        if row is None:
            raise NotFoundError(f"topic {topic} does not exist", aws_code="NotFound")
        return row

    def exists(self, topic: str) -> bool:
        """Whether the topic (ARN or name) exists."""
        with self.db.session() as session:
            return session.get(TopicRow, self._arn(topic)) is not None

    def check_topics(self, arns: list[str], field: str) -> None:
        """InputError naming ``field`` unless every ARN is an existing topic."""
        if not arns:
            return
        with self.db.session() as session:
            known = set(session.scalars(select(TopicRow.arn).where(TopicRow.arn.in_(arns))))
        for arn in arns:
            if arn not in known:
                raise InputError(f"topic {arn} does not exist", field=field)

    # -- topics ------------------------------------------------------------------------

    def create_topic(self, name: str, attributes: dict[str, str] | None = None) -> dict[str, Any]:
        """CreateTopic: idempotent for an existing name (answers its ARN)."""
        if not isinstance(name, str) or not TOPIC_NAME.match(name):
            raise InputError(
                f"topic name {name!r} must be 1 to 256 letters, digits, '-' or '_'", field="Name"
            )
        arn = self.topic_arn(name)
        try:
            with self.db.session() as session:
                if session.get(TopicRow, arn) is None:
                    session.add(
                        TopicRow(
                            arn=arn,
                            name=name,
                            attributes=dict(attributes or {}),
                            creation_time=self.clock(),
                        )
                    )
        except IntegrityError:  # created concurrently: the same answer
            pass
        return {"TopicArn": arn}

    def list_topics(
        self, next_token: str | None = None, max_results: int | None = None
    ) -> dict[str, Any]:
        """ListTopics: ``{"Topics": [{"TopicArn", "Name", "Subscriptions"}], "NextToken"}``."""
        with self.db.session() as session:
            rows = session.scalars(select(TopicRow).order_by(TopicRow.name)).all()
            counts = dict(
                session.execute(
                    select(SubscriptionRow.topic_arn, func.count()).group_by(
                        SubscriptionRow.topic_arn
                    )
                ).all()
            )
        page, token = paginate(rows, next_token, max_results)
        out: dict[str, Any] = {
            "Topics": [
                {"TopicArn": r.arn, "Name": r.name, "Subscriptions": counts.get(r.arn, 0)}
                for r in page
            ]
        }
        if token:
            out["NextToken"] = token
        return out

    def describe_topic(self, topic: str) -> dict[str, Any]:
        """GetTopicAttributes-like: ARN, name, attributes, subscriptions."""
        with self.db.session() as session:
            row = self._topic(session, topic)
            subscriptions = session.scalars(
                select(SubscriptionRow).where(SubscriptionRow.topic_arn == row.arn)
            ).all()
            return {
                "TopicArn": row.arn,
                "Name": row.name,
                "Attributes": row.attributes,
                "CreationTime": row.creation_time,
                "Subscriptions": [_subscription(s) for s in subscriptions],
            }

    def delete_topic(self, topic: str) -> None:
        """DeleteTopic and its subscriptions (messages already published still go out)."""
        with self.db.session() as session:
            row = self._topic(session, topic)
            session.execute(delete(SubscriptionRow).where(SubscriptionRow.topic_arn == row.arn))
            session.delete(row)

    # -- subscriptions -------------------------------------------------------------------

    def subscribe(
        self,
        topic: str,
        protocol: str,
        endpoint: str,
        *,
        secret: str | None = None,
    ) -> dict[str, Any]:
        """Subscribe a webhook (``http``/``https``: the URL; ``secret`` signs each body) or an
        ``email`` address to a topic; answers ``{"SubscriptionArn"}``."""
        if not isinstance(topic, str) or not topic:
            raise InputError("TopicArn is required", field="TopicArn")
        protocol = (protocol or "").lower()
        if protocol not in PROTOCOLS:
            raise InputError(
                f"Protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}",
                field="Protocol",
            )
        if not isinstance(endpoint, str) or not endpoint:
            raise InputError("Endpoint is required", field="Endpoint")
        if protocol == "email":
            if not EMAIL.match(endpoint):
                raise InputError(f"{endpoint!r} is not an email address", field="Endpoint")
            if not self.alerting.smtp_configured:
                raise InputError(
                    "email subscriptions need SMTP: set MODELMON_SMTP_HOST", field="Protocol"
                )
        else:
            check_webhook_url(endpoint)
            if urlsplit(endpoint).scheme != protocol:
                raise InputError(
                    f"Protocol {protocol} does not match the URL {endpoint!r}", field="Protocol"
                )
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise InputError("Secret must be a non-empty string", field="Secret")
        arn = self._arn(topic)
        with self.db.session() as session:
            if session.get(TopicRow, arn) is None:
                raise InputError(f"topic {topic} does not exist", field="TopicArn")
            same = session.scalars(
                select(SubscriptionRow).where(
                    SubscriptionRow.topic_arn == arn,
                    SubscriptionRow.protocol == protocol,
                    SubscriptionRow.endpoint == endpoint,
                )
            ).first()
            if same is not None:  # SNS answers the existing subscription
                same.secret = secret
                return {"SubscriptionArn": same.arn}
            subscription = f"{arn}:{uuid.uuid4()}"
            session.add(
                SubscriptionRow(
                    arn=subscription,
                    topic_arn=arn,
                    protocol=protocol,
                    endpoint=endpoint,
                    secret=secret,
                    creation_time=self.clock(),
                )
            )
        return {"SubscriptionArn": subscription}

    def unsubscribe(self, subscription_arn: str) -> None:
        """Unsubscribe (NotFoundError when there is no such subscription)."""
        with self.db.session() as session:
            row = session.get(SubscriptionRow, subscription_arn)
            if row is None:
                raise NotFoundError(
                    f"subscription {subscription_arn} does not exist", aws_code="NotFound"
                )
            session.delete(row)

    def list_subscriptions(self, topic: str | None = None) -> dict[str, Any]:
        """ListSubscriptions(ByTopic): ``{"Subscriptions": [...]}``."""
        with self.db.session() as session:
            query = select(SubscriptionRow).order_by(SubscriptionRow.creation_time)
            if topic:
                query = query.where(SubscriptionRow.topic_arn == self._topic(session, topic).arn)
            rows = session.scalars(query).all()
        return {"Subscriptions": [_subscription(r) for r in rows]}

    # -- publishing ----------------------------------------------------------------------

    def publish(
        self,
        topic_arn: str,
        message: str,
        *,
        subject: str | None = None,
        dedupe_key: str | None = None,
    ) -> str:
        """Record ``message`` and its deliveries; returns the message id without waiting for
        any delivery. A repeated ``dedupe_key`` on the topic answers the first id."""
        if not isinstance(message, str) or not message:
            raise InputError("Message must be a non-empty string", field="Message")
        if len(message.encode()) > MAX_MESSAGE_BYTES:
            raise InputError(
                f"Message is {len(message.encode())} bytes; at most {MAX_MESSAGE_BYTES}",
                field="Message",
            )
        if subject is not None and (not isinstance(subject, str) or len(subject) > 100):
            raise InputError("Subject must be at most 100 characters", field="Subject")
        try:
            with self.db.session() as session:
                identifier, created = self.publish_in(
                    session, topic_arn, message, subject=subject, dedupe_key=dedupe_key
                )
        except IntegrityError:  # the same dedupe key published concurrently
            with self.db.session() as session:
                found = self._deduped(session, self._arn(topic_arn), dedupe_key)
            if found is None:
                raise
            return found
        if created and self.on_publish is not None:
            self.on_publish()
        return identifier

    def _deduped(self, session: Session, arn: str, dedupe_key: str | None) -> str | None:
        if dedupe_key is None:
            return None
        return session.scalars(
            select(MessageRow.id).where(
                MessageRow.topic_arn == arn, MessageRow.dedupe_key == dedupe_key
            )
        ).first()

    def publish_in(
        self,
        session: Session,
        topic_arn: str,
        message: str,
        *,
        subject: str | None = None,
        dedupe_key: str | None = None,
    ) -> tuple[str, bool]:
        """Publish inside ``session``'s transaction (with whatever else the caller commits);
        returns (message id, whether it is new). The caller wakes the worker
        (:attr:`on_publish`) after the commit."""
        row = self._topic(session, topic_arn)
        found = self._deduped(session, row.arn, dedupe_key)
        if found is not None:
            return found, False
        now = self.clock()
        identifier = str(uuid.uuid4())
        session.add(
            MessageRow(
                id=identifier,
                topic_arn=row.arn,
                subject=subject,
                message=message,
                dedupe_key=dedupe_key,
                published_at=now,
            )
        )
        for sub in session.scalars(
            select(SubscriptionRow).where(SubscriptionRow.topic_arn == row.arn)
        ):
            session.add(
                DeliveryRow(
                    message_id=identifier,
                    subscription_arn=sub.arn,
                    protocol=sub.protocol,
                    endpoint=sub.endpoint,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    creation_time=now,
                )
            )
        session.flush()  # a duplicate dedupe key fails here, inside the caller's transaction
        return identifier, True

    def publish_batch(self, session: Session, items: list[tuple[str, str, str | None]]) -> set[str]:
        """Publish many (topic ARN, message, subject) inside ``session``'s transaction in
        bulk (no deduplication: the caller guarantees each happens once); returns the ARNs
        that are not topics (their messages are left out). The caller wakes the worker."""
        if not items:
            return set()
        arns = {arn for arn, _, _ in items}
        known = set(session.scalars(select(TopicRow.arn).where(TopicRow.arn.in_(arns))))
        subscribers: dict[str, list[SubscriptionRow]] = {}
        for sub in session.scalars(
            select(SubscriptionRow).where(SubscriptionRow.topic_arn.in_(known))
        ):
            subscribers.setdefault(sub.topic_arn, []).append(sub)
        now = self.clock()
        messages: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        for arn, message, subject in items:
            if arn not in known:
                continue
            identifier = str(uuid.uuid4())
            messages.append(
                {
                    "id": identifier,
                    "topic_arn": arn,
                    "subject": subject,
                    "message": message,
                    "dedupe_key": None,
                    "published_at": now,
                }
            )
            deliveries += [
                {
                    "message_id": identifier,
                    "subscription_arn": sub.arn,
                    "protocol": sub.protocol,
                    "endpoint": sub.endpoint,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "creation_time": now,
                }
                for sub in subscribers.get(arn, [])
            ]
        if messages:
            session.execute(insert(MessageRow), messages)
        if deliveries:
            session.execute(insert(DeliveryRow), deliveries)
        return arns - known

    def list_deliveries(
        self, *, message_id: str | None = None, topic: str | None = None
    ) -> dict[str, Any]:
        """Deliveries (newest first, at most 1,000) with every attempt: status code or error,
        duration."""
        with self.db.session() as session:
            query = (
                select(DeliveryRow, MessageRow)
                .join(MessageRow, MessageRow.id == DeliveryRow.message_id)
                .order_by(DeliveryRow.id.desc())
                .limit(1000)
            )
            if message_id:
                query = query.where(DeliveryRow.message_id == message_id)
            if topic:
                query = query.where(MessageRow.topic_arn == self._arn(topic))
            rows = session.execute(query).all()
            ids = [d.id for d, _ in rows]
            attempts: dict[int, list[AttemptRow]] = {}
            if ids:
                for a in session.scalars(
                    select(AttemptRow)
                    .where(AttemptRow.delivery_id.in_(ids))
                    .order_by(AttemptRow.attempt)
                ):
                    attempts.setdefault(a.delivery_id, []).append(a)
        return {
            "Deliveries": [
                {
                    "DeliveryId": d.id,
                    "MessageId": d.message_id,
                    "TopicArn": m.topic_arn,
                    "SubscriptionArn": d.subscription_arn,
                    "Protocol": d.protocol,
                    "Endpoint": d.endpoint,
                    "Status": d.status,
                    "Attempts": [
                        {
                            "Attempt": a.attempt,
                            "StartedAt": a.started_at,
                            "DurationMs": round(a.duration_ms, 3),
                            "StatusCode": a.status_code,
                            "Error": a.error,
                        }
                        for a in attempts.get(d.id, [])
                    ],
                    "NextAttemptAt": d.next_attempt_at if d.status == "pending" else None,
                    "DeliveredAt": d.delivered_at,
                    "LastError": d.last_error,
                    "PublishedAt": m.published_at,
                }
                for d, m in rows
            ]
        }


def _subscription(row: SubscriptionRow) -> dict[str, Any]:
    return {
        "SubscriptionArn": row.arn,
        "TopicArn": row.topic_arn,
        "Protocol": row.protocol,
        "Endpoint": row.endpoint,
        "Signed": row.secret is not None,
    }
