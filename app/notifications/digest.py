"""The weekly digest: one e-mail per person per week with the news they chose to receive as a digest.

The job is safe to run twice and from two processes: a DigestRun row per (person, week) is inserted in the same
transaction that marks the items sent and queues the e-mail; the unique constraint refuses a second run.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import User
from app.core.timeutil import SHANGHAI, utcnow
from app.core.types import UTCDateTime
from app.extensions import db
from app.notifications.services import queue_email
from app.notifications.tokens import unsubscribe_url

log = logging.getLogger(__name__)

# The digest goes out from Monday 08:00 Shanghai time.
SEND_WEEKDAY = 0
SEND_HOUR = 8


class DigestItem(db.Model):
    __tablename__ = "digest_item"
    __table_args__ = (sa.Index("ix_digest_item_pending", "run_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    text: Mapped[str] = mapped_column(sa.String(500))
    link: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("digest_run.id", ondelete="SET NULL"))


class DigestRun(db.Model):
    """The marker that one person's digest for one week has been queued."""

    __tablename__ = "digest_run"
    __table_args__ = (sa.UniqueConstraint("user_id", "week", name="uq_digest_run_user_week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    week: Mapped[str] = mapped_column(sa.String(10))  # ISO week in Shanghai time, "2026-W48"
    item_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def week_key(now: datetime) -> str:
    year, week, _ = now.astimezone(SHANGHAI).isocalendar()
    return f"{year}-W{week:02d}"


def send_time_reached(now: datetime) -> bool:
    local = now.astimezone(SHANGHAI)
    monday = (local - timedelta(days=local.weekday())).replace(hour=SEND_HOUR, minute=0, second=0, microsecond=0)
    return local >= monday


def send_weekly_digests(now: datetime | None = None) -> int:
    """Queue this week's digest for everyone with pending items who has not had one this week. Returns how many."""
    now = now or utcnow()
    if not send_time_reached(now):
        return 0
    week = week_key(now)
    already = sa.select(DigestRun.user_id).where(DigestRun.week == week)
    user_ids = db.session.scalars(
        sa.select(DigestItem.user_id).where(DigestItem.run_id.is_(None), DigestItem.created_at <= now,
                                            DigestItem.user_id.not_in(already))
        .group_by(DigestItem.user_id).order_by(DigestItem.user_id)).all()
    sent = 0
    for user_id in user_ids:
        user = db.session.get(User, user_id)
        items = db.session.scalars(sa.select(DigestItem).where(DigestItem.user_id == user_id,
                                                               DigestItem.run_id.is_(None),
                                                               DigestItem.created_at <= now)
                                   .order_by(DigestItem.created_at, DigestItem.id)).all()
        if not items:
            continue
        run = DigestRun(user_id=user_id, week=week, item_count=len(items))
        db.session.add(run)
        try:
            db.session.flush()
        except sa.exc.IntegrityError:  # another process sent it a moment ago
            db.session.rollback()
            continue
        for item in items:
            item.run_id = run.id
        if user is not None and user.email and user.deleted_at is None:
            queue_email(user.email, "notifications/emails/digest", user=user, items=items, week=week,
                        unsubscribe_url=unsubscribe_url(user.id))
            sent += 1
        db.session.commit()
    return sent
