"""Use cases of the hearings module. They take ``actor``, flush but never commit, write the audit log, queue mail
and send signals; a refused action raises HearingError with a readable message."""
from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, gettext as _
from flask_babel import lazy_gettext as _l

from app import signals
from app.accounts.models import Role, User
from app.core.audit import audit
from app.core.timeutil import format_local, local, utcnow
from app.extensions import db
from app.hearings import lottery as lottery_mod
from app.hearings import rfc3797, runs, selection
from app.hearings.models import (
    CATEGORIES,
    Application,
    ApplicationState,
    Disposition,
    Draw,
    FollowUp,
    HearingError,
    LotteryRun,
    LotteryStatus,
    Meeting,
    Pool,
    PoolEntry,
    Quota,
    Suggestion,
    Topic,
)
from app.notifications.services import queue_email

MATERIALS_DAYS_BEFORE = 7
RULE_FIELDS = ("seats", "alternates", "method")


def _mail(user: User, template: str, **context) -> None:
    if user.email:
        queue_email(user.email, f"hearings/emails/{template}", user=user, **context)


# ---- meetings -----------------------------------------------------------------------------------------------


def create_meeting(actor: User, department_id: int, *, topics: list[tuple[str, str]], quotas: list[dict] = (),
                   **fields) -> Meeting:
    if fields["closes_at"] <= fields["opens_at"]:
        raise HearingError(_l("报名截止时间必须晚于开始时间。"), "closes_at")
    if fields["starts_at"] <= fields["closes_at"]:
        raise HearingError(_l("会议时间必须晚于报名截止时间。"), "starts_at")
    meeting = Meeting(department_id=department_id, **fields)
    meeting.topics = [Topic(position=i, title=t, background=b) for i, (t, b) in enumerate(topics)]
    db.session.add(meeting)
    _replace_quotas(meeting, quotas)
    db.session.flush()
    audit(actor, "hearing.create", meeting, title=meeting.title)
    return meeting


def update_meeting(actor: User, meeting: Meeting, **fields) -> None:
    changed_rules = [k for k in RULE_FIELDS if k in fields and getattr(meeting, k) != fields[k]]
    if changed_rules or ("opens_at" in fields and fields["opens_at"] != meeting.opens_at and meeting.published_at):
        meeting.ensure_rules_editable()
    opens, closes, starts = (fields.get("opens_at", meeting.opens_at), fields.get("closes_at", meeting.closes_at),
                             fields.get("starts_at", meeting.starts_at))
    if closes <= opens:
        raise HearingError(_l("报名截止时间必须晚于开始时间。"), "closes_at")
    if starts <= closes:
        raise HearingError(_l("会议时间必须晚于报名截止时间。"), "starts_at")
    for k, v in fields.items():
        setattr(meeting, k, v)
    db.session.flush()
    audit(actor, "hearing.update", meeting, fields=sorted(fields), rules_changed=changed_rules or None)


def _replace_quotas(meeting: Meeting, quotas) -> None:
    seen = set()
    new = []
    for q in quotas:
        if q["category"] not in CATEGORIES:
            raise HearingError(_l("未知的配额类别。"), "quotas")
        key = (q["category"], q["value"])
        if key in seen:
            raise HearingError(_l("同一类别的同一取值只能设置一个配额。"), "quotas")
        seen.add(key)
        if q["min"] < 0 or q["max"] < q["min"]:
            raise HearingError(_l("配额的最少人数不能大于最多人数。"), "quotas")
        new.append(Quota(category=q["category"], value=q["value"], minimum=q["min"], maximum=q["max"]))
    by_cat: dict[str, int] = {}
    for q in new:
        by_cat[q.category] = by_cat.get(q.category, 0) + q.minimum
    for cat, total in by_cat.items():
        if total > meeting.seats:
            raise HearingError(_l("“%(category)s”各项最少人数之和（%(total)d）超过了名额（%(seats)d）。",
                                  category=CATEGORIES[cat], total=total, seats=meeting.seats), "quotas")
    meeting.quotas = new


def set_quotas(actor: User, meeting: Meeting, quotas: list[dict]) -> None:
    meeting.ensure_rules_editable()
    _replace_quotas(meeting, quotas)
    db.session.flush()
    audit(actor, "hearing.quotas", meeting, quotas=[q.as_dict() for q in meeting.quotas])


def publish_meeting(actor: User, meeting: Meeting) -> None:
    meeting.publish()
    db.session.flush()
    audit(actor, "hearing.publish", meeting)
    signals.meeting_announced.send(meeting, actor=actor)


