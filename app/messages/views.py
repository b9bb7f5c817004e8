"""Public pages of messages under /messages/: the list of published messages with their replies, writing a
message, its status page by tracking number, and the writer's rating of the reply.

Thin: load, authorise, validate, call a service, commit once, flash, redirect.
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.accounts.models import DISTRICTS, Department, Tag
from app.accounts.permissions import can_manage_department, verified_required
from app.core.errors import form_status, show_error, submit
from app.core.inputs import arg_int
from app.core.paging import parse_time_cursor, time_cursor
from app.core.periods import PeriodError, parse_period
from app.core.storage import Upload, storage
from app.core.timeutil import utcnow
from app.core.tracking import lookup_page
from app.extensions import db, limiter
from app.i18n import current_language
from app.messages import bp, handling, imports, reports, rules, services
from app.messages.forms import MessageForm, RatingForm
from app.messages.models import (
    CommonProblem,
    ContactPreference,
    Message,
    MessageAttachment,
    MessageError,
    MessageState,
    Resolution,
)
from app.templating import url_with

PAGE_SIZE = 20
PUBLIC_STATES = {"replied": MessageState.REPLIED, "handling": MessageState.HANDLING}


def district_choices(blank: str) -> list[tuple[str, str]]:
    lang = current_language()
    return [("", blank)] + [(code, names[1] if lang == "en" else names[0]) for code, names in DISTRICTS.items()]


@bp.route("/messages/")
def index() -> ResponseReturnValue:
    """Published messages with their replies, newest first by keyset (published_at, id)."""
    stmt = sa.select(Message).where(Message.published_at.is_not(None), Message.hidden_at.is_(None))
    department_id = arg_int("department")
    if department_id:
        stmt = stmt.where(Message.department_id == department_id)
    district = request.args.get("district", "")
    if district in DISTRICTS:
        stmt = stmt.where(Message.district == district)
    tag_id = arg_int("tag")
    if tag_id:
        stmt = stmt.where(Message.tags.any(Tag.id == tag_id))
    state = request.args.get("state", "")
    if state in PUBLIC_STATES:
        stmt = stmt.where(Message.state_clause(PUBLIC_STATES[state]))
    before = parse_time_cursor(request.args.get("before"))
    if before:
        stmt = stmt.where(sa.tuple_(Message.published_at, Message.id) < sa.tuple_(*before))
    rows = list(db.session.scalars(stmt.options(selectinload(Message.replies), selectinload(Message.department))
                                   .order_by(Message.published_at.desc(), Message.id.desc()).limit(PAGE_SIZE + 1)))
    next_url = (url_with(before=time_cursor(rows[PAGE_SIZE - 1].published_at, rows[PAGE_SIZE - 1].id))
                if len(rows) > PAGE_SIZE else None)
    departments = db.session.scalars(sa.select(Department).order_by(Department.id)).all()
    tags = db.session.scalars(sa.select(Tag).where(Tag.is_active.is_(True)).order_by(Tag.id)).all()
    return render_template("messages/index.html", items=rows[:PAGE_SIZE], next_url=next_url,
                           departments=departments, tags=tags, department_id=department_id, district=district,
                           tag_id=tag_id, state=state, districts=district_choices(_("全部")))


def _message_form() -> MessageForm:
    form = MessageForm()
    form.district.choices = district_choices(_("不选择"))
    form.tags.choices = [(t.id, t.display_name(current_language())) for t in db.session.scalars(
        sa.select(Tag).where(Tag.is_active.is_(True)).order_by(Tag.id))]
    if not form.idempotency_key.data:
        form.idempotency_key.data = uuid.uuid4().hex
    return form


@bp.route("/messages/new", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per day", methods=["POST"])
@verified_required
def new() -> ResponseReturnValue:
    form = _message_form()
    if form.validate_on_submit():
        uploads = [Upload(f.filename, stream=f.stream) for f in request.files.getlist(form.attachments.name)
                   if f and f.filename]
        data = services.MessageData(
            subject=form.subject.data, text=form.text.data, district=form.district.data or None,
            allow_publish=form.allow_publish.data, tag_ids=form.tags.data,
            contact_preference=ContactPreference(form.contact_preference.data))
        message = None
        try:
            message, _created = services.submit_message(current_user, data, uploads=uploads,
                                                        idempotency_key=form.idempotency_key.data)
            db.session.commit()
        except MessageError as error:
            db.session.rollback()
            show_error(form, error)
        except sa.exc.IntegrityError:  # a double click that raced past the first check: show the first one
            db.session.rollback()
            message = services.find_by_idempotency_key(current_user, form.idempotency_key.data)
            if message is None:
                raise
        if message is not None:
            flash(_("留言已提交，编号%(number)s。办理进展和答复会发到您的邮箱和“我的空间”。",
                    number=message.tracking_number), "success")
            return redirect(url_for("messages.track", number=message.tracking_number))
    return render_template("messages/new.html", form=form), form_status(form)


@bp.route("/messages/track", methods=["GET"])
def track_lookup() -> ResponseReturnValue:
    return lookup_page("messages/track_lookup.html", "messages.track", rules.is_valid_tracking_number)


def _can_see_private(message: Message) -> bool:
    """The writer, the office and the departments handling it see the full text and the reply before release."""
    if not current_user.is_authenticated:
        return False
    if message.user_id is not None and current_user.id == message.user_id:
        return True
    return any(can_manage_department(current_user, d) for d in [message.department_id, *message.co_department_ids]
               if d is not None) or can_manage_department(current_user, None)


@bp.route("/messages/track/<number>", methods=["GET", "POST"])
def track(number: str) -> ResponseReturnValue:
    """The status of one message: its history (without staff names), deadline, reply and the writer's rating."""
    message = services.find_by_tracking_number(number)
    if message is None:
        abort(404)
    is_owner = current_user.is_authenticated and current_user.id == message.user_id
    form = None
    if is_owner and handling.can_rate(message, utcnow()):
        form = RatingForm()
        if form.validate_on_submit() and form.reopen.data and not (form.reopen_reason.data or "").strip():
            form.reopen_reason.errors = list(form.reopen_reason.errors) + [_("请填写重新办理的理由。")]
        elif submit(form, lambda: handling.rate(
                current_user, message, resolution=Resolution(form.resolution.data),
                satisfied=form.satisfied.data == "yes", comment=form.comment.data or "",
                reopen_reason=(form.reopen_reason.data or "") if form.reopen.data else None),
                _("感谢您的评价。")):
            return redirect(url_for("messages.track", number=message.tracking_number))
    return render_template("messages/track.html", m=message, is_owner=is_owner, form=form,
                           see_private=is_owner or _can_see_private(message),
                           limit=rules.time_limit(message.source), now=utcnow()), form_status(form)


