"""The selection of a meeting's observers: freezing the pool, asking for the panels, announcing the random source,
the draw, and the answers, declines and move-ins after it. Same conventions as ``services``: take ``actor``, flush
but never commit, audit, refuse with HearingError."""
from __future__ import annotations

import json
import secrets
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app import signals
from app.accounts.models import User
from app.core.audit import audit
from app.core.timeutil import format_local, local, utcnow
from app.extensions import db
from app.hearings import lottery as lottery_mod
from app.hearings import rfc3797, selection
from app.hearings.lottery_runs import explain_shortfalls, set_message
from app.hearings.models import (
    Application,
    ApplicationState,
    Draw,
    HearingError,
    LotteryRun,
    LotteryStatus,
    Meeting,
    Pool,
    PoolEntry,
)
from app.hearings.services import active_panel, notify



def pool_document(meeting: Meeting, entries: list[PoolEntry], frozen_at: datetime) -> dict:
    return {
        "format": selection.POOL_FORMAT,
        "meeting_id": meeting.id,
        "title": meeting.title,
        "frozen_at": frozen_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seats": meeting.seats,
        "alternates": meeting.alternates,
        "categories": meeting.used_categories,
        "quotas": sorted((q.as_dict() for q in meeting.quotas), key=lambda q: (q["category"], q["value"])),
        "entries": [{"number": e.number, "categories": {c: e.categories[c] for c in meeting.used_categories}}
                    for e in sorted(entries, key=lambda e: e.number)],
    }


def freeze_pool(actor: User, meeting: Meeting, now: datetime | None = None) -> Pool:
    now = (now or utcnow()).replace(microsecond=0)
    if meeting.published_at is None or now < meeting.closes_at:
        raise HearingError(_l("报名截止后才能冻结候选池。"))
    if meeting.pool is not None:
        raise HearingError(_l("候选池已经冻结。"))
    waiting = db.session.scalar(sa.select(sa.func.count(Application.id)).where(
        Application.meeting_id == meeting.id, Application.state == ApplicationState.SUBMITTED))
    if waiting:
        raise HearingError(_l("还有%(n)d份申请未审查。", n=waiting))
    eligible = list(db.session.scalars(sa.select(Application).where(
        Application.meeting_id == meeting.id, Application.state == ApplicationState.ELIGIBLE)))
    if len(eligible) < meeting.seats:
        raise HearingError(_l("符合条件的申请人（%(n)d）少于名额（%(seats)d）。", n=len(eligible),
                              seats=meeting.seats))
    # Pseudonymous numbers in a random order, so a number reveals nothing about who applied when.
    numbers = list(range(1, len(eligible) + 1))
    secrets.SystemRandom().shuffle(numbers)
    with db.session.no_autoflush:
        entries = [PoolEntry(number=n, application=a, categories=dict(a.categories))
                   for n, a in zip(numbers, eligible)]
        doc = pool_document(meeting, entries, now)
    content = selection.canonical(doc).decode("utf-8")
    pool = Pool(meeting=meeting, frozen_at=now, size=len(entries), content=content,
                sha256=selection.sha256(content), entries=entries)
    db.session.add(pool)
    db.session.flush()
    audit(actor, "hearing.freeze_pool", meeting, size=pool.size, sha256=pool.sha256)
    return pool


def published_run(meeting: Meeting) -> LotteryRun | None:
    return db.session.scalar(sa.select(LotteryRun).where(LotteryRun.meeting_id == meeting.id,
                                                         LotteryRun.status == LotteryStatus.SUCCEEDED)
                             .order_by(LotteryRun.id.desc()).limit(1))


def latest_run(meeting: Meeting) -> LotteryRun | None:
    return db.session.scalar(sa.select(LotteryRun).where(LotteryRun.meeting_id == meeting.id)
                             .order_by(LotteryRun.id.desc()).limit(1))


