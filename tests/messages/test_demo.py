"""The demo loader: a month of messages in every handling state, one common problem, idempotent."""
import pytest
import sqlalchemy as sa

from app.core.timeutil import utcnow
from app.messages import demo
from app.messages.models import CommonProblem, ImportBatch, ExtensionDecision, Message, MessageSource, MessageState

pytestmark = pytest.mark.slow  # views and loaders, not clock-sensitive: run in the two full passes, not the clock passes


def test_demo_data_loads_once(db, load_demo):
    assert load_demo(demo)
    messages = db.session.scalars(sa.select(Message)).all()
    now = utcnow()
    assert {m.source for m in messages} == set(MessageSource)
    assert len({m.department_id for m in messages if m.department_id}) >= 4
    states = {m.state for m in messages}
    assert {MessageState.NEW, MessageState.HANDLING, MessageState.REPLIED, MessageState.UNDER_REVIEW} <= states
    assert any(m.replied_on_time for m in messages) and any(m.replied_on_time is False for m in messages)
    assert any(m.is_overdue_at(now) for m in messages)
    assert any(m.return_count and m.department_id for m in messages)
    assert any(m.extension_decision is ExtensionDecision.APPROVED for m in messages)
    assert any(m.rated_at and m.reopened_at for m in messages) and any(m.is_satisfied for m in messages)
    batch = db.session.scalar(sa.select(ImportBatch))
    assert batch.rows_imported == 1 and batch.errors[0]["line"] == 3
    problem = db.session.scalar(sa.select(CommonProblem))
    assert problem.is_confirmed and len(problem.messages) >= 2
    assert demo.load() == ""
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(Message.id))) == len(messages)
