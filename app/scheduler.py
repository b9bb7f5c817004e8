"""The scheduler process: `flask scheduler run`.

One process runs the jobs. A database lock makes a second scheduler wait instead of running jobs twice:
on PostgreSQL a session-level advisory lock, held by a connection kept open for the life of the process;
on SQLite a lock row with a heartbeat, taken over when its holder stops beating.
Jobs are listed here explicitly; each lives in its module's jobs.py and is safe to run twice.

The process survives the database: when the database cannot be reached (a restart, a fail-over) the lock is
treated as lost, the jobs stop, and the process tries again with a growing back-off (SCHEDULER_RECONNECT_MAX_SECONDS
at most) until it holds the lock again. Only a stop signal ends it.
"""
from __future__ import annotations

import importlib
import logging
import os
import secrets
import signal
import socket
import threading
import time
import weakref
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
    ("app.consultations.jobs.mail_receipts", 5),  # a comment's receipt, queued seconds after it
    ("app.consultations.jobs.remind_closing_soon", 600),
    ("app.consultations.jobs.remind_report_due", 3600),
    ("app.notifications.jobs.send_pending_email", 30),
    ("app.notifications.jobs.purge_old_email", 86400),
    ("app.accounts.jobs.purge_sessions", 86400),
    ("app.hearings.jobs.run_queued_lotteries", 15),
    ("app.hearings.jobs.expire_unanswered", 600),
    ("app.openday.jobs.mail_signups", 5),  # a sign-up's confirmation mail, queued seconds after it
    ("app.openday.jobs.expire_offers", 60),
    ("app.openday.jobs.send_reminders", 300),
    ("app.notifications.digest.send_weekly_digests", 3600),
    ("app.oversight.jobs.send_invitations", 60),
    ("app.messages.jobs.chase_acknowledgements", 900),
    ("app.messages.jobs.remind_replies", 900),
    ("app.messages.jobs.chase_overdue_replies", 900),
]

ADVISORY_LOCK_KEY = 0x43616E7975  # "Canyu"
HEARTBEAT_STALE = timedelta(seconds=90)
# `scheduler run --once` exits with this code (EX_TEMPFAIL) while another scheduler holds the lock.
EXIT_LOCK_HELD = 75


class SchedulerLock(db.Model):
    """SQLite only: the row that says which process runs the jobs."""

    __tablename__ = "scheduler_lock"

    id: Mapped[int] = mapped_column(primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(200))
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DatabaseUnavailable(Exception):
    """The database cannot be reached: the lock is not held; try again later."""


def _holder_id() -> str:
    # Host and process for a person reading the row; a random part so that two locks never look alike.
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


_LOCKS: "weakref.WeakSet[DatabaseLock]" = weakref.WeakSet()
_KEPT_IN_CHILD: list = []


def _close_lock_sockets_in_child() -> None:
    """After a fork (the lottery's solver child): close the child's copy of the lock connection's socket, so that
    the lock lives exactly as long as this process, never as long as a child it forked. Only the file descriptor is
    closed; nothing is sent on the connection, which the parent keeps using. The descriptor number is taken by
    /dev/null (never reused by a file the child opens) and the connection object is kept (never cleaned up here)."""
    for lock in list(_LOCKS):
        connection = lock._connection
        lock._connection, lock._pg_held = None, False
        if connection is None:
            continue
        _KEPT_IN_CHILD.append(connection)
        try:
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, connection.connection.dbapi_connection.fileno())
            os.close(null)
        except Exception:  # noqa: BLE001 - nothing to close
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_lock_sockets_in_child)


