"""Without JavaScript, cancelling a ticket asks on a page of its own first, then cancels (issue 12)."""
from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

EMAIL = "nojs.cancel@example.com"


def test_cancel_a_ticket_without_javascript(browser, live_server, login):
    from app.core.timeutil import utcnow
    from app.openday import services
    from app.openday.models import Activity, ActivitySession

    dept = live_server.create_department("nojs-e2e", "市档案局", "Archives Bureau")
    user_id = live_server.create_user(EMAIL, "赵居民", age_band="30_44", district="xuhui")
    with live_server.session() as db, live_server.app.test_request_context("/"):
        now = utcnow()
        activity = Activity(department_id=dept, title="档案馆开放日（无脚本）", description="参观。", address="某路 1 号",
                            signup_opens_at=now - timedelta(days=1), signup_closes_at=now + timedelta(days=9),
                            published_at=now - timedelta(days=1))
        activity.sessions = [ActivitySession(starts_at=now + timedelta(days=10),
                                             ends_at=now + timedelta(days=10, hours=2), capacity=5)]
        db.session.add(activity)
        db.session.flush()
        activity.refresh_first_start()
        from app.accounts.models import User

        reg = services.sign_up(db.session.get(User, user_id), activity.sessions[0])
        db.session.commit()
        reg_id = reg.id
    context = browser.new_context(java_script_enabled=False, locale="zh-CN", base_url=live_server.url)
    page = context.new_page()
    try:
        login(page, EMAIL)
        page.goto(f"/openday/tickets/{reg_id}")
        page.get_by_role("button", name="取消报名").click()
        expect(page.locator("h1")).to_have_text("请确认")
        expect(page.locator("main")).to_contain_text("确定要取消报名吗")
        page.get_by_role("button", name="取消报名").click()
        expect(page.locator(".flashes")).to_contain_text("已取消报名")
    finally:
        context.close()
