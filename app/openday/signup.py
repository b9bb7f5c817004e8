"""Signing up for a session: the Open Month's busiest path (a popular session opens and thousands sign up at once).

Every sign-up for one session waits for the one before it (the session's row lock), so this path does little and
asks the database few times. For a new sign-up, after the signed-in user's row, in this order:

1. the session and its activity, in one query (what the rules check and the e-mail shows);
2. the person's row lock (``lock_user``), then their registrations for this session or at the same time;
3. the session's row lock with its counters, ``SELECT ... FOR UPDATE``;
4. the new counters (``UPDATE``) and the registration (``INSERT ... RETURNING id``);
5. the commit (``core.hotcommit``; the view commits). The confirmation mail is queued by a job
   (``jobs.mail_signups``, every few seconds) from the registration's ``signup_mail_due``, written by the same
   INSERT: nothing is lost, and the lock is not held to render and store a mail. No "my space" notice: the person has
   just done it themselves and the page tells them (as for a hearing application they submit).

On PostgreSQL steps 1 to 4 take three round trips, not six: the sign-up page's query 1 takes the person's lock too
(``load(..., person_id=)``), the registrations of 2 are read by the statement that locks the session (3), and 4 is one
statement.

The rules are the models' own: ``ActivitySession.take_seat`` / ``join_waitlist`` / ``reopen`` and
``Registration``'s transitions, applied to detached copies (transient objects, never added to the database session)
of the rows read in 1. and 3.; step 4 writes what they changed with Core (two statements on SQLite). A cancelled
registration signed up again is the one exception: it is loaded and changed as an ORM object (flushed at the commit).

On SQLite the session's lock is a write to its row first (see ``lock_counters``): the write lock is then held
before anything is counted.
"""
from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app import signals
from app.accounts.models import Role, User
from app.core import rows
from app.core.timeutil import format_local, utcnow
from app.extensions import db
from app.openday.models import (
    ACTIVE_STATES,
    Activity,
    ActivitySession,
    ActivityState,
    Eligibility,
    OpenDayError,
    Registration,
    RegistrationState,
    new_short_code,
    new_ticket_code,
)

RS = RegistrationState
S, A, R = ActivitySession.__table__, Activity.__table__, Registration.__table__

# What a sign-up reads of the session before the lock (the counters are read under it) and of its activity.
SESSION_COLUMNS = ("id", "activity_id", "starts_at", "ends_at", "capacity", "has_waitlist")
ACTIVITY_COLUMNS = ("id", "department_id", "title", "mode", "address", "online_url", "signup_opens_at",
                    "signup_closes_at", "eligibility", "max_companions", "published_at", "cancelled_at")
COUNTERS = ("confirmed_seats", "offered_seats", "waitlist_count", "waitlist_tail", "cancelled_count")


class SignedUp(NamedTuple):
    """What the person is told: the registration, its state and (waitlisted) its place in the queue."""

    id: int
    state: RegistrationState
    waitlist_position: int | None


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _param(name: str) -> sa.BindParameter:
    return sa.bindparam(name, type_=sa.Integer)


# The statements, built once (their compiled forms are then found in SQLAlchemy's cache without being built again).
U = User.__table__
LOCK_USER = {
    True: sa.select(U.c.id).where(U.c.id == _param("user_id")).with_for_update(key_share=True),
    False: sa.update(U).where(U.c.id == _param("user_id")).values(id=U.c.id),  # SQLite: the write lock
}
LOAD = (sa.select(*(S.c[k] for k in SESSION_COLUMNS), *(A.c[k].label(f"a_{k}") for k in ACTIVITY_COLUMNS))
        .join_from(S, A, A.c.id == S.c.activity_id).where(S.c.id == _param("session_id")))
LOCK_COUNTERS = {
    True: sa.select(*(S.c[k] for k in COUNTERS)).where(S.c.id == _param("session_id")).with_for_update(),
    # SQLite: a write first, so the write lock is held before anything is counted.
    False: sa.update(S).where(S.c.id == _param("session_id")).values(id=S.c.id).returning(*(S.c[k] for k in COUNTERS)),
}
WRITE_COUNTERS = sa.update(S).where(S.c.id == _param("session_id")).values({k: _param(f"new_{k}") for k in COUNTERS})
MINE = sa.select(R.c.id, R.c.session_id, R.c.state).where(
    R.c.user_id == _param("user_id"),
    sa.or_(R.c.session_id == _param("session_id"),
           # (the active states as ORed equalities, not IN: an IN list is expanded at each execution, see rows.run)
           sa.and_(sa.or_(*(R.c.state == s for s in ACTIVE_STATES)),
                   R.c.starts_at < sa.bindparam("ends_at", type_=S.c.ends_at.type),
                   R.c.ends_at > sa.bindparam("starts_at", type_=S.c.starts_at.type))))
