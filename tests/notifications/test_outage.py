"""A long mail-server outage loses nothing; out-of-date messages expire instead of going late; failed mail is shown
to the oversight admin, who sends it again (or `flask notifications retry-failed`)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from app.notifications.jobs import send_pending_email
from app.notifications.models import OutboxEmail, OutboxState
from app.notifications.services import queue_email

T0 = datetime(2026, 8, 3, 1, 0, tzinfo=timezone.utc)


def queue(db, address, **kw) -> int:
    email = queue_email(address, "notifications/emails/test_message", **kw)
    db.session.commit()
    return email.id


def states(db) -> dict[str, OutboxState]:
    db.session.expire_all()
    return dict(db.session.execute(sa.select(OutboxEmail.recipient, OutboxEmail.state)).all())


@pytest.mark.slow
def test_a_three_hour_smtp_outage_loses_nothing(db, smtp_down):
    with time_machine.travel(T0, tick=False) as traveller:
        for i in range(4):
            queue(db, f"p{i}@example.com")
        failed = 0
        for _minute in range(0, 180, 2):  # the scheduler's runs through three hours of refused connections
            failed += send_pending_email()["failed"]
            traveller.shift(timedelta(minutes=2))
        assert failed == 0 and set(states(db).values()) == {OutboxState.PENDING}
        smtp_down.start()
        for _ in range(10):  # the server is back: within the longest back-off (30 minutes) all of it goes
            send_pending_email()
            traveller.shift(timedelta(minutes=5))
    assert sorted(m["To"] for m in smtp_down.messages) == [f"p{i}@example.com" for i in range(4)]
    assert set(states(db).values()) == {OutboxState.SENT}


def test_an_offer_whose_deadline_passed_while_waiting_is_expired_not_sent_late(db, smtp_down, runner):
    with time_machine.travel(T0, tick=False) as traveller:
        queue(db, "offer@example.com", valid_until=T0 + timedelta(hours=2))
        queue(db, "ticket@example.com")
        send_pending_email()
        traveller.shift(timedelta(hours=3))
        smtp_down.start()
        result = send_pending_email()
        traveller.shift(timedelta(hours=1))
        send_pending_email()
        assert result["expired"] == 1
        assert runner.invoke(args=["notifications", "retry-failed"]).output.startswith("0 failed")
    assert [m["To"] for m in smtp_down.messages] == ["ticket@example.com"]
    assert states(db) == {"offer@example.com": OutboxState.EXPIRED, "ticket@example.com": OutboxState.SENT}


def _failed(db, address: str) -> int:
    email_id = queue(db, address)
    db.session.execute(sa.update(OutboxEmail).where(OutboxEmail.id == email_id).values(
        state=OutboxState.FAILED, attempts=40, last_error="SMTPDataError: (451, b'4.3.0 Mail server temporarily'"))
    db.session.commit()
    return email_id


def test_the_admin_sees_failed_mail_with_its_reason_and_sends_it_again(db, client, auth, admin, smtp, runner):
    one, _two = _failed(db, "a@example.com"), _failed(db, "b@example.com")
    auth.login(admin)
    assert "发送失败 2 封" in client.get("/manage/oversight").text
    page = client.get("/manage/mail/failed")
    assert "a@example.com" in page.text and "4.3.0 Mail server temporarily" in page.text
    page = client.post("/manage/mail/failed/retry", data={"id": one}, follow_redirects=True)
    assert "已重新排队 1 封邮件" in page.text
    assert send_pending_email()["sent"] == 1
    result = runner.invoke(args=["notifications", "retry-failed"])
    assert result.output.startswith("1 failed e-mail(s) queued again")
    assert send_pending_email()["sent"] == 1
    assert sorted(m["To"] for m in smtp.messages) == ["a@example.com", "b@example.com"]
    assert "没有发送失败的邮件" in client.get("/manage/mail/failed").text


def test_only_admins_see_failed_mail(client, auth, staff):
    auth.login(staff)
    assert client.get("/manage/mail/failed").status_code == 403
    assert client.post("/manage/mail/failed/retry").status_code == 403
