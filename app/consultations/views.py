"""Public pages of consultations under /consultations/: the list, one consultation, commenting, tracking.

Thin: load, authorise, validate, call a service, commit once, redirect.
"""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.accounts.models import Department, Tag
from app.accounts.permissions import login_required, owned_or_404, shown_or_404, verified_required, visible_or_404
from app.consultations import bp, rules, services
from app.core.storage import Upload, storage
from app.consultations.forms import CommentForm
from app.consultations.models import (
    TARGET_GROUPS,
    Comment,
    CommentAttachment,
    CommentGroup,
    CommenterType,
    Consultation,
    ConsultationDocument,
    ConsultationError,
    ConsultationState,
    DispositionKind,
    DocumentType,
    ModerationState,
    Stance,
)
from app.core import rows
from app.core.errors import show_error
from app.core.hotcommit import commit_then_flush
from app.core.paging import parse_time_cursor, time_cursor
from app.core.timeutil import utcnow
from app.extensions import db, limiter
from app.templating import url_with
from app.core.inputs import arg_int
from app.core.tracking import lookup_page

PAGE_SIZE = 20


def _public_or_404(id: int) -> Consultation:
    return visible_or_404(Consultation, id, _is_public)


def _is_public(c: Consultation) -> bool:
    return c.is_published


# A submission reads only what deciding on it needs (not the draft's text, the department or the tags): a detached
# copy of those columns (core.rows: no ORM load; a refused submission's page loads the whole consultation). Built
# once: it runs with every comment.
_C = Consultation.__table__
SUBMISSION_COLUMNS = ("id", "department_id", "title", "opens_at", "closes_at", "published_at", "withdrawn_at")
LOAD_FOR_SUBMISSION = sa.select(*(_C.c[k] for k in SUBMISSION_COLUMNS)).where(_C.c.id == sa.bindparam("id"))


def _public_for_submission_or_404(id: int) -> Consultation:
    found = rows.run(LOAD_FOR_SUBMISSION, {"id": id})
    return shown_or_404(rows.copy(Consultation, found[0]._asdict()) if found else None, _is_public)


# ---------------------------------------------------------------------------------------------------------------
# Public pages


STATUS_FILTERS = {"open": ConsultationState.OPEN, "closed": ConsultationState.CLOSED,
                  "feedback": ConsultationState.FEEDBACK_PUBLISHED}


@bp.route("/consultations/")
def index() -> ResponseReturnValue:
    now = utcnow()
    stmt = sa.select(Consultation).where(Consultation.published_at.is_not(None), Consultation.withdrawn_at.is_(None))
    status = request.args.get("status", "")
    if status in STATUS_FILTERS:
        stmt = stmt.where(Consultation.state_clause(STATUS_FILTERS[status], now))
    department_id = arg_int("department")
    if department_id:
        stmt = stmt.where(Consultation.department_id == department_id)
    tag_id = arg_int("tag")
    if tag_id:
        stmt = stmt.where(Consultation.tags.any(Tag.id == tag_id))
    doc_type = request.args.get("type", "")
    if doc_type in {t.value for t in DocumentType}:
        stmt = stmt.where(Consultation.document_type == DocumentType(doc_type))
    q = request.args.get("q", "").strip()[:100]
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(sa.or_(Consultation.title.ilike(like), Consultation.summary.ilike(like)))
    before = arg_int("before")
    if before:
        stmt = stmt.where(Consultation.id < before)
    items = list(db.session.scalars(stmt.options(selectinload(Consultation.report))
                                    .order_by(Consultation.id.desc()).limit(PAGE_SIZE + 1)))
    next_url = url_with(before=items[PAGE_SIZE - 1].id) if len(items) > PAGE_SIZE else None
    departments = db.session.scalars(sa.select(Department).order_by(Department.id)).all()
    tags = db.session.scalars(sa.select(Tag).where(Tag.is_active.is_(True)).order_by(Tag.id)).all()
    return render_template("consultations/index.html", items=items[:PAGE_SIZE], next_url=next_url,
                           departments=departments, tags=tags, status=status, department_id=department_id,
                           tag_id=tag_id, doc_type=doc_type, q=q, document_types=list(DocumentType), now=now)


