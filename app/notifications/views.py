"""Staff page that shows recent outbox mail, for development and for support."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.accounts.permissions import staff_required
from app.extensions import db
from app.notifications import bp
from app.notifications.models import OutboxEmail
from app.core.inputs import arg_int

PAGE_SIZE = 50

@bp.route("/manage/mail")
@staff_required
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
    return render_template("notifications/manage_mail.html", emails=emails, recipient=recipient, next_url=next_url)
