"""queue_email: a row in the caller's transaction, rendered in the recipient's language."""
from __future__ import annotations

import sqlalchemy as sa

from app.notifications.models import OutboxEmail, OutboxState
from app.notifications.services import queue_email


def committed_rows(db) -> list[tuple[str, str]]:
    """What another connection sees: only committed rows."""
    with db.engine.connect() as conn:
        return conn.execute(sa.select(OutboxEmail.recipient, OutboxEmail.subject)).all()


def test_row_exists_only_when_the_caller_commits(db, resident):
    queue_email("a@example.com", "notifications/emails/test_message")
    assert committed_rows(db) == []
    db.session.rollback()
    assert committed_rows(db) == []
    assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id))) == 0

    email = queue_email("b@example.com", "notifications/emails/test_message", user=resident)
    assert committed_rows(db) == []
    db.session.commit()
    assert [r.recipient for r in committed_rows(db)] == ["b@example.com"]
    assert email.state is OutboxState.PENDING and email.attempts == 0
    assert email.message_id.startswith("<") and email.message_id.endswith("@canyu.example.gov.cn>")


def test_rendered_in_the_recipients_language(db, make_user):
    english = make_user(email="en@example.com", name="Alice", locale="en")
    chinese = make_user(email="zh@example.com", name="李四", locale="zh")
    en = queue_email(english.email, "notifications/emails/test_message", user=english)
    zh = queue_email(chinese.email, "notifications/emails/test_message", user=chinese)
    db.session.commit()
    assert en.locale == "en"
    assert en.subject == "Test message: e-mail sending works"
    assert "Alice" in en.body_text.splitlines()[0]
    assert "This is a test message from the Shanghai public participation platform." in en.body_text
    assert "http://localhost/" in en.body_text
    assert en.body_html and '<a href="http://localhost/">' in en.body_html and "This is a test message" in en.body_html
    assert zh.locale == "zh"
    assert zh.subject == "测试邮件：邮件发送已配置"
    assert zh.body_text.startswith("李四，您好：")


def test_language_of_the_recipient_wins_over_the_page_language(app, db, make_user):
    english = make_user(email="en2@example.com", name="Bob", locale="en")
    with app.test_request_context("/?lang=zh"):
        email = queue_email(english.email, "notifications/emails/test_message", user=english)
    db.session.commit()
    assert email.subject == "Test message: e-mail sending works"


def test_address_without_an_account_uses_the_given_locale(db):
    email = queue_email("  someone@example.com ", "notifications/emails/test_message", locale="en")
    db.session.commit()
    assert email.recipient == "someone@example.com"
    assert email.subject == "Test message: e-mail sending works"
    assert email.body_text.startswith("Hello,")
    assert email.user_id is None


def test_the_html_part_escapes_what_people_typed(db, make_user):
    user = make_user(email="x@example.com", name="<b>王</b>", locale="zh")
    email = queue_email(user.email, "notifications/emails/test_message", user=user)
    db.session.commit()
    assert "&lt;b&gt;王&lt;/b&gt;" in email.body_html and "<b>王" not in email.body_html
    assert email.body_text.startswith("<b>王</b>")  # plain text is not HTML: shown as typed
