"""core.rows.run: a prebuilt Core statement executed on the driver's cursor gives what session.execute gives (types
converted both ways, on SQLite and PostgreSQL), in the same transaction; driver errors come out as SQLAlchemy's; an
IN list is left to SQLAlchemy. The signed-in user's loader built on it gives the same account as the ORM query."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.accounts import sessions
from app.accounts.models import Role, User, UserSession
from app.core import rows
from app.notifications.notices import Notice

N = Notice.__table__
INSERT = sa.insert(N).returning(N.c.id, N.c.created_at, N.c.params)
BY_USER = (sa.select(N.c.id, N.c.kind, N.c.params, N.c.created_at).where(N.c.user_id == sa.bindparam("uid"))
           .order_by(N.c.id))
U = User.__table__
ROLE_IN = sa.select(U.c.id).where(U.c.role.in_([Role.STAFF, Role.ADMIN])).order_by(U.c.id)


def test_the_same_rows_as_session_execute_with_types_converted(db, make_user):
    person = make_user()
    when = datetime(2026, 8, 3, 9, 30, tzinfo=timezone.utc)
    made = rows.run(INSERT, rows.with_defaults(N, {"user_id": person.id, "kind": "change", "message": "",
                                                   "params": {"title": "标题", "n": 2}, "text": "t", "link": "/me",
                                                   "created_at": when}))
    assert len(made) == 1 and made[0].created_at == when and made[0].params == {"title": "标题", "n": 2}
    fast = rows.run(BY_USER, {"uid": person.id})
    slow = db.session.execute(BY_USER, {"uid": person.id}).all()
    expected = [(made[0].id, "change", {"title": "标题", "n": 2}, when)]
    assert [tuple(r) for r in fast] == [tuple(r) for r in slow] == expected
    assert fast[0].created_at.tzinfo is not None and fast[0].kind == "change"  # named fields, UTC-aware times
    db.session.rollback()  # the same transaction as the session's: the insert goes with it
    assert rows.run(BY_USER, {"uid": person.id}) == []


def test_driver_errors_are_sqlalchemys_and_the_session_recovers(db, make_user):
    person = make_user()
    with pytest.raises(sa.exc.IntegrityError):  # no such user (foreign keys are on for SQLite too)
        rows.run(INSERT, rows.with_defaults(N, {"user_id": person.id + 1000, "kind": "k", "message": "", "params": {},
                                                "text": "t", "link": ""}))
    db.session.rollback()
    assert db.session.get(User, person.id).email == person.email


def test_an_in_list_is_left_to_sqlalchemy(db, make_user, department):
    staff = make_user(Role.STAFF, department=department)
    make_user()
    assert [r.id for r in rows.run(ROLE_IN, {})] == [staff.id]


def test_the_user_loader_gives_the_account_attached_and_current(app, db, make_user):
    person = make_user(name="李四", locale="en")
    with app.test_request_context("/"):
        row = sessions.start(person)
        token = person.session_token
        db.session.commit()
        cookie_id, row_id = f"{person.id}.{person.session_fingerprint}.{token}", row.id
        db.session.expunge_all()  # a new request's session holds nothing: the rows are read as columns
        loaded = sessions.load(cookie_id)
        assert loaded is not None and (loaded.id, loaded.name, loaded.locale) == (person.id, "李四", "en")
        assert loaded in db.session and not sa.inspect(loaded).expired_attributes
        assert loaded.department is None  # relationships load as usual
        loaded.name = "王五"  # a change is saved like any loaded object's
        db.session.commit()
        assert db.session.scalar(sa.select(User.name).where(User.id == person.id)) == "王五"
        # The session row is a copy until a page needs it as an object: then it is one, and changes to it are saved.
        this = sessions.current()
        assert this is not None and this in db.session and this.id == row_id
        sessions.end_current()
        db.session.commit()
        assert db.session.scalar(sa.select(UserSession.ended_at).where(UserSession.id == row_id)) is not None
        db.session.expunge_all()
        assert sessions.load(cookie_id) is None  # ended: nobody
        db.session.execute(sa.update(UserSession).where(UserSession.id == row_id).values(ended_at=None))
        db.session.commit()
        # Ended or expired: nobody.
        db.session.execute(sa.update(UserSession).where(UserSession.id == row_id)
                           .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
        db.session.commit()
        db.session.expunge_all()
        assert sessions.load(cookie_id) is None


def test_statements_are_seen_by_whoever_counts_them(db, make_user):
    """A test or a benchmark counting queries with SQLAlchemy's events sees the statements run through rows.run."""
    uid = make_user().id
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert rows.run(BY_USER, {"uid": uid}) == []
        rows.run_plain("SELECT 1")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert len(seen) == 2 and "FROM notice" in seen[0] and seen[1] == "SELECT 1"
    assert rows.run(BY_USER, {"uid": uid}) == [] and len(seen) == 2  # nobody listening: not through them


def test_the_user_loader_while_statements_are_watched(app, db, make_user):
    """With a listener on the engine's statements, the loader's column query goes through SQLAlchemy (an ORM result,
    for mapped tables) and gives the same account."""
    person = make_user(name="赵六")
    with app.test_request_context("/"):
        sessions.start(person)
        cookie_id = f"{person.id}.{person.session_fingerprint}.{person.session_token}"
        db.session.commit()
        db.session.expunge_all()
        seen = []

        def record(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            loaded = sessions.load(cookie_id)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
        assert loaded is not None and loaded.name == "赵六" and len(seen) == 1
