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
import secrets
import signal
import socket
import threading
from datetime import datetime, timedelta, timezone

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Mapped, mapped_column

from app.core import jobruns
from app.core.timeutil import utcnow
from app.core.types import UTCDateTime
from app.extensions import db

log = logging.getLogger(__name__)

# (dotted path of the job function, interval in seconds). Interval jobs only; each job decides what is due.
JOBS: list[tuple[str, int]] = [
    ("app.consultations.jobs.remind_closing_soon", 600),
    ("app.consultations.jobs.remind_report_due", 3600),
    ("app.notifications.jobs.send_pending_email", 30),
    ("app.notifications.jobs.purge_old_email", 86400),
    ("app.accounts.jobs.purge_sessions", 86400),
    ("app.hearings.jobs.run_queued_lotteries", 15),
    ("app.hearings.jobs.expire_unanswered", 600),
    ("app.openday.jobs.expire_offers", 60),
    ("app.openday.jobs.send_reminders", 300),
    ("app.notifications.digest.send_weekly_digests", 3600),
    ("app.oversight.jobs.send_invitations", 60),
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
    # Host and process for a person reading the row; a random part so that two locks never look alike.
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class DatabaseLock:
    """Blocks in acquire() until this process may run the jobs."""

    def __init__(self, app: Flask, poll_seconds: float = 5.0):
        self.app = app
        self.poll_seconds = poll_seconds
        self.holder = _holder_id()
        self._connection = None
        self._pg_held = False  # advisory locks nest on one connection: take it once, release it once
        self._stop = threading.Event()

    @property
    def is_postgres(self) -> bool:
        return db.engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        """Take the lock if it is free (or, on SQLite, if its holder stopped beating). Never blocks."""
        with self.app.app_context():
            if self.is_postgres:
                if self._pg_held:
                    return True
                if self._connection is None:
                    self._connection = db.engine.connect()
                got = self._connection.execute(sa.text("SELECT pg_try_advisory_lock(:k)"),
                                               {"k": ADVISORY_LOCK_KEY}).scalar()
                self._connection.commit()
                self._pg_held = bool(got)
                return self._pg_held
            now = utcnow()
            # One conditional UPDATE: of two processes taking over a stale row, exactly one wins.
            taken = db.session.execute(
                sa.update(SchedulerLock)
                .where(SchedulerLock.id == 1,
                       sa.or_(SchedulerLock.holder == self.holder, SchedulerLock.heartbeat_at < now - HEARTBEAT_STALE))
                .values(holder=self.holder, heartbeat_at=now)
            ).rowcount
            if taken == 1:
                db.session.commit()
                return True
            if db.session.get(SchedulerLock, 1) is not None:
                db.session.rollback()
                return False
            db.session.add(SchedulerLock(id=1, holder=self.holder, heartbeat_at=now))
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
            if self._stop.wait(self.poll_seconds):
                raise SystemExit(0)

    def heartbeat(self) -> bool:
        """Show that this process still runs the jobs. False when the lock has been lost."""
        with self.app.app_context():
            jobruns.heartbeat(self.holder)  # seen by /metrics on every host
            if self.is_postgres:
                try:
                    self._connection.execute(sa.text("SELECT 1"))
                    self._connection.commit()
                except Exception:  # noqa: BLE001 - the connection (and with it the advisory lock) is gone
                    log.exception("scheduler lost its database connection")
                    return False
                return True
            kept = db.session.execute(sa.update(SchedulerLock).where(SchedulerLock.holder == self.holder)
                                      .values(heartbeat_at=utcnow())).rowcount
            db.session.commit()
            return kept == 1

    def release(self) -> None:
        with self.app.app_context():
            if self.is_postgres:
                if self._connection is not None:
                    try:
                        self._connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
                        self._connection.commit()
                    finally:
                        self._connection.close()
                        self._connection = None
                        self._pg_held = False
                return
            db.session.execute(sa.delete(SchedulerLock).where(SchedulerLock.holder == self.holder))
            db.session.commit()


def resolve(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class JobFailed:
    """What run_job returns for a job that raised (the error is in the log)."""

    def __repr__(self) -> str:
        return "FAILED (see the log)"


def run_job(app: Flask, path: str):
    """Run one job in its own app context; an error is logged and the job runs again next time."""
    with app.app_context():
        started, ok = utcnow(), False
        try:
            result = resolve(path)()
            ok = True
            return result
        except Exception:  # noqa: BLE001
            db.session.rollback()
            log.exception("job %s failed", path)
            return JobFailed()
        finally:
            jobruns.record(path, started_at=started, ok=ok)  # for /metrics and operators
            db.session.remove()


def run_all_once(app: Flask) -> dict[str, object]:
    """Run every job once, in order. Returns each job's result (a JobFailed for a job that raised)."""
    return {path: run_job(app, path) for path, _interval in JOBS}


scheduler_cli = AppGroup("scheduler", help="The scheduled-jobs process.")


@scheduler_cli.command("run")
@click.option("--once", is_flag=True, help="Run every job once and exit (for cron or a test).")
def run_command(once: bool) -> None:
    """Run the scheduled jobs in this process (only one process at a time runs them)."""
    app = current_app._get_current_object()
    lock = DatabaseLock(app)
    # APScheduler logs every run of every job at INFO; keep its warnings and errors only.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)

    def stop(signum, _frame):
        raise SystemExit(0)

    previous_handler = None
    if threading.current_thread() is threading.main_thread():
        previous_handler = signal.signal(signal.SIGTERM, stop)  # a service manager's stop releases the lock too
    try:
        lock.acquire()
        click.echo(f"Scheduler {lock.holder} holds the lock.")
        _run_holding_lock(app, lock, once)
    finally:
        lock.release()
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)


def _run_holding_lock(app: Flask, lock: DatabaseLock, once: bool) -> None:
    """Run the jobs once, or on their intervals until stopped or until the lock is lost."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    if once:
        results = run_all_once(app)
        for path, result in results.items():
            click.echo(f"{path}: {result!r}" if isinstance(result, JobFailed) else f"{path}: {result}")
        failed = [path for path, result in results.items() if isinstance(result, JobFailed)]
        if failed:
            raise click.ClickException(f"{len(failed)} job(s) failed: {', '.join(failed)}")
        return
    scheduler = BlockingScheduler(timezone="UTC")
    lost = threading.Event()

    def heartbeat():
        if not lock.heartbeat():
            lost.set()
            log.error("scheduler lock lost; stopping so that jobs never run twice")
            scheduler.shutdown(wait=False)

    for path, interval in JOBS:
        scheduler.add_job(run_job, "interval", seconds=interval, args=[app, path], id=path, name=path,
                          max_instances=1, coalesce=True, next_run_time=datetime.now(timezone.utc))
    scheduler.add_job(heartbeat, "interval", seconds=20, id="heartbeat")
    click.echo(f"Running {len(JOBS)} jobs. Press Ctrl+C to stop.")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        if scheduler.running:
            scheduler.shutdown(wait=True)  # let running jobs finish before the lock is released
    if lost.is_set():
        raise click.ClickException("The scheduler lock was lost; stopped.")
