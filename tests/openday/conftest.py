"""Fixtures of the Open Month tests: an activity with sessions in August 2026, the clock in July."""
from __future__ import annotations

from datetime import date, time

import pytest
import time_machine

from app.accounts.models import Role
from app.core.timeutil import from_local
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


@pytest.fixture(autouse=True)
def _request_context(app):
    """Services raise translated messages; gettext needs the locale the request selects (zh by default)."""
    with app.test_request_context("/"):
        yield
