"""`flask notifications send-test ADDRESS`: queue a test message to check the mail settings.
`flask notifications retry-failed`: send failed mail again."""
from __future__ import annotations

import click

from app.extensions import db
from app.notifications import bp
from app.notifications.jobs import retry_failed, send_pending_email
from app.notifications.services import queue_email


@bp.cli.command("send-test")
@click.argument("address")
@click.option("--locale", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--now", "send_now", is_flag=True, help="Send the outbox at once instead of waiting for the scheduler.")
def send_test_command(address: str, locale: str, send_now: bool) -> None:
    """Queue a test e-mail to ADDRESS (and with --now, send what is due)."""
    email = queue_email(address, "notifications/emails/test_message", locale=locale)
    db.session.commit()
    click.echo(f"Queued test mail {email.id} to {address}.")
    if send_now:
        click.echo(f"Outbox run: {send_pending_email()}")


@bp.cli.command("retry-failed")
def retry_failed_command() -> None:
    """Send every failed e-mail again (after the cause is fixed); out-of-date ones stay as they are."""
    n = retry_failed()
    db.session.commit()
    click.echo(f"{n} failed e-mail(s) queued again; the scheduler sends them within a minute.")
