"""This section's panel on the home page: open consultations and the latest feedback reports."""
from __future__ import annotations

import sqlalchemy as sa

from app.consultations.models import Consultation, FeedbackReport
from app.core.timeutil import utcnow
from app.extensions import db


def panel():
    now = utcnow()
    open_ = db.session.scalars(sa.select(Consultation).where(
        Consultation.published_at.is_not(None), Consultation.withdrawn_at.is_(None), Consultation.opens_at <= now,
        Consultation.closes_at > now).order_by(Consultation.closes_at).limit(5)).all()
    feedback = db.session.scalars(sa.select(Consultation).join(FeedbackReport).where(
        FeedbackReport.published_at.is_not(None), Consultation.withdrawn_at.is_(None))
        .order_by(FeedbackReport.published_at.desc()).limit(3)).all()
    return {"open": open_, "feedback": feedback}
