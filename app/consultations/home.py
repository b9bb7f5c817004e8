"""This section's panel on the home page: open consultations and the latest feedback reports."""
from __future__ import annotations

import sqlalchemy as sa

from app.consultations.models import Consultation, ConsultationState, FeedbackReport
from app.core.timeutil import utcnow
from app.extensions import db


def panel() -> dict:
    now = utcnow()
    open_ = db.session.scalars(sa.select(Consultation).where(Consultation.state_clause(ConsultationState.OPEN, now))
                               .order_by(Consultation.closes_at).limit(5)).all()
    feedback = db.session.scalars(sa.select(Consultation).join(FeedbackReport).where(
        Consultation.state_clause(ConsultationState.FEEDBACK_PUBLISHED, now))
        .order_by(FeedbackReport.published_at.desc()).limit(3)).all()
    return {"open": open_, "feedback": feedback}
