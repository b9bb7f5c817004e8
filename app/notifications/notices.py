"""In-app notices: one row per thing a person should know about (what changed since their last visit)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import utcnow
from app.core.types import UTCDateTime
from app.extensions import db


class Notice(db.Model):
    __tablename__ = "notice"
    __table_args__ = (sa.Index("ix_notice_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(40))  # a NewsKind value, or "change" for one's own contributions
    text: Mapped[str] = mapped_column(sa.String(500))  # rendered in the person's language when created
    link: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_unread(self) -> bool:
        return self.read_at is None


def add_notice(user_id: int, kind: str, text: str, link: str = "") -> Notice:
    notice = Notice(user_id=user_id, kind=kind, text=text[:500], link=link[:500])
    db.session.add(notice)
    return notice


def recent_notices(user_id: int, limit: int = 30) -> list[Notice]:
    return list(db.session.scalars(
        sa.select(Notice).where(Notice.user_id == user_id).order_by(Notice.created_at.desc(), Notice.id.desc())
        .limit(limit)))


def mark_all_read(user_id: int, now: datetime | None = None) -> int:
    result = db.session.execute(
        sa.update(Notice).where(Notice.user_id == user_id, Notice.read_at.is_(None)).values(read_at=now or utcnow()))
    return result.rowcount
