"""Asynchronous inference workers: take queued requests, run the model, write, notify.

An :class:`AsyncWorker` runs in a ``modelmon worker`` process (:func:`run_worker`):
the child process ``modelmon serve`` starts (unless ``MODELMON_ASYNC_WORKERS=off``,
:mod:`modelmon.serving.worker_process`) or ones started alone. Its loop claims
requests of the endpoints this process serves
(:class:`~modelmon.serving.async_queue.AsyncQueue`), up to :data:`CLAIM_AHEAD` (or
the limit, if larger) per endpoint ahead, and runs them in the endpoint's pool of
``MaxConcurrentInvocationsPerInstance`` threads: the model never has more
invocations at once in this process (each server or worker process is one
"instance": N processes run up to N × the limit at once). Results are written,
notified and recorded by one finisher thread, in batches (the output objects of a
batch share their directory syncs, their outcomes one statement):

1. a request claimed again after a crash whose output (or failure) object
   already exists keeps that outcome (no second run, no second object);
2. past its ``RequestTTLSeconds`` it fails without running;
3. the input is the request body, or the object at ``InputLocation``;
4. the model runs through the endpoint's runtime (the real-time path's
   :class:`~modelmon.serving.runtimes.Runtime`, same variant choice, same data
   capture); one not done within ``InvocationTimeoutSeconds`` fails (its thread
   keeps its concurrency slot until the model returns);
5. the output goes to ``{S3OutputPath}/{uuid}.out`` (failures to
   ``{S3FailurePath}/{uuid}-error.out``, the reason as text), atomically, under
   the name fixed at enqueue time, so a repeat rewrites the same object;
6. the success or error notification (SPEC §7 bodies,
   :mod:`modelmon.formats.async_notification`) is handed to ``publish`` with
   the dedupe key ``{request id}:{Completed|Failed}``, so a repeat never
   notifies twice;
7. the outcome is recorded, if this worker still holds the lease.

A crash anywhere before 7 makes another worker (or the restarted one) repeat
the request once its lease expires, or at once when the crashed process was
on this host.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from queue import Empty, SimpleQueue

from modelmon.config import Settings
from modelmon.db import Database
from modelmon.db.leases import instance_name
from modelmon.db.models import utcnow
from modelmon.errors import InputError, ModelmonError
from modelmon.formats.async_notification import inference_result, test_notification
from modelmon.serving.async_queue import AsyncQueue, Finished, Job
from modelmon.serving.async_request import AsyncConfig
from modelmon.serving.capture import CaptureEvent, CaptureWriter, should_sample
from modelmon.serving.host import Host, LiveEndpoint
from modelmon.serving.registry import Hosting
from modelmon.serving.runtimes import InvocationError, Prediction
from modelmon.storage import files

log = logging.getLogger("modelmon.async")

Publish = Callable[[str, str, str], object]
"""``publish(topic_arn, message, dedupe_key)``: the notification topics' publish."""

POLL_INTERVAL = 0.5  # seconds between looks at the queue when nothing wakes the worker
WATCH_INTERVAL = 0.1  # seconds between timeout checks while requests run
CLAIM_GAP = 0.002  # seconds at least between claims: requests queued meanwhile share one
PURGE_INTERVAL = 3600.0
CLAIM_AHEAD = 64  # requests claimed beyond those running, per endpoint: fewer, larger claims
FINISH_BATCH = 256  # outcomes written and recorded together at most
# Requests that take less than this (on average, input read and model) run one after
# another in one pool thread: switching threads would cost more than they do. Slower ones
# spread over the pool, one per thread at a time.
FAST_SECONDS = 0.002
RETENTION = dt.timedelta(
    days=7
)  # finished requests are kept (inference ids deduplicated) this long
OCTET_STREAM = "application/octet-stream"


def async_config(endpoint: LiveEndpoint) -> AsyncConfig | None:
    """The endpoint's AsyncInferenceConfig (None without one; InputError when malformed)."""
    return _CONFIGS.get(endpoint)


