"""Public pages of hearings under /hearings/: meetings, applying, one's own application and suggestions.

Thin: load, authorise, validate, call a service, commit once, flash, redirect.
"""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.accounts.permissions import verified_required, visible_or_404
from app.core import confirm
from app.core.errors import commit, show_error, submit
from app.core.paging import parse_stamp_cursor
from app.core.timeutil import format_local, utcnow
from app.extensions import db
from app.hearings import bp, record, relax, selection_services, services
from app.hearings import selection as selection_mod
from app.hearings.forms import ApplicationForm, SuggestionForm
from app.hearings.models import (
    CATEGORIES,
    Application,
    ApplicationState,
    HearingError,
    LotteryStatus,
    Meeting,
    MeetingPhase,
    Suggestion,
)
from app.hearings.selection import canonical
from app.i18n import current_language

PAGE_SIZE = 20


def _public_meeting(id: int) -> Meeting:
    return visible_or_404(Meeting, id, lambda meeting: meeting.published_at is not None)


def _category_rows(categories: dict) -> list[tuple[str, str]]:
    return [(str(CATEGORIES[c]), services.category_value_label(c, v)) for c, v in categories.items()
            if c in CATEGORIES]


@bp.app_template_filter("hearing_value")
def hearing_value(value: str, category: str) -> str:
    return services.category_value_label(category, value)


@bp.app_template_filter("record_time")
def record_time(stamp: str) -> str:
    """A time of the public record ("2026-06-30T13:30:00Z", UTC as hashed) as a reader sees times: Shanghai."""
    return format_local(record.parse_stamp(stamp))


@bp.app_template_global("hearing_category")
def hearing_category(code: str) -> str:
    return str(CATEGORIES.get(code, code))


# ---- public ------------------------------------------------------------------------------------------------


@bp.route("/hearings/")
def index() -> ResponseReturnValue:
    """Published meetings, the soonest first; keyset pagination on (starts_at, id)."""
    stmt = (sa.select(Meeting).where(Meeting.published_at.is_not(None))
            .options(selectinload(Meeting.department)).order_by(Meeting.starts_at.desc(), Meeting.id.desc()))
    after = request.args.get("after", "")
    if after:
        cursor = parse_stamp_cursor(after, timezone.utc)
        if cursor is None:
            abort(400)
        cursor_at, mid = cursor
        stmt = stmt.where(sa.or_(Meeting.starts_at < cursor_at,
                                 sa.and_(Meeting.starts_at == cursor_at, Meeting.id < mid)))
    meetings = db.session.scalars(stmt.limit(PAGE_SIZE + 1)).all()
    next_url = None
    if len(meetings) > PAGE_SIZE:
        meetings = meetings[:PAGE_SIZE]
        last = meetings[-1]
        next_url = url_for("hearings.index", after=f"{int(last.starts_at.timestamp())}_{last.id}")
    now = utcnow()
    upcoming = [m for m in meetings if m.starts_at >= now]
    past = [m for m in meetings if m.starts_at < now]
    return render_template("hearings/index.html", upcoming=upcoming, past=past, next_url=next_url)


def _my_application(meeting: Meeting) -> Application | None:
    if not current_user.is_authenticated:
        return None
    return db.session.scalar(sa.select(Application).where(Application.meeting_id == meeting.id,
                                                          Application.user_id == current_user.id))


def _observers(meeting: Meeting) -> list[Application]:
    return db.session.scalars(sa.select(Application).where(
        Application.meeting_id == meeting.id,
        Application.state.in_([ApplicationState.SELECTED, ApplicationState.CONFIRMED, ApplicationState.ATTENDED]))
        .options(selectinload(Application.user)).order_by(Application.id)).all()


