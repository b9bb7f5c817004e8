import io

import pytest
import sqlalchemy as sa

from app.messages.models import Message, MessageState
from app.notifications.models import OutboxEmail

pytestmark = pytest.mark.slow  # views and loaders, not clock-sensitive: run in the two full passes, not the clock passes

PDF = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"


def _post(client, **fields):
    data = {"subject": "小区门口道路积水", "text": "下雨积水严重，请处理。我的电话13812345678。", "district": "xuhui",
            "contact_preference": "email", "allow_publish": "y", "idempotency_key": "k-1"}
    data.update(fields)
    return client.post("/messages/new", data=data, content_type="multipart/form-data")


def test_a_verified_resident_writes_a_message_and_reads_its_status(client, auth, resident, db):
    auth.login(resident)
    response = _post(client, attachments=[(io.BytesIO(PDF), "照片.pdf")])
    assert response.status_code == 302
    message = db.session.scalar(sa.select(Message))
    assert response.headers["Location"].endswith(f"/messages/track/{message.tracking_number}")
    assert message.tracking_number.startswith("LY-") and message.state is MessageState.NEW
    assert "13812345678" in message.text_original and "13812345678" not in message.text_public
    assert message.district == "xuhui" and message.allow_publish and message.attachments[0].filename == "照片.pdf"
    assert message.reply_due_at is not None and message.events[0].kind.value == "received"
    mail = db.session.scalar(sa.select(OutboxEmail).where(OutboxEmail.recipient == resident.email))
    assert message.tracking_number in mail.subject
    page = client.get(f"/messages/track/{message.tracking_number}").get_data(as_text=True)
    assert "待分办" in page and "小区门口道路积水" in page and "答复期限" in page
    again = _post(client)  # the same form sent twice (a double click): one message
    assert again.status_code == 302 and db.session.scalar(sa.select(sa.func.count(Message.id))) == 1
    assert client.get(f"/messages/attachments/{message.attachments[0].id}").get_data() == PDF


def test_bad_input_is_explained_next_to_the_field_and_writes_nothing(client, auth, resident, db):
    auth.login(resident)
    response = _post(client, subject="", idempotency_key="k-2")
    assert response.status_code == 422 and "请填写留言主题。" in response.get_data(as_text=True)
    response = _post(client, attachments=[(io.BytesIO(b"MZ\x90\x00" * 100), "x.pdf")], idempotency_key="k-3")
    assert response.status_code == 422 and "不是PDF、DOCX、JPG或PNG文件" in response.get_data(as_text=True)
    response = _post(client, text="字" * 5001, idempotency_key="k-4")
    assert response.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id))) == 0


def test_english_form_and_unverified_accounts(client, auth, make_user, db):
    unverified = make_user(verified=False)
    auth.login(unverified)
    assert client.get("/messages/new").status_code == 302
    client.post("/accounts/logout")
    auth.login(make_user())
    page = client.get("/messages/new?lang=en").get_data(as_text=True)
    assert "Write a message" in page and "Subject" in page


def test_a_status_page_shows_others_only_what_is_public(client, auth, make_user, make_message, resident):
    message = make_message(resident, allow_publish=False)
    auth.login(make_user(name="李四"))
    page = client.get(f"/messages/track/{message.tracking_number}").get_data(as_text=True)
    assert "待分办" in page and "积水严重" not in page
    bad = client.get("/messages/track?number=LY-2026-00000001-0")
    assert bad.status_code == 422 and "校验位" in bad.get_data(as_text=True)
