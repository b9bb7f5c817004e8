"""Fixtures of the Open Month tests: an activity with sessions in August 2026, the clock in July."""
from __future__ import annotations

from datetime import date, time, timedelta

import pytest
import time_machine

from app.accounts.models import Role
from app.core.timeutil import from_local
from app.openday import services
from app.openday.models import Activity, ActivityMode, ActivitySession, Eligibility

JULY = from_local(date(2026, 7, 20), time(10, 0))


@pytest.fixture
def clock():
    with time_machine.travel(JULY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def make_activity(db, department):
    def make(*, dept=None, capacity=2, has_waitlist=True, day=date(2026, 8, 5), start=time(9, 0),
             end=time(11, 0), published=True, max_companions=0, eligibility=Eligibility.EVERYONE,
             mode=ActivityMode.OFFLINE, title="市政大厅开放日", **fields) -> Activity:
        activity = Activity(
            department_id=(dept or department).id, title=title, description="参观政务服务大厅。", mode=mode,
            district="xuhui", address="徐汇区漕溪北路 1 号", access_notes="地铁 1 号线徐家汇站；无障碍通道。",
            online_url="https://meeting.example/abc" if mode is not ActivityMode.OFFLINE else "",
            signup_opens_at=from_local(date(2026, 7, 1)), signup_closes_at=from_local(date(2026, 8, 31)),
            eligibility=eligibility, max_companions=max_companions, **fields)
        db.session.add(activity)
        session = ActivitySession(activity=activity, starts_at=from_local(day, start), ends_at=from_local(day, end),
                                  capacity=capacity, has_waitlist=has_waitlist)
        db.session.add(session)
        db.session.flush()
        activity.refresh_first_start()
        if published:
            activity.published_at = from_local(date(2026, 6, 30))
        db.session.commit()
        return activity

    return make


@pytest.fixture
def people(make_user):
    def make(n: int, role=Role.RESIDENT, **fields):
        return [make_user(role, name=f"居民{i}", age_band=fields.pop("age_band", "30_44"), **fields)
                for i in range(n)]

    return make


@pytest.fixture
def lapsed_offer(db, clock, make_activity, people):
    """Three people sign up for one seat; the first cancels, the second is offered the seat and 25 hours pass
    without an answer. Returns the session and the three registrations (the offer has not expired yet: the job
    does that)."""

    def make():
        session = make_activity(capacity=1).sessions[0]
        registrations = [services.sign_up(p, session) for p in people(3)]
        db.session.commit()
        services.cancel_registration(registrations[0].user, registrations[0])
        db.session.commit()
        clock.shift(timedelta(hours=25))
        return session, *registrations

    return make


@pytest.fixture
def leave_without_js(client, db):
    """``leave_without_js(reg, question, done)``: a ticket's cancel button without JavaScript asks ``question``
    first and changes nothing; confirmed, the page says ``done``."""

    def leave(reg, question: str, done: str) -> None:
        state = reg.state
        page = client.post(f"/openday/tickets/{reg.id}/cancel").get_data(as_text=True)
        assert question in page and 'name="confirmed" value="1"' in page and "返回，不做更改" in page
        db.session.refresh(reg)
        assert reg.state is state
        page = client.post(f"/openday/tickets/{reg.id}/cancel", data={"confirmed": "1"},
                           follow_redirects=True).get_data(as_text=True)
        assert done in page

    return leave


@pytest.fixture(autouse=True)
def _request_context(app):
    """Services raise translated messages; gettext needs the locale the request selects (zh by default)."""
    with app.test_request_context("/"):
        yield
