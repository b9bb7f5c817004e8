"""Failed mail, for the oversight admin: what could not be sent and why, and "send again" (one or all)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.permissions import admin_required
from app.core.audit import audit
from app.core.inputs import form_int
from app.extensions import db
from app.notifications import bp
from app.notifications.jobs import retry_failed
from app.notifications.models import OutboxEmail, OutboxState

LIMIT = 200


@bp.route("/manage/mail/failed")
@admin_required
def manage_failed_mail() -> ResponseReturnValue:
    emails = db.session.scalars(sa.select(OutboxEmail).where(OutboxEmail.state == OutboxState.FAILED)
                                .order_by(OutboxEmail.id.desc()).limit(LIMIT)).all()
    total = db.session.scalar(sa.select(sa.func.count()).where(OutboxEmail.state == OutboxState.FAILED))
    return render_template("notifications/failed_mail.html", emails=emails, total=total)


@bp.route("/manage/mail/failed/retry", methods=["POST"])
@admin_required
def manage_retry_failed_mail() -> ResponseReturnValue:
    one = form_int("id")
    n = retry_failed([one] if one else None)
    audit(current_user, "mail.retry", object_type="OutboxEmail", object_id=one, count=n)
    db.session.commit()
    if n:
        flash(_("已重新排队 %(n)s 封邮件，将在一分钟内发送。", n=n), "success")
    else:
        flash(_("没有可以重新发送的邮件（已发送、已过期，或不存在）。"), "error")
    return redirect(url_for("notifications.manage_failed_mail"))