@bp.route("/messages/<int:id>")
def show(id: int) -> ResponseReturnValue:
    """A published message with its reply."""
    message = db.get_or_404(Message, id)
    if not message.is_public:
        abort(404)
    return render_template("messages/show.html", m=message, reply=message.latest_reply)


@bp.route("/messages/attachments/<int:att_id>")
def attachment(att_id: int) -> ResponseReturnValue:
    """An attachment: for the writer and the staff handling the message only (never public)."""
    att = db.get_or_404(MessageAttachment, att_id)
    if not _can_see_private(att.message):
        abort(404)
    return storage().send(services.file_key(att), mimetype=att.mime_type, download_name=att.filename)


@bp.record_once
def _enums_for_templates(state) -> None:
    state.app.jinja_env.globals.update(MessageState=MessageState, row_reason=imports.row_reason)
    # A deadline is the midnight after its last day: pages show that day ("2026-10-20").
    state.app.jinja_env.filters["dueday"] = lambda dt: rules.last_day(dt).isoformat() if dt else ""


@bp.route("/messages/figures")
def figures() -> ResponseReturnValue:
    """How each department handles its messages, for a month or a quarter: public, figures only (no personal data)."""
    try:
        period = parse_period(request.args.get("period") or reports.default_period())
    except PeriodError:
        abort(400)
    data = reports.figures(period)
    return render_template("messages/figures.html", data=data, period=period,
                           charts=reports.charts(data, current_language()))


@bp.route("/messages/problems")
def problems() -> ResponseReturnValue:
    """Common problems confirmed by the office, with the action taken at the source (解决一件、带动一片)."""
    items = db.session.scalars(sa.select(CommonProblem).where(CommonProblem.confirmed_at.is_not(None))
                               .order_by(CommonProblem.confirmed_at.desc()).limit(100)).all()
    counts = dict(db.session.execute(sa.select(Message.problem_id, sa.func.count()).where(
        Message.problem_id.in_([p.id for p in items])).group_by(Message.problem_id)).all()) if items else {}
    return render_template("messages/problems.html", items=items, counts=counts)
