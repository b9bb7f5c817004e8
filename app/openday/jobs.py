"""Scheduled work of the Open Month. Each job is safe to run twice (re-checked under a lock or a flag)."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale

from app.core import rows
from app.core.timeutil import SHANGHAI, from_local, utcnow
from app.extensions import db
from app.openday import services
from app.openday.models import Registration, RegistrationState

BATCH = 200
SIGNUP_MAIL_BATCH = 1000
# A sign-up's mail by what the registration is when it is queued (none for the rest: offered and cancelled ones
# have had their own).
SIGNUP_MAIL = {RegistrationState.CONFIRMED: "confirmed", RegistrationState.WAITLISTED: "waitlisted"}
REMINDER_HOUR = time(9, 0)  # the day before, from 09:00 Shanghai time


def _default_locale():
    """Jobs run outside a request, where the request's locale selector cannot run; receivers of the signals we send
    may translate text, so a locale is fixed here (mail is rendered in each recipient's own language anyway)."""
    return force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh"))


def expire_offers(now: datetime | None = None) -> int:
    """Offers not accepted in time pass to the next person on the waitlist."""
    with _default_locale():
        return _expire_offers(now)


def _expire_offers(now: datetime | None = None) -> int:
    now = now or utcnow()
    ids = db.session.scalars(sa.select(Registration.id).where(
        Registration.state == RegistrationState.OFFERED, Registration.offer_expires_at <= now)
        .order_by(Registration.offer_expires_at).limit(BATCH)).all()
    done = 0
    for reg_id in ids:
        if services.expire_offer(reg_id, now):
            done += 1
        db.session.commit()
    return done


def reminder_due_at(starts_at: datetime) -> datetime:
    day_before = starts_at.astimezone(SHANGHAI).date() - timedelta(days=1)
    return from_local(day_before, REMINDER_HOUR)


def send_reminders(now: datetime | None = None) -> int:
    """A reminder e-mail the day before; reminder_sent_at is set in the same transaction, so never twice."""
    with _default_locale():
        return _send_reminders(now)


def _send_reminders(now: datetime | None = None) -> int:
    now = now or utcnow()
    candidates = db.session.scalars(sa.select(Registration).where(
        Registration.state == RegistrationState.CONFIRMED, Registration.reminder_sent_at.is_(None),
        Registration.starts_at > now, Registration.starts_at <= now + timedelta(hours=48))
        .order_by(Registration.id).limit(BATCH)).all()
    sent = 0
    for reg in candidates:
        if now < reminder_due_at(reg.starts_at):
            continue
        claimed = db.session.execute(
            sa.update(Registration).where(Registration.id == reg.id, Registration.reminder_sent_at.is_(None))
            .values(reminder_sent_at=now).execution_options(synchronize_session=False)).rowcount
        if claimed == 1:
            services._mail(reg, "reminder", valid_until=reg.starts_at)
            sent += 1
        db.session.commit()
    return sent


def mail_signups(batch: int = SIGNUP_MAIL_BATCH) -> int:
    """Queue the confirmation mail of new sign-ups (``Registration.signup_mail_due``, set by the sign-up's own
    INSERT). The flags are cleared by the statement that claims the rows (``rows.claim_flagged``) and the mail is
    queued in the same transaction: a sign-up's mail is queued exactly once, however many runs overlap, and a run
    that fails leaves the flags set for the next one.
    The mail says what the registration is when it is queued: confirmed or waitlisted (an offer or a cancellation
    in between sends its own mail)."""
    with _default_locale():
        return _mail_signups(batch)


def _mail_signups(batch: int) -> int:
    claimed = rows.claim_flagged(Registration.signup_mail_due, batch)
    if not claimed:
        return 0
    regs = db.session.scalars(sa.select(Registration).where(Registration.id.in_(claimed)).order_by(Registration.id)
                              .options(sa.orm.joinedload(Registration.user), sa.orm.joinedload(Registration.session),
                                       sa.orm.joinedload(Registration.activity))).all()
    sent = 0
    for reg in regs:
        template = SIGNUP_MAIL.get(reg.state)
        if template is not None:
            services._mail(reg, template)
            sent += 1
    db.session.commit()
    return sent
