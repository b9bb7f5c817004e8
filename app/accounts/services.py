"""Account use cases. They take the acting user as an argument, flush but never commit."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, url_for
from flask_babel import gettext as _

from app import signals
from app.accounts.models import LoginFailure, Role, User
from app.accounts.tokens import LinkError, load_user_for, make_token, state_fingerprint
from app.accounts.validators import normalise_uscc
from app.core.audit import audit
from app.core.timeutil import utcnow
from app.extensions import db
from app.notifications.services import queue_email

_hasher = PasswordHasher()  # Argon2id with the library's current defaults


class AccountError(Exception):
    """A rule a person broke; ``field`` names the form field the message belongs next to."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


# Passwords ----------------------------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()


# Lookups ------------------------------------------------------------------------------------------------------

def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def email_taken(email: str) -> bool:
    return find_user_by_email(email) is not None


# Registration and verification --------------------------------------------------------------------------------

def _verify_fingerprint(user: User, data: dict | None = None) -> str:
    return state_fingerprint("verify", user.email, user.email_verified_at)


def send_verification(user: User) -> None:
    token = make_token("verify", user.id, _verify_fingerprint(user))
    queue_email(user.email, "accounts/emails/verify", user=user,
                link=current_app.config["BASE_URL"].rstrip("/") + url_for("accounts.verify", token=token))


def register_user(*, email: str, password: str, name: str, role: Role = Role.RESIDENT,
                  organisation_name: str | None = None, uscc: str | None = None,
                  district: str | None = None, locale: str = "zh") -> User:
    if role not in (Role.RESIDENT, Role.ENTERPRISE):
        raise ValueError("only residents and enterprise representatives register themselves")
    email = normalise_email(email)
    if email_taken(email):
        raise AccountError(_("该电子邮箱已注册。如果忘记了密码，请使用“找回密码”。"), field="email")
    user = User(email=email, name=name.strip(), role=role, district=district or None, locale=locale)
    if role is Role.ENTERPRISE:
        user.organisation_name = (organisation_name or "").strip()
        user.uscc = normalise_uscc(uscc or "")
    set_password(user, password)
    db.session.add(user)
    db.session.flush()
    send_verification(user)
    signals.user_registered.send(user)
    return user


def verify_email(token: str) -> User:
    """Mark the address verified. Raises LinkError for a broken, expired or already used link."""
    user, _data = load_user_for("verify", token, current_app.config["VERIFY_LINK_HOURS"], _verify_fingerprint)
    user.email_verified_at = utcnow()
    return user


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
            remaining = int((last + timedelta(seconds=delay) - now).total_seconds()) + 1
            wait = max(wait, remaining)
    return max(wait, 0)


def authenticate(email: str, password: str, ip: str | None) -> User:
    """The user for these credentials. Raises AccountError (wrong credentials, or too many failures)."""
    wait = login_wait_seconds(email, ip)
    if wait > 0:
        raise AccountError(_("登录失败次数过多，请在 %(seconds)s 秒后再试。", seconds=wait), field="password")
    user = find_user_by_email(email)
    if user is None or not user.is_active or not check_password(user, password):
        for key in _throttle_keys(email, ip):
            db.session.add(LoginFailure(key=key))
        raise AccountError(_("电子邮箱或密码不正确。"), field="password")
    db.session.execute(sa.delete(LoginFailure).where(LoginFailure.key == f"email:{user.email}"))
    user.last_login_at = utcnow()
    return user


# Administration -----------------------------------------------------------------------------------------------

def create_admin(*, email: str, name: str, password: str, actor: User | None = None) -> User:
    email = normalise_email(email)
    if email_taken(email):
        raise AccountError(_("该电子邮箱已注册。"), field="email")
    user = User(email=email, name=name, role=Role.ADMIN, email_verified_at=utcnow())
    set_password(user, password)
    db.session.add(user)
    db.session.flush()
    audit(actor, "user.create_admin", user)
    return user
