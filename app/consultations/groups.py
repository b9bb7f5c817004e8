"""Near-duplicate comments answered together: groups proposed by the system (rules.group_similar), accepted,
split or merged by staff. Use cases: take the actor, flush, never commit."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from app.accounts.models import User
from app.consultations import rules
from app.consultations.models import Comment, CommentGroup, Consultation, ConsultationError, ModerationState
from app.core.audit import audit
from app.extensions import db


# ---------------------------------------------------------------------------------------------------------------
# Grouping near-duplicates


def propose_groups(actor: User, c: Consultation, threshold: float = rules.SIMILARITY_THRESHOLD) -> list[CommentGroup]:
    """Propose groups among published comments that are not in a group yet. Proposals wait for staff to accept."""
    rows = db.session.execute(sa.select(Comment.id, Comment.text_public).where(
        Comment.consultation_id == c.id, Comment.moderation_state == ModerationState.PUBLISHED,
        Comment.group_id.is_(None))).all()
    created = []
    for ids, similarity in rules.propose_groups([(r.id, r.text_public) for r in rows], threshold):
        first = db.session.get(Comment, ids[0])
        group = CommentGroup(consultation_id=c.id, title=first.text_public[:60], similarity=similarity)
        db.session.add(group)
        db.session.flush()
        db.session.execute(sa.update(Comment).where(Comment.id.in_(ids)).values(group_id=group.id))
        created.append(group)
    db.session.flush()
    db.session.expire_all()
    if created:
        audit(actor, "consultation.groups_proposed", c, groups=len(created))
    return created


def _own_group(c: Consultation, group: CommentGroup) -> None:
    if group.consultation_id != c.id:
        raise ConsultationError(_("该意见组不属于本次征询。"))


def accept_group(actor: User, c: Consultation, group: CommentGroup, title: str | None = None) -> None:
    _own_group(c, group)
    group.is_accepted = True
    if title:
        group.title = title.strip()[:200]
    db.session.flush()
    audit(actor, "consultation.group_accept", c, group=group.id)


def split_group(actor: User, c: Consultation, group: CommentGroup, comment_ids: list[int] | None = None) -> None:
    """Take some comments out of a group (or, without ids, dissolve it). A group left with one comment goes."""
    _own_group(c, group)
    members = list(group.comments)
    leaving = [m for m in members if comment_ids is None or m.id in comment_ids]
    for m in leaving:
        m.group = None
    if len(members) - len(leaving) < 2:
        _dissolve(group)
    db.session.flush()
    audit(actor, "consultation.group_split", c, group=group.id, comments=[m.id for m in leaving])


def _dissolve(group: CommentGroup, into: CommentGroup | None = None) -> None:
    """Move the group's comments into ``into`` (or out of any group) and delete the group."""
    for m in list(group.comments):
        m.group = into
    db.session.flush()
    db.session.delete(group)


def merge_groups(actor: User, c: Consultation, target: CommentGroup, others: list[CommentGroup]) -> None:
    _own_group(c, target)
    for other in others:
        _own_group(c, other)
        if other.id != target.id:
            _dissolve(other, into=target)
    db.session.flush()
    audit(actor, "consultation.group_merge", c, group=target.id, merged=[o.id for o in others])
