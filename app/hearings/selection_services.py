"""The selection of a meeting's observers: freezing the pool, asking for the panels, announcing the random source,
the draw, and the answers, declines and move-ins after it. Same conventions as ``services``: take ``actor``, flush
but never commit, audit, refuse with HearingError."""
from __future__ import annotations

import json
import re
import secrets
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from app import signals
from app.accounts.models import User
from app.core.audit import audit
from app.core.timeutil import format_local, from_local, utcnow
from app.extensions import db
from app.hearings import lottery as lottery_mod
from app.hearings import record, rfc3797, selection
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
    ensure_not_committed(meeting)
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
    record.append(meeting.id, record.Kind.POOL_FROZEN, {"pool_sha256": pool.sha256, "size": pool.size}, at=now)
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
    ensure_not_committed(meeting)
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


def parse_times(text: str, count: int) -> list[time]:
    """The time of day (Shanghai) at which each announced source publishes its numbers: "21:30" or one per source,
    "21:15, 20:30"; a single time applies to every source."""
    parts = [p for p in re.split(r"[\s,，、;；]+", (text or "").strip()) if p]
    try:
        times = [time.fromisoformat(p if len(p) > 4 else "0" + p) for p in parts]
    except ValueError:
        times = []
    if len(times) == 1:
        times = times * count
    if not times or len(times) != count:
        raise HearingError(_l("请按“21:30”的格式填写开奖时间：一个时间，或每个来源一个，用空格或逗号分隔。"), "times")
    return times


def committed_at(meeting: Meeting) -> datetime | None:
    """When the random source was announced: from then on nothing that feeds the draw may change."""
    return meeting.draw.announced_at if meeting.draw is not None else None


def ensure_not_committed(meeting: Meeting) -> None:
    """Refuse anything that changes the pool, the panels or the rules once the random source is announced."""
    if meeting.draw is not None:
        raise HearingError(_l("随机数来源已于%(when)s公布，候选池、配额和抽签方案自那时起不能再改变。",
                              when=format_local(meeting.draw.announced_at)))


def announce_draw(actor: User, meeting: Meeting, *, descriptions: list[str], expected_on: date,
                  times: list[time], now: datetime | None = None) -> Draw:
    """Commit to the pool and the published panels (their SHA-256 go into the announcement and the record), and name
    the future public numbers that will pick a panel. The panels must exist first, and the numbers must come out at
    least HEARING_ANNOUNCE_MIN_DAYS full days after the announcement."""
    now = (now or utcnow()).replace(microsecond=0)
    descriptions = [d.strip() for d in descriptions if d and d.strip()]
    if meeting.pool is None:
        raise HearingError(_l("请先冻结候选池。"))
    ensure_not_committed(meeting)
    run = published_run(meeting)
    if run is None:
        raise HearingError(_l("请先计算并公布抽签方案：随机数来源只能在方案及其SHA-256公开之后公布。"))
    if not descriptions:
        raise HearingError(_l("请至少写明一个将来公开的随机数来源。"), "descriptions")
    if len(descriptions) > 5:
        raise HearingError(_l("随机数来源最多5个。"), "descriptions")
    if len(times) == 1:
        times = times * len(descriptions)
    if len(times) != len(descriptions):
        raise HearingError(_l("请为每个随机数来源填写开奖时间。"), "times")
    publish_at = [from_local(expected_on, t) for t in times]
    min_days = current_app.config["HEARING_ANNOUNCE_MIN_DAYS"]
    if min(publish_at) < now + timedelta(days=min_days):
        raise HearingError(_l("随机数必须是将来才公开的：开奖时间须在公布来源之后至少%(days)d整天（现在公布，最早可选%(when)s）。",
                              days=min_days, when=format_local(now + timedelta(days=min_days))), "expected_on")
    draw = Draw(meeting=meeting, source_descriptions=descriptions, expected_on=expected_on, announced_at=now,
                announced_by_id=actor.id, source_times=[t.strftime("%H:%M") for t in times],
                numbers_at=max(publish_at), pool_sha256=meeting.pool.sha256, panels_sha256=run.panels_sha256,
                lottery_run_id=run.id)
    db.session.add(draw)
    db.session.flush()
    record.append(meeting.id, record.Kind.SOURCE_ANNOUNCED, {
        "pool_sha256": draw.pool_sha256, "panels_sha256": draw.panels_sha256,
        "panels": len(json.loads(run.panels_content)["panels"]),
        "sources": [{"description": d, "numbers_at": record.stamp(at)} for d, at in zip(descriptions, publish_at)],
        "draw_not_before": record.stamp(draw.numbers_at)}, at=now)
    audit(actor, "hearing.draw_announce", meeting, sources=descriptions, expected_on=expected_on.isoformat(),
          times=draw.source_times, pool_sha256=draw.pool_sha256, panels_sha256=draw.panels_sha256)
    return draw