# ---- applications -------------------------------------------------------------------------------------------


def profile_categories(user: User, meeting: Meeting | None = None) -> dict:
    """The quota categories of a person, from the profile (shown to them to confirm)."""
    returning = db.session.scalar(
        sa.select(sa.func.count(Application.id)).where(
            Application.user_id == user.id,
            Application.state == ApplicationState.ATTENDED,
            Application.meeting_id != (meeting.id if meeting else -1)))
    return {
        "district": user.district or "",
        "age_band": user.age_band or "",
        "gender": user.gender or "",
        "account_type": "enterprise" if user.role is Role.ENTERPRISE else "resident",
        "observer_history": "returning" if returning else "first_time",
    }


def apply(actor: User, meeting: Meeting, *, statement: str, lives_or_works_in_city: bool, has_conflict: bool,
          conflict_details: str, consents_to_publication: bool, confirms_categories: bool,
          now: datetime | None = None) -> Application:
    now = now or utcnow()
    if actor.role not in (Role.RESIDENT, Role.ENTERPRISE):
        raise HearingError(_l("只有居民和企业代表可以报名列席。"))
    if not meeting.is_open(now):
        raise HearingError(_l("现在不在报名时间内。"))
    existing = db.session.scalar(sa.select(Application).where(Application.meeting_id == meeting.id,
                                                              Application.user_id == actor.id))
    if existing is not None:
        raise HearingError(_l("您已经报名了这次会议，每人只能报名一次。"))
    categories = profile_categories(actor, meeting)
    missing = [c for c in ("district", "age_band", "gender") if not categories[c]]
    if missing:
        raise HearingError(_l("请先在个人资料中填写所在区、年龄段和性别。"))
    if categories["age_band"] == "under_18":
        raise HearingError(_l("列席人须年满18周岁。"))
    statement = (statement or "").strip()
    if not statement:
        raise HearingError(_l("请填写报名理由。"), "statement")
    if len(statement) > 2000:
        raise HearingError(_l("报名理由不能超过2000字。"), "statement")
    if not lives_or_works_in_city:
        raise HearingError(_l("列席人须在本市居住或工作。"), "lives_or_works_in_city")
    if not confirms_categories:
        raise HearingError(_l("请确认以上资料准确无误。"), "confirms_categories")
    if has_conflict and not (conflict_details or "").strip():
        raise HearingError(_l("请说明利益关系。"), "conflict_details")
    application = Application(meeting=meeting, user_id=actor.id, statement=statement, categories=categories,
                              lives_or_works_in_city=True, has_conflict=has_conflict,
                              conflict_details=(conflict_details or "").strip() if has_conflict else "",
                              consents_to_publication=consents_to_publication, created_at=now)
    db.session.add(application)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        raise HearingError(_l("您已经报名了这次会议，每人只能报名一次。")) from None
    db.session.execute(sa.update(Meeting).where(Meeting.id == meeting.id)
                       .values(application_count=Meeting.application_count + 1))
    db.session.refresh(meeting, ["application_count"])
    signals.application_changed.send(application)
    return application


def withdraw(actor: User, application: Application) -> None:
    if application.user_id != actor.id:
        raise HearingError(_l("只能撤回自己的申请。"))
    application.withdraw()
    db.session.execute(sa.update(Meeting).where(Meeting.id == application.meeting_id)
                       .values(application_count=Meeting.application_count - 1))
    db.session.flush()
    signals.application_changed.send(application)


def review(actor: User, application: Application, *, eligible: bool, reason: str = "") -> None:
    application.review(eligible, reason)
    db.session.flush()
    audit(actor, "hearing.review", application, department_id=application.meeting.department_id,
          eligible=eligible, reason=application.ineligible_reason or None)
    _mail(application.user, "reviewed", application=application, meeting=application.meeting)
    signals.application_changed.send(application)


# ---- the pool -------------------------------------------------------------------------------------------


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


# ---- the lottery --------------------------------------------------------------------------------------------


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
    doc = _json(meeting.pool.content)
    shortfalls = lottery_mod.check_feasibility(doc["entries"], doc["quotas"], meeting.seats)
    run = LotteryRun(meeting=meeting, requested_by_id=actor.id, pool_sha256=meeting.pool.sha256)
    db.session.add(run)
    if shortfalls:
        run.status, run.finished_at = LotteryStatus.INFEASIBLE, utcnow()
        _set_message(run, lambda: explain_shortfalls(shortfalls))
    db.session.flush()
    audit(actor, "hearing.lottery_request", meeting, run=run.id, status=run.status.value)
    return run


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


