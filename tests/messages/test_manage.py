"""Staff pages: the queue ordered by deadline, what each department sees, the acts through their forms."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts.models import Role
from app.messages import handling
from app.messages.models import Message, MessageSource

from tests.messages.conftest import RECEIVED

pytestmark = pytest.mark.slow  # views and loaders, not clock-sensitive: run in the two full passes, not the clock passes


def test_queue_by_deadline_scoped_to_the_department(client, auth, db, make_forwarded, make_message, resident, admin,
                                                    staff, make_department, make_user):
    other = make_department(name="市交通委")
    slow = make_forwarded("MB-1", source=MessageSource.MAILBOX)  # 15 working days
    fast = make_forwarded("H-1", source=MessageSource.HOTLINE_12345, at=RECEIVED + timedelta(days=1))  # 5
    elsewhere = make_message(resident, subject="别的部门的留言")
    for m, dept in ((slow, staff.department_id), (fast, staff.department_id), (elsewhere, other.id)):
        handling.assign(admin, m, dept)
    db.session.commit()
    auth.login(staff)
    page = client.get("/manage/messages/").get_data(as_text=True)
    assert page.index(fast.tracking_number) < page.index(slow.tracking_number)
    assert elsewhere.tracking_number not in page
    assert client.get(f"/manage/messages/{elsewhere.id}").status_code == 404
    client.post("/accounts/logout")
    auth.login(admin)
    page = client.get("/manage/messages/").get_data(as_text=True)
    assert all(m.tracking_number in page for m in (slow, fast, elsewhere))


def test_acts_through_the_forms(client, auth, db, make_message, resident, admin, staff, make_department, make_user):
    co_dept = make_department(name="市水务局")
    co_staff = make_user(Role.STAFF, department=co_dept)
    message = make_message(resident)
    auth.login(admin)
    response = client.post(f"/manage/messages/{message.id}/assign",
                           data={"assign-department_id": staff.department_id, "assign-co_department_ids": [co_dept.id]})
    assert response.status_code == 302
    client.post("/accounts/logout")
    auth.login(co_staff)
    assert message.tracking_number in client.get("/manage/messages/").get_data(as_text=True)  # co-handled
    bad = client.post(f"/manage/messages/{message.id}/opinion", data={"opinion-opinion": ""})
    assert bad.status_code == 422 and "请填写会办意见。" in bad.get_data(as_text=True)
    assert client.post(f"/manage/messages/{message.id}/opinion",
                       data={"opinion-opinion": "排水管网改造已列入明年计划。"}).status_code == 302
    assert client.post(f"/manage/messages/{message.id}/reply", data={"reply-text": "越权答复"}).status_code == 422
    client.post("/accounts/logout")
    auth.login(staff)
    page = client.get(f"/manage/messages/{message.id}").get_data(as_text=True)
    assert "排水管网改造已列入明年计划。" in page and "13812345678" in page  # staff read the original
    assert client.post(f"/manage/messages/{message.id}/acknowledge").status_code == 302
    response = client.post(f"/manage/messages/{message.id}/extension",
                           data={"extension-days": "40", "extension-reason": "调查"})
    assert response.status_code == 422
    client.post(f"/manage/messages/{message.id}/reply", data={"reply-text": "已安排改造。"})
    db.session.expire_all()
    message = db.session.get(Message, message.id)
    assert message.acknowledged_at is not None and message.reply_submitted_at is not None
    assert message.extension_decision is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 1
