"""A resident follows a tag; staff open a consultation targeting it; the invitation arrives; the resident comments;
my space shows the comment and, after the feedback report, its answer. Pages are checked with axe-core."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

RESIDENT = "wang.fang.myspace@example.com"
STAFF = "staff.myspace@example.com"
ADMIN = "admin.myspace@example.com"


def test_subscription_invitation_comment_and_answer(page, open_as, live_server, check_a11y, outbox, login, screenshot):
    from app.accounts.models import Role, Tag, TagKind

    dept_id = live_server.create_department("myspace-transport", "交通委（旅程）", "Transport (journey)")
    with live_server.session() as db:
        tag = Tag(kind=TagKind.GROUP, name="新能源车主", name_en="EV owners")
        db.session.add(tag)
        db.session.commit()
        tag_id = tag.id
    resident_id = live_server.create_user(RESIDENT, "王芳", district="xuhui")
    live_server.create_user(STAFF, "钱进", role=Role.STAFF, department_id=dept_id)
    live_server.create_user(ADMIN, "孙督办", role=Role.ADMIN)
    with live_server.session() as db:
        from app.accounts.models import User

        user = db.session.get(User, resident_id)
        user.tags = [db.session.get(Tag, tag_id)]
        db.session.commit()

    # 1. The resident follows the tag, e-mail at once for new consultations.
    open_as(page, RESIDENT, "/me/subscriptions")
    page.get_by_label("新能源车主").check()
    page.locator("input[name=delivery_new_consultation][value=now]").check()
    page.get_by_role("button", name="保存订阅").click()
    expect(page.locator(".flashes")).to_contain_text("订阅已保存")
    screenshot(page, "oversight/subscriptions")
    page.get_by_role("button", name="退出").click()

    # 2. Staff open a consultation addressed to grassroots residents, tagged with it.
    login(page, STAFF)
    page.goto("/manage/consultations/new")
    form = page.locator("main form").first
    form.locator("input[name=title]").fill("充电桩建设管理办法（征求意见稿）")
    form.locator("textarea[name=draft_text]").fill("第一条 为了规范充电桩建设，制定本办法。\n\n第二条 本办法适用于本市。")
    form.locator("input[name=target_groups][value=grassroots]").check()
    form.locator(f"input[name=tags][value='{tag_id}']").check()
    from app.core.timeutil import format_local, utcnow

    now = utcnow()
    form.locator("input[name=opens_at]").fill(format_local(now - timedelta(minutes=5), "%Y-%m-%dT%H:%M"))
    form.locator("input[name=closes_at]").fill(format_local(now + timedelta(days=40), "%Y-%m-%dT%H:%M"))
    form.locator("button[type=submit], input[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/manage/consultations/\d+$"))
    consultation_id = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    page.once("dialog", lambda dialog: dialog.accept())  # publishing asks first
    page.locator(f"form[action$='/manage/consultations/{consultation_id}/publish'] button").click()
    expect(page.locator(".flashes")).to_contain_text("已发布")
    page.get_by_role("button", name="退出").click()

    # 3. The invitation (and the subscription news) arrive — the scheduler's job writes the invitations' mail —;
    # the invitation link is tracked, then opens the page.
    with live_server.session() as db:
        import sqlalchemy as sa

        from app.oversight.jobs import send_invitations

        assert send_invitations() >= 1

        from app.notifications.models import OutboxEmail

        templates = set(db.session.scalars(sa.select(OutboxEmail.template)
                                           .where(OutboxEmail.recipient == RESIDENT)))
    assert {"oversight/emails/invitation", "oversight/emails/news"} <= templates
    invitation = [m for m in _mails(live_server, RESIDENT) if m.template == "oversight/emails/invitation"][0]
    assert "充电桩建设管理办法" in invitation.subject
    link = re.search(r"https?://\S+/invitations/\S+", invitation.body_text).group(0)

    login(page, RESIDENT)
    page.goto(link)
    expect(page).to_have_url(re.compile(rf"/consultations/{consultation_id}$"))

    # 4. The resident comments.
    page.locator("textarea[name=text]").fill("建议在老旧小区优先安排公共充电桩。")
    page.locator("form[action$='/comments'] button[type=submit], form[action$='/comments'] input[type=submit]").first.click()
    expect(page.locator(".flashes")).to_contain_text("意见已提交")
    number = re.search(r"编号\s*([A-Z0-9-]+)", page.locator(".flashes").inner_text()).group(1)

    # 5. My space shows it with its state; no answer yet.
    page.goto("/me")
    main = page.locator("main")
    expect(main).to_contain_text(number)
    expect(main).to_contain_text("充电桩建设管理办法")
    check_a11y(page)
    page.get_by_role("button", name="全部标为已读").click()  # what changes after this is marked new
    page.get_by_role("button", name="退出").click()

    # 6. The period ends (moved into the past here), staff publish the comment, answer it and publish the report.
    with live_server.session() as db:
        from app.consultations.models import Comment, Consultation

        c = db.session.get(Consultation, consultation_id)
        c.opens_at, c.closes_at = now - timedelta(days=41), now - timedelta(minutes=1)
        db.session.commit()
        comment_id = db.session.scalar(sa.select(Comment.id).where(Comment.tracking_number == number))
    login(page, STAFF)
    page.goto(f"/manage/consultations/{consultation_id}/moderation")
    page.locator(f"input[name=comment_ids][value='{comment_id}']").check()
    page.locator("select[name=action]").select_option("publish")
    page.locator("main form button[type=submit], main form input[type=submit]").last.click()
    page.goto(f"/manage/consultations/{consultation_id}/comments/{comment_id}/answer")
    page.locator("select[name=kind]").select_option("adopted")
    page.locator("textarea[name=response]").fill("已采纳：第二条增加老旧小区优先安排的规定。")
    page.locator("main form button[type=submit], main form input[type=submit]").last.click()
    page.goto(f"/manage/consultations/{consultation_id}/report")
    page.locator("textarea[name=main_points]").fill("共收到意见1条，主要涉及老旧小区充电。")
    page.locator("form:has(textarea[name=main_points]) button[type=submit], "
                 "form:has(textarea[name=main_points]) input[type=submit]").first.click()
    page.goto(f"/manage/consultations/{consultation_id}/report")
    page.once("dialog", lambda dialog: dialog.accept())  # the button asks for confirmation
    page.locator(f"form[action$='/manage/consultations/{consultation_id}/report/publish'] button").click()
    expect(page.locator(".flashes")).to_contain_text("反馈报告已发布")
    with live_server.session() as db:
        from app.consultations.models import FeedbackReport

        assert db.session.scalar(sa.select(FeedbackReport.published_at)
                                 .where(FeedbackReport.consultation_id == consultation_id)) is not None
    page.goto(f"/manage/consultations/{consultation_id}/reach")
    expect(page.locator("main table")).to_contain_text("基层群众")
    check_a11y(page)
    screenshot(page, "oversight/reach")
    page.get_by_role("button", name="退出").click()

    # 7. My space now shows the answer, marked as new, and a notice about the report.
    login(page, RESIDENT)
    page.goto("/me")
    expect(main).to_contain_text("第二条增加老旧小区优先安排的规定")
    expect(main).to_contain_text("有更新")
    expect(main).to_contain_text("意见采纳情况反馈已发布")
    check_a11y(page)
    screenshot(page, "oversight/me")
    page.get_by_role("button", name="退出").click()

    # 8. The oversight admin sees the figures.
    open_as(page, ADMIN, "/manage/oversight", "oversight/dashboard")
    quarter = page.locator("a[href*='/manage/oversight/compliance']").first
    quarter.click()
    expect(page).to_have_url(re.compile(r"/manage/oversight/compliance"))
    # The dashboard links to the current quarter; the consultation closed in the quarter of c.closes_at, which is
    # the previous one when the journey runs across a quarter's start in Shanghai.
    from app.core.timeutil import local
    from app.oversight.metrics import quarter_of

    page.goto(f"/manage/oversight/compliance?period={quarter_of(local(now - timedelta(minutes=1)).date())}")
    check_a11y(page)
    screenshot(page, "oversight/compliance")
    expect(page.locator("main table")).to_contain_text("交通委（旅程）")
    page.locator("a[href*='/manage/oversight/report']").click()
    check_a11y(page)
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()  # the print stylesheet leaves only the report
    screenshot(page, "oversight/report-print", widths=(1280,))
    page.emulate_media(media="screen")


def _mails(live_server, to):
    import sqlalchemy as sa

    from app.notifications.models import OutboxEmail

    with live_server.session() as db:
        rows = db.session.scalars(sa.select(OutboxEmail).where(OutboxEmail.recipient == to)
                                  .order_by(OutboxEmail.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows
