"""The demo loader: at least 8 activities of different departments, idempotent, with every kind of session."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.openday import demo
from app.openday.models import Activity, ActivityMode, ActivitySession, Rating, Registration, Vote, VotingWindow


def test_demo_data_loads_once(db, load_demo):
    assert load_demo(demo)
    activities = db.session.scalars(sa.select(Activity)).all()
    assert len(activities) >= 8
    assert len({a.department_id for a in activities}) >= 8
    assert {a.mode for a in activities} >= {ActivityMode.ONLINE, ActivityMode.OFFLINE}
    sessions = db.session.scalars(sa.select(ActivitySession)).all()
    assert any(s.waitlist_count and s.seats_left == 0 for s in sessions)
    assert any(s.rating_count for s in sessions)
    for s in sessions:  # kept counters agree with the rows
        seats = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(1 + Registration.companions), 0)).where(
            Registration.session_id == s.id, Registration.state.in_(["CONFIRMED", "CHECKED_IN", "NO_SHOW"])))
        assert seats == s.confirmed_seats
    assert db.session.scalar(sa.select(sa.func.count(VotingWindow.id))) == 1
    before = [db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Activity, Rating, Vote)]
    assert demo.load() == ""
    db.session.commit()
    assert [db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Activity, Rating, Vote)] == before


@pytest.mark.slow  # no date logic: twice in CI, not nine times
def test_demo_vote_results_are_plausible(db, load_demo):
    load_demo(demo)
    counts = sorted(db.session.scalars(sa.select(sa.func.count(Vote.id)).group_by(Vote.activity_id)), reverse=True)
    assert len(set(counts)) >= 4 and counts[0] >= 2 * counts[-1]  # favourites and a tail, not 9/9/9/9/9
