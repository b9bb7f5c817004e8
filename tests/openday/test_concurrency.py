"""Two people can never both get the last seat: 200 concurrent sign-ups at a session of 20 seats (PostgreSQL)."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.accounts.models import Role, User
from app.core.timeutil import utcnow
from app.extensions import db as _db
from app.openday import services, signup
from app.openday.models import ActivitySession, Registration, RegistrationState as RS

N, SEATS = 200, 20

pytestmark = pytest.mark.slow  # real threads racing for a lock: nothing here reads a date


def _race(app, db, make_activity, n: int, seats: int) -> int:
    """``n`` threads, each with its own app context and database session, sign up at once."""
    session_id = make_activity(capacity=seats).sessions[0].id
    now = utcnow()
    db.session.execute(sa.insert(User), [
        {"email": f"race{i}@example.com", "name": f"并发{i}", "role": Role.RESIDENT, "email_verified_at": now,
         "created_at": now, "locale": "zh", "age_band": "30_44"} for i in range(n)])
    db.session.commit()
    user_ids = db.session.scalars(sa.select(User.id).where(User.email.like("race%"))).all()
    assert len(user_ids) == n
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def worker(uid: int) -> None:
        barrier.wait()
        with app.app_context(), app.test_request_context("/"):
            try:
                user = db.session.get(User, uid)
                services.sign_up(user, db.session.get(ActivitySession, session_id))
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                db.session.rollback()
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(uid,)) for uid in user_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    db.session.expire_all()
    return session_id


def _check(db, session_id: int, n: int, seats: int) -> None:
    regs = db.session.scalars(sa.select(Registration).where(Registration.session_id == session_id)).all()
    confirmed = [r for r in regs if r.state is RS.CONFIRMED]
    waitlisted = sorted(r.waitlist_position for r in regs if r.state is RS.WAITLISTED)
    assert len(confirmed) == seats
    assert waitlisted == list(range(1, n - seats + 1))
    session = db.session.get(ActivitySession, session_id)
    assert (session.confirmed_seats, session.offered_seats, session.waitlist_count) == (seats, 0, n - seats)


def test_200_concurrent_sign_ups_for_20_seats(app, db, clock, make_activity):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (set TEST_DATABASE_URL); the SQLite variant below runs a smaller race")
    _check(db, _race(app, db, make_activity, N, SEATS), N, SEATS)
    _mail_job_runs_at_once(app, db, N, SEATS)


def _mail_job_runs_at_once(app, db, n: int, seats: int) -> None:
    """Four runs of the sign-up mail job at the same time, in small batches: every sign-up gets exactly one mail."""
    from app.notifications.models import OutboxEmail
    from app.openday import jobs

    barrier = threading.Barrier(4)
    queued: list[int] = []

    def run() -> None:
        barrier.wait()
        with app.app_context():
            while True:
                done = jobs.mail_signups(batch=15)
                queued.append(done)
                if not done:
                    break

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    mails = db.session.execute(sa.select(OutboxEmail.template, sa.func.count()).group_by(OutboxEmail.template)
                               .where(OutboxEmail.recipient.like("race%"))).all()
    assert sum(queued) == n and dict(mails) == {"openday/emails/confirmed": seats,
                                                 "openday/emails/waitlisted": n - seats}


def test_concurrent_sign_ups_on_sqlite(app, db, clock, make_activity):
    """The same code on SQLite: the write lock is taken up front, so the race is serialised, never lost."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite variant; PostgreSQL runs the 200-way test above")
    _check(db, _race(app, db, make_activity, 40, 5), 40, 5)


def _as_the_view_does(user: User, session_id: int) -> None:
    """The sign-up page's way: the session read with the person's lock taken in the same query (PostgreSQL)."""
    copy = signup.load(session_id, person_id=user.id)
    signup.sign_up(user, copy)


def _as_services_do(user: User, session_id: int) -> None:
    services.sign_up(user, _db.session.get(ActivitySession, session_id))


@pytest.mark.parametrize("sign_up", [_as_services_do, _as_the_view_does], ids=["services", "view"])
def test_one_person_racing_for_two_sessions_at_the_same_time_gets_one(app, db, clock, make_activity, make_user,
                                                                      sign_up):
    """Twenty tabs of one person sign up at once, half for one session and half for another at the same hour: the
    person's lock (taken before their registrations are read) lets exactly one through."""
    session_ids = [make_activity(title=f"同时段活动{k}", capacity=5).sessions[0].id for k in range(2)]
    uid = make_user(email="tabs@example.com", age_band="30_44").id
    barrier = threading.Barrier(20)
    refused: list[str] = []

    def worker(session_id: int) -> None:
        barrier.wait()
        with app.app_context(), app.test_request_context("/"):
            try:
                sign_up(db.session.get(User, uid), session_id)
                db.session.commit()
            except services.OpenDayError as exc:
                db.session.rollback()
                refused.append(exc.message)

    threads = [threading.Thread(target=worker, args=(session_ids[i % 2],)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    db.session.expire_all()
    regs = db.session.scalars(sa.select(Registration).where(Registration.user_id == uid)).all()
    assert [r.state for r in regs] == [RS.CONFIRMED]
    assert len(refused) == 19
    assert all("重复报名" in m or "重叠" in m for m in refused)
    confirmed = db.session.scalars(sa.select(ActivitySession.confirmed_seats)
                                   .where(ActivitySession.id.in_(session_ids))).all()
    assert sorted(confirmed) == [0, 1]
