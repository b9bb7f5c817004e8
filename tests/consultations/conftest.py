"""Fixtures of the consultations tests: a consultation factory and a way to add comments quickly."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from app.consultations import services
from app.consultations.models import Consultation, DocumentType

DRAFT = """上海市公共数据开放管理办法（征求意见稿）

第一章 总则
第一条 为了促进和规范本市公共数据开放，制定本办法。
第二条 本办法适用于本市行政区域内公共数据的开放及其相关管理活动。
第二章 开放目录
第三条 市大数据中心负责编制公共数据开放目录。
第四条 公共数据开放目录应当每年更新一次。
第三章 附则
第五条 本办法自2027年1月1日起施行。
"""

# Opening and closing times used by most tests: a 30-day period in June 2026 (Shanghai time).
OPENS = datetime(2026, 6, 1, 0, 0, tzinfo=timezone(timedelta(hours=8)))
CLOSES = datetime(2026, 7, 1, 0, 0, tzinfo=timezone(timedelta(hours=8)))
DURING = datetime(2026, 6, 10, 4, 0, tzinfo=timezone.utc)
AFTER = datetime(2026, 7, 2, 4, 0, tzinfo=timezone.utc)


def data(**overrides) -> services.ConsultationData:
    values = dict(title="公共数据开放管理办法", summary="征求意见", document_type=DocumentType.GOVERNMENT_RULE,
                  concerns_enterprises=False, draft_text=DRAFT, interpretation="起草说明：……", contact="021-12345678",
                  opens_at=OPENS, closes_at=CLOSES, target_groups=["enterprises"], tag_ids=[])
    values.update(overrides)
    return services.ConsultationData(**values)


@pytest.fixture
def make_consultation(db, staff, department):
    def make(*, publish: bool = True, **overrides) -> Consultation:
        import time_machine

        with time_machine.travel(datetime(2026, 5, 20, tzinfo=timezone.utc), tick=False):
            c = services.create_consultation(staff, department.id, data(**overrides))
            if publish:
                services.publish(staff, c)
        db.session.commit()
        return c

    return make


@pytest.fixture
def add_comment(db):
    def add(user, c, text="建议增加开放数据的更新频率说明。", **kw):
        comment, _ = services.submit_comment(user, c, text=text, idempotency_key=uuid.uuid4().hex, **kw)
        db.session.commit()
        return comment

    return add


@pytest.fixture
def ctx(app):
    """A request context for service tests (translated messages need a locale)."""
    with app.test_request_context("/"):
        yield
