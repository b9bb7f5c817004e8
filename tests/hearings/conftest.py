from __future__ import annotations

import itertools
import json
from datetime import date, datetime, time, timedelta, timezone

import pytest
import time_machine

from app.accounts.models import Role
from app.hearings import lottery_runs, selection_services, services
from app.hearings.models import ApplicationState, LotteryStatus

NOW = datetime(2026, 5, 1, 2, 0, tzinfo=timezone.utc)
DRAW_TIME = time(21, 30)  # the announced source publishes its numbers at 21:30 Shanghai time on 30 June 2026
AFTER_NUMBERS = datetime(2026, 6, 30, 13, 40, tzinfo=timezone.utc)  # 21:40 in Shanghai
_n = itertools.count(1)
DISTRICTS = ["xuhui", "pudong", "jingan", "yangpu"]


@pytest.fixture
def make_meeting(db, department, staff):
    def make(*, published=True, seats=5, alternates=2, quotas=(), opens_at=None, **fields):
        opens_at = opens_at or NOW + timedelta(days=1)
        values = dict(title=fields.pop("title", "老旧小区加装电梯政策调整决策会议"), summary="讨论加装电梯补贴。",
                      starts_at=opens_at + timedelta(days=40), place="人民大道200号", seats=seats,
                      alternates=alternates, eligibility="年满18周岁，在本市居住或工作，无利益冲突。",
                      method="RFC 3797 公开可验证抽签。", opens_at=opens_at,
                      closes_at=opens_at + timedelta(days=14))
        values.update(fields)
        meeting = services.create_meeting(staff, department.id, topics=[("补贴标准", "现行补贴为每台24万元。")],
                                          quotas=list(quotas), **values)
        if published:
            meeting.publish(now=opens_at - timedelta(days=1))
        db.session.commit()
        return meeting

    return make


@pytest.fixture
def make_applicant(make_user):
    def make(i: int | None = None, **fields):
        i = next(_n) if i is None else i
        defaults = dict(district=DISTRICTS[i % 4], age_band=["18_29", "30_44", "45_59", "60_plus"][i % 4],
                        gender=["female", "male"][i % 2])
        defaults.update(fields)
        role = defaults.pop("role", Role.RESIDENT)
        return make_user(role, name=f"申请人{i}", email=f"applicant{i}-{next(_n)}@example.com", **defaults)

    return make


def apply_kwargs(**over):
    kw = dict(statement="我家住在老小区，关心加装电梯。", lives_or_works_in_city=True, has_conflict=False,
              conflict_details="", consents_to_publication=True, confirms_categories=True)
    kw.update(over)
    return kw


@pytest.fixture
def pool_meeting(db, make_meeting, make_applicant, staff):
    """A meeting with 12 eligible applicants and a frozen pool."""

    def make(n=12, quotas=({"category": "gender", "value": "female", "min": 2, "max": 3},), seats=5):
        meeting = make_meeting(quotas=quotas, seats=seats)
        apps = []
        for i in range(n):
            user = make_applicant(i)
            apps.append(services.apply(user, meeting, now=meeting.opens_at + timedelta(hours=1), **apply_kwargs()))
        for a in apps:
            services.review(staff, a, eligible=True)
        selection_services.freeze_pool(staff, meeting, now=meeting.closes_at + timedelta(hours=1))
        db.session.commit()
        assert all(a.state is ApplicationState.ELIGIBLE for a in apps)
        return meeting

    return make


@pytest.fixture(autouse=True)
def _request_context(request, app):
    """Services translate messages; outside a request Flask-Babel needs a request for the locale selector."""
    if "client" in request.fixturenames:
        yield
        return
    with app.test_request_context():
        yield


def _panels(db, staff, meeting):
    run = selection_services.request_lottery(staff, meeting)
    db.session.commit()
    # computed now, recorded as of the day the pool froze (before the announcement, as in a real selection)
    lottery_runs.execute_lottery_run(run, time_limit=120, recorded_at=meeting.closes_at + timedelta(hours=2))
    assert run.status is LotteryStatus.SUCCEEDED, run.message
    return run


def _announce(staff, meeting):
    with time_machine.travel(meeting.closes_at + timedelta(days=1)):
        return selection_services.announce_draw(staff, meeting, descriptions=["福彩3D第2026150期开奖号码"],
                                                expected_on=date(2026, 6, 30), times=[DRAW_TIME])


def _app(meeting, number):
    return next(e.application for e in meeting.pool.entries if e.number == number)


@pytest.fixture
def drawn_meeting(db, pool_meeting, staff):
    meeting = pool_meeting()
    _panels(db, staff, meeting)
    _announce(staff, meeting)
    with time_machine.travel(AFTER_NUMBERS):
        draw = selection_services.perform_draw(staff, meeting, ["7 3 9"])
    doc = json.loads(draw.content)
    at = AFTER_NUMBERS + timedelta(hours=2)
    declining = _app(meeting, doc["panel"][0])
    selection_services.respond(declining.user, declining, accept=False, now=at)
    for e in meeting.pool.entries:
        if e.application.state is ApplicationState.SELECTED:
            selection_services.respond(e.application.user, e.application, accept=True, now=at)
    db.session.commit()
    holders = sorted(e.number for e in meeting.pool.entries if e.application.state is ApplicationState.CONFIRMED)
    rest = sorted(set(e.number for e in meeting.pool.entries) - set(doc["panel"]) - set(doc["alternates"]))
    return meeting, {"holders": holders, "alternates": doc["alternates"], "declined": doc["panel"][0], "rest": rest}
