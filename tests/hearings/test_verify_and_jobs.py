import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
import time_machine

from app.hearings import jobs, lottery_runs, selection_services
from app.hearings.models import LotteryRun, LotteryStatus
from tests.hearings.conftest import AFTER_NUMBERS, DRAW_TIME

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_hearing_draw.py"


def _drawn_meeting(db, pool_meeting, staff):
    meeting = pool_meeting()
    selection_services.request_lottery(staff, meeting)
    db.session.commit()
    assert jobs.run_queued_lotteries() == 1
    assert jobs.run_queued_lotteries() == 0  # safe to run twice
    run = selection_services.published_run(meeting)
    assert run.status is LotteryStatus.SUCCEEDED
    with time_machine.travel(meeting.closes_at + timedelta(days=1)):
        selection_services.announce_draw(staff, meeting, descriptions=["体彩排列5 第26150期", "上证指数收盘点位×100"],
                               expected_on=date(2026, 6, 30), times=[DRAW_TIME])
    with time_machine.travel(AFTER_NUMBERS):
        selection_services.perform_draw(staff, meeting, ["3 8 1 0 6", "328915"])
    db.session.commit()
    return meeting, run


def test_standalone_script_recomputes_the_draw(db, pool_meeting, staff, tmp_path):
    meeting, run = _drawn_meeting(db, pool_meeting, staff)
    (tmp_path / "pool.json").write_text(meeting.pool.content, encoding="utf-8")
    (tmp_path / "panels.json").write_text(run.panels_content, encoding="utf-8")
    (tmp_path / "draw.json").write_text(meeting.draw.content, encoding="utf-8")
    out = subprocess.run([sys.executable, "-I", str(SCRIPT), str(tmp_path / "pool.json"), str(tmp_path / "panels.json"),
                          "3 8 1 0 6", "328915", "--draw", str(tmp_path / "draw.json")],
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    draw = json.loads(meeting.draw.content)
    assert f"panel: {draw['panel']}" in out.stdout
    assert f"alternates in order: {draw['alternates']}" in out.stdout
    assert meeting.pool.sha256 in out.stdout
    assert "key string: 0.1.3.6.8./328915./" in out.stdout
    # other numbers give another result, which the script reports as a mismatch
    bad = subprocess.run([sys.executable, "-I", str(SCRIPT), str(tmp_path / "pool.json"), str(tmp_path / "panels.json"),
                          "1 2 3", "4", "--draw", str(tmp_path / "draw.json")], capture_output=True, text=True)
    assert bad.returncode == 1 and "MISMATCH" in bad.stdout


def test_flask_hearings_verify(db, pool_meeting, staff, runner):
    meeting, _run = _drawn_meeting(db, pool_meeting, staff)
    result = runner.invoke(args=["hearings", "verify", str(meeting.id)])
    assert result.exit_code == 0, result.output
    assert "MISMATCH" not in result.output and result.output.strip().endswith("OK")
    assert "seats by the record" in result.output
    result = runner.invoke(args=["hearings", "verify", "9999"])
    assert result.exit_code != 0


def test_stale_running_run_is_failed(db, pool_meeting, staff):
    meeting = pool_meeting()
    run = selection_services.request_lottery(staff, meeting)
    run.status, run.started_at = LotteryStatus.RUNNING, meeting.closes_at
    db.session.commit()
    # Stale after the time limit plus a margin of two minutes, counted from the run's start, not the wall clock.
    assert lottery_runs.fail_stale_runs(600, now=run.started_at + timedelta(seconds=700)) == 0
    assert db.session.get(LotteryRun, run.id).status is LotteryStatus.RUNNING
    assert lottery_runs.fail_stale_runs(600, now=run.started_at + timedelta(seconds=721)) == 1
    assert db.session.get(LotteryRun, run.id).status is LotteryStatus.FAILED


def test_expire_job_safe_twice(db):
    assert jobs.expire_unanswered() == 0
    assert jobs.expire_unanswered() == 0
