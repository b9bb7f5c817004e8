"""Staff pages of consultations under /manage/consultations/: drafting, publishing, moderation, groups,
answers, FAQ, the feedback report and exports.

Thin: load, authorise, validate, call a service, commit once, flash, redirect.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.accounts.models import Tag
from app.accounts.permissions import ensure_can_manage, managed_or_404, owned_or_404, scope_to_managed, staff_required
from app.consultations import bp, groups, reports, services
from app.consultations.exports import EXPORT_HEADER, export_csv, export_rows
from app.consultations.forms import (
    AnswerForm,
    ConsultationForm,
    ExtendForm,
    FaqForm,
    ModerationForm,
    ReportForm,
    WithdrawForm,
    local_to_utc,
)
from app.consultations.models import (
    Comment,
    CommentAttachment,
    CommentGroup,
    Consultation,
    ConsultationDocument,
    ConsultationError,
    ConsultationState,
    DispositionKind,
    DocumentType,
    FaqItem,
    ModerationState,
    RejectionReason,
)
from app.core import confirm, exports
from app.core.errors import commit, commit_or_explain, form_status, show_error, submit
from app.core.inputs import arg_int, form_ids, form_int, form_text
from app.core.paging import parse_time_cursor
from app.core.storage import Upload, storage
from app.core.timeutil import local, utcnow
from app.extensions import db
from app.i18n import current_language
from app.templating import url_with
from app.consultations.views import comment_cursor

MANAGE_PAGE_SIZE = 50


def _staff_page(stmt):
    """A page of a staff list of comments, oldest first by keyset (created_at, id), served by the index
    (consultation_id, moderation_state, created_at, id)."""
    after = parse_time_cursor(request.args.get("after"))
    if after:
        stmt = stmt.where(sa.tuple_(Comment.created_at, Comment.id) > sa.tuple_(*after))
    rows = list(db.session.scalars(stmt.order_by(Comment.created_at, Comment.id).limit(MANAGE_PAGE_SIZE + 1)))
    next_url = (url_with(after=comment_cursor(rows[MANAGE_PAGE_SIZE - 1], "created_at"))
                if len(rows) > MANAGE_PAGE_SIZE else None)
    return rows[:MANAGE_PAGE_SIZE], next_url


# ---------------------------------------------------------------------------------------------------------------
# Staff pages


def _part_of(c: Consultation, model, ident: int):
    """A row of ``model`` that belongs to the consultation, else 404."""
    return owned_or_404(model, ident, consultation_id=c.id)


def _managed_or_404(id: int) -> Consultation:
    return managed_or_404(Consultation, id)


@bp.route("/manage/consultations/")
@staff_required
def manage_index() -> ResponseReturnValue:
    stmt = scope_to_managed(sa.select(Consultation), Consultation.department_id)
    before = arg_int("before")
    if before:
        stmt = stmt.where(Consultation.id < before)
    items = list(db.session.scalars(stmt.options(selectinload(Consultation.report))
                                    .order_by(Consultation.id.desc()).limit(MANAGE_PAGE_SIZE + 1)))
    next_url = url_with(before=items[MANAGE_PAGE_SIZE - 1].id) if len(items) > MANAGE_PAGE_SIZE else None
    return render_template("consultations/manage/index.html", items=items[:MANAGE_PAGE_SIZE], next_url=next_url,
                           due_days=current_app.config["FEEDBACK_REPORT_DUE_DAYS"])


def _consultation_form(obj: Consultation | None = None) -> ConsultationForm:
    form = ConsultationForm()
    form.tags.choices = [(t.id, t.display_name(current_language())) for t in db.session.scalars(
        sa.select(Tag).where(Tag.is_active.is_(True)).order_by(Tag.id))]
    if obj is not None and request.method == "GET":
        form.title.data, form.summary.data = obj.title, obj.summary
        form.document_type.data = obj.document_type.value
        form.concerns_enterprises.data = obj.concerns_enterprises
        form.draft_text.data, form.interpretation.data = obj.draft_text, obj.interpretation
        form.contact.data = obj.contact
        form.target_groups.data = list(obj.target_groups or [])
        form.target_group_other.data = obj.target_group_other
        form.tags.data = [t.id for t in obj.tags]
        form.opens_at.data = local(obj.opens_at).replace(tzinfo=None) if obj.opens_at else None
        form.closes_at.data = local(obj.closes_at).replace(tzinfo=None) if obj.closes_at else None
        form.short_period_reason.data = obj.short_period_reason
    return form


def _data(form: ConsultationForm) -> services.ConsultationData:
    return services.ConsultationData(
        title=form.title.data or "", summary=form.summary.data or "",
        document_type=DocumentType(form.document_type.data),
        concerns_enterprises=bool(form.concerns_enterprises.data), draft_text=form.draft_text.data or "",
        interpretation=form.interpretation.data or "", contact=form.contact.data or "",
        opens_at=local_to_utc(form.opens_at.data), closes_at=local_to_utc(form.closes_at.data),
        short_period_reason=form.short_period_reason.data or "", target_groups=form.target_groups.data or [],
        target_group_other=form.target_group_other.data or "", tag_ids=form.tags.data or [])


@bp.route("/manage/consultations/new", methods=["GET", "POST"])
@staff_required
def manage_new() -> ResponseReturnValue:
    if current_user.department_id is None:
        flash(_("您的账户没有所属部门，不能发起征询。"), "error")
        return redirect(url_for("consultations.manage_index"))
    form = _consultation_form()
    c = submit(form, lambda: services.create_consultation(current_user, current_user.department_id, _data(form)))
    if c is not None:
        flash(_("草稿已保存，共%(n)s条。", n=len(c.articles)), "success")
        return redirect(url_for("consultations.manage_show", id=c.id))
    return render_template("consultations/manage/edit.html", form=form, c=None), form_status(form)


@bp.route("/manage/consultations/<int:id>/edit", methods=["GET", "POST"])
@staff_required
def manage_edit(id: int) -> ResponseReturnValue:
    c = _managed_or_404(id)
    form = _consultation_form(c)
    if submit(form, lambda: services.update_consultation(current_user, c, _data(form)), _("已保存。")):
        return redirect(url_for("consultations.manage_show", id=c.id))
    c = db.session.get(Consultation, id)
    return render_template("consultations/manage/edit.html", form=form, c=c), form_status(form)


@bp.route("/manage/consultations/<int:id>")
@staff_required
def manage_show(id: int) -> ResponseReturnValue:
    c = _managed_or_404(id)
    due_at = c.report_due_at(current_app.config["FEEDBACK_REPORT_DUE_DAYS"])
    unanswered = reports.unanswered_count(c) if c.closes_at and c.state is not ConsultationState.DRAFT else None
    return render_template("consultations/manage/show.html", c=c, state=c.state, due_at=due_at,
                           unanswered=unanswered, is_short=services.is_period_short(c), now=utcnow())


def _simple_form_action(c: Consultation, form, fn, *, success: str, heading: str):
    """A one-form staff action: on a valid submit run ``fn``, commit and go back to the consultation; otherwise (or
    when a rule refuses it) show the form again with the message next to the field."""
    if submit(form, fn, success):
        return redirect(url_for("consultations.manage_show", id=c.id))
    return render_template("consultations/manage/simple_form.html", c=c, form=form,
                           heading=heading), form_status(form)


@bp.route("/manage/consultations/<int:id>/publish", methods=["POST"])
@staff_required
def manage_publish(id: int) -> ResponseReturnValue:
    c = _managed_or_404(id)
    return confirm.act(_("发布后征询公开，任何人都可以看到并提出意见。确定发布？"),
                       lambda: services.publish(current_user, c), _("已发布。"), detail=c.title,
                       back=url_for("consultations.manage_show", id=c.id), button=_("发布"), danger=False)


@bp.route("/manage/consultations/<int:id>/extend", methods=["GET", "POST"])
@staff_required
def manage_extend(id: int) -> ResponseReturnValue:
    c = _managed_or_404(id)
    form = ExtendForm()
    return _simple_form_action(
        c, form, lambda: services.extend(current_user, c, local_to_utc(form.closes_at.data), form.notice.data),
        success=_("征询期已延长，延期公告已公开。"), heading=_("延长征询期"))


@bp.route("/manage/consultations/<int:id>/withdraw", methods=["GET", "POST"])
@staff_required
def manage_withdraw(id: int) -> ResponseReturnValue:
    c = _managed_or_404(id)
    form = WithdrawForm()
    return _simple_form_action(c, form, lambda: services.withdraw(current_user, c, form.reason.data),
                               success=_("征询已撤回。"), heading=_("撤回征询"))


@bp.route("/manage/consultations/<int:id>/moderation", methods=["GET", "POST"])
@staff_required
def manage_moderation(id: int) -> ResponseReturnValue:
    c = _managed_or_404(id)
    state_arg = request.args.get("state", "pending")
    state = {"pending": ModerationState.PENDING, "published": ModerationState.PUBLISHED,
             "rejected": ModerationState.REJECTED}.get(state_arg, ModerationState.PENDING)
    stmt = sa.select(Comment).where(Comment.consultation_id == c.id, Comment.moderation_state == state)
    comments, next_url = _staff_page(stmt.options(selectinload(Comment.attachments)))
    form = ModerationForm()
    form.comment_ids.choices = [(cm.id, cm.tracking_number) for cm in comments]
    if request.method == "POST":
        ids = form_ids("comment_ids")
        form.comment_ids.choices = [(i, str(i)) for i in ids]
        if not ids:
            flash(_("请至少选择一条意见。"), "error")
        elif form.validate():
            try:
                chosen = db.session.scalars(sa.select(Comment).where(Comment.id.in_(ids),
                                                                     Comment.consultation_id == c.id)).all()
                reason = RejectionReason(form.reason.data) if form.reason.data else None
                n = services.moderate(current_user, c, chosen, publish=form.action.data == "publish",
                                      reason=reason, note=form.note.data or "")
                commit()
            except ConsultationError as error:
                db.session.rollback()
                show_error(form, error)
                flash(str(error), "error")
            else:
                flash(_("已处理%(n)s条意见。", n=n), "success")
                return redirect(url_for("consultations.manage_moderation", id=c.id, state=state_arg))
    articles = {a.id: a for a in c.articles}
    return render_template("consultations/manage/moderation.html", c=c, comments=comments, form=form,
                           state=state, state_arg=state_arg, next_url=next_url, articles=articles,
                           show_original=request.args.get("original") == "1"), form_status(form)


@bp.route("/manage/consultations/<int:id>/documents", methods=["POST"])
@staff_required
def manage_documents(id: int) -> ResponseReturnValue:
    c = _managed_or_404(id)
    _flash_done(commit_or_explain(lambda: _change_documents(c)))
    return redirect(url_for("consultations.manage_show", id=c.id))


def _flash_done(message: str | None) -> None:
    """After commit_or_explain with an action that says what it did: say it (a refusal was flashed already)."""
    if message is not None:
        flash(message, "success")


def _change_documents(c: Consultation) -> str:
    remove = form_int("remove")
    if remove:
        services.remove_document(current_user, c, _part_of(c, ConsultationDocument, remove))
        return _("已删除。")
    uploads = [Upload(f.filename, stream=f.stream) for f in request.files.getlist("documents") if f and f.filename]
    services.add_documents(current_user, c, uploads)
    return _("文件已上传。")


@bp.route("/manage/consultations/attachments/<int:att_id>")
@staff_required
def manage_attachment(att_id: int) -> ResponseReturnValue:
    att = db.get_or_404(CommentAttachment, att_id)
    ensure_can_manage(att.comment.consultation)
    return storage().send(services.file_key(att), mimetype=att.mime_type, download_name=att.filename)


@bp.route("/manage/consultations/<int:id>/groups", methods=["GET", "POST"])
@staff_required
def manage_groups(id: int) -> ResponseReturnValue:
    c = _managed_or_404(id)
    if request.method == "POST":
        action = request.form.get("action", "")
        group_id = form_int("group_id")
        if request.form.get("group_id") and group_id is None:
            abort(400)
        group = db.session.get(CommentGroup, group_id) if group_id else None
        _flash_done(commit_or_explain(lambda: _change_groups(c, action, group)))
        return redirect(url_for("consultations.manage_groups", id=c.id))
    all_groups = db.session.scalars(sa.select(CommentGroup).where(CommentGroup.consultation_id == c.id)
                                .options(selectinload(CommentGroup.comments), selectinload(CommentGroup.disposition))
                                .order_by(CommentGroup.id)).all()
    return render_template("consultations/manage/groups.html", c=c, groups=all_groups)


def _change_groups(c: Consultation, action: str, group: CommentGroup | None) -> str:
    if action == "propose":
        return _("提出了%(n)s个意见组建议。", n=len(groups.propose_groups(current_user, c)))
    if group is None:
        abort(404)
    if action == "accept":
        groups.accept_group(current_user, c, group, form_text("title", 200, multiline=False))
        return _("已确认意见组。")
    if action == "split":
        groups.split_group(current_user, c, group, form_ids("comment_ids") or None)
        return _("已拆分意见组。")
    if action == "merge":
        others = [db.session.get(CommentGroup, i) for i in form_ids("merge_ids")]
        groups.merge_groups(current_user, c, group, [o for o in others if o is not None])
        return _("已合并意见组。")
    abort(400)


@bp.route("/manage/consultations/<int:id>/answers")
@staff_required
def manage_answers(id: int) -> ResponseReturnValue:
    c = _managed_or_404(id)
    stmt = (sa.select(Comment).where(Comment.consultation_id == c.id,
                                     Comment.moderation_state == ModerationState.PUBLISHED)
            .options(selectinload(Comment.disposition), selectinload(Comment.group)
                     .selectinload(CommentGroup.disposition)))
    if request.args.get("show") != "all":
        stmt = stmt.where(reports.unanswered_clause())
    comments, next_url = _staff_page(stmt)
    accepted = db.session.scalars(sa.select(CommentGroup).where(CommentGroup.consultation_id == c.id,
                                                              CommentGroup.is_accepted.is_(True))
                                .options(selectinload(CommentGroup.disposition))).all()
    # How many comments each group holds, counted (not every comment of every group loaded to count them).
    sizes = dict(db.session.execute(sa.select(Comment.group_id, sa.func.count()).where(
        Comment.group_id.in_([g.id for g in accepted])).group_by(Comment.group_id)).all()) if accepted else {}
    return render_template("consultations/manage/answers.html", c=c, comments=comments,
                           groups=accepted, group_sizes=sizes, next_url=next_url,
                           articles={a.id: a for a in c.articles}, unanswered=reports.unanswered_count(c))


def _answer_view(c: Consultation, comment: Comment | None, group: CommentGroup | None):
    target = comment or group
    form = AnswerForm()
    if request.method == "GET" and target.disposition is not None:
        form.kind.data = target.disposition.kind.value
        form.response.data, form.reason.data = target.disposition.response, target.disposition.reason
    if submit(form, lambda: services.answer(
            current_user, c, kind=DispositionKind(form.kind.data), response=form.response.data or "",
            reason=form.reason.data or "", comment=comment, group=group), _("答复已保存（反馈报告发布前不公开）。")):
        return redirect(url_for("consultations.manage_answers", id=c.id))
    return render_template("consultations/manage/answer.html", c=c, comment=comment, group=group,
                           form=form), form_status(form)


@bp.route("/manage/consultations/<int:id>/comments/<int:comment_id>/answer", methods=["GET", "POST"])
@staff_required
def manage_answer_comment(id: int, comment_id: int) -> ResponseReturnValue:
    c = _managed_or_404(id)
    return _answer_view(c, _part_of(c, Comment, comment_id), None)


@bp.route("/manage/consultations/<int:id>/groups/<int:group_id>/answer", methods=["GET", "POST"])
@staff_required
def manage_answer_group(id: int, group_id: int) -> ResponseReturnValue:
    c = _managed_or_404(id)
    return _answer_view(c, None, _part_of(c, CommentGroup, group_id))


@bp.route("/manage/consultations/<int:id>/faq", methods=["GET", "POST"])
@bp.route("/manage/consultations/<int:id>/faq/<int:faq_id>", methods=["GET", "POST"])
@staff_required
def manage_faq(id: int, faq_id: int | None = None) -> ResponseReturnValue:
    c = _managed_or_404(id)
    item = None
    if faq_id:
        item = _part_of(c, FaqItem, faq_id)
    form = FaqForm(obj=item) if request.method == "GET" and item else FaqForm()
    if form.validate_on_submit():
        if request.form.get("delete") and item is not None:
            if (page := confirm.ask(_("确定删除这条问答吗？删除后公开页面上不再显示。"), detail=item.question,
                                    back=url_for("consultations.manage_faq", id=c.id, faq_id=item.id),
                                    button=_("删除"))) is not None:
                return page
            services.delete_faq(current_user, c, item)
            commit()
            flash(_("已删除。"), "success")
            return redirect(url_for("consultations.manage_faq", id=c.id))
        try:
            services.save_faq(current_user, c, question=form.question.data, answer_text=form.answer.data,
                              is_published=form.is_published.data, item=item)
            commit()
        except ConsultationError as error:
            db.session.rollback()
            show_error(form, error)
        else:
            flash(_("已保存。"), "success")
            return redirect(url_for("consultations.manage_faq", id=c.id))
    return render_template("consultations/manage/faq.html", c=c, form=form, item=item), form_status(form)


@bp.route("/manage/consultations/<int:id>/report", methods=["GET", "POST"])
@staff_required
def manage_report(id: int) -> ResponseReturnValue:
    c = _managed_or_404(id)
    if c.state not in (ConsultationState.CLOSED, ConsultationState.FEEDBACK_PUBLISHED):
        flash(_("征询期结束后才能编写反馈报告。"), "info")
        return redirect(url_for("consultations.manage_show", id=c.id))
    form = ReportForm()
    if request.method == "GET" and c.report is not None:
        form.main_points.data, form.changes.data = c.report.main_points, c.report.changes
    if submit(form, lambda: reports.save_report(current_user, c, main_points=form.main_points.data or "",
                                                changes=form.changes.data or "", final_text=form.final_text.data or ""),
              _("报告已保存。")):
        return redirect(url_for("consultations.manage_report", id=c.id))
    stats = c.report.statistics if c.report else reports.report_statistics(c)
    return render_template("consultations/manage/report.html", c=c, form=form, stats=stats,
                           unanswered=reports.unanswered_count(c),
                           articles=[a for a in c.articles if not a.is_removed]), form_status(form)


@bp.route("/manage/consultations/<int:id>/report/publish", methods=["POST"])
@staff_required
def manage_report_publish(id: int) -> ResponseReturnValue:
    c = _managed_or_404(id)
    return confirm.act(_("发布后将通知所有提出意见的人，答复不能再修改。确定发布？"),
                       lambda: reports.publish_report(current_user, c), _("反馈报告已发布，已通知所有提出意见的人。"),
                       detail=c.title, back=url_for("consultations.manage_report", id=c.id), button=_("发布反馈报告"),
                       danger=False, done=url_for("consultations.manage_show", id=c.id))


# Exports (app.core.exports): streamed, cells neutralised, audited. The CSV on PostgreSQL is the database's own
# COPY output (formulas neutralised in its SQL), passed on block by block.


def _export(c: Consultation, fmt: str):
    exports.audit_export(current_user, "consultation.export", c, fmt)
    commit()
    chunks = export_csv(c.id) if fmt == "csv" else None
    return exports.download(fmt, f"consultation-{c.id}-comments", EXPORT_HEADER,
                            export_rows(c.id), sheet_name="comments", chunks=chunks)


@bp.route("/manage/consultations/<int:id>/export.csv")
@staff_required
def manage_export_csv(id: int) -> ResponseReturnValue:
    return _export(_managed_or_404(id), "csv")


@bp.route("/manage/consultations/<int:id>/export.xlsx")
@staff_required
def manage_export_xlsx(id: int) -> ResponseReturnValue:
    return _export(_managed_or_404(id), "xlsx")
