"""Undoing a change of e-mail address from the old address (issue 10).

When an address changes, the old address gets a notice with a link (EMAIL_UNDO_HOURS, once). Following it puts the
old address back, ends every session, replaces the password with a random one and mails a reset link to the old
address: whoever changed the address, only the owner of the old mailbox gets back in.
"""
from __future__ import annotations

import secrets

from flask import current_app
from flask_babel import gettext as _

from app.accounts import services
from app.accounts.models import Role, User
from app.accounts.tokens import load_user_for
from app.core.audit import audit
from app.core.timeutil import utcnow


def check(token: str) -> tuple[User, dict]:
    return load_user_for("email-undo", token, current_app.config["EMAIL_UNDO_HOURS"], services.email_undo_fingerprint)


def undo(token: str) -> User:
    """Put the old address back. Raises LinkError (broken, expired, used) or AccountError (address taken)."""
    user, data = check(token)
    old = services.normalise_email(data.get("o", ""))
    if services.email_taken(old):
        raise services.AccountError(_("原电子邮箱已被其他账户使用，无法恢复。请联系平台管理员。"), field="email")
    new = user.email
    user.email = old
    user.email_verified_at = utcnow()
    services.set_password(user, secrets.token_urlsafe(32))  # ends every session; the owner sets a new one
    services.request_password_reset(old)
    if user.role in (Role.STAFF, Role.ADMIN):
        audit(user, "accounts.undo_email_change", user, from_email=new)
    return user
