"""How the background side is doing, for the oversight admin: the scheduler's heartbeat and each job's last run
(with a warning when stale), and the outbox by state (failed mail needs a person)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.core import jobruns
from app.extensions import db
from app.notifications.models import OutboxEmail, OutboxState
from app.scheduler import JOBS


@dataclass
class JobStatus:
    job: str
    interval: int
    last_finished_at: datetime | None
    ok: bool
    stale: bool


@dataclass
class SchedulerStatus:
    heartbeat_at: datetime | None
    holder: str | None
    stale: bool
    jobs: list[JobStatus]

    @property
    def warnings(self) -> int:
        return int(self.stale) + sum(1 for j in self.jobs if j.stale or not j.ok)


def heartbeat_limit() -> timedelta:
    """A heartbeat older than this means no scheduler holds the lock (stopped, or cannot reach the database)."""
    return timedelta(seconds=max(120.0, 3 * float(current_app.config.get("SCHEDULER_HEARTBEAT_SECONDS", 10))))


def scheduler_status(now: datetime) -> SchedulerStatus:
    rows = jobruns.status()
    beat = rows.get(jobruns.HEARTBEAT)
    beat_at = beat.last_finished_at if beat else None
    jobs = []
    for path, interval in JOBS:
        row = rows.get(path)
        last = row.last_finished_at if row else None
        # Late when it has not run for two intervals (and a few minutes for a long run).
        stale = last is None or now - last > timedelta(seconds=2 * interval) + timedelta(minutes=5)
        jobs.append(JobStatus(path, interval, last, row.last_ok if row else True, stale))
    return SchedulerStatus(beat_at, beat.holder if beat else None,
                           beat_at is None or now - beat_at > heartbeat_limit(), jobs)


def outbox_counts() -> dict[OutboxState, int]:
    counts = dict.fromkeys(OutboxState, 0)
    for state, n in db.session.execute(sa.select(OutboxEmail.state, sa.func.count()).group_by(OutboxEmail.state)):
        counts[state] = n
    return counts
