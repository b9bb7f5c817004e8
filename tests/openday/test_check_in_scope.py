"""Check-in is scoped to its session: another department's registration ids and codes name nobody (issue 10)."""
from __future__ import annotations

from datetime import date, time

import sqlalchemy as sa

from app.accounts.models import Role
from app.core.timeutil import from_local
from app.openday import services
from app.openday.models import CheckIn, CheckInResult, Registration, RegistrationState as RS


def test_other_departments_registration_is_refused_like_a_forged_code(
        client, auth, clock, db, make_activity, make_department, make_user, staff, people):
    own = make_activity(capacity=3)
    foreign = make_activity(dept=make_department(), title="外局保密活动", capacity=3)
    visitor = make_user(Role.RESIDENT, name="隐私甲")
    foreign_reg = services.sign_up(visitor, foreign.sessions[0])
    db.session.commit()
    clock.move_to(from_local(date(2026, 8, 5), time(9, 30)))
    auth.login(staff)
    url = f"/manage/openday/sessions/{own.sessions[0].id}/check-in"
    for data in ({"registration_id": foreign_reg.id}, {"code": foreign_reg.ticket_code},
                 {"code": foreign_reg.short_code}, {"registration_id": foreign_reg.id + 1000}):
        res = client.post(url, data=data, headers={"Accept": "application/json"})
        assert res.status_code == 200 and res.json["result"] == "unknown", data
        assert "外局保密活动" not in res.json["message"] and "隐私甲" not in res.json["message"]
    page = client.get(url).get_data(as_text=True)
    assert "隐私甲" not in page and "外局保密活动" not in page
    assert db.session.get(Registration, foreign_reg.id).state is RS.CONFIRMED
    assert db.session.scalars(sa.select(CheckIn.registration_id)).all() == [None] * 4


def test_own_departments_other_session_keeps_its_helpful_message_but_no_name(
        client, auth, clock, db, make_activity, staff, make_user):
    a = make_activity(capacity=3)
    b = make_activity(title="另一场", day=date(2026, 8, 6), capacity=3)
    reg = services.sign_up(make_user(Role.RESIDENT, name="乙某"), b.sessions[0])
    db.session.commit()
    clock.move_to(from_local(date(2026, 8, 5), time(9, 30)))
    auth.login(staff)
    url = f"/manage/openday/sessions/{a.sessions[0].id}/check-in"
    res = client.post(url, data={"code": reg.ticket_code}, headers={"Accept": "application/json"})
    assert res.json["result"] == "wrong_session" and "另一场次" in res.json["message"]
    res = client.post(url, data={"registration_id": reg.id}, headers={"Accept": "application/json"})
    assert res.json["result"] == "unknown"
    assert "乙某" not in client.get(url).get_data(as_text=True)
    assert db.session.scalar(sa.select(CheckIn.result).order_by(CheckIn.id)) is CheckInResult.WRONG_SESSION
