"""Sending the outbox through a real SMTP server: delivery, outage, back-off, once only, give-up, stale claims."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from app.notifications.jobs import CLAIM_LEASE, send_pending_email
from app.notifications.models import OutboxEmail, OutboxState
from app.notifications.services import queue_email

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


def queue(db, address="mary@example.com", user=None, **kw):
    email = queue_email(address, "notifications/emails/test_message", user=user, **kw)
    db.session.commit()
    return email.id


def row(db, email_id) -> OutboxEmail:
    db.session.expire_all()
    return db.session.get(OutboxEmail, email_id)


def test_delivered_with_subject_text_and_html_in_the_recipients_language(db, smtp, make_user):
    user = make_user(email="mary@example.com", name="Mary", locale="en")
    email_id = queue(db, user.email, user=user)
    assert send_pending_email() == {"sent": 1, "retried": 0, "failed": 0, "expired": 0}

    assert len(smtp.messages) == 1
    msg = smtp.messages[0]
    assert msg["To"] == "mary@example.com"
    assert msg["Subject"] == "Test message: e-mail sending works"
    assert "noreply@canyu.example.gov.cn" in msg["From"]
    sent = row(db, email_id)
    assert msg["Message-ID"] == sent.message_id
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "This is a test message" in text and "http://localhost/" in text
    assert "This is a test message" in html and '<a href="http://localhost/">' in html
    assert sent.state is OutboxState.SENT and sent.attempts == 1 and sent.sent_at is not None
    assert sent.last_error is None


def test_running_the_job_twice_sends_nothing_twice(db, smtp):
    queue(db, "a@example.com")
    queue(db, "b@example.com")
    assert send_pending_email()["sent"] == 2
    assert send_pending_email() == {"sent": 0, "retried": 0, "failed": 0, "expired": 0}
    assert sorted(m["To"] for m in smtp.messages) == ["a@example.com", "b@example.com"]


def test_chinese_mail_is_delivered_intact(db, smtp, make_user):
    user = make_user(email="li@example.com", name="李四", locale="zh")
    queue(db, user.email, user=user)
    send_pending_email()
    msg = smtp.messages[0]
    assert msg["Subject"] == "测试邮件：邮件发送已配置"
    assert msg.get_body(("plain",)).get_content().startswith("李四，您好：")


def test_server_down_loses_nothing_backs_off_and_delivers_once_when_back(app, db, smtp_down):
    backoff = app.config["OUTBOX_BACKOFF_SECONDS"]
    with time_machine.travel(T0, tick=False) as traveller:
        email_id = queue(db)
        assert send_pending_email() == {"sent": 0, "retried": 1, "failed": 0, "expired": 0}
        r = row(db, email_id)
        assert r.state is OutboxState.PENDING and r.attempts == 1
        assert r.next_attempt_at == T0 + timedelta(seconds=backoff)
        assert "ConnectionRefused" in r.last_error

        # Not due yet: the job leaves it alone.
        traveller.move_to(T0 + timedelta(seconds=backoff - 1))
        assert send_pending_email() == {"sent": 0, "retried": 0, "failed": 0, "expired": 0}
        assert row(db, email_id).attempts == 1

        # Second failure: the wait doubles.
        t2 = T0 + timedelta(seconds=backoff)
        traveller.move_to(t2)
        assert send_pending_email()["retried"] == 1
        r = row(db, email_id)
        assert r.attempts == 2 and r.next_attempt_at == t2 + timedelta(seconds=2 * backoff)

        t3 = t2 + timedelta(seconds=2 * backoff)
        traveller.move_to(t3)
        send_pending_email()
        r = row(db, email_id)
        assert r.attempts == 3 and r.next_attempt_at == t3 + timedelta(seconds=4 * backoff)

        # The server comes back: delivered exactly once.
        smtp_down.start()
        traveller.move_to(t3 + timedelta(seconds=4 * backoff))
        assert send_pending_email() == {"sent": 1, "retried": 0, "failed": 0, "expired": 0}
        traveller.shift(timedelta(days=1))
        assert send_pending_email() == {"sent": 0, "retried": 0, "failed": 0, "expired": 0}
    assert len(smtp_down.messages) == 1
    r = row(db, email_id)
    assert r.state is OutboxState.SENT and r.attempts == 4 and r.last_error is None


def test_an_outage_stops_the_run_and_keeps_every_row(db, smtp_down):
    with time_machine.travel(T0, tick=False) as traveller:
        ids = [queue(db, f"p{i}@example.com") for i in range(3)]
        assert send_pending_email() == {"sent": 0, "retried": 1, "failed": 0, "expired": 0}
        attempts = [row(db, i).attempts for i in ids]
        assert attempts == [1, 0, 0]  # one connection attempt per run, not one per message
        smtp_down.start()
        traveller.shift(timedelta(hours=1))
        assert send_pending_email()["sent"] == 3
    assert sorted(m["To"] for m in smtp_down.messages) == ["p0@example.com", "p1@example.com", "p2@example.com"]


def test_failed_after_the_48_hour_retry_horizon_and_logged_as_an_error(app, db, smtp_down, monkeypatch):
    assert app.config["OUTBOX_RETRY_HOURS"] == 48
    # The job's own logger, read by a handler of the test's: caplog hears only what propagates to the root logger,
    # and an earlier test in the same worker (production logging, gunicorn's dictConfig) may have changed that.
    logger = logging.getLogger("app.notifications.jobs")
    monkeypatch.setattr(logger, "disabled", False)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append
    logger.addHandler(handler)
    monkeypatch.setattr(logger, "level", logging.DEBUG)
    with time_machine.travel(T0, tick=False) as traveller:
        email_id = queue(db)
        results = []
        for _ in range(3):  # T0, T0 + 1 day, T0 + 2 days (the horizon)
            results.append(send_pending_email())
            traveller.shift(timedelta(days=1))
        assert [r["retried"] for r in results] == [1, 1, 0] and results[2]["failed"] == 1
        r = row(db, email_id)
        assert r.state is OutboxState.FAILED and r.attempts == 3
        logger.removeHandler(handler)
        assert [rec.levelname for rec in records if "failed for good" in rec.getMessage()] == ["ERROR"]
        # A failed row is never tried again, even when the server is back.
        smtp_down.start()
        assert send_pending_email() == {"sent": 0, "retried": 0, "failed": 0, "expired": 0}
    assert smtp_down.messages == []


def test_a_permanent_refusal_fails_at_once_and_the_rest_still_goes(db, smtp):
    async def refuse_unknown(server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp.handler.handle_RCPT = refuse_unknown
    _one_fails_the_other_goes(db, smtp, "nobody@example.com", "somebody@example.com", "550")


def _one_fails_the_other_goes(db, smtp, bad_to: str, good_to: str, reason: str) -> None:
    """Two mails queued and sent: the one to ``bad_to`` fails at once (its error says ``reason``), the other goes."""
    bad, good = queue(db, bad_to), queue(db, good_to)
    assert send_pending_email() == {"sent": 1, "retried": 0, "failed": 1, "expired": 0}
    assert row(db, bad).state is OutboxState.FAILED and reason in row(db, bad).last_error
    assert row(db, good).state is OutboxState.SENT
    assert [m["To"] for m in smtp.messages] == [good_to]


def test_a_temporary_refusal_is_retried(db, smtp):
    async def busy(server, session, envelope, address, rcpt_options):
        return "451 4.3.0 Try again later"

    smtp.handler.handle_RCPT = busy
    email_id = queue(db)
    assert send_pending_email() == {"sent": 0, "retried": 1, "failed": 0, "expired": 0}
    assert row(db, email_id).state is OutboxState.PENDING


def test_a_row_claimed_by_another_sender_is_left_alone_until_the_lease_expires(db, smtp):
    with time_machine.travel(T0, tick=False) as traveller:
        email_id = queue(db)
        # Another sender claimed it and then died.
        db.session.execute(sa.update(OutboxEmail).where(OutboxEmail.id == email_id)
                           .values(state=OutboxState.SENDING, claimed_at=T0))
        db.session.commit()
        traveller.move_to(T0 + CLAIM_LEASE - timedelta(seconds=1))
        assert send_pending_email() == {"sent": 0, "retried": 0, "failed": 0, "expired": 0}
        assert row(db, email_id).state is OutboxState.SENDING
        traveller.move_to(T0 + CLAIM_LEASE + timedelta(seconds=1))
        assert send_pending_email()["sent"] == 1
        assert send_pending_email()["sent"] == 0
    r = row(db, email_id)
    assert r.state is OutboxState.SENT and r.attempts == 2  # the lost attempt counts
    assert len(smtp.messages) == 1


def test_suppressed_sending_marks_mail_sent_without_a_server(app, db, smtp_down, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SUPPRESS_SEND", True)
    email_id = queue(db)
    assert send_pending_email()["sent"] == 1
    assert row(db, email_id).state is OutboxState.SENT


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_send_test_command_queues_and_sends(runner, db, smtp, locale):
    result = runner.invoke(args=["notifications", "send-test", "ops@example.com", "--locale", locale, "--now"])
    assert result.exit_code == 0, result.output
    assert "'sent': 1" in result.output
    assert smtp.messages[0]["To"] == "ops@example.com"


def test_old_sent_and_failed_mail_is_purged_and_pending_mail_kept(app, db, smtp):
    from app.notifications.jobs import purge_old_email

    with time_machine.travel(T0, tick=False) as traveller:
        sent = queue(db, "old@example.com")
        send_pending_email()
        failed = queue(db, "failed@example.com")
        db.session.execute(sa.update(OutboxEmail).where(OutboxEmail.id == failed).values(state=OutboxState.FAILED))
        pending = queue(db, "waiting@example.com")
        db.session.execute(sa.update(OutboxEmail).where(OutboxEmail.id == pending)
                           .values(next_attempt_at=T0 + timedelta(days=365)))
        db.session.commit()
        traveller.shift(timedelta(days=app.config.get("OUTBOX_KEEP_DAYS", 90) - 1))
        assert purge_old_email() == 0
        traveller.shift(timedelta(days=2))
        assert purge_old_email() == 2
        assert purge_old_email() == 0
    assert row(db, sent) is None and row(db, failed) is None and row(db, pending) is not None


def test_a_header_injection_attempt_is_failed_and_never_sent(db, smtp):
    _one_fails_the_other_goes(db, smtp, "victim@example.com\nBcc: evil@example.com", "fine@example.com", "line break")
    assert all("evil@example.com" not in env.rcpt_tos for env in smtp.handler.envelopes)
