"""A run whose process is gone fails at once; staff cancel a run, and the computing process never overwrites that."""
import socket
import subprocess
import sys

from app.hearings import jobs, lottery_runs, selection_services
from app.hearings.models import LotteryRun, LotteryStatus


def _gone_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_running_run_whose_process_is_gone_fails_at_once(db, pool_meeting, staff):
    meeting = pool_meeting()
    dead = selection_services.request_lottery(staff, meeting)
    dead.status, dead.worker = LotteryStatus.RUNNING, f"{socket.gethostname()}:{_gone_pid()}"
    db.session.commit()
    assert lottery_runs.fail_dead_runs() == 1
    run = db.session.get(LotteryRun, dead.id)
    assert run.status is LotteryStatus.FAILED and "进程不存在" in run.message and "process" in run.message_en
    # A live process (this one) or another host's: left to finish (or to the time limit).
    for worker in (lottery_runs.worker_id(), "elsewhere:1"):
        other = selection_services.request_lottery(staff, meeting)
        other.status, other.worker = LotteryStatus.RUNNING, worker
        db.session.commit()
        assert lottery_runs.fail_dead_runs() == 0
        other.status = LotteryStatus.FAILED
        db.session.commit()


def test_staff_cancel_a_queued_run_and_the_job_does_not_compute_it(db, client, auth, pool_meeting, staff):
    meeting = pool_meeting()
    run = selection_services.request_lottery(staff, meeting)
    db.session.commit()
    auth.login(staff)
    page = client.get(f"/manage/hearings/{meeting.id}")
    assert f"/manage/hearings/{meeting.id}/lottery/{run.id}/cancel" in page.text
    response = client.post(f"/manage/hearings/{meeting.id}/lottery/{run.id}/cancel", follow_redirects=True)
    assert "已取消这次计算" in response.text
    db.session.expire_all()
    assert db.session.get(LotteryRun, run.id).status is LotteryStatus.CANCELLED
    assert jobs.run_queued_lotteries() == 0
    # A finished run cannot be cancelled: the reason, nothing written.
    response = client.post(f"/manage/hearings/{meeting.id}/lottery/{run.id}/cancel", follow_redirects=True)
    assert "已经结束" in response.text


def test_a_run_cancelled_while_computing_keeps_its_cancellation(db, pool_meeting, staff):
    meeting = pool_meeting()
    run = selection_services.request_lottery(staff, meeting)
    run.status = LotteryStatus.RUNNING
    db.session.commit()
    lottery_runs.cancel_run(staff, run)
    db.session.commit()
    lottery_runs._finish(run, LotteryStatus.FAILED, lambda: "solver stopped")  # what the computing process writes
    db.session.expire_all()
    assert db.session.get(LotteryRun, run.id).status is LotteryStatus.CANCELLED
