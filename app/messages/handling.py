"""Handling a message: the office assigns it to a lead department (with co-handling departments), the department
acknowledges it or returns it as not its own, asks once for an extension, writes the reply (reviewed by the office
where the source asks for it), and the writer rates the reply and may reopen it once.

Use cases: take the actor, flush, never commit; every act is recorded in the message's history, mail goes through
the outbox and other modules hear of it through signals (notifications turns them into notices in my space).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from app import signals
from app.accounts.models import Department, Role, User
from app.accounts.permissions import can_manage_department
from app.core.audit import audit
from app.core.timeutil import utcnow
from app.extensions import db
from app.messages import rules
from app.messages.models import (
    CoHandler,
    EventKind,
    ExtensionDecision,
    Message,
    MessageError,
    Reply,
    Resolution,
)
from app.messages.services import record, refresh_deadlines
from app.notifications.services import queue_email

# ---------------------------------------------------------------------------------------------------------------
# Who is told


def department_staff(department_id: int | None) -> list[User]:
    if department_id is None:
        return []
    return list(db.session.scalars(sa.select(User).where(
        User.department_id == department_id, User.role == Role.STAFF, User.deleted_at.is_(None),
        User.deactivated_at.is_(None), User.email.is_not(None)).order_by(User.id)))


def office_staff() -> list[User]:
    """The oversight admins (市政府办公厅): they assign, review and follow up (督办)."""
    return list(db.session.scalars(sa.select(User).where(
        User.role == Role.ADMIN, User.deleted_at.is_(None), User.deactivated_at.is_(None),
        User.email.is_not(None)).order_by(User.id)))


def tell_staff(people: list[User], message: Message, what: str, **context) -> int:
    for person in people:
        queue_email(person.email, "messages/emails/staff_notice", user=person, message=message, what=what,
                    **context)
    return len(people)


def _tell_writer(message: Message, template: str, **context) -> None:
    """The writer by e-mail: the account's address, or the address a forwarding source gave."""
    user = message.user
    address = user.email if user is not None else message.writer_email
    if address:
        queue_email(address, template, user=user, message=message, **context)


# ---------------------------------------------------------------------------------------------------------------
# Guards


def _ensure_open(message: Message) -> None:
    if message.is_replied:
        raise MessageError(_("该留言已答复。"))


def _ensure_lead(actor: User, message: Message) -> None:
    if message.department_id is None or not can_manage_department(actor, message.department_id):
        raise MessageError(_("只有主办单位可以办理该留言。"))


def _ensure_office(actor: User) -> None:
    if actor.role is not Role.ADMIN:
        raise MessageError(_("只有市政府办公厅可以进行此操作。"))


# ---------------------------------------------------------------------------------------------------------------
# Assignment, acknowledgement, return


def assign(actor: User, message: Message, department_id: int, co_department_ids: list[int] | None = None) -> None:
    """Assign (or reassign) to a lead department with optional co-handling departments."""
    _ensure_office(actor)
    _ensure_open(message)
    if message.reply_submitted_at is not None:
        raise MessageError(_("答复正在审核，不能改派。"))
    if db.session.get(Department, department_id) is None:
        raise MessageError(_("请选择主办单位。"), field="department_id")
    co_ids = sorted({i for i in (co_department_ids or []) if i != department_id})
    if co_ids and len(db.session.scalars(sa.select(Department.id).where(Department.id.in_(co_ids))).all()) != len(co_ids):
        raise MessageError(_("请选择会办单位。"), field="co_department_ids")
    now = utcnow()
    previous = message.department_id
    message.department_id, message.assigned_at, message.acknowledged_at = department_id, now, None
    message.ack_overdue_notified_at = None
    keep = {c.department_id: c for c in message.co_handlers}
    message.co_handlers = [keep.get(i) or CoHandler(department_id=i) for i in co_ids]
    refresh_deadlines(message)
    record(message, EventKind.ASSIGNED, actor, department_id=department_id, at=now)
    db.session.flush()
    audit(actor, "message.assign", message, department_id=department_id, previous=previous, co=co_ids)
    tell_staff(department_staff(department_id), message, "assigned")
    for i in co_ids:
        tell_staff(department_staff(i), message, "co_handling")
    signals.message_changed.send(message, what="assigned")


def acknowledge(actor: User, message: Message) -> None:
    """The lead department takes the message on (签收)."""
    _ensure_lead(actor, message)
    _ensure_open(message)
    if message.acknowledged_at is not None:
        return
    message.acknowledged_at = utcnow()
    record(message, EventKind.ACKNOWLEDGED, actor, department_id=message.department_id)
    db.session.flush()
    audit(actor, "message.acknowledge", message)
    signals.message_changed.send(message, what="acknowledged")


