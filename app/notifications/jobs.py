"""Send the outbox. Safe to run twice, and from two processes: each row is claimed before it is sent.

A row moves pending -> sending (claimed, committed) -> sent, or back to pending with ``attempts + 1`` and a
``next_attempt_at`` that doubles from OUTBOX_BACKOFF_SECONDS up to OUTBOX_MAX_BACKOFF_SECONDS when the server
refuses for now or cannot be reached. It fails only on a permanent 5xx refusal, or when it still could not be sent
OUTBOX_RETRY_HOURS (48) after it was queued: a mail-server outage shorter than that loses nothing. A final failure
is logged as an error; the oversight admin sees failed mail (with the reason) and can send it again
(`retry_failed`, also `flask notifications retry-failed`). A message whose ``valid_until`` passed while it waited
(an offer whose deadline is over) is marked expired, never sent late. A sender that dies between the claim and the
report leaves the row in ``sending``; after CLAIM_LEASE it is pending again and retried (the stable Message-ID
lets a receiving system recognise the rare duplicate this can cause); a message that kills its sender
OUTBOX_MAX_ATTEMPTS times fails.
"""
from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_mail import Message

from app.core.timeutil import utcnow
from app.extensions import db
from app.notifications.models import OutboxEmail, OutboxState

log = logging.getLogger(__name__)

# A row claimed this long ago whose sender never reported back is tried again.
CLAIM_LEASE = timedelta(minutes=10)
# Sent and failed mail is kept this many days (OUTBOX_KEEP_DAYS), for support; it holds addresses and links.
DEFAULT_KEEP_DAYS = 90


class _ServerUnavailable(Exception):
    """The mail server cannot be reached: stop this run, the rest of the batch waits for the next one."""


class _Undeliverable(Exception):
    """This message can never be sent as it is (a header with a line break): fail it at once."""


class SmtpSender:
    """One SMTP connection for a run, opened on first use, built from the *current* app.config.

    (Flask-Mail's own connection reads its settings once at start-up and has no timeout; a job must notice a
    changed setting and must never hang on a silent server.)
    """

    def __init__(self, config):
        self.config = config
        self.host: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        c = self.config
        cls = smtplib.SMTP_SSL if c.get("MAIL_USE_SSL") else smtplib.SMTP
        host = cls(c["MAIL_SERVER"], c["MAIL_PORT"], timeout=c.get("MAIL_TIMEOUT") or 10)
        if c.get("MAIL_USE_TLS"):
            host.starttls()
        if c.get("MAIL_USERNAME") and c.get("MAIL_PASSWORD"):
            host.login(c["MAIL_USERNAME"], c["MAIL_PASSWORD"])
        return host

    def send(self, message: Message) -> None:
        if message.has_bad_headers() or any("\n" in a or "\r" in a for a in message.send_to):
            raise _Undeliverable("a header or address contains a line break")
        if self.host is None:
            try:
                self.host = self._open()
            except (OSError, smtplib.SMTPException) as exc:
                raise _ServerUnavailable(f"{type(exc).__name__}: {exc}") from exc
        try:
            self.host.sendmail(message.sender, list(message.send_to), message.as_bytes())
        except smtplib.SMTPServerDisconnected as exc:
            self.host = None
            raise _ServerUnavailable(f"{type(exc).__name__}: {exc}") from exc
        except smtplib.SMTPException:  # (a subclass of OSError) an answer about this message
            raise
        except OSError as exc:  # a broken socket mid-message
            self.close()
            raise _ServerUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        if self.host is not None:
            try:
                self.host.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.host = None


def _message(email: OutboxEmail) -> Message:
    msg = Message(subject=email.subject, recipients=[email.recipient], body=email.body_text,
                  html=email.body_html, sender=current_app.config["MAIL_DEFAULT_SENDER"])
    msg.msgId = email.message_id
    return msg