class _ConfigCache:
    """Parsed configs per served endpoint (name, config, generation)."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[str, str, int], AsyncConfig | None] = {}
        self._lock = threading.Lock()

    def get(self, endpoint: LiveEndpoint) -> AsyncConfig | None:
        key = (endpoint.name, endpoint.config_name, endpoint.generation)
        try:
            return self._parsed[key]
        except KeyError:
            pass
        config = AsyncConfig.from_config(endpoint.async_config)  # or InputError
        with self._lock:
            if len(self._parsed) > 1000:
                self._parsed.clear()
            self._parsed[key] = config
        return config


_CONFIGS = _ConfigCache()


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a request ended: ``body`` is the output (Completed) or the failure text (Failed)."""

    status: str
    body: bytes
    content_type: str | None = None
    failure_reason: str | None = None
    event_at: dt.datetime | None = None


class _Running:
    """A request in flight in this process."""

    __slots__ = ("chunk", "config", "deadline", "decided", "endpoint", "job", "started")

    def __init__(self, job: Job, endpoint: LiveEndpoint, config: AsyncConfig) -> None:
        self.job = job
        self.endpoint = endpoint
        self.config = config
        self.chunk: deque[_Running] = deque()  # the requests queued behind it in its thread
        self.deadline: float | None = None  # monotonic time the model must answer by
        self.decided = False
        self.started = False  # taken from the endpoint's pool (not only claimed ahead)


def model_failure(err: InvocationError) -> str:
    """The failureReason of a model that answered an error (as the real-time ModelError)."""
    kind = "client" if 400 <= err.status < 500 else "server"
    return (
        f"ClientError: Received {kind} error ({err.status}) from model with message "
        f'"{err.message}". See the modelmon server log for more information.'
    )