def return_message(actor: User, message: Message, reason: str) -> None:
    """The lead department returns a message that is not its own, with a reason; the office reassigns it."""
    _ensure_lead(actor, message)
    _ensure_open(message)
    if message.reply_submitted_at is not None:
        raise MessageError(_("答复正在审核，不能退回。"))
    if not (reason or "").strip():
        raise MessageError(_("请填写退回理由。"), field="reason")
    department_id = message.department_id
    message.department_id = message.assigned_at = message.acknowledged_at = None
    message.returned_at, message.return_reason = utcnow(), reason.strip()
    message.return_count += 1
    message.co_handlers = []
    refresh_deadlines(message)
    record(message, EventKind.RETURNED, actor, department_id=department_id, note=reason.strip())
    db.session.flush()
    audit(actor, "message.return", message, department_id=department_id, reason=reason.strip())
    tell_staff(office_staff(), message, "returned", reason=reason.strip())
    signals.message_changed.send(message, what="returned")


def add_opinion(actor: User, message: Message, opinion: str) -> CoHandler:
    """A co-handling department gives its opinion (会办意见) to the lead department."""
    _ensure_open(message)
    handler = next((c for c in message.co_handlers if can_manage_department(actor, c.department_id)
                    and actor.role is Role.STAFF), None)
    if handler is None:
        raise MessageError(_("只有会办单位可以提交会办意见。"))
    if not (opinion or "").strip():
        raise MessageError(_("请填写会办意见。"), field="opinion")
    handler.opinion, handler.opinion_at, handler.opinion_by_id = opinion.strip(), utcnow(), actor.id
    record(message, EventKind.CO_OPINION, actor, department_id=handler.department_id)
    db.session.flush()
    audit(actor, "message.co_opinion", message, department_id=handler.department_id)
    tell_staff(department_staff(message.department_id), message, "co_opinion")
    return handler


# ---------------------------------------------------------------------------------------------------------------
# Extension


def request_extension(actor: User, message: Message, days: int, reason: str) -> None:
    """The lead department asks once for more working days, with a reason; the office decides."""
    _ensure_lead(actor, message)
    _ensure_open(message)
    if message.extension_decision is not None:
        raise MessageError(_("每件留言只能申请一次延期。"))
    limit = rules.time_limit(message.source)
    if not 1 <= days <= limit.max_extension_days:
        raise MessageError(_("延期最多%(n)s个工作日。", n=limit.max_extension_days), field="days")
    if not (reason or "").strip():
        raise MessageError(_("请填写延期理由。"), field="reason")
    message.extension_days, message.extension_reason = days, reason.strip()
    message.extension_decision, message.extension_requested_at = ExtensionDecision.PENDING, utcnow()
    record(message, EventKind.EXTENSION_REQUESTED, actor, department_id=message.department_id,
           note=reason.strip())
    db.session.flush()
    audit(actor, "message.extension_request", message, days=days)
    tell_staff(office_staff(), message, "extension_requested", days=days, reason=reason.strip())


def decide_extension(actor: User, message: Message, approve: bool, note: str = "") -> None:
    _ensure_office(actor)
    if message.extension_decision is not ExtensionDecision.PENDING:
        raise MessageError(_("没有待审批的延期申请。"))
    message.extension_decision = ExtensionDecision.APPROVED if approve else ExtensionDecision.REFUSED
    message.extension_decided_at = utcnow()
    if approve:
        message.reply_reminded_at = message.reply_overdue_notified_at = None  # a new deadline, new reminders
    refresh_deadlines(message)
    record(message, EventKind.EXTENSION_APPROVED if approve else EventKind.EXTENSION_REFUSED, actor,
           department_id=message.department_id, note=(note or "").strip())
    db.session.flush()
    audit(actor, "message.extension_decide", message, approve=approve)
    tell_staff(department_staff(message.department_id), message,
               "extension_approved" if approve else "extension_refused", note=(note or "").strip())


# ---------------------------------------------------------------------------------------------------------------
# Reply, review, release


