"""`flask openday recount [--fix]`: check every kept counter of the Open Month against the rows it counts.

The counters (seats taken and offered, waitlist length and tail, check-ins, no-shows, cancellations, ratings) are
changed only with the registration they count, under the session's lock. This command proves it: it recounts from
the rows, reports each difference, and with ``--fix`` sets the counter to the recount (under the same lock).
"""
from __future__ import annotations

from dataclasses import dataclass

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app.extensions import db
from app.openday.models import SEAT_STATES, Activity, ActivitySession, Rating, Registration, RegistrationState
from app.openday.services import lock_session

RS = RegistrationState
openday_cli = AppGroup("openday", help="Open Month: counters.")

SESSION_COUNTERS = ("confirmed_seats", "offered_seats", "waitlist_count", "waitlist_tail", "checked_in_count",
                    "no_show_count", "cancelled_count", "rating_count", "rating_sum")
ACTIVITY_COUNTERS = ("checked_in_count", "no_show_count", "rating_count", "rating_sum", "first_starts_at")


@dataclass
class Difference:
    kind: str  # "session" or "activity"
    id: int
    counter: str
    kept: object
    counted: object

    def __str__(self) -> str:
        return f"{self.kind} {self.id}: {self.counter} is {self.kept}, the rows say {self.counted}"


def _grouped(key, value, *where) -> dict:
    return dict(db.session.execute(sa.select(key, value).where(*where).group_by(key)).all())


def session_counts() -> dict[int, dict]:
    """What each session's counters should be, from its registrations and ratings (one grouped query each)."""
    seats = 1 + Registration.companions
    r = Registration.session_id
    found = {
        "confirmed_seats": _grouped(r, sa.func.sum(seats), Registration.state.in_(SEAT_STATES)),
        "offered_seats": _grouped(r, sa.func.sum(seats), Registration.state == RS.OFFERED),
        "waitlist_count": _grouped(r, sa.func.count(), Registration.state == RS.WAITLISTED),
        "checked_in_count": _grouped(r, sa.func.count(), Registration.state == RS.CHECKED_IN),
        "no_show_count": _grouped(r, sa.func.count(), Registration.state == RS.NO_SHOW),
        "cancelled_count": _grouped(r, sa.func.count(), Registration.state == RS.CANCELLED),
        "waitlist_tail": _grouped(r, sa.func.max(Registration.waitlist_position)),
        "rating_count": _grouped(Rating.session_id, sa.func.count()),
        "rating_sum": _grouped(Rating.session_id, sa.func.sum(Rating.stars)),
    }
    ids = db.session.scalars(sa.select(ActivitySession.id)).all()
    return {sid: {name: int(values.get(sid) or 0) for name, values in found.items()} for sid in ids}


def activity_counts() -> dict[int, dict]:
    a = Registration.activity_id
    found = {
        "checked_in_count": _grouped(a, sa.func.count(), Registration.state == RS.CHECKED_IN),
        "no_show_count": _grouped(a, sa.func.count(), Registration.state == RS.NO_SHOW),
        "rating_count": _grouped(Rating.activity_id, sa.func.count()),
        "rating_sum": _grouped(Rating.activity_id, sa.func.sum(Rating.stars)),
    }
    first = _grouped(ActivitySession.activity_id, sa.func.min(ActivitySession.starts_at))
    ids = db.session.scalars(sa.select(Activity.id)).all()
    out = {aid: {name: int(values.get(aid) or 0) for name, values in found.items()} for aid in ids}
    for aid in ids:
        out[aid]["first_starts_at"] = first.get(aid)
    return out


def _same(counter: str, kept, counted) -> bool:
    if counter == "waitlist_tail":
        return kept >= counted  # positions are never given twice: the tail may be past the last one still there
    if counter == "first_starts_at":
        return (kept is None and counted is None) or (kept is not None and counted is not None
                                                      and kept.replace(tzinfo=None) == counted.replace(tzinfo=None))
    return kept == counted


def find_differences() -> list[Difference]:
    diffs = []
    for kind, model, counters, expected in (("session", ActivitySession, SESSION_COUNTERS, session_counts()),
                                            ("activity", Activity, ACTIVITY_COUNTERS, activity_counts())):
        for row in db.session.scalars(sa.select(model).order_by(model.id)):
            for counter in counters:
                kept, counted = getattr(row, counter), expected[row.id][counter]
                if not _same(counter, kept, counted):
                    diffs.append(Difference(kind, row.id, counter, kept, counted))
    return diffs


def fix_differences(diffs: list[Difference]) -> int:
    """Set each differing counter to its recount, each session under its lock (recounted again under the lock, so
    a sign-up committed meanwhile is counted). Flushes, never commits."""
    fixed = 0
    for session_id in sorted({d.id for d in diffs if d.kind == "session"}):
        session = lock_session(session_id)
        counted = session_counts()[session_id]
        for counter in SESSION_COUNTERS:
            if not _same(counter, getattr(session, counter), counted[counter]):
                setattr(session, counter, counted[counter])
                fixed += 1
    activity_ids = sorted({d.id for d in diffs if d.kind == "activity"})
    if activity_ids:
        counted_all = activity_counts()
        for activity_id in activity_ids:
            activity = db.session.get(Activity, activity_id)
            for counter in ACTIVITY_COUNTERS:
                if not _same(counter, getattr(activity, counter), counted_all[activity_id][counter]):
                    setattr(activity, counter, counted_all[activity_id][counter])
                    fixed += 1
    db.session.flush()
    return fixed


@openday_cli.command("recount")
@click.option("--fix", is_flag=True, help="Set every differing counter to the recount.")
def recount_command(fix: bool) -> None:
    """Check the kept counters of every session and activity against the rows; report each difference."""
    diffs = find_differences()
    for diff in diffs:
        click.echo(str(diff))
    if not diffs:
        click.echo("All Open Month counters match the rows.")
        return
    if fix:
        fixed = fix_differences(diffs)
        db.session.commit()
        click.echo(f"Fixed {fixed} counter(s).")
        return
    click.echo(f"{len(diffs)} difference(s); run with --fix to repair.")
    raise SystemExit(1)