@bp.route("/hearings/<int:id>", methods=["GET", "POST"])
def show(id: int) -> ResponseReturnValue:
    meeting = _public_meeting(id)
    mine = _my_application(meeting)
    form = ApplicationForm()
    missing = []
    if current_user.is_authenticated:
        missing = [name for name in ("district", "age_band", "gender") if not getattr(current_user, name)]
    form.require_profile(missing)
    if request.method == "POST":
        if not current_user.is_authenticated:
            return redirect(url_for("accounts.login", next=request.path))
        if not current_user.is_verified:
            flash(_("请先验证您的电子邮箱地址，然后再试。"), "warning")
            return redirect(url_for("accounts.unverified"))
        if submit(form, lambda: services.apply(
                current_user, meeting, statement=form.statement.data,
                lives_or_works_in_city=form.lives_or_works_in_city.data, has_conflict=form.has_conflict.data,
                conflict_details=form.conflict_details.data, consents_to_publication=form.consents_to_publication.data,
                confirms_categories=form.confirms_categories.data,
                profile={name: getattr(form, name).data for name in missing}),
                  _("报名成功。审查结果会通过电子邮件通知您。")):
            return redirect(url_for("hearings.my_application", id=meeting.id))
    profile = None
    if current_user.is_authenticated and mine is None:
        profile = _category_rows(services.profile_categories(current_user, meeting))
    suggestions = []
    if meeting.record_published_at:
        suggestions = db.session.scalars(sa.select(Suggestion).where(Suggestion.meeting_id == meeting.id)
                                         .options(selectinload(Suggestion.application).selectinload(Application.user))
                                         .order_by(Suggestion.id)).all()
    observers = _observers(meeting) if meeting.draw and meeting.draw.drawn_at else []
    status = 200 if request.method == "GET" or not form.errors else 422
    return render_template("hearings/show.html", meeting=meeting, form=form, mine=mine, profile=profile, missing=missing,
                           observers=observers, suggestions=suggestions, phase=meeting.phase(),
                           Phase=MeetingPhase), status


@bp.route("/hearings/<int:id>/selection")
def selection(id: int) -> ResponseReturnValue:
    meeting = _public_meeting(id)
    pool, draw = meeting.pool, meeting.draw
    run = selection_services.published_run(meeting)
    latest = selection_services.latest_run(meeting)
    panels_doc = json.loads(run.panels_content) if run else None
    draw_doc = json.loads(draw.content) if draw and draw.content else None
    chances = {c["number"]: c for c in panels_doc["chances"]} if panels_doc else {}
    uniform = (meeting.seats / pool.size) if pool and pool.size else None
    # The true chances are counted from the published panels themselves, so the page cannot say otherwise.
    summary = selection_mod.chance_summary(panels_doc) if panels_doc else {}
    n_panels = summary.get("number_of_panels", 0)
    in_panels = Counter(summary.get("counts", {}))
    true_lowest, true_highest = summary.get("lowest_chance"), summary.get("highest_chance")
    optimum = summary.get("optimum_lowest_chance")
    return render_template("hearings/selection.html", meeting=meeting, pool=pool, run=run, latest=latest,
                           panels_doc=panels_doc, draw=draw, draw_doc=draw_doc, chances=chances, uniform=uniform,
                           relaxations=relax.relaxations(meeting.id),
                           n_panels=n_panels, in_panels=in_panels, true_lowest=true_lowest, true_highest=true_highest,
                           optimum=optimum, pool_doc=json.loads(pool.content) if pool else None,
                           events=_record_events(meeting),
                           kind_label=record.kind_label, language=current_language())


