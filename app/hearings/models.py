"""Hearings: decision meetings that members of the public apply to observe, and their verifiable selection.

State is derived from time and explicit acts (published_at, the pool, the lottery, the draw); transitions that
would break a rule raise HearingError with a readable message.
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.enums import DispositionKind, LabelledEnum
from app.core.errors import DomainError
from app.core.forms import CONTROL_MESSAGE
from app.core.inputs import has_control
from app.core.timeutil import utcnow
from app.core.types import UTCDateTime
from app.extensions import db
from app.i18n import current_language


class HearingError(DomainError):
    """A rule of hearings refused an action."""


# The profile categories quotas may use: code -> label; values are shown with their own labels.
CATEGORIES = {
    "district": _l("所在区"),
    "age_band": _l("年龄段"),
    "gender": _l("性别"),
    "account_type": _l("身份"),
    "observer_history": _l("列席经历"),
}
ACCOUNT_TYPES = {"resident": (_l("居民"), None), "enterprise": (_l("企业代表"), None)}
OBSERVER_HISTORY = {"first_time": (_l("首次列席"), None), "returning": (_l("曾列席"), None)}


class MeetingPhase(LabelledEnum):
    DRAFT = "draft", _l("草稿"), "muted"  # not published
    ANNOUNCED = "announced", _l("已公告，尚未开始报名"), "info"  # published, window not open yet
    OPEN = "open", _l("报名中"), "ok"  # applications open
    REVIEW = "review", _l("报名已截止，资格审查中"), "info"  # window closed, pool not frozen
    SELECTION = "selection", _l("遴选中"), "info"  # pool frozen, draw not done
    SELECTED = "selected", _l("已遴选，待开会"), "info"  # drawn, meeting ahead
    HELD = "held", _l("会议已召开"), "muted"  # meeting time passed, record not published
    RECORD_PUBLISHED = "record_published", _l("会议记录已公开"), "ok"


class Meeting(db.Model):
    __tablename__ = "hearing_meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    place: Mapped[str] = mapped_column(sa.String(300), default="")
    online_link: Mapped[str] = mapped_column(sa.String(500), default="")
    seats: Mapped[int] = mapped_column(default=5)
    alternates: Mapped[int] = mapped_column(default=2)
    eligibility: Mapped[str] = mapped_column(sa.Text, default="")
    method: Mapped[str] = mapped_column(sa.Text, default="")
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    response_days: Mapped[int] = mapped_column(default=3)  # the selected answer within this many days
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    materials: Mapped[str] = mapped_column(sa.Text, default="")
    materials_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decisions: Mapped[str] = mapped_column(sa.Text, default="")
    record_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Kept counts, updated in the transaction that changes them.
    application_count: Mapped[int] = mapped_column(default=0)

    department = relationship("Department")
    topics: Mapped[list[Topic]] = relationship(back_populates="meeting", order_by="Topic.position",
                                               cascade="all, delete-orphan")
    quotas: Mapped[list[Quota]] = relationship(back_populates="meeting", order_by="Quota.id",
                                               cascade="all, delete-orphan")
    pool: Mapped[Pool | None] = relationship(back_populates="meeting", uselist=False)
    draw: Mapped[Draw | None] = relationship(back_populates="meeting", uselist=False)

    def phase(self, now: datetime | None = None) -> MeetingPhase:
        now = now or utcnow()
        if self.published_at is None:
            return MeetingPhase.DRAFT
        if self.record_published_at is not None:
            return MeetingPhase.RECORD_PUBLISHED
        if now < self.opens_at:
            return MeetingPhase.ANNOUNCED
        if now < self.closes_at:
            return MeetingPhase.OPEN
        if self.draw is not None and self.draw.drawn_at is not None:
            return MeetingPhase.HELD if now >= self.starts_at else MeetingPhase.SELECTED
        if self.pool is not None:
            return MeetingPhase.SELECTION
        return MeetingPhase.REVIEW

    @property
    def state(self) -> MeetingPhase:
        return self.phase()

    @property
    def phase_label(self) -> str:
        return self.phase().label

    def is_open(self, now: datetime | None = None) -> bool:
        return self.phase(now) is MeetingPhase.OPEN

    def rules_frozen(self, now: datetime | None = None) -> bool:
        """Method, seats and quotas are published before the window opens and cannot change once it has."""
        now = now or utcnow()
        return self.published_at is not None and now >= self.opens_at

    def ensure_rules_editable(self, now: datetime | None = None) -> None:
        if self.rules_frozen(now):
            raise HearingError(_l("报名已开始，遴选办法、名额和配额不能再修改。"))

    def publish(self, now: datetime | None = None) -> None:
        now = now or utcnow()
        if self.published_at is not None:
            raise HearingError(_l("会议已经公告。"))
        if now >= self.opens_at:
            raise HearingError(_l("遴选办法和名额必须在报名开始前公布：请先把报名开始时间改到以后。"), "opens_at")
        if not self.method.strip():
            raise HearingError(_l("请先填写遴选办法。"), "method")
        if not self.topics:
            raise HearingError(_l("请至少添加一个议题。"))
        self.published_at = now

    @property
    def used_categories(self) -> list[str]:
        return sorted({q.category for q in self.quotas})


class Topic(db.Model):
    __tablename__ = "hearing_topic"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("hearing_meeting.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(sa.String(200))
    background: Mapped[str] = mapped_column(sa.Text, default="")
    decision: Mapped[str] = mapped_column(sa.Text, default="")

    meeting: Mapped[Meeting] = relationship(back_populates="topics")


class Quota(db.Model):
    """At least ``minimum`` and at most ``maximum`` of the seats go to people with ``category`` = ``value``."""

    __tablename__ = "hearing_quota"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "category", "value", name="uq_hearing_quota_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("hearing_meeting.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(sa.String(30))
    value: Mapped[str] = mapped_column(sa.String(30))
    minimum: Mapped[int] = mapped_column(default=0)
    maximum: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(sa.String(500), default="")  # why this quota: published with it

    meeting: Mapped[Meeting] = relationship(back_populates="quotas")

    def as_dict(self) -> dict:
        return {"category": self.category, "value": self.value, "min": self.minimum, "max": self.maximum}


class ApplicationState(LabelledEnum):
    SUBMITTED = "submitted", _l("已提交，待审查"), "info"
    WITHDRAWN = "withdrawn", _l("已撤回"), "muted"
    ELIGIBLE = "eligible", _l("符合条件，待遴选"), "info"
    INELIGIBLE = "ineligible", _l("不符合条件"), "error"
    SELECTED = "selected", _l("已选中，待确认"), "warn"
    ALTERNATE = "alternate", _l("候补"), "info"
    NOT_SELECTED = "not_selected", _l("未选中"), "muted"
    CONFIRMED = "confirmed", _l("已确认列席"), "ok"
    DECLINED = "declined", _l("已放弃"), "muted"
    ATTENDED = "attended", _l("已列席"), "ok"


class Application(db.Model):
    __tablename__ = "hearing_application"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "user_id", name="uq_hearing_application_person"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("hearing_meeting.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    statement: Mapped[str] = mapped_column(sa.Text)
    categories: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # confirmed from the profile
    lives_or_works_in_city: Mapped[bool] = mapped_column(default=False)
    has_conflict: Mapped[bool] = mapped_column(default=False)
    conflict_details: Mapped[str] = mapped_column(sa.Text, default="")
    consents_to_publication: Mapped[bool] = mapped_column(default=False)
    state: Mapped[ApplicationState] = mapped_column(
        sa.Enum(ApplicationState, native_enum=False, length=20), default=ApplicationState.SUBMITTED, index=True)
    ineligible_reason: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    alternate_rank: Mapped[int | None] = mapped_column()  # 1, 2... order in which alternates move in
    respond_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decline_reason: Mapped[str] = mapped_column(sa.String(30), default="")  # "declined" | "no_answer"
    materials_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    record_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    meeting: Mapped[Meeting] = relationship()
    user = relationship("User")
    pool_entry: Mapped[PoolEntry | None] = relationship(back_populates="application", uselist=False)

    @property
    def state_label(self) -> str:
        return self.state.label

    @property
    def is_observer(self) -> bool:
        return self.state in (ApplicationState.CONFIRMED, ApplicationState.ATTENDED)

    def _require(self, *states: ApplicationState) -> None:
        if self.state not in states:
            raise HearingError(_l("此申请当前的状态（%(state)s）不允许这一操作。", state=self.state_label))

    def withdraw(self, now: datetime | None = None) -> None:
        now = now or utcnow()
        self._require(ApplicationState.SUBMITTED, ApplicationState.ELIGIBLE, ApplicationState.INELIGIBLE)
        if not self.meeting.is_open(now):
            raise HearingError(_l("报名已截止，不能再撤回申请。"))
        self.state, self.withdrawn_at = ApplicationState.WITHDRAWN, now

    def review(self, eligible: bool, reason: str, now: datetime | None = None) -> None:
        self._require(ApplicationState.SUBMITTED, ApplicationState.ELIGIBLE, ApplicationState.INELIGIBLE)
        if self.meeting.pool is not None:
            raise HearingError(_l("候选池已经冻结，不能再修改审查结果。"))
        if not eligible and not reason.strip():
            raise HearingError(_l("请说明不符合条件的理由。"), "reason")
        if not eligible and has_control(reason):  # NUL, ESC...: never stored (PostgreSQL refuses NUL outright)
            raise HearingError(CONTROL_MESSAGE, "reason")
        self.state = ApplicationState.ELIGIBLE if eligible else ApplicationState.INELIGIBLE
        self.ineligible_reason = "" if eligible else reason.strip()
        self.reviewed_at = now or utcnow()

    def select(self, respond_by: datetime) -> None:
        """Drawn for a seat (or moved in from the alternates): to answer by ``respond_by``."""
        self._require(ApplicationState.ELIGIBLE, ApplicationState.ALTERNATE)
        self.state, self.respond_by = ApplicationState.SELECTED, respond_by

    def make_alternate(self, rank: int) -> None:
        self._require(ApplicationState.ELIGIBLE)
        self.state, self.alternate_rank = ApplicationState.ALTERNATE, rank

    def not_select(self) -> None:
        self._require(ApplicationState.ELIGIBLE)
        self.state = ApplicationState.NOT_SELECTED

    def lapse(self, now: datetime) -> None:
        """Selected but did not answer by the deadline: counted as declining."""
        self._require(ApplicationState.SELECTED)
        self.state, self.decline_reason, self.responded_at = ApplicationState.DECLINED, "no_answer", now

    def mark_attended(self, attended: bool) -> None:
        """Record (or correct) whether a confirmed observer came to the meeting."""
        self._require(ApplicationState.CONFIRMED, ApplicationState.ATTENDED)
        self.state = ApplicationState.ATTENDED if attended else ApplicationState.CONFIRMED

    def respond(self, accept: bool, now: datetime | None = None) -> None:
        now = now or utcnow()
        self._require(ApplicationState.SELECTED)
        if self.respond_by is not None and now >= self.respond_by:
            raise HearingError(_l("确认期限已过。"))
        self.state = ApplicationState.CONFIRMED if accept else ApplicationState.DECLINED
        self.decline_reason = "" if accept else "declined"
        self.responded_at = now


class Pool(db.Model):
    """The frozen pool: eligible applicants under pseudonymous numbers; ``content`` is the published file."""

    __tablename__ = "hearing_pool"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("hearing_meeting.id", ondelete="CASCADE"), unique=True)
    frozen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    size: Mapped[int] = mapped_column(default=0)
    content: Mapped[str] = mapped_column(sa.Text)  # canonical JSON, UTF-8
    sha256: Mapped[str] = mapped_column(sa.String(64))

    meeting: Mapped[Meeting] = relationship(back_populates="pool")
    entries: Mapped[list[PoolEntry]] = relationship(back_populates="pool", order_by="PoolEntry.number",
                                                    cascade="all, delete-orphan")


class PoolEntry(db.Model):
    __tablename__ = "hearing_pool_entry"
    __table_args__ = (sa.UniqueConstraint("pool_id", "number", name="uq_hearing_pool_entry_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(sa.ForeignKey("hearing_pool.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("hearing_application.id", ondelete="CASCADE"),
                                                unique=True)
    categories: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    pool: Mapped[Pool] = relationship(back_populates="entries")
    application: Mapped[Application] = relationship(back_populates="pool_entry")


class LotteryStatus(LabelledEnum):
    QUEUED = "queued", _l("排队中"), "info"
    RUNNING = "running", _l("计算中"), "info"
    SUCCEEDED = "succeeded", _l("已完成"), "ok"
    INFEASIBLE = "infeasible", _l("配额无法满足"), "error"
    TIMED_OUT = "timed_out", _l("超时"), "error"
    FAILED = "failed", _l("失败"), "error"
    CANCELLED = "cancelled", _l("已取消"), "info"


class LotteryRun(db.Model):
    """One computation of the 1,000 panels. Only a succeeded run holds panels; it is published as it is."""

    __tablename__ = "hearing_lottery_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("hearing_meeting.id", ondelete="CASCADE"), index=True)
    status: Mapped[LotteryStatus] = mapped_column(sa.Enum(LotteryStatus, native_enum=False, length=20),
                                                  default=LotteryStatus.QUEUED, index=True)
    progress: Mapped[int] = mapped_column(default=0)  # 0..100
    progress_note: Mapped[str] = mapped_column(sa.String(200), default="")
    message: Mapped[str] = mapped_column(sa.Text, default="")  # the outcome in Chinese
    message_en: Mapped[str] = mapped_column(sa.Text, default="")  # the same in English
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pool_sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    panels_content: Mapped[str | None] = mapped_column(sa.Text)  # the published panels file
    panels_sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    settings: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    seconds: Mapped[float | None] = mapped_column()
    # True chances in the draw: (published panels holding a person) / (number of panels).
    lowest_chance: Mapped[float | None] = mapped_column()
    highest_chance: Mapped[float | None] = mapped_column()
    # The lowest chance in the solver's optimal distribution, before rounding to the panels.
    optimum_chance: Mapped[float | None] = mapped_column()
    worker: Mapped[str | None] = mapped_column(sa.String(200))  # "host:pid" of the process computing it

    meeting: Mapped[Meeting] = relationship()

    @property
    def status_label(self) -> str:
        return self.status.label

    @property
    def is_active(self) -> bool:
        return self.status in (LotteryStatus.QUEUED, LotteryStatus.RUNNING)

    @property
    def panel_count(self) -> int:
        return int((self.settings or {}).get("number_of_panels") or 1000)

    @property
    def localized_message(self) -> str:
        """The outcome in the reader's language (runs from before English was kept show the Chinese)."""

        return (self.message_en or self.message) if current_language() == "en" else self.message


