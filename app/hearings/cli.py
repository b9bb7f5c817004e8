"""`flask hearings ...`: verify a selection against its public record, and run queued lottery computations."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from app.extensions import db

hearings_cli = AppGroup("hearings", help="Decision meetings: lottery and draw.")


@hearings_cli.command("verify")
@click.argument("meeting_id", type=int)
def verify_command(meeting_id: int) -> None:
    """Compare the database with what the public selection record of MEETING_ID implies: the files it committed
    to, the draw, who holds each seat, the alternates, every decline and move-in."""
    from app.hearings.models import Meeting
    from app.hearings.verify import verify_meeting

    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None:
        raise click.ClickException(f"No meeting {meeting_id}.")
    from flask_babel import force_locale

    with force_locale("zh"):
        ok, lines = verify_meeting(meeting)
    for line in lines:
        click.echo(line)
    click.echo("OK" if ok else "FAILED")
    if not ok:
        raise SystemExit(1)


@hearings_cli.command("run-lottery")
def run_lottery_command() -> None:
    """Run every queued lottery computation now, in this process (the scheduler does the same)."""
    from app.hearings.jobs import run_queued_lotteries

    click.echo(f"Ran {run_queued_lotteries()} lottery computation(s).")
