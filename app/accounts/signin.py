"""Signing in: the password check, throttling per account and per address, equal time for unknown accounts, and
the e-mailed sign-in link that lets the owner in while the password form is throttled (issue 10).

Throttling: every attempt claims a slot of its keys (the account's address and the client's address) before the
password is checked. The claim is a compare-and-set on the key's row, committed in its own short transaction, so
20 guesses in parallel get exactly as many password checks as the rule allows: LOGIN_FREE_FAILURES, then one per
delay (LOGIN_BASE_DELAY_SECONDS, doubling). A success gives its slots back; failures older than a day are forgotten.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _

from app.accounts import services
from app.accounts.models import LoginThrottle, User
from app.accounts.services import AccountError, check_password, find_user_by_email, normalise_email
from app.accounts.tokens import load_user_for, make_token, state_fingerprint
from app.core.timeutil import utcnow
from app.extensions import db
from app.notifications.services import queue_email

WINDOW = timedelta(hours=24)
_dummy_hashes: dict[int, str] = {}


def _throttle_keys(email: str, ip: str | None) -> list[str]:
    keys = [f"email:{normalise_email(email)}"[:300]]
    if ip:
        keys.append(f"ip:{ip}"[:300])
    return keys


def _delay(failures: int) -> timedelta:
    config = current_app.config
    return timedelta(seconds=config["LOGIN_BASE_DELAY_SECONDS"] * 2 ** min(failures - config["LOGIN_FREE_FAILURES"], 10))


def _claim(key: str, now: datetime) -> tuple[int, tuple | None]:
    """Count an attempt for ``key`` if one is allowed now: (0, (the version it wrote, the delay it replaced)), else
    (the seconds to wait, None). Committed at once (the sign-in view has nothing else in its transaction), so that
    a parallel attempt sees it."""
    t = LoginThrottle.__table__
    free = current_app.config["LOGIN_FREE_FAILURES"]
    conn = db.session
    for _attempt in range(20):
        try:
            row = conn.execute(sa.select(t.c.failures, t.c.next_allowed_at, t.c.updated_at, t.c.version)
                               .where(t.c.key == key)).first()
            if row is None:
                insert = (sqlite_insert if db.session.get_bind().dialect.name == "sqlite" else pg_insert)(t)
                conn.execute(insert.on_conflict_do_nothing(),
                             {"key": key, "failures": 0, "updated_at": now, "version": 0})
                db.session.commit()
                continue
            failures = row.failures if row.updated_at > now - WINDOW else 0
            if failures >= free and row.next_allowed_at is not None and row.next_allowed_at > now:
                db.session.rollback()
                return max(1, math.ceil((row.next_allowed_at - now).total_seconds())), None
            failures += 1
            done = conn.execute(sa.update(t).where(t.c.key == key, t.c.version == row.version).values(
                failures=failures, updated_at=now, version=row.version + 1,
                next_allowed_at=now + _delay(failures) if failures >= free else None)).rowcount
            db.session.commit()
            if done == 1:
                return 0, (row.version + 1, row.next_allowed_at if failures > free else None)
        except sa.exc.OperationalError:  # SQLite busy under a burst: count it as contention and retry
            db.session.rollback()
    return 1, None  # heavy contention on this key: try again in a second


def _give_back(key: str, *, forget: bool, claimed: tuple | None = None) -> None:
    """After a success (or an attempt not checked after all): the account's failures are forgotten; the address
    gets its slot back and, unless another attempt counted since, the delay it had before: a correct sign-in never
    holds up the next person behind the same address (an office's NAT), nor shortens a delay failures earned."""
    t = LoginThrottle.__table__
    if forget:
        values = {"failures": 0, "next_allowed_at": None}
    else:
        values = {"failures": t.c.failures - 1}
        if claimed is not None:
            version, delay_before = claimed
            before = sa.null() if delay_before is None else sa.literal(delay_before, t.c.next_allowed_at.type)
            values["next_allowed_at"] = sa.case((t.c.version == version, before), else_=t.c.next_allowed_at)
    db.session.execute(sa.update(t).where(t.c.key == key, t.c.failures > 0)
                       .values(version=t.c.version + 1, **values))


def purge(now: datetime | None = None) -> int:
    """Forget throttle rows untouched for longer than the window (the scheduler runs this daily)."""
    cutoff = (now or utcnow()) - WINDOW - timedelta(days=1)
    return db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.updated_at < cutoff)).rowcount


