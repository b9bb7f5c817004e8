"""The rules of sign-up, waitlist, offers, check-in, rating and the vote."""
from __future__ import annotations

from datetime import date, time, timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import Role
from app.core.timeutil import from_local, utcnow
from app.notifications.models import OutboxEmail
from app.openday import jobs, services, votes
from app.openday.models import (
    CheckIn, CheckInResult, Eligibility, OpenDayError, Rating, Registration, RegistrationState as RS, Vote,
)


def regs(db, session):
    return db.session.scalars(sa.select(Registration).where(Registration.session_id == session.id)
                              .order_by(Registration.id)).all()


def notices(db):
    from app.notifications.notices import Notice
    return [(n.user_id, n.message, n.params.get("state", {}).get("msgid") if isinstance(n.params.get("state"), dict)
             else n.params.get("state")) for n in db.session.scalars(sa.select(Notice).order_by(Notice.id))]


def mails(db, template):
    return db.session.scalars(sa.select(OutboxEmail).where(OutboxEmail.template == f"openday/emails/{template}")).all()


def test_confirmed_then_waitlisted_with_positions(db, clock, make_activity, people):
    activity = make_activity(capacity=2)
    session = activity.sessions[0]
    a, b, c, d = people(4)
    states = []
    for p in (a, b, c, d):
        states.append(services.sign_up(p, session).state)
        db.session.commit()
    assert states == [RS.CONFIRMED, RS.CONFIRMED, RS.WAITLISTED, RS.WAITLISTED]
    assert [r.waitlist_position for r in regs(db, session)] == [None, None, 1, 2]
    db.session.refresh(session)
    assert (session.confirmed_seats, session.offered_seats, session.waitlist_count) == (2, 0, 2)
    # The sign-ups' mail is queued by a job (every few seconds), from the flag their own INSERT set.
    assert mails(db, "confirmed") == [] and [r.signup_mail_due for r in regs(db, session)] == [True] * 4
    assert jobs.mail_signups() == 4
    assert len(mails(db, "confirmed")) == 2 and len(mails(db, "waitlisted")) == 2
    assert {m.recipient for m in mails(db, "waitlisted")} == {c.email, d.email}
    assert jobs.mail_signups() == 0 and len(mails(db, "confirmed")) == 2  # safe to run twice
    assert [r.signup_mail_due for r in regs(db, session)] == [False] * 4
    reg = regs(db, session)[0]
    assert len(reg.ticket_code) >= 22 and len(reg.short_code) == 8


def test_signup_mail_says_what_the_registration_is_when_queued(db, clock, make_activity, people, monkeypatch):
    """Cancelled before the job: no sign-up mail (the cancellation's own notice and state say it); a waitlisted
    person offered a seat before the job gets the offer's mail, not a stale "waitlisted"; a person without an e-mail
    address has nothing due; a failed run leaves the flags for the next one."""
    activity = make_activity(capacity=1)
    session = activity.sessions[0]
    a, b, c = people(3)
    ra = services.sign_up(a, session)
    rb = services.sign_up(b, session)
    services.sign_up(c, session)
    db.session.commit()
    services.cancel_registration(a, db.session.get(Registration, ra.id))  # b is offered the seat
    db.session.commit()
    assert db.session.get(Registration, rb.id).state is RS.OFFERED and len(mails(db, "offered")) == 1

    def broken(*_a, **_k):
        raise RuntimeError("the mail template is broken")

    with monkeypatch.context() as m:  # a run that fails writes nothing and leaves the flags for the next one
        m.setattr(services, "_mail", broken)
        with pytest.raises(RuntimeError):
            jobs.mail_signups()
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).where(Registration.signup_mail_due)) == 3
    assert jobs.mail_signups() == 1  # c, still waitlisted
    assert [m.recipient for m in mails(db, "waitlisted")] == [c.email]
    assert mails(db, "confirmed") == [] and len(mails(db, "offered")) == 1

    nomail = people(1)[0]
    nomail.email = None
    db.session.commit()
    services.sign_up(nomail, session)
    db.session.commit()
    assert db.session.scalar(sa.select(Registration.signup_mail_due).where(Registration.user_id == nomail.id)) is False


def test_companions_take_seats(db, clock, make_activity, people):
    activity = make_activity(capacity=3, max_companions=2)
    session = activity.sessions[0]
    a, b = people(2)
    assert services.sign_up(a, session, companions=2).state is RS.CONFIRMED
    db.session.commit()
    assert services.sign_up(b, session, companions=1).state is RS.WAITLISTED


@pytest.mark.parametrize("case", ["twice", "before_window", "after_window", "full_no_waitlist", "cancelled",
                                  "companions", "overlap", "residents_only", "adults_only", "unverified"])
