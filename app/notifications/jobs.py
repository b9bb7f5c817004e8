"""Send the outbox. Safe to run twice, and from two processes: each row is claimed before it is sent."""
from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_mail import Message

from app.core.timeutil import utcnow
from app.extensions import db, mail
from app.notifications.models import OutboxEmail, OutboxState

log = logging.getLogger(__name__)

# A row claimed this long ago whose sender never reported back is tried again.
CLAIM_LEASE = timedelta(minutes=10)


def _release_stale_claims(now) -> None:
    db.session.execute(
        sa.update(OutboxEmail)
        .where(OutboxEmail.state == OutboxState.SENDING, OutboxEmail.claimed_at < now - CLAIM_LEASE)
        .values(state=OutboxState.PENDING)
    )


def _claim(email_id: int, now) -> bool:
    """Move one row from pending to sending; False if another sender took it first."""
    result = db.session.execute(
        sa.update(OutboxEmail)
        .where(OutboxEmail.id == email_id, OutboxEmail.state == OutboxState.PENDING)
        .values(state=OutboxState.SENDING, claimed_at=now)
    )
    db.session.commit()
    return result.rowcount == 1


def _message(email: OutboxEmail) -> Message:
    msg = Message(subject=email.subject, recipients=[email.recipient], body=email.body_text,
                  html=email.body_html, sender=current_app.config["MAIL_DEFAULT_SENDER"])
    msg.msgId = email.message_id
    return msg


def send_pending_email(batch_size: int = 100) -> dict[str, int]:
    """Send what is due. Returns counts of sent, retried and failed rows."""
    config = current_app.config
    now = utcnow()
    _release_stale_claims(now)
    db.session.commit()
    due_ids = db.session.scalars(
        sa.select(OutboxEmail.id)
        .where(OutboxEmail.state == OutboxState.PENDING, OutboxEmail.next_attempt_at <= now)
        .order_by(OutboxEmail.id)
        .limit(batch_size)
    ).all()
    counts = {"sent": 0, "retried": 0, "failed": 0}
    connection = None
    for email_id in due_ids:
        if not _claim(email_id, now):
            continue
        email = db.session.get(OutboxEmail, email_id)
        try:
            if not config["MAIL_SUPPRESS_SEND"]:
                if connection is None:
                    connection = mail.connect()
                    connection.__enter__()
                connection.send(_message(email))
        except Exception as exc:  # noqa: BLE001 - any SMTP or network failure is retried
            if connection is not None:
                try:
                    connection.__exit__(None, None, None)
                except Exception:  # noqa: BLE001
                    pass
                connection = None
            email.attempts += 1
            email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if email.attempts >= config["OUTBOX_MAX_ATTEMPTS"]:
                email.state = OutboxState.FAILED
                counts["failed"] += 1
            else:
                email.state = OutboxState.PENDING
                delay = config["OUTBOX_BACKOFF_SECONDS"] * 2 ** (email.attempts - 1)
                email.next_attempt_at = utcnow() + timedelta(seconds=delay)
                counts["retried"] += 1
            log.warning("mail %s to %s failed (attempt %s): %s", email.id, email.recipient, email.attempts, exc)
        else:
            email.attempts += 1
            email.state = OutboxState.SENT
            email.sent_at = utcnow()
            email.last_error = None
            counts["sent"] += 1
        db.session.commit()
    if connection is not None:
        try:
            connection.__exit__(None, None, None)
        except Exception:  # noqa: BLE001
            pass
    return counts
