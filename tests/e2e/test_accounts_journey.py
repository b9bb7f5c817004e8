"""Accounts in the browser: a resident fills in the profile and resets a forgotten password; the admin creates a
department and invites staff, who accept the e-mailed invitation and find their department's audit log. Every page
is checked with axe-core and photographed at 1280 and 360 px (/tmp/shots/accounts/)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "Suzhou-creek-2026"


def test_resident_profile_and_password_reset(page, open_as, live_server, check_a11y, outbox, screenshot, login):
    from app.accounts.models import Tag, TagKind

    with live_server.session() as db:
        if not db.session.query(Tag).filter_by(name="社区工作者").first():
            db.session.add_all([Tag(kind=TagKind.INDUSTRY, name="物流运输", name_en="Logistics"),
                                Tag(kind=TagKind.GROUP, name="社区工作者", name_en="Community workers")])
            db.session.commit()
    email = "accounts.resident@example.com"
    live_server.create_user(email, "周小燕", district="huangpu")
    open_as(page, email, "/accounts/profile")
    form = page.locator("main form")
    form.get_by_label("年龄段").select_option("30_44")
    form.get_by_label("职业（选填）").fill("社区医生")
    form.get_by_label("社区工作者").check()
    form.get_by_role("button", name="保存").click()
    expect(page.locator(".flashes")).to_contain_text("个人资料已保存")
    expect(page.get_by_label("社区工作者")).to_be_checked()
    screenshot(page, "accounts/profile")

    # A bad choice of password shows its message next to the field.
    page.goto("/accounts/password")
    page.get_by_label("当前密码").fill("correct-horse-42")
    page.get_by_label("新密码", exact=True).fill("short1")
    page.get_by_label("再次输入新密码").fill("short1")
    page.locator("main form").get_by_role("button", name="修改密码").click()
    expect(page.locator("#password-error")).to_contain_text("至少需要 10 个字符")
    check_a11y(page)
    screenshot(page, "accounts/change-password-error")

    page.goto("/accounts/data")
    check_a11y(page)
    screenshot(page, "accounts/my-data")

    # Sign out, then reset the password from the e-mailed link.
    page.get_by_role("button", name="退出").click()
    page.goto("/accounts/forgot-password")
    check_a11y(page)
    page.get_by_label("电子邮箱").fill(email)
    page.get_by_role("button", name="发送重置链接").click()
    expect(page.locator(".flashes")).to_contain_text("如果该电子邮箱已注册")
    link = outbox.url(email, "/accounts/reset/")
    page.goto(link)
    check_a11y(page)
    page.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("再次输入新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="设置新密码").click()
    expect(page).to_have_url(re.compile(r"/accounts/login"))
    login(page, email, NEW_PASSWORD)
    expect(page.get_by_role("navigation", name="账户").get_by_role("link", name="我的空间")).to_be_visible()


def test_admin_invites_staff_who_accept(page, open_as, browser, live_server, check_a11y, outbox, screenshot, login):
    from app.accounts.models import Role

    admin_email = "accounts.admin@example.com"
    live_server.create_user(admin_email, "周敏", role=Role.ADMIN)
    open_as(page, admin_email, "/manage/", "accounts/manage-home")

    page.get_by_role("link", name="部门和工作人员").click()
    page.get_by_role("link", name="新建部门").click()
    check_a11y(page)
    form = page.locator("main form")
    form.get_by_label("代码").fill("transport-e2e")
    form.get_by_label("名称", exact=True).fill("市交通委（测试）")
    form.get_by_label("英文名称").fill("Municipal Transport Commission (test)")
    form.get_by_role("button", name="保存").click()
    expect(page.locator("h1")).to_contain_text("市交通委（测试）")
    check_a11y(page)

    staff_email = "accounts.staff@example.com"
    invite = page.locator("main form").last
    invite.get_by_label("姓名").fill("钱七")
    invite.get_by_label("电子邮箱").fill(staff_email)
    invite.get_by_role("button", name="发送邀请").click()
    expect(page.locator(".flashes")).to_contain_text(staff_email)
    expect(page.locator("table")).to_contain_text("已邀请，尚未启用")
    screenshot(page, "accounts/manage-staff")

    page.goto("/manage/accounts/departments")
    check_a11y(page)
    screenshot(page, "accounts/manage-departments")
    page.goto("/manage/accounts/tags")
    check_a11y(page)
    screenshot(page, "accounts/manage-tags")
    page.goto("/manage/audit")
    check_a11y(page)
    expect(page.locator("table")).to_contain_text("accounts.invite_staff")
    screenshot(page, "accounts/manage-audit")

    # The invitee, in another browser context, follows the link and sets a password.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", base_url=live_server.url)
    staff_page = context.new_page()
    try:
        staff_page.goto(outbox.url(staff_email, "/accounts/invitation/"))
        check_a11y(staff_page)
        screenshot(staff_page, "accounts/accept-invitation")
        staff_page.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
        staff_page.get_by_label("再次输入新密码").fill(NEW_PASSWORD)
        staff_page.get_by_role("button", name="设置密码并启用账户").click()
        expect(staff_page).to_have_url(re.compile(r"/accounts/login"))
        login(staff_page, staff_email, NEW_PASSWORD)
        staff_page.goto("/manage/audit")
        expect(staff_page.locator("table")).to_contain_text("accounts.accept_invitation")
        screenshot(staff_page, "accounts/staff-audit")
    finally:
        context.close()


def test_enterprise_registration_shows_the_check_digit_error(page, live_server, check_a11y, outbox, screenshot):
    from app.accounts.validators import uscc_check_char

    first17 = "91310115MA1K4R7TX"
    right = uscc_check_char(first17)
    wrong = first17 + ("1" if right != "1" else "2")
    page.goto("/accounts/register")
    enterprise = page.locator(".enterprise-fields")
    expect(enterprise).to_be_hidden()  # shown only for enterprise representatives (with JavaScript)
    form = page.locator("main form")
    form.get_by_label("企业代表").check()
    expect(enterprise).to_be_visible()
    form.get_by_label("姓名").fill("陈强")
    form.get_by_label("电子邮箱").fill("accounts.enterprise@example.com")
    form.get_by_label("密码", exact=True).fill(NEW_PASSWORD)
    form.get_by_label("再次输入密码").fill(NEW_PASSWORD)
    form.get_by_label("企业名称").fill("上海申城测试科技有限公司")
    form.get_by_label("统一社会信用代码").fill(wrong)
    form.get_by_label("我已阅读并同意用户协议和个人信息保护政策").check()
    form.get_by_role("button", name="注册").click()
    expect(page.locator("#uscc-error")).to_contain_text("校验位不正确")
    expect(page.locator(".enterprise-fields")).to_be_visible()
    check_a11y(page)
    screenshot(page, "accounts/register-uscc-error")
    page.locator("main form").get_by_label("统一社会信用代码").fill(first17 + right)
    page.locator("main form").get_by_label("密码", exact=True).fill(NEW_PASSWORD)
    page.locator("main form").get_by_label("再次输入密码").fill(NEW_PASSWORD)
    page.locator("main form").get_by_role("button", name="注册").click()
    expect(page).to_have_url(re.compile(r"/accounts/login$"))
    assert outbox.email("accounts.enterprise@example.com").subject == "请验证您的电子邮箱"
