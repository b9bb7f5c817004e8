"""Staff hide a name in a comment before publishing; comments are limited per account too (issue 10)."""
from __future__ import annotations

import sqlalchemy as sa
import time_machine

from app.accounts.models import Role
from app.consultations.models import Comment
from app.core.audit import AuditEntry
from tests.consultations.conftest import DURING


def test_staff_redact_a_name_before_publishing(app, client, auth, db, make_consultation, make_comment, staff,
                                               make_user, make_department):
    c = make_consultation()
    comment = make_comment(c, make_user(), text="我是李明华，住在徐汇。李明华建议增加停车位。")
    db.session.commit()
    url = f"/manage/consultations/{c.id}/comments/{comment.id}/redact"
    auth.login(make_user(Role.STAFF, department=make_department()))
    assert client.get(url).status_code == 404  # another department
    client.post("/accounts/logout")
    auth.login(staff)
    assert "隐去部分文字" in client.get(f"/manage/consultations/{c.id}/moderation").get_data(as_text=True)
    response = client.post(url, data={"phrase": "王小二"})
    assert response.status_code == 422 and "公开文本中没有这段文字" in response.get_data(as_text=True)
    assert client.post(url, data={"phrase": "李明华"}).status_code == 302
    db.session.expire_all()
    comment = db.session.get(Comment, comment.id)
    assert comment.text_public == "我是×××，住在徐汇。×××建议增加停车位。"
    assert "李明华" in comment.text_original
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "consultation.redact_comment"))
    assert entry.actor_id == staff.id and entry.department_id == c.department_id
    assert "李明华" not in str(entry.details)
    client.post(f"/manage/consultations/{c.id}/moderation", data={"comment_ids": [comment.id], "action": "publish"})
    page = client.get(f"/consultations/{c.id}").get_data(as_text=True)
    assert "×××建议增加停车位" in page and "李明华" not in page


def test_comments_are_limited_per_account_from_any_address(app, client, auth, db, make_consultation, resident,
                                                           monkeypatch):
    monkeypatch.setitem(app.config, "COMMENT_ACCOUNT_LIMIT", 2)
    c = make_consultation()
    with time_machine.travel(DURING, tick=True):
        auth.login(resident)
        _post_three(client, c)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Comment)) == 2


def _post_three(client, c):
    for n in range(3):
        response = client.post(f"/consultations/{c.id}/comments",
                               data={"text": f"第{n}条意见：建议增加停车位。", "idempotency_key": f"key-{n}",
                                     "article_id": "0", "stance": ""},
                               content_type="multipart/form-data", environ_base={"REMOTE_ADDR": f"10.5.5.{n}"})
        assert response.status_code == (302 if n < 2 else 422)
    assert "达到上限" in response.get_data(as_text=True)
