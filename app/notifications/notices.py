"""In-app notices: one row per thing a person should know about (what changed since their last visit)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
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


def news_text(kind, title: str) -> str:
    """The one-line text of a notice about news (``kind`` a NewsKind), in the current language."""
    return _("%(kind)s：%(title)s", kind=kind.label, title=title)


def change_text(what: str, **values) -> str:
    """The text of a notice about one's own contribution, in the current language."""
    texts = {
        "comment_moderated": lambda: _("您的意见 %(number)s 状态更新：%(state)s", **values),
        "comment_answered": lambda: _("“%(title)s”的意见采纳情况反馈已发布，请查看对您意见的答复", **values),
        "application": lambda: _("您对“%(title)s”的列席申请状态更新：%(state)s", **values),
        "registration": lambda: _("您报名的活动“%(title)s”状态更新：%(state)s", **values),
        "invitation": lambda: _("邀请您对“%(title)s”提出意见", **values),
        "record": lambda: _("您列席的“%(title)s”会议记录和决定已公开", **values),
        "cancelled": lambda: _("您报名的活动“%(title)s”已取消", **values),
        "message": lambda: _("您的留言 %(number)s 状态更新：%(state)s", **values),
        "message_replied": lambda: _("您的留言 %(number)s 已答复，请查看并评价", **values),
        "problem": lambda: _("您的留言 %(number)s 反映的问题已作为共性问题“%(title)s”处理，请查看采取的措施", **values),
    }
    return texts[what]()


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
