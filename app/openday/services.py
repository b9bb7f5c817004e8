"""Use cases of the Open Month. They take the acting user, flush but never commit, write the audit log,
queue mail and send signals; a broken rule raises OpenDayError with a message the user can read.

Capacity (see pretix): a seat is taken under a lock on the session row, inside the transaction that counts and
inserts. On PostgreSQL that is ``SELECT ... FOR UPDATE``; on SQLite an UPDATE of the session row issued first,
which opens the write transaction (SQLite has one writer) before anything is counted. Either way the counters
read after the lock are the latest committed ones, and nobody else can change them until we commit.
Signing up is the busiest of these; it lives in ``signup.py``.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app import signals
from app.accounts.models import User
from app.core.audit import audit
from app.core.timeutil import format_local, utcnow
from app.extensions import db
from app.notifications.services import queue_email
from app.openday import signup
from app.openday.models import (
    Activity,
    ActivitySession,
    CheckIn,
    CheckInResult,
    OpenDayError,
    Rating,
    Registration,
    RegistrationState,
)

RS = RegistrationState
lock_user = signup.lock_user


# --------------------------------------------------------------------------------------------------- locks

def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def lock_session(session_id: int) -> ActivitySession:
    """Lock the session row for the rest of the transaction and return it with fresh counters."""
    stmt = sa.select(ActivitySession).where(ActivitySession.id == session_id)
    if _is_postgres():
        stmt = stmt.with_for_update()
    else:
        # SQLite: a write first, so the write lock is held before anything is counted.
        db.session.execute(sa.update(ActivitySession.__table__).where(ActivitySession.__table__.c.id == session_id)
                           .values(id=ActivitySession.__table__.c.id))
    session = db.session.execute(stmt.execution_options(populate_existing=True)).scalar_one_or_none()
    if session is None:
        raise OpenDayError(_("找不到该场次。"))
    return session


def _fresh(reg: Registration) -> Registration:
    return db.session.execute(sa.select(Registration).where(Registration.id == reg.id)
                              .execution_options(populate_existing=True)).scalar_one()


def _mail(reg: Registration, template: str, **context) -> None:
    user = reg.user
    if user is None or not user.email:
        return
    queue_email(user.email, f"openday/emails/{template}", user=user, registration=reg, session=reg.session,
                activity=reg.activity, ticket_url=signup.ticket_url(reg.id), **context)


def offer_hours() -> int:
    return int(current_app.config.get("OPENDAY_OFFER_HOURS", 24))


# ------------------------------------------------------------------------------------------------ sign-up

def sign_up(actor: User, session: ActivitySession, companions: int = 0, now: datetime | None = None) -> Registration:
    """Sign ``actor`` up (``signup.sign_up``) and return the registration as an ORM object; ``session``'s counters
    are read again when next used."""
    copy = signup.load(session.id)
    if copy is None:
        raise OpenDayError(_("找不到该场次。"))
    done = signup.sign_up(actor, copy, companions=companions, now=now)
    if session in db.session:
        db.session.expire(session)
    return db.session.get(Registration, done.id, populate_existing=True)


def waitlist_rank(reg: Registration) -> int | None:
    """The place in the queue now (1 = next to be offered a seat)."""
    if reg.state is not RS.WAITLISTED:
        return None
    ahead = db.session.scalar(sa.select(sa.func.count()).select_from(Registration).where(
        Registration.session_id == reg.session_id, Registration.state == RS.WAITLISTED,
        Registration.waitlist_position < reg.waitlist_position))
    return ahead + 1


def offer_next(session: ActivitySession, now: datetime) -> list[Registration]:
    """Offer free seats of the (locked) session to the waitlist in order, each with a time limit."""
    offered = []
    if session.has_started(now):
        return offered
    expires = min(now + timedelta(hours=offer_hours()), session.starts_at)
    while session.seats_left > 0 and session.waitlist_count > 0:
        candidate = db.session.scalar(
            sa.select(Registration).where(Registration.session_id == session.id, Registration.state == RS.WAITLISTED,
                                          1 + Registration.companions <= session.seats_left)
            .order_by(Registration.waitlist_position).limit(1))
        if candidate is None:
            break
        session.offer_seat(candidate, now, expires)
        db.session.flush()
        _mail(candidate, "offered", expires_at=expires, valid_until=expires)  # never sent after its deadline
        signals.registration_changed.send(candidate)
        offered.append(candidate)
    return offered


def cancel_registration(actor: User, reg: Registration, now: datetime | None = None, reason: str = "self") -> None:
    now = now or utcnow()
    session = lock_session(reg.session_id)
    reg = _fresh(reg)
    if reg.state in (RS.CANCELLED, RS.CHECKED_IN, RS.NO_SHOW):
        raise OpenDayError(_("这个报名不能再取消。"))
    if session.has_started(now):
        raise OpenDayError(_("场次已开始，不能再取消报名。"))
    session.release_seat(reg, now, reason)
    db.session.flush()
    signals.registration_changed.send(reg)
    offer_next(session, now)


def accept_offer(actor: User, reg: Registration, now: datetime | None = None) -> None:
    now = now or utcnow()
    session = lock_session(reg.session_id)
    reg = _fresh(reg)
    if reg.user_id != actor.id:
        raise OpenDayError(_("找不到该报名。"))
    if reg.state is not RS.OFFERED:
        raise OpenDayError(_("没有待接受的名额。"))
    if not reg.offer_is_live(now):
        raise OpenDayError(_("接受名额的期限已过，名额已让给下一位候补者。"))
    session.take_seat(reg, now)
    db.session.flush()
    _mail(reg, "confirmed")
    signals.registration_changed.send(reg)


def expire_offer(reg_id: int, now: datetime) -> bool:
    """Pass an expired offer to the next on the waitlist. Safe to run twice: it re-checks under the lock."""
    reg = db.session.get(Registration, reg_id)
    if reg is None:
        return False
    session = lock_session(reg.session_id)
    reg = _fresh(reg)
    if reg.state is not RS.OFFERED or reg.offer_expires_at is None or reg.offer_expires_at > now:
        return False
    session.release_seat(reg, now, "offer_expired")
    db.session.flush()
    _mail(reg, "offer_expired")
    signals.registration_changed.send(reg)
    offer_next(session, now)
    return True


# ----------------------------------------------------------------------------------------------- check-in

def normalise_code(raw: str) -> str:
    return (raw or "").strip()


def find_by_code(code: str) -> Registration | None:
    code = normalise_code(code)
    if not code or len(code) > 64:
        return None
    reg = db.session.scalar(sa.select(Registration).where(Registration.ticket_code == code))
    if reg is None:
        short = code.upper().replace("-", "").replace(" ", "")
        if len(short) == 8:
            reg = db.session.scalar(sa.select(Registration).where(Registration.short_code == short))
    return reg


def check_in(actor: User, session: ActivitySession, *, code: str = "", registration: Registration | None = None,
             method: str = "manual", user_agent: str = "", now: datetime | None = None) -> tuple[CheckInResult, Registration | None, str]:
    """Check a ticket in at the door. Every attempt is recorded. Returns (result, registration, message)."""
    now = now or utcnow()
    # By id (name search): only this session's registrations (ids are sequential); by code: only this department's.
    # Anything else is refused like a forged code and names nobody.
    reg = registration if registration is None or registration.session_id == session.id else None
    reg = find_by_code(code) if registration is None else reg
    if reg is not None and reg.activity.department_id != session.activity.department_id:
        reg = None
    result, message = CheckInResult.OK, ""
    if reg is None:
        result, message = CheckInResult.UNKNOWN, _("无效的票码：找不到这张票，未签到。")
    elif reg.session_id != session.id:
        result = CheckInResult.WRONG_SESSION
        message = _("这张票属于另一场次（%(title)s，%(when)s），不能在本场次签到。",
                    title=reg.activity.title, when=format_local(reg.session.starts_at))
    elif not (door := session.door_window(current_app.config["OPENDAY_CHECK_IN_OPENS_MINUTES"]))[0] <= now < door[1]:
        result = CheckInResult.NOT_TODAY
        message = _("本场次在 %(day)s 签到（%(opens)s 起），现在不能签到。",
                    day=format_local(session.starts_at, "%Y-%m-%d"), opens=format_local(door[0], "%H:%M"))
    elif reg.state is RS.CANCELLED:
        result, message = CheckInResult.CANCELLED, _("这张票已取消，不能签到。")
    elif reg.state is RS.CHECKED_IN:
        result = CheckInResult.ALREADY
        message = _("已于 %(time)s 签到，本次未重复签到。", time=format_local(reg.checked_in_at, "%H:%M"))
    elif reg.state not in (RS.CONFIRMED, RS.NO_SHOW):
        result, message = CheckInResult.NOT_CONFIRMED, _("这张票尚未确认（候补或待接受名额），不能签到。")
    else:
        was_no_show = reg.state is RS.NO_SHOW
        # A conditional update: two phones scanning the same ticket at once check it in once.
        done = db.session.execute(
            sa.update(Registration).where(Registration.id == reg.id, Registration.state == reg.state)
            .values(state=RS.CHECKED_IN, checked_in_at=now).execution_options(synchronize_session=False)).rowcount
        reg = _fresh(reg)
        if done == 1:
            s, a = ActivitySession.__table__, Activity.__table__
            s_values = {"checked_in_count": s.c.checked_in_count + 1}
            a_values = {"checked_in_count": a.c.checked_in_count + 1}
            if was_no_show:
                s_values["no_show_count"] = s.c.no_show_count - 1
                a_values["no_show_count"] = a.c.no_show_count - 1
            db.session.execute(sa.update(s).where(s.c.id == session.id).values(**s_values))
            db.session.execute(sa.update(a).where(a.c.id == reg.activity_id).values(**a_values))
            message = _("签到成功：%(name)s（同行 %(n)d 人）。", name=reg.user.name, n=reg.companions)
        else:
            result = CheckInResult.ALREADY
            message = _("已于 %(time)s 签到，本次未重复签到。", time=format_local(reg.checked_in_at, "%H:%M"))
    own = reg is not None and reg.session_id == session.id  # only this session's rows name someone on the page
    db.session.add(CheckIn(session_id=session.id, registration_id=reg.id if own else None,
                           staff_id=actor.id, scanned_at=now, code=normalise_code(code)[:64], method=method[:20],
                           user_agent=(user_agent or "")[:300], result=result))
    db.session.flush()
    if result is CheckInResult.OK:
        db.session.refresh(session)
        signals.registration_changed.send(reg)
    return result, reg, message


def mark_no_shows(actor: User, session: ActivitySession, now: datetime | None = None) -> int:
    """After the session has ended: everyone confirmed who did not come is a no-show."""
    now = now or utcnow()
    session = lock_session(session.id)
    if not session.has_ended(now):
        raise OpenDayError(_("场次结束后才能标记未到场。"))
    regs = db.session.scalars(sa.select(Registration).where(Registration.session_id == session.id,
                                                            Registration.state == RS.CONFIRMED)).all()
    session.mark_no_shows(list(regs), now)
    audit(actor, "openday.mark_no_shows", session, department_id=session.activity.department_id, count=len(regs))
    db.session.flush()
    return len(regs)


# ------------------------------------------------------------------------------------------------- rating

def rate(actor: User, reg: Registration, stars: int, comment: str = "", now: datetime | None = None) -> Rating:
    now = now or utcnow()
    if reg.user_id != actor.id:
        raise OpenDayError(_("找不到该报名。"))
    if reg.state is not RS.CHECKED_IN:
        raise OpenDayError(_("只有签到参加了活动的人才能评价。"))
    if not isinstance(stars, int) or not 1 <= stars <= 5:
        raise OpenDayError(_("请选择 1 到 5 星。"), field="stars")
    comment = (comment or "").strip()
    if len(comment) > 1000:
        raise OpenDayError(_("评价内容最多 1000 字。"), field="comment")
    session = lock_session(reg.session_id)
    if db.session.scalar(sa.select(Rating.id).where(Rating.registration_id == reg.id)) is not None:
        raise OpenDayError(_("您已评价过该场次，每场只能评价一次。"))
    rating = Rating(registration_id=reg.id, session_id=session.id, activity_id=reg.activity_id, user_id=actor.id,
                    stars=stars, comment=comment, created_at=now)
    db.session.add(rating)
    session.add_rating(stars)
    db.session.flush()
    return rating


# --------------------------------------------------------------------------------------------------- staff

ACTIVITY_FIELDS = ("title", "description", "mode", "district", "address", "access_notes", "online_url",
                   "signup_opens_at", "signup_closes_at", "eligibility", "max_companions")
PLACE_FIELDS = ("mode", "district", "address", "online_url")


def _validate_activity(activity: Activity) -> None:
    if activity.signup_closes_at <= activity.signup_opens_at:
        raise OpenDayError(_("报名截止时间必须晚于报名开始时间。"), field="signup_closes_at")
    if not 0 <= activity.max_companions <= 2:
        raise OpenDayError(_("同行人数只能是 0 到 2。"), field="max_companions")


def create_activity(actor: User, department_id: int, tags=(), **fields) -> Activity:
    activity = Activity(department_id=department_id, **{k: v for k, v in fields.items() if k in ACTIVITY_FIELDS})
    activity.tags = list(tags)
    _validate_activity(activity)
    db.session.add(activity)
    db.session.flush()
    audit(actor, "openday.create", activity, title=activity.title)
    return activity


def _participants(session_ids, states=(RS.CONFIRMED, RS.WAITLISTED, RS.OFFERED)) -> list[Registration]:
    if not session_ids:
        return []
    return db.session.scalars(sa.select(Registration).where(Registration.session_id.in_(list(session_ids)),
                                                            Registration.state.in_(states))
                              .options(sa.orm.joinedload(Registration.user))).all()


def update_activity(actor: User, activity: Activity, tags=None, **fields) -> list[str]:
    """Edit an activity; participants are told when the place changes. Returns the changed field names."""
    changed = []
    for key in ACTIVITY_FIELDS:
        if key in fields and getattr(activity, key) != fields[key]:
            setattr(activity, key, fields[key])
            changed.append(key)
    if tags is not None and list(tags) != list(activity.tags):
        activity.tags = list(tags)
        changed.append("tags")
    _validate_activity(activity)
    if not changed:
        return changed
    audit(actor, "openday.update", activity, fields=changed)
    if activity.is_public and any(k in PLACE_FIELDS for k in changed):
        for reg in _participants([s.id for s in activity.sessions]):
            _mail(reg, "changed", what="place")
    db.session.flush()
    return changed


def publish_activity(actor: User, activity: Activity, now: datetime | None = None) -> None:
    activity.publish(now)
    audit(actor, "openday.publish", activity)
    db.session.flush()
    signals.activity_published.send(activity, actor=actor)


def cancel_activity(actor: User, activity: Activity, reason: str, now: datetime | None = None) -> int:
    """Cancel the activity; every registration is cancelled and everyone is told. Returns how many were told."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not reason:
        raise OpenDayError(_("请填写取消原因，它会告知所有报名者。"), field="reason")
    activity.cancel(reason, now)
    told = 0
    for s in activity.sessions:
        session = lock_session(s.id)
        for reg in _participants([session.id]):
            session.release_seat(reg, now, "activity_cancelled")
            _mail(reg, "activity_cancelled", reason=reason)
            told += 1
    audit(actor, "openday.cancel", activity, reason=reason, told=told)
    db.session.flush()
    signals.activity_cancelled.send(activity, actor=actor)
    return told


