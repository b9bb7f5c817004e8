"""`flask hearings ...`: verify a draw from the database, and run queued lottery computations."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from app.extensions import db

hearings_cli = AppGroup("hearings", help="Decision meetings: lottery and draw.")


def verify_meeting(meeting) -> tuple[bool, list[str]]:
    """Recompute the draw from the stored pool, panels and random numbers; never re-runs the solver."""
    from app.hearings import lottery, selection

    lines: list[str] = []
    pool, draw = meeting.pool, meeting.draw
    if pool is None or draw is None or draw.drawn_at is None or draw.lottery_run is None:
        return False, ["This meeting has no completed draw."]
    ok = True
    pool_doc = json.loads(pool.content)
    run = draw.lottery_run
    panels_doc = json.loads(run.panels_content)
    for name, content, stored in (("pool", pool.content, pool.sha256), ("panels", run.panels_content,
                                                                         run.panels_sha256)):
        actual = selection.sha256(content)
        lines.append(f"{name} file SHA-256: {actual}" + ("" if actual == stored else f" (stored {stored}: MISMATCH)"))
        ok = ok and actual == stored
    by_number = {e["number"]: e for e in pool_doc["entries"]}
    bad = sum(not lottery.panel_satisfies(p, by_number, pool_doc["quotas"], pool_doc["seats"])
              for p in panels_doc["panels"])
    lines.append(f"panels: {len(panels_doc['panels'])}; breaking a quota: {bad}")
    ok = ok and bad == 0
    result = selection.compute_draw(pool_doc, panels_doc, draw.sources)
    stored = json.loads(draw.content)
    lines.append(f"key string: {result['key_string']}")
    lines.append(f"step 1: MD5 {result['panel_step']['md5']} mod {len(panels_doc['panels'])} = "
                 f"{result['panel_index']}")
    lines.append(f"panel: {result['panel']}")
    lines.append(f"alternates: {result['alternates']}")
    same = result == stored
    lines.append("stored draw agrees" if same else "MISMATCH with the stored draw")
    ok = ok and same
    selected = sorted(e.number for e in pool.entries if e.application.alternate_rank is None
                      and e.application.state.value in ("selected", "confirmed", "attended", "declined")
                      and e.number in result["panel"])
    lines.append(f"panel members in the database: {selected}")
    return ok, lines


@hearings_cli.command("verify")
@click.argument("meeting_id", type=int)
def verify_command(meeting_id: int) -> None:
    """Recompute the panel and the alternates of MEETING_ID from the published files."""
    from app.hearings.models import Meeting

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
