"""Pages: public browsing, the consultation page, commenting, tracking, and the staff pages."""
import io
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import Role
from app.consultations import services
from app.consultations.models import Comment, Consultation, FaqItem, ModerationState
from app.notifications.models import OutboxEmail
from tests.consultations.conftest import AFTER, DRAFT, DURING, OPENS

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def count(db, model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def post_comment(client, c, **fields):
    data = {"idempotency_key": uuid.uuid4().hex, "article_id": "0", "stance": "", "text": "建议增加说明。"}
    data.update(fields)
    return client.post(f"/consultations/{c.id}/comments", data=data, content_type="multipart/form-data")


def test_index_lists_published_and_filters(client, make_consultation, make_tag, db):
    tag = make_tag("信息技术")
    c = make_consultation(tag_ids=[tag.id])
    draft = make_consultation(publish=False, title="内部草稿")
    with time_machine.travel(DURING, tick=False):
        page = client.get("/consultations/").get_data(as_text=True)
        assert c.title in page and "内部草稿" not in page
        assert c.title in client.get(f"/consultations/?status=open&tag={tag.id}").get_data(as_text=True)
        assert c.title not in client.get("/consultations/?status=closed").get_data(as_text=True)
        assert c.title not in client.get("/consultations/?type=normative_document").get_data(as_text=True)
        assert c.title in client.get("/consultations/?q=数据开放").get_data(as_text=True)
        assert client.get(f"/consultations/{draft.id}").status_code == 404


def test_show_page_articles_interpretation_and_form(client, auth, make_consultation, resident):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        auth.login(resident)
        page = client.get(f"/consultations/{c.id}").get_data(as_text=True)
    assert "第三条" in page and "起草说明" in page and "第二章 开放目录" in page
    assert 'name="idempotency_key"' in page and "提交意见" in page


def test_resident_comments_on_article_and_gets_tracking_number(client, auth, make_consultation, resident, db):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        auth.login(resident)
        response = post_comment(client, c, article_id=str(c.articles[1].id), stance="support",
                                text="<script>alert(1)</script>请联系13812345678")
        assert response.status_code == 302
        comment = db.session.scalar(sa.select(Comment))
        assert response.headers["Location"].endswith(f"/consultations/track/{comment.tracking_number}?submitted=1")
        assert "set-cookie" not in {k.lower() for k in response.headers.keys()}  # the session cookie is not re-signed
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert f"意见已提交，编号{comment.tracking_number}。" in page
        auth.logout()
        # Anyone with the number sees the comment's progress, but not a "submitted" meant for its writer.
        other = client.get(response.headers["Location"]).get_data(as_text=True)
        assert comment.tracking_number in other and "意见已提交" not in other
    assert comment.tracking_number in page and "审查中" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert comment.article_id == c.articles[1].id


def test_a_comment_posted_to_a_draft_is_a_404_and_writes_nothing(client, auth, make_consultation, resident, db):
    """A draft's existence is not given away, by the submission either (it reads the consultation its own way)."""
    draft = make_consultation(publish=False, title="内部草稿")
    with time_machine.travel(DURING, tick=False):
        auth.login(resident)
        response = post_comment(client, draft)
        unknown = client.post(f"/consultations/{draft.id + 1000}/comments", data={"text": "建议增加说明。"})
    assert response.status_code == 404 and unknown.status_code == 404
    assert count(db, Comment) == 0 and count(db, OutboxEmail) == 0


def test_double_submit_gives_one_comment(client, auth, make_consultation, resident, db):
    c = make_consultation()
    key = uuid.uuid4().hex
    with time_machine.travel(DURING, tick=False):
        auth.login(resident)
        r1 = post_comment(client, c, idempotency_key=key)
        r2 = post_comment(client, c, idempotency_key=key)
    assert r1.headers["Location"] == r2.headers["Location"]
    assert count(db, Comment) == 1


def test_double_submit_that_races_past_the_check_gives_the_first_number(client, auth, make_consultation, resident,
                                                                        db, monkeypatch):
    c = make_consultation()
    key = uuid.uuid4().hex
    with time_machine.travel(DURING, tick=False):
        auth.login(resident)
        r1 = post_comment(client, c, idempotency_key=key)
        # The second submit's check ran before the first was committed: it saw no comment for the key.
        real = services._SUBMISSION_FACTS
        monkeypatch.setattr(services, "_SUBMISSION_FACTS",
                            real.with_only_columns(sa.null().label("existing_id"), *list(real.selected_columns)[1:]))
        r2 = post_comment(client, c, idempotency_key=key)
    assert r2.status_code == 302 and r1.headers["Location"] == r2.headers["Location"]
    assert count(db, Comment) == 1
    from app.consultations import jobs
    assert jobs.mail_receipts() == 1 and count(db, OutboxEmail) == 1  # one receipt


@pytest.mark.parametrize("fields,message", [
    ({"text": ""}, "请填写意见内容。"),
    ({"text": "长" * 5001}, "意见内容不能超过5000个字"),
])
def test_bad_comment_text_shows_message_next_to_field(client, auth, make_consultation, resident, db, fields, message):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        auth.login(resident)
        response = post_comment(client, c, **fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and message in page and 'id="text-error"' in page
    assert count(db, Comment) == 0


def test_disguised_exe_and_sixth_attachment_refused(client, auth, make_consultation, resident, db):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        auth.login(resident)
        response = post_comment(client, c, attachments=[(io.BytesIO(EXE), "report.pdf")])
        page = response.get_data(as_text=True)
        assert response.status_code == 422 and "report.pdf" in page and 'id="attachments-error"' in page
        pdf = b"%PDF-1.4\n%%EOF\n"
        response = post_comment(client, c, attachments=[(io.BytesIO(pdf), f"{i}.pdf") for i in range(6)])
        assert response.status_code == 422 and "最多上传5个附件" in response.get_data(as_text=True)
    assert count(db, Comment) == 0 and count(db, OutboxEmail) == 0


def test_comment_outside_period_or_withdrawn_refused(client, auth, make_consultation, resident, staff, db):
    c = make_consultation()
    with time_machine.travel(AFTER, tick=False):
        auth.login(resident)
        response = post_comment(client, c)
        assert response.status_code == 422 and "不在征询期内" in response.get_data(as_text=True)
    with time_machine.travel(DURING, tick=False):
        auth.login(resident)
        with client.application.test_request_context():
            services.withdraw(staff, c, "政策调整")
        db.session.commit()
        response = post_comment(client, c)
        page = response.get_data(as_text=True)
        assert response.status_code == 422 and "已撤回" in page
    assert count(db, Comment) == 0


def test_unverified_user_cannot_comment(client, auth, make_consultation, make_user, db):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        auth.login(make_user(verified=False))
        response = post_comment(client, c)
    assert response.status_code == 302 and "/consultations/track" not in response.headers["Location"]
    assert count(db, Comment) == 0


def test_track_page_checks_the_check_digit(client):
    assert client.get("/consultations/track/ZX-2026-00001234-0").status_code == 404
    response = client.get("/consultations/track?number=ZX-2026-00001234-0")
    assert response.status_code == 422 and "校验位" in response.get_data(as_text=True)


def _comment(app, user, c, text="意见", **kw):
    with app.test_request_context():
        comment, _ = services.submit_comment(user, c, text=text, idempotency_key=uuid.uuid4().hex, **kw)
    return comment


def test_published_comments_masked_and_keyset_paginated(client, app, make_consultation, resident, staff, db):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        comments = [_comment(app, resident, c, text=f"第{i}号意见 电话13812345678") for i in range(25)]
        with app.test_request_context():
            services.moderate(staff, c, comments, publish=True)
        db.session.commit()
        page = client.get(f"/consultations/{c.id}").get_data(as_text=True)
        assert "张**" in page and "张三" not in page and "13812345678" not in page
        assert "[电话已隐去]" in page
        english = client.get(f"/consultations/{c.id}?lang=en").get_data(as_text=True)
        assert "[phone number removed]" in english and "电话已隐去" not in english and "13812345678" not in english
        assert client.get(f"/consultations/{c.id}?lang=zh").status_code == 200  # back to Chinese for the rest
        assert "第24号意见" in page and "第4号意见" not in page
        from app.consultations.views import comment_cursor

        cursor = comment_cursor(comments[5])
        assert f"before={cursor}" in page
        page2 = client.get(f"/consultations/{c.id}?before={cursor}").get_data(as_text=True)
        assert client.get(f"/consultations/{c.id}?before=garbage").status_code == 200
        assert "第4号意见" in page2 and "第5号意见" not in page2


def _staff_flow(app, c, staff, resident, db):
    with time_machine.travel(DURING, tick=False):
        comment = _comment(app, resident, c)
        with app.test_request_context():
            services.moderate(staff, c, [comment], publish=True)
        db.session.commit()
    return comment


def test_staff_create_edit_publish(client, auth, staff, db):
    form = {"title": "新办法", "summary": "", "document_type": "government_rule", "draft_text": DRAFT,
            "interpretation": "解读", "contact": "", "opens_at": "2026-06-01T00:00", "closes_at": "2026-06-10T00:00",
            "short_period_reason": ""}
    with time_machine.travel(OPENS - timedelta(days=10), tick=False):
        auth.login(staff)
        response = client.post("/manage/consultations/new", data=form)
        assert response.status_code == 422 and "不少于30日" in response.get_data(as_text=True)
        assert count(db, Consultation) == 0
        form["closes_at"] = "2026-07-01T00:00"
        response = client.post("/manage/consultations/new", data=form)
        assert response.status_code == 302
        c = db.session.scalar(sa.select(Consultation))
        assert len(c.articles) == 5
        assert "确定发布" in client.post(f"/manage/consultations/{c.id}/publish").get_data(as_text=True)
        assert client.post(f"/manage/consultations/{c.id}/publish", data={"confirmed": "1"}).status_code == 302
        db.session.refresh(c)
        assert c.published_at is not None and c.state.value == "scheduled"
        page = client.get(f"/manage/consultations/{c.id}").get_data(as_text=True)
        assert "即将开始" in page


def test_other_department_staff_gets_404(client, auth, make_consultation, make_user, make_department):
    c = make_consultation()
    other = make_user(Role.STAFF, department=make_department())
    auth.login(other)
    assert client.get(f"/manage/consultations/{c.id}").status_code == 404
    assert client.get(f"/manage/consultations/{c.id}/moderation").status_code == 404


@pytest.fixture
def moderation_queue(client, app, auth, db, resident, staff):
    """``moderation_queue(c, texts)``: the resident's comments with ``texts``, waiting for moderation, and the
    consultation's moderation queue as its department's staff then see it."""

    def fill(c, texts) -> tuple[list, str]:
        comments = [_comment(app, resident, c, text=text) for text in texts]
        db.session.commit()
        auth.login(staff)
        return comments, client.get(f"/manage/consultations/{c.id}/moderation").get_data(as_text=True)

    return fill


def test_moderation_queue_bulk_and_answers_and_report(client, app, auth, make_consultation, resident, staff, db,
                                                      moderation_queue):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        comments, page = moderation_queue(c, [f"意见{i} a@b.cn" for i in range(3)])
        assert "a@b.cn" not in page and "[邮箱已隐去]" in page
        assert "a@b.cn" in client.get(f"/manage/consultations/{c.id}/moderation?original=1").get_data(as_text=True)
        r = client.post(f"/manage/consultations/{c.id}/moderation",
                        data={"comment_ids": [str(comments[2].id)], "action": "reject", "reason": "", "note": ""})
        assert "不予公开时请选择原因" in r.get_data(as_text=True)
        client.post(f"/manage/consultations/{c.id}/moderation",
                    data={"comment_ids": [str(x.id) for x in comments[:2]], "action": "publish", "reason": ""})
        client.post(f"/manage/consultations/{c.id}/moderation",
                    data={"comment_ids": [str(comments[2].id)], "action": "reject", "reason": "spam"})
    db.session.expire_all()
    assert [x.moderation_state for x in comments] == [ModerationState.PUBLISHED] * 2 + [ModerationState.REJECTED]
    with time_machine.travel(AFTER, tick=False):
        auth.login(staff)  # weeks later: the first sign-in's session has ended (SESSION_IDLE_HOURS)
        r = client.post(f"/manage/consultations/{c.id}/comments/{comments[0].id}/answer",
                        data={"kind": "not_adopted", "response": "", "reason": ""})
        assert r.status_code == 422 and "未采纳时必须说明理由" in r.get_data(as_text=True)
        client.post(f"/manage/consultations/{c.id}/comments/{comments[0].id}/answer",
                    data={"kind": "adopted", "response": "已在第三条增加"})
        # The answer is private until the report is published.
        assert "已在第三条增加" not in client.get(f"/consultations/track/{comments[0].tracking_number}").get_data(as_text=True)
        client.post(f"/manage/consultations/{c.id}/report", data={"main_points": "要点", "changes": ""})
        r = client.post(f"/manage/consultations/{c.id}/report/publish", follow_redirects=True)
        assert "确定发布" in r.get_data(as_text=True)  # without JavaScript, a page asks first
        r = client.post(f"/manage/consultations/{c.id}/report/publish", data={"confirmed": "1"}, follow_redirects=True)
        assert "没有答复" in r.get_data(as_text=True)
        client.post(f"/manage/consultations/{c.id}/comments/{comments[1].id}/answer",
                    data={"kind": "not_applicable", "response": "与本办法无关"})
        r = client.post(f"/manage/consultations/{c.id}/report/publish", data={"confirmed": "1"}, follow_redirects=True)
        assert "反馈报告已发布" in r.get_data(as_text=True)
        track = client.get(f"/consultations/track/{comments[0].tracking_number}").get_data(as_text=True)
        assert "已在第三条增加" in track and "采纳" in track
        public = client.get(f"/consultations/{c.id}").get_data(as_text=True)
        assert "意见采纳情况反馈" in public and "已在第三条增加" in public


def test_faq_published_on_consultation_page(client, auth, make_consultation, staff, db):
    c = make_consultation()
    auth.login(staff)
    client.post(f"/manage/consultations/{c.id}/faq", data={"question": "何时施行？", "answer": "2027年1月1日。",
                                                         "is_published": "y"})
    r = client.post(f"/manage/consultations/{c.id}/faq", data={"question": "", "answer": "x"})
    assert r.status_code == 422 and "请填写问题。" in r.get_data(as_text=True)
    assert count(db, FaqItem) == 1
    with time_machine.travel(DURING, tick=False):
        assert "何时施行？" in client.get(f"/consultations/{c.id}").get_data(as_text=True)


def test_extend_and_withdraw_pages(client, auth, make_consultation, staff, db):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        auth.login(staff)
        r = client.post(f"/manage/consultations/{c.id}/extend", data={"closes_at": "2026-07-08T00:00", "notice": ""})
        assert r.status_code == 422 and "请填写延期公告" in r.get_data(as_text=True)
        client.post(f"/manage/consultations/{c.id}/extend",
                    data={"closes_at": "2026-07-08T00:00", "notice": "延长一周"})
        assert "延长一周" in client.get(f"/consultations/{c.id}").get_data(as_text=True)
        client.post(f"/manage/consultations/{c.id}/withdraw", data={"reason": "上位法修改"})
        page = client.get(f"/consultations/{c.id}").get_data(as_text=True)
    assert "本次征询已撤回" in page and "上位法修改" in page


def test_groups_page_proposes_and_accepts(client, app, auth, make_consultation, resident, staff, db):
    c = make_consultation()
    text = "建议延长图书馆开放时间到晚上九点方便上班族使用"
    with time_machine.travel(DURING, tick=False):
        comments = [_comment(app, resident, c, text=text + "！" * i) for i in range(3)]
        with app.test_request_context():
            services.moderate(staff, c, comments, publish=True)
        db.session.commit()
    auth.login(staff)
    client.post(f"/manage/consultations/{c.id}/groups", data={"action": "propose"})
    page = client.get(f"/manage/consultations/{c.id}/groups").get_data(as_text=True)
    assert "意见组" in page and comments[0].tracking_number in page
    db.session.expire_all()
    gid = comments[0].group_id
    client.post(f"/manage/consultations/{c.id}/groups", data={"action": "accept", "group_id": gid, "title": "开放时间"})
    db.session.expire_all()
    assert comments[0].group.is_accepted and comments[0].group.title == "开放时间"


def test_exports_stream_csv_and_xlsx(client, app, auth, make_consultation, resident, staff, db):
    c = make_consultation()
    _staff_flow(app, c, staff, resident, db)
    auth.login(staff)
    r = client.get(f"/manage/consultations/{c.id}/export.csv")
    assert r.status_code == 200 and r.is_streamed
    body = r.get_data(as_text=True)
    assert "tracking_number" in body and "published" in body
    r = client.get(f"/manage/consultations/{c.id}/export.xlsx")
    assert r.status_code == 200 and r.get_data()[:2] == b"PK"


def test_home_panel_lists_open_consultations(client, make_consultation):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        assert c.title in client.get("/").get_data(as_text=True)


def test_staff_attach_documents_checked_by_content(client, auth, make_consultation, staff, db):
    from app.consultations.models import ConsultationDocument

    c = make_consultation()
    auth.login(staff)
    r = client.post(f"/manage/consultations/{c.id}/documents", data={"documents": [(io.BytesIO(EXE), "草案.pdf")]},
                    content_type="multipart/form-data", follow_redirects=True)
    assert "不是PDF或DOCX文件" in r.get_data(as_text=True) and count(db, ConsultationDocument) == 0
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 40
    r = client.post(f"/manage/consultations/{c.id}/documents", data={"documents": [(io.BytesIO(png), "a.png")]},
                    content_type="multipart/form-data", follow_redirects=True)
    assert "不是PDF或DOCX文件" in r.get_data(as_text=True)
    client.post(f"/manage/consultations/{c.id}/documents",
                data={"documents": [(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "草案全文.pdf")]},
                content_type="multipart/form-data")
    doc = db.session.scalar(sa.select(ConsultationDocument))
    assert doc.filename == "草案全文.pdf" and doc.mime_type == "application/pdf"
    with time_machine.travel(DURING, tick=False):
        assert "草案全文.pdf" in client.get(f"/consultations/{c.id}").get_data(as_text=True)
        r = client.get(f"/consultations/{c.id}/documents/{doc.id}")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")


def test_consultation_page_runs_a_fixed_number_of_queries(client, app, make_consultation, resident, staff, db):
    c = make_consultation()
    statements = []

    def count(*_args, **_kw):
        statements.append(1)

    with time_machine.travel(DURING, tick=False):
        comments = [_comment(app, resident, c, text=f"意见{i}", article_id=c.articles[i % 5].id) for i in range(30)]
        with app.test_request_context():
            services.moderate(staff, c, comments, publish=True)
        db.session.commit()
        urls = (f"/consultations/{c.id}", f"/consultations/{c.id}?article={c.articles[0].id}")
        db.session.remove()
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            for url in urls:
                statements.clear()
                assert client.get(url).status_code == 200
                assert len(statements) <= 10
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)


def test_moderation_queue_pages_by_keyset(client, make_consultation, moderation_queue):
    c = make_consultation()
    with time_machine.travel(DURING, tick=True):
        comments, page = moderation_queue(c, [f"待审第{i}条" for i in range(55)])
        assert comments[0].tracking_number in page and comments[49].tracking_number in page
        assert comments[50].tracking_number not in page
        import re

        next_url = re.search(r'href="([^"]*after=[^"]*)" rel="next"', page).group(1).replace("&amp;", "&")
        page2 = client.get(next_url).get_data(as_text=True)
    assert comments[50].tracking_number in page2 and comments[54].tracking_number in page2
    assert comments[49].tracking_number not in page2


def test_staff_consultation_page_has_a_clean_title_and_one_documents_section(client, auth, make_consultation, staff):
    c = make_consultation()
    auth.login(staff)
    html = client.get(f"/manage/consultations/{c.id}").get_data(as_text=True)
    head = html.split("</head>")[0]
    assert "<section" not in head and "<form" not in head
    assert html.count('id="docs-title"') == 1  # ids are unique on the page
    assert f"<title>{c.title} · " in html