def test_bad_sign_ups_change_nothing(db, clock, make_activity, people, make_user, case):
    activity = make_activity(capacity=1, has_waitlist=(case != "full_no_waitlist"))
    session = activity.sessions[0]
    person = people(1)[0]
    kwargs = {}
    expected = ""
    if case == "twice":
        services.sign_up(person, session)
        db.session.commit()
        expected = "不能重复报名"
    elif case == "before_window":
        clock.move_to(from_local(date(2026, 6, 1)))
        expected = "报名尚未开始"
    elif case == "after_window":
        clock.move_to(from_local(date(2026, 8, 31), time(1, 0)))
        expected = "报名已截止"
    elif case == "full_no_waitlist":
        services.sign_up(people(1)[0], session)
        db.session.commit()
        expected = "该场次已满，且不设候补"
    elif case == "cancelled":
        activity.cancelled_at = utcnow()
        db.session.commit()
        expected = "该活动已取消"
    elif case == "companions":
        kwargs = {"companions": 1}
        expected = "不能携带同行人员"
    elif case == "overlap":
        other = make_activity(title="另一个活动", start=time(10, 0), end=time(12, 0))
        services.sign_up(person, other.sessions[0])
        db.session.commit()
        expected = "时间与此重叠"
    elif case == "residents_only":
        activity.eligibility = Eligibility.RESIDENTS
        db.session.commit()
        person = make_user(Role.ENTERPRISE)
        expected = "仅限居民"
    elif case == "adults_only":
        activity.eligibility = Eligibility.ADULTS
        db.session.commit()
        person = make_user(Role.RESIDENT, age_band="under_18")
        expected = "年满18周岁"
    elif case == "unverified":
        person = make_user(Role.RESIDENT, verified=False)
        expected = "验证"
    before = (len(regs(db, session)), db.session.scalar(sa.select(sa.func.count(OutboxEmail.id))))
    with pytest.raises(OpenDayError, match=expected):
        services.sign_up(person, session, **kwargs)
    db.session.rollback()
    assert (len(regs(db, session)), db.session.scalar(sa.select(sa.func.count(OutboxEmail.id)))) == before
    db.session.refresh(session)
    assert session.confirmed_seats + session.offered_seats <= session.capacity


def test_cancel_offers_seat_to_first_waitlisted_with_time_limit(db, clock, make_activity, people):
    activity = make_activity(capacity=1)
    session = activity.sessions[0]
    a, b, c = people(3)
    ra = services.sign_up(a, session)
    rb = services.sign_up(b, session)
    rc = services.sign_up(c, session)
    db.session.commit()
    assert notices(db) == []  # their own sign-ups: the page and the mail tell them, no "my space" notice
    services.cancel_registration(a, ra)
    db.session.commit()
    rb, rc = db.session.get(Registration, rb.id), db.session.get(Registration, rc.id)
    assert rb.state is RS.OFFERED and rc.state is RS.WAITLISTED
    assert (b.id, "registration", "待接受名额") in notices(db)  # the seat offered to b by a's cancellation
    assert rb.offer_expires_at == utcnow() + timedelta(hours=24)
    db.session.refresh(session)
    assert (session.confirmed_seats, session.offered_seats, session.waitlist_count) == (0, 1, 1)
    # The offered seat counts against capacity: a newcomer waits.
    newcomer = people(1)[0]
    assert services.sign_up(newcomer, session).state is RS.WAITLISTED
    db.session.commit()
    assert len(mails(db, "offered")) == 1
    services.accept_offer(b, rb)
    db.session.commit()
    db.session.refresh(session)
    assert db.session.get(Registration, rb.id).state is RS.CONFIRMED
    assert (session.confirmed_seats, session.offered_seats) == (1, 0)


def test_offer_never_runs_past_the_start(db, clock, make_activity, people):
    activity = make_activity(capacity=1, day=date(2026, 7, 21), start=time(8, 0), end=time(9, 0))
    session = activity.sessions[0]
    a, b = people(2)
    ra, rb = services.sign_up(a, session), services.sign_up(b, session)
    db.session.commit()
    services.cancel_registration(a, ra)
    db.session.commit()
    assert db.session.get(Registration, rb.id).offer_expires_at == session.starts_at


def test_expired_offer_passes_to_next_and_job_is_safe_twice(db, lapsed_offer):
    session, _, rb, rc = lapsed_offer()
    b = rb.user
    assert jobs.expire_offers() == 1
    assert jobs.expire_offers() == 0
    rb, rc = db.session.get(Registration, rb.id), db.session.get(Registration, rc.id)
    assert rb.state is RS.CANCELLED and rb.cancel_reason == "offer_expired"
    assert rc.state is RS.OFFERED
    with pytest.raises(OpenDayError, match="没有待接受的名额"):
        services.accept_offer(b, rb)
    db.session.rollback()
    db.session.refresh(session)
    assert (session.offered_seats, session.waitlist_count) == (1, 0)


