"""Staff pages of messages under /manage/messages/: the queue ordered by deadline, one message with the acts its
handler may take (assign, acknowledge, return, co-handling opinion, extension, reply, review, redaction).

Thin: load, authorise, validate, call a service, commit once, flash, redirect.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.accounts.models import Department, Role
from app.accounts.permissions import can_manage_department, staff_required
from app.core.errors import commit_or_explain, form_status, submit
from app.core.paging import parse_time_cursor, time_cursor
from app.core.timeutil import utcnow
from app.extensions import db
from app.i18n import current_language
from app.messages import bp, handling, queues, rules, services
from app.messages.forms import (
    AssignForm,
    DecisionForm,
    ExtensionForm,
    OpinionForm,
    ReasonForm,
    RedactForm,
    ReplyForm,
)
from app.messages.models import Message
from app.templating import url_with

QUEUE_PAGE_SIZE = 50
QUEUE_VIEWS = {
    "open": _l("待办"),
    "unassigned": _l("待分办"),
    "review": _l("答复待审核"),
    "extension": _l("延期待审批"),
    "replied": _l("已答复"),
}


def _departments() -> list[Department]:
    return list(db.session.scalars(sa.select(Department).order_by(Department.id)))


@bp.route("/manage/messages/")
@staff_required
def manage_index() -> ResponseReturnValue:
    """The queue: open messages by reply deadline, soonest (and overdue) first; keyset (reply_due_at, id)."""
    view = request.args.get("view", "open")
    if view not in QUEUE_VIEWS:
        view = "open"
    rows, key = queues.queue_page(current_user, view, parse_time_cursor(request.args.get("after")),
                                  QUEUE_PAGE_SIZE + 1)
    next_url = None
    if len(rows) > QUEUE_PAGE_SIZE:
        last = rows[QUEUE_PAGE_SIZE - 1]
        next_url = url_with(after=time_cursor(getattr(last, key), last.id))
    return render_template("messages/manage/index.html", items=rows[:QUEUE_PAGE_SIZE], next_url=next_url,
                           view=view, views=QUEUE_VIEWS, now=utcnow())


def _visible_or_404(id: int) -> Message:
    message = db.get_or_404(Message, id)
    if current_user.role is Role.ADMIN:
        return message
    if not any(can_manage_department(current_user, d)
               for d in [message.department_id, *message.co_department_ids] if d is not None):
        abort(404)
    return message


def _forms(message: Message) -> dict:
    names = [(d.id, d.display_name(current_language())) for d in _departments()]
    assign = AssignForm(prefix="assign")
    assign.department_id.choices = names
    assign.co_department_ids.choices = names
    if request.method == "GET" and message.department_id:
        assign.department_id.data = message.department_id
        assign.co_department_ids.data = message.co_department_ids
    reply = ReplyForm(prefix="reply")
    if request.method == "GET" and message.draft_reply is not None:
        reply.text.data = message.draft_reply.text
    redact = RedactForm(prefix="redact")
    if request.method == "GET":
        redact.text_public.data = message.text_public
    return {"assign_form": assign, "return_form": ReasonForm(prefix="return"),
            "extension_form": ExtensionForm(prefix="extension"), "decision_form": DecisionForm(prefix="decision"),
            "opinion_form": OpinionForm(prefix="opinion"), "reply_form": reply,
            "review_form": DecisionForm(prefix="review"), "redact_form": redact}


def _render(message: Message, forms: dict | None = None, status: int = 200):
    forms = forms or _forms(message)
    is_lead = message.department_id is not None and can_manage_department(current_user, message.department_id)
    co = next((c for c in message.co_handlers if current_user.role is Role.STAFF
               and current_user.department_id == c.department_id), None)
    return render_template("messages/manage/show.html", m=message, is_office=current_user.role is Role.ADMIN,
                           is_lead=is_lead, co=co, limit=rules.time_limit(message.source), now=utcnow(),
                           **forms), status


@bp.route("/manage/messages/<int:id>")
@staff_required
def manage_show(id: int) -> ResponseReturnValue:
    return _render(_visible_or_404(id))


ACTIONS = {
    # name: (form key, how to call the use case, success message)
    "assign": ("assign_form", lambda m, f: handling.assign(current_user, m, f.department_id.data,
                                                           f.co_department_ids.data), _("已交办。")),
    "return": ("return_form", lambda m, f: handling.return_message(current_user, m, f.reason.data),
               _("已退回市政府办公厅重新分办。")),
    "extension": ("extension_form", lambda m, f: handling.request_extension(current_user, m, f.days.data,
                                                                            f.reason.data), _("延期申请已提交。")),
    "decision": ("decision_form", lambda m, f: handling.decide_extension(current_user, m, f.approve.data == "yes",
                                                                         f.note.data or ""), _("已审批延期申请。")),
    "opinion": ("opinion_form", lambda m, f: handling.add_opinion(current_user, m, f.opinion.data),
                _("会办意见已提交。")),
    "reply": ("reply_form", lambda m, f: handling.write_reply(current_user, m, f.text.data), _("答复已提交。")),
    "review": ("review_form", lambda m, f: handling.review_reply(current_user, m, f.approve.data == "yes",
                                                                 f.note.data or ""), _("已审核答复。")),
    "redact": ("redact_form", lambda m, f: services.redact(current_user, m, f.text_public.data),
               _("公开文本已保存。")),
}


@bp.route("/manage/messages/<int:id>/<action>", methods=["POST"])
@staff_required
def manage_act(id: int, action: str) -> ResponseReturnValue:
    if action not in ACTIONS:
        abort(404)
    message = _visible_or_404(id)
    forms = _forms(message)
    key, call, success = ACTIONS[action]
    form = forms[key]
    if submit(form, lambda: call(message, form), success):
        return redirect(url_for("messages.manage_show", id=message.id))
    message = db.session.get(Message, id)
    return _render(message, forms, form_status(form))


@bp.route("/manage/messages/<int:id>/acknowledge", methods=["POST"])
@staff_required
def manage_acknowledge(id: int) -> ResponseReturnValue:
    message = _visible_or_404(id)
    commit_or_explain(lambda: handling.acknowledge(current_user, message), _("已签收。"))
    return redirect(url_for("messages.manage_show", id=id))


@bp.route("/manage/messages/<int:id>/visibility", methods=["POST"])
@staff_required
def manage_visibility(id: int) -> ResponseReturnValue:
    message = _visible_or_404(id)
    if current_user.role is not Role.ADMIN:
        abort(403)
    hide = request.form.get("hide") == "1"
    commit_or_explain(lambda: services.set_hidden(current_user, message, hide),
                      _("已从公开列表撤下。") if hide else _("已恢复公开。"))
    return redirect(url_for("messages.manage_show", id=id))
