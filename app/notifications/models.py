"""The mail outbox: every e-mail is a row first, written in the transaction that causes it."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from app.core.enums import LabelledEnum
from app.core.timeutil import utcnow
from app.core.types import UTCDateTime
from app.extensions import db


class OutboxState(LabelledEnum):
    PENDING = "pending", _l("等待发送"), "info"  # waiting for its next attempt
    SENDING = "sending", _l("正在发送"), "info"  # claimed by the sender; back to pending if the sender died
    SENT = "sent", _l("已发送"), "ok"
    FAILED = "failed", _l("发送失败"), "error"  # refused for good, or still not sent after OUTBOX_RETRY_HOURS
    EXPIRED = "expired", _l("已过期未发送"), "info"  # its content was out of date before it could be sent


class OutboxEmail(db.Model):
    __tablename__ = "outbox_email"
    # The sender's query: due rows in one state, oldest first.
    __table_args__ = (sa.Index("ix_outbox_email_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recipient: Mapped[str] = mapped_column(sa.String(254), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    template: Mapped[str] = mapped_column(sa.String(120))
    locale: Mapped[str] = mapped_column(sa.String(5), default="zh")
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    # A stable Message-ID, so that a retried send after a crash is recognisable as the same message.
    message_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    state: Mapped[OutboxState] = mapped_column(sa.Enum(OutboxState, native_enum=False, length=20),
                                               default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # Not sent after this instant (an offer whose deadline passed): marked expired instead of sent late.
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Temporary failures are retried until this instant (created_at + OUTBOX_RETRY_HOURS when unset; a retry by
    # an admin sets it again from then).
    give_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
