"""The scheduler: records each schedule's runs when they are due and runs them.

It runs inside ``modelmon serve`` and alone as ``modelmon scheduler``; every
scheduler on one database shares the work, and all its state is in the
database (``monitoring_schedules``, ``monitoring_executions``), so it survives
restarts. One :meth:`Scheduler.tick` (once a second, or when woken):

1. **Heartbeat.** The executions this instance runs get their lease renewed
   (``lease_expires_at`` = now + ``lease_seconds``). One asked to stop
   (``Stopping``, by StopMonitoringExecution from any process) or taken from it
   is stopped.
2. **Recovery.** An ``InProgress`` execution whose owner is gone (its lease
   expired, or its process on this host no longer exists) is marked ``Failed``
   ("the scheduler stopped while this execution was running"), a ``Stopping``
   one ``Stopped``: a crash leaves nothing running forever, and a restarted
   server fails what it was running at once (its old process id is gone).
3. **Runs.** A ``Pending`` schedule becomes ``Scheduled``. For each
   ``Scheduled`` one, :func:`~modelmon.monitoring.schedule.due_runs` since its
   last recorded run (or creation, start, update) gives the run due now and the
   ones missed while no scheduler ran: the latest is recorded ``Pending``, the
   missed ones ``Failed`` with a FailureReason starting ``Skipped:``. Recording
   is the claim: ``(schedule, scheduled time)`` is unique, so when two
   schedulers record the same run, the second insert fails and it moves on; the
   schedule's ``since_time`` is advanced in the same transaction only if no one
   changed it meanwhile. A ``NOW`` schedule's one run is recorded at creation.
4. **Start.** ``Pending`` executions are claimed, oldest scheduled first, up to
   ``max_concurrent`` running in this instance: a conditional update to
   ``InProgress`` with this instance as owner (an execution recorded by another
   instance is left to it while its lease holds). Each runs in a worker thread
   (:class:`~modelmon.monitoring.runner.RunnerPool`); its result (status,
   FailureReason, report, log and metric locations) is written when it ends.

:meth:`Scheduler.shutdown` stops claiming work, lets running executions finish
within a grace period, then stops them and records them ``Failed`` ("the
scheduler stopped while this execution was running").

Times (scheduled times, leases, creation times) come from ``clock``, so tests
drive a scheduler through time without sleeping.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from modelmon.config import Settings
from modelmon.db import Database
from modelmon.db.leases import instance_name, owner_gone
from modelmon.db.models import (
    MonitoringExecutionRow,
    MonitoringJobDefinitionRow,
    MonitoringScheduleRow,
    utcnow,
)
from modelmon.errors import InputError
from modelmon.monitoring.registry import (
    RUNNING,
    Monitoring,
    definition_endpoint,
    new_execution,
    run_window,
    skipped_reason,
)
from modelmon.monitoring.runner import ExecutionResult, ExecutionSpec, Runner, RunnerPool
from modelmon.monitoring.schedule import ScheduleExpression, due_runs

log = logging.getLogger("modelmon.scheduler")

LEASE_SECONDS = 30.0
TICK_INTERVAL = 1.0
STOP_WAIT = 10.0  # seconds a stopped execution gets to end before it is recorded anyway
SCHEDULER_STOPPED = "the scheduler stopped while this execution was running"

Execution = MonitoringExecutionRow


class _CannotRun(Exception):
    """An execution cannot start; ``str(err)`` is its FailureReason."""


class _Changed(Exception):
    """The schedule changed while its runs were being recorded."""


@dataclass
class _Running:
    stop: threading.Event
    future: Future[ExecutionResult] | None = None


class Scheduler:
    """Records due runs and runs them (see the module doc).

    ``runner`` has ``run(spec, stop) -> ExecutionResult`` (a
    :class:`~modelmon.monitoring.runner.Runner`); ``max_concurrent`` defaults to
    ``settings.max_executions`` (``MODELMON_MAX_EXECUTIONS``). ``on_finished`` is
    called with the execution id once its end is recorded (metrics, alerts).
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        monitoring: Monitoring,
        runner: Runner | Any,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        max_concurrent: int | None = None,
        instance_id: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        interval: float = TICK_INTERVAL,
        on_finished: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.on_finished = on_finished
        self.settings = settings
        self.monitoring = monitoring
        self.clock = clock
        self.max_concurrent = max_concurrent or settings.max_executions
        self.instance_id = instance_id or instance_name()
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.interval = interval
        self._pool = RunnerPool(runner, self.max_concurrent)
        self._running: dict[str, _Running] = {}
        self._overrides: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()
        self._tick_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def wake(self) -> None:
        """Tick now rather than at the next interval (callable from any thread)."""
        self._wake.set()

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Tick until ``stop`` (or :meth:`stop`) is set, then :meth:`shutdown`."""
        stop = stop or self._stopping
        log.info("scheduler %s started", self.instance_id)
        while not stop.is_set() and not self._stopping.is_set():
            try:
                self.tick()
            except Exception:  # keep scheduling; the next tick retries
                log.exception("scheduler tick failed")
            self._wake.wait(self.interval)
            self._wake.clear()
        self.shutdown(self.settings.execution_grace)
        log.info("scheduler %s stopped", self.instance_id)

    def start(self) -> None:
        """Run :meth:`run_forever` in a background thread."""
        self._thread = threading.Thread(
            target=self.run_forever, name="modelmon-scheduler", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread started by :meth:`start` (running executions get
        ``execution_grace`` seconds to finish)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.settings.execution_grace + STOP_WAIT + 5)

    def running(self) -> list[str]:
        """Ids of the executions this instance is running."""
        with self._lock:
            return list(self._running)

    def shutdown(self, grace: float = 0.0) -> None:
        """Stop claiming work; wait up to ``grace`` seconds for running executions, then stop
        them and record them Failed."""
        self._closing.set()
        deadline = time.monotonic() + grace
        last_beat = time.monotonic()
        while self.running() and time.monotonic() < deadline:
            if time.monotonic() - last_beat >= 1.0:
                self._beat_safely()
                last_beat = time.monotonic()
            time.sleep(0.05)
        with self._lock:
            left = dict(self._running)
            for identifier in left:
                self._overrides[identifier] = ("Failed", SCHEDULER_STOPPED)
        for run in left.values():
            run.stop.set()
        deadline = time.monotonic() + STOP_WAIT
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        for identifier in self.running():
            log.warning("execution %s did not stop in time; recorded Failed", identifier)
            self._finish(identifier, "Failed", SCHEDULER_STOPPED, {})
        self._pool.shutdown(wait=False)

    def _beat_safely(self) -> None:
        try:
            self._heartbeat(self.clock())
        except OperationalError:
            log.warning("scheduler heartbeat failed (database busy?)", exc_info=True)

    # -- one pass -------------------------------------------------------------------------

    def tick(self) -> None:
        """One pass: heartbeat, recovery, record due runs, start Pending executions."""
        with self._tick_lock:
            now = self.clock()
            for phase in (self._heartbeat, self._recover, self._record_due_runs, self._start):
                try:
                    phase(now)
                except OperationalError:  # a busy database: the next tick retries
                    log.warning("scheduler %s failed; retrying", phase.__name__, exc_info=True)

    def _heartbeat(self, now: dt.datetime) -> None:
        with self._lock:
            running = dict(self._running)
        if not running:
            return
        ids = list(running)
        with self.db.session() as session:
            session.execute(
                update(Execution)
                .where(
                    Execution.id.in_(ids),
                    Execution.owner == self.instance_id,
                    Execution.status.in_(RUNNING),
                )
                .values(lease_expires_at=now + self.lease)
            )
        with self.db.session() as session:
            states = {
                identifier: (status, owner)
                for identifier, status, owner in session.execute(
                    select(Execution.id, Execution.status, Execution.owner).where(
                        Execution.id.in_(ids)
                    )
                )
            }
        for identifier, run in running.items():
            status, owner = states.get(identifier, (None, None))
            if status == "Stopping":
                run.stop.set()
            elif owner == self.instance_id and status not in RUNNING and status != "Pending":
                continue  # it has just ended: its end is recorded, its thread is finishing
            elif owner != self.instance_id or status not in RUNNING:
                log.warning("execution %s is no longer this scheduler's; stopping it", identifier)
                run.stop.set()

    def _recover(self, now: dt.datetime) -> None:
        with self.db.session() as session:
            rows = session.execute(
                select(
                    Execution.id, Execution.status, Execution.owner, Execution.lease_expires_at
                ).where(Execution.status.in_(RUNNING))
            ).all()
        mine = set(self.running())
        for identifier, status, owner, lease in rows:
            if identifier in mine:
                continue
            if owner != self.instance_id and not (
                owner is None or lease is None or lease < now or owner_gone(owner)
            ):
                continue
            final = "Stopped" if status == "Stopping" else "Failed"
            reason = None if final == "Stopped" else SCHEDULER_STOPPED
            owner_matches = Execution.owner.is_(None) if owner is None else Execution.owner == owner
            lease_matches = (
                Execution.lease_expires_at.is_(None)
                if lease is None
                else Execution.lease_expires_at == lease
            )
            with self.db.session() as session:
                done = session.execute(
                    update(Execution)
                    .where(
                        Execution.id == identifier,
                        Execution.status == status,
                        owner_matches,
                        lease_matches,
                    )
                    .values(
                        status=final,
                        failure_reason=reason,
                        end_time=now,
                        last_modified_time=now,
                        lease_expires_at=None,
                    )
                )
            if done.rowcount:
                log.warning("execution %s of %s was left %s: %s", identifier, owner, status, final)

    def _record_due_runs(self, now: dt.datetime) -> None:
        with self.db.session() as session:
            schedules = list(
                session.scalars(
                    select(MonitoringScheduleRow).where(
                        MonitoringScheduleRow.status.in_(("Pending", "Scheduled"))
                    )
                )
            )
        for row in schedules:
            if row.status == "Pending":
                with self.db.session() as session:
                    session.execute(
                        update(MonitoringScheduleRow)
                        .where(
                            MonitoringScheduleRow.name == row.name,
                            MonitoringScheduleRow.status == "Pending",
                        )
                        .values(status="Scheduled")
                    )
            try:
                expression = ScheduleExpression.parse(row.schedule_expression)
            except InputError as err:  # not possible through the API
                self._fail_schedule(row.name, str(err))
                continue
            if expression.is_one_time:
                continue
            run, skipped = due_runs(expression, since=row.since_time, now=now)
            if run is not None:
                self._record(row, expression, run, skipped, now)

    def _fail_schedule(self, name: str, reason: str) -> None:
        with self.db.session() as session:
            session.execute(
                update(MonitoringScheduleRow)
                .where(MonitoringScheduleRow.name == name)
                .values(status="Failed", failure_reason=reason)
            )

    def _definition(self, row: MonitoringScheduleRow) -> dict[str, Any]:
        """The MonitoringJobDefinition a schedule runs (inline, or its job definition's)."""
        inline = row.config.get("MonitoringJobDefinition")
        if inline is not None:
            return inline
        with self.db.session() as session:
            stored = session.get(MonitoringJobDefinitionRow, row.job_definition_name or "")
            if stored is None:
                raise _CannotRun(
                    f"the job definition {row.job_definition_name} of the schedule no longer exists"
                )
            return stored.definition

    def _record(
        self,
        row: MonitoringScheduleRow,
        expression: ScheduleExpression,
        run: dt.datetime,
        skipped: list[dt.datetime],
        now: dt.datetime,
    ) -> bool:
        """Record the run due at ``run`` (Pending, claimed by this instance) and the skipped
        ones; False when another scheduler recorded them first (or the schedule changed)."""
        config = row.config.get("ScheduleConfig") or {}
        start, end = config.get("DataAnalysisStartTime"), config.get("DataAnalysisEndTime")
        try:
            definition: dict[str, Any] | None = self._definition(row)
            reason = None
        except _CannotRun as err:
            definition, reason = None, str(err)

        def window(at: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
            return run_window(expression, at, definition, start, end) if definition else None

        executions = []
        for missed in skipped:
            try:
                missed_window = window(missed)
            except InputError:
                missed_window = None
            executions.append(
                new_execution(
                    settings=self.settings,
                    schedule=row,
                    scheduled=missed,
                    now=now,
                    definition=None,
                    window=missed_window,
                    status="Failed",
                    failure_reason=skipped_reason(missed, run),
                    skipped=True,
                )
            )
        try:
            due_window = window(run)
        except InputError as err:
            due_window, reason = None, f"the analysis window cannot be computed: {err}"
        executions.append(
            new_execution(
                settings=self.settings,
                schedule=row,
                scheduled=run,
                now=now,
                definition=definition,
                window=due_window,
                status="Failed" if reason else "Pending",
                failure_reason=reason,
                owner=None if reason else self.instance_id,
                lease_expires_at=None if reason else now + self.lease,
            )
        )
        try:
            with self.db.session() as session:
                session.add_all(executions)
                session.flush()  # the claim: the insert fails if the run is recorded already
                done = session.execute(
                    update(MonitoringScheduleRow)
                    .where(
                        MonitoringScheduleRow.name == row.name,
                        MonitoringScheduleRow.since_time == row.since_time,
                    )
                    .values(since_time=run, last_scheduled_time=run)
                )
                if done.rowcount != 1:
                    raise _Changed
        except (IntegrityError, _Changed):
            log.debug("run %s of %s was recorded by another scheduler", run, row.name)
            return False
        if skipped:
            log.warning(
                "schedule %s: %d run(s) missed while no scheduler ran were skipped; running %s",
                row.name,
                len(skipped),
                run.isoformat(),
            )
        return True

    def _start(self, now: dt.datetime) -> None:
        if self._closing.is_set():
            return
        free = self.max_concurrent - len(self.running())
        if free <= 0:
            return
        with self.db.session() as session:
            candidates = list(
                session.scalars(
                    select(Execution)
                    .where(Execution.status == "Pending")
                    .order_by(Execution.scheduled_time, Execution.creation_time)
                    .limit(free * 4 + 16)
                )
            )
        # Ours (recorded by this instance) or no one's: claimed together in one
        # statement. Another instance's, once its lease is gone: one by one.
        startable = [
            row
            for row in candidates
            if row.owner in (None, self.instance_id)
            or row.lease_expires_at is None
            or row.lease_expires_at < now
            or owner_gone(row.owner)
        ][:free]
        if not startable:
            return
        claimed = self._claim([r.id for r in startable if r.owner in (None, self.instance_id)], now)
        for row in startable:
            if row.owner not in (None, self.instance_id) and self._claim_taken(row, now):
                claimed.add(row.id)
        started = [row for row in startable if row.id in claimed]
        captures = self.monitoring.hosting.capture_destinations(
            endpoint for row in started if (endpoint := definition_endpoint(row.job_definition))
        )
        for row in started:
            self._launch(row, captures)

    def _claim(self, ids: list[str], now: dt.datetime) -> set[str]:
        """Claim the Pending executions ``ids`` (recorded by this instance or no one);
        the ids this instance now runs."""
        if not ids:
            return set()
        with self.db.session() as session:
            return set(
                session.scalars(
                    update(Execution)
                    .where(
                        Execution.id.in_(ids),
                        Execution.status == "Pending",
                        or_(Execution.owner.is_(None), Execution.owner == self.instance_id),
                    )
                    .values(
                        status="InProgress",
                        owner=self.instance_id,
                        lease_expires_at=now + self.lease,
                        start_time=now,
                        last_modified_time=now,
                    )
                    .returning(Execution.id)
                )
            )

    def _claim_taken(self, row: MonitoringExecutionRow, now: dt.datetime) -> bool:
        """Claim a Pending execution another instance recorded and no longer holds."""
        with self.db.session() as session:
            claimed = session.execute(
                update(Execution)
                .where(
                    Execution.id == row.id,
                    Execution.status == "Pending",
                    Execution.owner == row.owner,
                )
                .values(
                    status="InProgress",
                    owner=self.instance_id,
                    lease_expires_at=now + self.lease,
                    start_time=now,
                    last_modified_time=now,
                )
            )
        return claimed.rowcount == 1

    # -- running one execution ------------------------------------------------------------

    def _spec(self, row: MonitoringExecutionRow, captures: dict[str, str | None]) -> ExecutionSpec:
        definition = row.job_definition
        if not definition:
            raise _CannotRun(row.failure_reason or "the execution has no job definition")
        if row.window_start is None or row.window_end is None:
            raise _CannotRun("the execution has no analysis window")
        capture = None
        endpoint = definition_endpoint(definition)
        if endpoint:
            if endpoint not in captures:
                arn = self.settings.arn("endpoint", endpoint)
                raise _CannotRun(f'Could not find endpoint "{arn}". (EndpointInput.EndpointName)')
            capture = captures[endpoint]
            if capture is None:
                raise _CannotRun(
                    f"endpoint {endpoint} does not capture data (its DataCaptureConfig is off)"
                )
        environment = definition.get("Environment") or {}
        return ExecutionSpec(
            execution_id=row.id,
            schedule_name=row.schedule_name,
            scheduled_time=row.scheduled_time,
            window_start=row.window_start,
            window_end=row.window_end,
            job_definition=definition,
            work_dir=self.settings.executions_dir / row.id,
            monitoring_type=row.monitoring_type,
            capture_destination=capture,
            publish_cloudwatch_metrics=environment.get("publish_cloudwatch_metrics") != "Disabled",
        )

    def _launch(self, row: MonitoringExecutionRow, captures: dict[str, str | None]) -> None:
        try:
            spec = self._spec(row, captures)
        except _CannotRun as err:
            self._finish(row.id, "Failed", str(err), {})
            return
        run = _Running(threading.Event())
        with self._lock:
            self._running[row.id] = run
        log.info("execution %s of %s started", row.id, row.schedule_name)
        try:
            future = self._pool.submit(spec, run.stop)
        except Exception as err:  # the pool is shut down
            self._finish(row.id, "Failed", f"{SCHEDULER_STOPPED} ({err})", {})
            with self._lock:
                self._running.pop(row.id, None)
            return
        run.future = future
        future.add_done_callback(lambda done, identifier=row.id: self._done(identifier, done))

    def _done(self, identifier: str, future: Future[ExecutionResult]) -> None:
        with self._lock:
            override = self._overrides.pop(identifier, None)
        fields: dict[str, Any] = {}
        try:
            result = future.result()
        except BaseException as err:  # a runner bug (or a cancelled future): still an end
            log.error("execution %s crashed", identifier, exc_info=err)
            status, reason = "Failed", f"InternalServerError: {type(err).__name__}: {err}"
        else:
            status, reason = result.status, result.failure_reason
            fields = {
                "exit_message": result.exit_message or None,
                "report_uri": result.report_uri,
                "log_path": str(result.log_path) if result.log_path else None,
                "metrics_uri": str(result.metrics_file) if result.metrics_file else None,
            }
        if override is not None and status in ("Stopped", "Failed"):
            status, reason = override
        try:
            self._finish(identifier, status, reason, fields)
            if self.on_finished is not None:
                self.on_finished(identifier)
        except Exception:
            log.exception("cannot record the end of execution %s", identifier)
        finally:
            with self._lock:
                self._running.pop(identifier, None)
            self._wake.set()  # a slot is free: start the next Pending execution now
        log.info("execution %s ended: %s", identifier, status)

    def _finish(
        self, identifier: str, status: str, reason: str | None, fields: dict[str, Any]
    ) -> None:
        now = self.clock()
        with self.db.session() as session:
            session.execute(
                update(Execution)
                .where(
                    Execution.id == identifier,
                    Execution.owner == self.instance_id,
                    Execution.status.in_(RUNNING),
                )
                .values(
                    status=status,
                    failure_reason=reason,
                    end_time=now,
                    last_modified_time=now,
                    lease_expires_at=None,
                    **fields,
                )
            )
