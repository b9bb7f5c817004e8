"""`flask openday recount`: every kept counter checked against the rows; --fix repairs. And the guarded
transitions that keep the counters right in the first place."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.openday import services
from app.openday.models import Activity, ActivitySession, OpenDayError, RegistrationState as RS


@pytest.fixture
def busy_session(db, clock, make_activity, people):
    """One session of 2 seats: confirmed, offered, waitlisted (two) and cancelled registrations."""
    activity = make_activity(capacity=2, max_companions=1)
    session = activity.sessions[0]
    a, b, c, d, e = people(5)
    ra = services.sign_up(a, session, companions=1)
    rb = services.sign_up(b, session)
    services.sign_up(c, session)
    services.sign_up(d, session)
    services.cancel_registration(a, ra)  # 2 seats free: b is offered one, then c (d waits)
    services.sign_up(e, session)
    db.session.commit()
    services.accept_offer(b, rb)
    db.session.commit()
    return activity


def _recount(runner, *args):
    return runner.invoke(args=["openday", "recount", *args])


def test_counters_kept_by_the_services_match_the_rows(runner, busy_session, db):
    session = busy_session.sessions[0]
    assert (session.confirmed_seats, session.offered_seats, session.waitlist_count) == (1, 1, 2)
    result = _recount(runner)
    assert result.exit_code == 0, result.output
    assert "match" in result.output


def test_differences_are_reported_then_fixed(runner, busy_session, db):
    session = busy_session.sessions[0]
    s, a = ActivitySession.__table__, Activity.__table__
    db.session.execute(sa.update(s).where(s.c.id == session.id).values(confirmed_seats=s.c.confirmed_seats + 3,
                                                                        waitlist_count=0, cancelled_count=7))
    db.session.execute(sa.update(a).where(a.c.id == busy_session.id).values(rating_sum=99, no_show_count=2))
    db.session.commit()
    result = _recount(runner)
    assert result.exit_code == 1
    out = result.output
    assert f"session {session.id}: confirmed_seats is 4, the rows say 1" in out
    assert f"session {session.id}: waitlist_count is 0, the rows say 2" in out
    assert f"session {session.id}: cancelled_count is 7, the rows say 1" in out
    assert f"activity {busy_session.id}: rating_sum is 99, the rows say 0" in out
    assert f"activity {busy_session.id}: no_show_count is 2, the rows say 0" in out
    db.session.expire_all()
    assert db.session.get(ActivitySession, session.id).confirmed_seats == 4  # a report changes nothing

    result = _recount(runner, "--fix")
    assert result.exit_code == 0 and "Fixed 5 counter(s)." in result.output
    db.session.expire_all()
    fixed = db.session.get(ActivitySession, session.id)
    assert (fixed.confirmed_seats, fixed.waitlist_count, fixed.cancelled_count) == (1, 2, 1)
    assert db.session.get(Activity, busy_session.id).rating_sum == 0
    assert _recount(runner).exit_code == 0


def test_a_seat_cannot_be_taken_beyond_capacity(db, clock, make_activity, people):
    session = make_activity(capacity=1).sessions[0]
    a, b = people(2)
    services.sign_up(a, session)
    db.session.commit()
    from app.openday.models import Registration

    extra = Registration(session_id=session.id, activity_id=session.activity_id, user_id=b.id, companions=0,
                         starts_at=session.starts_at, ends_at=session.ends_at)
    with pytest.raises(OpenDayError):
        session.take_seat(extra, session.starts_at - timedelta(days=1))
    assert session.confirmed_seats == 1


def test_transitions_refuse_moves_the_state_does_not_allow(db, clock, make_activity, people):
    session = make_activity(capacity=1).sessions[0]
    a, b = people(2)
    confirmed = services.sign_up(a, session)
    waiting = services.sign_up(b, session)
    db.session.commit()
    now = session.starts_at - timedelta(days=1)
    with pytest.raises(OpenDayError):
        confirmed.offer(now, now + timedelta(hours=1))  # only the waitlisted are offered a seat
    with pytest.raises(OpenDayError):
        waiting.confirm(now)  # the waitlisted are confirmed through an offer
    with pytest.raises(OpenDayError):
        waiting.mark_no_show()
    session.release_seat(confirmed, now, "self")
    assert confirmed.state is RS.CANCELLED and session.confirmed_seats == 0 and session.cancelled_count == 1
    with pytest.raises(OpenDayError):
        session.release_seat(confirmed, now, "self")  # cancelled once only
    assert session.cancelled_count == 1