class Draw(db.Model):
    """The public random draw: announced first (which future numbers), performed once when they are known."""

    __tablename__ = "hearing_draw"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("hearing_meeting.id", ondelete="CASCADE"), unique=True)
    source_descriptions: Mapped[list] = mapped_column(sa.JSON, default=list)  # one text per source
    expected_on: Mapped[date | None] = mapped_column(sa.Date)
    source_times: Mapped[list] = mapped_column(sa.JSON, default=list)  # "HH:MM" Shanghai, one per source
    numbers_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last source publishes; no draw before
    pool_sha256: Mapped[str] = mapped_column(sa.String(64), default="")  # what the announcement commits to
    panels_sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    announced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    announced_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    lottery_run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("hearing_lottery_run.id"))
    sources: Mapped[list | None] = mapped_column(sa.JSON)  # [[numbers], ...] as entered
    key_string: Mapped[str] = mapped_column(sa.Text, default="")
    panel_index: Mapped[int | None] = mapped_column()
    content: Mapped[str | None] = mapped_column(sa.Text)  # the published draw file
    sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    drawn_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    meeting: Mapped[Meeting] = relationship(back_populates="draw")
    lottery_run: Mapped[LotteryRun | None] = relationship()

    @property
    def announced_before_numbers(self) -> bool:
        """The "(before the numbers)" label, from the stored times."""
        return self.numbers_at is not None and self.announced_at < self.numbers_at


