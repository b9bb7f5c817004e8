"""What the outbox does when an account is deleted or its data downloaded."""
from __future__ import annotations

import sqlalchemy as sa

from app import signals
from app.notifications.models import OutboxEmail, OutboxState
from app.notifications.services import queue_email


def test_deleting_an_account_forgets_its_mail(db, resident, make_user):
    other = make_user(email="other@example.com")
    for state in (OutboxState.SENT, OutboxState.PENDING, OutboxState.FAILED):
        queue_email(resident.email, "notifications/emails/test_message", user=resident).state = state
    queue_email(other.email, "notifications/emails/test_message", user=other)
    db.session.commit()

    signals.user_deleted.send(resident.id)
    db.session.commit()

    left = db.session.execute(sa.select(OutboxEmail.recipient)).scalars().all()
    assert left == ["other@example.com"]


def test_download_my_data_lists_the_mail_sent_to_me(db, resident):
    queue_email(resident.email, "notifications/emails/test_message", user=resident)
    db.session.commit()
    results = [r for _receiver, r in signals.collect_user_data.send(resident) if r and "emails" in r]
    assert len(results) == 1
    (mail,) = results[0]["emails"]
    assert mail["recipient"] == resident.email and mail["subject"] == "测试邮件：邮件发送已配置"
    assert mail["state"] == "pending"