def request_lottery(actor: User, meeting: Meeting) -> LotteryRun:
    if meeting.pool is None:
        raise HearingError(_l("请先冻结候选池。"))
    if published_run(meeting) is not None:
        raise HearingError(_l("抽签方案已经计算并公布，不能重新计算。"))
    running = latest_run(meeting)
    if running is not None and running.is_active:
        raise HearingError(_l("抽签方案正在计算中。"))
    doc = json.loads(meeting.pool.content)
    shortfalls = lottery_mod.check_feasibility(doc["entries"], doc["quotas"], meeting.seats)
    run = LotteryRun(meeting=meeting, requested_by_id=actor.id, pool_sha256=meeting.pool.sha256)
    db.session.add(run)
    if shortfalls:
        run.status, run.finished_at = LotteryStatus.INFEASIBLE, utcnow()
        set_message(run, lambda: explain_shortfalls(shortfalls))
    db.session.flush()
    audit(actor, "hearing.lottery_request", meeting, run=run.id, status=run.status.value)
    return run


def announce_draw(actor: User, meeting: Meeting, *, descriptions: list[str], expected_on: date,
                  now: datetime | None = None) -> Draw:
    now = now or utcnow()
    descriptions = [d.strip() for d in descriptions if d and d.strip()]
    if meeting.pool is None:
        raise HearingError(_l("请先冻结候选池。"))
    if meeting.draw is not None:
        raise HearingError(_l("随机数来源已经公布，不能更改。"))
    if not descriptions:
        raise HearingError(_l("请至少写明一个将来公开的随机数来源。"), "descriptions")
    if len(descriptions) > 5:
        raise HearingError(_l("随机数来源最多5个。"), "descriptions")
    if expected_on <= local(now).date():  # a Shanghai date, like the one the staff member typed
        raise HearingError(_l("随机数必须是将来才公开的：开奖日期须晚于今天。"), "expected_on")
    draw = Draw(meeting=meeting, source_descriptions=descriptions, expected_on=expected_on, announced_at=now,
                announced_by_id=actor.id)
    db.session.add(draw)
    db.session.flush()
    audit(actor, "hearing.draw_announce", meeting, sources=descriptions, expected_on=expected_on.isoformat())
    return draw


def perform_draw(actor: User, meeting: Meeting, source_texts: list[str], now: datetime | None = None) -> Draw:
    now = now or utcnow()
    draw = meeting.draw
    if draw is None:
        raise HearingError(_l("请先公布将使用的随机数来源。"))
    if draw.drawn_at is not None:
        audit(actor, "hearing.draw_refused", meeting, reason="already drawn", attempted=source_texts)
        db.session.flush()
        raise HearingError(_l("抽签只能进行一次，本次抽签已于%(when)s完成。这次尝试已记入审计日志。",
                              when=format_local(draw.drawn_at)))
    run = published_run(meeting)
    if run is None:
        raise HearingError(_l("抽签方案尚未计算完成并公布。"))
    if draw.expected_on and local(now).date() < draw.expected_on:
        raise HearingError(_l("公布的开奖日期还没到。"))
    if len(source_texts) != len(draw.source_descriptions):
        raise HearingError(_l("请填写每一个公布的随机数来源。"), "sources")
    sources = []
    for i, text in enumerate(source_texts):
        try:
            sources.append(rfc3797.parse_source(text))
        except rfc3797.SourceFormatError:
            raise HearingError(_l("第%(n)d个来源格式不对：只能填写非负整数，用空格或逗号分隔，例如“3 12 25 31”。",
                                  n=i + 1), f"source_{i}") from None
    pool_doc = json.loads(meeting.pool.content)
    panels_doc = json.loads(run.panels_content)
    result = selection.compute_draw(pool_doc, panels_doc, sources)
    content = selection.canonical(result).decode("utf-8")
    # Claim the draw in one conditional UPDATE, so two simultaneous attempts cannot both draw.
    claimed = db.session.execute(sa.update(Draw).where(Draw.id == draw.id, Draw.drawn_at.is_(None))
                                 .values(drawn_at=now).execution_options(synchronize_session=False)).rowcount
    if not claimed:
        raise HearingError(_l("抽签只能进行一次，本次抽签已经完成。"))
    draw.sources, draw.key_string, draw.panel_index = result["sources"], result["key_string"], result["panel_index"]
    draw.content, draw.sha256, draw.drawn_at, draw.drawn_by_id = content, selection.sha256(content), now, actor.id
    draw.lottery_run_id = run.id
    _apply_draw(meeting, result, now)
    db.session.flush()
    audit(actor, "hearing.draw", meeting, key_string=draw.key_string, panel_index=draw.panel_index,
          panel=result["panel"], alternates=result["alternates"])
    return draw


