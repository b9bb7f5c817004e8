"""Computing a meeting's panels: a queued LotteryRun is claimed, solved with a time limit and kept with its
outcome in both languages. Called by the scheduler job and the CLI, never by a view."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, gettext as _

from app.core.audit import audit
from app.core.timeutil import utcnow
from app.extensions import db
from app.hearings import lottery as lottery_mod
from app.hearings import selection
from app.hearings.models import CATEGORIES, LotteryRun, LotteryStatus
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
        else:
            lines.append(_("求解器认为配额无法同时满足：%(detail)s", detail=s.detail))
    return "\n".join(lines) + "\n" + _("不会进行抽签。请调整配额前，注意报名开始后配额已冻结。")


def set_message(run: LotteryRun, make_message) -> None:
    """Keep the run's outcome in both languages: it is written by a job, and read by staff and the public in
    whichever language they use."""
    with force_locale("zh"):
        run.message = make_message()
    with force_locale("en"):
        run.message_en = make_message()


def _finish(run: LotteryRun, status: LotteryStatus, make_message) -> None:
    run.status, run.finished_at = status, utcnow()
    set_message(run, make_message)
    run.progress = 100
    audit(None, "hearing.lottery_finish", run.meeting, run=run.id, status=status.value)
    db.session.commit()


def execute_lottery_run(run: LotteryRun, time_limit: float | None = None) -> LotteryRun:
    """Compute a queued run: commits its progress as it goes, so others can watch. Called by the job/CLI."""
    time_limit = time_limit or current_app.config["LOTTERY_TIME_LIMIT_SECONDS"]
    claimed = db.session.execute(
        sa.update(LotteryRun).where(LotteryRun.id == run.id, LotteryRun.status == LotteryStatus.QUEUED)
        .values(status=LotteryStatus.RUNNING, started_at=utcnow(), progress=5, progress_note="starting")
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
        db.session.execute(sa.update(LotteryRun).where(LotteryRun.id == run.id)
                           .values(progress=pct, progress_note=f"{phase} {current}"))
        db.session.commit()

    try:
        result = lottery_mod.compute_with_time_limit(doc["entries"], doc["quotas"], seats, time_limit=time_limit,
                                                     progress=progress)
    except lottery_mod.LotteryInfeasible as exc:
        _finish(run, LotteryStatus.INFEASIBLE, lambda: explain_shortfalls(exc.shortfalls))
        return run
    except lottery_mod.LotteryTimeout:
        _finish(run, LotteryStatus.TIMED_OUT, lambda:
                _("计算超过了%(seconds)d秒的时间上限，已停止，没有公布任何结果。可以减少配额或联系管理员调整时间上限后重试。",
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