INSERT_REGISTRATION = sa.insert(R).returning(R.c.id)
# PostgreSQL: the new counters and the new registration in one statement (the UPDATE runs as a data-modifying WITH,
# on the row this transaction has locked): one round trip fewer under the session's lock. Built once per set of the
# registration's columns (its parameters are named r_<column>, and the session's sid: an execution parameter named
# like a column would be added to the UPDATE's SET or the INSERT's columns).
_SEAT_AND_REGISTRATION: dict[tuple[str, ...], sa.Insert] = {}


def _seat_and_registration(columns: tuple[str, ...]) -> sa.Insert:
    stmt = _SEAT_AND_REGISTRATION.get(columns)
    if stmt is None:
        counters = (sa.update(S).where(S.c.id == _param("sid"))
                    .values({k: _param(f"new_{k}") for k in COUNTERS}).cte("new_counters"))
        stmt = (sa.insert(R).values({k: sa.bindparam(f"r_{k}", type_=R.c[k].type) for k in columns})
                .returning(R.c.id).add_cte(counters))
        _SEAT_AND_REGISTRATION[columns] = stmt
    return stmt


# PostgreSQL, two round trips fewer for a sign-up (the order of the locks and reads stays the same):
# - the session read together with the person's lock (``load(..., person_id=)``). The lock is taken as that statement
#   runs, so a later statement sees whatever the lock's previous holder committed;
# - the session's lock and counters read together with the person's registrations (the next statement: it sees them).
LOAD_LOCKING_PERSON = LOAD.add_columns(
    sa.select(U.c.id).where(U.c.id == _param("user_id")).with_for_update(key_share=True).scalar_subquery()
    .label("locked_person"))
_MINE = MINE.subquery("mine")
LOCK_COUNTERS_READ_MINE = (
    sa.select(*(S.c[k] for k in COUNTERS), _MINE.c.id, _MINE.c.session_id, _MINE.c.state)
    .select_from(S).outerjoin(_MINE, sa.true()).where(S.c.id == _param("session_id")).with_for_update(of=S))


def lock_user(user_id: int) -> None:
    """Serialise one person's sign-ups and votes (overlap check, vote limit)."""
    rows.run(LOCK_USER[_is_postgres()], {"user_id": user_id})


def load(session_id: int, person_id: int | None = None) -> ActivitySession | None:
    """The session with its activity, as detached copies read in one query (None: no such session). What this
    request changed through the ORM is flushed first, so the copies are current. With ``person_id`` (PostgreSQL), the
    same query takes that person's lock (``lock_user``), and ``sign_up`` does not take it again."""
    db.session.flush()
    locking = person_id is not None and _is_postgres()
    found = rows.run(LOAD_LOCKING_PERSON if locking else LOAD, {"session_id": session_id, "user_id": person_id})
    if not found:
        return None
    values = found[0]._asdict()
    activity = rows.copy(Activity, {k: values[f"a_{k}"] for k in ACTIVITY_COLUMNS})
    session = rows.copy(ActivitySession, {"activity": activity, **{k: values[k] for k in SESSION_COLUMNS}})
    session.person_locked = person_id if locking else None
    return session


def lock_counters(session: ActivitySession) -> None:
    """Lock the session's row for the rest of the transaction and copy its latest counters onto ``session``."""
    found = rows.run(LOCK_COUNTERS[_is_postgres()], {"session_id": session.id})
    _take_counters(session, found[0] if found else None)


def _take_counters(session: ActivitySession, row) -> None:
    """Copy the locked row's counters onto ``session`` (no row: the session is gone)."""
    if row is None:
        raise OpenDayError(_("找不到该场次。"))
    session.__dict__.update(zip(COUNTERS, row))


def _lock_counters_read_mine(actor: User, session: ActivitySession) -> list:
    """Under the person's lock: lock the session (its counters copied onto ``session``) and read the person's
    registrations for this session or at the same time (``MINE``)."""
    params = {"user_id": actor.id, "session_id": session.id, "starts_at": session.starts_at,
              "ends_at": session.ends_at}
    if not _is_postgres():
        mine = rows.run(MINE, params)
        lock_counters(session)
        return mine
    found = rows.run(LOCK_COUNTERS_READ_MINE, params)
    _take_counters(session, found[0] if found else None)
    return [r for r in found if r.id is not None]


def _insert_with_counters(session: ActivitySession, values: dict, new_counters: dict) -> int:
    """Write the session's new counters and insert the registration (``values``); its id. One statement on
    PostgreSQL (``_seat_and_registration``), two on SQLite."""
    values = rows.with_defaults(R, values)  # given, not left to the INSERT (a WITH's INSERT skips them)
    if not _is_postgres():
        rows.run(WRITE_COUNTERS, {"session_id": session.id, **new_counters})
        return rows.run(INSERT_REGISTRATION, values)[0][0]
    return rows.run(_seat_and_registration(tuple(values)), {
        "sid": session.id, **new_counters, **{f"r_{k}": v for k, v in values.items()}})[0][0]


