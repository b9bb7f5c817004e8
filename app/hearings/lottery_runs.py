"""Computing a meeting's panels: a queued LotteryRun is claimed, solved with a time limit and kept with its
outcome in both languages. Called by the scheduler job and the CLI, never by a view (except cancel_run, staff
stopping a run)."""
from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, gettext as _
from flask_babel import lazy_gettext as _l

from app.accounts.models import User
from app.core.audit import audit
from app.core.timeutil import utcnow
from app.extensions import db
from app.hearings import lottery as lottery_mod
from app.hearings import record, selection
from app.hearings.models import CATEGORIES, HearingError, LotteryRun, LotteryStatus
from app.hearings.services import category_value_label



def _json(text: str) -> dict:
    return json.loads(text)


def explain_shortfalls(shortfalls) -> str:
    lines = []
    for s in shortfalls:
        cat = str(CATEGORIES.get(s.category, s.category))
        value = category_value_label(s.category, s.value)
        if s.kind == "value_short":
            lines.append(_("配额不足：“%(category)s：%(value)s”至少需要%(needed)d人，候选池中只有%(available)d人。",
                           category=cat, value=value, needed=s.needed, available=s.available))
        elif s.kind == "pool_too_small":
            lines.append(_("候选池只有%(available)d人，少于名额%(needed)d。", available=s.available, needed=s.needed))
        elif s.kind == "min_sum_over_seats":
            lines.append(_("“%(category)s”各项最少人数之和%(needed)d超过名额%(available)d。", category=cat,
                           needed=s.needed, available=s.available))
        elif s.kind == "max_sum_under_seats":
            lines.append(_("“%(category)s”各项最多可选人数之和只有%(available)d，填不满%(needed)d个名额。",
                           category=cat, needed=s.needed, available=s.available))
        elif s.kind == "min_over_max":
            lines.append(_("“%(category)s：%(value)s”的最少人数大于最多人数。", category=cat, value=value))
        elif s.kind == "conflict":
            lines.append(_("“%(category)s：%(value)s”（最少%(min)d人、最多%(max)s人；候选池中有%(available)d人）与其他配额"
                           "无法同时满足：放宽这一项后就能组成满足其余配额的名单。", category=cat, value=value,
                           min=s.needed, max=s.detail, available=s.available))
        else:  # no single quota is to blame: say so in words, never with the solver's own text
            lines.append(_("这些配额单独看都能满足，但候选池中没有任何一组人能同时满足全部配额。"))
    return "\n".join(lines) + "\n" + _("不会进行抽签。工作人员可以放宽配额（每项说明理由，记入公开记录），"
                                         "或取消本轮遴选、重新开放报名。")


def set_message(run: LotteryRun, make_message) -> None:
    """Keep the run's outcome in both languages: it is written by a job, and read by staff and the public in
    whichever language they use."""
    with force_locale("zh"):
        run.message = make_message()
    with force_locale("en"):
        run.message_en = make_message()


def _finish(run: LotteryRun, status: LotteryStatus, make_message) -> None:
    if run.id is not None and is_cancelled(run.id):  # staff cancelled it meanwhile: keep that
        db.session.rollback()
        return
    run.status, run.finished_at = status, utcnow()
    set_message(run, make_message)
    run.progress = 100
    audit(None, "hearing.lottery_finish", run.meeting, run=run.id, status=status.value)
    db.session.commit()


