"""This section's panel on the home page: the next published meetings."""
from __future__ import annotations

import sqlalchemy as sa

from app.core.timeutil import utcnow
from app.extensions import db
from app.hearings.models import Meeting


def panel() -> dict:
    meetings = db.session.scalars(sa.select(Meeting).where(
        Meeting.published_at.is_not(None), Meeting.starts_at >= utcnow())
        .order_by(Meeting.starts_at).limit(4)).all()
    return {"meetings": meetings}
