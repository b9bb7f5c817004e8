"""In-app notices: one row per thing a person should know about (what changed since their last visit)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Mapped, mapped_column

from app.core import rows
from app.core.timeutil import utcnow
from app.core.types import UTCDateTime
from app.extensions import db
from app.notifications.kinds import NewsKind


class Notice(db.Model):
    __tablename__ = "notice"
    __table_args__ = (sa.Index("ix_notice_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(40))  # a NewsKind value, or "change" for one's own contributions
    # What it says, rendered in the reader's language when shown: a key of MESSAGES and its values (a label is kept
    # as {"msgid": its Chinese message id}). Notices older than these columns may have message "" and only a text.
    message: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict, server_default="{}")
    text: Mapped[str] = mapped_column(sa.String(500))  # as written when created, in the person's language then
    link: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_unread(self) -> bool:
        return self.read_at is None

    @property
    def display_text(self) -> str:
        """What the notice says, in the current language (the stored text for notices without a message)."""
        if self.message in MESSAGES:
            try:
                return render_message(self.message, self.params or {})
            except (KeyError, TypeError, ValueError):
                pass
        return self.text


def news_text(kind, title: str) -> str:
    """The one-line text of a notice about news (``kind`` a NewsKind), in the current language."""
    return _("%(kind)s：%(title)s", kind=kind.label, title=title)


def _news(news: str, title: str) -> str:
    return news_text(NewsKind(news), title)


# A notice's message: its text in the current language from its values (labels already translated).
MESSAGES = {
    "news": _news,
    "comment_moderated": lambda **v: _("您的意见 %(number)s 状态更新：%(state)s", **v),
    "comment_answered": lambda **v: _("“%(title)s”的意见采纳情况反馈已发布，请查看对您意见的答复", **v),
    "application": lambda **v: _("您对“%(title)s”的列席申请状态更新：%(state)s", **v),
    "registration": lambda **v: _("您报名的活动“%(title)s”状态更新：%(state)s", **v),
    "invitation": lambda **v: _("邀请您对“%(title)s”提出意见", **v),
    "record": lambda **v: _("您列席的“%(title)s”会议记录和决定已公开", **v),
    "cancelled": lambda **v: _("您报名的活动“%(title)s”已取消", **v),
    "message_ack_overdue": lambda **v: _("督办：留言 %(number)s“%(title)s”超过签收期限未签收", **v),
    "message_due_soon": lambda **v: _("提醒：留言 %(number)s“%(title)s”即将到达答复期限", **v),
    "message_overdue": lambda **v: _("督办：留言 %(number)s“%(title)s”已超过答复期限", **v),
    "message": lambda **v: _("您的留言 %(number)s 状态更新：%(state)s", **v),
    "message_replied": lambda **v: _("您的留言 %(number)s 已答复，请查看并评价", **v),
    "problem": lambda **v: _("您的留言 %(number)s 反映的问题已作为共性问题“%(title)s”处理，请查看采取的措施", **v),
}


def storable(value) -> str | dict:
    """A value as kept in ``Notice.params``: a labelled enum member as its label's message id, anything else as text."""
    msgid = getattr(value, "msgid", None)
    return {"msgid": msgid} if isinstance(msgid, str) else str(value)


def render_message(message: str, params: dict) -> str:
    values = {k: _(v["msgid"]) if isinstance(v, dict) else v for k, v in params.items()}
    return MESSAGES[message](**values)


def change_text(what: str, **values) -> str:
    """The text of a notice about one's own contribution, in the current language."""
    return render_message(what, {k: storable(v) for k, v in values.items()})


def add_notice(user_id: int, kind: str, text: str = "", link: str = "", *, message: str = "", **params) -> Notice:
    """A notice for a person. With ``message`` (a key of MESSAGES) and its values, it is shown in the reader's
    language; ``text`` is then written from them in the current language (callers use the person's)."""
    stored = {k: storable(v) for k, v in params.items()}
    if message:
        text = render_message(message, stored)
    # One INSERT in the caller's transaction (core.rows); the detached copy returned shows the row as written.
    return rows.insert(Notice, user_id=user_id, kind=kind, message=message, params=stored, text=text[:500],
                       link=link[:500])


def recent_notices(user_id: int, limit: int = 30) -> list[Notice]:
    return list(db.session.scalars(
        sa.select(Notice).where(Notice.user_id == user_id).order_by(Notice.created_at.desc(), Notice.id.desc())
        .limit(limit)))


def mark_all_read(user_id: int, now: datetime | None = None) -> int:
    result = db.session.execute(
        sa.update(Notice).where(Notice.user_id == user_id, Notice.read_at.is_(None)).values(read_at=now or utcnow()))
    return result.rowcount