def _article_choices(form: CommentForm, c: Consultation) -> None:
    form.article_id.choices = [(0, _("草案全文"))] + [
        (a.id, f"{a.label} {a.body[:30]}") for a in c.articles if not a.is_removed]


def _comment_form(c: Consultation, choices: bool = True) -> CommentForm:
    """The comment form; ``choices=False`` (a submission) leaves the articles unread: the service checks the one
    chosen, and the choices are filled in only if the form is shown again."""
    form = CommentForm()
    if choices:
        _article_choices(form, c)
    if not form.idempotency_key.data:
        form.idempotency_key.data = uuid.uuid4().hex
    return form


def comment_cursor(comment: Comment, attribute: str = "published_at") -> str:
    """The keyset cursor after a comment in a list ordered by ``attribute`` and id."""
    return time_cursor(getattr(comment, attribute), comment.id)


def _published_comments(c: Consultation, article_id: int | None, before: tuple[datetime, int] | None):
    """One page of published comments, newest first, by keyset (published_at, id). The indexes
    (consultation_id | article_id, moderation_state, published_at, id) serve both the filter and the order, so a
    deep page costs what the first one does; ordering by id alone lets PostgreSQL walk the primary key instead."""
    if article_id:
        stmt = sa.select(Comment).where(Comment.article_id == article_id,
                                        Comment.moderation_state == ModerationState.PUBLISHED)
    else:
        stmt = sa.select(Comment).where(Comment.consultation_id == c.id,
                                        Comment.moderation_state == ModerationState.PUBLISHED)
    if before:
        stmt = stmt.where(sa.tuple_(Comment.published_at, Comment.id) < sa.tuple_(*before))
    if c.is_feedback_published:
        stmt = stmt.options(selectinload(Comment.disposition),
                            selectinload(Comment.group).selectinload(CommentGroup.disposition))
    rows = list(db.session.scalars(stmt.order_by(Comment.published_at.desc(), Comment.id.desc())
                                   .limit(PAGE_SIZE + 1)))
    next_before = comment_cursor(rows[PAGE_SIZE - 1]) if len(rows) > PAGE_SIZE else None
    return rows[:PAGE_SIZE], next_before


def _render_show(c: Consultation, form: CommentForm | None = None, status: int = 200):
    article_id = arg_int("article")
    articles = [a for a in c.articles if not a.is_removed]
    if article_id and not any(a.id == article_id for a in articles):
        article_id = None
    comments, next_before = _published_comments(c, article_id, parse_time_cursor(request.args.get("before")))
    next_url = url_with(before=next_before) + "#comments" if next_before else None
    state = c.state
    if form is not None and not form.article_id.choices:
        _article_choices(form, c)
    if form is None and state is ConsultationState.OPEN:
        form = _comment_form(c)
        chosen = arg_int("comment_on")
        if chosen:
            form.article_id.data = chosen
    by_id = {a.id: a for a in c.articles}
    return render_template(
        "consultations/show.html", c=c, state=state, articles=articles, comments=comments, next_url=next_url,
        article_id=article_id, form=form, by_id=by_id, is_short=services.is_period_short(c),
        report=c.report if c.is_feedback_published else None, target_groups=TARGET_GROUPS,
        first_page_url=url_for("consultations.show", id=c.id, article=article_id) + "#comments"), status


@bp.route("/consultations/<int:id>")
def show(id: int) -> ResponseReturnValue:
    c = _public_or_404(id)
    return _render_show(c)


def _uploads(form) -> list[Upload]:
    out = []
    for f in request.files.getlist(form.attachments.name):
        if not f or not f.filename:
            continue
        out.append(Upload(f.filename, stream=f.stream))  # spooled by werkzeug; checked, then stored in chunks
    return out


