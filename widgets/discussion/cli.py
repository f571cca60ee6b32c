"""``bridge discussion digest``: email members their unread notifications (optional, off by default)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from bridge.mail import Mailer
from bridge.runtime import runtime
from widgets.discussion.digest import mark_emailed, pending_digests

discussion = AppGroup("discussion", help="The discussion widget's jobs.")


@discussion.command("digest")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send and mark nothing.")
def digest(dry_run: bool) -> None:
    """Send each member one email per placement with the notifications they have not read."""
    rt = runtime()
    if not rt.settings.discussion_email_digest and not dry_run:
        raise click.ClickException(
            "The digest is off: set BRIDGE_DISCUSSION_EMAIL_DIGEST=1 to send it."
        )
    mailer = Mailer(rt.settings)
    with rt.database.transaction() as session:
        emails, covered = pending_digests(session)
        for email in emails:
            if dry_run:
                click.echo(f"To: {email.to}\nSubject: {email.subject}\n\n{email.text}\n")
            else:
                mailer.send(email.to, email.subject, email.text)
        if not dry_run:
            mark_emailed(covered)
    click.echo(f"{len(emails)} digest email(s) {'would be ' if dry_run else ''}sent.")