def category_value_label(category: str, value: str) -> str:
    from app.accounts.models import AGE_BANDS, DISTRICTS, GENDERS
    from app.hearings.models import ACCOUNT_TYPES, OBSERVER_HISTORY
    from app.i18n import current_language

    table = {"district": DISTRICTS, "age_band": AGE_BANDS, "gender": GENDERS, "account_type": ACCOUNT_TYPES,
             "observer_history": OBSERVER_HISTORY}.get(category, {})
    if value not in table:
        return value
    zh, en = table[value]
    return str(zh) if en is None or current_language() != "en" else en


def _json(text: str) -> dict:
    import json

    return json.loads(text)


def execute_lottery_run(run: LotteryRun, time_limit: float | None = None) -> LotteryRun:
    """Compute a queued run: commits its progress as it goes, so others can watch. Called by the job/CLI."""
    time_limit = time_limit or current_app.config["LOTTERY_TIME_LIMIT_SECONDS"]
    claimed = db.session.execute(
        sa.update(LotteryRun).where(LotteryRun.id == run.id, LotteryRun.status == LotteryStatus.QUEUED)
        .values(status=LotteryStatus.RUNNING, started_at=utcnow(), progress=5, progress_note="starting",
                worker=runs.worker_id())
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    db.session.refresh(run)
    if not claimed:  # another process took it
        return run
    doc = _json(run.meeting.pool.content)
    seats = doc["seats"]
    last = [0.0]

    def progress(phase, current, total):
        import time

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
        result = lottery_mod.compute_with_time_limit(doc["entries"], doc["quotas"], seats, time_limit=time_limit,
                                                     progress=progress,
                                                     at_start=lambda: db.engine.dispose(close=False))
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
    _finish(run, LotteryStatus.SUCCEEDED, lambda: _("已生成%(n)d个满足配额的方案。", n=len(result.panels)))
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
        "chances": [{"number": n, "in_panels": round(result.chances[n] * len(result.panels)),
                     "chance": result.chances[n], "maximin_chance": result.maximin_chances[n]}
                    for n in sorted(result.chances)],
        "panels": result.panels,
    }


def _set_message(run: LotteryRun, make_message) -> None:
    """Keep the run's outcome in both languages: it is written by a job, and read by staff and the public in
    whichever language they use."""
    with force_locale("zh"):
        run.message = make_message()
    with force_locale("en"):
        run.message_en = make_message()


def _finish(run: LotteryRun, status: LotteryStatus, make_message) -> None:
    if run.id is not None and runs.is_cancelled(run.id):  # staff cancelled it meanwhile: keep that
        db.session.rollback()
        return
    run.status, run.finished_at = status, utcnow()
    _set_message(run, make_message)
    run.progress = 100
    audit(None, "hearing.lottery_finish", run.meeting, run=run.id, status=status.value)
    db.session.commit()


# ---- the draw -------------------------------------------------------------------------------------------


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
    pool_doc = _json(meeting.pool.content)
    panels_doc = _json(run.panels_content)
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
        _mail(app_.user, "selected", application=app_, meeting=meeting)
    for rank, n in enumerate(result["alternates"], start=1):
        app_ = by_number[n]
        app_.make_alternate(rank)
        _mail(app_.user, "alternate", application=app_, meeting=meeting)
    chosen = set(result["panel"]) | set(result["alternates"])
    for n, app_ in by_number.items():
        if n not in chosen:
            app_.not_select()
            _mail(app_.user, "not_selected", application=app_, meeting=meeting)


# ---- answers, replacements, materials, attendance -------------------------------------------------------


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


def _active_panel(meeting_id: int) -> list[Application]:
    return list(db.session.scalars(sa.select(Application).where(
        Application.meeting_id == meeting_id,
        Application.state.in_([ApplicationState.SELECTED, ApplicationState.CONFIRMED, ApplicationState.ATTENDED]))))


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
    panel = _active_panel(meeting.id)
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
    _mail(chosen.user, "promoted", application=chosen, meeting=meeting)
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