def write_reply(actor: User, message: Message, text: str) -> Reply:
    """The lead department's reply: released at once, or sent to the office for review when the source asks."""
    _ensure_lead(actor, message)
    _ensure_open(message)
    if message.reply_submitted_at is not None:
        raise MessageError(_("答复正在审核。"))
    text = (text or "").strip()
    if not text:
        raise MessageError(_("请填写答复内容。"), field="text")
    now = utcnow()
    if message.acknowledged_at is None:  # writing the reply takes the message on
        message.acknowledged_at = now
        record(message, EventKind.ACKNOWLEDGED, actor, department_id=message.department_id, at=now)
    reply = message.draft_reply
    if reply is None:
        reply = Reply(department_id=message.department_id, text=text)
        message.replies.append(reply)
    reply.text, reply.written_by_id, reply.written_at, reply.department_id = text, actor.id, now, message.department_id
    if rules.time_limit(message.source).review_required:
        reply.submitted_at = message.reply_submitted_at = now
        record(message, EventKind.REPLY_SUBMITTED, actor, department_id=message.department_id, at=now)
        db.session.flush()
        audit(actor, "message.reply_submit", message)
        tell_staff(office_staff(), message, "review")
    else:
        _release(actor, message, reply, now)
    return reply


def review_reply(actor: User, message: Message, approve: bool, note: str = "") -> None:
    """The office releases the reply, or sends it back to the department with a note."""
    _ensure_office(actor)
    reply = message.draft_reply
    if message.reply_submitted_at is None or reply is None:
        raise MessageError(_("没有待审核的答复。"))
    reply.reviewed_by_id = actor.id
    if approve:
        _release(actor, message, reply, utcnow())
        return
    if not (note or "").strip():
        raise MessageError(_("退回修改时请说明原因。"), field="note")
    reply.submitted_at = message.reply_submitted_at = None
    reply.review_note = note.strip()
    record(message, EventKind.REPLY_SENT_BACK, actor, department_id=message.department_id, note=note.strip())
    db.session.flush()
    audit(actor, "message.reply_send_back", message)
    tell_staff(department_staff(message.department_id), message, "sent_back", note=note.strip())


def _release(actor: User, message: Message, reply: Reply, now: datetime) -> None:
    """The reply goes to the writer (e-mail and my space) and, with the writer's consent, out in public."""
    reply.released_at = now
    message.replied_at, message.reply_submitted_at = now, None
    if message.first_replied_at is None:
        message.first_replied_at = now
        message.replied_on_time = message.reply_due_at is None or now < message.reply_due_at
    if message.allow_publish and message.published_at is None:
        message.published_at = now
    record(message, EventKind.REPLIED, actor, department_id=message.department_id, at=now)
    db.session.flush()
    audit(actor, "message.reply_release", message, second=message.first_replied_at != now,
          on_time=message.reply_due_at is None or now < message.reply_due_at)
    _tell_writer(message, "messages/emails/replied", reply=reply)
    signals.message_replied.send(message, reply=reply)


# ---------------------------------------------------------------------------------------------------------------
# Rating and reopening


def can_rate(message: Message, now: datetime) -> bool:
    """The writer rates each reply once, within the window after it was released."""
    if message.user_id is None or not message.is_replied:
        return False
    if message.rated_at is not None and message.rated_at >= message.replied_at:
        return False
    return now < message.replied_at + rules.RATING_WINDOW


def rate(actor: User, message: Message, *, resolution: Resolution, satisfied: bool, comment: str = "",
         reopen_reason: str | None = None) -> None:
    """The writer's rating; an unsatisfied writer may reopen the message once, with a reason, for a second reply."""
    if message.user_id != actor.id:
        raise MessageError(_("只有留言人可以评价答复。"))
    now = utcnow()
    if not can_rate(message, now):
        raise MessageError(_("现在不能评价：每次答复可在%(days)s日内评价一次。", days=rules.RATING_WINDOW.days))
    if reopen_reason is not None:
        if satisfied:
            raise MessageError(_("满意时不需要重新办理。"), field="reopen")
        if message.reopened_at is not None:
            raise MessageError(_("每件留言只能重新办理一次。"), field="reopen")
        if not reopen_reason.strip():
            raise MessageError(_("请填写重新办理的理由。"), field="reopen_reason")
    message.rated_at, message.resolution, message.is_satisfied = now, resolution, satisfied
    message.rating_comment = (comment or "").strip()
    record(message, EventKind.RATED, actor, at=now, note=resolution.msgid)
    if reopen_reason is not None:
        message.reopened_at, message.reopen_reason = now, reopen_reason.strip()
        message.reply_reminded_at = message.reply_overdue_notified_at = None
        refresh_deadlines(message)
        record(message, EventKind.REOPENED, actor, department_id=message.department_id, at=now,
               note=reopen_reason.strip())
        tell_staff(department_staff(message.department_id) + office_staff(), message, "reopened",
                   reason=reopen_reason.strip())
    db.session.flush()
    audit(actor, "message.rate", message, resolution=resolution.value, satisfied=satisfied,
          reopened=reopen_reason is not None)
    signals.message_changed.send(message, what="reopened" if reopen_reason is not None else "rated")