class DatabaseLock:
    """Blocks in acquire() until this process may run the jobs."""

    def __init__(self, app: Flask, poll_seconds: float = 5.0):
        self.app = app
        self.poll_seconds = poll_seconds
        self.holder = _holder_id()
        self._connection = None
        self._pg_held = False  # advisory locks nest on one connection: take it once, release it once
        self._stop = threading.Event()
        _LOCKS.add(self)

    @property
    def is_postgres(self) -> bool:
        return db.engine.dialect.name == "postgresql"

    def _forget_connection(self) -> None:
        """The lock connection is broken (the database restarted): drop it; the server released the lock."""
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # noqa: BLE001 - it is broken already
                pass
        self._connection = None
        self._pg_held = False

    def try_acquire(self) -> bool:
        """Take the lock if it is free (or, on SQLite, if its holder stopped beating). Never blocks.

        Raises DatabaseUnavailable when the database cannot be reached."""
        try:
            return self._try_acquire()
        except sa.exc.SQLAlchemyError as exc:
            self._forget_connection()
            with self.app.app_context():
                db.session.remove()
            raise DatabaseUnavailable(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from exc

    def _try_acquire(self) -> bool:
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

    def acquire(self, wait: float | None = None) -> bool:
        """Wait until this process holds the lock: True; False when ``wait`` seconds passed first.

        While the database cannot be reached, try again after a back-off that doubles up to
        SCHEDULER_RECONNECT_MAX_SECONDS."""
        deadline = None if wait is None else time.monotonic() + wait
        announced, backoff = False, 0.0
        max_backoff = float(self.app.config.get("SCHEDULER_RECONNECT_MAX_SECONDS", 15))
        while True:
            try:
                if self.try_acquire():
                    return True
                delay, backoff = self.poll_seconds, 0.0
                if not announced:
                    click.echo("Another scheduler holds the lock; waiting for it to stop.")
                    announced = True
            except DatabaseUnavailable as exc:
                backoff = min(max_backoff, backoff * 2 if backoff else 0.5)
                delay = backoff
                log.warning("scheduler cannot reach the database (%s); trying again in %.1f s", exc, delay)
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                delay = min(delay, left)
            if self._stop.wait(delay):
                raise SystemExit(0)

    def heartbeat(self) -> bool:
        """Show that this process still runs the jobs. False when the lock has been lost."""
        with self.app.app_context():
            if self.is_postgres:
                try:
                    if not self._pg_held or self._connection is None:
                        return False
                    self._connection.execute(sa.text("SELECT 1"))
                    self._connection.commit()
                except Exception as exc:  # noqa: BLE001 - the connection (and with it the advisory lock) is gone
                    log.error("scheduler lost its database connection (%s: %s)", type(exc).__name__,
                              str(exc).splitlines()[0][:200] if str(exc) else "")
                    self._forget_connection()
                    return False
                jobruns.heartbeat(self.holder)  # seen by /metrics and the oversight dashboard on every host
                return True
            try:
                kept = db.session.execute(sa.update(SchedulerLock).where(SchedulerLock.holder == self.holder)
                                          .values(heartbeat_at=utcnow())).rowcount
                db.session.commit()
            except sa.exc.SQLAlchemyError as exc:  # busy or gone: the row stays ours until it is stale
                db.session.rollback()
                log.warning("scheduler heartbeat not written: %s", type(exc).__name__)
                return True
            if kept == 1:
                jobruns.heartbeat(self.holder)
            return kept == 1

    def release(self) -> None:
        with self.app.app_context():
            try:
                if self.is_postgres:
                    if self._connection is not None:
                        try:
                            if self._pg_held:
                                self._connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"),
                                                         {"k": ADVISORY_LOCK_KEY})
                                self._connection.commit()
                        finally:
                            self._connection.close()
                            self._connection = None
                            self._pg_held = False
                    return
                db.session.execute(sa.delete(SchedulerLock).where(SchedulerLock.holder == self.holder))
                db.session.commit()
            except sa.exc.SQLAlchemyError:  # the database is gone: so is the lock (or it goes stale)
                self._forget_connection()
                db.session.remove()


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
@click.option("--wait", "wait", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="With --once: wait at most this long for another scheduler to release the lock "
                   f"(default: do not wait; exit with code {EXIT_LOCK_HELD}).")
def run_command(once: bool, wait: float | None) -> None:
    """Run the scheduled jobs in this process (only one process at a time runs them)."""
    app = current_app._get_current_object()
    lock = DatabaseLock(app, poll_seconds=float(app.config.get("SCHEDULER_POLL_SECONDS", 5)))
    # APScheduler logs every run of every job at INFO; keep its warnings and errors only.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)

    def stop(signum, _frame):
        raise SystemExit(0)

    previous_handler = None
    if threading.current_thread() is threading.main_thread():
        previous_handler = signal.signal(signal.SIGTERM, stop)  # a service manager's stop releases the lock too
    try:
        if once:
            if not lock.acquire(wait=wait or 0):
                click.echo(f"Another scheduler holds the lock (or the database cannot be reached); nothing was run. "
                           f"Exit code {EXIT_LOCK_HELD}: try again later.", err=True)
                raise SystemExit(EXIT_LOCK_HELD)
            click.echo(f"Scheduler {lock.holder} holds the lock.")
            _run_once(app, lock.holder)
            return
        while True:
            lock.acquire()
            click.echo(f"Scheduler {lock.holder} holds the lock.")
            if not _run_holding_lock(app, lock):
                return
            # The lock was lost (the database restarted): the jobs stopped; take it again, with back-off.
            lock.release()
            click.echo("The scheduler lock was lost; jobs stopped; taking it again.", err=True)
    finally:
        lock.release()
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)


def _run_once(app: Flask, holder: str) -> None:
    results = run_all_once(app)
    # A run from cron beats too, so the dashboard and /metrics see it (and warn when cron stops running it).
    with app.app_context():
        jobruns.heartbeat(holder)
    for path, result in results.items():
        click.echo(f"{path}: {result!r}" if isinstance(result, JobFailed) else f"{path}: {result}")
    failed = [path for path, result in results.items() if isinstance(result, JobFailed)]
    if failed:
        raise click.ClickException(f"{len(failed)} job(s) failed: {', '.join(failed)}")


def _run_holding_lock(app: Flask, lock: DatabaseLock) -> bool:
    """Run the jobs on their intervals until stopped (False) or until the lock is lost (True)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone="UTC")
    lost = threading.Event()
    scale = float(app.config.get("SCHEDULER_INTERVAL_SCALE", 1))

    def heartbeat():
        if not lock.heartbeat():
            lost.set()
            log.error("scheduler lock lost; stopping the jobs so that they never run twice, then taking it again")
            scheduler.shutdown(wait=False)

    for path, interval in JOBS:
        scheduler.add_job(run_job, "interval", seconds=max(0.2, interval * scale), args=[app, path], id=path,
                          name=path, max_instances=1, coalesce=True, next_run_time=datetime.now(timezone.utc))
    scheduler.add_job(heartbeat, "interval", seconds=float(app.config.get("SCHEDULER_HEARTBEAT_SECONDS", 10)),
                      id="heartbeat", next_run_time=datetime.now(timezone.utc))
    click.echo(f"Running {len(JOBS)} jobs. Press Ctrl+C to stop.")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        if scheduler.running:
            scheduler.shutdown(wait=True)  # let running jobs finish before the lock is released
        raise
    return lost.is_set()