def add_session(actor: User, activity: Activity, starts_at: datetime, ends_at: datetime, capacity: int,
                has_waitlist: bool = True) -> ActivitySession:
    if ends_at <= starts_at:
        raise OpenDayError(_("结束时间必须晚于开始时间。"), field="end")
    if capacity < 1:
        raise OpenDayError(_("名额至少为 1。"), field="capacity")
    session = ActivitySession(activity=activity, starts_at=starts_at, ends_at=ends_at, capacity=capacity,
                              has_waitlist=has_waitlist)
    db.session.add(session)
    db.session.flush()
    activity.refresh_first_start()
    audit(actor, "openday.add_session", activity, session_id=session.id)
    db.session.flush()
    return session


def update_session(actor: User, session: ActivitySession, starts_at: datetime, ends_at: datetime, capacity: int,
                   has_waitlist: bool, now: datetime | None = None) -> list[str]:
    now = now or utcnow()
    if ends_at <= starts_at:
        raise OpenDayError(_("结束时间必须晚于开始时间。"), field="end")
    session = lock_session(session.id)
    if capacity < session.confirmed_seats + session.offered_seats:
        raise OpenDayError(_("名额不能少于已确认和待接受的 %(n)d 个座位。",
                             n=session.confirmed_seats + session.offered_seats), field="capacity")
    if capacity < 1:
        raise OpenDayError(_("名额至少为 1。"), field="capacity")
    if not has_waitlist and session.waitlist_count:
        raise OpenDayError(_("还有人在候补名单上，不能关闭候补。"), field="has_waitlist")
    changed = []
    time_changed = (session.starts_at, session.ends_at) != (starts_at, ends_at)
    if time_changed:
        session.starts_at, session.ends_at = starts_at, ends_at
        db.session.execute(sa.update(Registration).where(Registration.session_id == session.id)
                           .values(starts_at=starts_at, ends_at=ends_at)
                           .execution_options(synchronize_session="fetch"))
        changed.append("time")
    if capacity != session.capacity:
        session.capacity = capacity
        changed.append("capacity")
    if has_waitlist != session.has_waitlist:
        session.has_waitlist = has_waitlist
        changed.append("has_waitlist")
    if not changed:
        return changed
    session.activity.refresh_first_start()
    audit(actor, "openday.update_session", session.activity, session_id=session.id, fields=changed)
    db.session.flush()
    if time_changed and session.activity.is_public:
        for reg in _participants([session.id]):
            _mail(reg, "changed", what="time")
    offer_next(session, now)
    return changed


def message_participants(actor: User, session: ActivitySession, subject: str, body: str, states) -> int:
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject:
        raise OpenDayError(_("请填写标题。"), field="subject")
    if not body:
        raise OpenDayError(_("请填写内容。"), field="body")
    regs = _participants([session.id], states=tuple(states))
    for reg in regs:
        _mail(reg, "message", subject=subject, body=body)
    audit(actor, "openday.message", session.activity, session_id=session.id, recipients=len(regs), subject=subject)
    db.session.flush()
    return len(regs)
