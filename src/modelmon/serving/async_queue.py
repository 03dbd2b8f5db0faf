"""The durable queue of asynchronous requests: rows of ``async_invocations``.

:meth:`AsyncQueue.enqueue` records a request (``Pending``); the same endpoint
and inference id twice gives the first request back (``created`` False).
Workers :meth:`~AsyncQueue.claim` requests with a lease: one conditional
``UPDATE`` makes them ``InProgress`` with the worker as ``owner`` until
``lease_expires_at``, renewed by :meth:`~AsyncQueue.renew` while they run. A
request whose lease expired, or whose owner was a process of this host that has
exited (:func:`owner_gone`), is claimed again by the next worker: processing
may repeat after a crash, never silently stop. :meth:`~AsyncQueue.finish`
records the outcome only while the worker still owns the request.

Writes go through one thread per queue (:class:`_Writer`) that commits
whatever has gathered in one transaction (group commit): many request threads
writing one SQLite database each on its own would spend their time in the
busy handler's sleeps.

Times come from ``clock``, so tests move time without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, case, delete, false, func, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from modelmon.db import Database
from modelmon.db.leases import owner_gone
from modelmon.db.models import UtcDateTime, utcnow
from modelmon.db.models_async import AsyncInvocationRow as Row
from modelmon.serving.async_request import AsyncConfig, AsyncRequest

log = logging.getLogger("modelmon.async")

LEASE_SECONDS = 30.0
MAX_BATCH = 500  # writes per transaction (a batch stops growing past it)
WAITING = ("Pending", "InProgress")

_JOB_COLUMNS = (
    Row.id,
    Row.endpoint_name,
    Row.inference_id,
    Row.input_location,
    Row.content_type,
    Row.accept,
    Row.custom_attributes,
    Row.body,
    Row.output_location,
    Row.failure_location,
    Row.timeout_seconds,
    Row.received_time,
    Row.expires_at,
    Row.attempts,
)


@dataclass(frozen=True, slots=True)
class Enqueued:
    """Where a queued request's result goes; ``created`` False for a repeated inference id."""

    id: str
    inference_id: str
    output_location: str
    failure_location: str
    created: bool


@dataclass(frozen=True, slots=True)
class Finished:
    """The outcome of one request, to record (:meth:`AsyncQueue.finish_many`)."""

    id: str
    status: str  # Completed or Failed
    response_content_type: str | None = None
    failure_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed request, as the worker needs it. ``attempts`` counts claims (1 = first)."""

    id: str
    endpoint_name: str
    inference_id: str
    input_location: str
    content_type: str | None
    accept: str | None
    custom_attributes: str | None
    body: bytes | None
    output_location: str
    failure_location: str
    timeout_seconds: int
    received_time: dt.datetime
    expires_at: dt.datetime
    attempts: int


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


_Target = Future[Any] | tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]"]
Op = Callable[[Connection], Any]


class _Insert:
    """One request to record: its row, and the answer when the row is new. Enqueues next
    to each other in a batch go to the database as one multi-row INSERT."""

    __slots__ = ("enqueued", "values")

    def __init__(self, values: dict[str, Any], enqueued: Enqueued) -> None:
        self.values = values
        self.enqueued = enqueued


_Item = tuple["Op | _Insert", _Target]


class _Writer:
    """A thread that runs write operations, as many per transaction as have gathered.

    An operation is ``op(connection) -> result`` or an :class:`_Insert` (run by
    ``insert_many`` with its neighbours); :meth:`submit` answers a Future,
    :meth:`submit_async` an asyncio future settled with the rest of its batch in one
    call into the event loop (one wake-up per batch, not per request). When a batch
    fails, its operations run again one per transaction, so one bad operation fails
    alone.
    """

    def __init__(
        self, db: Database, insert_many: Callable[[Connection, list[_Insert]], list[Enqueued]]
    ) -> None:
        self.db = db
        self.insert_many = insert_many
        self._items: queue.SimpleQueue[list[_Item]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # per event loop: what its callbacks submitted since the loop last handed over
        self._gathering: dict[asyncio.AbstractEventLoop, list[_Item]] = {}

    def submit(self, op: Op | _Insert) -> Future[Any]:
        future: Future[Any] = Future()
        self._put([(op, future)])
        return future

    def submit_async(self, op: Op | _Insert) -> asyncio.Future[Any]:
        """:meth:`submit` for the running event loop. What the loop's callbacks submit in
        one pass of the loop reaches the thread together, after the pass: one wake-up
        and one transaction for a burst of requests, not one each."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        gathering = self._gathering.get(loop)
        if gathering is None:
            gathering = self._gathering[loop] = []
            loop.call_soon(self._hand_over, loop)
        gathering.append((op, (loop, future)))
        return future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        self._put(self._gathering.pop(loop))

    def run(self, op: Op | _Insert) -> Any:
        return self.submit(op).result()

    def _put(self, items: list[_Item]) -> None:
        self._items.put(items)
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="modelmon-async-db", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            batch = self._items.get()
            while len(batch) < MAX_BATCH:
                try:
                    batch += self._items.get_nowait()
                except queue.Empty:
                    break
            self._apply(batch)

    def _apply(self, batch: list[_Item]) -> None:
        # a Connection, not an ORM Session: the Session's bookkeeping cost more than
        # a small transaction's statements
        try:
            with self.db.engine.begin() as connection:
                results = self._run_ops(connection, [op for op, _ in batch])
        except Exception as err:
            if len(batch) > 1:
                for item in batch:
                    self._apply([item])
            else:
                _settle([(batch[0][1], None, err)])
            return
        _settle(
            [(target, result, None) for (_, target), result in zip(batch, results, strict=True)]
        )

    def _run_ops(self, connection: Connection, ops: list[Op | _Insert]) -> list[Any]:
        """Run ``ops`` in order, each run of adjacent inserts as one statement."""
        results: list[Any] = []
        inserts: list[_Insert] = []
        for op in ops:
            if isinstance(op, _Insert):
                inserts.append(op)
                continue
            if inserts:
                results += self.insert_many(connection, inserts)
                inserts = []
            results.append(op(connection))
        if inserts:
            results += self.insert_many(connection, inserts)
        return results


