"""The scheduler: one process at a time (database lock), `flask scheduler run --once`, importable jobs."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from app import create_app
from app.extensions import db as _db
from app.notifications.services import queue_email
from app.scheduler import EXIT_LOCK_HELD, HEARTBEAT_STALE, JOBS, DatabaseLock, SchedulerLock, resolve
from config import TestingConfig

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def sqlite_app(tmp_path):
    """An app on its own SQLite file, whatever TEST_DATABASE_URL says."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'lock.db'}",
                      "UPLOAD_DIR": str(tmp_path / "uploads")}, config_class=TestingConfig)
    with app.app_context():
        SchedulerLock.__table__.create(_db.engine)
    yield app
    with app.app_context():
        _db.engine.dispose()


def test_every_job_path_is_importable():
    assert JOBS, "the scheduler has no jobs"
    for path, interval in JOBS:
        assert callable(resolve(path)), path
        assert isinstance(interval, int) and interval > 0, path
    assert len({path for path, _ in JOBS}) == len(JOBS), "a job is listed twice"


def test_sqlite_second_lock_waits_until_the_first_is_released(sqlite_app):
    first, second = DatabaseLock(sqlite_app), DatabaseLock(sqlite_app)
    assert first.holder != second.holder
    assert first.try_acquire() is True
    assert second.try_acquire() is False
    assert first.try_acquire() is True  # the holder may renew
    assert second.try_acquire() is False
    first.release()
    assert second.try_acquire() is True
    assert first.try_acquire() is False
    second.release()


def test_sqlite_acquire_blocks_while_the_lock_is_held(sqlite_app):
    first, second = DatabaseLock(sqlite_app), DatabaseLock(sqlite_app, poll_seconds=0.05)
    assert first.try_acquire()
    got = threading.Event()
    waiter = threading.Thread(target=lambda: (second.acquire(), got.set()), daemon=True)
    waiter.start()
    assert not got.wait(0.5), "the second scheduler ran while the first held the lock"
    first.release()
    assert got.wait(10), "the second scheduler did not take the lock after release"
    waiter.join(5)
    second.release()


def test_sqlite_stale_heartbeat_is_taken_over_and_the_old_holder_notices(sqlite_app):
    first, second = DatabaseLock(sqlite_app), DatabaseLock(sqlite_app)
    with time_machine.travel(T0, tick=False) as traveller:
        assert first.try_acquire()
        traveller.shift(HEARTBEAT_STALE - timedelta(seconds=1))
        assert second.try_acquire() is False
        assert first.heartbeat() is True  # beating keeps it
        traveller.shift(HEARTBEAT_STALE - timedelta(seconds=1))
        assert second.try_acquire() is False
        traveller.shift(timedelta(seconds=2))  # the first stopped beating long enough
        assert second.try_acquire() is True
        assert first.heartbeat() is False  # the old holder learns it lost the lock
        assert first.try_acquire() is False
    with sqlite_app.app_context():
        rows = _db.session.scalars(sa.select(SchedulerLock)).all()
        assert [r.holder for r in rows] == [second.holder]
    second.release()


def test_postgresql_second_advisory_lock_waits_until_the_first_is_released(app):
    if _db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL advisory lock: set TEST_DATABASE_URL to a PostgreSQL database")
    first, second = DatabaseLock(app), DatabaseLock(app)
    try:
        assert first.try_acquire() is True
        assert second.try_acquire() is False
        assert first.try_acquire() is True  # renewing does not nest the lock: one release frees it
        assert first.heartbeat() is True
        first.release()
        assert second.try_acquire() is True
        assert first.try_acquire() is False
    finally:
        first.release()
        second.release()


def test_run_once_runs_every_job_and_releases_the_lock(app, runner, monkeypatch):
    called = []

    def fake_resolve(path):
        return lambda: called.append(path) or f"ran {path}"

    monkeypatch.setattr("app.scheduler.resolve", fake_resolve)
    result = runner.invoke(args=["scheduler", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert called == [path for path, _ in JOBS]
    for path, _ in JOBS:
        assert f"{path}: ran {path}" in result.output
    # The lock is free again: another scheduler can take it at once.
    other = DatabaseLock(app)
    assert other.try_acquire() is True
    other.release()


def test_run_once_with_the_real_jobs_sends_the_outbox(app, db, runner, smtp):
    queue_email("ops@example.com", "notifications/emails/test_message")
    db.session.commit()
    result = runner.invoke(args=["scheduler", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert "app.notifications.jobs.send_pending_email: {'sent': 1, 'retried': 0, 'failed': 0, 'expired': 0}" in result.output
    assert [m["To"] for m in smtp.messages] == ["ops@example.com"]


def test_a_failing_job_does_not_stop_the_others(app, runner, monkeypatch):
    ran = []

    def fake_resolve(path):
        def job():
            if path == JOBS[0][0]:
                raise RuntimeError("boom")
            ran.append(path)
        return job

    monkeypatch.setattr("app.scheduler.resolve", fake_resolve)
    result = runner.invoke(args=["scheduler", "run", "--once"])
    assert ran == [path for path, _ in JOBS[1:]]
    # Reported, and the exit status says so (for cron).
    assert f"{JOBS[0][0]}: FAILED (see the log)" in result.output
    assert result.exit_code == 1 and "1 job(s) failed" in result.output


def test_run_once_while_another_holds_the_lock_exits_75_with_a_message(app, runner, monkeypatch):
    ran = []
    monkeypatch.setattr("app.scheduler.resolve", lambda path: lambda: ran.append(path))
    monkeypatch.setitem(app.config, "SCHEDULER_POLL_SECONDS", 0.1)
    other = DatabaseLock(app)
    assert other.try_acquire()
    try:
        result = runner.invoke(args=["scheduler", "run", "--once"])
        assert result.exit_code == EXIT_LOCK_HELD == 75
        assert "Another scheduler holds the lock" in result.output and ran == []
        # --wait: waits at most that long, then the same.
        result = runner.invoke(args=["scheduler", "run", "--once", "--wait", "0.3"])
        assert result.exit_code == 75 and ran == []
        # ...and runs when the lock is released meanwhile.
        threading.Timer(0.3, other.release).start()
        result = runner.invoke(args=["scheduler", "run", "--once", "--wait", "20"])
        assert result.exit_code == 0, result.output
        assert ran == [path for path, _ in JOBS]
    finally:
        other.release()