def _is_permanent(exc: Exception) -> bool:
    """A 5xx answer about this message (unknown mailbox, refused content): retrying cannot help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _msg in exc.recipients.values())
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and 500 <= code < 600


def release_stale_claims(now: datetime) -> int:
    """Rows claimed longer ago than the lease go back to pending (their sender died). Returns how many.

    The lost attempt counts, so that a message that kills its sender every time ends up failed, not looping.
    """
    stale = sa.and_(OutboxEmail.state == OutboxState.SENDING, OutboxEmail.claimed_at < now - CLAIM_LEASE)
    max_attempts = current_app.config["OUTBOX_MAX_ATTEMPTS"]
    db.session.execute(
        sa.update(OutboxEmail).where(stale, OutboxEmail.attempts + 1 >= max_attempts)
        .values(state=OutboxState.FAILED, attempts=OutboxEmail.attempts + 1, claimed_at=None,
                last_error="claim lease expired")
    )
    result = db.session.execute(
        sa.update(OutboxEmail).where(stale)
        .values(state=OutboxState.PENDING, attempts=OutboxEmail.attempts + 1, claimed_at=None,
                next_attempt_at=now, last_error="claim lease expired")
    )
    return result.rowcount


def _claim(email_id: int, now: datetime) -> bool:
    """Move one due row from pending to sending and commit; False if another sender took it first."""
    result = db.session.execute(
        sa.update(OutboxEmail)
        .where(OutboxEmail.id == email_id, OutboxEmail.state == OutboxState.PENDING,
               OutboxEmail.next_attempt_at <= now)
        .values(state=OutboxState.SENDING, claimed_at=utcnow())  # the lease runs from the claim itself
    )
    db.session.commit()
    return result.rowcount == 1


def give_up_at(email: OutboxEmail) -> datetime:
    return email.give_up_at or email.created_at + timedelta(hours=current_app.config["OUTBOX_RETRY_HOURS"])


def _record_failure(email: OutboxEmail, error: str, *, permanent: bool = False) -> bool:
    """Back to pending with back-off, or failed. Returns True when the row is now failed."""
    config = current_app.config
    now = utcnow()
    email.attempts += 1
    email.claimed_at = None
    email.last_error = error[:2000]
    limit = give_up_at(email)
    if permanent or now >= limit:
        email.state = OutboxState.FAILED
        log.error("mail %s to %s failed for good after %s attempt(s)%s: %s", email.id, email.recipient,
                  email.attempts, "" if permanent else f" and {config['OUTBOX_RETRY_HOURS']} hours",
                  email.last_error)
        return True
    email.state = OutboxState.PENDING
    delay = min(config["OUTBOX_MAX_BACKOFF_SECONDS"],
                config["OUTBOX_BACKOFF_SECONDS"] * 2 ** min(email.attempts - 1, 30))
    email.next_attempt_at = min(now + timedelta(seconds=delay), limit)  # one last try at the limit itself
    return False


def expire_out_of_date(now: datetime) -> int:
    """Waiting messages whose content is out of date (valid_until passed) are marked expired, not sent late."""
    return db.session.execute(
        sa.update(OutboxEmail)
        .where(OutboxEmail.state == OutboxState.PENDING, OutboxEmail.valid_until.is_not(None),
               OutboxEmail.valid_until <= now)
        .values(state=OutboxState.EXPIRED, last_error="expired before it could be sent")
        .execution_options(synchronize_session=False)
    ).rowcount


def retry_failed(ids: list[int] | None = None) -> int:
    """Send failed mail again (all of it, or these rows): pending now, retried for another OUTBOX_RETRY_HOURS.
    Messages already out of date are not sent. Returns how many; the caller commits."""
    now = utcnow()
    where = [OutboxEmail.state == OutboxState.FAILED,
             sa.or_(OutboxEmail.valid_until.is_(None), OutboxEmail.valid_until > now)]
    if ids is not None:
        where.append(OutboxEmail.id.in_(ids))
    return db.session.execute(
        sa.update(OutboxEmail).where(*where)
        .values(state=OutboxState.PENDING, next_attempt_at=now, claimed_at=None,
                give_up_at=now + timedelta(hours=current_app.config["OUTBOX_RETRY_HOURS"]))
        .execution_options(synchronize_session=False)
    ).rowcount


def send_pending_email(batch_size: int = 100) -> dict[str, int]:
    """Send what is due. Returns counts of sent, retried and failed rows."""
    config = current_app.config
    now = utcnow()
    release_stale_claims(now)
    expired = expire_out_of_date(now)
    db.session.commit()
    due_ids = db.session.scalars(
        sa.select(OutboxEmail.id)
        .where(OutboxEmail.state == OutboxState.PENDING, OutboxEmail.next_attempt_at <= now)
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(batch_size)
    ).all()
    counts = {"sent": 0, "retried": 0, "failed": 0, "expired": expired}
    sender = SmtpSender(config)
    try:
        for email_id in due_ids:
            if not _claim(email_id, now):
                continue
            email = db.session.get(OutboxEmail, email_id)
            stop = False
            try:
                if not config["MAIL_SUPPRESS_SEND"]:
                    sender.send(_message(email))
            except _ServerUnavailable as exc:
                failed = _record_failure(email, str(exc))
                stop = True
            except _Undeliverable as exc:
                failed = _record_failure(email, str(exc), permanent=True)
            except smtplib.SMTPException as exc:
                failed = _record_failure(email, f"{type(exc).__name__}: {exc}", permanent=_is_permanent(exc))
                # The server may be left mid-transaction; start the next message on a clean connection.
                sender.close()
            except Exception as exc:  # noqa: BLE001 - a message that cannot even be built: retried, then failed
                failed = _record_failure(email, f"{type(exc).__name__}: {exc}",
                                         permanent=email.attempts + 1 >= config["OUTBOX_MAX_ATTEMPTS"])
                log.exception("mail %s could not be built", email_id)
            else:
                email.attempts += 1
                email.state = OutboxState.SENT
                email.sent_at = utcnow()
                email.claimed_at = None
                email.last_error = None
                counts["sent"] += 1
                db.session.commit()
                continue
            counts["failed" if failed else "retried"] += 1
            if not failed:
                log.warning("mail %s to %s not sent (attempt %s), retried: %s", email.id, email.recipient,
                            email.attempts, email.last_error)
            db.session.commit()
            if stop:
                break  # the server is down: the other rows keep their turn for the next run
    finally:
        sender.close()
    return counts


def purge_old_email() -> int:
    """Delete sent and failed mail older than OUTBOX_KEEP_DAYS. Returns how many rows went."""
    days = current_app.config.get("OUTBOX_KEEP_DAYS", DEFAULT_KEEP_DAYS)
    cutoff = utcnow() - timedelta(days=days)
    result = db.session.execute(
        sa.delete(OutboxEmail)
        .where(OutboxEmail.state.in_([OutboxState.SENT, OutboxState.FAILED, OutboxState.EXPIRED]),
               OutboxEmail.created_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount
