"""What a reader sees in November: sessions that are over show as over (with their rating), the calendar opens on
the next month with sessions open for sign-up; and tickets are checked in only on the session's day."""
from __future__ import annotations

from datetime import date, time

from app.core.timeutil import from_local
from app.openday import services
from app.openday.models import CheckInResult, RegistrationState as RS

NOVEMBER = from_local(date(2026, 11, 20), time(10, 0))


def test_past_sessions_show_as_past_and_the_calendar_opens_on_the_next_open_month(client, clock, make_activity):
    past = make_activity(title="去年八月的开放日", capacity=80)  # 5 August 2026
    past.sessions[0].rating_count, past.sessions[0].rating_sum = 2, 9
    coming = make_activity(title="明年八月的开放日", day=date(2027, 8, 18), capacity=30)
    coming.signup_opens_at, coming.signup_closes_at = from_local(date(2026, 11, 1)), from_local(date(2027, 8, 1))
    later = make_activity(title="报名未开始的开放日", day=date(2027, 6, 3))  # earlier session, sign-up not open yet
    later.signup_opens_at, later.signup_closes_at = from_local(date(2027, 5, 1)), from_local(date(2027, 6, 1))
    from app.extensions import db

    db.session.commit()
    clock.move_to(NOVEMBER)
    page = client.get("/openday/").get_data(as_text=True)
    past_card = page.split("去年八月的开放日")[1].split("报名未开始的开放日")[0]  # the next card
    assert "已结束" in past_card and "评分 4.5 / 5（2 条评价）" in past_card and "名额" not in past_card
    assert "余 30 个名额" in page and "余 80 个名额" not in page
    assert "2027-05-01 00:00 开始报名" in page
    assert "已结束" in client.get(f"/openday/{past.id}").get_data(as_text=True)
    calendar = client.get("/openday/?view=calendar").get_data(as_text=True)
    assert "2027年8月" in calendar and "明年八月的开放日" in calendar


def test_check_in_only_on_the_session_day(app, clock, make_activity, staff, people, db, monkeypatch):
    session = make_activity(capacity=3).sessions[0]  # 5 August 2026, 09:00-11:00
    reg = services.sign_up(people(1)[0], session)
    db.session.commit()
    clock.move_to(from_local(date(2026, 8, 4), time(9, 0)))  # the day before
    result, _, message = services.check_in(staff, session, code=reg.ticket_code)
    assert result is CheckInResult.NOT_TODAY and "2026-08-05" in message and "07:00" in message
    clock.move_to(from_local(date(2026, 8, 5), time(6, 59)))  # the door opens 120 minutes before the start
    assert services.check_in(staff, session, code=reg.ticket_code)[0] is CheckInResult.NOT_TODAY
    assert reg.state is RS.CONFIRMED
    clock.move_to(from_local(date(2026, 8, 5), time(7, 0)))
    assert services.check_in(staff, session, code=reg.short_code)[0] is CheckInResult.OK
    monkeypatch.setitem(app.config, "OPENDAY_CHECK_IN_OPENS_MINUTES", 30)
    late = make_activity(capacity=3).sessions[0]
    reg2 = services.sign_up(people(1)[0], late)
    db.session.commit()
    clock.move_to(from_local(date(2026, 8, 5), time(8, 29)))
    assert services.check_in(staff, late, code=reg2.ticket_code)[0] is CheckInResult.NOT_TODAY
    clock.move_to(from_local(date(2026, 8, 5), time(23, 59)))  # late arrivals, the same evening
    assert services.check_in(staff, late, code=reg2.ticket_code)[0] is CheckInResult.OK