def _settle(outcomes: list[tuple[_Target, Any, Exception | None]]) -> None:
    """Give each waiting future its result or error; one loop call per event loop."""
    in_loops: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, Any]]] = {}
    for target, result, error in outcomes:
        if isinstance(target, Future):
            if error is not None:
                target.set_exception(error)
            else:
                target.set_result(result)
        else:
            loop, future = target
            in_loops.setdefault(loop, []).append((future, result, error))
    for loop, items in in_loops.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(_settle_in_loop, items)


def _settle_in_loop(items: list[tuple[asyncio.Future[Any], Any, Exception | None]]) -> None:
    for future, result, error in items:
        if future.done():  # cancelled: the client went away (the write stands)
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


class AsyncQueue:
    """Enqueue, claim, renew, finish and count asynchronous requests (see the module doc)."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.db = db
        self.clock = clock
        self.lease = dt.timedelta(seconds=lease_seconds)
        self._writer = _Writer(db, self._insert_many)
        # constant statements (parameters given at execution): compiled once, cached
        dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
        table = Row.__table__
        self._insert_row = (  # RETURNING: the row only when it was inserted (rowcount is -1
            # here on PostgreSQL)
            dialect.insert(table)
            .on_conflict_do_nothing(index_elements=["endpoint_name", "inference_id"])
            .returning(table.c.id)
        )
        self._first_row = select(
            table.c.id, table.c.output_location, table.c.failure_location
        ).where(table.c.endpoint_name == bindparam("e"), table.c.inference_id == bindparam("i"))
        # Still claimable: a CASE, not an OR of statuses, and no endpoint here. SQLite
        # would serve either through ix_async_invocations_work and walk every Pending row
        # of the queue (a claim as slow as the queue is deep) instead of looking up the ids.
        claimable = case(
            (table.c.status == "Pending", true()),
            (
                table.c.status == "InProgress",
                table.c.lease_expires_at < bindparam("c_now", type_=UtcDateTime),
            ),
            else_=false(),
        )
        # two reads, each along ix_async_invocations_work (an OR of both would scan the
        # endpoint's finished rows too)
        self._pending_ids = (
            select(table.c.received_time, table.c.id)
            .where(table.c.status == "Pending", table.c.endpoint_name == bindparam("c_ep"))
            .order_by(table.c.received_time)
            .limit(bindparam("c_limit"))
        )
        self._expired_ids = (
            select(table.c.received_time, table.c.id)
            .where(
                table.c.status == "InProgress",
                table.c.endpoint_name == bindparam("c_ep"),
                table.c.lease_expires_at < bindparam("c_now", type_=UtcDateTime),
            )
            .order_by(table.c.received_time)
            .limit(bindparam("c_limit"))
        )
        self._claim_rows = (
            update(table)
            .where(table.c.id.in_(bindparam("c_ids", expanding=True)), claimable)
            .values(
                status="InProgress",
                owner=bindparam("c_owner"),
                lease_expires_at=bindparam("c_lease", type_=UtcDateTime),
                attempts=table.c.attempts + 1,
            )
            .returning(*(table.c[column.key] for column in _JOB_COLUMNS))
        )
        self._finish_row = (
            update(table)
            .where(
                table.c.id == bindparam("f_id"),
                table.c.owner == bindparam("f_owner"),
                table.c.status == "InProgress",
            )
            .values(
                status=bindparam("f_status"),
                response_content_type=bindparam("f_type"),
                failure_reason=bindparam("f_reason"),
                end_time=bindparam("f_end", type_=UtcDateTime),
                owner=None,
                lease_expires_at=None,
                body=None,
            )
        )

    def enqueue(self, request: AsyncRequest, config: AsyncConfig) -> Enqueued:
        """Record ``request``; a repeated (endpoint, inference id) answers the first one."""
        return self._writer.run(self._insert(request, config))

    async def enqueue_async(self, request: AsyncRequest, config: AsyncConfig) -> Enqueued:
        """:meth:`enqueue` for the event loop (which is woken once per batch of writes)."""
        return await self._writer.submit_async(self._insert(request, config))

    def _insert(self, request: AsyncRequest, config: AsyncConfig) -> _Insert:
        identifier = str(uuid.uuid4())
        inference_id = request.inference_id or str(uuid.uuid4())
        output, failure = config.locations(request, identifier)
        now = self.clock()
        values = {
            "id": identifier,
            "endpoint_name": request.endpoint_name,
            "inference_id": inference_id,
            "input_location": request.input_location,
            "content_type": request.content_type,
            "accept": request.accept,
            "custom_attributes": request.custom_attributes,
            "body": request.body,
            "output_location": output,
            "failure_location": failure,
            "timeout_seconds": request.timeout_seconds,
            "received_time": now,
            "expires_at": now + dt.timedelta(seconds=request.ttl_seconds),
            "status": "Pending",
            "attempts": 0,
        }
        return _Insert(values, Enqueued(identifier, inference_id, output, failure, created=True))

    def _insert_many(self, connection: Connection, inserts: list[_Insert]) -> list[Enqueued]:
        """Insert the rows; a row whose (endpoint, inference id) is taken (also by an
        earlier row of the same batch) answers the request that took it."""
        statement = self._insert_row
        new = {row[0] for row in connection.execute(statement, [i.values for i in inserts])}
        return [
            i.enqueued if i.values["id"] in new else self._taken(connection, i) for i in inserts
        ]

    def _taken(self, connection: Connection, insert: _Insert) -> Enqueued:
        """The request that holds ``insert``'s (endpoint, inference id); ``insert`` itself
        when that one was purged meanwhile."""
        values = insert.values
        key = {"e": values["endpoint_name"], "i": values["inference_id"]}
        while True:
            first = connection.execute(self._first_row, key).one_or_none()
            if first is not None:
                return Enqueued(first[0], values["inference_id"], first[1], first[2], created=False)
            if connection.execute(self._insert_row, values).first() is not None:
                return insert.enqueued

    def claim(self, owner: str, endpoint_name: str, limit: int) -> list[Job]:
        """Up to ``limit`` requests of ``endpoint_name``, oldest first, leased to ``owner``."""
        if limit <= 0:
            return []
        now = self.clock()
        read = {"c_ep": endpoint_name, "c_now": now, "c_limit": limit}
        with self.db.engine.connect() as connection:
            # plain reads first: an idle worker takes no write lock
            found = [
                *connection.execute(self._expired_ids, read),
                *connection.execute(self._pending_ids, read),
            ]
        ids = [identifier for _, identifier in sorted(found)[:limit]]
        if not ids:
            return []
        parameters = {
            "c_ids": ids,
            "c_now": now,
            "c_owner": owner,
            "c_lease": now + self.lease,
        }
        rows = self._writer.run(
            lambda connection: connection.execute(self._claim_rows, parameters).all()
        )
        jobs = [
            Job(
                *row[:11],
                received_time=_utc(row.received_time),
                expires_at=_utc(row.expires_at),
                attempts=row.attempts,
            )
            for row in rows
        ]
        jobs.sort(key=lambda job: job.received_time)
        return jobs

    def _update(self, statement: Any) -> int:
        """Run an UPDATE or DELETE through the writer; the number of rows it matched."""
        return int(self._writer.run(lambda connection: connection.execute(statement).rowcount))

    def renew(self, owner: str, ids: list[str]) -> None:
        """Extend the lease of the requests ``owner`` still holds."""
        if ids:
            self._update(
                update(Row)
                .where(Row.id.in_(ids), Row.owner == owner, Row.status == "InProgress")
                .values(lease_expires_at=self.clock() + self.lease)
            )

    def finish(
        self,
        owner: str,
        identifier: str,
        status: str,
        *,
        response_content_type: str | None = None,
        failure_reason: str | None = None,
    ) -> Future[int]:
        """Record the outcome (``Completed`` or ``Failed``) if ``owner`` still holds the request;
        a Future of 1 if it did, else 0 (the write is queued, not waited for)."""
        return self.finish_many(
            owner, [Finished(identifier, status, response_content_type, failure_reason)]
        )

    def finish_many(self, owner: str, outcomes: Sequence[Finished]) -> Future[int]:
        """:meth:`finish` for many requests in one statement; a Future of how many ``owner``
        still held (their outcomes recorded)."""
        end = self.clock()
        parameters = [
            {
                "f_id": outcome.id,
                "f_owner": owner,
                "f_status": outcome.status,
                "f_type": outcome.response_content_type,
                "f_reason": outcome.failure_reason,
                "f_end": end,
            }
            for outcome in outcomes
        ]
        if not parameters:
            done: Future[int] = Future()
            done.set_result(0)
            return done
        return self._writer.submit(
            lambda connection: int(connection.execute(self._finish_row, parameters).rowcount)
        )

    def release(self, owner: str, ids: list[str]) -> None:
        """Give requests back (Pending) so another worker takes them at once (shutdown)."""
        if ids:
            self._update(
                update(Row)
                .where(Row.id.in_(ids), Row.owner == owner, Row.status == "InProgress")
                .values(status="Pending", owner=None, lease_expires_at=None)
            )

    def recover(self, owner: str) -> int:
        """Expire the leases of processes of this host that have exited; how many requests."""
        with self.db.session() as session:
            owners = list(
                session.scalars(
                    select(Row.owner)
                    .where(Row.status == "InProgress", Row.owner.is_not(None), Row.owner != owner)
                    .distinct()
                )
            )
        gone = [o for o in owners if o and owner_gone(o)]
        if not gone:
            return 0
        return self._update(
            update(Row)
            .where(Row.status == "InProgress", Row.owner.in_(gone))
            .values(lease_expires_at=self.clock() - dt.timedelta(seconds=1))
        )

    def purge(self, older_than: dt.timedelta) -> int:
        """Forget finished requests that ended more than ``older_than`` ago (their inference ids
        may then be used again); how many."""
        return self._update(
            delete(Row).where(
                Row.status.in_(("Completed", "Failed")),
                Row.end_time < self.clock() - older_than,
            )
        )

    def stats(self) -> list[dict[str, Any]]:
        """Per endpoint with unfinished requests: queue depth (``Pending``), in-flight
        (``InProgress``) and the age in seconds of its oldest unfinished request."""
        with self.db.session() as session:
            rows = session.execute(
                select(Row.endpoint_name, Row.status, func.count(), func.min(Row.received_time))
                .where(Row.status.in_(WAITING))
                .group_by(Row.endpoint_name, Row.status)
            ).all()
        now = self.clock()
        found: dict[str, dict[str, Any]] = {}
        for endpoint, status, count, oldest in rows:
            entry = found.setdefault(
                endpoint,
                {"EndpointName": endpoint, "QueueDepth": 0, "InFlight": 0, "_oldest": None},
            )
            entry["QueueDepth" if status == "Pending" else "InFlight"] = int(count)
            oldest = _utc(oldest)
            if entry["_oldest"] is None or oldest < entry["_oldest"]:
                entry["_oldest"] = oldest
        result = []
        for name in sorted(found):
            entry = found[name]
            oldest = entry.pop("_oldest")
            entry["OldestRequestAgeSeconds"] = round(max(0.0, (now - oldest).total_seconds()), 3)
            result.append(entry)
        return result

    def describe(self, endpoint_name: str, inference_id: str) -> dict[str, Any] | None:
        """A request's state (status, locations, failure reason), or None."""
        with self.db.session() as session:
            row = session.execute(
                select(Row).where(
                    Row.endpoint_name == endpoint_name, Row.inference_id == inference_id
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            return {
                "InferenceId": row.inference_id,
                "EndpointName": row.endpoint_name,
                "Status": row.status,
                "Attempts": row.attempts,
                "OutputLocation": row.output_location,
                "FailureLocation": row.failure_location,
                "FailureReason": row.failure_reason,
                "ReceivedTime": row.received_time,
                "EndTime": row.end_time,
            }