def _apply_draw(meeting: Meeting, result: dict, now: datetime) -> None:
    by_number = {e.number: e.application for e in meeting.pool.entries}
    respond_by = now + timedelta(days=meeting.response_days)
    for n in result["panel"]:
        app_ = by_number[n]
        app_.select(respond_by)
        notify(app_.user, "selected", application=app_, meeting=meeting)
    for rank, n in enumerate(result["alternates"], start=1):
        app_ = by_number[n]
        app_.make_alternate(rank)
        notify(app_.user, "alternate", application=app_, meeting=meeting)
    chosen = set(result["panel"]) | set(result["alternates"])
    for n, app_ in by_number.items():
        if n not in chosen:
            app_.not_select()
            notify(app_.user, "not_selected", application=app_, meeting=meeting)


def respond(actor: User, application: Application, accept: bool, now: datetime | None = None) -> Application | None:
    """The selected person accepts or declines; a decline moves the next alternate in. Returns who moved in."""
    if application.user_id != actor.id:
        raise HearingError(_l("只能答复自己的遴选结果。"))
    application.respond(accept, now)
    db.session.flush()
    signals.application_changed.send(application)
    if accept:
        return None
    return promote_alternate(application, now)


def promote_alternate(vacated: Application, now: datetime | None = None) -> Application | None:
    """Move in the first alternate (by rank) with whom the panel still meets the quotas; if none does, the first."""
    now = now or utcnow()
    meeting = vacated.meeting
    alternates = list(db.session.scalars(sa.select(Application).where(
        Application.meeting_id == meeting.id, Application.state == ApplicationState.ALTERNATE)
        .order_by(Application.alternate_rank).with_for_update()))
    if not alternates:
        audit(None, "hearing.no_alternate", meeting, vacated=vacated.id)
        return None
    panel = active_panel(meeting.id)
    quotas = [q.as_dict() for q in meeting.quotas]

    def fits(candidate: Application) -> bool:
        members = panel + [candidate]
        return all(q["min"] <= sum(1 for m in members if m.categories.get(q["category"]) == q["value"]) <= q["max"]
                   for q in quotas)

    chosen = next((a for a in alternates if fits(a)), alternates[0])
    chosen.select(now + timedelta(days=meeting.response_days))
    db.session.flush()
    audit(None, "hearing.alternate_in", meeting, vacated=vacated.id, moved_in=chosen.id,
          keeps_quotas=fits(chosen))
    notify(chosen.user, "promoted", application=chosen, meeting=meeting)
    signals.application_changed.send(chosen)
    return chosen


def expire_unanswered(now: datetime | None = None) -> int:
    """Selected people who did not answer by the deadline are counted as declining (safe to run twice)."""
    now = now or utcnow()
    due = list(db.session.scalars(sa.select(Application).where(
        Application.state == ApplicationState.SELECTED, Application.respond_by <= now).with_for_update()))
    for application in due:
        application.lapse(now)
        db.session.flush()
        audit(None, "hearing.no_answer", application, department_id=application.meeting.department_id)
        promote_alternate(application, now)
    return len(due)