class AsyncWorker:
    """Processes queued asynchronous requests of the endpoints ``endpoints()`` returns."""

    def __init__(
        self,
        queue: AsyncQueue,
        endpoints: Callable[[], Mapping[str, LiveEndpoint]],
        *,
        region: str,
        writer: CaptureWriter | None = None,
        publish: Publish | None = None,
        instance_id: str | None = None,
        poll_interval: float = POLL_INTERVAL,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.queue = queue
        self.endpoints = endpoints
        self.region = region
        self.writer = writer
        self.publish = publish
        self.instance_id = instance_id or instance_name()
        self.poll_interval = poll_interval
        self.clock = clock
        self._running: dict[str, _Running] = {}
        self._in_flight: dict[str, int] = {}
        self._pools: dict[str, tuple[int, ThreadPoolExecutor]] = {}
        self._job_seconds: dict[str, float] = {}  # per endpoint: moving average
        self._bad_configs: set[tuple[str, int]] = set()
        self._announced: set[tuple[str, str, int]] = set()
        self._done: SimpleQueue[tuple[_Running, Outcome] | None] = SimpleQueue()
        self._finisher = threading.Thread(
            target=self._finish_forever, name="modelmon-async-finish", daemon=True
        )
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def wake(self) -> None:
        """Look at the queue now (a request was queued); callable from any thread."""
        self._wake.set()

    def start(self) -> AsyncWorker:
        """Run :meth:`run_forever` in a background thread."""
        self._finisher.start()
        self._thread = threading.Thread(target=self.run_forever, name="modelmon-async", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; wait up to ``timeout`` s for requests in flight, give back the rest."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout + 5)
        for _, pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)  # claimed ahead: never started
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not any(r.started for r in self._running.values()):
                    break
            time.sleep(0.02)
        with self._lock:
            left = [r.job.id for r in self._running.values() if not r.decided]
        try:
            self.queue.release(self.instance_id, left)
        except Exception:  # the next worker takes them when their lease expires
            log.exception("could not give back %d asynchronous requests", len(left))
        if self._finisher.is_alive():  # what it holds is written; the rest: leases run out
            self._done.put(None)
            self._finisher.join(max(1.0, deadline - time.monotonic()))

    def in_flight(self) -> int:
        """Requests this process has claimed whose model call has not returned yet."""
        with self._lock:
            return sum(self._in_flight.values())

    def run_forever(self) -> None:
        """Claim, watch timeouts and renew leases until :meth:`stop`."""
        log.info("asynchronous inference worker %s started", self.instance_id)
        lease = self.queue.lease.total_seconds()
        next_poll = next_beat = next_recover = next_claim = 0.0
        next_purge = time.monotonic() + 60.0
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                if now >= next_recover:
                    self.queue.recover(self.instance_id)
                    next_recover = now + lease / 3
                if (self._wake.is_set() and now >= next_claim) or now >= next_poll:
                    self._wake.clear()
                    self.claim_round()
                    next_poll = now + self.poll_interval
                    next_claim = time.monotonic() + CLAIM_GAP
                self._watch()
                if now >= next_beat:
                    with self._lock:
                        held = [r.job.id for r in self._running.values() if not r.decided]
                    self.queue.renew(self.instance_id, held)
                    next_beat = now + lease / 3
                if now >= next_purge:
                    self.queue.purge(RETENTION)
                    next_purge = now + PURGE_INTERVAL
            except Exception:  # keep working; the next round retries
                log.exception("asynchronous worker round failed")
                time.sleep(min(self.poll_interval, 1.0))
            if self._wake.is_set():  # woken within the gap: claim when it ends
                self._stop.wait(max(0.0, next_claim - time.monotonic()))
            else:
                self._wake.wait(WATCH_INTERVAL if self._running else self.poll_interval)
        log.info("asynchronous inference worker %s stopped", self.instance_id)

    # -- claiming -----------------------------------------------------------------------

    def claim_round(self) -> int:
        """Claim what every served async endpoint has room for; how many were claimed."""
        claimed = 0
        for name, endpoint in list(self.endpoints().items()):
            if endpoint.async_config is None or self._stop.is_set():
                continue
            try:
                config = async_config(endpoint)
            except InputError as err:
                if (name, endpoint.generation) not in self._bad_configs:
                    self._bad_configs.add((name, endpoint.generation))
                    log.error("endpoint %s: AsyncInferenceConfig: %s", name, err)
                continue
            assert config is not None
            self._announce(endpoint, config)
            ahead = _ahead(config)
            with self._lock:  # claimed ahead of the pool, whose size is the limit
                held = self._in_flight.get(name, 0)
            free = config.max_concurrency + ahead - held
            if free <= 0 or (held >= config.max_concurrency and free < ahead // 2):
                continue  # the pool has work: wait to claim a larger batch
            jobs = self.queue.claim(self.instance_id, name, free)
            self._submit(jobs, endpoint, config)
            claimed += len(jobs)
        return claimed

    def _pool(self, name: str, size: int) -> ThreadPoolExecutor:
        with self._lock:
            current = self._pools.get(name)
            if current is not None and current[0] == size:
                return current[1]
            pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix=f"async-{name}")
            self._pools[name] = (size, pool)
        if current is not None:
            # the limit changed (UpdateEndpoint): what the old pool holds finishes there
            current[1].shutdown(wait=False)
        return pool

    def _submit(self, jobs: list[Job], endpoint: LiveEndpoint, config: AsyncConfig) -> None:
        """Hand claimed requests to the endpoint's pool: all in one chunk when its requests
        are fast (:data:`FAST_SECONDS`), else one per chunk (also until a time is measured)."""
        if not jobs:
            return
        name = endpoint.name
        runnings = [_Running(job, endpoint, config) for job in jobs]
        with self._lock:
            for running in runnings:
                self._running[running.job.id] = running
            self._in_flight[name] = self._in_flight.get(name, 0) + len(runnings)
        seconds = self._job_seconds.get(name)
        size = len(runnings) if seconds is not None and seconds < FAST_SECONDS else 1
        for start in range(0, len(runnings), size):
            self._run_chunk(deque(runnings[start : start + size]))

    def _run_chunk(self, chunk: deque[_Running]) -> None:
        """Queue ``chunk`` in its endpoint's pool: one thread runs its requests in turn."""
        head = chunk[0]
        try:
            self._pool(head.job.endpoint_name, head.config.max_concurrency).submit(
                self._process_chunk, chunk
            )
        except RuntimeError:  # shutting down
            for running in chunk:
                self._slot_free(running)
                self._forget(running)

    def _process_chunk(self, chunk: deque[_Running]) -> None:
        while not self._stop.is_set():  # when stopping, the rest are given back (stop)
            try:
                running = chunk.popleft()  # atomic: a timeout may take the rest away
            except IndexError:
                return
            running.chunk = chunk
            self._process(running)

    def _notify(self, topic: str, message: str, dedupe_key: str) -> None:
        """Publish to ``topic``; a topic that does not exist (deleted since the endpoint
        config named it) is logged, and the request still ends."""
        if self.publish is None:
            return
        try:
            self.publish(topic, message, dedupe_key)
        except ModelmonError as err:
            log.error("cannot notify %s: %s", topic, err)

    def _announce(self, endpoint: LiveEndpoint, config: AsyncConfig) -> None:
        """SageMaker's TestNotification to the endpoint's topics, once per endpoint
        version (CreateEndpoint, UpdateEndpoint)."""
        key = (endpoint.name, endpoint.config_name, endpoint.generation)
        if key in self._announced:
            return
        self._announced.add(key)
        for topic in dict.fromkeys(t for t in (config.success_topic, config.error_topic) if t):
            self._notify(topic, test_notification(), "test-notification:" + ":".join(map(str, key)))

    def _slot_free(self, running: _Running) -> None:
        config = running.config
        with self._lock:
            name = running.job.endpoint_name
            held = self._in_flight[name] = self._in_flight.get(name, 1) - 1
        if held <= config.max_concurrency + _ahead(config) // 2:
            self._wake.set()  # room to claim a batch more

    def _forget(self, running: _Running) -> None:
        with self._lock:
            self._running.pop(running.job.id, None)

    # -- one request ----------------------------------------------------------------------

    def _process(self, running: _Running) -> None:
        """Run the model (in the endpoint's pool); hand the outcome to the finisher."""
        running.started = True
        outcome = None
        started = time.perf_counter()
        try:
            outcome = self._outcome(running)
            seconds = time.perf_counter() - started
            name = running.job.endpoint_name
            average = self._job_seconds.get(name)
            self._job_seconds[name] = (
                seconds if average is None else average + 0.2 * (seconds - average)
            )
        except Exception:  # left InProgress: retried when the lease expires
            log.exception("asynchronous request %s failed unexpectedly", running.job.id)
        finally:
            self._slot_free(running)
        if outcome is None or not self._decide(running, outcome):
            self._forget(running)  # unexpected error, or timed out meanwhile

    def _decide(self, running: _Running, outcome: Outcome) -> bool:
        """Make ``outcome`` the request's (False if it already has one) and queue it for the
        finisher."""
        with self._lock:
            if running.decided:
                return False
            running.decided = True
        self._done.put((running, outcome))
        return True

    def _finish_forever(self) -> None:
        """The finisher: write, notify and record outcomes, in batches, until stopped."""
        while True:
            item = self._done.get()
            batch: list[tuple[_Running, Outcome]] = []
            while item is not None:
                batch.append(item)
                if len(batch) >= FINISH_BATCH:
                    break
                try:
                    item = self._done.get_nowait()
                except Empty:
                    break
            if batch:
                try:
                    self._finish(batch)
                except Exception:  # left InProgress: retried when their leases expire
                    log.exception("finishing %d asynchronous requests failed", len(batch))
                finally:
                    for running, _ in batch:
                        self._forget(running)
            if item is None:
                return

    def _outcome(self, running: _Running) -> Outcome | None:
        job = running.job
        if job.attempts > 1:
            earlier = _written_outcome(job)
            if earlier is not None:
                return earlier
        if self.clock() > job.expires_at:
            ttl = round((job.expires_at - job.received_time).total_seconds())
            return _failure(
                f"ClientError: Request expired: it was not processed within its "
                f"RequestTTLSeconds ({ttl} s)."
            )
        if job.body is not None:
            payload = job.body
        else:
            try:
                payload = files.read_bytes(job.input_location)
            except (InputError, OSError) as err:
                reason = err.reason if isinstance(err, InputError) else str(err)
                return _failure(
                    f"ClientError: Failed to read the input from InputLocation "
                    f"{job.input_location}: {reason}"
                )
        variant = running.endpoint.variant()
        assert variant is not None
        running.deadline = time.monotonic() + job.timeout_seconds
        try:
            prediction = variant.runtime.invoke(payload, job.content_type, job.accept)
        except InvocationError as err:
            return _failure(model_failure(err))
        except Exception as err:  # a runtime bug is the model's failure
            return _failure(model_failure(InvocationError(500, f"{type(err).__name__}: {err}")))
        if running.decided:  # timed out meanwhile: that failure stands
            return None
        self._capture(running, variant.name, payload, prediction)
        return Outcome("Completed", prediction.body, prediction.content_type)

    def _capture(
        self, running: _Running, variant: str, payload: bytes, prediction: Prediction
    ) -> None:
        capture = running.endpoint.capture
        writer = self.writer
        if capture is None or writer is None:
            return
        job = running.job
        if not should_sample(capture.percentage, job.inference_id):
            writer.count_sampled_out()
            return
        writer.submit(
            CaptureEvent(
                destination=capture.destination,
                endpoint=job.endpoint_name,
                variant=variant,
                request_body=payload if capture.capture_input else None,
                request_content_type=job.content_type,
                response_body=prediction.body if capture.capture_output else None,
                response_content_type=prediction.content_type,
                content_types=capture.types,
                inference_id=job.inference_id,
                custom_attributes=job.custom_attributes,
                inference_time=time.time(),
            )
        )

    def _watch(self) -> None:
        """Fail the requests whose model has not answered within their timeout."""
        now = time.monotonic()
        with self._lock:
            late = [
                r
                for r in self._running.values()
                if r.deadline is not None and now > r.deadline and not r.decided
            ]
        for running in late:
            seconds = running.job.timeout_seconds
            self._decide(
                running,
                _failure(
                    f"ModelError: the model did not answer within InvocationTimeoutSeconds "
                    f"({seconds} s)."
                ),
            )
            # the requests queued behind it in its thread go to other threads, one each
            while True:
                try:
                    waiting = running.chunk.pop()
                except IndexError:
                    break
                self._run_chunk(deque([waiting]))

    def _finish(self, batch: list[tuple[_Running, Outcome]]) -> None:
        """Write the result objects, notify, record the outcomes (a request whose object
        could not be written stays InProgress: it is repeated when its lease expires)."""
        errors = files.atomic_write_many(
            [(_location(running.job, outcome), outcome.body) for running, outcome in batch]
        )
        finished = []
        for (running, outcome), error in zip(batch, errors, strict=True):
            job, config = running.job, running.config
            if error is not None:
                log.error(
                    "asynchronous request %s: writing %s failed: %s",
                    job.id,
                    _location(job, outcome),
                    error,
                )
                continue
            completed = outcome.status == "Completed"
            topic = config.success_topic if completed else config.error_topic
            if topic:
                include = config.include_in_success if completed else config.include_in_error
                self._notify(
                    topic, self._message(job, outcome, include), f"{job.id}:{outcome.status}"
                )
            finished.append(
                Finished(job.id, outcome.status, outcome.content_type, outcome.failure_reason)
            )
        # not waited for: if it is lost (a crash), the requests are repeated, idempotently
        self.queue.finish_many(self.instance_id, finished).add_done_callback(_log_failure)

    def _message(self, job: Job, outcome: Outcome, include: bool) -> str:
        completed = outcome.status == "Completed"
        return inference_result(
            region=self.region,
            event_at=outcome.event_at or self.clock(),
            received_at=job.received_time,
            endpoint_name=job.endpoint_name,
            input_location=job.input_location,
            content_type=job.content_type or OCTET_STREAM,
            accept=job.accept,
            inference_id=job.inference_id,
            output_location=job.output_location if completed else None,
            response_content_type=(outcome.content_type or job.accept or OCTET_STREAM)
            if completed
            else None,
            failure_reason=None if completed else (outcome.failure_reason or ""),
            failure_location=None if completed else job.failure_location,
            response_body=outcome.body if include else None,
        )


def _ahead(config: AsyncConfig) -> int:
    """How many requests of an endpoint are claimed beyond its concurrency limit."""
    return max(config.max_concurrency, CLAIM_AHEAD)


def _location(job: Job, outcome: Outcome) -> str:
    """Where ``outcome``'s object goes: the output location, or the failure location."""
    return job.output_location if outcome.status == "Completed" else job.failure_location


def _log_failure(future: Future[int]) -> None:
    if future.exception() is not None:
        log.error("could not record an asynchronous request's outcome: %s", future.exception())


def _failure(reason: str) -> Outcome:
    """A failure: its object (and any included response body) holds the reason."""
    return Outcome("Failed", reason.encode("utf-8"), None, reason)


def _written_outcome(job: Job) -> Outcome | None:
    """The outcome an earlier attempt wrote (it crashed before recording it), if any."""
    for location, status in ((job.output_location, "Completed"), (job.failure_location, "Failed")):
        try:
            if not files.exists(location):
                continue
            body = files.read_bytes(location)
        except (InputError, OSError):
            continue
        if status == "Completed":
            return Outcome(status, body, job.accept or OCTET_STREAM)
        reason = body.decode("utf-8", "replace")
        return Outcome(status, body, None, reason)
    return None


def run_worker(
    settings: Settings,
    stop: threading.Event,
    *,
    make_publish: Callable[[Database], Publish | None] | None = None,
    on_started: Callable[[AsyncWorker], None] | None = None,
    endpoints_changed: threading.Event | None = None,
) -> None:
    """``modelmon worker``: serve the async endpoints' models and work the queue until ``stop``.

    The process loads the live endpoints that have an AsyncInferenceConfig (as a
    server replica does, real-time ones left to the servers), runs its own capture
    writer on the shared spool, and stops as :meth:`AsyncWorker.stop` does (requests
    in flight get 30 s). ``make_publish`` builds the notification publisher on the
    worker's database; ``on_started`` receives the worker once it runs (to wake it);
    setting ``endpoints_changed`` reconciles the endpoints at once rather than at the
    next ``reconcile_interval``.
    """
    settings.prepare()
    db = Database(settings.database_url)
    host = Host(Hosting(db, settings), settings, async_only=True)
    writer = CaptureWriter(
        settings.capture_spool_dir,
        queue_size=settings.capture_queue_size,
        disk_threshold=settings.capture_disk_threshold,
    ).start()
    worker = AsyncWorker(
        AsyncQueue(db),
        lambda: host.endpoints,
        region=settings.region,
        writer=writer,
        publish=make_publish(db) if make_publish is not None else None,
    )
    changed = endpoints_changed or threading.Event()
    try:
        host.reconcile()
        worker.start()
        if on_started is not None:
            on_started(worker)
        next_reconcile = time.monotonic() + settings.reconcile_interval
        while not stop.wait(0.05):
            if not changed.is_set() and time.monotonic() < next_reconcile:
                continue
            changed.clear()
            try:
                host.reconcile()
            except Exception:  # keep working; the next round retries
                log.exception("reconciling endpoints failed")
            next_reconcile = time.monotonic() + settings.reconcile_interval
    finally:
        worker.stop(timeout=30.0)
        writer.stop()
        db.dispose()
