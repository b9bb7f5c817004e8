"""Open Month (政府开放月): activities, sessions, registrations, check-ins, ratings and the popular vote.

Capacity is counted in seats: a registration takes 1 + companions seats. Each session keeps its counters
(confirmed seats, offered seats, waitlist length) and they change only under the session's lock
(see services.lock_session), in the same transaction that inserts or changes the registration.
"""
from __future__ import annotations

import enum
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import Department, Tag, User, tag_link_table
from app.core.enums import LabelledEnum
from app.core.errors import DomainError
from app.core.timeutil import from_local, local, utcnow
from app.core.types import UTCDateTime
from app.extensions import db


class OpenDayError(DomainError):
    """A rule of the Open Month refused an action."""


class ActivityMode(LabelledEnum):
    OFFLINE = "offline", _l("线下")
    ONLINE = "online", _l("线上")
    BOTH = "both", _l("线上线下")


class Eligibility(LabelledEnum):
    EVERYONE = "everyone", _l("所有人")
    RESIDENTS = "residents", _l("仅限居民")
    ENTERPRISES = "enterprises", _l("仅限企业代表")
    ADULTS = "adults", _l("年满18周岁")  # age 18 or over


class ActivityState(LabelledEnum):
    DRAFT = "draft", _l("草稿"), "muted"
    PUBLISHED = "published", _l("已发布"), "ok"
    CANCELLED = "cancelled", _l("已取消"), "error"


class RegistrationState(LabelledEnum):
    CONFIRMED = "confirmed", _l("已确认"), "ok"
    WAITLISTED = "waitlisted", _l("候补中"), "info"
    OFFERED = "offered", _l("待接受名额"), "warn"
    CANCELLED = "cancelled", _l("已取消"), "muted"
    CHECKED_IN = "checked_in", _l("已签到"), "ok"
    NO_SHOW = "no_show", _l("未到场"), "muted"


# States that hold a seat.
SEAT_STATES = (RegistrationState.CONFIRMED, RegistrationState.CHECKED_IN, RegistrationState.NO_SHOW)
ACTIVE_STATES = (RegistrationState.CONFIRMED, RegistrationState.WAITLISTED, RegistrationState.OFFERED,
                 RegistrationState.CHECKED_IN)


class CheckInResult(enum.Enum):
    OK = "ok"
    ALREADY = "already"
    WRONG_SESSION = "wrong_session"
    CANCELLED = "cancelled"
    NOT_CONFIRMED = "not_confirmed"
    UNKNOWN = "unknown"
    NOT_TODAY = "not_today"


activity_tag = tag_link_table("openday_activity_tag", "activity_id", "openday_activity.id")


class Turnout:
    """Ratings and attendance from the kept counters (rating_count, rating_sum, checked_in_count, no_show_count)
    of a session, or of a whole activity."""

    @property
    def average_rating(self) -> float | None:
        return round(self.rating_sum / self.rating_count, 2) if self.rating_count else None

    @property
    def attendance_rate(self) -> float | None:
        total = self.checked_in_count + self.no_show_count
        return round(self.checked_in_count / total, 3) if total else None


