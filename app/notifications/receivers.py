"""Receivers of other modules' signals that lead to notifications (or to forgetting them)."""
from __future__ import annotations

import sqlalchemy as sa

from app import signals
from app.core.timeutil import format_local
from app.extensions import db
from app.notifications.models import OutboxEmail, OutboxState


@signals.user_deleted.connect
def forget_mail_of_deleted_user(user_id: int, **_kw) -> None:
    """A deleted account's mail (addresses, names, links) goes with it; nothing more is sent to it.

    A row a sender is handling right now is left alone; the retention job removes it later.
    """
    db.session.execute(
        sa.delete(OutboxEmail).where(OutboxEmail.user_id == user_id, OutboxEmail.state != OutboxState.SENDING)
        .execution_options(synchronize_session=False)
    )


@signals.collect_user_data.connect
def mail_sent_to_user(user, **_kw) -> dict:
    """For "download my data": the e-mails the platform wrote to this person (not their bodies' links)."""
    rows = db.session.execute(
        sa.select(OutboxEmail.created_at, OutboxEmail.sent_at, OutboxEmail.recipient, OutboxEmail.subject,
                  OutboxEmail.state)
        .where(OutboxEmail.user_id == user.id).order_by(OutboxEmail.id)
    ).all()
    return {"emails": [{"created_at": format_local(r.created_at), "sent_at": format_local(r.sent_at),
                        "recipient": r.recipient, "subject": r.subject, "state": r.state.value} for r in rows]}
