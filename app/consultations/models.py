"""Consultations (公开征询意见): drafts split into articles, comments, moderation, answers and feedback reports.

State is derived from time and from explicit acts (publish, withdraw, publish the report); nothing depends on a
job having run. Other modules (my space, the API, oversight) read these models; the names below are stable.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import tag_link_table
from app.core.enums import DispositionKind, LabelledEnum
from app.core.errors import DomainError
from app.core.timeutil import local, utcnow
from app.core.types import UTCDateTime
from app.extensions import db


class ConsultationError(DomainError):
    """A rule of consultations refused an action."""


class DocumentType(LabelledEnum):
    MAJOR_DECISION = "major_decision", _l("重大行政决策")
    GOVERNMENT_RULE = "government_rule", _l("规章")
    NORMATIVE_DOCUMENT = "normative_document", _l("规范性文件")
    OTHER = "other", _l("其他")


class ConsultationState(LabelledEnum):
    DRAFT = "draft", _l("草稿"), "muted"
    SCHEDULED = "scheduled", _l("即将开始"), "info"
    OPEN = "open", _l("征询中"), "ok"
    CLOSED = "closed", _l("已结束"), "muted"
    WITHDRAWN = "withdrawn", _l("已撤回"), "error"
    FEEDBACK_PUBLISHED = "feedback_published", _l("已反馈"), "ok"


class ModerationState(LabelledEnum):
    PENDING = "pending", _l("待审查"), "warn"
    PUBLISHED = "published", _l("已公开"), "ok"
    REJECTED = "rejected", _l("未公开"), "muted"


class RejectionReason(LabelledEnum):
    SPAM = "spam", _l("垃圾信息或广告")
    ABUSIVE = "abusive", _l("含有辱骂、攻击性内容")
    OFF_TOPIC = "off_topic", _l("与本次征询内容无关")
    PERSONAL_INFORMATION = "personal_information", _l("含有他人个人信息")
    DUPLICATE = "duplicate", _l("重复提交")


class Stance(LabelledEnum):
    SUPPORT = "support", _l("支持")
    OPPOSE = "oppose", _l("反对")
    SUGGEST_CHANGE = "suggest_change", _l("建议修改")


class CommenterType(LabelledEnum):
    RESIDENT = "resident", _l("居民")
    ENTERPRISE = "enterprise", _l("企业")
    ORGANISATION = "organisation", _l("行业协会、商会等组织")  # industry associations, chambers of commerce


# Target groups a consultation addresses (a named group is free text beside these).
TARGET_GROUPS = {
    "enterprises": _l("企业"),
    "associations": _l("行业协会、商会"),
    "grassroots": _l("基层群众、居民"),
}


consultation_tag = tag_link_table("consultation_tag", "consultation_id", "consultation.id")


class Consultation(db.Model):
    __tablename__ = "consultation"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    document_type: Mapped[DocumentType] = mapped_column(sa.Enum(DocumentType, native_enum=False, length=30))
    concerns_enterprises: Mapped[bool] = mapped_column(default=False)
    draft_text: Mapped[str] = mapped_column(sa.Text, default="")  # the pasted draft, split into articles
    interpretation: Mapped[str] = mapped_column(sa.Text, default="")  # 起草说明 / 政策解读
    contact: Mapped[str] = mapped_column(sa.String(300), default="")
    target_groups: Mapped[list] = mapped_column(sa.JSON, default=list)
    target_group_other: Mapped[str] = mapped_column(sa.String(100), default="")

    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    short_period_reason: Mapped[str] = mapped_column(sa.Text, default="")

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdraw_reason: Mapped[str] = mapped_column(sa.Text, default="")

    # Kept counts, changed in the same transaction as the comment they count.
    comment_count: Mapped[int] = mapped_column(default=0)  # every comment received
    published_comment_count: Mapped[int] = mapped_column(default=0)
    pending_comment_count: Mapped[int] = mapped_column(default=0)

    # Job flags: set in the same transaction as the notice, so a job run twice notifies once.
    closing_soon_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_due_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_overdue_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    department = relationship("Department", lazy="joined", innerjoin=True)
    tags = relationship("Tag", secondary=consultation_tag, lazy="selectin", order_by="Tag.id")
    articles: Mapped[list[Article]] = relationship(back_populates="consultation", order_by="Article.position",
                                                   cascade="all, delete-orphan")
    extensions: Mapped[list[Extension]] = relationship(back_populates="consultation", order_by="Extension.id",
                                                       cascade="all, delete-orphan")
    faq_items: Mapped[list[FaqItem]] = relationship(back_populates="consultation", order_by="FaqItem.position",
                                                    cascade="all, delete-orphan")
    report: Mapped[FeedbackReport | None] = relationship(back_populates="consultation", uselist=False,
                                                         cascade="all, delete-orphan")
    documents: Mapped[list[ConsultationDocument]] = relationship(back_populates="consultation",
                                                                 order_by="ConsultationDocument.id",
                                                                 cascade="all, delete-orphan")

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def is_withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    @property
    def is_feedback_published(self) -> bool:
        return self.report is not None and self.report.published_at is not None

    def state_at(self, now: datetime) -> ConsultationState:
        if self.withdrawn_at is not None:
            return ConsultationState.WITHDRAWN
        if self.published_at is None or self.opens_at is None or self.closes_at is None:
            return ConsultationState.DRAFT
        if now < self.opens_at:
            return ConsultationState.SCHEDULED
        if now < self.closes_at:
            return ConsultationState.OPEN
        if self.is_feedback_published:
            return ConsultationState.FEEDBACK_PUBLISHED
        return ConsultationState.CLOSED

    @property
    def state(self) -> ConsultationState:
        return self.state_at(utcnow())

    @classmethod
    def state_clause(cls, state: ConsultationState, now: datetime) -> sa.ColumnElement[bool]:
        """SQL that holds for the consultations whose ``state_at(now)`` is ``state``: the same rule, for queries."""
        if state is ConsultationState.WITHDRAWN:
            return cls.withdrawn_at.is_not(None)
        set_up = sa.and_(cls.published_at.is_not(None), cls.opens_at.is_not(None), cls.closes_at.is_not(None))
        if state is ConsultationState.DRAFT:
            return sa.and_(cls.withdrawn_at.is_(None), sa.not_(set_up))
        live = sa.and_(cls.withdrawn_at.is_(None), set_up)
        if state is ConsultationState.SCHEDULED:
            return sa.and_(live, cls.opens_at > now)
        if state is ConsultationState.OPEN:
            return sa.and_(live, cls.opens_at <= now, cls.closes_at > now)
        reported = (sa.exists().where(FeedbackReport.consultation_id == cls.id, FeedbackReport.published_at.is_not(None))
                    .correlate_except(FeedbackReport))
        if state is ConsultationState.FEEDBACK_PUBLISHED:
            return sa.and_(live, cls.closes_at <= now, reported)
        return sa.and_(live, cls.closes_at <= now, sa.not_(reported))  # CLOSED

    @property
    def is_open(self) -> bool:
        return self.state is ConsultationState.OPEN

    def report_due_at(self, due_days: int) -> datetime | None:
        return self.closes_at + timedelta(days=due_days) if self.closes_at else None

    # Guarded transitions on this object's own state. Services call them and add audit, mail and signals.
    def ensure_editable(self) -> None:
        if self.state not in (ConsultationState.DRAFT, ConsultationState.SCHEDULED):
            raise ConsultationError(_l("征询已开始，草案不能再修改。"))

    def mark_published(self, now: datetime) -> None:
        if self.state is not ConsultationState.DRAFT:
            raise ConsultationError(_l("只有草稿可以发布。"))
        self.published_at = now

    def mark_withdrawn(self, now: datetime, reason: str) -> None:
        if self.state in (ConsultationState.DRAFT, ConsultationState.WITHDRAWN,
                          ConsultationState.FEEDBACK_PUBLISHED):
            raise ConsultationError(_l("当前状态下不能撤回。"))
        if not reason.strip():
            raise ConsultationError(_l("请填写撤回原因。"))
        self.withdrawn_at = now
        self.withdraw_reason = reason.strip()

    def __repr__(self) -> str:
        return f"<Consultation {self.id}>"


class Article(db.Model):
    """One article (条) of the draft, with the chapter (章) it sits in. Its id survives re-splitting the draft."""

    __tablename__ = "consultation_article"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    chapter: Mapped[str] = mapped_column(sa.String(200), default="")  # "第一章 总则"
    label: Mapped[str] = mapped_column(sa.String(40), default="")  # "第三条"
    body: Mapped[str] = mapped_column(sa.Text, default="")
    final_body: Mapped[str | None] = mapped_column(sa.Text)  # the text of the final version, for the report
    is_removed: Mapped[bool] = mapped_column(default=False)  # gone from the draft but keeps its comments
    published_comment_count: Mapped[int] = mapped_column(default=0)

    consultation: Mapped[Consultation] = relationship(back_populates="articles")

    def __repr__(self) -> str:
        return f"<Article {self.id} {self.label}>"


class ConsultationDocument(db.Model):
    """A file published with the draft (the draft itself, an explanatory note): PDF or DOCX, checked by content."""

    __tablename__ = "consultation_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    stored_name: Mapped[str] = mapped_column(sa.String(80))
    mime_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    consultation: Mapped[Consultation] = relationship(back_populates="documents")


class Extension(db.Model):
    """An extension of the period, with the public notice that explains it."""

    __tablename__ = "consultation_extension"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id", ondelete="CASCADE"), index=True)
    previous_closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    new_closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    notice: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    consultation: Mapped[Consultation] = relationship(back_populates="extensions")


class CommentGroup(db.Model):
    """Near-duplicate comments answered together. Proposed by the system, accepted (or split, merged) by staff."""

    __tablename__ = "consultation_comment_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    is_accepted: Mapped[bool] = mapped_column(default=False)
    similarity: Mapped[float] = mapped_column(default=0.0)  # lowest pairwise Jaccard that joined the group
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    comments: Mapped[list[Comment]] = relationship(back_populates="group", order_by="Comment.id")
    disposition: Mapped[Disposition | None] = relationship(back_populates="group", uselist=False,
                                                           cascade="all, delete-orphan")


class Comment(db.Model):
    __tablename__ = "consultation_comment"
    __table_args__ = (
        # Keyset pages of published comments, newest first (see views._published_comments).
        sa.Index("ix_consultation_comment_public", "consultation_id", "moderation_state", "published_at", "id"),
        sa.Index("ix_consultation_comment_article_public", "article_id", "moderation_state", "published_at", "id"),
        # Staff lists (moderation queue, answers), oldest first.
        sa.Index("ix_consultation_comment_queue", "consultation_id", "moderation_state", "created_at", "id"),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_consultation_comment_idempotency"),
        sa.Index("ix_consultation_comment_receipt_due", "id", postgresql_where=sa.text("receipt_mail_due"),
                 sqlite_where=sa.text("receipt_mail_due")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id", ondelete="CASCADE"))
    article_id: Mapped[int | None] = mapped_column(sa.ForeignKey("consultation_article.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    tracking_number: Mapped[str] = mapped_column(sa.String(24), unique=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(64))
    stance: Mapped[Stance | None] = mapped_column(sa.Enum(Stance, native_enum=False, length=20))
    text_original: Mapped[str] = mapped_column(sa.Text)  # as written; staff only
    text_public: Mapped[str] = mapped_column(sa.Text)  # phones, ID numbers and e-mail addresses masked
    commenter_type: Mapped[CommenterType] = mapped_column(sa.Enum(CommenterType, native_enum=False, length=20))
    show_organisation: Mapped[bool] = mapped_column(default=False)
    public_name: Mapped[str] = mapped_column(sa.String(200))  # 张** or the organisation's name, fixed at submission
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    moderation_state: Mapped[ModerationState] = mapped_column(
        sa.Enum(ModerationState, native_enum=False, length=20), default=ModerationState.PENDING)
    rejection_reason: Mapped[RejectionReason | None] = mapped_column(
        sa.Enum(RejectionReason, native_enum=False, length=30))
    moderation_note: Mapped[str] = mapped_column(sa.Text, default="")
    moderated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    moderated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    group_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("consultation_comment_group.id", ondelete="SET NULL"), index=True)
    answer_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by the submission's own INSERT: its receipt mail is still to be queued (jobs.mail_receipts queues it and
    # clears this in one transaction), so taking a comment writes no outbox row in the request.
    receipt_mail_due: Mapped[bool] = mapped_column(default=False, server_default="0")

    consultation: Mapped[Consultation] = relationship()
    article: Mapped[Article | None] = relationship()
    user = relationship("User", foreign_keys=[user_id])
    group: Mapped[CommentGroup | None] = relationship(back_populates="comments")
    disposition: Mapped[Disposition | None] = relationship(back_populates="comment", uselist=False,
                                                           cascade="all, delete-orphan")
    attachments: Mapped[list[CommentAttachment]] = relationship(back_populates="comment",
                                                                cascade="all, delete-orphan")

    @property
    def answer(self) -> Disposition | None:
        """The answer that applies: the comment's own, else its accepted group's. Private until the report is out
        (callers showing it publicly check ``consultation.is_feedback_published``)."""
        if self.disposition is not None:
            return self.disposition
        if self.group is not None and self.group.is_accepted:
            return self.group.disposition
        return None

    @property
    def is_published(self) -> bool:
        return self.moderation_state is ModerationState.PUBLISHED

    def moderate(self, publish: bool, *, reason: RejectionReason | None, note: str, now: datetime,
                 by_id: int | None) -> ModerationState:
        """Publish or reject (先审查、后公开); a rejection needs its reason. Returns the state before (unchanged when
        it already was the wanted one). The consultation's kept counts move with it in services.moderate."""
        old = self.moderation_state
        new = ModerationState.PUBLISHED if publish else ModerationState.REJECTED
        if not publish and reason is None:
            raise ConsultationError(_l("不予公开时请选择原因。"), field="reason")
        if old is new:
            return old
        self.moderation_state = new
        self.moderated_at, self.moderated_by_id = now, by_id
        self.moderation_note = note.strip()
        if publish:
            self.rejection_reason = None
            self.published_at = self.published_at or now
        else:
            self.rejection_reason = reason
            self.published_at = None
        return old

    def __repr__(self) -> str:
        return f"<Comment {self.tracking_number}>"


