"""The hearings journey in Chromium: staff announce a decision meeting with quotas; a resident applies; staff
review, freeze the pool, compute the lottery (the job), announce the random sources, enter them and draw; a selected
observer accepts; after the meeting the observer makes a suggestion, staff answer it with a follow-up and publish
the record; the public page shows the masked observer and the answer. Every page is checked with axe-core.

Time passes by moving the meeting's own timestamps in the database (the live server runs on the real clock)."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.e2e.conftest import logout

pytestmark = pytest.mark.e2e

STAFF = "hr.staff@example.com"
APPLICANT = "hr.applicant@example.com"
OTHERS = [f"hr.p{i}@example.com" for i in range(7)]
TITLE = "社区停车资源共享方案决策会议"


def _meeting(db):
    from app.hearings.models import Meeting

    return db.session.scalar(sa.select(Meeting).where(Meeting.title == TITLE))


def test_hearings_journey(page, open_as, live_server, check_a11y, login, screenshot, outbox):
    from app.accounts.models import Role
    from app.core.timeutil import local, utcnow

    dept = live_server.create_department("hr-e2e", "市交通委", "Transport Commission")
    live_server.create_user(STAFF, "钱工", role=Role.STAFF, department_id=dept)
    live_server.create_user(APPLICANT, "林晓", district="xuhui", age_band="30_44", gender="female")
    for i, email in enumerate(OTHERS):
        live_server.create_user(email, f"居民{i}", district=["xuhui", "pudong"][i % 2],
                                age_band=["18_29", "45_59", "60_plus"][i % 3], gender=["male", "female"][i % 2])
    now = local(utcnow())
    fmt = "%Y-%m-%dT%H:%M"

    # 1. Announcement: staff create the meeting with a quota and publish it before the window opens.
    open_as(page, STAFF, "/manage/hearings/new", "hearings/manage-new")
    page.fill("input[name=title]", TITLE)
    page.fill("textarea[name=topics]", "错时共享停车\n拟开放机关和学校停车场夜间供周边居民停车。")
    page.fill("input[name=starts_at]", (now + timedelta(days=30)).strftime(fmt))
    page.fill("input[name=place]", "市交通委第二会议室")
    # the quota rows come pre-filled from population shares; this meeting keeps only a gender quota
    page.locator("#quotas input").evaluate_all("els => els.forEach(e => { e.value = ''; })")
    page.get_by_label("女：最少").fill("2")
    page.get_by_label("女：最多").fill("3")
    page.get_by_label("女：理由").fill("男女大致各半")
    page.fill("input[name=opens_at]", (now + timedelta(hours=2)).strftime(fmt))
    page.fill("input[name=closes_at]", (now + timedelta(days=10)).strftime(fmt))
    page.get_by_role("button", name="保存").click()
    expect(page.locator("h1")).to_have_text(TITLE)
    page.once("dialog", lambda dialog: dialog.accept())  # public and final: the button asks first
    page.get_by_role("button", name="公告会议").click()
    expect(page.locator(".flash-success")).to_contain_text("会议已公告")
    check_a11y(page)

    with live_server.session() as db:  # the window opens
        meeting = _meeting(db)
        meeting_id = meeting.id
        meeting.opens_at = utcnow() - timedelta(minutes=1)
        db.session.commit()

    # 2. Application: the resident sees who may apply and how selection works, and applies.
    logout(page)
    login(page, APPLICANT)
    page.goto("/hearings/")
    page.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("heading", name="如何遴选")).to_be_visible()
    check_a11y(page)
    page.get_by_role("button", name="提交报名").click()  # empty: messages next to the fields
    expect(page.locator("#statement-error")).to_contain_text("请填写报名理由")
    page.fill("textarea[name=statement]", "我家小区夜间停车很难，希望共享方案能惠及老小区。")
    page.check("input[name=confirms_categories]")
    page.check("input[name=lives_or_works_in_city]")
    page.check("input[name=consents_to_publication]")
    page.get_by_role("button", name="提交报名").click()
    expect(page.locator(".status-line")).to_contain_text("已提交")
    check_a11y(page)
    screenshot(page, "hearings/my-application")

    from app.hearings import jobs, services
    from app.hearings.models import Application, ApplicationState

    with live_server.session() as db:  # others apply; the window closes
        from app.accounts.models import User

        meeting = _meeting(db)
        for email in OTHERS:
            user = db.session.scalar(sa.select(User).where(User.email == email))
            services.apply(user, meeting, statement="关心停车问题。", lives_or_works_in_city=True, has_conflict=False,
                           conflict_details="", consents_to_publication=True, confirms_categories=True)
        meeting.closes_at = utcnow() - timedelta(minutes=1)
        db.session.commit()

    # 3. Review: staff mark everyone eligible through the page; the applicant is told by e-mail.
    logout(page)
    open_as(page, STAFF, f"/manage/hearings/{meeting_id}")
    page.get_by_role("link", name="审查申请").click()
    check_a11y(page)
    page.get_by_role("button", name="保存，并把本页其余待审查的申请标为符合条件").click()
    expect(page.locator(".flash-success")).to_contain_text(f"已保存 {len(OTHERS) + 1} 份审查结果")
    assert "符合条件" in outbox(APPLICANT)
    page.goto(f"/manage/hearings/{meeting_id}")

    # 4. Lottery: freeze the pool, start the computation, the job runs it.
    page.get_by_role("button", name="冻结候选池").click()
    expect(page.locator(".flash-success")).to_contain_text("候选池已冻结")
    page.get_by_role("button", name="开始计算").click()
    expect(page.locator(".lottery-status")).to_contain_text("排队中")
    with live_server.session():
        assert jobs.run_queued_lotteries() == 1
    page.goto(f"/manage/hearings/{meeting_id}#lottery")
    expect(page.locator("#lottery")).to_contain_text(re.compile(r"已完成：1\d{3}个方案"))

    # 5. Draw: announce the future numbers, then enter them (a wrong form first).
    in_two_days = local(now + timedelta(days=2)).date().isoformat()
    page.fill("textarea[name=announce-descriptions]", "中国体育彩票“排列5”下一期开奖号码")
    page.fill("input[name=announce-expected_on]", in_two_days)
    page.fill("input[name=announce-times]", "21:30")
    page.get_by_role("button", name="公布随机数来源").click()
    expect(page.locator(".flash-success")).to_contain_text("随机数来源已公布")
    with live_server.session() as db:  # the numbers come out
        meeting = _meeting(db)
        meeting.draw.numbers_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    page.goto(f"/manage/hearings/{meeting_id}#draw")
    page.fill("input[name=draw-source_0]", "4 0 九 2 6")
    page.get_by_role("button", name="抽签").click()
    expect(page.locator("#draw-source_0-error")).to_contain_text("格式不对")
    check_a11y(page)
    page.fill("input[name=draw-source_0]", "4 0 9 2 6")
    page.get_by_role("button", name="抽签").click()
    expect(page.locator(".flash-success")).to_contain_text("抽签完成")
    screenshot(page, "hearings/manage-after-draw")

    page.goto(f"/hearings/{meeting_id}/selection")
    expect(page.locator("#sel-draw")).to_be_visible()
    expect(page.locator("main")).to_contain_text("0.2.4.6.9./")
    check_a11y(page)
    screenshot(page, "hearings/selection")
    with live_server.session() as db:
        meeting = _meeting(db)
        draw = json.loads(meeting.draw.content)
        chosen = db.session.scalars(sa.select(Application).where(
            Application.meeting_id == meeting.id, Application.state == ApplicationState.SELECTED)).all()
        observer_email = chosen[0].user.email
        assert sorted(a.pool_entry.number for a in chosen) == draw["panel"]

    # 6. Acceptance: a selected person accepts on their own page.
    logout(page)
    open_as(page, observer_email, f"/hearings/{meeting_id}/my-application")
    page.get_by_role("button", name="确认列席").click()
    expect(page.locator(".status-line")).to_contain_text("已确认列席")

    with live_server.session() as db:  # the meeting takes place
        meeting = _meeting(db)
        meeting.starts_at = utcnow() - timedelta(hours=2)
        db.session.commit()

    # 7. Feedback: the observer suggests; staff answer with a follow-up and publish the record.
    page.goto(f"/hearings/{meeting_id}/my-application")
    page.fill("textarea[name=text]", "建议共享停车场在早上7点前清场，避免影响学校上课。")
    page.get_by_role("button", name="提交建议").click()
    expect(page.locator(".flash-success")).to_contain_text("建议已提交")
    logout(page)
    login(page, STAFF)
    page.goto(f"/manage/hearings/{meeting_id}#suggestions")
    section = page.locator("#suggestions")
    section.locator("input[value=partly_adopted]").check()
    section.locator("textarea[name$=answer]").fill("采纳清场时间建议，具体时间由各校确定。")
    section.locator("textarea[name$=follow_up]").fill("制定学校停车场共享清场细则")
    section.locator("input[name$=due_on]").fill((now + timedelta(days=60)).date().isoformat())
    section.get_by_role("button", name="保存答复").click()
    expect(page.locator(".flash-success")).to_contain_text("答复已保存")
    page.locator("#record textarea[name^=topic-]").first.fill("原则通过，夜间19时至次日7时开放。")
    page.fill("textarea[name=record-decisions]", "会议原则通过错时共享停车方案，先在徐汇、浦东试点。")
    page.get_by_role("button", name="公开会议记录并通知代表").click()
    expect(page.locator(".flash-success")).to_contain_text("会议记录已公开")
    assert "会议原则通过" in outbox(observer_email)

    logout(page)
    page.goto(f"/hearings/{meeting_id}")
    expect(page.locator("#record")).to_be_visible()
    expect(page.locator("main")).to_contain_text("部分采纳")
    expect(page.locator("main")).to_contain_text("夜间19时至次日7时开放")
    expect(page.locator("main")).to_contain_text("制定学校停车场共享清场细则")
    check_a11y(page)
    screenshot(page, "hearings/record")
