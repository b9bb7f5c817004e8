"""Lottery runs whose process is gone, and staff cancelling a run.

A run records which process computes it (``worker``: host and pid). The job notices at once when that process no
longer exists on this host (a killed scheduler: its solver child ends with it), instead of waiting for the time
limit to pass; staff may cancel a queued or running run (the computing process sees it at its next progress report
and stops, writing nothing)."""
from __future__ import annotations

import os
import socket

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.accounts.models import User
from app.core.audit import audit
from app.core.timeutil import utcnow
from app.extensions import db
from app.hearings.models import HearingError, LotteryRun, LotteryStatus


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_gone(worker: str | None) -> bool:
    """True when ``worker`` names a process on this host that no longer exists."""
    host, _sep, pid = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another host (or an old run): the time limit decides
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, another user's
        return False
    return False


def _set_message(run: LotteryRun, make_message) -> None:
    with force_locale("zh"):
        run.message = make_message()
    with force_locale("en"):
        run.message_en = make_message()


def fail_dead_runs() -> int:
    """Running runs whose process is gone end as failed at once. Returns how many (committed)."""
    running = db.session.scalars(sa.select(LotteryRun).where(LotteryRun.status == LotteryStatus.RUNNING)).all()
    dead = [run for run in running if _process_gone(run.worker)]
    for run in dead:
        run.status, run.finished_at, run.progress = LotteryStatus.FAILED, utcnow(), 100
        _set_message(run, lambda: _("计算进程已中止（进程不存在），没有公布任何结果。请重新计算。"))
        audit(None, "hearing.lottery_finish", run.meeting, run=run.id, status=run.status.value, reason="process gone")
    db.session.commit()
    return len(dead)


def cancel_run(actor: User, run: LotteryRun) -> LotteryRun:
    """Staff stop a queued or running run. Flushes; the caller commits."""
    if not run.is_active:
        raise HearingError(_l("这次计算已经结束，无需取消。"))
    run.status, run.finished_at, run.progress = LotteryStatus.CANCELLED, utcnow(), 100
    _set_message(run, lambda: _("已由工作人员取消，没有公布任何结果。"))
    db.session.flush()
    audit(actor, "hearing.lottery_cancel", run.meeting, run=run.id)
    return run


def is_cancelled(run_id: int) -> bool:
    return db.session.scalar(sa.select(LotteryRun.status).where(LotteryRun.id == run_id)) == LotteryStatus.CANCELLED
