"""commit_then_flush: the view's transaction and the durable one go out as one query; what the session sees after it."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import Department
from app.core.hotcommit import commit_then_flush


@pytest.fixture
def postgres(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the one-query commit is PostgreSQL's (set TEST_DATABASE_URL); SQLite commits plainly")
    return db


def _departments_seen_elsewhere(db) -> list[str]:
    """Read from a connection of its own: what is committed, not what this session holds."""
    with db.engine.connect() as other:
        return other.execute(sa.select(Department.code).order_by(Department.code)).scalars().all()


def test_the_work_is_committed_and_the_session_goes_on(postgres):
    db = postgres
    db.session.add(Department(code="hot1", name="热提交一局", name_en="Hot commit one"))
    db.session.execute(sa.insert(Department), {"code": "hot2", "name": "热提交二局", "name_en": "Hot commit two"})
    committed = []

    def after_commit(_session) -> None:
        committed.append(True)

    sa.event.listen(db.session(), "after_commit", after_commit)
    try:
        commit_then_flush()
    finally:
        sa.event.remove(db.session(), "after_commit", after_commit)
    assert committed == [True]  # the session's own commit ran, with its hooks (core.storage keeps new files then)
    assert not db.session().in_transaction()
    assert _departments_seen_elsewhere(db) == ["hot1", "hot2"]
    # The connection is idle, not in a transaction the driver lost track of: the next work commits normally.
    db.session.add(Department(code="hot3", name="热提交三局", name_en="Hot commit three"))
    db.session.commit()
    assert _departments_seen_elsewhere(db) == ["hot1", "hot2", "hot3"]


def test_the_durable_transaction_runs_with_synchronous_commit_on(postgres):
    """``SET LOCAL`` ends with the view's transaction: the tiny transaction after it (and the next request's) waits
    for the disk again."""
    db = postgres
    db.session.add(Department(code="hot4", name="热提交四局", name_en="Hot commit four"))
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "pg_current_xact_id" in statement:
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        commit_then_flush()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert seen == ["SET LOCAL synchronous_commit = off; COMMIT; SELECT pg_current_xact_id()"]
    assert db.session.scalar(sa.text("SHOW synchronous_commit")) == "on"
    assert _departments_seen_elsewhere(db) == ["hot4"]


def test_a_failing_commit_writes_nothing_and_the_session_recovers(postgres):
    """A unique key broken by the flush before the one-query commit: an error, nothing written, and after the
    rollback the session works again."""
    db = postgres
    db.session.add(Department(code="hot5", name="热提交五局", name_en="Hot commit five"))
    db.session.commit()
    db.session.add(Department(code="hot5", name="重复", name_en="Duplicate"))
    with pytest.raises(sa.exc.IntegrityError):
        commit_then_flush()
    db.session.rollback()
    assert _departments_seen_elsewhere(db) == ["hot5"]
    db.session.add(Department(code="hot6", name="热提交六局", name_en="Hot commit six"))
    commit_then_flush()
    assert _departments_seen_elsewhere(db) == ["hot5", "hot6"]