@bp.route("/consultations/<int:id>/comments", methods=["POST"])
@limiter.limit("20 per minute; 200 per day", methods=["POST"])
@verified_required
def comment(id: int) -> ResponseReturnValue:
    c = _public_for_submission_or_404(id)
    form = _comment_form(c, choices=False)
    if form.validate_on_submit():
        stance = Stance(form.stance.data) if form.stance.data in {s.value for s in Stance} else None
        comment = None
        try:
            comment, _created = services.submit_comment(
                current_user, c, text=form.text.data, article_id=form.article_id.data or None, stance=stance,
                uploads=_uploads(form), show_organisation=form.show_organisation.data,
                idempotency_key=form.idempotency_key.data)
            number = comment.tracking_number  # read before the commit: the answer needs no query after it
            commit_then_flush()  # stored (on disk) before the user is told the number
        except ConsultationError as error:
            db.session.rollback()
            show_error(form, error)
        except sa.exc.IntegrityError:
            # A double click that raced past the first check: the first submit won; show its number.
            db.session.rollback()
            comment = services.find_by_idempotency_key(current_user, form.idempotency_key.data)
            if comment is None:
                raise
            number = comment.tracking_number
        if comment is not None:
            # The tracking page says so to its writer (``submitted``): a flash would be kept in the session cookie,
            # signed again here and once more when the page takes it out.
            return redirect(url_for("consultations.track", number=number, submitted=1))
    c = db.session.get(Consultation, id, populate_existing=True)  # all of it, for the page (one query)
    return _render_show(c, form=form, status=422)


@bp.route("/consultations/track", methods=["GET"])
def track_lookup() -> ResponseReturnValue:
    return lookup_page("consultations/track_lookup.html", "consultations.track", rules.is_valid_tracking_number)


@bp.route("/consultations/track/<number>")
def track(number: str) -> ResponseReturnValue:
    number = number.strip().upper()
    if not rules.is_valid_tracking_number(number):
        abort(404)
    comment = db.session.scalar(sa.select(Comment).where(Comment.tracking_number == number)
                                .options(selectinload(Comment.disposition), selectinload(Comment.article),
                                         selectinload(Comment.attachments),
                                         selectinload(Comment.group).selectinload(CommentGroup.disposition)))
    if comment is None:
        abort(404)
    c = db.session.get(Consultation, comment.consultation_id)
    is_owner = current_user.is_authenticated and current_user.id == comment.user_id
    return render_template("consultations/track.html", comment=comment, c=c, is_owner=is_owner,
                           answer=comment.answer if c.is_feedback_published else None,
                           submitted=is_owner and bool(request.args.get("submitted")))


@bp.route("/consultations/track/<number>/attachments/<int:att_id>")
@login_required
def track_attachment(number: str, att_id: int) -> ResponseReturnValue:
    """A commenter's own attachment (attachments are never public: only the commenter and staff read them)."""
    att = db.get_or_404(CommentAttachment, att_id)
    if att.comment.tracking_number != number.strip().upper() or att.comment.user_id != current_user.id:
        abort(404)
    return storage().send(services.file_key(att), mimetype=att.mime_type, download_name=att.filename)


@bp.route("/consultations/<int:id>/documents/<int:doc_id>")
def document(id: int, doc_id: int) -> ResponseReturnValue:
    c = _public_or_404(id)
    doc = owned_or_404(ConsultationDocument, doc_id, consultation_id=c.id)
    return storage().send(services.file_key(doc), mimetype=doc.mime_type, download_name=doc.filename)



@bp.context_processor
def _choices():

    return {"disposition_kinds": list(DispositionKind), "commenter_types": list(CommenterType)}


@bp.record_once
def _enums_for_templates(state) -> None:
    """Templates compare states with the members themselves (``reg.state == RegistrationState.CANCELLED``)."""
    state.app.jinja_env.globals.update(ConsultationState=ConsultationState, ModerationState=ModerationState)