def login_wait_seconds(email: str, ip: str | None) -> int:
    """Seconds before another attempt is allowed (without counting one)."""
    now, free, wait = utcnow(), current_app.config["LOGIN_FREE_FAILURES"], 0
    for key in _throttle_keys(email, ip):
        row = db.session.get(LoginThrottle, key, populate_existing=True)
        if row and row.updated_at > now - WINDOW and row.failures >= free and row.next_allowed_at:
            wait = max(wait, math.ceil((row.next_allowed_at - now).total_seconds()))
    return max(wait, 0)


def _spend_hashing_time(password: str) -> None:
    """Verify against a dummy hash, so that an unknown address takes as long as a wrong password."""
    hasher = services._hasher()
    key = id(hasher)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = hasher.hash("dummy password for equal timing")
    try:
        hasher.verify(_dummy_hashes[key], password)
    except (VerificationError, InvalidHashError):
        pass


def authenticate(email: str, password: str, ip: str | None) -> User:
    """The user for these credentials. Raises AccountError (wrong credentials, or too many failures)."""
    now = utcnow()
    keys = _throttle_keys(email, ip)
    claims = {}
    for n, key in enumerate(keys):
        wait, claims[key] = _claim(key, now)
        if wait:
            for claimed in keys[:n]:  # not checked after all: give the earlier keys their slot back
                _give_back(claimed, forget=False, claimed=claims[claimed])
            raise AccountError(_("登录失败次数过多，请在 %(seconds)s 秒后再试，或用邮件中的登录链接登录。",
                                 seconds=wait), field="password")
    user = find_user_by_email(email)
    if user is None or user.deleted_at is not None or not user.password_hash:
        _spend_hashing_time(password)
        raise AccountError(_("电子邮箱或密码不正确。"), field="password")
    if not check_password(user, password):
        raise AccountError(_("电子邮箱或密码不正确。"), field="password")
    if not user.is_active:  # told only to someone who knows the password
        raise AccountError(_("此账户已停用。如有疑问，请联系平台管理员。"), field="password")
    _give_back(keys[0], forget=True)
    for key in keys[1:]:
        _give_back(key, forget=False, claimed=claims[key])
    user.last_login_at = now
    return user


# The e-mailed sign-in link ------------------------------------------------------------------------------------

def _link_fingerprint(user: User, data: dict | None = None) -> str:
    # Works once: signing in moves last_login_at on; a new password ends it too.
    return state_fingerprint("signin", user.email, user.last_login_at, user.session_fingerprint)


def request_signin_link(email: str) -> None:
    """Mail a one-time sign-in link when an active account has this address. Says nothing either way."""
    user = find_user_by_email(email)
    if user is None or not user.is_active or not user.password_hash:
        return
    token = make_token("signin", user.id, _link_fingerprint(user))
    queue_email(user.email, "accounts/emails/signin_link", user=user,
                link=services._absolute("accounts.signin_with_link", token=token),
                hours=current_app.config["RESET_LINK_HOURS"])


def check_signin_link(token: str) -> User:
    user, _data = load_user_for("signin", token, current_app.config["RESET_LINK_HOURS"], _link_fingerprint)
    if not user.is_active:
        raise services.LinkError("invalid")
    return user


def sign_in_with_link(token: str) -> User:
    """The owner, from the link in their mailbox: the account's throttle is cleared."""
    user = check_signin_link(token)
    _give_back(f"email:{user.email}", forget=True)
    user.last_login_at = utcnow()
    return user
