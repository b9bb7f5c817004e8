"""The oversight admin's page of recent outbox mail, for development and for support (MAIL_SHOW_IN_APP).

Links that let their holder into an account (password reset, sign-in, invitation, e-mail change and its undo) are
masked in mail addressed to anyone but the admin reading the page (issue 10)."""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask import abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.permissions import admin_required
from app.extensions import db
from app.notifications import bp
from app.notifications.models import OutboxEmail
from app.core.inputs import arg_int

PAGE_SIZE = 50
# Mail whose links are a key to the recipient's account.
PRIVATE_TEMPLATES = frozenset({
    "accounts/emails/reset", "accounts/emails/invitation", "accounts/emails/email_change",
    "accounts/emails/email_changed", "accounts/emails/signin_link",
})
URL = re.compile(r"https?://\S+")


def shown_body(email: OutboxEmail, viewer_email: str) -> str:
    """The mail's text as the page shows it: private links of other people's mail masked."""
    if email.template not in PRIVATE_TEMPLATES or email.recipient.strip().lower() == (viewer_email or "").lower():
        return email.body_text
    hidden = _("（链接已隐藏：只有收件人本人可以使用）")
    return URL.sub(lambda m: m.group(0).split("//", 1)[-1].split("/", 1)[0] + "/… " + hidden, email.body_text)


@bp.route("/manage/mail")
@admin_required
def manage_mail() -> ResponseReturnValue:
    """Recent mail (development only: MAIL_SHOW_IN_APP), newest first, filterable by recipient."""
    if not current_app.config["MAIL_SHOW_IN_APP"]:
        abort(404)
    recipient = (request.args.get("to") or "").strip().lower()
    before = arg_int("before")
    stmt = sa.select(OutboxEmail).order_by(OutboxEmail.id.desc()).limit(PAGE_SIZE + 1)
    if recipient:
        stmt = stmt.where(sa.func.lower(OutboxEmail.recipient) == recipient)
    if before:
        stmt = stmt.where(OutboxEmail.id < before)
    emails = db.session.scalars(stmt).all()
    next_url = None
    if len(emails) > PAGE_SIZE:  # keyset: the next page starts below the last id shown
        emails = emails[:PAGE_SIZE]
        next_url = url_for("notifications.manage_mail", to=recipient or None, before=emails[-1].id)
    bodies = {e.id: shown_body(e, current_user.email) for e in emails}
    return render_template("notifications/manage_mail.html", emails=emails, recipient=recipient, next_url=next_url,
                           bodies=bodies)
