"""This section's panel on the home page: the next activities and the vote."""
from __future__ import annotations

import sqlalchemy as sa

from app.core.timeutil import utcnow
from app.extensions import db
from app.openday.models import Activity, ActivityState
from app.openday.votes import current_window


def panel() -> dict | None:
    upcoming = db.session.scalars(
        sa.select(Activity).where(Activity.state_clause(ActivityState.PUBLISHED), Activity.first_starts_at >= utcnow())
        .options(sa.orm.joinedload(Activity.department)).order_by(Activity.first_starts_at).limit(5)).all()
    window = current_window()
    if not upcoming and window is None:
        return None
    return {"upcoming": upcoming, "window": window}