def check_eligibility(activity: Activity, user: User) -> None:
    rule = activity.eligibility
    if rule is Eligibility.RESIDENTS and user.role is not Role.RESIDENT:
        raise OpenDayError(_("本活动仅限居民报名。"))
    if rule is Eligibility.ENTERPRISES and user.role is not Role.ENTERPRISE:
        raise OpenDayError(_("本活动仅限企业代表报名。"))
    if rule is Eligibility.ADULTS and (not user.age_band or user.age_band == "under_18"):
        raise OpenDayError(_("本活动仅限年满18周岁的人报名；请先在个人资料中填写年龄段。"))


def check_open(session: ActivitySession, actor: User, companions: int, now: datetime) -> None:
    """The rules that need no lock: the person, the activity's state and window, eligibility, companions."""
    activity = session.activity
    if not actor.is_verified:
        raise OpenDayError(_("请先验证您的电子邮箱地址，然后再报名。"))
    if activity.state is ActivityState.CANCELLED:
        raise OpenDayError(_("该活动已取消，不能报名。"))
    if activity.state is not ActivityState.PUBLISHED:
        raise OpenDayError(_("该活动尚未发布。"))
    if now < activity.signup_opens_at:
        raise OpenDayError(_("报名尚未开始：报名时间为 %(opens)s 至 %(closes)s。",
                             opens=format_local(activity.signup_opens_at), closes=format_local(activity.signup_closes_at)))
    if now >= activity.signup_closes_at or now >= session.starts_at:
        raise OpenDayError(_("报名已截止。"))
    check_eligibility(activity, actor)
    if companions < 0 or companions > activity.max_companions:
        if activity.max_companions == 0:
            raise OpenDayError(_("本活动不能携带同行人员。"), field="companions")
        raise OpenDayError(_("每人最多可携带 %(n)d 名同行人员。", n=activity.max_companions), field="companions")


def _own_registration(session: ActivitySession, mine: list) -> int | None:
    """From the person's registrations (``MINE``): the id of their cancelled registration for this session (signed up
    again), or None. Refuses an active one, and an active one at an overlapping time."""
    existing = next((r for r in mine if r.session_id == session.id), None)
    if existing is not None and existing.state is not RS.CANCELLED:
        raise OpenDayError(_("您已报名该场次，不能重复报名。"))
    if any(r.session_id != session.id for r in mine):
        raise OpenDayError(_("您已报名了时间与此重叠的另一场次，不能同时报名。"))
    return existing.id if existing is not None else None


def ticket_url(reg_id: int) -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}/openday/tickets/{reg_id}"


def sign_up(actor: User, session: ActivitySession, companions: int = 0, now: datetime | None = None) -> SignedUp:
    """Sign ``actor`` up for ``session`` (a copy from ``load``): confirmed while seats remain, else on the waitlist
    with a position. Never commits; queues the e-mail and sends ``registration_changed``."""
    now = now or utcnow()
    check_open(session, actor, companions, now)

    # The person's own registrations first, under the person's lock (every sign-up of theirs takes it, and
    # nothing else makes one of their registrations active), so the session lock is held only to count and insert.
    # Two statements, not one: under READ COMMITTED a statement reads the snapshot taken when it began, before it
    # waited for the lock, so only a later statement sees what the lock's previous holder committed (a merged
    # statement let one person into two sessions at once: tests/openday/test_concurrency.py).
    if getattr(session, "person_locked", None) != actor.id:
        lock_user(actor.id)
    cancelled_id = _own_registration(session, _lock_counters_read_mine(actor, session))

    if cancelled_id is not None:
        reg = db.session.get(Registration, cancelled_id, populate_existing=True)
        session.reopen(reg)
    else:
        reg = Registration(session_id=session.id, activity_id=session.activity_id, user_id=actor.id,
                           ticket_code=new_ticket_code(), short_code=new_short_code())
    reg.companions = companions
    reg.starts_at, reg.ends_at = session.starts_at, session.ends_at
    reg.created_at = now
    reg.signup_mail_due = bool(actor.email)  # queued by jobs.mail_signups, not under the session's lock
    if session.waitlist_count == 0 and session.seats_left >= reg.seats:
        session.take_seat(reg, now)
    else:
        session.join_waitlist(reg)
    new_counters = {f"new_{k}": getattr(session, k) for k in COUNTERS}
    if cancelled_id is None:
        reg.id = _insert_with_counters(session, {k: v for k, v in reg.__dict__.items() if k in R.c}, new_counters)
        reg.activity = session.activity  # both detached copies (the notice names the activity)
    else:
        db.session.execute(WRITE_COUNTERS, {"session_id": session.id, **new_counters})
        db.session.flush()
    signals.registration_changed.send(reg, by_person=True)  # (no notice: they have just done it)
    return SignedUp(reg.id, reg.state, reg.waitlist_position)
