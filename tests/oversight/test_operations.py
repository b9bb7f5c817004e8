"""The oversight dashboard shows the scheduler's heartbeat and each job's last run, with a warning when stale."""
from __future__ import annotations

from datetime import timedelta

import time_machine

from app.core import jobruns
from app.core.timeutil import utcnow
from app.scheduler import JOBS


def test_dashboard_warns_when_the_scheduler_is_not_beating(client, auth, db, admin):
    auth.login(admin)
    page = client.get("/manage/oversight")
    assert "后台任务进程没有在运行" in page.text and "从未" in page.text

    start = utcnow()
    jobruns.heartbeat("host:1:abcd")
    for path, _interval in JOBS:
        jobruns.record(path, started_at=start, ok=path != JOBS[0][0])
    page = client.get("/manage/oversight")
    assert "后台任务进程运行正常" in page.text
    assert "上次运行出错" in page.text  # the one that failed
    assert "1 项需要注意" in page.text

    with time_machine.travel(start + timedelta(minutes=3)):  # no beat for three minutes: stopped, or no database
        page = client.get("/manage/oversight?lang=en")
    assert "The background job process is not running" in page.text


def test_a_scheduler_run_from_cron_counts_as_a_heartbeat(client, auth, db, admin, runner, monkeypatch):
    """README: cron may run `flask scheduler run --once` instead of the long-running process; the dashboard must not
    say that nothing runs the jobs while cron does."""
    monkeypatch.setattr("app.scheduler.resolve", lambda path: lambda: "ran")
    auth.login(admin)
    assert "后台任务进程没有在运行" in client.get("/manage/oversight").text
    result = runner.invoke(args=["scheduler", "run", "--once"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    page = client.get("/manage/oversight")
    assert "后台任务进程运行正常" in page.text and "后台任务进程没有在运行" not in page.text
    beat = jobruns.status()[jobruns.HEARTBEAT]
    assert beat.holder and utcnow() - beat.last_finished_at < timedelta(minutes=1)
