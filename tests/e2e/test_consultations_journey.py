"""The consultation journey in Chromium: staff create and publish a consultation; a resident comments on an
article and gets a tracking number; staff publish the comment; after the period closes staff answer it and publish
the feedback report; the resident sees the answer on the public status page. Pages are checked with axe-core."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import time_machine
from playwright.sync_api import expect

from tests.e2e.conftest import logout

pytestmark = pytest.mark.e2e

STAFF = "cz.staff@example.com"
RESIDENT = "cz.resident@example.com"
TITLE = "上海市既有多层住宅加装电梯管理办法（征求意见稿）"
DRAFT = """第一章 总则
第一条 为了改善既有多层住宅居住条件，制定本办法。
第二条 本办法适用于本市四层及以上未设电梯的住宅。
第二章 申请
第三条 加装电梯应当经本单元业主依法表决同意。
第四条 区住房城乡建设管理部门在二十个工作日内出具审查意见。
"""


def test_consultation_journey(page, open_as, live_server, check_a11y, login, screenshot, outbox):
    from app.accounts.models import Role
    from app.consultations.models import Comment, Consultation
    from app.core.timeutil import local, utcnow

    dept = live_server.create_department("cz-e2e", "市房屋管理局（测试）", "Housing Bureau (test)")
    live_server.create_user(STAFF, "刘洋", role=Role.STAFF, department_id=dept)
    live_server.create_user(RESIDENT, "张伟", district="xuhui")
    page.on("dialog", lambda dialog: dialog.accept())
    now = local(utcnow())

    # Staff create the consultation and publish it.
    open_as(page, STAFF, "/manage/consultations/new", "consultations/manage-new")
    page.fill("input[name=title]", TITLE)
    page.select_option("select[name=document_type]", "government_rule")
    page.fill("textarea[name=draft_text]", DRAFT)
    page.fill("textarea[name=interpretation]", "加装电梯是民心工程。草案重点明确表决规则和审查时限。")
    page.fill("input[name=opens_at]", (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=closes_at]", (now + timedelta(days=31)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("共4条")
    page.get_by_role("button", name="发布").click()
    expect(page.locator(".flash-success")).to_contain_text("已发布")
    with live_server.session() as db:
        cid = db.session.scalar(sa.select(Consultation.id).where(Consultation.title == TITLE))
    logout(page)

    # A resident reads it article by article and comments on 第三条.
    login(page, RESIDENT)
    page.goto(f"/consultations/{cid}")
    expect(page.locator("h1")).to_have_text(TITLE)
    expect(page.locator(".cz-interpretation")).to_contain_text("民心工程")
    check_a11y(page)
    screenshot(page, "consultations/show")
    page.locator("#article-3").get_by_role("link", name="对本条发表意见").click()
    expect(page.locator("select[name=article_id] option:checked")).to_contain_text("第三条")
    page.check("input[name=stance][value=suggest_change]")
    page.fill("textarea[name=text]", "建议明确低层业主的补偿协商机制。我的电话13812345678。")
    page.get_by_role("button", name="提交意见").click()
    expect(page.locator(".flash-success")).to_contain_text("ZX-")
    number = re.search(r"ZX-\d{4}-\d{8}-[0-9X]", page.locator(".flash-success").inner_text()).group(0)
    assert urlsplit(page.url).path.endswith(f"/consultations/track/{number}")
    expect(page.locator("main")).to_contain_text("审查中")
    check_a11y(page)
    screenshot(page, "consultations/track-received")
    assert number in outbox(RESIDENT)
    logout(page)

    # Staff publish it from the moderation queue (the text is shown masked).
    login(page, STAFF)
    page.goto(f"/manage/consultations/{cid}/moderation")
    expect(page.locator(".cz-queue")).to_contain_text("[电话已隐去]")
    check_a11y(page)
    screenshot(page, "consultations/moderation")
    page.locator(".cz-queue input[type=checkbox]").first.check()
    page.select_option("select[name=action]", "publish")
    page.get_by_role("button", name="执行").click()
    expect(page.locator(".flash-success")).to_contain_text("已处理1条意见")
    logout(page)

    # After the period closes: staff answer, write and publish the feedback report.
    with time_machine.travel(utcnow() + timedelta(days=32), tick=True):
        login(page, STAFF)
        page.goto(f"/manage/consultations/{cid}/answers")
        page.get_by_role("link", name=re.compile(f"答复.*{number}")).click()
        page.select_option("select[name=kind]", "partly_adopted")
        page.fill("textarea[name=response]", "已在第三条增加低层业主补偿的协商程序。")
        page.get_by_role("button", name="保存答复").click()
        expect(page.locator(".flash-success")).to_contain_text("答复已保存")
        page.goto(f"/manage/consultations/{cid}/report")
        page.fill("textarea[name=main_points]", "意见主要集中在低层业主的利益平衡。")
        page.fill("textarea[name=final_text]", "第三条 加装电梯应当经本单元业主依法表决同意，并与低层业主协商补偿。")
        page.get_by_role("button", name="保存报告").click()
        check_a11y(page)
        screenshot(page, "consultations/report-preview")
        page.get_by_role("button", name="发布反馈报告").click()
        expect(page.locator(".flash-success")).to_contain_text("反馈报告已发布")
        assert "协商程序" in outbox(RESIDENT)
        logout(page)

        # The resident (or anyone with the number) sees the answer on the status page.
        page.goto(f"/consultations/track/{number}")
        expect(page.locator("main")).to_contain_text("部分采纳")
        expect(page.locator("main")).to_contain_text("协商程序")
        expect(page.locator("main")).not_to_contain_text("13812345678")
        check_a11y(page)
        screenshot(page, "consultations/track-answered")
        page.goto(f"/consultations/{cid}")
        expect(page.locator("#report")).to_contain_text("意见采纳情况反馈")
        check_a11y(page)
        screenshot(page, "consultations/show-report")
    with live_server.session() as db:
        assert db.session.scalar(sa.select(sa.func.count(Comment.id)).where(Comment.consultation_id == cid)) == 1
