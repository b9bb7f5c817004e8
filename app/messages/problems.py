"""Common problems (共性问题): many messages behind one problem, solved at the source (源头治理, 解决一件、带动一片).

The system proposes groups with the shared grouping code (core.grouping, also used by consultations' comment
groups) over a chosen period, narrowed by department, district or tag; staff confirm a group as a common problem
and record the action taken at the source; every writer in it is told what was done. Use cases: take the actor,
flush, never commit."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from app import signals
from app.accounts.models import Tag, User
from app.core import grouping
from app.core.audit import audit
from app.core.inputs import MAX_DATE, MIN_DATE
from app.core.timeutil import from_local, utcnow
from app.extensions import db
from app.messages.models import ActionKind, CommonProblem, EventKind, Message, MessageError
from app.messages.services import record
from app.notifications.services import queue_email

NEAR_DUPLICATE = grouping.SIMILARITY_THRESHOLD  # 0.6: the same text, lightly edited
TOPIC = 0.3  # the same topic in different words
MAX_MESSAGES = 20_000  # one proposal run reads at most this many messages (grouping is linear beyond 2,000)


def _period_filter(stmt, start: date, end: date, department_id: int | None, district: str | None,
                   tag_id: int | None):
    stmt = stmt.where(Message.received_at >= from_local(start), Message.received_at < from_local(end + timedelta(1)))
    if department_id:
        stmt = stmt.where(Message.department_id == department_id)
    if district:
        stmt = stmt.where(Message.district == district)
    if tag_id:
        stmt = stmt.where(Message.tags.any(Tag.id == tag_id))
    return stmt


def propose(actor: User, *, start: date, end: date, department_id: int | None = None, district: str | None = None,
            tag_id: int | None = None, threshold: float = NEAR_DUPLICATE) -> list[CommonProblem]:
    """Propose common problems among the period's messages that are in none yet. Proposals wait for staff."""
    for field, day in (("start", start), ("end", end)):
        if not MIN_DATE <= day <= MAX_DATE:
            raise MessageError(_("日期应在%(first)s至%(last)s之间。", first=MIN_DATE.isoformat(),
                                 last=MAX_DATE.isoformat()), field=field)
    if end < start:
        raise MessageError(_("结束日期不能早于开始日期。"), field="end")
    rows = db.session.execute(_period_filter(
        sa.select(Message.id, Message.subject, Message.text_public, Message.department_id)
        .where(Message.problem_id.is_(None)), start, end, department_id, district, tag_id)
        .order_by(Message.id).limit(MAX_MESSAGES)).all()
    by_id = {r.id: r for r in rows}
    created = []
    for ids, similarity in grouping.propose_groups([(r.id, f"{r.subject} {r.text_public}") for r in rows],
                                                   threshold):
        first = by_id[ids[0]]
        depts = {by_id[i].department_id for i in ids if by_id[i].department_id}
        problem = CommonProblem(title=first.subject[:200], similarity=similarity,
                                department_id=depts.pop() if len(depts) == 1 else department_id)
        db.session.add(problem)
        db.session.flush()
        db.session.execute(sa.update(Message).where(Message.id.in_(ids)).values(problem_id=problem.id))
        created.append(problem)
    db.session.flush()
    db.session.expire_all()
    if created:
        audit(actor, "message.problems_proposed", None, object_type="CommonProblem", count=len(created),
              start=start.isoformat(), end=end.isoformat())
    return created


def create_problem(actor: User, message_ids: list[int], *, title: str, department_id: int | None = None
                   ) -> CommonProblem:
    """Group chosen messages by hand."""
    messages = list(db.session.scalars(sa.select(Message).where(Message.id.in_(message_ids))))
    if len(messages) < 2:
        raise MessageError(_("共性问题至少包括两件留言。"))
    problem = CommonProblem(title=(title or messages[0].subject).strip()[:200], department_id=department_id,
                            similarity=0.0)
    db.session.add(problem)
    for m in messages:
        m.problem = problem
    db.session.flush()
    audit(actor, "message.problem_create", problem, messages=[m.id for m in messages])
    return problem


def confirm(actor: User, problem: CommonProblem, *, title: str, action_kind: ActionKind, action_text: str,
            action_link: str = "") -> None:
    """Confirm a common problem with the action taken at the source; every writer in it is told."""
    if problem.is_confirmed:
        raise MessageError(_("该共性问题已确认。"))
    if not (title or "").strip():
        raise MessageError(_("请填写共性问题的名称。"), field="title")
    if not (action_text or "").strip():
        raise MessageError(_("请说明采取的措施。"), field="action_text")
    link = (action_link or "").strip()
    if link and not (link.startswith("/") or link.startswith("https://") or link.startswith("http://")):
        raise MessageError(_("链接应以 / 或 https:// 开头。"), field="action_link")
    now = utcnow()
    problem.title, problem.action_kind, problem.action_text = title.strip()[:200], action_kind, action_text.strip()
    problem.action_link, problem.confirmed_at, problem.confirmed_by_id = link, now, actor.id
    for message in problem.messages:
        record(message, EventKind.PROBLEM, actor, note=problem.title, at=now)
        address = message.user.email if message.user is not None else message.writer_email
        if address:
            queue_email(address, "messages/emails/problem_action", user=message.user, message=message,
                        problem=problem)
    db.session.flush()
    audit(actor, "message.problem_confirm", problem, action_kind=action_kind.value, messages=len(problem.messages))
    signals.problem_confirmed.send(problem, actor=actor)


def remove_message(actor: User, problem: CommonProblem, message: Message) -> None:
    """Take one message out of a proposal (a confirmed problem keeps its members)."""
    if problem.is_confirmed:
        raise MessageError(_("已确认的共性问题不能再调整。"))
    if message.problem_id != problem.id:
        raise MessageError(_("该留言不在这个共性问题中。"))
    message.problem = None
    db.session.flush()
    if len(problem.messages) < 2:
        dissolve(actor, problem)
        return
    audit(actor, "message.problem_remove", problem, message=message.id)


def dissolve(actor: User, problem: CommonProblem) -> None:
    if problem.is_confirmed:
        raise MessageError(_("已确认的共性问题不能再调整。"))
    for m in list(problem.messages):
        m.problem = None
    db.session.flush()
    audit(actor, "message.problem_dissolve", problem)
    db.session.delete(problem)
    db.session.flush()