# What became of an observer's suggestion: the same kinds as a comment's answer.
Disposition = DispositionKind


class Suggestion(db.Model):
    __tablename__ = "hearing_suggestion"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("hearing_meeting.id", ondelete="CASCADE"), index=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("hearing_application.id", ondelete="CASCADE"),
                                                index=True)
    topic_id: Mapped[int | None] = mapped_column(sa.ForeignKey("hearing_topic.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disposition: Mapped[Disposition | None] = mapped_column(sa.Enum(Disposition, native_enum=False, length=20))
    answer: Mapped[str] = mapped_column(sa.Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    meeting: Mapped[Meeting] = relationship()
    application: Mapped[Application] = relationship()
    topic: Mapped[Topic | None] = relationship()
    follow_up: Mapped[FollowUp | None] = relationship(back_populates="suggestion", uselist=False,
                                                      cascade="all, delete-orphan")

    @property
    def disposition_label(self) -> str:
        return self.disposition.label if self.disposition else ""


class FollowUp(db.Model):
    """督办: something promised in an answer, with a due date; overdue items show on oversight dashboards."""

    __tablename__ = "hearing_follow_up"

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(sa.ForeignKey("hearing_suggestion.id", ondelete="CASCADE"),
                                               unique=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    description: Mapped[str] = mapped_column(sa.Text)
    due_on: Mapped[date] = mapped_column(sa.Date, index=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    suggestion: Mapped[Suggestion] = relationship(back_populates="follow_up")
