"""The delivery worker: sends pending deliveries to webhooks (and email), with retries.

It runs in its own thread and event loop, so a slow receiver never holds up the
server's requests. Each round it claims due deliveries (``status == "pending"``,
``next_attempt_at`` passed, no live lease) with a conditional update that sets
a lease token, so two servers on one database never send one delivery at once,
and sends each in its own task, at most ``MODELMON_DELIVERY_CONCURRENCY`` at a
time, every attempt bounded by ``MODELMON_DELIVERY_TIMEOUT`` seconds in total
(a receiver that hangs costs one slot for that long, nothing more).

A 2xx answer delivers; anything else (another status, a refused connection, a
timeout) is recorded as an attempt and retried after
``MODELMON_DELIVERY_BACKOFF`` × 2^(attempts-1) seconds (at most
``MODELMON_DELIVERY_BACKOFF_MAX``) until ``MODELMON_DELIVERY_ATTEMPTS`` attempts
failed (``failed``). Pending deliveries are rows: a restarted server sends what
was left; on a graceful stop, leases of deliveries not sent are released at once;
after a crash they expire. Delivery is therefore **at least once**: a receiver
may see a message twice (a crash after it answered but before the answer was
recorded) and should deduplicate on ``MessageId``, which never changes.

The webhook request is SNS's HTTP notification: ``POST`` of the JSON document
``{"Type": "Notification", "MessageId", "TopicArn", "Subject", "Message",
"Timestamp", "SubscriptionArn"}`` (``Timestamp`` is the publish time) with the
headers ``x-amz-sns-message-type: Notification``, ``x-amz-sns-message-id``,
``x-amz-sns-topic-arn``, ``x-amz-sns-subscription-arn``,
``X-Modelmon-Delivery-Attempt`` and, when the subscription has a secret,
``X-Modelmon-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import smtplib
import socket
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from email.message import EmailMessage

import httpx
from sqlalchemy import or_, select, update

from modelmon.alerting.settings import AlertingSettings
from modelmon.db import Database
from modelmon.db.models import utcnow
from modelmon.db.models_alerting import AttemptRow, DeliveryRow, MessageRow, SubscriptionRow

log = logging.getLogger("modelmon.alerting.delivery")

SIGNATURE_HEADER = "X-Modelmon-Signature"
LEASE_MARGIN = 30.0  # seconds a lease outlives the attempt's timeout


def sns_timestamp(moment: dt.datetime) -> str:
    """SNS's timestamp format: ``2012-04-26T20:45:04.751Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 of ``body`` with ``secret`` (X-Modelmon-Signature)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class _Claimed:
    delivery_id: int
    token: str
    attempt: int
    protocol: str
    endpoint: str
    subscription_arn: str
    secret: str | None
    subscribed: bool
    message_id: str
    topic_arn: str
    subject: str | None
    message: str
    published_at: dt.datetime


def notification(claimed: _Claimed) -> bytes:
    """The SNS-style JSON body of one delivery."""
    document = {
        "Type": "Notification",
        "MessageId": claimed.message_id,
        "TopicArn": claimed.topic_arn,
        "Subject": claimed.subject,
        "Message": claimed.message,
        "Timestamp": sns_timestamp(claimed.published_at),
        "SubscriptionArn": claimed.subscription_arn,
    }
    if claimed.subject is None:
        del document["Subject"]
    return json.dumps(document).encode()