class CommentAttachment(db.Model):
    __tablename__ = "consultation_comment_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation_comment.id", ondelete="CASCADE"),
                                            index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))  # the name the user gave, shown to staff
    stored_name: Mapped[str] = mapped_column(sa.String(80))  # random name on disk
    mime_type: Mapped[str] = mapped_column(sa.String(100))  # detected from the content
    size: Mapped[int] = mapped_column()

    comment: Mapped[Comment] = relationship(back_populates="attachments")


class Disposition(db.Model):
    """The answer to one comment or to one group: 采纳 / 部分采纳 / 未采纳 (with a reason) / 不适用."""

    __tablename__ = "consultation_disposition"
    __table_args__ = (
        sa.CheckConstraint("(comment_id IS NULL) <> (group_id IS NULL)", name="one_target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id", ondelete="CASCADE"), index=True)
    comment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("consultation_comment.id", ondelete="CASCADE"), unique=True)
    group_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("consultation_comment_group.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[DispositionKind] = mapped_column(sa.Enum(DispositionKind, native_enum=False, length=20))
    response: Mapped[str] = mapped_column(sa.Text, default="")
    reason: Mapped[str] = mapped_column(sa.Text, default="")  # required when not adopted
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    comment: Mapped[Comment | None] = relationship(back_populates="disposition")
    group: Mapped[CommentGroup | None] = relationship(back_populates="disposition")


class FaqItem(db.Model):
    __tablename__ = "consultation_faq_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    question: Mapped[str] = mapped_column(sa.Text)
    answer: Mapped[str] = mapped_column(sa.Text)
    is_published: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    consultation: Mapped[Consultation] = relationship(back_populates="faq_items")


class FeedbackReport(db.Model):
    """意见采纳情况反馈: generated from the answers, edited by staff, then published."""

    __tablename__ = "consultation_feedback_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(sa.ForeignKey("consultation.id", ondelete="CASCADE"),
                                                 unique=True)
    main_points: Mapped[str] = mapped_column(sa.Text, default="")  # edited by staff
    changes: Mapped[str] = mapped_column(sa.Text, default="")  # what changed in the final text, edited by staff
    statistics: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # generated counts, refreshed on publication
    generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    consultation: Mapped[Consultation] = relationship(back_populates="report")

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


def local_date_span(opens_at: datetime, closes_at: datetime) -> tuple[date, date]:
    """The first and last Shanghai calendar day of a period (closing at midnight ends on the day before)."""
    first = local(opens_at).date()
    last = local(closes_at - timedelta(microseconds=1)).date()
    return first, last
