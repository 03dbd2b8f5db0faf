"""Finished capture files on their way from the spool to the object store.

Publishing runs in its own thread so that a slow or unreachable store never
holds up the writing of new records. A file that cannot be published stays in
the spool and is retried with exponential backoff; it is never dropped.
"""

from __future__ import annotations

import logging
import threading
import time

from modelmon.serving.capture.spool import PendingFile
from modelmon.storage.files import publish_file

log = logging.getLogger("modelmon.capture")


class Outbox:
    """The files waiting to be published, and the counts of those that were."""

    def __init__(self, retry_delay: float = 1.0, max_retry_delay: float = 60.0) -> None:
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.written = 0  # records in published files
        self.files_published = 0
        self._items: list[PendingFile] = []
        self._changed = threading.Condition()
        self._publishing = threading.Lock()  # one publisher at a time

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: PendingFile) -> None:
        with self._changed:
            if all(other.path != item.path for other in self._items):
                self._items.append(item)
            self._changed.notify_all()

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def publish(self, *, force: bool = False) -> bool:
        """Publish every file that is due (every file when ``force``).

        Returns True when no file is left waiting.
        """
        with self._publishing:
            now = time.monotonic()
            with self._changed:
                due = [p for p in self._items if force or p.next_attempt <= now]
            for item in due:
                if self._publish_one(item):
                    with self._changed:
                        self._items.remove(item)
            with self._changed:
                return not self._items

    def _publish_one(self, item: PendingFile) -> bool:
        if not item.path.exists():  # published by another process's recovery
            log.warning("capture spool file %s is gone; not publishing it", item.path)
            item.sidecar.unlink(missing_ok=True)
            return True
        try:
            publish_file(item.path, item.target)
        except Exception as err:
            item.attempts += 1
            delay = min(self.max_retry_delay, self.retry_delay * 2 ** (item.attempts - 1))
            item.next_attempt = time.monotonic() + delay
            log.warning(
                "cannot publish capture file %s to %s (attempt %d, retrying in %.0f s): %s",
                item.path,
                item.target,
                item.attempts,
                delay,
                err,
            )
            return False
        try:
            item.sidecar.unlink(missing_ok=True)
        except OSError as err:  # recovery removes it once it is stale
            log.warning("cannot remove capture sidecar %s: %s", item.sidecar, err)
        self.written += item.records
        self.files_published += 1
        if item.attempts:
            log.info("published capture file %s after %d failures", item.target, item.attempts)
        return True

    def _wait_time(self) -> float | None:
        """Seconds until a file is due (0: now); None when there is none."""
        if not self._items:
            return None
        return max(0.0, min(p.next_attempt for p in self._items) - time.monotonic())

    def run(self, stopped: threading.Event) -> None:
        """Publish files as they come and come due, until ``stopped`` is set."""
        while True:
            with self._changed:
                while not stopped.is_set():
                    wait = self._wait_time()
                    if wait == 0.0:
                        break
                    self._changed.wait(wait)
                if stopped.is_set():
                    return
            try:
                self.publish()
            except Exception:  # never let the thread die
                log.exception("capture publisher failed; retrying")
                stopped.wait(1.0)
