"""HTTP views of hearings: public pages under /hearings/, staff pages under /manage/hearings/.

Thin: load, authorise, validate, call a service, commit once, flash, redirect.
"""
from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.accounts.permissions import can_manage_department, ensure_can_manage, scope_to_managed, staff_required
from app.accounts.permissions import verified_required
from app.core.timeutil import utcnow
from app.extensions import db
from app.hearings import bp, services
from app.hearings.forms import (
    AnnounceDrawForm,
    AnswerForm,
    ApplicationForm,
    MaterialsForm,
    MeetingForm,
    RecordForm,
    ReviewForm,
    SuggestionForm,
    draw_form,
    format_quotas,
    format_topics,
    local_to_utc,
    parse_topics,
)
from app.hearings.models import (
    CATEGORIES,
    Application,
    ApplicationState,
    Disposition,
    HearingError,
    LotteryRun,
    Meeting,
    MeetingPhase,
    Suggestion,
    Topic,
)

PAGE_SIZE = 20


def _public_meeting(id: int) -> Meeting:
    meeting = db.get_or_404(Meeting, id)
    if meeting.published_at is None and not can_manage_department(current_user, meeting.department_id):
        abort(404)
    return meeting


def _field_error(form, exc: HearingError) -> None:
    """Show a domain error next to its field when the form has it, else as a flash message."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = list(field.errors) + [str(exc.message)]
    else:
        flash(str(exc.message), "error")


def _category_rows(categories: dict) -> list[tuple[str, str]]:
    return [(str(CATEGORIES[c]), services.category_value_label(c, v)) for c, v in categories.items()
            if c in CATEGORIES]


@bp.app_template_filter("hearing_value")
def hearing_value(value: str, category: str) -> str:
    return services.category_value_label(category, value)


@bp.app_template_global("hearing_category")
def hearing_category(code: str) -> str:
    return str(CATEGORIES.get(code, code))


# ---- public ------------------------------------------------------------------------------------------------


@bp.route("/hearings/")
def index():
    """Published meetings, the soonest first; keyset pagination on (starts_at, id)."""
    stmt = (sa.select(Meeting).where(Meeting.published_at.is_not(None))
            .options(selectinload(Meeting.department)).order_by(Meeting.starts_at.desc(), Meeting.id.desc()))
    after = request.args.get("after", "")
    if after:
        try:
            ts, mid = after.split("_")
            from datetime import datetime, timezone

            cursor_at = datetime.fromtimestamp(int(ts), timezone.utc)
            stmt = stmt.where(sa.or_(Meeting.starts_at < cursor_at,
                                     sa.and_(Meeting.starts_at == cursor_at, Meeting.id < int(mid))))
        except ValueError:
            abort(400)
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
def show(id: int):
    meeting = _public_meeting(id)
    mine = _my_application(meeting)
    form = ApplicationForm()
    if request.method == "POST":
        if not current_user.is_authenticated:
            return redirect(url_for("accounts.login", next=request.path))
        if not current_user.is_verified:
            flash(_("请先验证您的电子邮箱地址，然后再试。"), "warning")
            return redirect(url_for("accounts.unverified"))
        if form.validate_on_submit():
            try:
                services.apply(current_user, meeting, statement=form.statement.data,
                               lives_or_works_in_city=form.lives_or_works_in_city.data,
                               has_conflict=form.has_conflict.data, conflict_details=form.conflict_details.data,
                               consents_to_publication=form.consents_to_publication.data,
                               confirms_categories=form.confirms_categories.data)
                db.session.commit()
                flash(_("报名成功。审查结果会通过电子邮件通知您。"), "success")
                return redirect(url_for("hearings.my_application", id=meeting.id))
            except HearingError as exc:
                db.session.rollback()
                _field_error(form, exc)
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
    return render_template("hearings/show.html", meeting=meeting, form=form, mine=mine, profile=profile,
                           observers=observers, suggestions=suggestions, phase=meeting.phase(),
                           Phase=MeetingPhase), status


@bp.route("/hearings/<int:id>/selection")
def selection(id: int):
    meeting = _public_meeting(id)
    pool, draw = meeting.pool, meeting.draw
    run = services.published_run(meeting)
    latest = services.latest_run(meeting)
    panels_doc = json.loads(run.panels_content) if run else None
    draw_doc = json.loads(draw.content) if draw and draw.content else None
    chances = {c["number"]: c for c in panels_doc["chances"]} if panels_doc else {}
    uniform = (meeting.seats / pool.size) if pool and pool.size else None
    return render_template("hearings/selection.html", meeting=meeting, pool=pool, run=run, latest=latest,
                           panels_doc=panels_doc, draw=draw, draw_doc=draw_doc, chances=chances, uniform=uniform,
                           pool_doc=json.loads(pool.content) if pool else None)


def _download(content: str, name: str) -> Response:
    return Response(content.encode("utf-8"), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/hearings/<int:id>/pool.json")
def pool_file(id: int):
    meeting = _public_meeting(id)
    if meeting.pool is None:
        abort(404)
    return _download(meeting.pool.content, f"hearing-{meeting.id}-pool.json")


@bp.route("/hearings/<int:id>/panels.json")
def panels_file(id: int):
    meeting = _public_meeting(id)
    run = services.published_run(meeting)
    if run is None:
        abort(404)
    return _download(run.panels_content, f"hearing-{meeting.id}-panels.json")


@bp.route("/hearings/<int:id>/draw.json")
def draw_file(id: int):
    meeting = _public_meeting(id)
    if meeting.draw is None or meeting.draw.content is None:
        abort(404)
    return _download(meeting.draw.content, f"hearing-{meeting.id}-draw.json")


VERIFY_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_hearing_draw.py"


@bp.route("/hearings/verify_hearing_draw.py")
def verify_script():
    """The standalone checker (Python standard library only) that recomputes a draw from the published files."""
    return Response(VERIFY_SCRIPT.read_bytes(), mimetype="text/x-python",
                    headers={"Content-Disposition": 'attachment; filename="verify_hearing_draw.py"'})


@bp.route("/hearings/<int:id>/my-application", methods=["GET"])
@verified_required
def my_application(id: int):
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
def my_application_action(id: int, action: str):
    meeting = _public_meeting(id)
    mine = _my_application(meeting)
    if mine is None:
        abort(404)
    form = SuggestionForm()
    form.topic_id.choices = [(0, _("整体"))] + [(t.id, t.title) for t in meeting.topics]
    try:
        if action == "withdraw":
            services.withdraw(current_user, mine)
            message = _("申请已撤回。")
        elif action in ("accept", "decline"):
            services.respond(current_user, mine, accept=action == "accept")
            message = _("已确认列席，会议材料会在会前发给您。") if action == "accept" else _("已放弃列席，名额将由候补递补。")
        elif action == "suggest":
            if not form.validate_on_submit():
                return _render_mine(meeting, mine, form, 422)
            services.add_suggestion(current_user, mine, form.text.data, form.topic_id.data or None)
            message = _("建议已提交，部门会逐条答复。")
        else:
            abort(404)
        db.session.commit()
        flash(message, "success")
    except HearingError as exc:
        db.session.rollback()
        if action == "suggest":
            _field_error(form, exc)
            return _render_mine(meeting, mine, form, 422)
        flash(str(exc.message), "error")
    return redirect(url_for("hearings.my_application", id=id))


# ---- staff ---------------------------------------------------------------------------------------------


@bp.route("/manage/hearings/")
@staff_required
def manage_index():
    stmt = scope_to_managed(sa.select(Meeting), Meeting.department_id).options(selectinload(Meeting.department))
    meetings = db.session.scalars(stmt.order_by(Meeting.starts_at.desc()).limit(200)).all()
    return render_template("hearings/manage/index.html", meetings=meetings)


def _meeting_fields(form: MeetingForm) -> dict:
    return dict(title=form.title.data.strip(), summary=form.summary.data or "",
                starts_at=local_to_utc(form.starts_at.data), place=form.place.data or "",
                online_link=form.online_link.data or "", seats=form.seats.data, alternates=form.alternates.data,
                eligibility=form.eligibility.data, method=form.method.data, opens_at=local_to_utc(form.opens_at.data),
                closes_at=local_to_utc(form.closes_at.data), response_days=form.response_days.data)


@bp.route("/manage/hearings/new", methods=["GET", "POST"])
@staff_required
def manage_new():
    form = MeetingForm()
    if current_user.department_id is None:
        flash(_("管理员请以部门工作人员身份创建会议。"), "warning")
        return redirect(url_for("hearings.manage_index"))
    if form.validate_on_submit():
        try:
            meeting = services.create_meeting(current_user, current_user.department_id,
                                              topics=parse_topics(form.topics.data),
                                              quotas=getattr(form, "parsed_quotas", []), **_meeting_fields(form))
            db.session.commit()
            flash(_("会议已保存为草稿。公告前请检查遴选办法、名额和配额。"), "success")
            return redirect(url_for("hearings.manage_meeting", id=meeting.id))
        except HearingError as exc:
            db.session.rollback()
            _field_error(form, exc)
    return render_template("hearings/manage/form.html", form=form, meeting=None), 422 if form.errors else 200


@bp.route("/manage/hearings/<int:id>/edit", methods=["GET", "POST"])
@staff_required
def manage_edit(id: int):
    meeting = db.get_or_404(Meeting, id)
    ensure_can_manage(meeting)
    form = MeetingForm(obj=meeting)
    if request.method == "GET":
        from app.core.timeutil import local

        form.topics.data = format_topics(meeting.topics)
        form.quotas.data = format_quotas(meeting.quotas)
        for name in ("starts_at", "opens_at", "closes_at"):
            getattr(form, name).data = local(getattr(meeting, name)).replace(tzinfo=None)
    elif form.validate_on_submit():
        try:
            fields = _meeting_fields(form)
            services.update_meeting(current_user, meeting, **fields)
            new_quotas = getattr(form, "parsed_quotas", [])
            if sorted(map(str, new_quotas)) != sorted(map(str, (q.as_dict() for q in meeting.quotas))):
                services.set_quotas(current_user, meeting, new_quotas)
            topics = parse_topics(form.topics.data)
            if [(t.title, t.background) for t in meeting.topics] != topics:
                meeting.topics = [Topic(position=i, title=t, background=b) for i, (t, b) in enumerate(topics)]
            db.session.commit()
            flash(_("已保存。"), "success")
            return redirect(url_for("hearings.manage_meeting", id=meeting.id))
        except HearingError as exc:
            db.session.rollback()
            _field_error(form, exc)
    return render_template("hearings/manage/form.html", form=form, meeting=meeting), 422 if form.errors else 200


def _render_manage(meeting: Meeting, status: int = 200, **forms):
    applications = db.session.scalars(sa.select(Application).where(Application.meeting_id == meeting.id)
                                      .options(selectinload(Application.user), selectinload(Application.pool_entry))
                                      .order_by(Application.id)).all()
    suggestions = db.session.scalars(sa.select(Suggestion).where(Suggestion.meeting_id == meeting.id)
                                     .options(selectinload(Suggestion.application).selectinload(Application.user))
                                     .order_by(Suggestion.id)).all()
    draw = meeting.draw
    forms.setdefault("announce_form", AnnounceDrawForm(prefix="announce"))
    if draw is not None and draw.drawn_at is None:
        forms.setdefault("draw_form", draw_form(draw.source_descriptions)(prefix="draw"))
    forms.setdefault("materials_form", MaterialsForm(prefix="materials", data={"materials": meeting.materials}))
    forms.setdefault("record_form", RecordForm(prefix="record", data={"decisions": meeting.decisions}))
    latest = services.latest_run(meeting)
    return render_template("hearings/manage/meeting.html", meeting=meeting, applications=applications,
                           suggestions=suggestions, latest=latest, run=services.published_run(meeting),
                           phase=meeting.phase(), Phase=MeetingPhase, S=ApplicationState, draw=draw,
                           review_form=ReviewForm(), answer_form_for=_answer_form, now=utcnow(), **forms), status


def _answer_form(suggestion: Suggestion) -> AnswerForm:
    form = AnswerForm(prefix=f"s{suggestion.id}")
    if suggestion.disposition:
        form.disposition.data = suggestion.disposition.value
        form.answer.data = suggestion.answer
        if suggestion.follow_up:
            form.follow_up.data, form.due_on.data = suggestion.follow_up.description, suggestion.follow_up.due_on
    return form


def _managed(id: int) -> Meeting:
    meeting = db.get_or_404(Meeting, id)
    ensure_can_manage(meeting)
    return meeting


@bp.route("/manage/hearings/<int:id>")
@staff_required
def manage_meeting(id: int):
    return _render_manage(_managed(id))


@bp.route("/manage/hearings/<int:id>/lottery-status")
@staff_required
def manage_lottery_status(id: int):
    meeting = _managed(id)
    run = services.latest_run(meeting)
    if run is None:
        return {"status": None}
    return {"status": run.status.value, "label": str(run.status_label), "progress": run.progress,
            "message": run.localized_message}


def _act(meeting: Meeting, fn, success: str):
    try:
        result = fn()
        db.session.commit()
        if success:
            flash(success, "success")
        return result
    except HearingError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
        return None


@bp.route("/manage/hearings/<int:id>/publish", methods=["POST"])
@staff_required
def manage_publish(id: int):
    meeting = _managed(id)
    _act(meeting, lambda: services.publish_meeting(current_user, meeting), _("会议已公告。"))
    return redirect(url_for("hearings.manage_meeting", id=id))


@bp.route("/manage/hearings/<int:id>/applications/<int:app_id>/review", methods=["POST"])
@staff_required
def manage_review(id: int, app_id: int):
    meeting = _managed(id)
    application = db.get_or_404(Application, app_id)
    if application.meeting_id != meeting.id:
        abort(404)
    form = ReviewForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for e in errors:
                flash(_("申请 %(id)d：%(error)s", id=application.id, error=e), "error")
        return _render_manage(meeting, 422)
    try:
        services.review(current_user, application, eligible=form.decision.data == "eligible",
                        reason=form.reason.data or "")
        db.session.commit()
        flash(_("审查结果已保存，并已通知申请人。"), "success")
    except HearingError as exc:
        db.session.rollback()
        flash(str(exc.message), "error")
    return redirect(url_for("hearings.manage_meeting", id=id) + "#applications")


@bp.route("/manage/hearings/<int:id>/freeze", methods=["POST"])
@staff_required
def manage_freeze(id: int):
    meeting = _managed(id)
    _act(meeting, lambda: services.freeze_pool(current_user, meeting), _("候选池已冻结并公开。"))
    return redirect(url_for("hearings.manage_meeting", id=id) + "#pool")


@bp.route("/manage/hearings/<int:id>/lottery", methods=["POST"])
@staff_required
def manage_lottery(id: int):
    meeting = _managed(id)
    run = _act(meeting, lambda: services.request_lottery(current_user, meeting), "")
    if run is not None:
        if run.message:
            flash(run.localized_message, "error")
        else:
            flash(_("已开始计算抽签方案，通常需要几秒到几分钟。本页会显示进度。"), "success")
    return redirect(url_for("hearings.manage_meeting", id=id) + "#lottery")


@bp.route("/manage/hearings/<int:id>/announce-draw", methods=["POST"])
@staff_required
def manage_announce_draw(id: int):
    meeting = _managed(id)
    form = AnnounceDrawForm(prefix="announce")
    if form.validate_on_submit():
        try:
            services.announce_draw(current_user, meeting, descriptions=form.descriptions.data.splitlines(),
                                   expected_on=form.expected_on.data)
            db.session.commit()
            flash(_("随机数来源已公布。开奖后请录入号码进行抽签。"), "success")
            return redirect(url_for("hearings.manage_meeting", id=id) + "#draw")
        except HearingError as exc:
            db.session.rollback()
            _field_error(form, exc)
    return _render_manage(meeting, 422, announce_form=form)


@bp.route("/manage/hearings/<int:id>/draw", methods=["POST"])
@staff_required
def manage_draw(id: int):
    meeting = _managed(id)
    draw = meeting.draw
    if draw is None:
        abort(404)
    if draw.drawn_at is not None:
        try:
            services.perform_draw(current_user, meeting, [])
        except HearingError as exc:
            db.session.commit()  # keeps the audit entry of the refused attempt
            flash(str(exc.message), "error")
        return redirect(url_for("hearings.manage_meeting", id=id) + "#draw")
    form = draw_form(draw.source_descriptions)(prefix="draw")
    if form.validate_on_submit():
        texts = [getattr(form, f"source_{i}").data for i in range(len(draw.source_descriptions))]
        try:
            services.perform_draw(current_user, meeting, texts)
            db.session.commit()
            flash(_("抽签完成，结果已公开，并已通知所有申请人。"), "success")
            return redirect(url_for("hearings.manage_meeting", id=id) + "#draw")
        except HearingError as exc:
            db.session.rollback()
            _field_error(form, exc)
    return _render_manage(meeting, 422, draw_form=form)


@bp.route("/manage/hearings/<int:id>/materials", methods=["POST"])
@staff_required
def manage_materials(id: int):
    meeting = _managed(id)
    form = MaterialsForm(prefix="materials")
    if form.validate_on_submit():
        try:
            late = services.send_materials(current_user, meeting, form.materials.data)
            db.session.commit()
            if late:
                flash(_("材料已发送，但距会议不足7天：规定材料应至少在会前7天送达列席代表。"), "warning")
            else:
                flash(_("材料已发送给确认列席的代表。"), "success")
            return redirect(url_for("hearings.manage_meeting", id=id) + "#materials")
        except HearingError as exc:
            db.session.rollback()
            _field_error(form, exc)
    return _render_manage(meeting, 422, materials_form=form)


@bp.route("/manage/hearings/<int:id>/attendance", methods=["POST"])
@staff_required
def manage_attendance(id: int):
    meeting = _managed(id)
    ids = {int(v) for v in request.form.getlist("attended") if v.isdigit()}
    _act(meeting, lambda: services.record_attendance(current_user, meeting, ids), _("出席情况已保存。"))
    return redirect(url_for("hearings.manage_meeting", id=id) + "#attendance")


@bp.route("/manage/hearings/<int:id>/suggestions/<int:sid>/answer", methods=["POST"])
@staff_required
def manage_answer(id: int, sid: int):
    meeting = _managed(id)
    suggestion = db.get_or_404(Suggestion, sid)
    if suggestion.meeting_id != meeting.id:
        abort(404)
    form = AnswerForm(prefix=f"s{sid}")
    if form.validate_on_submit():
        try:
            services.answer_suggestion(current_user, suggestion, disposition=Disposition(form.disposition.data),
                                       answer=form.answer.data, follow_up=form.follow_up.data or "",
                                       due_on=form.due_on.data)
            db.session.commit()
            flash(_("答复已保存。"), "success")
            return redirect(url_for("hearings.manage_meeting", id=id) + f"#s{sid}")
        except HearingError as exc:
            db.session.rollback()
            _field_error(form, exc)
    return _render_manage(meeting, 422, failed_answer=(sid, form))


@bp.route("/manage/hearings/<int:id>/record", methods=["POST"])
@staff_required
def manage_record(id: int):
    meeting = _managed(id)
    form = RecordForm(prefix="record")
    if form.validate_on_submit():
        meeting.decisions = form.decisions.data.strip()
        for topic in meeting.topics:
            topic.decision = (request.form.get(f"topic-{topic.id}") or "").strip()[:5000]
        try:
            services.publish_record(current_user, meeting)
            db.session.commit()
            flash(_("会议记录已公开，并已把决定和答复发给列席代表。"), "success")
            return redirect(url_for("hearings.manage_meeting", id=id) + "#record")
        except HearingError as exc:
            db.session.rollback()
            _field_error(form, exc)
    return _render_manage(meeting, 422, record_form=form)