def _download(content: str, name: str) -> Response:
    return Response(content.encode("utf-8"), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/hearings/<int:id>/pool.json")
def pool_file(id: int) -> ResponseReturnValue:
    meeting = _public_meeting(id)
    if meeting.pool is None:
        abort(404)
    return _download(meeting.pool.content, f"hearing-{meeting.id}-pool.json")


@bp.route("/hearings/<int:id>/panels.json")
def panels_file(id: int) -> ResponseReturnValue:
    meeting = _public_meeting(id)
    run = selection_services.published_run(meeting)
    if run is None:
        abort(404)
    return _download(run.panels_content, f"hearing-{meeting.id}-panels.json")


@bp.route("/hearings/<int:id>/draw.json")
def draw_file(id: int) -> ResponseReturnValue:
    meeting = _public_meeting(id)
    if meeting.draw is None or meeting.draw.content is None:
        abort(404)
    return _download(meeting.draw.content, f"hearing-{meeting.id}-draw.json")


def _record_events(meeting: Meeting) -> list[dict]:
    """The record's entries for the page: their time as a datetime, and each fact as display text."""
    events = []
    for entry in record.entries(meeting.id):
        e = entry.as_dict()
        e["when"] = record.parse_stamp(entry.at)
        e["facts"] = [(k, v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
                      for k, v in sorted(e["data"].items())]
        events.append(e)
    return events


@bp.route("/hearings/<int:id>/record.json")
def record_file(id: int) -> ResponseReturnValue:
    """The public selection record: every event with its time, each entry carrying the previous entry's SHA-256."""
    meeting = _public_meeting(id)
    return _download(canonical(record.document(meeting.id)).decode("utf-8"),
                     f"hearing-{meeting.id}-record.json")


VERIFY_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_hearing_draw.py"


@bp.route("/hearings/verify_hearing_draw.py")
def verify_script() -> ResponseReturnValue:
    """The standalone checker (Python standard library only) that recomputes a draw from the published files."""
    return Response(VERIFY_SCRIPT.read_bytes(), mimetype="text/x-python",
                    headers={"Content-Disposition": 'attachment; filename="verify_hearing_draw.py"'})


@bp.route("/hearings/<int:id>/my-application", methods=["GET"])
@verified_required
def my_application(id: int) -> ResponseReturnValue:
    meeting = _public_meeting(id)
    mine = _my_application(meeting)
    if mine is None:
        flash(_("您还没有报名这次会议。"), "info")
        return redirect(url_for("hearings.show", id=id))
    form = SuggestionForm()
    form.topic_id.choices = [(0, _("整体"))] + [(t.id, t.title) for t in meeting.topics]
    return _render_mine(meeting, mine, form)


def _render_mine(meeting, mine, form, status=200):
    suggestions = db.session.scalars(sa.select(Suggestion).where(Suggestion.application_id == mine.id)
                                     .order_by(Suggestion.id)).all()
    return render_template("hearings/my_application.html", meeting=meeting, mine=mine, form=form,
                           suggestions=suggestions, categories=_category_rows(mine.categories),
                           S=ApplicationState), status


@bp.route("/hearings/<int:id>/my-application/<action>", methods=["POST"])
@verified_required
def my_application_action(id: int, action: str) -> ResponseReturnValue:
    meeting = _public_meeting(id)
    mine = _my_application(meeting)
    if mine is None:
        abort(404)
    form = SuggestionForm()
    form.topic_id.choices = [(0, _("整体"))] + [(t.id, t.title) for t in meeting.topics]
    if action in ("withdraw", "decline") and (page := confirm.ask(
            _("确定撤回申请吗？撤回后不参加抽签。") if action == "withdraw"
            else _("确定放弃列席吗？名额将由候补递补，放弃后不能恢复。"), detail=meeting.title,
            back=url_for("hearings.my_application", id=meeting.id),
            button=_("撤回申请") if action == "withdraw" else _("放弃列席"))) is not None:
        return page
    try:
        if action == "withdraw":
            services.withdraw(current_user, mine)
            message = _("申请已撤回。")
        elif action in ("accept", "decline"):
            selection_services.respond(current_user, mine, accept=action == "accept")
            message = _("已确认列席，会议材料会在会前发给您。") if action == "accept" else _("已放弃列席，名额将由候补递补。")
        elif action == "suggest":
            if not form.validate_on_submit():
                return _render_mine(meeting, mine, form, 422)
            services.add_suggestion(current_user, mine, form.text.data, form.topic_id.data or None)
            message = _("建议已提交，部门会逐条答复。")
        else:
            abort(404)
        commit()
        flash(message, "success")
    except HearingError as exc:
        db.session.rollback()
        if action == "suggest":
            show_error(form, exc)
            return _render_mine(meeting, mine, form, 422)
        flash(str(exc.message), "error")
    return redirect(url_for("hearings.my_application", id=id))


@bp.record_once
def _enums_for_templates(state) -> None:
    """Templates compare states with the members themselves (``reg.state == RegistrationState.CANCELLED``)."""
    state.app.jinja_env.globals.update(ApplicationState=ApplicationState, LotteryStatus=LotteryStatus,
                                       MeetingPhase=MeetingPhase)
