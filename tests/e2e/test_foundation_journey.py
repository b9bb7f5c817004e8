"""The first journey: a new resident registers, follows the e-mailed link, signs in, switches to English and to
large text (both remembered on the next page), and signs out. Every page is checked with axe-core."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

EMAIL = "chen.xiaoming@example.com"
PASSWORD = "Huangpu-river-2026"


def test_new_resident_journey(page, live_server, check_a11y, outbox, screenshot):
    # Home page, then the sign-up link in the header.
    page.goto("/")
    check_a11y(page)
    screenshot(page, "foundation/home")
    page.get_by_role("navigation", name="账户").get_by_role("link", name="注册").click()
    expect(page).to_have_url(re.compile(r"/accounts/register$"))
    check_a11y(page)
    screenshot(page, "foundation/register")

    # Register as a resident (the form carries a CSRF token, as in production).
    form = page.locator("main form")
    form.get_by_label("姓名").fill("陈小明")
    form.get_by_label("电子邮箱").fill(EMAIL)
    form.get_by_label("密码", exact=True).fill(PASSWORD)
    form.get_by_label("再次输入密码").fill(PASSWORD)
    form.get_by_label("所在区").select_option("xuhui")
    form.get_by_label("我已阅读并同意用户协议和个人信息保护政策").check()
    form.get_by_role("button", name="注册").click()
    # Registering does not sign in (the answer is the same for an address that already has an account).
    expect(page).to_have_url(re.compile(r"/accounts/login$"))
    expect(page.locator(".flashes")).to_contain_text(EMAIL)
    check_a11y(page)

    # The verification mail is in the outbox, in Chinese (the language the person registered in).
    mail = outbox.email(EMAIL)
    assert mail.subject == "请验证您的电子邮箱"
    link = outbox.url(EMAIL, "/accounts/verify/")
    assert link.startswith(live_server.url)

    page.goto(link)
    expect(page).to_have_url(re.compile(r"/accounts/login"))
    expect(page.locator(".flashes")).to_contain_text("您的电子邮箱已验证")
    check_a11y(page)
    screenshot(page, "foundation/login")

    # A used link cannot be used again: a friendly page, not a crash.
    response = page.goto(link)
    assert response.status == 400
    expect(page.locator("main")).to_contain_text("链接已使用过")
    check_a11y(page)

    # Sign in.
    page.goto("/accounts/login")
    form = page.locator("main form")
    form.get_by_label("电子邮箱").fill(EMAIL)
    form.get_by_label("密码", exact=True).fill(PASSWORD)
    form.get_by_role("button", name="登录").click()
    expect(page.locator(".flashes")).to_contain_text("您已登录")
    expect(page.get_by_role("link", name="我的空间")).to_be_visible()
    check_a11y(page)

    # Switch to English with the header link.
    page.get_by_role("navigation", name="显示设置").get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    check_a11y(page)

    # Large text (the 适老化模式 link, shown in English now).
    page.locator("nav.prefs a[href*='view=large']").click()
    expect(page.locator("html")).to_have_class(re.compile(r"\bview-large\b"))
    check_a11y(page)
    screenshot(page, "foundation/home-en-large")

    # Both are remembered on the next page, reached by a plain link without ?lang or ?view.
    page.locator("nav.account-nav a[href='/me']").click()
    assert "lang=" not in page.url and "view=" not in page.url
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("html")).to_have_class(re.compile(r"\bview-large\b"))
    check_a11y(page)
    screenshot(page, "foundation/me-en-large")

    # Sign out.
    page.locator("nav.account-nav button[type=submit]").click()
    account_nav = page.locator("nav.account-nav")
    expect(account_nav.locator("a[href='/accounts/login']")).to_be_visible()
    expect(account_nav.locator("a[href='/me']")).to_have_count(0)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    check_a11y(page)
    # Signed out for real: my space asks to sign in again.
    page.goto("/me")
    expect(page).to_have_url(re.compile(r"/accounts/login"))
    check_a11y(page)
    screenshot(page, "foundation/login-en-large")


def test_the_accessibility_check_catches_a_violation(page, check_a11y):
    """The infrastructure itself: a page with an unlabelled field and a nameless button fails the check."""
    page.goto("/")
    page.evaluate("""() => {
        const main = document.querySelector('main');
        main.insertAdjacentHTML('beforeend', '<input type="text" id="nolabel"><button id="noname"></button>');
    }""")
    with pytest.raises(pytest.fail.Exception) as failure:
        check_a11y(page)
    assert "label" in str(failure.value) and "button-name" in str(failure.value)
