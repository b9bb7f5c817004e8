"""The sections of my space, one query per section (never one per row), built from each module's models.

A section is a dict: {"key", "title", "rows"}; each row a dict with when, title, link, state, detail, answer,
is_new and an optional action {"url", "label"}. Rows are newest first.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from app.consultations.models import Comment, CommentGroup, Consultation
from app.core.timeutil import format_local, utcnow
from app.extensions import db
from app.hearings.models import Application, Suggestion
from app.messages.models import Message
from app.openday.models import Activity, Rating, Registration, Vote

SECTION_TITLES = {
    "comments": _l("我的意见"),
    "applications": _l("我的列席申请"),
    "registrations": _l("我的活动报名"),
    "ratings": _l("我的评价和投票"),
    "messages": _l("我的留言"),
}


def _is_new(changed_at: datetime | None, last_visit: datetime | None) -> bool:
    return changed_at is not None and last_visit is not None and changed_at > last_visit


def _latest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def comments(user, last_visit) -> list[dict]:

    stmt = (sa.select(Comment).where(Comment.user_id == user.id)
            .options(joinedload(Comment.consultation).joinedload(Consultation.report), joinedload(Comment.disposition),
                     joinedload(Comment.group).joinedload(CommentGroup.disposition))
            .order_by(Comment.created_at.desc(), Comment.id.desc()).limit(200))
    rows = []
    for comment in db.session.scalars(stmt).unique():
        consultation = comment.consultation
        answer = comment.answer if consultation.is_feedback_published else None
        answer_text = ""
        if answer is not None:
            answer_text = _("%(kind)s：%(response)s", kind=answer.kind.label, response=answer.response)
            if answer.reason:
                answer_text += " " + _("（理由：%(reason)s）", reason=answer.reason)
        rows.append({
            "when": comment.created_at,
            "title": _("%(number)s · %(title)s", number=comment.tracking_number, title=consultation.title),
            "link": f"/consultations/track/{comment.tracking_number}",
            "state": comment.moderation_state.label,
            "detail": comment.text_public[:200],
            "answer": answer_text,
            "is_new": _is_new(_latest(comment.moderated_at, answer.answered_at if answer else None,
                                      consultation.report.published_at if consultation.report else None),
                              last_visit),
        })
    return rows


def applications(user, last_visit) -> list[dict]:

    apps = db.session.scalars(sa.select(Application).where(Application.user_id == user.id)
                              .options(joinedload(Application.meeting))
                              .order_by(Application.created_at.desc(), Application.id.desc())).all()
    answers: dict[int, list[str]] = {}
    if apps:
        for s in db.session.scalars(sa.select(Suggestion).where(Suggestion.application_id.in_([a.id for a in apps]),
                                                                Suggestion.disposition.is_not(None))
                                    .order_by(Suggestion.id)):
            answers.setdefault(s.application_id, []).append(
                _("%(kind)s：%(response)s", kind=s.disposition_label, response=s.answer))
    rows = []
    for a in apps:
        detail = a.ineligible_reason or ""
        if a.alternate_rank:
            detail = _("候补第 %(rank)s 位", rank=a.alternate_rank)
        action = None
        if a.state.value == "selected" and a.respond_by is not None:
            detail = _("请在 %(when)s 前确认是否列席", when=format_local(a.respond_by))
            action = {"url": f"/hearings/{a.meeting_id}/my-application", "label": _("确认列席")}
        answer = " ".join(answers.get(a.id, []))
        if a.meeting.record_published_at is not None and a.meeting.decisions:
            answer = (answer + " " if answer else "") + _("会议决定：%(text)s", text=a.meeting.decisions[:300])
        rows.append({
            "when": a.created_at, "title": a.meeting.title, "link": f"/hearings/{a.meeting_id}",
            "state": str(a.state_label), "detail": detail, "answer": answer,
            "is_new": _is_new(_latest(a.reviewed_at, a.responded_at, a.withdrawn_at,
                                      a.meeting.record_published_at), last_visit),
            "action": action,
        })
    return rows


def registrations(user, last_visit) -> list[dict]:

    now = utcnow()
    regs = db.session.scalars(sa.select(Registration).where(Registration.user_id == user.id)
                              .options(joinedload(Registration.activity))
                              .order_by(Registration.created_at.desc(), Registration.id.desc())).all()
    rows = []
    for r in regs:
        detail, action = _("场次：%(when)s", when=format_local(r.starts_at)), None
        if r.state.value == "waitlisted" and r.waitlist_position:
            detail += " · " + _("候补第 %(rank)s 位", rank=r.waitlist_position)
        if r.state.value in ("confirmed", "checked_in"):
            detail += " · " + _("票号：%(code)s", code=r.short_code)
        if r.state.value == "offered" and r.offer_expires_at and r.offer_expires_at > now:
            detail += " · " + _("名额保留到 %(when)s", when=format_local(r.offer_expires_at))
            action = {"url": f"/openday/{r.activity_id}", "label": _("接受名额")}
        rows.append({
            "when": r.created_at, "title": r.activity.title, "link": f"/openday/{r.activity_id}",
            "state": r.state.label, "detail": detail, "answer": "",
            "is_new": _is_new(_latest(r.confirmed_at, r.offered_at, r.cancelled_at, r.checked_in_at), last_visit),
            "action": action,
        })
    return rows


def ratings(user, last_visit) -> list[dict]:

    rows = []
    for r, title in db.session.execute(sa.select(Rating, Activity.title).join(Activity, Activity.id == Rating.activity_id)
                                       .where(Rating.user_id == user.id)):
        rows.append({"when": r.created_at, "title": title, "link": f"/openday/{r.activity_id}",
                     "state": _("评价 %(stars)s 星", stars=r.stars), "detail": r.comment, "answer": "",
                     "is_new": False})
    for v, title in db.session.execute(sa.select(Vote, Activity.title).join(Activity, Activity.id == Vote.activity_id)
                                       .where(Vote.user_id == user.id)):
        rows.append({"when": v.created_at, "title": title, "link": f"/openday/{v.activity_id}",
                     "state": _("已撤回投票") if v.withdrawn_at else _("已投票"), "detail": "", "answer": "",
                     "is_new": False})
    rows.sort(key=lambda row: row["when"], reverse=True)
    return rows


def messages(user, last_visit) -> list[dict]:
    """The person's messages with their state and the latest reply (one query for the messages, one for replies)."""
    stmt = (sa.select(Message).where(Message.user_id == user.id).options(selectinload(Message.replies))
            .order_by(Message.received_at.desc(), Message.id.desc()).limit(200))
    rows = []
    for m in db.session.scalars(stmt):
        reply = m.latest_reply
        action = None
        if reply is not None and m.user_id == user.id and (m.rated_at is None or m.rated_at < m.replied_at):
            action = {"url": f"/messages/track/{m.tracking_number}#rate-title", "label": _("评价答复")}
        rows.append({
            "when": m.received_at, "title": _("%(number)s · %(title)s", number=m.tracking_number, title=m.subject),
            "link": f"/messages/track/{m.tracking_number}", "state": m.state.label, "detail": m.text_public[:200],
            "answer": reply.text[:500] if reply is not None else "",
            "is_new": _is_new(_latest(m.assigned_at, m.replied_at, m.returned_at), last_visit),
            "action": action,
        })
    return rows


BUILDERS = [("comments", comments), ("applications", applications), ("registrations", registrations),
            ("ratings", ratings), ("messages", messages)]


def sections_for(user, last_visit: datetime | None) -> list[dict]:
    return [{"key": key, "title": SECTION_TITLES[key], "rows": builder(user, last_visit)} for key, builder in BUILDERS]