def execute_lottery_run(run: LotteryRun, time_limit: float | None = None,
                        recorded_at: datetime | None = None) -> LotteryRun:
    """Compute a queued run: commits its progress as it goes, so others can watch. Called by the job/CLI (and by the
    demo, which dates the record entry with ``recorded_at``)."""
    time_limit = time_limit or current_app.config["LOTTERY_TIME_LIMIT_SECONDS"]
    claimed = db.session.execute(
        sa.update(LotteryRun).where(LotteryRun.id == run.id, LotteryRun.status == LotteryStatus.QUEUED)
        .values(status=LotteryStatus.RUNNING, started_at=utcnow(), progress=5, progress_note="starting",
                worker=worker_id())
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    db.session.refresh(run)
    if not claimed:  # another process took it
        return run
    doc = _json(run.meeting.pool.content)
    seats = doc["seats"]
    last = [0.0]

    def progress(phase, current, total):
        if time.monotonic() - last[0] < 2:
            return
        last[0] = time.monotonic()
        pct = min(90, 10 + int(80 * current / total)) if total else min(90, run.progress + 2)
        kept = db.session.execute(sa.update(LotteryRun).where(LotteryRun.id == run.id,
                                                              LotteryRun.status == LotteryStatus.RUNNING)
                                  .values(progress=pct, progress_note=f"{phase} {current}")).rowcount
        db.session.commit()
        if not kept:  # cancelled by staff: stop the solver
            raise lottery_mod.LotteryFailed("cancelled")

    try:
        # The solver child forgets the database connections it inherits (without closing this process's) and
        # ends itself if this process dies.
        result = lottery_mod.compute_with_time_limit(doc["entries"], doc["quotas"], seats, time_limit=time_limit,
                                                     progress=progress,
                                                     at_start=lambda: db.engine.dispose(close=False))
    except lottery_mod.LotteryInfeasible as exc:
        _finish(run, LotteryStatus.INFEASIBLE, lambda: explain_shortfalls(exc.shortfalls))
        return run
    except lottery_mod.LotteryTimeout:
        _finish(run, LotteryStatus.TIMED_OUT, lambda:
                _("计算超过了%(seconds)d秒的时间上限，已停止，没有公布任何结果。请在服务器负载较低时重新计算，或请管理员"
                  "调高 LOTTERY_TIME_LIMIT_SECONDS 后重新计算；配额很紧时也可以放宽配额（每项说明理由，记入公开记录）。",
                  seconds=int(time_limit)))
        return run
    except Exception as exc:  # noqa: BLE001 - any solver failure ends the run with a message
        _finish(run, LotteryStatus.FAILED, lambda: _("计算失败，没有公布任何结果：%(error)s", error=str(exc)))
        return run
    pool_by_number = {e["number"]: e for e in doc["entries"]}
    bad = [i for i, p in enumerate(result.panels)
           if not lottery_mod.panel_satisfies(p, pool_by_number, doc["quotas"], seats)]
    if bad:
        _finish(run, LotteryStatus.FAILED, lambda: _("有%(n)d个方案不满足配额，结果作废。", n=len(bad)))
        return run
    panels_doc = panels_document(doc, result)
    content = selection.canonical(panels_doc).decode("utf-8")
    run.panels_content = content
    run.panels_sha256 = selection.sha256(content)
    run.settings = result.settings
    run.seconds = result.seconds
    run.lowest_chance = result.lowest_chance
    run.highest_chance = result.highest_chance
    run.optimum_chance = result.optimum_chance
    record.append(run.meeting_id, record.Kind.PANELS_COMPUTED, {
        "pool_sha256": run.pool_sha256, "panels_sha256": run.panels_sha256, "panels": len(result.panels)},
        at=recorded_at)
    _finish(run, LotteryStatus.SUCCEEDED, lambda: _(
        "已生成%(n)d个满足配额的方案。最低入选机会：最优分布%(opt).2f%%，取整为方案后实际%(low).2f%%。",
        n=len(result.panels), opt=result.optimum_chance * 100, low=result.lowest_chance * 100))
    return run


def fail_stale_runs(time_limit: float, now: datetime | None = None) -> int:
    """Runs left 'running' by a process that died (longer than the limit plus a margin) end as failed."""
    now = now or utcnow()
    stale = list(db.session.scalars(sa.select(LotteryRun).where(
        LotteryRun.status == LotteryStatus.RUNNING,
        LotteryRun.started_at < now - timedelta(seconds=time_limit + 120))))
    for run in stale:
        _finish(run, LotteryStatus.FAILED, lambda: _("计算进程意外中止，没有公布任何结果。请重新计算。"))
    return len(stale)


def panels_document(pool_doc: dict, result) -> dict:
    return {
        "format": selection.PANELS_FORMAT,
        "meeting_id": pool_doc["meeting_id"],
        "pool_sha256": selection.sha256(selection.canonical(pool_doc)),
        "seats": pool_doc["seats"],
        "settings": result.settings,
        "seconds": result.seconds,
        "distribution_size": result.distribution_size,
        "number_of_panels": len(result.panels),
        "optimum_chance": result.optimum_chance,
        "lowest_chance": result.lowest_chance,
        "highest_chance": result.highest_chance,
        "chances": [{"number": n, "in_panels": round(result.chances[n] * len(result.panels)),
                     "chance": result.chances[n], "maximin_chance": result.maximin_chances[n]}
                    for n in sorted(result.chances)],
        "panels": result.panels,
    }


# ---- runs whose process is gone; staff cancelling a run --------------------------------------------------
# A run records which process computes it (``worker``: host and pid). The job notices at once when that process no
# longer exists on this host (a killed scheduler: its solver child ends with it), instead of waiting for the time
# limit; staff may cancel a queued or running run (the computing process sees it at its next progress report and
# stops, writing nothing).


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


def fail_dead_runs() -> int:
    """Running runs whose process is gone end as failed at once. Returns how many (committed)."""
    running = db.session.scalars(sa.select(LotteryRun).where(LotteryRun.status == LotteryStatus.RUNNING)).all()
    dead = [run for run in running if _process_gone(run.worker)]
    for run in dead:
        run.status, run.finished_at, run.progress = LotteryStatus.FAILED, utcnow(), 100
        set_message(run, lambda: _("计算进程已中止（进程不存在），没有公布任何结果。请重新计算。"))
        audit(None, "hearing.lottery_finish", run.meeting, run=run.id, status=run.status.value, reason="process gone")
    db.session.commit()
    return len(dead)


def cancel_run(actor: User, run: LotteryRun) -> LotteryRun:
    """Staff stop a queued or running run. Flushes; the caller commits."""
    if not run.is_active:
        raise HearingError(_l("这次计算已经结束，无需取消。"))
    run.status, run.finished_at, run.progress = LotteryStatus.CANCELLED, utcnow(), 100
    set_message(run, lambda: _("已由工作人员取消，没有公布任何结果。"))
    db.session.flush()
    audit(actor, "hearing.lottery_cancel", run.meeting, run=run.id)
    return run


def is_cancelled(run_id: int) -> bool:
    return db.session.scalar(sa.select(LotteryRun.status).where(LotteryRun.id == run_id)) == LotteryStatus.CANCELLED
