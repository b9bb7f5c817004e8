"""The Open Month journey in Chromium: staff publish an activity with a session of 2 seats; three residents sign
up (the third is waitlisted); one cancels and the third accepts the offer; staff check two in by code; one rates
it; residents vote and the ranking shows. Every page is checked with axe-core."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.e2e.conftest import logout

pytestmark = pytest.mark.e2e

STAFF = "od.staff@example.com"
ADMIN = "od.admin@example.com"
RESIDENTS = ["od.a@example.com", "od.b@example.com", "od.c@example.com"]
TITLE = "水务集团开放日：一滴水的旅程"


def _registration(live_server, email):
    from app.accounts.models import User
    from app.openday.models import Registration

    with live_server.session() as db:
        reg = db.session.scalar(sa.select(Registration).join(User, User.id == Registration.user_id)
                                .where(User.email == email))
        return reg.id, reg.short_code, reg.state.value


def _my_ticket(page, login, live_server, email):
    """Sign in as ``email`` and open their ticket; returns the registration's id, short code and state."""
    login(page, email)
    registration = _registration(live_server, email)
    page.goto(f"/openday/tickets/{registration[0]}")
    return registration


def _move_session_to_now(live_server, registration_id):
    from app.core.timeutil import utcnow
    from app.openday.models import Registration

    with live_server.session() as db:
        session = db.session.get(Registration, registration_id).session
        session.starts_at, session.ends_at = utcnow() - timedelta(minutes=10), utcnow() + timedelta(minutes=80)
        db.session.commit()


