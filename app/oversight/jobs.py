"""Scheduled work of this module. Safe to run twice: news is announced once per (kind, key) (NewsEvent)."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.core.timeutil import format_local, utcnow
from app.extensions import db

CLOSING_SOON = timedelta(days=3)


def announce_closing_soon() -> int:
    """Tell subscribers about consultations that close within three days. Returns how many were announced."""
    from app.consultations.models import Consultation, ConsultationState
    from app.notifications.subscriptions import NewsEvent, NewsKind, notify_news
    from app.oversight.receivers import _department_district

    now = utcnow()
    announced = sa.select(NewsEvent.key).where(NewsEvent.kind == NewsKind.CLOSING_SOON)
    due = db.session.scalars(
        sa.select(Consultation).where(Consultation.state_clause(ConsultationState.OPEN, now),
                                      Consultation.closes_at <= now + CLOSING_SOON,
                                      (sa.literal("closing:") + sa.cast(Consultation.id, sa.String)).not_in(announced))
        .order_by(Consultation.closes_at)).all()
    count = 0
    for c in due:
        notify_news(NewsKind.CLOSING_SOON, f"closing:{c.id}", title=c.title, link=f"/consultations/{c.id}",
                    department_id=c.department_id, tag_ids=[t.id for t in c.tags],
                    districts=_department_district(c.department_id), when=format_local(c.closes_at))
        db.session.commit()
        count += 1
    return count


def send_invitations() -> int:
    """Mail the targeted invitations recorded when consultations were published, a batch per transaction."""
    from app.oversight.services import send_invitations as send_batch

    total = 0
    while True:
        sent = send_batch()
        db.session.commit()
        total += sent
        if not sent:
            return total