def perform_draw(actor: User, meeting: Meeting, source_texts: list[str], now: datetime | None = None) -> Draw:
    now = (now or utcnow()).replace(microsecond=0)
    draw = meeting.draw
    if draw is None:
        raise HearingError(_l("请先公布将使用的随机数来源。"))
    if draw.drawn_at is not None:
        audit(actor, "hearing.draw_refused", meeting, reason="already drawn", attempted=list(source_texts))
        db.session.flush()
        raise HearingError(_l("抽签只能进行一次，本次抽签已于%(when)s完成。这次尝试（包括所填号码）已记入审计日志。",
                              when=format_local(draw.drawn_at)))
    run = draw.lottery_run
    if run is None or run.panels_sha256 != draw.panels_sha256 or meeting.pool.sha256 != draw.pool_sha256:
        raise HearingError(_l("候选池或抽签方案与公布随机数来源时承诺的不一致，不能抽签。请联系监督部门。"))
    not_before = draw.numbers_at or from_local(draw.expected_on)  # draws announced before times were kept
    if now < not_before:
        raise HearingError(_l("公布的开奖时间（%(when)s）还没到：号码公布后才能抽签。", when=format_local(not_before)))
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
    _apply_draw(meeting, result, now)
    db.session.flush()
    record.append(meeting.id, record.Kind.NUMBERS_ENTERED, {"sources": result["sources"]}, at=now)
    record.append(meeting.id, record.Kind.DRAWN, {
        "draw_sha256": draw.sha256, "pool_sha256": result["pool_sha256"], "panels_sha256": result["panels_sha256"],
        "key_string": result["key_string"], "panel_index": result["panel_index"], "panel": result["panel"],
        "alternates": result["alternates"]}, at=now)
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
    now = now or utcnow()
    application.respond(accept, now)
    db.session.flush()
    signals.application_changed.send(application)
    if accept:
        return None
    record.append(application.meeting_id, record.Kind.DECLINED,
                  {"number": application.pool_entry.number, "reason": "declined"}, at=now)
    return promote_alternate(application, now)


def promote_alternate(vacated: Application, now: datetime | None = None) -> Application | None:
    """Move in the first alternate (by rank) with whom the panel still meets the quotas; if none does, the first.
    The quotas and categories are the frozen pool's, so anyone can repeat the rule from the public files."""
    now = now or utcnow()
    meeting = vacated.meeting
    alternates = list(db.session.scalars(sa.select(Application).where(
        Application.meeting_id == meeting.id, Application.state == ApplicationState.ALTERNATE)
        .order_by(Application.alternate_rank).with_for_update()))
    if not alternates:
        audit(None, "hearing.no_alternate", meeting, vacated=vacated.id)
        record.append(meeting.id, record.Kind.NO_ALTERNATE, {"vacated": vacated.pool_entry.number}, at=now)
        return None
    pool_doc = json.loads(meeting.pool.content)
    categories = {e["number"]: e["categories"] for e in pool_doc["entries"]}
    holders = [a.pool_entry.number for a in active_panel(meeting.id)]
    ranked = [a.pool_entry.number for a in alternates]
    number, rule = move_in_rule(holders, ranked, categories, pool_doc["quotas"])
    chosen = next(a for a in alternates if a.pool_entry.number == number)
    chosen.select(now + timedelta(days=meeting.response_days))
    db.session.flush()
    record.append(meeting.id, record.Kind.MOVED_IN, {
        "vacated": vacated.pool_entry.number, "number": number, "alternate_rank": chosen.alternate_rank,
        "rule": rule, "skipped": ranked[:ranked.index(number)] if rule == FIRST_FITTING else []}, at=now)
    audit(None, "hearing.alternate_in", meeting, vacated=vacated.id, moved_in=chosen.id, rule=rule)
    notify(chosen.user, "promoted", application=chosen, meeting=meeting)
    signals.application_changed.send(chosen)
    return chosen


FIRST_FITTING = "first_alternate_keeping_quotas"
NONE_FITS = "first_alternate_none_keeps_quotas"


def move_in_rule(holders: list[int], alternates: list[int], categories: dict, quotas: list[dict]) -> tuple[int, str]:
    """Who moves in (a pool number) and by which rule, given the seat holders and the waiting alternates by rank."""
    def fits(candidate: int) -> bool:
        members = holders + [candidate]
        return all(q["min"] <= sum(1 for m in members if categories[m].get(q["category"]) == q["value"]) <= q["max"]
                   for q in quotas)

    fitting = next((n for n in alternates if fits(n)), None)
    return (fitting, FIRST_FITTING) if fitting is not None else (alternates[0], NONE_FITS)


def expire_unanswered(now: datetime | None = None) -> int:
    """Selected people who did not answer by the deadline are counted as declining (safe to run twice)."""
    now = now or utcnow()
    due = list(db.session.scalars(sa.select(Application).where(
        Application.state == ApplicationState.SELECTED, Application.respond_by <= now).with_for_update()))
    for application in due:
        application.lapse(now)
        db.session.flush()
        audit(None, "hearing.no_answer", application, department_id=application.meeting.department_id)
        record.append(application.meeting_id, record.Kind.DECLINED,
                      {"number": application.pool_entry.number, "reason": "no_answer"}, at=now)
        promote_alternate(application, now)
    return len(due)
