"""Staff pages of hearings under /manage/hearings/: meetings, review, pool, lottery, draw, materials, attendance,
answers and the record.

Thin: load, authorise, validate, call a service, commit once, flash, redirect.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.accounts.permissions import managed_or_404, owned_or_404, scope_to_managed, staff_required
from app.core import confirm, exports
from app.core.errors import commit, commit_or_explain, form_status, submit
from app.core.inputs import form_ids, form_text
from app.core.timeutil import format_local, local, utcnow
from app.extensions import db
from app.hearings import bp, lottery_runs, selection_services, services, shares, topics
from app.hearings import quotas as quota_rules
from app.hearings.forms import (
    QUOTA_ROWS,
    AnnounceDrawForm,
    AnswerForm,
    CancelRoundForm,
    MaterialsForm,
    MeetingForm,
    RecordForm,
    ReviewForm,
    draw_form,
    fill_quota_rows,
    format_topics,
    local_to_utc,
    parse_topics,
    relax_form,
)
from app.hearings.models import (
    Application,
    ApplicationState,
    Disposition,
    HearingError,
    LotteryRun,
    Meeting,
    MeetingPhase,
    Suggestion,
)

T = TypeVar("T")


# ---- staff ---------------------------------------------------------------------------------------------


@bp.route("/manage/hearings/")
@staff_required
def manage_index() -> ResponseReturnValue:
    stmt = scope_to_managed(sa.select(Meeting), Meeting.department_id).options(selectinload(Meeting.department))
    meetings = db.session.scalars(stmt.order_by(Meeting.starts_at.desc()).limit(200)).all()
    return render_template("hearings/manage/index.html", meetings=meetings)


def _meeting_fields(form: MeetingForm) -> dict:
    return dict(title=form.title.data.strip(), summary=form.summary.data or "",
                starts_at=local_to_utc(form.starts_at.data), place=form.place.data or "",
                online_link=form.online_link.data or "", seats=form.seats.data, alternates=form.alternates.data,
                eligibility=form.eligibility.data, method=form.method.data, opens_at=local_to_utc(form.opens_at.data),
                closes_at=local_to_utc(form.closes_at.data), response_days=form.response_days.data)


def _render_form(form: MeetingForm, meeting: Meeting | None) -> ResponseReturnValue:
    rows = [(category, value, entry.form) for (category, value), entry in zip(QUOTA_ROWS, form.quotas.entries)]
    return render_template("hearings/manage/form.html", form=form, meeting=meeting, quota_rows=rows,
                           share=shares.share, category_errors=getattr(form, "quota_category_errors", {}),
                           frozen=bool(meeting and meeting.rules_frozen())), form_status(form)


@bp.route("/manage/hearings/new", methods=["GET", "POST"])
@staff_required
def manage_new() -> ResponseReturnValue:
    form = MeetingForm()
    if request.method == "GET":
        fill_quota_rows(form.quotas, quota_rules.default_quotas(form.seats.data or 5))
    if current_user.department_id is None:
        flash(_("管理员请以部门工作人员身份创建会议。"), "warning")
        return redirect(url_for("hearings.manage_index"))
    meeting = submit(form, lambda: services.create_meeting(
        current_user, current_user.department_id, topics=parse_topics(form.topics.data),
        quotas=getattr(form, "parsed_quotas", []), **_meeting_fields(form)),
        _("会议已保存为草稿。公告前请检查遴选办法、名额和配额。"))
    if meeting is not None:
        return redirect(url_for("hearings.manage_meeting", id=meeting.id))
    return _render_form(form, None)


@bp.route("/manage/hearings/<int:id>/edit", methods=["GET", "POST"])
@staff_required
def manage_edit(id: int) -> ResponseReturnValue:
    meeting = _managed(id)
    form = MeetingForm(obj=meeting)
    if request.method == "GET":
        form.topics.data = format_topics(meeting.topics)
        fill_quota_rows(form.quotas, [{**q.as_dict(), "reason": q.reason} for q in meeting.quotas])
        for name in ("starts_at", "opens_at", "closes_at"):
            getattr(form, name).data = local(getattr(meeting, name)).replace(tzinfo=None)
    elif submit(form, lambda: _save_meeting(form, meeting), _("已保存。")):
        return redirect(url_for("hearings.manage_meeting", id=meeting.id))
    return _render_form(form, meeting)


def _save_meeting(form: MeetingForm, meeting: Meeting) -> None:
    services.update_meeting(current_user, meeting, **_meeting_fields(form))
    new_quotas = getattr(form, "parsed_quotas", [])
    current = [{**q.as_dict(), "reason": q.reason} for q in meeting.quotas]
    # once the rules are frozen the rows are shown read-only (not submitted) and stay as they are
    if not meeting.rules_frozen() and sorted(map(str, new_quotas)) != sorted(map(str, current)):
        services.set_quotas(current_user, meeting, new_quotas)
    topics.update_topics(current_user, meeting, parse_topics(form.topics.data))


def _render_manage(meeting: Meeting, status: int = 200, **forms):
    # The applications themselves are reviewed page by page (review.py); here, their counts and the observers.
    state_counts = dict(db.session.execute(sa.select(Application.state, sa.func.count()).where(
        Application.meeting_id == meeting.id).group_by(Application.state)).all())
    observers = db.session.scalars(sa.select(Application).where(
        Application.meeting_id == meeting.id,
        Application.state.in_([ApplicationState.CONFIRMED, ApplicationState.ATTENDED]))
        .options(selectinload(Application.user)).order_by(Application.id)).all()
    suggestions = db.session.scalars(sa.select(Suggestion).where(Suggestion.meeting_id == meeting.id)
                                     .options(selectinload(Suggestion.application).selectinload(Application.user))
                                     .order_by(Suggestion.id)).all()
    draw = meeting.draw
    forms.setdefault("announce_form", AnnounceDrawForm(prefix="announce"))
    if draw is not None and draw.drawn_at is None:
        forms.setdefault("draw_form", draw_form(draw.source_descriptions)(prefix="draw"))
    forms.setdefault("materials_form", MaterialsForm(prefix="materials", data={"materials": meeting.materials}))
    forms.setdefault("record_form", RecordForm(prefix="record", data={"decisions": meeting.decisions}))
    latest = selection_services.latest_run(meeting)
    run = selection_services.published_run(meeting)
    can_relax = meeting.pool is not None and draw is None and run is None and not (latest and latest.is_active)
    if can_relax:
        forms.setdefault("relax_form", relax_form(list(meeting.quotas)))
        forms.setdefault("cancel_form", CancelRoundForm(prefix="cancel"))
    return render_template("hearings/manage/meeting.html", can_relax=can_relax, meeting=meeting, observers=observers,
                           state_counts=state_counts, application_count=sum(state_counts.values()),
                           suggestions=suggestions, latest=latest, run=run,
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
    return managed_or_404(Meeting, id)


def _part_of(meeting: Meeting, model: type[T], ident: int) -> T:
    """A row of ``model`` that belongs to the meeting, else 404."""
    return owned_or_404(model, ident, meeting_id=meeting.id)


@bp.route("/manage/hearings/<int:id>")
@staff_required
def manage_meeting(id: int) -> ResponseReturnValue:
    return _render_manage(_managed(id))


EXPORT_HEADER = ("申请编号", "姓名", "电子邮箱", "所在区", "年龄段", "性别", "身份", "状态", "不符合条件的理由",
                 "候补序号", "提交时间")


def _export_rows(meeting: Meeting):
    stmt = (sa.select(Application).where(Application.meeting_id == meeting.id)
            .options(selectinload(Application.user)).order_by(Application.id).execution_options(yield_per=500))
    for a in db.session.scalars(stmt):
        cats = a.categories or {}
        yield (a.id, a.user.name if a.user else "", (a.user.email or "") if a.user else "",
               *(services.category_value_label(k, cats.get(k, "")) for k in ("district", "age_band", "gender",
                                                                            "account_type")),
               str(a.state_label), a.ineligible_reason, a.alternate_rank, format_local(a.created_at))


@bp.route("/manage/hearings/<int:id>/applications.<fmt>")
@staff_required
def manage_export(id: int, fmt: str) -> ResponseReturnValue:
    """The meeting's applications with the applicants' details (personal data: audited)."""
    meeting = _managed(id)
    exports.format_or_404(fmt)
    exports.audit_export(current_user, "hearing.export", meeting, fmt)
    commit()
    return exports.download(fmt, f"hearing-{meeting.id}-applications", EXPORT_HEADER, _export_rows(meeting),
                            sheet_name="applications")


@bp.route("/manage/hearings/<int:id>/lottery-status")
@staff_required
def manage_lottery_status(id: int) -> ResponseReturnValue:
    meeting = _managed(id)
    run = selection_services.latest_run(meeting)
    if run is None:
        return {"status": None}
    return {"status": run.status.value, "label": str(run.status_label), "progress": run.progress,
            "message": run.localized_message}


@bp.route("/manage/hearings/<int:id>/publish", methods=["POST"])
@staff_required
def manage_publish(id: int) -> ResponseReturnValue:
    meeting = _managed(id)
    return confirm.act(_("公告后遴选办法、名额和配额公开，报名开始后不能再修改。确定公告？"),
                       lambda: services.publish_meeting(current_user, meeting), _("会议已公告。"), detail=meeting.title,
                       back=url_for("hearings.manage_meeting", id=id), button=_("公告会议"), danger=False)


@bp.route("/manage/hearings/<int:id>/applications/<int:app_id>/review", methods=["POST"])
@staff_required
def manage_review(id: int, app_id: int) -> ResponseReturnValue:
    meeting = _managed(id)
    application = _part_of(meeting, Application, app_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for e in errors:
                flash(_("申请 %(id)d：%(error)s", id=application.id, error=e), "error")
        return _render_manage(meeting, 422)
    commit_or_explain(lambda: services.review(current_user, application, eligible=form.decision.data == "eligible",
                                              reason=form.reason.data or ""),
                      _("审查结果已保存，并已通知申请人。"))
    return redirect(url_for("hearings.manage_meeting", id=id) + "#applications")


@bp.route("/manage/hearings/<int:id>/freeze", methods=["POST"])
@staff_required
def manage_freeze(id: int) -> ResponseReturnValue:
    meeting = _managed(id)
    commit_or_explain(lambda: selection_services.freeze_pool(current_user, meeting), _("候选池已冻结并公开。"))
    return redirect(url_for("hearings.manage_meeting", id=id) + "#pool")


@bp.route("/manage/hearings/<int:id>/lottery", methods=["POST"])
@staff_required
def manage_lottery(id: int) -> ResponseReturnValue:
    meeting = _managed(id)
    run = commit_or_explain(lambda: selection_services.request_lottery(current_user, meeting), "")
    if run is not None:
        if run.message:
            flash(run.localized_message, "error")
        else:
            flash(_("已开始计算抽签方案，通常需要几秒到几分钟。本页会显示进度。"), "success")
    return redirect(url_for("hearings.manage_meeting", id=id) + "#lottery")


@bp.route("/manage/hearings/<int:id>/lottery/<int:run_id>/cancel", methods=["POST"])
@staff_required
def manage_lottery_cancel(id: int, run_id: int) -> ResponseReturnValue:
    run = _part_of(_managed(id), LotteryRun, run_id)
    commit_or_explain(lambda: lottery_runs.cancel_run(current_user, run), _("已取消这次计算。"))
    return redirect(url_for("hearings.manage_meeting", id=id) + "#lottery")


@bp.route("/manage/hearings/<int:id>/announce-draw", methods=["POST"])
@staff_required
def manage_announce_draw(id: int) -> ResponseReturnValue:
    return _section_form(_managed(id), "announce_form", AnnounceDrawForm(prefix="announce"), _announce_draw,
                         _("随机数来源已公布。开奖后请录入号码进行抽签。"), "#draw")


def _section_form(meeting: Meeting, name: str, form, action: Callable[[Any, Meeting], Any], success: str,
                  section: str) -> ResponseReturnValue:
    """A form in one section of the meeting's page: submitted, back to that section; refused or invalid, the page
    again (422) with the form (passed to the page as ``name``) and its messages."""
    if submit(form, lambda: action(form, meeting), success):
        return redirect(url_for("hearings.manage_meeting", id=meeting.id) + section)
    return _render_manage(meeting, 422, **{name: form})


def _announce_draw(form: AnnounceDrawForm, meeting: Meeting) -> None:
    descriptions = form.descriptions.data.splitlines()
    times = selection_services.parse_times(form.times.data, len([d for d in descriptions if d.strip()]))
    selection_services.announce_draw(current_user, meeting, descriptions=descriptions,
                                     expected_on=form.expected_on.data, times=times)


@bp.route("/manage/hearings/<int:id>/draw", methods=["POST"])
@staff_required
def manage_draw(id: int) -> ResponseReturnValue:
    meeting = _managed(id)
    draw = meeting.draw
    if draw is None:
        abort(404)
    if draw.drawn_at is not None:
        try:
            attempted = [request.form.get(f"draw-source_{i}", "") for i in range(len(draw.source_descriptions))]
            selection_services.perform_draw(current_user, meeting, attempted)
        except HearingError as exc:
            commit()  # keeps the audit entry of the refused attempt
            flash(str(exc.message), "error")
        return redirect(url_for("hearings.manage_meeting", id=id) + "#draw")
    sources = range(len(draw.source_descriptions))
    return _section_form(meeting, "draw_form", draw_form(draw.source_descriptions)(prefix="draw"),
                         lambda form, meeting: selection_services.perform_draw(
                             current_user, meeting, [getattr(form, f"source_{i}").data for i in sources]),
                         _("抽签完成，结果已公开，并已通知所有申请人。"), "#draw")


@bp.route("/manage/hearings/<int:id>/materials", methods=["POST"])
@staff_required
def manage_materials(id: int) -> ResponseReturnValue:
    meeting = _managed(id)
    form = MaterialsForm(prefix="materials")
    late = submit(form, lambda: services.send_materials(current_user, meeting, form.materials.data))
    if late is not None:
        if late:
            flash(_("材料已发送，但距会议不足7天：规定材料应至少在会前7天送达列席代表。"), "warning")
        else:
            flash(_("材料已发送给确认列席的代表。"), "success")
        return redirect(url_for("hearings.manage_meeting", id=id) + "#materials")
    return _render_manage(meeting, 422, materials_form=form)


@bp.route("/manage/hearings/<int:id>/attendance", methods=["POST"])
@staff_required
def manage_attendance(id: int) -> ResponseReturnValue:
    meeting = _managed(id)
    ids = set(form_ids("attended"))
    commit_or_explain(lambda: services.record_attendance(current_user, meeting, ids), _("出席情况已保存。"))
    return redirect(url_for("hearings.manage_meeting", id=id) + "#attendance")


@bp.route("/manage/hearings/<int:id>/suggestions/<int:sid>/answer", methods=["POST"])
@staff_required
def manage_answer(id: int, sid: int) -> ResponseReturnValue:
    meeting = _managed(id)
    suggestion = _part_of(meeting, Suggestion, sid)
    form = AnswerForm(prefix=f"s{sid}")
    if submit(form, lambda: services.answer_suggestion(
            current_user, suggestion, disposition=Disposition(form.disposition.data), answer=form.answer.data,
            follow_up=form.follow_up.data or "", due_on=form.due_on.data), _("答复已保存。")):
        return redirect(url_for("hearings.manage_meeting", id=id) + f"#s{sid}")
    return _render_manage(meeting, 422, failed_answer=(sid, form))


@bp.route("/manage/hearings/<int:id>/record", methods=["POST"])
@staff_required
def manage_record(id: int) -> ResponseReturnValue:
    return _section_form(_managed(id), "record_form", RecordForm(prefix="record"), _publish_record,
                         _("会议记录已公开，并已把决定和答复发给列席代表。"), "#record")


def _publish_record(form: RecordForm, meeting: Meeting) -> None:
    meeting.decisions = form.decisions.data.strip()
    for topic in meeting.topics:
        topic.decision = form_text(f"topic-{topic.id}", 5000)
    services.publish_record(current_user, meeting)