def test_open_month_journey(page, open_as, live_server, check_a11y, login, screenshot):
    from app.accounts.models import Role
    from app.core.timeutil import local, utcnow

    dept = live_server.create_department("od-e2e", "市水务局", "Water Authority")
    live_server.create_user(STAFF, "钱工", role=Role.STAFF, department_id=dept)
    live_server.create_user(ADMIN, "周敏", role=Role.ADMIN)
    for email, name in zip(RESIDENTS, ["甲居民", "乙居民", "丙居民"]):
        live_server.create_user(email, name, age_band="30_44", district="xuhui")
    page.on("dialog", lambda dialog: dialog.accept())
    now = local(utcnow())
    day = (now + timedelta(days=10)).date().isoformat()

    # Staff create, add a 2-seat session and publish.
    open_as(page, STAFF, "/manage/openday/new", "openday/manage-new")
    page.fill("input[name=title]", TITLE)
    page.fill("textarea[name=description]", "参观自来水厂，了解从原水到龙头水的每一步。")
    page.check("input[name=mode][value=offline]")
    page.select_option("select[name=district]", "xuhui")
    page.fill("input[name=address]", "徐汇区龙华中路 1 号")
    page.fill("textarea[name=access_notes]", "地铁 12 号线龙华中路站；无障碍通道。")
    page.fill("input[name=signup_opens_at]", (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=signup_closes_at]", (now + timedelta(days=9)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".flashes")).to_contain_text("活动已创建")
    page.fill("input[name=day]", day)
    page.fill("input[name=start]", "09:30")
    page.fill("input[name=end]", "11:00")
    page.fill("input[name=capacity]", "2")
    page.get_by_role("button", name="添加场次").click()
    expect(page.locator(".flashes")).to_contain_text("场次已添加")
    page.get_by_role("button", name="发布").click()
    expect(page.locator(".flashes")).to_contain_text("活动已发布")
    check_a11y(page)
    screenshot(page, "openday/manage-show")
    activity_url = page.get_by_role("link", name="查看公开页面").get_attribute("href")
    logout(page)

    # Three residents sign up: two confirmed, the third on the waitlist.
    page.goto("/openday/")
    expect(page.locator("main")).to_contain_text(TITLE)
    check_a11y(page)
    screenshot(page, "openday/catalogue")
    page.goto("/openday/?view=calendar&month=" + day[:7])
    check_a11y(page)
    screenshot(page, "openday/calendar")
    for i, email in enumerate(RESIDENTS):
        login(page, email)
        page.goto(activity_url)
        if i == 0:
            check_a11y(page)
            screenshot(page, "openday/activity")
        page.get_by_role("button", name="报名" if i < 2 else "加入候补").click()
        if i < 2:
            expect(page.locator(".flashes")).to_contain_text("报名成功")
            expect(page.locator(".od-qr")).to_be_visible()
        else:
            expect(page.locator(".flashes")).to_contain_text("候补名单")
        if i == 0:
            check_a11y(page)
            screenshot(page, "openday/ticket")
        logout(page)

    # The first cancels; the third is offered the seat and accepts it.
    _my_ticket(page, login, live_server, RESIDENTS[0])
    page.get_by_role("button", name="取消报名").click()
    expect(page.locator(".flashes")).to_contain_text("已取消报名")
    logout(page)
    reg_c, code_c, state_c = _my_ticket(page, login, live_server, RESIDENTS[2])
    assert state_c == "offered"
    expect(page.locator("main")).to_contain_text("有名额留给您")
    check_a11y(page)
    page.get_by_role("button", name="接受名额").click()
    expect(page.locator(".flashes")).to_contain_text("您已接受名额")
    logout(page)

    # Staff check the two in by code at the door; a second entry says when.
    login(page, STAFF)
    _, code_b, _ = _registration(live_server, RESIDENTS[1])
    page.goto(activity_url.replace("/openday/", "/manage/openday/"))
    page.get_by_role("link", name="签到").first.click()
    expect(page).to_have_url(re.compile(r"/check-in$"))
    check_a11y(page)
    page.fill("input[name=code]", code_b)  # ten days early: refused, with the day
    page.locator("#code-form button[type=submit]").click()
    expect(page.locator(".flashes")).to_contain_text(f"本场次在 {day} 签到")
    _move_session_to_now(live_server, reg_c)  # the day has come: the session started 10 minutes ago
    for code in (code_b, code_c):
        page.fill("input[name=code]", code)
        page.locator("#code-form button[type=submit]").click()
        expect(page.locator(".flashes")).to_contain_text("签到成功")
    page.fill("input[name=code]", code_b)
    page.locator("#code-form button[type=submit]").click()
    expect(page.locator(".flashes")).to_contain_text("本次未重复签到")
    page.fill("input[name=code]", "FORGED-CODE")
    page.locator("#code-form button[type=submit]").click()
    expect(page.locator(".flashes")).to_contain_text("无效的票码")
    check_a11y(page)
    screenshot(page, "openday/check-in")
    page.get_by_role("link", name=TITLE).click()
    expect(page.locator("main")).to_contain_text("已签到")
    check_a11y(page)
    screenshot(page, "openday/participants")
    logout(page)

    # One rates the session.
    _my_ticket(page, login, live_server, RESIDENTS[1])
    page.locator("input[name=stars][value='5']").check()
    page.fill("textarea[name=comment]", "讲解清楚，值得一去。")
    page.get_by_role("button", name="提交评价").click()
    expect(page.locator(".flashes")).to_contain_text("感谢您的评价")
    check_a11y(page)
    logout(page)

    # The admin opens the vote with a live ranking; residents vote; the ranking shows.
    login(page, ADMIN)
    page.goto("/manage/openday/vote")
    page.fill("input[name=year]", str(now.year))
    page.fill("input[name=opens_at]", (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=closes_at]", (now + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M"))
    page.check("input[name=live_ranking]")
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".flashes")).to_contain_text("投票设置已保存")
    check_a11y(page)
    logout(page)
    for email in RESIDENTS[1:]:
        login(page, email)
        page.goto("/openday/vote")
        page.locator("li.card", has_text=TITLE).get_by_role("button", name="投票", exact=True).click()
        expect(page.locator(".flashes")).to_contain_text("已为")
        logout(page)
    page.goto("/openday/vote")
    expect(page.locator(".od-ranking")).to_contain_text(TITLE)
    expect(page.locator(".od-ranking")).to_contain_text("2 票")
    check_a11y(page)
    screenshot(page, "openday/vote")
    login(page, ADMIN)
    page.goto("/manage/openday/vote")
    expect(page.locator("main")).to_contain_text(RESIDENTS[1])
    check_a11y(page)
    screenshot(page, "openday/vote-audit")