def send_materials(actor: User, meeting: Meeting, materials: str, now: datetime | None = None) -> bool:
    """Send the meeting materials to confirmed observers. Returns True when it is late (under 7 days before)."""
    now = now or utcnow()
    if not materials.strip():
        raise HearingError(_l("请填写会议材料。"), "materials")
    meeting.materials = materials.strip()
    meeting.materials_sent_at = now
    late = meeting.starts_at - now < timedelta(days=MATERIALS_DAYS_BEFORE)
    for application in _active_panel(meeting.id):
        if application.state is ApplicationState.CONFIRMED:
            application.materials_sent_at = now
            _mail(application.user, "materials", application=application, meeting=meeting)
    db.session.flush()
    audit(actor, "hearing.materials", meeting, late=late or None)
    return late


def record_attendance(actor: User, meeting: Meeting, attended_ids: set[int], now: datetime | None = None) -> int:
    now = now or utcnow()
    if now < meeting.starts_at:
        raise HearingError(_l("会议开始后才能登记出席。"))
    count = 0
    for application in _active_panel(meeting.id):
        if application.id in attended_ids and application.state is ApplicationState.CONFIRMED:
            application.mark_attended(True)
            count += 1
        elif application.id not in attended_ids and application.state is ApplicationState.ATTENDED:
            application.mark_attended(False)
    db.session.flush()
    audit(actor, "hearing.attendance", meeting, attended=sorted(attended_ids))
    return count


def add_suggestion(actor: User, application: Application, text: str, topic_id: int | None = None) -> Suggestion:
    if application.user_id != actor.id:
        raise HearingError(_l("只能以自己的身份提出建议。"))
    if not application.is_observer:
        raise HearingError(_l("只有确认列席的代表可以提出建议。"))
    if application.meeting.record_published_at is not None:
        raise HearingError(_l("会议记录已公开，不能再提出建议。"))
    text = (text or "").strip()
    if not 1 <= len(text) <= 5000:
        raise HearingError(_l("建议内容须为1至5000字。"), "text")
    suggestion = Suggestion(meeting_id=application.meeting_id, application=application, text=text,
                            topic_id=topic_id)
    db.session.add(suggestion)
    db.session.flush()
    return suggestion


def answer_suggestion(actor: User, suggestion: Suggestion, *, disposition: Disposition, answer: str,
                      follow_up: str = "", due_on: date | None = None) -> None:
    answer = (answer or "").strip()
    if disposition is Disposition.NOT_ADOPTED and not answer:
        raise HearingError(_l("未采纳的建议必须说明理由。"), "answer")
    if not answer:
        raise HearingError(_l("请填写答复。"), "answer")
    follow_up = (follow_up or "").strip()
    if follow_up and due_on is None:
        raise HearingError(_l("督办事项需要完成期限。"), "due_on")
    if due_on is not None and not follow_up:
        raise HearingError(_l("请写明督办事项。"), "follow_up")
    suggestion.disposition, suggestion.answer = disposition, answer
    suggestion.answered_at, suggestion.answered_by_id = utcnow(), actor.id
    if follow_up:
        if suggestion.follow_up is None:
            suggestion.follow_up = FollowUp(department_id=suggestion.meeting.department_id, description=follow_up,
                                            due_on=due_on)
        else:
            suggestion.follow_up.description, suggestion.follow_up.due_on = follow_up, due_on
    elif suggestion.follow_up is not None:
        suggestion.follow_up = None
    db.session.flush()
    audit(actor, "hearing.answer", suggestion, department_id=suggestion.meeting.department_id,
          disposition=disposition.value, follow_up_due=due_on.isoformat() if due_on else None)


def publish_record(actor: User, meeting: Meeting, now: datetime | None = None) -> None:
    now = now or utcnow()
    if now < meeting.starts_at:
        raise HearingError(_l("会议召开后才能公开会议记录。"))
    if meeting.record_published_at is not None:
        raise HearingError(_l("会议记录已经公开。"))
    if not meeting.decisions.strip():
        raise HearingError(_l("请先填写会议决定。"), "decisions")
    unanswered = db.session.scalar(sa.select(sa.func.count(Suggestion.id)).where(
        Suggestion.meeting_id == meeting.id, Suggestion.disposition.is_(None)))
    if unanswered:
        raise HearingError(_l("还有%(n)d条建议没有答复。", n=unanswered))
    meeting.record_published_at = now
    for application in _active_panel(meeting.id):
        if application.record_sent_at is None:
            application.record_sent_at = now
            _mail(application.user, "record", application=application, meeting=meeting)
    db.session.flush()
    audit(actor, "hearing.publish_record", meeting)
    signals.hearing_record_published.send(meeting, actor=actor)
