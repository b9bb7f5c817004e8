"""Server-side sign-in sessions (issue 10): a row per signed-in browser, checked on every request.

The session cookie and the remember-me cookie both carry Flask-Login's id ``<user id>.<password digest>.<token>``;
the database keeps only the token's SHA-256. Signing out ends the row, so replaying either cookie afterwards
finds nothing; "sign out everywhere", a new password and a new e-mail address end every row of the account.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm.util import identity_key
from flask import current_app, g, has_request_context, request
from flask_login import current_user, login_user

from app.accounts.models import User, UserSession
from app.core import rows
from app.core.timeutil import utcnow
from app.extensions import db

# last_seen_at is written at most this often (a write per request would be wasteful).
TOUCH_EVERY = timedelta(minutes=5)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def remember_days() -> int:
    return int(current_app.config["REMEMBER_COOKIE_DAYS"])


def _lifetime(remember: bool) -> timedelta:
    if remember:
        return timedelta(days=remember_days())
    return timedelta(hours=int(current_app.config["SESSION_IDLE_HOURS"]))


def start(user: User, *, remember: bool = False, now: datetime | None = None) -> UserSession:
    """A new live session for ``user``; its token is set on the user so that ``get_id`` carries it."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    row = UserSession(user_id=user.id, token_hash=_digest(token), remember=remember, created_at=now,
                      last_seen_at=now, expires_at=now + _lifetime(remember))
    if has_request_context():
        row.ip_address = (request.remote_addr or "")[:45]
        row.user_agent = request.user_agent.string[:300]
    db.session.add(row)
    db.session.flush()
    user.session_token = token
    g.user_session = row
    return row


def sign_in(user: User, *, remember: bool = False) -> UserSession:
    """Start a session and sign the browser in with it (cookies set by Flask-Login). The caller commits."""
    row = start(user, remember=remember)
    login_user(user, remember=remember, duration=timedelta(days=remember_days()))
    return row


# Built once: every request runs it, and a prebuilt statement's compiled form is found without building it again.
_WHERE = (UserSession.token_hash == sa.bindparam("token_hash"), UserSession.user_id == sa.bindparam("user_id"))
LOAD = (sa.select(UserSession, User).join(User, User.id == UserSession.user_id).where(*_WHERE)
        .execution_options(populate_existing=True))
# The same as columns (core.rows.run), for a request whose database session holds neither row yet (every request
# but those of tests that share one): the objects are then made from the row, with no ORM query (2026-12-01: the
# signed-in user's ORM query was a fifth of a sign-up's CPU in the workers).
_S, _U = UserSession.__table__, User.__table__
LOAD_COLUMNS = (sa.select(*_S.c, *(c.label(f"u_{c.key}") for c in _U.c)).join_from(_S, _U, _U.c.id == _S.c.user_id)
                .where(*_WHERE))
_SESSION_KEYS = tuple(c.key for c in _S.c)
_USER_KEYS = tuple((c.key, f"u_{c.key}") for c in _U.c)


def _read(token_hash: str, user_id: int) -> tuple[UserSession, User] | None:
    """The session row (a plain copy: ``current`` makes it an object of the database session when a page needs it)
    and its account, an object of the database session; the ORM query when that session holds the account already
    (tests that share one), which it refreshes."""
    if identity_key(User, user_id) in db.session.identity_map:
        return db.session.execute(LOAD, {"token_hash": token_hash, "user_id": user_id}).first()
    found = rows.run(LOAD_COLUMNS, {"token_hash": token_hash, "user_id": user_id})
    if not found:
        return None
    values = found[0]._asdict()
    # The account joins the session (pages read its relationships); most requests only read the session row.
    return (rows.copy(UserSession, {k: values[k] for k in _SESSION_KEYS}),
            rows.attach(User, {k: values[label] for k, label in _USER_KEYS}))


def load(session_id: str) -> User | None:
    """Flask-Login's user loader: the user of a live session, or None (ended, expired, unknown, old password)."""
    parts = (session_id or "").split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2] or len(parts[0]) > 12:
        return None
    user_id, fingerprint, token = int(parts[0]), parts[1], parts[2]
    # One query for both (as many per request as before server-side sessions).
    found = _read(_digest(token), user_id)
    now = utcnow()
    if found is None:
        return None
    row, user = found
    if not row.is_live(now) or not user.is_active or fingerprint != user.session_fingerprint:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        values = {"last_seen_at": now}
        if not row.remember:  # an idle session expires; a remembered one lasts its fixed lifetime
            values["expires_at"] = now + _lifetime(False)
        g.user_session_touch = (row.id, values)  # written after the view (touch_after_request)
    user.session_token = token
    g.user_session = row
    return user


def forget_before_request() -> None:
    """Each request starts without a session row (tests share one app context, and so ``g``, across requests)."""
    g.pop("user_session", None)
    g.pop("user_session_touch", None)


def touch_after_request(response):
    """Record the session's last activity in its own short transaction, after the view has committed (the user
    loader may run in the middle of a view, whose unfinished work must not be committed with it)."""
    pending = g.pop("user_session_touch", None)
    if pending is not None:
        session_id, values = pending
        try:
            with db.engine.begin() as conn:
                conn.execute(sa.update(UserSession).where(UserSession.id == session_id,
                                                          UserSession.ended_at.is_(None)).values(**values))
        except sa.exc.OperationalError:  # busy database: the next request records it
            current_app.logger.warning("could not record session activity", exc_info=True)
    return response


def current() -> UserSession | None:
    """This request's session row (loading the signed-in user first if nothing has yet)."""
    if not has_request_context():
        return None
    if "user_session" not in g:
        _ = current_user.is_authenticated  # runs the user loader, which sets g.user_session
    row = g.get("user_session")
    if row is not None and sa.inspect(row).transient:  # the loader's copy: given to the session now
        row = g.user_session = db.session.identity_map.get(identity_key(UserSession, row.id)) or rows.attach(
            UserSession, {k: row.__dict__[k] for k in _SESSION_KEYS})
    return row


def end_current(now: datetime | None = None) -> None:
    row = current()
    if row is not None and row.ended_at is None:
        row.ended_at = now or utcnow()
        db.session.flush()


def end(user: User, session_id: int, now: datetime | None = None) -> bool:
    """End one of ``user``'s own sessions; False when it is not theirs or already ended."""
    return bool(db.session.execute(
        sa.update(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id,
                                     UserSession.ended_at.is_(None))
        .values(ended_at=now or utcnow()).execution_options(synchronize_session=False)).rowcount)


def end_all(user: User, now: datetime | None = None) -> int:
    """End every session of ``user`` (sign out everywhere, new password, new e-mail address)."""
    if user.id is None:
        return 0
    n = db.session.execute(
        sa.update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=now or utcnow()).execution_options(synchronize_session=False)).rowcount
    row = current()
    if row is not None and row.user_id == user.id:
        db.session.refresh(row)
    return n


def live_sessions(user: User, now: datetime | None = None) -> list[UserSession]:
    now = now or utcnow()
    return list(db.session.scalars(
        sa.select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None),
                                     UserSession.expires_at > now)
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())))


def purge(now: datetime | None = None, keep_days: int = 30) -> int:
    """Delete sessions ended or expired more than ``keep_days`` ago (the scheduler runs this daily)."""
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    return db.session.execute(sa.delete(UserSession).where(
        sa.or_(UserSession.ended_at < cutoff, UserSession.expires_at < cutoff))).rowcount
