"""When each scheduled job last ran and when the scheduler last beat, kept in the database so that every web host
(and /metrics) can tell an operator whether the one scheduler process is alive."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import utcnow
from app.core.types import UTCDateTime
from app.extensions import db

HEARTBEAT = "heartbeat"


class SchedulerJobRun(db.Model):
    """One row per job (and one named ``heartbeat``): its last start, end and outcome."""

    __tablename__ = "scheduler_job_run"

    job: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ok: Mapped[bool] = mapped_column(default=True)
    holder: Mapped[str | None] = mapped_column(sa.String(200))


def record(job: str, *, started_at: datetime, ok: bool, holder: str | None = None) -> None:
    """Note one run in its own transaction (the job's own work is committed or rolled back already)."""
    values = dict(last_started_at=started_at, last_finished_at=utcnow(), last_ok=ok, holder=holder)
    try:
        updated = db.session.execute(sa.update(SchedulerJobRun).where(SchedulerJobRun.job == job)
                                     .values(**values)).rowcount
        if not updated:
            db.session.add(SchedulerJobRun(job=job, **values))
        db.session.commit()
    except sa.exc.SQLAlchemyError:  # a status row must never stop the scheduler; the next run writes it again
        db.session.rollback()


def heartbeat(holder: str) -> None:
    now = utcnow()
    record(HEARTBEAT, started_at=now, ok=True, holder=holder)


def status() -> dict[str, SchedulerJobRun]:
    return {row.job: row for row in db.session.scalars(sa.select(SchedulerJobRun))}
