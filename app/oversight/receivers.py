"""Oversight's reactions to other modules' events: targeted invitations when a consultation is published, what the
invited did with them, and forgetting a deleted account's visits. Only other modules' models are read."""
from __future__ import annotations

import sqlalchemy as sa

from app import signals
from app.extensions import db
from app.oversight.models import Invitation, MySpaceVisit
from app.oversight.services import invite_target_groups, mark_commented


@signals.consultation_published.connect
def on_consultation_published(consultation, **_) -> None:
    invite_target_groups(consultation)


@signals.comment_submitted.connect
def on_comment_submitted(comment, **_) -> None:
    mark_commented(comment.consultation_id, comment.user_id)


@signals.user_deleted.connect
def on_user_deleted(user_id, **_) -> None:
    db.session.execute(sa.delete(MySpaceVisit).where(MySpaceVisit.user_id == user_id))


@signals.collect_user_data.connect
def on_collect_user_data(user, **_) -> dict:
    """The person's targeted invitations, for "download my data"."""
    invitations = db.session.scalars(sa.select(Invitation).where(Invitation.user_id == user.id)
                                     .order_by(Invitation.id))
    return {"invitations": [{"consultation_id": i.consultation_id, "group": i.target_group,
                             "invited_at": i.invited_at.isoformat(),
                             "opened_at": i.opened_at.isoformat() if i.opened_at else None,
                             "commented_at": i.commented_at.isoformat() if i.commented_at else None}
                            for i in invitations]}
