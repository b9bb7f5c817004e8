"""Signing in: the password check, throttling per account and per address, equal time for unknown accounts."""
from __future__ import annotations

import math
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.accounts.models import LoginFailure, User
from app.accounts.services import AccountError, check_password, find_user_by_email, normalise_email
from app.core.timeutil import utcnow
from app.extensions import db


# Sign-in throttling -------------------------------------------------------------------------------------------

def _throttle_keys(email: str, ip: str | None) -> list[str]:
    keys = [f"email:{normalise_email(email)}"]
    if ip:
        keys.append(f"ip:{ip}")
    return keys


def login_wait_seconds(email: str, ip: str | None) -> int:
    """Seconds to wait before another attempt: 0 for the first free failures, then doubling per failure."""
    config = current_app.config
    free, base = config["LOGIN_FREE_FAILURES"], config["LOGIN_BASE_DELAY_SECONDS"]
    now = utcnow()
    window = now - timedelta(hours=24)
    wait = 0
    for key in _throttle_keys(email, ip):
        rows = db.session.execute(
            sa.select(sa.func.count(LoginFailure.id), sa.func.max(LoginFailure.failed_at))
            .where(LoginFailure.key == key, LoginFailure.failed_at > window)
        ).one()
        count, last = rows
        if count >= free and last is not None:
            delay = base * 2 ** min(count - free, 10)
            remaining = math.ceil((last + timedelta(seconds=delay) - now).total_seconds())
            wait = max(wait, remaining)
    return max(wait, 0)


def authenticate(email: str, password: str, ip: str | None) -> User:
    """The user for these credentials. Raises AccountError (wrong credentials, or too many failures)."""
    wait = login_wait_seconds(email, ip)
    if wait > 0:
        raise AccountError(_("登录失败次数过多，请在 %(seconds)s 秒后再试。", seconds=wait), field="password")
    user = find_user_by_email(email)
    if user is None or user.deleted_at is not None or not check_password(user, password):
        for key in _throttle_keys(email, ip):
            db.session.add(LoginFailure(key=key))
        raise AccountError(_("电子邮箱或密码不正确。"), field="password")
    if not user.is_active:  # told only to someone who knows the password
        raise AccountError(_("此账户已停用。如有疑问，请联系平台管理员。"), field="password")
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.key == f"email:{user.email}"))
    user.last_login_at = utcnow()
    return user
