"""Oversight's own records: invitations sent to target groups, and when each person last looked at my space."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.core.timeutil import utcnow
from app.core.types import UTCDateTime
from app.extensions import db


class MySpaceVisit(db.Model):
    """The last time a person opened my space: what changed after it is marked new."""

    __tablename__ = "my_space_visit"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True)
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invitation(db.Model):
    """One targeted invitation to comment on a consultation, and what the invited person did with it."""

    __tablename__ = "invitation"
    __table_args__ = (
        sa.UniqueConstraint("consultation_id", "user_id", name="uq_invitation_consultation_user"),
        sa.Index("ix_invitation_consultation_group", "consultation_id", "target_group"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    target_group: Mapped[str] = mapped_column(sa.String(80))  # "enterprises", "associations", "grassroots", "named:<x>"
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the invitation's e-mail and notice were written (by the send_invitations job).
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    commented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