class Activity(Turnout, db.Model):
    __tablename__ = "openday_activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    # Stored file names under UPLOAD_DIR/openday, with alt text: [{"file": "...", "alt": "..."}].
    images: Mapped[list] = mapped_column(sa.JSON, default=list)
    mode: Mapped[ActivityMode] = mapped_column(sa.Enum(ActivityMode, native_enum=False, length=20),
                                               default=ActivityMode.OFFLINE)
    district: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    access_notes: Mapped[str] = mapped_column(sa.Text, default="")  # wheelchair access, nearest metro
    online_url: Mapped[str] = mapped_column(sa.String(500), default="")  # shown to confirmed participants only
    signup_opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    signup_closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    eligibility: Mapped[Eligibility] = mapped_column(sa.Enum(Eligibility, native_enum=False, length=20),
                                                     default=Eligibility.EVERYONE)
    max_companions: Mapped[int] = mapped_column(default=0)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Kept counters (changed in the transaction that changes what they count).
    first_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    rating_count: Mapped[int] = mapped_column(default=0)
    rating_sum: Mapped[int] = mapped_column(default=0)
    checked_in_count: Mapped[int] = mapped_column(default=0)
    no_show_count: Mapped[int] = mapped_column(default=0)

    department: Mapped[Department] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=activity_tag, order_by=Tag.id)
    sessions: Mapped[list[ActivitySession]] = relationship(
        back_populates="activity", order_by="ActivitySession.starts_at", cascade="all, delete-orphan")

    @property
    def state(self) -> ActivityState:
        if self.cancelled_at is not None:
            return ActivityState.CANCELLED
        if self.published_at is not None:
            return ActivityState.PUBLISHED
        return ActivityState.DRAFT

    @classmethod
    def state_clause(cls, state: ActivityState) -> sa.ColumnElement[bool]:
        """SQL that holds for the activities whose ``state`` is ``state``: the same rule, for queries."""
        if state is ActivityState.CANCELLED:
            return cls.cancelled_at.is_not(None)
        if state is ActivityState.PUBLISHED:
            return sa.and_(cls.cancelled_at.is_(None), cls.published_at.is_not(None))
        return sa.and_(cls.cancelled_at.is_(None), cls.published_at.is_(None))

    @property
    def is_public(self) -> bool:
        return self.published_at is not None

    @property
    def is_offline(self) -> bool:
        return self.mode in (ActivityMode.OFFLINE, ActivityMode.BOTH)

    @property
    def is_online(self) -> bool:
        return self.mode in (ActivityMode.ONLINE, ActivityMode.BOTH)

    def signup_open(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return (self.state is ActivityState.PUBLISHED
                and self.signup_opens_at <= now < self.signup_closes_at)

    def publish(self, now: datetime | None = None) -> None:
        if self.state is not ActivityState.DRAFT:
            raise OpenDayError(_l("只能发布草稿状态的活动。"))
        if not self.sessions:
            raise OpenDayError(_l("请先添加至少一个场次，再发布活动。"))
        self.published_at = now or utcnow()

    def cancel(self, reason: str, now: datetime | None = None) -> None:
        if self.state is ActivityState.CANCELLED:
            raise OpenDayError(_l("该活动已取消。"))
        self.cancelled_at = now or utcnow()
        self.cancel_reason = reason

    def refresh_first_start(self) -> None:
        self.first_starts_at = min((s.starts_at for s in self.sessions), default=None)


class ActivitySession(Turnout, db.Model):
    __tablename__ = "openday_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(sa.ForeignKey("openday_activity.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column()
    has_waitlist: Mapped[bool] = mapped_column(default=True)
    # Kept counters, changed only under the session lock.
    confirmed_seats: Mapped[int] = mapped_column(default=0)  # confirmed + checked in + no-show, with companions
    offered_seats: Mapped[int] = mapped_column(default=0)
    waitlist_count: Mapped[int] = mapped_column(default=0)
    waitlist_tail: Mapped[int] = mapped_column(default=0)  # the last waitlist position given out
    checked_in_count: Mapped[int] = mapped_column(default=0)
    no_show_count: Mapped[int] = mapped_column(default=0)
    cancelled_count: Mapped[int] = mapped_column(default=0)
    rating_count: Mapped[int] = mapped_column(default=0)
    rating_sum: Mapped[int] = mapped_column(default=0)
    no_shows_marked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    activity: Mapped[Activity] = relationship(back_populates="sessions")

    __table_args__ = (
        sa.CheckConstraint("capacity >= 1", name="capacity_positive"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    @property
    def department_id(self) -> int:
        return self.activity.department_id

    @property
    def seats_left(self) -> int:
        return max(0, self.capacity - self.confirmed_seats - self.offered_seats)

    def has_started(self, now: datetime | None = None) -> bool:
        return (now or utcnow()) >= self.starts_at

    def has_ended(self, now: datetime | None = None) -> bool:
        return (now or utcnow()) >= self.ends_at

    def door_window(self, opens_minutes: int) -> tuple[datetime, datetime]:
        """When tickets are checked in: on the session's day (Shanghai), from ``opens_minutes`` before the start
        (not before that day's midnight) until the day ends (or the session does, if it runs past midnight)."""
        day = local(self.starts_at).date()
        opens = max(from_local(day), self.starts_at - timedelta(minutes=opens_minutes))
        return opens, max(from_local(day + timedelta(days=1)), self.ends_at)

    # Seats and counters move together with the registration's state, only here and only under the session's
    # lock (services.lock_session): each method changes one registration and the counters it affects.

    def take_seat(self, reg: Registration, now: datetime) -> None:
        """Confirm ``reg``: an offered registration's held seats become confirmed; a new one needs free seats."""
        if reg.state is RegistrationState.OFFERED:
            self.offered_seats -= reg.seats
        elif self.seats_left < reg.seats:
            raise OpenDayError(_l("该场次已满。"))
        self.confirmed_seats += reg.seats
        reg.confirm(now)

    def join_waitlist(self, reg: Registration) -> None:
        """Put ``reg`` at the end of the waitlist (positions are never given out twice)."""
        if not self.has_waitlist:
            raise OpenDayError(_l("该场次已满，且不设候补。"))
        self.waitlist_tail += 1
        self.waitlist_count += 1
        reg.put_on_waitlist(self.waitlist_tail)

    def offer_seat(self, reg: Registration, now: datetime, expires_at: datetime) -> None:
        """Hold free seats for a waitlisted registration until ``expires_at``."""
        if self.seats_left < reg.seats:
            raise OpenDayError(_l("该场次已满。"))
        reg.offer(now, expires_at)
        self.waitlist_count -= 1
        self.offered_seats += reg.seats

    def release_seat(self, reg: Registration, now: datetime, reason: str) -> None:
        """Cancel ``reg`` and give back what it holds: confirmed or offered seats, or its waitlist place."""
        held = reg.state
        reg.cancel(now, reason)
        if held in SEAT_STATES:
            self.confirmed_seats -= reg.seats
        elif held is RegistrationState.OFFERED:
            self.offered_seats -= reg.seats
        elif held is RegistrationState.WAITLISTED:
            self.waitlist_count -= 1
        self.cancelled_count += 1

    def reopen(self, reg: Registration) -> None:
        """A cancelled registration signs up again (it then takes a seat or joins the waitlist)."""
        reg.renew()
        self.cancelled_count -= 1

    def mark_no_shows(self, regs: list[Registration], now: datetime) -> None:
        """After the session: the confirmed who did not come are no-shows (they keep their seats in the count)."""
        for reg in regs:
            reg.mark_no_show()
        self.no_show_count += len(regs)
        self.activity.no_show_count += len(regs)
        self.no_shows_marked_at = now

    def add_rating(self, stars: int) -> None:
        self.rating_count += 1
        self.rating_sum += stars
        self.activity.rating_count += 1
        self.activity.rating_sum += stars


SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L


def new_ticket_code() -> str:
    return secrets.token_urlsafe(16)  # 128 bits


def new_short_code() -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(8))


class Registration(db.Model):
    __tablename__ = "openday_registration"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("openday_session.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int] = mapped_column(sa.ForeignKey("openday_activity.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    companions: Mapped[int] = mapped_column(default=0)
    state: Mapped[RegistrationState] = mapped_column(
        sa.Enum(RegistrationState, native_enum=False, length=20), index=True)
    waitlist_position: Mapped[int | None] = mapped_column()
    ticket_code: Mapped[str] = mapped_column(sa.String(64), unique=True, default=new_ticket_code)
    short_code: Mapped[str] = mapped_column(sa.String(12), unique=True, default=new_short_code)
    # Copied from the session so that the overlap check needs no join.
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(sa.String(40), default="")  # self, offer_expired, activity_cancelled
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by a sign-up, in the same row and transaction: its confirmation mail is still to be queued (jobs.
    # mail_signups queues it and clears this in one transaction), so the sign-up itself writes one row, not two.
    signup_mail_due: Mapped[bool] = mapped_column(default=False, server_default="0")

    session: Mapped[ActivitySession] = relationship()
    activity: Mapped[Activity] = relationship()
    user: Mapped[User] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("session_id", "user_id", name="uq_openday_registration_session_user"),
        sa.Index("ix_openday_registration_wait", "session_id", "state", "waitlist_position"),
        sa.Index("ix_openday_registration_mail_due", "id", postgresql_where=sa.text("signup_mail_due"),
                 sqlite_where=sa.text("signup_mail_due")),
    )

    @property
    def seats(self) -> int:
        return 1 + self.companions

    @property
    def holds_seat(self) -> bool:
        return self.state in SEAT_STATES

    @property
    def has_ticket(self) -> bool:
        return self.state in (RegistrationState.CONFIRMED, RegistrationState.CHECKED_IN)

    def cancellable(self, now: datetime | None = None) -> bool:
        return (self.state in (RegistrationState.CONFIRMED, RegistrationState.WAITLISTED, RegistrationState.OFFERED)
                and not self.session.has_started(now))

    def offer_is_live(self, now: datetime | None = None) -> bool:
        return (self.state is RegistrationState.OFFERED and self.offer_expires_at is not None
                and (now or utcnow()) < self.offer_expires_at)

    # Guarded transitions of the registration's own state. The session's counters move with them through
    # ActivitySession.take_seat / join_waitlist / offer_seat / release_seat, under the session's lock.

    def _require(self, *states: RegistrationState | None) -> None:
        if self.state not in states:
            raise OpenDayError(_l("这个报名当前的状态（%(state)s）不允许这一操作。",
                                  state=self.state.label if self.state else "—"))

    def renew(self) -> None:
        """A cancelled registration starts again: new ticket codes, nothing left of the old one."""
        self._require(RegistrationState.CANCELLED)
        self.state = None
        self.ticket_code, self.short_code = new_ticket_code(), new_short_code()
        self.cancelled_at, self.cancel_reason, self.offered_at, self.offer_expires_at = None, "", None, None
        self.checked_in_at = self.reminder_sent_at = self.confirmed_at = None
        self.waitlist_position = None

    def confirm(self, now: datetime) -> None:
        self._require(None, RegistrationState.OFFERED)
        self.state, self.confirmed_at, self.offer_expires_at = RegistrationState.CONFIRMED, now, None

    def put_on_waitlist(self, position: int) -> None:
        self._require(None)
        self.state, self.waitlist_position, self.confirmed_at = RegistrationState.WAITLISTED, position, None

    def offer(self, now: datetime, expires_at: datetime) -> None:
        self._require(RegistrationState.WAITLISTED)
        self.state, self.offered_at, self.offer_expires_at = RegistrationState.OFFERED, now, expires_at

    def cancel(self, now: datetime, reason: str) -> None:
        """``reason``: self, offer_expired or activity_cancelled."""
        self._require(RegistrationState.CONFIRMED, RegistrationState.WAITLISTED, RegistrationState.OFFERED)
        self.state, self.cancelled_at, self.cancel_reason = RegistrationState.CANCELLED, now, reason
        self.offer_expires_at = None

    def mark_no_show(self) -> None:
        self._require(RegistrationState.CONFIRMED)
        self.state = RegistrationState.NO_SHOW


class CheckIn(db.Model):
    """One scan or code entry at the door, whatever its result."""

    __tablename__ = "openday_check_in"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("openday_session.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("openday_registration.id", ondelete="SET NULL"), index=True)
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    code: Mapped[str] = mapped_column(sa.String(64), default="")
    method: Mapped[str] = mapped_column(sa.String(20), default="manual")  # scan, manual, search
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")
    result: Mapped[CheckInResult] = mapped_column(sa.Enum(CheckInResult, native_enum=False, length=20))

    staff: Mapped[User | None] = relationship()
    registration: Mapped[Registration | None] = relationship()


class Rating(db.Model):
    __tablename__ = "openday_rating"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        sa.ForeignKey("openday_registration.id", ondelete="CASCADE"), unique=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("openday_session.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int] = mapped_column(sa.ForeignKey("openday_activity.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    stars: Mapped[int] = mapped_column()
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.CheckConstraint("stars BETWEEN 1 AND 5", name="stars_range"),)


class VotingWindow(db.Model):
    """The popular vote (最受欢迎的政府开放活动) of one year's Open Month."""

    __tablename__ = "openday_voting_window"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(unique=True)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    live_ranking: Mapped[bool] = mapped_column(default=False)
    max_votes: Mapped[int] = mapped_column(default=3)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def is_open(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return self.opens_at <= now < self.closes_at

    def is_closed(self, now: datetime | None = None) -> bool:
        return (now or utcnow()) >= self.closes_at

    def results_visible(self, now: datetime | None = None) -> bool:
        return self.is_closed(now) or (self.live_ranking and self.is_open(now))


class Vote(db.Model):
    """One vote; a vote taken back keeps its row (withdrawn_at) so the count can be audited."""

    __tablename__ = "openday_vote"

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(sa.ForeignKey("openday_voting_window.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int] = mapped_column(sa.ForeignKey("openday_activity.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip_address: Mapped[str] = mapped_column(sa.String(45), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")
    # The account was created after the window opened: counted, but shown to the auditor.
    is_flagged: Mapped[bool] = mapped_column(default=False)

    activity: Mapped[Activity] = relationship()
    user: Mapped[User] = relationship()

    @property
    def is_active(self) -> bool:
        return self.withdrawn_at is None

