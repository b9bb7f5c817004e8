"""Receivers of accounts' signals for messages: a deleted account's messages lose the writer's name and contact
details (the message text stays with its department, which must answer it), and "download my data" lists the
person's messages with their replies."""
from __future__ import annotations

import sqlalchemy as sa

from app import signals
from app.core.timeutil import format_local
from app.extensions import db
from app.messages.models import Message


@signals.user_deleted.connect
def forget_writer(user_id: int, **_kw) -> None:
    db.session.execute(sa.update(Message).where(Message.user_id == user_id).values(
        writer_name="", writer_email="", writer_phone="", public_name="**"))


@signals.collect_user_data.connect
def collect_messages(user, **_kw) -> dict:
    messages = db.session.scalars(sa.select(Message).where(Message.user_id == user.id).order_by(Message.id))
    return {"messages": [{
        "tracking_number": m.tracking_number, "received_at": format_local(m.received_at), "subject": m.subject,
        "text": m.text_original, "district": m.district, "allow_publish": m.allow_publish,
        "state": m.state.value, "replies": [{"text": r.text, "released_at": format_local(r.released_at)}
                                            for r in m.replies if r.released_at is not None],
        "resolution": m.resolution.value if m.resolution else None, "satisfied": m.is_satisfied,
    } for m in messages]}
