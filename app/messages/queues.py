"""The staff queues of messages, as bounded queries: a page costs the same with 100 or 100,000 messages.

The open queue is ordered by reply deadline (overdue and soon due first). "Waiting for a reply" is an OR (never
replied, or reopened after the reply), which no index serves in deadline order; so each part is its own query, in
index order with the page's limit, and the parts are merged: never replied (index (department_id, replied_at,
reply_due_at, id), or (replied_at, reply_due_at, id) for the office), reopened (index on reopened_at: few rows),
and, for a department, the messages it co-handles (few rows).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.accounts.models import Role, User
from app.extensions import db
from app.messages.models import CoHandler, ExtensionDecision, Message, MessageState


def _scoped(stmt, user: User, lead_only: bool = False):
    if user.role is Role.ADMIN:
        return stmt
    if lead_only:
        return stmt.where(Message.department_id == user.department_id)
    co = sa.select(CoHandler.message_id).where(CoHandler.department_id == user.department_id)
    return stmt.where(sa.or_(Message.department_id == user.department_id, Message.id.in_(co)))


def _waiting_ids(user: User, unassigned: bool, after: tuple[datetime, int] | None, limit: int) -> list[int]:
    order = (Message.reply_due_at, Message.id)

    def part(stmt):
        if after:
            stmt = stmt.where(sa.tuple_(*order) > sa.tuple_(*after))
        return stmt.order_by(*order).limit(limit).subquery().select()

    base = sa.select(Message.id, Message.reply_due_at)
    if unassigned:
        base = base.where(Message.department_id.is_(None))
    elif user.role is not Role.ADMIN:
        base = base.where(Message.department_id == user.department_id)
    parts = [part(base.where(Message.replied_at.is_(None))),
             part(base.where(Message.reopened_at.is_not(None), Message.reopened_at >= Message.replied_at))]
    if user.role is not Role.ADMIN and not unassigned:
        co = sa.select(CoHandler.message_id).where(CoHandler.department_id == user.department_id)
        parts.append(part(sa.select(Message.id, Message.reply_due_at).where(
            Message.id.in_(co), Message.department_id != user.department_id, Message.open_clause())))
    merged = sa.union_all(*parts).subquery()
    return list(db.session.scalars(sa.select(merged.c.id).order_by(merged.c.reply_due_at, merged.c.id).limit(limit)))


def _replied_ids(user: User, after: tuple[datetime, int] | None, limit: int) -> list[int]:
    """A page of replied messages, newest reply first. For a department, the messages it leads and those it
    co-handles are two queries, each in the order of an index of replied messages with the page's limit, merged:
    their OR would be read whole and sorted (58 ms a page at 100,000 messages on SQLite, against 5 ms)."""
    order = (Message.replied_at.desc(), Message.id.desc())

    def part(*where):
        stmt = sa.select(Message.id, Message.replied_at).where(Message.state_clause(MessageState.REPLIED), *where)
        if after:
            stmt = stmt.where(sa.tuple_(Message.replied_at, Message.id) < sa.tuple_(*after))
        return stmt.order_by(*order).limit(limit).subquery().select()

    if user.role is Role.ADMIN:
        parts = [part()]
    else:
        co = sa.select(CoHandler.message_id).where(CoHandler.department_id == user.department_id)
        parts = [part(Message.department_id == user.department_id), part(Message.id.in_(co))]
    merged = sa.union(*parts).subquery()  # UNION: a message of both parts once
    return list(db.session.scalars(sa.select(merged.c.id).order_by(merged.c.replied_at.desc(), merged.c.id.desc())
                                   .limit(limit)))


def queue_page(user: User, view: str, after: tuple[datetime, int] | None, limit: int) -> tuple[list[Message], str]:
    """Up to ``limit`` messages of a queue view and the attribute its keyset is ordered by."""
    if view in ("open", "unassigned"):
        ids = _waiting_ids(user, view == "unassigned", after, limit)
        rows = db.session.scalars(sa.select(Message).where(Message.id.in_(ids))
                                  .options(selectinload(Message.department))).all()
        return sorted(rows, key=lambda m: (m.reply_due_at, m.id)), "reply_due_at"
    if view == "replied":
        ids = _replied_ids(user, after, limit)
        rows = db.session.scalars(sa.select(Message).where(Message.id.in_(ids))
                                  .options(selectinload(Message.department))).all()
        return sorted(rows, key=lambda m: (m.replied_at, m.id), reverse=True), "replied_at"
    stmt = _scoped(sa.select(Message), user).options(selectinload(Message.department))
    if view == "review":
        stmt = stmt.where(Message.reply_submitted_at.is_not(None), Message.open_clause())
    else:  # extension requests waiting for the office
        stmt = stmt.where(Message.extension_decision == ExtensionDecision.PENDING)
    if after:
        stmt = stmt.where(sa.tuple_(Message.reply_due_at, Message.id) > sa.tuple_(*after))
    return list(db.session.scalars(stmt.order_by(Message.reply_due_at, Message.id).limit(limit))), "reply_due_at"
