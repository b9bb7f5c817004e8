"""The scheduler process: `flask scheduler run`.

One process runs the jobs. A database lock makes a second scheduler wait instead of running jobs twice:
on PostgreSQL a session-level advisory lock, held by a connection kept open for the life of the process;
on SQLite a lock row with a heartbeat, taken over when its holder stops beating.
Jobs are listed here explicitly; each lives in its module's jobs.py and is safe to run twice.
"""
from __future__ import annotations

import importlib
import logging
import os
import socket
import threading
import time
from datetime import datetime, timedelta

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import utcnow
from app.core.types import UTCDateTime
from app.extensions import db

log = logging.getLogger(__name__)

# (dotted path of the job function, interval in seconds). Interval jobs only; each job decides what is due.
JOBS: list[tuple[str, int]] = [
    ("app.notifications.jobs.send_pending_email", 30),
    ("app.openday.jobs.expire_offers", 60),
    ("app.openday.jobs.send_reminders", 300),
    ("app.notifications.digest.send_weekly_digests", 3600),
]

ADVISORY_LOCK_KEY = 0x43616E7975  # "Canyu"
HEARTBEAT_STALE = timedelta(seconds=90)


class SchedulerLock(db.Model):
    """SQLite only: the row that says which process runs the jobs."""

    __tablename__ = "scheduler_lock"

    id: Mapped[int] = mapped_column(primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(200))
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)


def _holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class DatabaseLock:
    """Blocks in acquire() until this process may run the jobs."""

    def __init__(self, app: Flask, poll_seconds: float = 5.0):
        self.app = app
        self.poll_seconds = poll_seconds
        self.holder = _holder_id()
        self._connection = None
        self._stop = threading.Event()

    @property
    def is_postgres(self) -> bool:
        return db.engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        with self.app.app_context():
            if self.is_postgres:
                if self._connection is None:
                    self._connection = db.engine.connect()
                got = self._connection.execute(sa.text("SELECT pg_try_advisory_lock(:k)"),
                                               {"k": ADVISORY_LOCK_KEY}).scalar()
                self._connection.commit()
                return bool(got)
            now = utcnow()
            row = db.session.get(SchedulerLock, 1)
            if row is None:
                db.session.add(SchedulerLock(id=1, holder=self.holder, heartbeat_at=now))
            elif row.holder != self.holder and row.heartbeat_at > now - HEARTBEAT_STALE:
                db.session.rollback()
                return False
            else:
                row.holder, row.heartbeat_at = self.holder, now
            try:
                db.session.commit()
            except sa.exc.IntegrityError:
                db.session.rollback()
                return False
            return True

    def acquire(self) -> None:
        announced = False
        while not self.try_acquire():
            if not announced:
                click.echo("Another scheduler holds the lock; waiting for it to stop.")
                announced = True
            time.sleep(self.poll_seconds)

    def heartbeat(self) -> None:
        if self.is_postgres:
            return
        with self.app.app_context():
            db.session.execute(sa.update(SchedulerLock).where(SchedulerLock.holder == self.holder)
                               .values(heartbeat_at=utcnow()))
            db.session.commit()

    def release(self) -> None:
        with self.app.app_context():
            if self.is_postgres:
                if self._connection is not None:
                    self._connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
                    self._connection.commit()
                    self._connection.close()
                    self._connection = None
                return
            db.session.execute(sa.delete(SchedulerLock).where(SchedulerLock.holder == self.holder))
            db.session.commit()


def resolve(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def run_job(app: Flask, path: str):
    """Run one job in its own app context; an error is logged and the job runs again next time."""
    with app.app_context():
        try:
            return resolve(path)()
        except Exception:  # noqa: BLE001
            db.session.rollback()
            log.exception("job %s failed", path)
        finally:
            db.session.remove()


def run_all_once(app: Flask) -> None:
    for path, _interval in JOBS:
        run_job(app, path)


scheduler_cli = AppGroup("scheduler", help="The scheduled-jobs process.")


@scheduler_cli.command("run")
@click.option("--once", is_flag=True, help="Run every job once and exit (for cron or a test).")
def run_command(once: bool) -> None:
    """Run the scheduled jobs in this process (only one process at a time runs them)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    app = current_app._get_current_object()
    lock = DatabaseLock(app)
    lock.acquire()
    click.echo(f"Scheduler {lock.holder} holds the lock.")
    try:
        if once:
            run_all_once(app)
            return
        scheduler = BlockingScheduler(timezone="UTC")
        for path, interval in JOBS:
            scheduler.add_job(run_job, "interval", seconds=interval, args=[app, path], id=path,
                              max_instances=1, coalesce=True, next_run_time=datetime.now())
        scheduler.add_job(lock.heartbeat, "interval", seconds=20, id="heartbeat")
        click.echo(f"Running {len(JOBS)} jobs. Press Ctrl+C to stop.")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
    finally:
        lock.release()
