"""Messages (留言): what residents and enterprises write to the government on the platform, and what is forwarded
from the central government portal (中国政府网转办留言), the 12345 hotline and departments' mailboxes; their
assignment, deadlines, replies, ratings, and the common problems found behind many of them.

State is derived from explicit acts (assign, acknowledge, return, reply, release, reopen); deadlines are derived
from the dates of those acts and the source's time limits (see rules.py): services write ``ack_due_at`` and
``reply_due_at`` when an act changes them, never a job, so the queue can be ordered by deadline in SQL.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import tag_link_table
from app.core.enums import LabelledEnum
from app.core.errors import DomainError
from app.core.timeutil import utcnow
from app.core.types import UTCDateTime
from app.extensions import db


class MessageError(DomainError):
    """A rule of messages refused an action."""


class MessageSource(LabelledEnum):
    PLATFORM = "platform", _l("本平台留言")
    CENTRAL_PORTAL = "central_portal", _l("中国政府网转办")
    HOTLINE_12345 = "hotline_12345", _l("12345市民服务热线")
    MAILBOX = "mailbox", _l("部门信箱")


FORWARDED_SOURCES = (MessageSource.CENTRAL_PORTAL, MessageSource.HOTLINE_12345, MessageSource.MAILBOX)


class ContactPreference(LabelledEnum):
    EMAIL = "email", _l("电子邮件")
    PHONE = "phone", _l("电话")
    MY_SPACE = "my_space", _l("只在“我的空间”查看")


class WriterType(LabelledEnum):
    RESIDENT = "resident", _l("居民")
    ENTERPRISE = "enterprise", _l("企业")


class MessageState(LabelledEnum):
    NEW = "new", _l("待分办"), "warn"
    RETURNED = "returned", _l("已退回，待重新分办"), "warn"
    ASSIGNED = "assigned", _l("已交办，待签收"), "info"
    HANDLING = "handling", _l("办理中"), "info"
    UNDER_REVIEW = "under_review", _l("答复待审核"), "info"
    REPLIED = "replied", _l("已答复"), "ok"


class ExtensionDecision(LabelledEnum):
    PENDING = "pending", _l("待审批"), "warn"
    APPROVED = "approved", _l("已同意延期"), "ok"
    REFUSED = "refused", _l("未同意延期"), "muted"


class Resolution(LabelledEnum):
    RESOLVED = "resolved", _l("已解决"), "ok"
    PARTLY = "partly", _l("部分解决"), "warn"
    NOT_RESOLVED = "not_resolved", _l("未解决"), "error"


class ActionKind(LabelledEnum):
    """What was done at the source about a common problem (源头治理)."""

    POLICY_CHANGE = "policy_change", _l("修改或出台政策")
    CONSULTATION = "consultation", _l("启动公开征询")
    WORK_ORDER = "work_order", _l("下达工作任务单")
    INVESTIGATION = "investigation", _l("启动专题调查")


class EventKind(LabelledEnum):
    RECEIVED = "received", _l("收到留言")
    ASSIGNED = "assigned", _l("交办")
    ACKNOWLEDGED = "acknowledged", _l("签收")
    RETURNED = "returned", _l("退回")
    EXTENSION_REQUESTED = "extension_requested", _l("申请延期")
    EXTENSION_APPROVED = "extension_approved", _l("同意延期")
    EXTENSION_REFUSED = "extension_refused", _l("不同意延期")
    CO_OPINION = "co_opinion", _l("会办意见")
    REPLY_SUBMITTED = "reply_submitted", _l("答复送审")
    REPLY_SENT_BACK = "reply_sent_back", _l("答复退回修改")
    REPLIED = "replied", _l("答复")
    RATED = "rated", _l("评价")
    REOPENED = "reopened", _l("重新办理")
    PROBLEM = "problem", _l("纳入共性问题")


message_tag = tag_link_table("message_tag", "message_id", "message.id")


class Message(db.Model):
    __tablename__ = "message"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_message_idempotency"),
        sa.UniqueConstraint("source", "source_ref", name="uq_message_source_ref"),
        # The department's queue by reply deadline, and the office's by acknowledgement deadline.
        sa.Index("ix_message_queue", "department_id", "replied_at", "reply_due_at", "id"),
        # Messages never replied, in deadline order (queues.py): partial, because PostgreSQL does not read the order
        # of (replied_at, reply_due_at, id) for "replied_at IS NULL" and would sort every waiting message.
        sa.Index("ix_message_waiting_due", "reply_due_at", "id", postgresql_where=sa.text("replied_at IS NULL"),
                 sqlite_where=sa.text("replied_at IS NULL")),
        sa.Index("ix_message_dept_waiting_due", "department_id", "reply_due_at", "id",
                 postgresql_where=sa.text("replied_at IS NULL"), sqlite_where=sa.text("replied_at IS NULL")),
        sa.Index("ix_message_reopened", "reopened_at"),
        sa.Index("ix_message_dept_reopened", "department_id", "reopened_at"),
        sa.Index("ix_message_review", "reply_submitted_at"),
        sa.Index("ix_message_extension", "extension_decision"),
        # Public list, newest first by keyset (published_at, id); filtered by department or district, in the same
        # order (without them SQLite took the department's or district's rows and sorted them all: 66 and 115 ms a
        # page at 100,000 messages, bench/bench_messages.py).
        sa.Index("ix_message_public", "published_at", "id"),
        sa.Index("ix_message_dept_public", "department_id", "published_at", "id"),
        sa.Index("ix_message_district_public", "district", "published_at", "id"),
        # The "replied" queue, newest reply first (sorted before: 177 ms a page on SQLite, 56 ms on PostgreSQL):
        # partial, so that the queries of messages not replied keep to the indexes above.
        sa.Index("ix_message_replied", "replied_at", "id", postgresql_where=sa.text("replied_at IS NOT NULL"),
                 sqlite_where=sa.text("replied_at IS NOT NULL")),
        sa.Index("ix_message_dept_replied", "department_id", "replied_at", "id",
                 postgresql_where=sa.text("replied_at IS NOT NULL"), sqlite_where=sa.text("replied_at IS NOT NULL")),
        sa.Index("ix_message_received", "received_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_number: Mapped[str] = mapped_column(sa.String(24), unique=True)
    source: Mapped[MessageSource] = mapped_column(sa.Enum(MessageSource, native_enum=False, length=20))
    source_ref: Mapped[str | None] = mapped_column(sa.String(64))  # the source's own id (forwarded messages)
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when the source forwarded it
    import_batch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("message_import_batch.id",
                                                                      ondelete="SET NULL"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(64))

    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    writer_name: Mapped[str] = mapped_column(sa.String(60), default="")  # staff only
    writer_phone: Mapped[str] = mapped_column(sa.String(40), default="")  # staff only (forwarded messages)
    writer_email: Mapped[str] = mapped_column(sa.String(254), default="")  # staff only (forwarded messages)
    writer_type: Mapped[WriterType] = mapped_column(sa.Enum(WriterType, native_enum=False, length=20),
                                                    default=WriterType.RESIDENT)
    public_name: Mapped[str] = mapped_column(sa.String(200), default="**")  # 张**, fixed at intake
    subject: Mapped[str] = mapped_column(sa.String(200))
    text_original: Mapped[str] = mapped_column(sa.Text)  # as written; staff only
    text_public: Mapped[str] = mapped_column(sa.Text)  # masked; staff can redact further
    district: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    allow_publish: Mapped[bool] = mapped_column(default=False)  # the writer's consent to publish with the reply
    contact_preference: Mapped[ContactPreference] = mapped_column(
        sa.Enum(ContactPreference, native_enum=False, length=20), default=ContactPreference.EMAIL)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Handling: the lead department and the acts that move the message on.
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    return_reason: Mapped[str] = mapped_column(sa.Text, default="")
    return_count: Mapped[int] = mapped_column(default=0)
    ack_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # derived by services from assigned_at
    reply_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # derived from received/reopened + extension

    extension_days: Mapped[int] = mapped_column(default=0)
    extension_reason: Mapped[str] = mapped_column(sa.Text, default="")
    extension_decision: Mapped[ExtensionDecision | None] = mapped_column(
        sa.Enum(ExtensionDecision, native_enum=False, length=20))
    extension_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extension_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    reply_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a reply waits for review
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the latest reply released to the writer
    first_replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replied_on_time: Mapped[bool | None] = mapped_column()  # fixed when the first reply is released
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # public with its reply (consent given)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # taken off the public list by the office

    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopen_reason: Mapped[str] = mapped_column(sa.Text, default="")
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution: Mapped[Resolution | None] = mapped_column(sa.Enum(Resolution, native_enum=False, length=20))
    is_satisfied: Mapped[bool | None] = mapped_column()
    rating_comment: Mapped[str] = mapped_column(sa.Text, default="")

    problem_id: Mapped[int | None] = mapped_column(sa.ForeignKey("message_problem.id", ondelete="SET NULL"),
                                                   index=True)

    # Job flags: set in the same transaction as the mail, so a job run twice sends once; cleared by the act that
    # gives a new deadline (assign, extension, reopen).
    ack_overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply_overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User", foreign_keys=[user_id])
    department = relationship("Department", foreign_keys=[department_id])
    tags = relationship("Tag", secondary=message_tag, lazy="selectin", order_by="Tag.id")
    attachments: Mapped[list[MessageAttachment]] = relationship(back_populates="message",
                                                                cascade="all, delete-orphan")
    co_handlers: Mapped[list[CoHandler]] = relationship(back_populates="message", cascade="all, delete-orphan",
                                                        order_by="CoHandler.id")
    replies: Mapped[list[Reply]] = relationship(back_populates="message", cascade="all, delete-orphan",
                                                order_by="Reply.id")
    events: Mapped[list[MessageEvent]] = relationship(back_populates="message", cascade="all, delete-orphan",
                                                      order_by="MessageEvent.id")
    problem: Mapped[CommonProblem | None] = relationship(back_populates="messages")

    @property
    def is_replied(self) -> bool:
        """A reply was released and the message has not been reopened since."""
        return self.replied_at is not None and (self.reopened_at is None or self.replied_at > self.reopened_at)

    @property
    def state(self) -> MessageState:
        if self.is_replied:
            return MessageState.REPLIED
        if self.reply_submitted_at is not None:
            return MessageState.UNDER_REVIEW
        if self.department_id is None:
            return MessageState.RETURNED if self.returned_at is not None else MessageState.NEW
        if self.acknowledged_at is None:
            return MessageState.ASSIGNED
        return MessageState.HANDLING

    @classmethod
    def open_clause(cls) -> sa.ColumnElement[bool]:
        """SQL for messages still waiting for a reply (not replied, or reopened after the reply)."""
        return sa.or_(cls.replied_at.is_(None), sa.and_(cls.reopened_at.is_not(None),
                                                         cls.reopened_at >= cls.replied_at))

    @classmethod
    def state_clause(cls, state: MessageState) -> sa.ColumnElement[bool]:
        """SQL that holds for the messages whose ``state`` is ``state``: the same rule, for queries."""
        if state is MessageState.REPLIED:
            # "replied_at IS NOT NULL" follows from the rest; said outright, it lets the databases use the partial
            # indexes of replied messages (ix_message_replied, ix_message_dept_replied).
            return sa.and_(cls.replied_at.is_not(None), sa.not_(cls.open_clause()))
        waiting = cls.open_clause()
        if state is MessageState.UNDER_REVIEW:
            return sa.and_(waiting, cls.reply_submitted_at.is_not(None))
        waiting = sa.and_(waiting, cls.reply_submitted_at.is_(None))
        if state is MessageState.NEW:
            return sa.and_(waiting, cls.department_id.is_(None), cls.returned_at.is_(None))
        if state is MessageState.RETURNED:
            return sa.and_(waiting, cls.department_id.is_(None), cls.returned_at.is_not(None))
        if state is MessageState.ASSIGNED:
            return sa.and_(waiting, cls.department_id.is_not(None), cls.acknowledged_at.is_(None))
        return sa.and_(waiting, cls.department_id.is_not(None), cls.acknowledged_at.is_not(None))  # HANDLING

    def is_overdue_at(self, now: datetime) -> bool:
        """Waiting for a reply past its deadline."""
        return not self.is_replied and self.reply_due_at is not None and now >= self.reply_due_at

    def is_ack_overdue_at(self, now: datetime) -> bool:
        return (self.department_id is not None and self.acknowledged_at is None and self.ack_due_at is not None
                and now >= self.ack_due_at)

    @property
    def is_public(self) -> bool:
        return self.published_at is not None and self.hidden_at is None

    @property
    def latest_reply(self) -> Reply | None:
        released = [r for r in self.replies if r.released_at is not None]
        return released[-1] if released else None

    @property
    def draft_reply(self) -> Reply | None:
        """The reply being written or reviewed (not yet released)."""
        pending = [r for r in self.replies if r.released_at is None]
        return pending[-1] if pending else None

    @property
    def co_department_ids(self) -> list[int]:
        return [c.department_id for c in self.co_handlers]

    def __repr__(self) -> str:
        return f"<Message {self.tracking_number}>"


class MessageAttachment(db.Model):
    __tablename__ = "message_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("message.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(80))
    mime_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column()

    message: Mapped[Message] = relationship(back_populates="attachments")


class CoHandler(db.Model):
    """A co-handling department (会办单位) and the opinion it gives the lead department."""

    __tablename__ = "message_co_handler"
    __table_args__ = (sa.UniqueConstraint("message_id", "department_id", name="uq_message_co_handler"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("message.id", ondelete="CASCADE"))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    opinion: Mapped[str] = mapped_column(sa.Text, default="")
    opinion_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opinion_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    message: Mapped[Message] = relationship(back_populates="co_handlers")
    department = relationship("Department")


class Reply(db.Model):
    """A reply written by the lead department; released to the writer (after the office's review where the
    source asks for one). A reopened message gets a second reply."""

    __tablename__ = "message_reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("message.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    text: Mapped[str] = mapped_column(sa.Text)
    written_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str] = mapped_column(sa.Text, default="")  # why the office sent it back
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    message: Mapped[Message] = relationship(back_populates="replies")
    department = relationship("Department")


class MessageEvent(db.Model):
    """One act in a message's history: shown on its status page (without staff names) and counted by reports."""

    __tablename__ = "message_event"
    __table_args__ = (sa.Index("ix_message_event_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("message.id", ondelete="CASCADE"), index=True)
    kind: Mapped[EventKind] = mapped_column(sa.Enum(EventKind, native_enum=False, length=30))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id", ondelete="SET NULL"))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(sa.Text, default="")

    message: Mapped[Message] = relationship(back_populates="events")
    department = relationship("Department")


class ImportBatch(db.Model):
    """One uploaded file of forwarded messages, with its line-by-line report."""

    __tablename__ = "message_import_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[MessageSource] = mapped_column(sa.Enum(MessageSource, native_enum=False, length=20))
    filename: Mapped[str] = mapped_column(sa.String(255))
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_imported: Mapped[int] = mapped_column(default=0)
    rows_duplicate: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list] = mapped_column(sa.JSON, default=list)  # [{"line": 3, "reason": "..."}], first 1,000


class ForwardingToken(db.Model):
    """The credential of one forwarding system (a source): only its SHA-256 is kept."""

    __tablename__ = "message_forwarding_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[MessageSource] = mapped_column(sa.Enum(MessageSource, native_enum=False, length=20))
    label: Mapped[str] = mapped_column(sa.String(100))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CommonProblem(db.Model):
    """A common problem (共性问题) behind many messages: proposed by grouping, confirmed by staff with the action
    taken at the source (源头治理); every writer in it is told what was done."""

    __tablename__ = "message_problem"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)
    similarity: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    action_kind: Mapped[ActionKind | None] = mapped_column(sa.Enum(ActionKind, native_enum=False, length=20))
    action_text: Mapped[str] = mapped_column(sa.Text, default="")
    action_link: Mapped[str] = mapped_column(sa.String(300), default="")

    department = relationship("Department")
    messages: Mapped[list[Message]] = relationship(back_populates="problem", order_by="Message.id")

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None
