"""Factories for consultations built directly from the consultations module's models (read-only use)."""
from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from app.core.timeutil import utcnow

_n = itertools.count(1)


@pytest.fixture
def make_consultation(db, department):
    from app.consultations.models import Article, Consultation, DocumentType

    def make(dept=None, *, title="停车管理办法（征求意见稿）", tags=(), target_groups=(), named="", days=30,
             published=True):
        now = utcnow()
        c = Consultation(department_id=(dept or department).id, title=title, document_type=DocumentType.OTHER,
                         target_groups=list(target_groups), target_group_other=named,
                         opens_at=now - timedelta(hours=1), closes_at=now + timedelta(days=days),
                         published_at=now if published else None)
        c.tags = list(tags)
        c.articles = [Article(position=1, label="第一条", body="为了规范停车管理，制定本办法。")]
        db.session.add(c)
        db.session.flush()
        return c

    return make


@pytest.fixture
def make_comment(db):
    from app.consultations.models import Comment, CommenterType, ModerationState

    def make(consultation, user, *, text="建议增加夜间停车位。", state=ModerationState.PENDING):
        n = next(_n)
        comment = Comment(consultation_id=consultation.id, user_id=user.id if user else None,
                          tracking_number=f"C2026-{n:06d}", idempotency_key=f"k{n}", text_original=text,
                          text_public=text, commenter_type=CommenterType.RESIDENT,
                          public_name=user.masked_name if user else "**", moderation_state=state,
                          published_at=utcnow() if state is ModerationState.PUBLISHED else None)
        db.session.add(comment)
        db.session.flush()
        return comment

    return make
