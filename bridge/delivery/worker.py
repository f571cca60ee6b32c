"""The job queue (huey) and the worker that delivers outbox rows.

One configuration switch: SQLite in ``var_dir`` (embedded) or Redis (``redis_url``, scaled); the
same task runs on both. The queue is a trigger, not the record: a task names an outbox row, and
taking it off the queue removes it, so a worker killed mid-task loses the task but never the row.
The sweeper re-enqueues rows that are due or whose lease ran out; the guarantees rest on the
outbox alone. Connectors are handed in by the composition root (``bridge`` never imports them).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from huey import Huey, RedisHuey, SqliteHuey
from sqlalchemy.orm import Session

from bridge.db import Database, after_commit
from bridge.delivery import outbox
from bridge.delivery.models import OutboxStatus
from bridge.delivery.rules import RetryPolicy
from bridge.delivery.values import Outcome, RetryLater
from bridge.ledger.models import LedgerEntry
from bridge.vault import SecretBox
from config import Settings

log = logging.getLogger(__name__)
QUEUE_NAME = "social-bridge"
EXTENSION_KEY = "bridge.jobs"
WAKE_KEY = "bridge_outbox_wake"
#: Rows one task attempts together: fewer, larger transactions (SQLite has one writer).
BATCH = 25


class Deliverer(Protocol):
    """Sends one claimed row to its target (the connectors registry, wired by the app)."""

    def deliver(self, claim: outbox.Claim) -> Outcome: ...


def make_queue(settings: Settings) -> Huey:
    if settings.redis_url:
        # Installations sharing one Redis keep apart by their database: every process of one
        # installation shares its database URL, and no two installations do.
        digest = hashlib.sha256(settings.effective_database_url.encode()).hexdigest()[:12]
        return RedisHuey(f"{QUEUE_NAME}-{digest}", url=settings.redis_url, results=False)
    settings.var_path.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(QUEUE_NAME, filename=str(settings.var_path / "jobs.db"), results=False)


class Jobs:
    """The queue and its tasks for one app: web processes enqueue, ``bridge worker`` consumes."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        box: SecretBox,
        deliverer: Callable[[], Deliverer],
    ) -> None:
        self.settings, self.database, self.box = settings, database, box
        self.queue = make_queue(settings)
        self.policy = RetryPolicy(
            settings.delivery_max_attempts,
            settings.delivery_backoff_seconds,
            settings.delivery_backoff_max_seconds,
        )
        self._make_deliverer = deliverer
        self._deliverer: Deliverer | None = None
        self._lock = threading.Lock()
        self._task = self.queue.task(name="deliver")(self.deliver)
        self._tasks: dict[str, Any] = {}

    # -- other jobs --------------------------------------------------------------------------

    def add_task(self, name: str, function: Callable[..., object]) -> None:
        """Register a job the composition root wires (e.g. a roster sync); runs on the worker."""
        self._tasks[name] = self.queue.task(name=name)(function)

    def enqueue(self, name: str, *args: object) -> None:
        """Queue job ``name``; a queue failure is logged, never raised into the caller."""
        try:
            self._tasks[name](*args)
        except Exception:
            log.exception("could not enqueue job %s", name)

    def enqueue_after_commit(self, session: Session, name: str, *args: object) -> None:
        after_commit(session, lambda: self.enqueue(name, *args))

    # -- producing ---------------------------------------------------------------------------

    def record(self, session: Session, entry: LedgerEntry) -> None:
        """Write the entry's outbox rows (same transaction) and wake the worker once committed."""
        ids = outbox.write_rows(session, entry)
        if not ids:
            return
        pending = session.info.get(WAKE_KEY)
        if pending is None:  # one wake-up per transaction, however many entries it wrote
            pending = session.info[WAKE_KEY] = []
            after_commit(session, lambda: self.wake(session.info.pop(WAKE_KEY, pending)))
        pending.extend(ids)

    def wake(self, outbox_ids: Iterable[uuid.UUID]) -> None:
        """Enqueue rows just committed; a queue failure only delays them until the next sweep."""
        ids = [str(i) for i in outbox_ids]
        try:
            for start in range(0, len(ids), BATCH):
                self._task(ids[start : start + BATCH])
        except Exception:
            log.exception("could not enqueue deliveries; the sweeper will pick them up")

    def sweep(self) -> int:
        """Enqueue every row that is due or stuck; returns how many."""
        with self.database.transaction() as session:
            ids = outbox.due_ids(session)
        self.wake(ids)
        return len(ids)

    # -- consuming ---------------------------------------------------------------------------

    def deliverer(self) -> Deliverer:
        with self._lock:
            if self._deliverer is None:
                self._deliverer = self._make_deliverer()
            return self._deliverer

    def deliver(self, ids: list[str]) -> dict[str, str]:
        """One attempt at each of these rows that is still due: claim them (one short
        transaction), send each (no transaction open), settle them (one short transaction)."""
        wanted = [uuid.UUID(i) for i in ids]
        with self.database.read_sessions() as session:
            wanted = outbox.claimable(session, wanted)
        if not wanted:
            return {}
        dead: list[uuid.UUID] = []
        with self.database.transaction() as session:
            lease = self.settings.delivery_lease_seconds
            claims = outbox.claim(session, wanted, lease, self.box, dead)
        # Stop sending while the lease still covers a slow attempt: past it, the sweeper hands
        # the rows to another worker, and both would send them.
        send_until = time.monotonic() + lease - 3 * self.settings.http_timeout_seconds
        statuses = {str(row_id): OutboxStatus.DEAD for row_id in dead}
        if not claims:
            return statuses
        results = [(c.item.outbox_id, c.item.attempt, self._send(c, send_until)) for c in claims]
        with self.database.transaction() as session:
            settled = outbox.settle(session, results, self.policy)
        for settled_id, found in settled.items():
            if found.retry_in is not None:
                self._task.schedule(args=([str(settled_id)],), delay=found.retry_in)
        statuses.update({str(settled_id): found.status for settled_id, found in settled.items()})
        return statuses

    def deliver_one(self, outbox_id: str) -> str:
        """``deliver`` for one row: its new status, or why nothing happened."""
        return self.deliver([outbox_id]).get(outbox_id, "not due")

    def _send(self, claim: outbox.Claim, send_until: float) -> Outcome:
        if time.monotonic() > send_until:
            return RetryLater("not sent: the batch ran out of time before this row", 0)
        try:
            return self.deliverer().deliver(claim)
        except Exception as error:  # a connector must not raise; if one does, try again later
            log.exception("deliverer raised on outbox %s", claim.item.outbox_id)
            return RetryLater(f"unexpected error: {type(error).__name__}")

    def run_worker(self, threads: int | None = None) -> None:
        """Consume until stopped, with the sweeper beside the consumer: SIGTERM lets running
        attempts finish; SIGINT (Ctrl+C) stops at once (their rows are picked up again when
        their lease ends)."""
        stop = threading.Event()
        sweeper = threading.Thread(target=self._sweep_forever, args=(stop,), daemon=True)
        sweeper.start()
        consumer = self.queue.create_consumer(
            workers=threads or self.settings.worker_threads,
            worker_type="thread",
            periodic=False,
            initial_delay=0.05,
            backoff=1.5,
            max_delay=self.settings.worker_poll_seconds,
            scheduler_interval=1,
            graceful_signal="TERM",  # service managers stop with SIGTERM: finish the attempts
        )
        try:
            consumer.run()
        finally:
            stop.set()

    def _sweep_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                count = self.sweep()
                if count:
                    log.info("sweeper re-enqueued %d due or stuck deliveries", count)
            except Exception:
                log.exception("sweep failed; trying again at the next interval")
            stop.wait(self.settings.sweep_seconds)


def current_jobs() -> Jobs:
    from flask import current_app  # noqa: PLC0415 - the worker core itself never needs Flask

    return current_app.extensions[EXTENSION_KEY]
