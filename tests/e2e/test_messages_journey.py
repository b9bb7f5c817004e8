"""A resident writes a message; the office assigns it; the department replies; the office releases the reply; the
resident rates it; the office prints the month's report. Pages are checked with axe-core and at 360 px."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

RESIDENT = "li.lei.messages@example.com"
STAFF = "staff.messages@example.com"
ADMIN = "admin.messages@example.com"


def test_write_assign_reply_rate_and_report(page, open_as, live_server, check_a11y, login, screenshot):
    from app.accounts.models import Role

    dept_id = live_server.create_department("messages-water", "市水务局（旅程）", "Water Authority (journey)")
    live_server.create_user(RESIDENT, "李雷", district="xuhui")
    live_server.create_user(STAFF, "钱进", role=Role.STAFF, department_id=dept_id)
    live_server.create_user(ADMIN, "孙督办", role=Role.ADMIN)

    # 1. The resident writes a message and lands on its status page.
    open_as(page, RESIDENT, "/messages/new")
    page.get_by_label("主题").fill("小区门口道路积水")
    page.get_by_label("留言内容").fill("每逢下雨小区门口积水严重，请尽快改造排水。电话13812345678。")
    page.get_by_label("同意将留言和答复公开（姓名和联系方式会隐去）").check()
    page.get_by_role("button", name="提交留言").click()
    expect(page).to_have_url(re.compile(r"/messages/track/LY-\d{4}-\d{8}-[0-9X]$"))
    number = page.url.rsplit("/", 1)[-1]
    expect(page.locator("main")).to_contain_text("待分办")
    screenshot(page, "messages/track")
    page.get_by_role("button", name="退出").click()

    # 2. The office assigns it to the water authority.
    login(page, ADMIN)
    page.goto("/manage/messages/?view=unassigned")
    page.get_by_role("link", name=number).click()
    page.locator("select[name=assign-department_id]").select_option(str(dept_id))
    page.get_by_role("button", name="交办").click()
    expect(page.locator(".flashes")).to_contain_text("已交办")
    page.get_by_role("button", name="退出").click()

    # 3. The department replies (the platform's replies are reviewed by the office).
    open_as(page, STAFF, "/manage/messages/")
    page.get_by_role("link", name=number).click()
    page.locator("textarea[name=reply-text]").fill("已会同区水务部门疏通管网，月底前完成道路翻排。")
    page.get_by_role("button", name="提交答复").click()
    expect(page.locator(".flashes")).to_contain_text("答复已提交")
    page.get_by_role("button", name="退出").click()

    # 4. The office releases the reply.
    login(page, ADMIN)
    page.goto("/manage/messages/?view=review")
    page.get_by_role("link", name=number).click()
    page.locator("input[name=review-approve][value=yes]").check()
    page.locator("form[action$='/review'] button, form[action$='/review'] input[type=submit]").first.click()
    expect(page.locator(".flashes")).to_contain_text("已审核答复")
    page.get_by_role("button", name="退出").click()

    # 5. The resident reads the reply and rates it; the message is public, masked.
    login(page, RESIDENT)
    page.goto(f"/messages/track/{number}")
    expect(page.locator("main")).to_contain_text("月底前完成道路翻排")
    check_a11y(page)
    page.locator("input[name=resolution][value=resolved]").check()
    page.locator("input[name=satisfied][value=yes]").check()
    page.get_by_role("button", name="提交评价").click()
    expect(page.locator(".flashes")).to_contain_text("感谢您的评价")
    page.goto("/messages/")
    expect(page.locator("main")).to_contain_text("小区门口道路积水")
    expect(page.locator("main")).not_to_contain_text("13812345678")
    expect(page.locator("main")).to_contain_text("李**")
    screenshot(page, "messages/index")
    page.get_by_role("button", name="退出").click()

    # 6. The office produces this month's report.
    from app.core.timeutil import local_today

    login(page, ADMIN)
    page.goto(f"/manage/messages/report?period={local_today():%Y-%m}")
    expect(page.locator("main")).to_contain_text("市水务局（旅程）")
    check_a11y(page)
    row = page.locator("tr", has_text="市水务局（旅程）")
    expect(row).to_contain_text("100%")
    for width in (360,):
        page.set_viewport_size({"width": width, "height": 800})
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, "messages/report")
