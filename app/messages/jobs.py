"""Scheduled work of messages: chasing deadlines (督办). Jobs only notify: deadlines are derived from the dates and
acts, never set here. Each job is safe to run twice: it sets its flag column in the same transaction as the mail,
and takes its rows with SKIP LOCKED (PostgreSQL), so a second run (or a second scheduler) finds nothing to do.

- chase_acknowledgements: a message not acknowledged (签收) by its deadline -> the department and the office;
- remind_replies: two working days before the reply deadline -> the department;
- chase_overdue_replies: a reply past its deadline -> the department and the office.

Staff get an e-mail through the outbox and an in-app notice (notifications reacts to ``message_deadline``).
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app import signals
from app.core.timeutil import utcnow
from app.extensions import db
from app.messages import rules
from app.messages.handling import department_staff, office_staff, tell_staff
from app.messages.models import Message

# Two working days before a deadline are never more than this many calendar days before it (the longest run of
# holidays is the National Day week): the SQL pre-filter, refined in Python with rules.remind_from.
REMIND_WINDOW = timedelta(days=12)


def _locked(stmt):
    return db.session.scalars(stmt.with_for_update(skip_locked=True, of=Message)).all()


def _tell(message: Message, what: str, people: list) -> int:
    sent = tell_staff(people, message, what)
    signals.message_deadline.send(message, what=what, user_ids=[p.id for p in people])
    return sent


def chase_acknowledgements() -> int:
    now = utcnow()
    due = _locked(sa.select(Message).where(
        Message.department_id.is_not(None), Message.acknowledged_at.is_(None), Message.ack_due_at <= now,
        Message.ack_overdue_notified_at.is_(None), Message.open_clause()))
    sent = 0
    for message in due:
        message.ack_overdue_notified_at = now
        sent += _tell(message, "ack_overdue", department_staff(message.department_id) + office_staff())
    db.session.commit()
    return sent


def remind_replies() -> int:
    now = utcnow()
    candidates = _locked(sa.select(Message).where(
        Message.department_id.is_not(None), Message.reply_reminded_at.is_(None), Message.reply_due_at > now,
        Message.reply_due_at <= now + REMIND_WINDOW, Message.open_clause(), Message.reply_submitted_at.is_(None)))
    sent = 0
    for message in candidates:
        if rules.remind_from(message.reply_due_at) > now:
            continue
        message.reply_reminded_at = now
        sent += _tell(message, "due_soon", department_staff(message.department_id))
    db.session.commit()
    return sent


def chase_overdue_replies() -> int:
    now = utcnow()
    overdue = _locked(sa.select(Message).where(
        Message.reply_due_at <= now, Message.reply_overdue_notified_at.is_(None), Message.open_clause()))
    sent = 0
    for message in overdue:
        message.reply_overdue_notified_at = now
        message.reply_reminded_at = message.reply_reminded_at or now
        sent += _tell(message, "overdue", department_staff(message.department_id) + office_staff())
    db.session.commit()
    return sent
