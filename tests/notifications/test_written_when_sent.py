"""Mail queued with queue_email_later: one row with the ids, written (in the recipient's language, from the values
read then) by the sender just before it goes to a real SMTP server; expired, not sent, when what it was about is
gone; written once even when the first attempt finds the server down."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import User
from app.extensions import db as _db
from app.notifications.jobs import send_pending_email
from app.notifications.models import OutboxEmail, OutboxState
from app.notifications.services import _LATER, queue_email_later, writes_later

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
TEMPLATE = "notifications/emails/test_message"  # its text shows recipient_user's name and base_url


@pytest.fixture(autouse=True)
def test_message_written_later():
    """The test template, written from the id of the person it greets (gone: not sent)."""
    @writes_later(TEMPLATE)
    def values(person_id: int) -> dict | None:
        person = _db.session.get(User, person_id)
        return None if person is None else {"recipient_user": person}

    yield
    _LATER.pop(TEMPLATE, None)


def queued(db, user, about) -> OutboxEmail:
    email = queue_email_later(user.email, TEMPLATE, user=user, person_id=about.id)
    db.session.commit()
    return email


def row(db, email_id) -> OutboxEmail:
    db.session.expire_all()
    return db.session.get(OutboxEmail, email_id)


def test_queued_unwritten_then_written_in_the_recipients_language_when_sent(db, smtp, make_user):
    mary = make_user(email="mary@example.com", name="Mary", locale="en")
    email = queued(db, mary, about=mary)
    stored = row(db, email.id)
    assert (stored.subject, stored.body_text, stored.later, stored.locale) == ("", "", {"person_id": mary.id}, "en")

    mary.name = "Mary Li"  # the values are read when it is sent
    db.session.commit()
    assert send_pending_email() == {"sent": 1, "retried": 0, "failed": 0, "expired": 0}
    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg["Subject"] == "Test message: e-mail sending works" and msg["To"] == "mary@example.com"
    sent = row(db, email.id)
    assert sent.state is OutboxState.SENT and sent.later is None
    assert sent.subject == "Test message: e-mail sending works" and "Mary Li" in sent.body_text
    assert send_pending_email()["sent"] == 0 and len(smtp.messages) == 1  # once only


def test_what_it_was_about_is_gone_expired_not_sent(db, smtp, make_user):
    mary, bob = make_user(email="mary@example.com"), make_user(email="bob@example.com")
    email = queued(db, mary, about=bob)
    db.session.execute(sa.delete(User).where(User.id == bob.id))
    db.session.commit()
    assert send_pending_email() == {"sent": 0, "retried": 0, "failed": 0, "expired": 1}
    gone = row(db, email.id)
    assert gone.state is OutboxState.EXPIRED and gone.later is None and smtp.messages == []


def test_server_down_keeps_the_written_mail_and_sends_it_once_back(app, db, smtp_down, make_user):
    mary = make_user(email="mary@example.com", name="Mary", locale="zh")
    with time_machine.travel(T0, tick=False) as traveller:
        email = queued(db, mary, about=mary)
        assert send_pending_email()["retried"] == 1
        waiting = row(db, email.id)
        assert waiting.state is OutboxState.PENDING and waiting.later is None and "Mary" in waiting.body_text
        assert waiting.subject == "测试邮件：邮件发送已配置"
        smtp_down.start()
        traveller.move_to(waiting.next_attempt_at)
        assert send_pending_email()["sent"] == 1
    assert [m["Message-ID"] for m in smtp_down.messages] == [waiting.message_id]


def test_a_template_without_its_function_is_refused(db, make_user):
    mary = make_user(email="mary@example.com")
    with pytest.raises(ValueError):
        queue_email_later(mary.email, "notifications/emails/no_such_template", user=mary, person_id=mary.id)
    assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id))) == 0
