"""Scheduled work of consultations. Jobs only notify (state never depends on them) and are safe to run twice:
each sets its flag column in the same transaction as the notice it sends."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app import signals
from app.accounts.models import Role, User
from app.consultations.models import Comment, Consultation, ConsultationState
from app.core import rows
from app.core.timeutil import utcnow
from app.extensions import db
from app.notifications.services import queue_email

CLOSING_SOON = timedelta(days=3)
RECEIPT_BATCH = 1000
REPORT_DUE_WARNING = timedelta(days=7)


def remind_closing_soon() -> int:
    """Three days before closing, send ``consultation_closing_soon`` (subscriptions reacts and e-mails)."""
    now = utcnow()
    due = db.session.scalars(sa.select(Consultation).where(
        Consultation.state_clause(ConsultationState.OPEN, now), Consultation.closing_soon_sent_at.is_(None),
        Consultation.closes_at <= now + CLOSING_SOON).with_for_update(skip_locked=True, of=Consultation)).all()
    for c in due:
        c.closing_soon_sent_at = now
        signals.consultation_closing_soon.send(c)
    db.session.commit()
    return len(due)


def _department_staff(department_id: int) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(
        User.department_id == department_id, User.role == Role.STAFF, User.deleted_at.is_(None),
        User.email.is_not(None))))


def remind_report_due() -> int:
    """E-mail the department's staff a week before the feedback report is due, and once when it is overdue."""
    now = utcnow()
    due_days = timedelta(days=current_app.config["FEEDBACK_REPORT_DUE_DAYS"])
    base = sa.select(Consultation).where(Consultation.state_clause(ConsultationState.CLOSED, now))
    sent = 0
    overdue = db.session.scalars(base.where(Consultation.report_overdue_reminded_at.is_(None),
                                            Consultation.closes_at <= now - due_days)
                                 .with_for_update(skip_locked=True, of=Consultation)).all()
    for c in overdue:
        c.report_overdue_reminded_at = now
        c.report_due_reminded_at = c.report_due_reminded_at or now
        for person in _department_staff(c.department_id):
            queue_email(person.email, "consultations/emails/report_overdue", user=person, consultation=c,
                        due_at=c.closes_at + due_days)
            sent += 1
    soon = db.session.scalars(base.where(Consultation.report_due_reminded_at.is_(None),
                                         Consultation.closes_at <= now - due_days + REPORT_DUE_WARNING)
                              .with_for_update(skip_locked=True, of=Consultation)).all()
    for c in soon:
        c.report_due_reminded_at = now
        for person in _department_staff(c.department_id):
            queue_email(person.email, "consultations/emails/report_due", user=person, consultation=c,
                        due_at=c.closes_at + due_days)
            sent += 1
    db.session.commit()
    return sent


def mail_receipts(batch: int = RECEIPT_BATCH) -> int:
    """Queue the receipt mail of new comments (``Comment.receipt_mail_due``, set by the submission's own INSERT):
    claimed with their flags cleared (``rows.claim_flagged``) and queued in one transaction, so each comment's receipt
    is queued once however many runs overlap, and a failed run leaves the flags for the next. A comment deleted in
    between has nothing to claim; its writer's account deleted, nobody to write to."""
    claimed = rows.claim_flagged(Comment.receipt_mail_due, batch)
    if not claimed:
        return 0
    comments = db.session.scalars(sa.select(Comment).where(Comment.id.in_(claimed)).order_by(Comment.id)
                                  .options(sa.orm.joinedload(Comment.user), sa.orm.joinedload(Comment.consultation)))
    queued = 0
    for comment in comments:
        if comment.user is not None and comment.user.email:
            queue_email(comment.user.email, "consultations/emails/comment_received", user=comment.user,
                        comment=comment, consultation=comment.consultation)
            queued += 1
    db.session.commit()
    return queued