def test_cannot_cancel_after_start(db, clock, make_activity, people):
    activity = make_activity()
    reg = services.sign_up(people(1)[0], activity.sessions[0])
    db.session.commit()
    clock.move_to(activity.sessions[0].starts_at + timedelta(minutes=1))
    with pytest.raises(OpenDayError, match="已开始"):
        services.cancel_registration(reg.user, reg)
    db.session.rollback()
    assert db.session.get(Registration, reg.id).state is RS.CONFIRMED


def test_sign_up_again_after_cancelling_gets_a_new_ticket(db, clock, make_activity, people):
    session = make_activity().sessions[0]
    person = people(1)[0]
    reg = services.sign_up(person, session)
    db.session.commit()
    old_code = reg.ticket_code
    services.cancel_registration(person, reg)
    db.session.commit()
    reg2 = services.sign_up(person, session)
    db.session.commit()
    assert reg2.id == reg.id and reg2.state is RS.CONFIRMED and reg2.ticket_code != old_code


def test_reminder_the_day_before_once(db, clock, make_activity, people):
    activity = make_activity()
    services.sign_up(people(1)[0], activity.sessions[0])
    db.session.commit()
    clock.move_to(from_local(date(2026, 8, 4), time(8, 0)))
    assert jobs.send_reminders() == 0
    clock.move_to(from_local(date(2026, 8, 4), time(9, 30)))
    assert jobs.send_reminders() == 1
    assert jobs.send_reminders() == 0
    assert len(mails(db, "reminder")) == 1


def test_check_in_rules(db, clock, make_activity, people, staff):
    activity = make_activity(capacity=2)
    other = make_activity(title="另一场", day=date(2026, 8, 6))
    session = activity.sessions[0]
    a, b, c = people(3)
    ra = services.sign_up(a, session)
    rb = services.sign_up(b, session)
    rc = services.sign_up(c, other.sessions[0])
    db.session.commit()
    services.cancel_registration(b, rb)
    db.session.commit()
    clock.move_to(from_local(date(2026, 8, 5), time(9, 42)))
    result, reg, msg = services.check_in(staff, session, code=ra.ticket_code, method="scan", user_agent="Phone")
    db.session.commit()
    assert result is CheckInResult.OK and "居民0" in msg
    clock.shift(timedelta(minutes=5))
    result, _, msg = services.check_in(staff, session, code=ra.short_code.lower())
    db.session.commit()
    assert result is CheckInResult.ALREADY and "09:42" in msg
    result, _, msg = services.check_in(staff, session, code=rc.ticket_code)
    assert result is CheckInResult.WRONG_SESSION and "另一场次" in msg
    result, _, msg = services.check_in(staff, session, code=rb.ticket_code)
    assert result is CheckInResult.CANCELLED and "已取消" in msg
    result, _, msg = services.check_in(staff, session, code="forged-code-123456789012")
    assert result is CheckInResult.UNKNOWN and "无效" in msg
    db.session.commit()
    db.session.refresh(session)
    assert session.checked_in_count == 1
    scans = db.session.scalars(sa.select(CheckIn).order_by(CheckIn.id)).all()
    assert [s.result for s in scans] == [CheckInResult.OK, CheckInResult.ALREADY, CheckInResult.WRONG_SESSION,
                                         CheckInResult.CANCELLED, CheckInResult.UNKNOWN]
    assert scans[0].user_agent == "Phone" and scans[0].staff_id == staff.id
    assert db.session.get(Registration, rb.id).state is RS.CANCELLED


def test_no_shows_and_stats(db, clock, make_activity, people, staff):
    activity = make_activity(capacity=3)
    session = activity.sessions[0]
    a, b = people(2)
    ra, rb = services.sign_up(a, session), services.sign_up(b, session)
    db.session.commit()
    clock.move_to(from_local(date(2026, 8, 5), time(9, 5)))
    services.check_in(staff, session, code=ra.ticket_code)
    db.session.commit()
    with pytest.raises(OpenDayError, match="结束后"):
        services.mark_no_shows(staff, session)
    db.session.rollback()
    clock.move_to(from_local(date(2026, 8, 5), time(12, 0)))
    assert services.mark_no_shows(staff, session) == 1
    db.session.commit()
    assert db.session.get(Registration, rb.id).state is RS.NO_SHOW
    services.rate(a, db.session.get(Registration, ra.id), 4, "讲解清楚")
    db.session.commit()
    db.session.refresh(session)
    db.session.refresh(activity)
    assert session.attendance_rate == 0.5 and activity.attendance_rate == 0.5
    assert session.average_rating == 4 and activity.average_rating == 4


