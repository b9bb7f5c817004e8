"""One rule for a consultation's state, in Python (state_at) and in SQL (state_clause): they agree for every
state, at every moment."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from app.consultations.models import Consultation, ConsultationState, DocumentType, FeedbackReport

T0 = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)


def test_state_clause_agrees_with_state_at(db, department):
    day = timedelta(days=1)

    def make(title, **fields):
        c = Consultation(department_id=department.id, title=title, document_type=DocumentType.OTHER, **fields)
        db.session.add(c)
        return c

    period = dict(opens_at=T0 + 10 * day, closes_at=T0 + 40 * day)
    make("草稿")
    make("草稿（已设期限）", **period)
    make("已发布", published_at=T0, **period)
    make("已撤回", published_at=T0, withdrawn_at=T0 + 12 * day, withdraw_reason="x", **period)
    make("未发布即撤回", withdrawn_at=T0, **period)
    reported = make("已反馈", published_at=T0, **period)
    reported.report = FeedbackReport(published_at=T0 + 45 * day)
    draft_report = make("报告未发布", published_at=T0, **period)
    draft_report.report = FeedbackReport()
    db.session.commit()
    everyone = db.session.scalars(sa.select(Consultation)).all()
    seen = set()
    for now in (T0, T0 + 10 * day - timedelta(seconds=1), T0 + 10 * day, T0 + 39 * day, T0 + 40 * day,
                T0 + 44 * day, T0 + 46 * day):
        for state in ConsultationState:
            expected = {c.id for c in everyone if c.state_at(now) is state}
            got = set(db.session.scalars(sa.select(Consultation.id).where(Consultation.state_clause(state, now))))
            assert got == expected, (now, state)
            if expected:
                seen.add(state)
    assert seen == set(ConsultationState)