class DeliveryWorker:
    """Claims and sends deliveries (see the module doc); :meth:`start` / :meth:`stop`."""

    def __init__(
        self,
        db: Database,
        settings: AlertingSettings | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        instance_id: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings or AlertingSettings()
        self.clock = clock
        self.instance_id = instance_id or (
            f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._grace = 5.0
        self._client: httpx.AsyncClient | None = None
        self._in_flight: dict[int, tuple[asyncio.Task[None], _Claimed]] = {}
        # counters for /metrics (each written by the worker's thread only)
        self.delivered = 0
        self.failed = 0
        self.attempts_failed = 0

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Run the worker in a background thread (returns once it is running)."""
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main()), name="modelmon-delivery", daemon=True
        )
        self._thread.start()
        self._started.wait(10)

    def wake(self) -> None:
        """Look for due deliveries now (callable from any thread)."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None:
            with suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(event.set)

    def stop(self, grace: float = 5.0) -> None:
        """Stop claiming; wait up to ``grace`` seconds for deliveries in flight, then cancel
        them and release their leases (a restart sends them)."""
        self._grace = grace
        loop, event = self._loop, self._stop
        if loop is not None and event is not None:
            with suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)
        if self._thread is not None:
            self._thread.join(grace + 15)

    def counters(self) -> dict[str, int]:
        """Deliveries this worker completed, gave up on, and failed attempts; in flight."""
        return {
            "delivered": self.delivered,
            "failed": self.failed,
            "attempts_failed": self.attempts_failed,
            "in_flight": len(self._in_flight),
        }

    # -- the loop -------------------------------------------------------------------------

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        limits = httpx.Limits(max_connections=self.settings.concurrency)
        async with httpx.AsyncClient(limits=limits, follow_redirects=False) as client:
            self._client = client
            self._started.set()
            while not self._stop.is_set():
                free = self.settings.concurrency - len(self._in_flight)
                if free > 0:
                    try:
                        claimed = await asyncio.to_thread(self._claim, free)
                    except Exception:  # a busy database: the next round retries
                        log.warning("claiming deliveries failed", exc_info=True)
                        claimed = []
                    for item in claimed:
                        task = asyncio.create_task(self._deliver(item))
                        self._in_flight[item.delivery_id] = (task, item)
                        task.add_done_callback(lambda _t, key=item.delivery_id: self._finished(key))
                    if len(claimed) == free:
                        await asyncio.sleep(0)  # more may be due: claim again at once
                        continue
                waits = [asyncio.ensure_future(e.wait()) for e in (self._wake, self._stop)]
                await asyncio.wait(
                    waits, timeout=self.settings.poll_interval, return_when="FIRST_COMPLETED"
                )
                for w in waits:
                    w.cancel()
                self._wake.clear()
            await self._drain()

    def _finished(self, delivery_id: str) -> None:
        """A delivery ended (on the loop's thread): its slot is free, so claim again now
        rather than at the next poll (a backlog drains at the receivers' pace)."""
        self._in_flight.pop(delivery_id, None)
        if self._wake is not None:
            self._wake.set()

    async def _drain(self) -> None:
        if not self._in_flight:
            return
        tasks = [task for task, _ in self._in_flight.values()]
        left = dict(self._in_flight)
        _done, pending = await asyncio.wait(tasks, timeout=self._grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        unfinished = [item for task, item in left.values() if task in pending]
        if unfinished:
            await asyncio.to_thread(self._release, unfinished)

    # -- database -------------------------------------------------------------------------

    def _claim(self, limit: int) -> list[_Claimed]:
        now = self.clock()
        token = f"{self.instance_id}:{uuid.uuid4().hex[:12]}"
        expires = now + dt.timedelta(seconds=self.settings.delivery_timeout + LEASE_MARGIN)
        free = or_(DeliveryRow.lease_expires_at.is_(None), DeliveryRow.lease_expires_at < now)
        with self.db.session() as session:
            ids = list(
                session.scalars(
                    select(DeliveryRow.id)
                    .where(DeliveryRow.status == "pending", DeliveryRow.next_attempt_at <= now)
                    .where(free)
                    .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id)
                    .limit(limit)
                )
            )
            if not ids:
                return []
            session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id.in_(ids), DeliveryRow.status == "pending", free)
                .values(lease_owner=token, lease_expires_at=expires)
            )
            rows = session.execute(
                select(DeliveryRow, MessageRow, SubscriptionRow)
                .join(MessageRow, MessageRow.id == DeliveryRow.message_id)
                .outerjoin(SubscriptionRow, SubscriptionRow.arn == DeliveryRow.subscription_arn)
                .where(DeliveryRow.id.in_(ids), DeliveryRow.lease_owner == token)
            ).all()
            return [
                _Claimed(
                    delivery_id=d.id,
                    token=token,
                    attempt=d.attempts + 1,
                    protocol=d.protocol,
                    endpoint=d.endpoint,
                    subscription_arn=d.subscription_arn,
                    secret=s.secret if s is not None else None,
                    subscribed=s is not None,
                    message_id=m.id,
                    topic_arn=m.topic_arn,
                    subject=m.subject,
                    message=m.message,
                    published_at=m.published_at,
                )
                for d, m, s in rows
            ]

    def _record(
        self,
        item: _Claimed,
        started: dt.datetime,
        duration_ms: float,
        status_code: int | None,
        error: str | None,
    ) -> None:
        now = self.clock()
        with self.db.session() as session:
            session.add(
                AttemptRow(
                    delivery_id=item.delivery_id,
                    attempt=item.attempt,
                    started_at=started,
                    duration_ms=duration_ms,
                    status_code=status_code,
                    error=error,
                )
            )
            row = session.get(DeliveryRow, item.delivery_id)
            if row is None or row.lease_owner != item.token or row.status != "pending":
                return  # the lease was lost (it expired): whoever holds it now decides
            row.attempts = item.attempt
            row.lease_owner = None
            row.lease_expires_at = None
            if error is None:
                row.status, row.delivered_at, row.last_error = "delivered", now, None
                self.delivered += 1
                return
            row.last_error = error
            self.attempts_failed += 1
            if item.attempt >= self.settings.delivery_attempts:
                row.status = "failed"
                self.failed += 1
                log.warning(
                    "delivery %s of message %s to %s failed after %d attempts: %s",
                    item.delivery_id,
                    item.message_id,
                    item.endpoint,
                    item.attempt,
                    error,
                )
            else:
                wait = self.settings.backoff_after(item.attempt)
                row.next_attempt_at = now + dt.timedelta(seconds=wait)

    def _cancel(self, item: _Claimed) -> None:
        with self.db.session() as session:
            session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id == item.delivery_id, DeliveryRow.lease_owner == item.token)
                .values(
                    status="cancelled",
                    lease_owner=None,
                    lease_expires_at=None,
                    last_error="the subscription was removed before delivery",
                )
            )

    def _release(self, items: list[_Claimed]) -> None:
        with self.db.session() as session:
            for item in items:
                session.execute(
                    update(DeliveryRow)
                    .where(
                        DeliveryRow.id == item.delivery_id, DeliveryRow.lease_owner == item.token
                    )
                    .values(lease_owner=None, lease_expires_at=None)
                )

    # -- sending --------------------------------------------------------------------------

    async def _deliver(self, item: _Claimed) -> None:
        if not item.subscribed:
            await asyncio.to_thread(self._cancel, item)
            return
        started = self.clock()
        begin = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        timeout = self.settings.delivery_timeout
        try:
            if item.protocol == "email":
                await asyncio.wait_for(asyncio.to_thread(self._send_email, item), timeout + 1)
            else:
                status_code = await asyncio.wait_for(self._post(item), timeout)
                if not 200 <= status_code < 300:
                    error = f"HTTP {status_code}"
        except TimeoutError:
            error = f"no answer within {timeout:g} s"
        except (httpx.HTTPError, OSError, smtplib.SMTPException) as err:
            error = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        duration = (time.perf_counter() - begin) * 1000
        try:
            await asyncio.to_thread(self._record, item, started, duration, status_code, error)
        except Exception:  # the lease expires and the delivery is retried
            log.exception("cannot record delivery %s", item.delivery_id)

    async def _post(self, item: _Claimed) -> int:
        body = notification(item)
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": "Notification",
            "x-amz-sns-message-id": item.message_id,
            "x-amz-sns-topic-arn": item.topic_arn,
            "x-amz-sns-subscription-arn": item.subscription_arn,
            "X-Modelmon-Delivery-Attempt": str(item.attempt),
            "User-Agent": "modelmon-notifications",
        }
        if item.secret:
            headers[SIGNATURE_HEADER] = signature(item.secret, body)
        assert self._client is not None
        response = await self._client.post(
            item.endpoint, content=body, headers=headers, timeout=self.settings.delivery_timeout
        )
        return response.status_code

    def _send_email(self, item: _Claimed) -> None:
        s = self.settings
        mail = EmailMessage()
        mail["From"] = s.smtp_from
        mail["To"] = item.endpoint
        mail["Subject"] = item.subject or f"Notification from {item.topic_arn}"
        mail["Message-ID"] = f"<{item.message_id}@modelmon>"
        mail.set_content(item.message)
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.delivery_timeout) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
            smtp.send_message(mail)