def test_rating_rules(db, clock, make_activity, people, staff):
    session = make_activity().sessions[0]
    a = people(1)[0]
    reg = services.sign_up(a, session)
    db.session.commit()
    with pytest.raises(OpenDayError, match="签到参加"):
        services.rate(a, reg, 5)
    db.session.rollback()
    clock.move_to(session.starts_at)
    services.check_in(staff, session, code=reg.ticket_code)
    db.session.commit()
    with pytest.raises(OpenDayError, match="1 到 5"):
        services.rate(a, reg, 6)
    db.session.rollback()
    services.rate(a, reg, 5, "很好")
    db.session.commit()
    with pytest.raises(OpenDayError, match="只能评价一次"):
        services.rate(a, reg, 3)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Rating.id))) == 1


def test_cancel_activity_tells_everyone(db, clock, make_activity, people, staff):
    activity = make_activity(capacity=1)
    session = activity.sessions[0]
    for p in people(3):
        services.sign_up(p, session)
    db.session.commit()
    with pytest.raises(OpenDayError, match="取消原因"):
        services.cancel_activity(staff, activity, "")
    db.session.rollback()
    assert services.cancel_activity(staff, activity, "台风预警") == 3
    db.session.commit()
    assert {r.state for r in regs(db, session)} == {RS.CANCELLED}
    db.session.refresh(session)
    assert (session.confirmed_seats, session.offered_seats, session.waitlist_count) == (0, 0, 0)
    assert len(mails(db, "activity_cancelled")) == 3


def test_session_time_change_tells_participants_and_capacity_rise_offers(db, clock, make_activity, people, staff):
    activity = make_activity(capacity=1)
    session = activity.sessions[0]
    a, b = people(2)
    services.sign_up(a, session)
    rb = services.sign_up(b, session)
    db.session.commit()
    new_start = from_local(date(2026, 8, 5), time(14, 0))
    changed = services.update_session(staff, session, new_start, new_start + timedelta(hours=2), 2, True)
    db.session.commit()
    assert set(changed) == {"time", "capacity"}
    assert len(mails(db, "changed")) == 2
    assert db.session.get(Registration, rb.id).state is RS.OFFERED
    with pytest.raises(OpenDayError, match="不能少于"):
        services.update_session(staff, session, new_start, new_start + timedelta(hours=2), 1, True)
    db.session.rollback()


def _window(db, admin, opens, closes, live=False):
    w = votes.set_voting_window(admin, 2026, opens, closes, live)
    db.session.commit()
    return w


def test_vote_limits_withdraw_and_flag(db, clock, make_activity, people, make_user, admin):
    acts = [make_activity(title=f"活动{i}") for i in range(4)]
    voter = people(1)[0]
    window = _window(db, admin, from_local(date(2026, 7, 20), time(9, 0)), from_local(date(2026, 9, 10)))
    with pytest.raises(OpenDayError, match="投票"):
        votes.set_voting_window(admin, 2026, window.opens_at, window.closes_at, False)
    db.session.rollback()
    for a in acts[:3]:
        votes.cast_vote(voter, window, a, ip_address="1.2.3.4")
    db.session.commit()
    with pytest.raises(OpenDayError, match="投过票"):
        votes.cast_vote(voter, window, acts[0])
    db.session.rollback()
    with pytest.raises(OpenDayError, match="最多为 3"):
        votes.cast_vote(voter, window, acts[3])
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Vote.id))) == 3
    votes.withdraw_vote(voter, window, acts[0])
    votes.cast_vote(voter, window, acts[3])
    db.session.commit()
    assert [n for _, n in votes.ranking(window)] == [1, 1, 1]
    assert db.session.scalar(sa.select(sa.func.count(Vote.id))) == 4  # the withdrawn vote is kept
    # voter was created at 10:00 (the frozen clock), after the window opened at 09:00: flagged.
    assert all(v.is_flagged for v in db.session.scalars(sa.select(Vote)))


def _vote_refused(db, voter, window, activity, message: str) -> None:
    with pytest.raises(OpenDayError, match=message):
        votes.cast_vote(voter, window, activity)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Vote.id))) == 0


def test_vote_outside_window(db, clock, make_activity, people, admin):
    act = make_activity()
    voter = people(1)[0]
    window = _window(db, admin, from_local(date(2026, 8, 1)), from_local(date(2026, 9, 1)))
    _vote_refused(db, voter, window, act, "现在不能投票")
    assert not window.results_visible()


def test_vote_only_for_this_years_activities(db, clock, make_activity, people, admin):
    last_year = make_activity(title="去年的活动", day=date(2025, 8, 5))
    voter = people(1)[0]
    window = _window(db, admin, from_local(date(2026, 7, 1)), from_local(date(2026, 9, 10)))
    _vote_refused(db, voter, window, last_year, "2026 年开放月")
