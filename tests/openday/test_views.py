"""Pages: catalogue, sign-up, ticket, check-in, staff pages, exports and the vote."""
from __future__ import annotations

import io
import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import time_machine

from app.accounts.models import Role
from app.core.timeutil import from_local
from app.openday import services
from app.openday.models import (
    Activity, ActivitySession, CheckIn, Rating, Registration, RegistrationState as RS, Vote, VotingWindow,
)


def count(db, model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_catalogue_list_calendar_and_filters(client, clock, make_activity, make_department, make_user):
    make_activity(title="市政大厅开放日")
    other_dept = make_department(name="市生态环境局")
    make_activity(title="环境监测站参观", dept=other_dept, day=date(2026, 8, 12))
    make_activity(title="草稿活动", published=False)
    page = client.get("/openday/").get_data(as_text=True)
    assert "市政大厅开放日" in page and "环境监测站参观" in page and "草稿活动" not in page
    page = client.get(f"/openday/?department={other_dept.id}").get_data(as_text=True)
    assert "环境监测站参观" in page and "市政大厅开放日" not in page
    page = client.get("/openday/?date=2026-08-12").get_data(as_text=True)
    assert "环境监测站参观" in page and "市政大厅开放日" not in page
    page = client.get("/openday/?mode=online").get_data(as_text=True)
    assert "没有符合条件的活动" in page
    page = client.get("/openday/?view=calendar").get_data(as_text=True)
    assert "2026年8月" in page and "环境监测站参观" in page
    assert client.get("/openday/?view=calendar&month=bad&date=nope&department=x").status_code == 200


def test_activity_page_shows_seats_and_hides_online_link(client, clock, make_activity):
    from app.openday.models import ActivityMode

    activity = make_activity(capacity=5, mode=ActivityMode.BOTH)
    page = client.get(f"/openday/{activity.id}").get_data(as_text=True)
    assert "剩余 5" in page and "meeting.example" not in page and "登录后报名" in page
    draft = make_activity(published=False)
    assert client.get(f"/openday/{draft.id}").status_code == 404


def test_sign_up_ticket_qr_ics_and_cancel(client, auth, clock, make_activity, resident, db, leave_without_js):
    activity = make_activity(capacity=1)
    session = activity.sessions[0]
    auth.login(resident)
    resp = client.post(f"/openday/sessions/{session.id}/sign-up", follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "报名成功" in page and "电子票" in page
    reg = db.session.scalar(sa.select(Registration))
    assert reg.short_code in page
    qr = client.get(f"/openday/tickets/{reg.id}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and b"<svg" in qr.data
    ics = client.get(f"/openday/tickets/{reg.id}/ticket.ics")
    assert ics.mimetype == "text/calendar" and b"BEGIN:VEVENT" in ics.data and b"DTSTART" in ics.data
    # Twice: a clear message, nothing written.
    page = client.post(f"/openday/sessions/{session.id}/sign-up", follow_redirects=True).get_data(as_text=True)
    assert "不能重复报名" in page and count(db, Registration) == 1
    # Without JavaScript, cancelling asks first (a page with the question) and changes nothing yet.
    assert reg.state is RS.CONFIRMED
    leave_without_js(reg, "确定要取消报名吗", "已取消报名")
    assert client.get(f"/openday/tickets/{reg.id}/qr.svg").status_code == 404


def test_the_ticket_page_says_how_the_sign_up_went_without_rewriting_the_session_cookie(client, auth, clock,
                                                                                      make_activity, make_user, db):
    activity = make_activity(capacity=1)
    session = activity.sessions[0]
    first, second = make_user(), make_user()
    auth.login(first)
    resp = client.post(f"/openday/sessions/{session.id}/sign-up")
    assert resp.status_code == 302 and "set-cookie" not in {k.lower() for k in resp.headers.keys()}
    assert "报名成功" in client.get(resp.headers["Location"]).get_data(as_text=True)
    auth.logout()
    auth.login(second)
    page = client.post(f"/openday/sessions/{session.id}/sign-up", follow_redirects=True).get_data(as_text=True)
    assert "名额已满，您已加入候补名单，序号 1。" in page and "报名成功" not in page
    reg = db.session.scalar(sa.select(Registration).where(Registration.user_id == second.id))
    # Opened again later, the page shows the state without the sign-up's message; a cancelled one never shows it.
    assert "名额已满" not in client.get(f"/openday/tickets/{reg.id}").get_data(as_text=True)
    services.cancel_registration(second, reg)
    db.session.commit()
    page = client.get(f"/openday/tickets/{reg.id}?signed_up=1").get_data(as_text=True)
    assert "名额已满" not in page and "报名成功" not in page and "flashes" not in page


def test_signing_up_for_a_draft_activitys_session_is_a_404_and_writes_nothing(client, auth, clock, make_activity,
                                                                             resident, db):
    """The sign-up reads the session and activity as copies (signup.load): a draft's sessions stay hidden there too."""
    sid = make_activity(published=False).sessions[0].id
    auth.login(resident)
    assert client.post(f"/openday/sessions/{sid}/sign-up").status_code == 404
    assert client.post(f"/openday/sessions/{sid + 1000}/sign-up").status_code == 404
    assert count(db, Registration) == 0


def test_sign_up_needs_the_pages_csrf_token(app, client, auth, clock, make_activity, resident, db):
    """The sign-up form has no csrf field of its own (CSRFProtect checks every POST first): a POST without the
    token, or with a forged one, is refused and writes nothing; the token the page gives is accepted."""
    sid = make_activity(capacity=5).sessions[0].id
    auth.login(resident)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        refused = [client.post(f"/openday/sessions/{sid}/sign-up", data=data)
                   for data in ({}, {f"s{sid}-csrf_token": "forged"})]
        assert [r.status_code for r in refused] == [400, 400]
        assert count(db, Registration) == 0
        page = client.get(f"/openday/{db.session.get(ActivitySession, sid).activity_id}")
        token = re.search(r'name="s%d-csrf_token"[^>]*value="([^"]+)"' % sid, page.get_data(as_text=True)).group(1)
        accepted = client.post(f"/openday/sessions/{sid}/sign-up", data={f"s{sid}-csrf_token": token})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert accepted.status_code == 302 and "/openday/tickets/" in accepted.headers["Location"]
    assert count(db, Registration) == 1


def test_sign_up_too_many_companions_message(client, auth, clock, make_activity, resident, db):
    activity = make_activity(max_companions=1)
    auth.login(resident)
    sid = activity.sessions[0].id
    page = client.post(f"/openday/sessions/{sid}/sign-up", data={f"s{sid}-companions": "2"},
                       follow_redirects=True).get_data(as_text=True)
    assert "最多可携带 1 名同行人员" in page and count(db, Registration) == 0


def test_sign_up_cancelled_activity_message(client, auth, clock, make_activity, resident, db):
    from app.core.timeutil import utcnow

    activity = make_activity()
    activity.cancelled_at = utcnow()
    db.session.commit()
    auth.login(resident)
    page = client.post(f"/openday/sessions/{activity.sessions[0].id}/sign-up",
                       follow_redirects=True).get_data(as_text=True)
    assert "该活动已取消" in page and count(db, Registration) == 0


def test_others_cannot_see_my_ticket(client, auth, clock, make_activity, resident, make_user, db):
    reg = services.sign_up(resident, make_activity().sessions[0])
    db.session.commit()
    auth.login(make_user())
    assert client.get(f"/openday/tickets/{reg.id}").status_code == 404
    assert client.get(f"/openday/tickets/{reg.id}/qr.svg").status_code == 404


def test_offer_accept_via_page(client, auth, clock, make_activity, people, db):
    session = make_activity(capacity=1).sessions[0]
    a, b = people(2)
    ra, rb = services.sign_up(a, session), services.sign_up(b, session)
    db.session.commit()
    services.cancel_registration(a, ra)
    db.session.commit()
    auth.login(b)
    page = client.get(f"/openday/tickets/{rb.id}").get_data(as_text=True)
    assert "有名额留给您" in page
    page = client.post(f"/openday/tickets/{rb.id}/accept", follow_redirects=True).get_data(as_text=True)
    assert "您已接受名额" in page and db.session.get(Registration, rb.id).state is RS.CONFIRMED


def test_check_in_page_flow(client, auth, clock, make_activity, staff, people, db):
    activity = make_activity(capacity=3)
    session = activity.sessions[0]
    a = people(1)[0]
    reg = services.sign_up(a, session)
    db.session.commit()
    clock.move_to(from_local(date(2026, 8, 5), time(9, 42)))
    auth.login(staff)  # signed in on the day: a session idle for days has ended (SESSION_IDLE_HOURS)
    url = f"/manage/openday/sessions/{session.id}/check-in"
    assert client.get(url).status_code == 200
    page = client.post(url, data={"code": reg.short_code}, headers={"User-Agent": "Mobile Safari"},
                       follow_redirects=True).get_data(as_text=True)
    assert "签到成功" in page
    res = client.post(url, data={"code": reg.ticket_code, "method": "scan"}, headers={"Accept": "application/json"})
    assert res.json["result"] == "already" and "09:42" in res.json["message"]
    page = client.post(url, data={"code": "AAAAAAAA"}, follow_redirects=True).get_data(as_text=True)
    assert "无效的票码" in page
    page = client.post(url, data={"code": ""}).get_data(as_text=True)
    assert "请输入票码或短码" in page
    assert count(db, CheckIn) == 3
    assert db.session.scalar(sa.select(CheckIn).order_by(CheckIn.id)).user_agent == "Mobile Safari"
    page = client.get(url + "?q=居民").get_data(as_text=True)
    assert "居民0" in page


def test_staff_of_other_department_gets_404(client, auth, clock, make_activity, make_department, make_user):
    activity = make_activity()
    outsider = make_user(Role.STAFF, department=make_department())
    auth.login(outsider)
    assert client.get(f"/manage/openday/{activity.id}").status_code == 404
    assert client.get(f"/manage/openday/sessions/{activity.sessions[0].id}/check-in").status_code == 404
    assert client.get(f"/manage/openday/sessions/{activity.sessions[0].id}/participants.csv").status_code == 404


def test_resident_cannot_open_staff_pages(client, auth, resident):
    auth.login(resident)
    assert client.get("/manage/openday/").status_code == 403


def test_staff_create_add_session_publish_edit(client, auth, clock, staff, db):
    auth.login(staff)
    data = {"title": "水厂开放日", "description": "参观自来水厂。", "mode": "offline", "district": "pudong",
            "address": "浦东新区某路 1 号", "access_notes": "地铁 2 号线", "signup_opens_at": "2026-07-01T09:00",
            "signup_closes_at": "2026-08-20T18:00", "eligibility": "everyone", "max_companions": "1"}
    resp = client.post("/manage/openday/new", data=data)
    assert resp.status_code == 302
    activity = db.session.scalar(sa.select(Activity))
    assert activity.department_id == staff.department_id and activity.published_at is None
    page = client.post(f"/manage/openday/{activity.id}/publish", data={"confirmed": "1"},
                       follow_redirects=True).get_data(as_text=True)
    assert "请先添加至少一个场次" in page
    resp = client.post(f"/manage/openday/{activity.id}/sessions",
                       data={"day": "2026-08-10", "start": "10:00", "end": "09:00", "capacity": "2"})
    assert resp.status_code == 422 and "结束时间必须晚于开始时间" in resp.get_data(as_text=True)
    assert count(db, ActivitySession) == 0
    client.post(f"/manage/openday/{activity.id}/sessions",
                data={"day": "2026-08-10", "start": "10:00", "end": "11:30", "capacity": "2", "has_waitlist": "y"})
    assert count(db, ActivitySession) == 1
    page = client.post(f"/manage/openday/{activity.id}/publish", data={"confirmed": "1"},
                       follow_redirects=True).get_data(as_text=True)
    assert "活动已发布" in page
    bad = dict(data, address="", signup_closes_at="2026-06-01T09:00")
    resp = client.post(f"/manage/openday/{activity.id}/edit", data=bad)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "线下活动请填写地址" in body and "报名截止时间必须晚于报名开始时间" in body
    db.session.refresh(activity)
    assert activity.address == "浦东新区某路 1 号"


def test_staff_image_upload_checked_by_content(client, auth, clock, staff, db):
    auth.login(staff)
    data = {"title": "图片测试", "description": "x", "mode": "online", "online_url": "https://m.example/x",
            "signup_opens_at": "2026-07-01T09:00", "signup_closes_at": "2026-08-20T18:00",
            "eligibility": "everyone", "max_companions": "0",
            "image": (io.BytesIO(b"not really a png"), "photo.png")}
    resp = client.post("/manage/openday/new", data=data, content_type="multipart/form-data")
    assert resp.status_code == 422 and "JPG 或 PNG" in resp.get_data(as_text=True)
    assert count(db, Activity) == 0


def test_participants_export_and_message(client, auth, clock, make_activity, staff, people, db):
    from app.notifications.models import OutboxEmail

    session = make_activity(capacity=1).sessions[0]
    a, b = people(2)
    a.name = "=HYPERLINK(1)"
    db.session.commit()
    services.sign_up(a, session), services.sign_up(b, session)
    db.session.commit()
    auth.login(staff)
    page = client.get(f"/manage/openday/sessions/{session.id}/participants").get_data(as_text=True)
    assert b.email in page and "候补中" in page
    csv_text = client.get(f"/manage/openday/sessions/{session.id}/participants.csv").get_data(as_text=True)
    assert "电子邮箱" in csv_text and b.email in csv_text and "'=HYPERLINK(1)" in csv_text
    xlsx = client.get(f"/manage/openday/sessions/{session.id}/participants.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    before = count(db, OutboxEmail)
    resp = client.post(f"/manage/openday/sessions/{session.id}/message",
                       data={"recipients": ["waitlisted"], "subject": "", "body": "x"})
    assert resp.status_code == 422 and "请填写标题" in resp.get_data(as_text=True)
    assert count(db, OutboxEmail) == before
    client.post(f"/manage/openday/sessions/{session.id}/message",
                data={"recipients": ["waitlisted"], "subject": "停车提示", "body": "请乘坐地铁。"})
    assert count(db, OutboxEmail) == before + 1


def test_rating_page_once_and_only_after_check_in(client, auth, clock, make_activity, resident, staff, db):
    session = make_activity().sessions[0]
    reg = services.sign_up(resident, session)
    db.session.commit()
    auth.login(resident)
    page = client.post(f"/openday/tickets/{reg.id}/rate", data={"stars": "5"}).get_data(as_text=True)
    assert "只有签到参加了活动的人才能评价" in page and count(db, Rating) == 0
    clock.move_to(session.starts_at)
    services.check_in(staff, session, code=reg.ticket_code)
    db.session.commit()
    auth.login(resident)  # days later: the first sign-in's session has ended (SESSION_IDLE_HOURS)
    page = client.post(f"/openday/tickets/{reg.id}/rate", data={"stars": "4", "comment": "很好"},
                       follow_redirects=True).get_data(as_text=True)
    assert "感谢您的评价" in page
    page = client.post(f"/openday/tickets/{reg.id}/rate", data={"stars": "2"}).get_data(as_text=True)
    assert "只能评价一次" in page and count(db, Rating) == 1


def test_vote_pages(client, auth, clock, make_activity, admin, people, db):
    acts = [make_activity(title=f"活动{i}") for i in range(4)]
    auth.login(admin)
    resp = client.post("/manage/openday/vote", data={"year": "2026", "opens_at": "2026-07-01T09:00",
                                                     "closes_at": "2026-06-01T09:00"})
    assert resp.status_code == 422 and "投票截止时间必须晚于开始时间" in resp.get_data(as_text=True)
    assert count(db, VotingWindow) == 0
    client.post("/manage/openday/vote", data={"year": "2026", "opens_at": "2026-07-01T09:00",
                                              "closes_at": "2026-09-10T18:00"})
    assert count(db, VotingWindow) == 1
    auth.logout()
    voter = people(1)[0]
    auth.login(voter)
    for a in acts[:3]:
        client.post(f"/openday/vote/{a.id}")
    page = client.post(f"/openday/vote/{acts[3].id}", follow_redirects=True).get_data(as_text=True)
    assert "最多为 3 个活动投票" in page and count(db, Vote) == 3
    assert "结果将在投票结束后公布" in page
    page = client.post(f"/openday/vote/{acts[0].id}", data={"action": "withdraw"},
                       follow_redirects=True).get_data(as_text=True)
    assert "已收回" in page
    clock.move_to(from_local(date(2026, 9, 11)))
    auth.login(voter)  # the sign-in of July has expired by September
    page = client.get("/openday/vote").get_data(as_text=True)
    assert "投票结果" in page and "1 票" in page
    page = client.post(f"/openday/vote/{acts[3].id}", follow_redirects=True).get_data(as_text=True)
    assert "现在不能投票" in page and count(db, Vote) == 3
    auth.logout()
    auth.login(admin)
    page = client.get("/manage/openday/vote").get_data(as_text=True)
    assert voter.email in page and "投票开始后注册" in page


def test_vote_form_proposes_the_year_of_shanghai(client, auth, admin):
    """New Year's Day has begun in Shanghai while the server's clock (here New York's, 31 December) and UTC
    still show the old year: the form proposes the Shanghai year."""
    with time_machine.travel(datetime(2026, 12, 31, 11, 0, 30, tzinfo=ZoneInfo("America/New_York"))):
        auth.login(admin)
        page = client.get("/manage/openday/vote").get_data(as_text=True)
    assert re.search(r'name="year"[^>]*value="2027"', page), re.search(r'<input[^>]*name="year"[^>]*>', page)


def test_home_panel(client, clock, make_activity):
    make_activity(title="首页可见的活动")
    assert "首页可见的活动" in client.get("/").get_data(as_text=True)


def test_english_pages_and_confirmation_mail(client, auth, clock, make_activity, make_user, db):
    from app.notifications.models import OutboxEmail

    activity = make_activity()
    page = client.get("/openday/?lang=en").get_data(as_text=True)
    assert "Open Month" in page and "places left" in page
    person = make_user(locale="en", age_band="30_44")
    auth.login(person)
    client.post(f"/openday/sessions/{activity.sessions[0].id}/sign-up")
    from app.openday.jobs import mail_signups
    assert mail_signups() == 1  # queued by the job, seconds after the sign-up
    mail = db.session.scalar(sa.select(OutboxEmail).where(OutboxEmail.recipient == person.email))
    reg = db.session.scalar(sa.select(Registration))
    assert mail.subject.startswith("You are signed up") and f"/openday/tickets/{reg.id}" in mail.body_text
    assert reg.short_code in mail.body_text


def test_catalogue_pages_by_cursor(client, clock, make_activity):
    for i in range(25):
        make_activity(title=f"分页活动{i:02d}", day=date(2026, 8, 1 + i))
    first = client.get("/openday/").get_data(as_text=True)
    assert "分页活动00" in first and "分页活动19" in first and "分页活动20" not in first
    import re

    next_link = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(next_link).get_data(as_text=True)
    assert "分页活动20" in second and "分页活动24" in second and "分页活动19" not in second


def test_one_account_cannot_flood_the_vote(app, resident):
    """The vote route is rate limited per account (30 an hour) and per address (60 an hour); TestingConfig turns
    the limiter off, so this test builds an app with it on, on the same database."""
    from app import create_app
    from app.extensions import limiter
    from config import TestingConfig
    from tests.conftest import PASSWORD

    limited = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                          "UPLOAD_DIR": app.config["UPLOAD_DIR"], "RATELIMIT_ENABLED": True},
                         config_class=TestingConfig)
    try:
        client = limited.test_client()
        client.post("/accounts/login", data={"email": resident.email, "password": PASSWORD})
        codes = [client.post("/openday/vote/999999").status_code for _ in range(31)]
        assert 429 not in codes[:30]
        assert codes[30] == 429
        # Another account from another address is not affected.
        other = limited.test_client()
        assert other.post("/openday/vote/999999", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code != 429
    finally:
        limiter.enabled = False
        with limited.app_context():
            from app.extensions import db

            db.session.remove()
