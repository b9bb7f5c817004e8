"""The development mail page: the oversight admin opens /manage/mail and follows a link in a mail."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_staff_follow_a_link_from_the_mail_page(page, live_server, check_a11y, login, screenshot):
    from app.accounts.models import Role
    from app.notifications.services import queue_email

    staff_id = live_server.create_user("mail.staff@example.com", "王五", role=Role.ADMIN)
    assert staff_id
    with live_server.session() as db:
        queue_email("reader@example.com", "notifications/emails/test_message", locale="en")
        db.session.commit()

    login(page, "mail.staff@example.com")
    page.goto("/manage/mail?to=reader@example.com")
    mail = page.locator("article.mail").first
    expect(mail.get_by_role("heading")).to_have_text("Test message: e-mail sending works")
    expect(mail).to_contain_text("等待发送")
    check_a11y(page)
    screenshot(page, "notifications/manage-mail")

    link = mail.locator(".mail-body a").first
    expect(link).to_have_attribute("href", f"{live_server.url}/")
    link.click()
    expect(page).to_have_url(re.compile(re.escape(live_server.url) + r"/$"))
    check_a11y(page)
