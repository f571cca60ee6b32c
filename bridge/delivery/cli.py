"""``bridge worker``, ``bridge outbox list|retry|retry-dead`` and ``bridge ledger verify``."""

from __future__ import annotations

import uuid

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from bridge import migrate, processes
from bridge.delivery import outbox as outbox_service
from bridge.delivery.models import OutboxItem, OutboxStatus
from bridge.delivery.worker import current_jobs
from bridge.ledger import service as ledger_service
from bridge.runtime import runtime

outbox = AppGroup("outbox", help="Deliveries of completions to the configured targets.")
ledger = AppGroup("ledger", help="The append-only, hash-chained ledger of completions.")


@click.command("worker")
@click.option(
    "--threads", type=int, default=None, help="Delivery threads (default: worker_threads)."
)
@click.option(
    "--processes",
    "count",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes (default: worker_processes).",
)
@with_appcontext
def worker(threads: int | None, count: int | None) -> None:
    """Deliver outbox rows until stopped (SIGTERM lets running attempts finish; Ctrl+C stops
    at once, and the interrupted rows are sent again once their lease ends)."""
    database = runtime().database
    if migrate.current_revision(database) != migrate.head_revision(database):
        raise click.ClickException("The database is not migrated: run `bridge setup` first.")
    settings = runtime().settings
    count = count or settings.worker_processes
    threads = threads or settings.worker_threads
    where = "Redis" if settings.redis_url else f"SQLite ({settings.var_path / 'jobs.db'})"
    click.echo(f"Delivery worker: queue on {where}, {count} process(es) x {threads} threads.")
    extra = [
        processes.spawn("worker", "--processes", "1", "--threads", str(threads))
        for _ in range(count - 1)
    ]
    try:
        current_jobs().run_worker(threads)
    finally:
        for child in extra:
            processes.stop(child)


@outbox.command("list")
@click.option(
    "--status",
    type=click.Choice([OutboxStatus.PENDING, OutboxStatus.DELIVERED, OutboxStatus.DEAD]),
    default=None,
    help="Only rows in this state.",
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def outbox_list(status: str | None, limit: int) -> None:
    """The newest outbox rows: target, state, attempts, and the last answer."""
    query = select(OutboxItem).order_by(OutboxItem.created_at.desc()).limit(limit)
    if status:
        query = query.where(OutboxItem.status == status)
    with runtime().database.transaction() as session:
        rows = session.scalars(query).all()
        if not rows:
            click.echo("No outbox rows" + (f" with status {status}." if status else "."))
            return
        for row in rows:
            when = row.delivered_at or row.next_attempt_at
            answer = f"HTTP {row.last_status} " if row.last_status else ""
            if row.last_reason.startswith("HTTP"):  # the reason already names the status
                answer = ""
            click.echo(
                f"{row.id}  {row.connector:<8} {row.status:<9} attempts={row.attempts:<3} "
                f"{when:%Y-%m-%d %H:%M:%S}  {answer}{row.last_reason[:100]}"
            )


def _wake(ids: list[uuid.UUID]) -> None:
    current_jobs().wake(ids)
    noun = "row" if len(ids) == 1 else "rows"
    click.secho(f"{len(ids)} outbox {noun} queued for delivery.", fg="green")


@outbox.command("retry")
@click.argument("ids", nargs=-1, required=True, type=click.UUID)
@with_appcontext
def outbox_retry(ids: tuple[uuid.UUID, ...]) -> None:
    """Deliver these rows now (pending ones skip their wait; dead ones get a new round)."""
    with runtime().database.transaction() as session:
        touched = outbox_service.retry(session, ids)
    missing = set(ids) - set(touched)
    if missing:
        click.secho(
            "Not found, already delivered, or being sent right now: "
            + ", ".join(map(str, sorted(missing, key=str))),
            fg="yellow",
            err=True,
        )
    _wake(touched)
    if missing:
        raise SystemExit(1)


@outbox.command("retry-dead")
@with_appcontext
def outbox_retry_dead() -> None:
    """Give every dead-lettered row a new round of attempts."""
    with runtime().database.transaction() as session:
        touched = outbox_service.retry(session, dead=True)
    _wake(touched)


def _checkpoint(
    _context: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> list[ledger_service.Checkpoint]:
    checkpoints = []
    for value in values:
        try:
            organisation, seq, digest = value.split(":")
            checkpoints.append(ledger_service.Checkpoint(uuid.UUID(organisation), int(seq), digest))
        except ValueError:
            raise click.BadParameter(
                f"{value!r} is not ORGANISATION:SEQ:HASH", param_hint="--checkpoint"
            ) from None
    return checkpoints


@ledger.command("verify")
@click.option(
    "--checkpoint",
    "checkpoints",
    multiple=True,
    callback=_checkpoint,
    metavar="ORGANISATION:SEQ:HASH",
    help="A head recorded by an earlier run: that entry must still have that hash (repeatable).",
)
def ledger_verify(checkpoints: list[ledger_service.Checkpoint]) -> None:
    """Recompute every hash chain; exit 1 naming the first entry of each broken chain.

    Prints each organisation's head: recorded outside the database and passed back with
    --checkpoint, it exposes a rewrite that recomputed the hashes after it.
    """
    # One consistent snapshot: writers go on meanwhile (SQLite WAL, PostgreSQL REPEATABLE READ),
    # and what they commit is neither waited for nor half seen.
    with runtime().database.read_sessions() as session:
        ledger_service.begin_snapshot(session)
        total = ledger_service.count_entries(session)
        with click.progressbar(length=total, label="Verifying ledger", show_pos=True) as bar:
            checks = ledger_service.check_chains(
                session, on_entry=lambda: bar.update(1), checkpoints=checkpoints
            )
    for check in checks:
        if check.problem is None:
            head = check.head
            click.echo(f"organisation {head.organisation_id}: {head.seq} entries, head {head.hash}")
    problems = [check.problem for check in checks if check.problem is not None]
    if problems:
        for problem in problems:
            entry = f"entry {problem.entry_id} " if problem.entry_id else ""
            click.secho(
                f"BROKEN organisation {problem.organisation_id}: {entry}(seq {problem.seq}) "
                f"{problem.reason}",
                fg="red",
                err=True,
            )
        raise SystemExit(1)
    click.secho(f"Ledger intact: {total} entries verified.", fg="green")


COMMANDS = (worker, outbox, ledger)
