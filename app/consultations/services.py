"""Use cases of consultations. Each takes the acting user, flushes but never commits, writes the audit log, queues
mail and sends signals; a refused action raises ConsultationError with a translated message."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

import sqlalchemy as sa
from flask_babel import gettext as _

from app import signals
from app.accounts.models import Role, Tag, User, mask_name
from app.consultations import redaction, rules
from app.consultations.models import (
    Article,
    Comment,
    CommentAttachment,
    CommenterType,
    CommentGroup,
    Consultation,
    ConsultationDocument,
    ConsultationError,
    ConsultationState,
    Disposition,
    DispositionKind,
    DocumentType,
    Extension,
    FaqItem,
    ModerationState,
    RejectionReason,
    Stance,
)
from app.core import rows
from app.core import uploads as uploads_rule
from app.core.audit import audit
from app.core.storage import Upload, safe_filename, storage, store_upload
from app.core.timeutil import utcnow
from app.core.tracking import new_tracking_number, tracking_year
from app.extensions import db
from app.notifications.services import queue_email

MAX_COMMENT_LENGTH = 5000
MAX_ATTACHMENTS = uploads_rule.MAX_ATTACHMENTS
MAX_ATTACHMENT_BYTES = uploads_rule.MAX_ATTACHMENT_BYTES
UPLOAD_AREA = "consultations"  # storage keys: consultations/<random>.<ext>
# Accepted attachment types, recognised from the file's content (magic numbers), never from its name.
ALLOWED_TYPES = uploads_rule.ATTACHMENT_TYPES
DOCUMENT_TYPES = uploads_rule.DOCUMENT_TYPES


# ---------------------------------------------------------------------------------------------------------------
# Drafting, scheduling, publishing, extending, withdrawing


@dataclass
class ConsultationData:
    title: str
    summary: str
    document_type: DocumentType
    concerns_enterprises: bool
    draft_text: str
    interpretation: str
    contact: str
    opens_at: datetime | None
    closes_at: datetime | None
    short_period_reason: str = ""
    target_groups: list[str] | None = None
    target_group_other: str = ""
    tag_ids: list[int] | None = None


def _check_period(c: Consultation) -> None:
    if c.opens_at is None or c.closes_at is None:
        return
    if c.closes_at <= c.opens_at:
        raise ConsultationError(_("截止时间必须晚于开始时间。"), field="closes_at")
    shortfall = rules.period_shortfall(c.document_type, c.concerns_enterprises, c.opens_at, c.closes_at)
    if shortfall is not None and not c.short_period_reason.strip():
        if shortfall.working_days:
            msg = _("规范性文件的征询期不少于%(days)s个工作日；如需缩短，请填写公开说明的理由。", days=shortfall.days)
        else:
            msg = _("该类文件的征询期不少于%(days)s日；如需缩短，请填写公开说明的理由。", days=shortfall.days)
        raise ConsultationError(msg, field="short_period_reason")


def is_period_short(c: Consultation) -> bool:
    if c.opens_at is None or c.closes_at is None:
        return False
    return rules.period_shortfall(c.document_type, c.concerns_enterprises, c.opens_at, c.closes_at) is not None


def resplit_articles(c: Consultation, text: str) -> None:
    """Split the draft into articles, keeping the id of every article that is still there (matched by text, then
    by its 第X条 label). An article that disappears is deleted, or kept as removed when it has comments."""
    parsed = rules.split_articles(text)
    existing = [a for a in c.articles]
    pairs = rules.match_articles(existing, parsed)
    kept = set()
    for position, (article, p) in enumerate(pairs, start=1):
        if article is None:
            article = Article(label=p.label, chapter=p.chapter, body=p.body, position=position)
            c.articles.append(article)
        else:
            article.label, article.chapter, article.body, article.position = p.label, p.chapter, p.body, position
            article.is_removed = False
            kept.add(article.id)
    for article in existing:
        if article.id in kept:
            continue
        has_comments = db.session.scalar(sa.select(sa.func.count(Comment.id)).where(Comment.article_id == article.id))
        if has_comments:
            article.is_removed = True
            article.position = 10_000 + article.position
        else:
            c.articles.remove(article)
    c.draft_text = text


def _apply(c: Consultation, data: ConsultationData) -> None:
    if not data.title.strip():
        raise ConsultationError(_("请填写标题。"), field="title")
    c.title = data.title.strip()
    c.summary = data.summary.strip()
    c.document_type = data.document_type
    c.concerns_enterprises = data.concerns_enterprises
    c.interpretation = data.interpretation.strip()
    c.contact = data.contact.strip()
    c.opens_at, c.closes_at = data.opens_at, data.closes_at
    c.short_period_reason = data.short_period_reason.strip()
    c.target_groups = list(data.target_groups or [])
    c.target_group_other = data.target_group_other.strip()
    if data.tag_ids is not None:
        c.tags = list(db.session.scalars(sa.select(Tag).where(Tag.id.in_(data.tag_ids)))) if data.tag_ids else []
    _check_period(c)
    if not rules.split_articles(data.draft_text):
        raise ConsultationError(_("请粘贴草案全文。"), field="draft_text")


def create_consultation(actor: User, department_id: int, data: ConsultationData) -> Consultation:
    c = Consultation(department_id=department_id, title="", document_type=data.document_type)
    _apply(c, data)
    db.session.add(c)
    resplit_articles(c, data.draft_text)
    db.session.flush()
    audit(actor, "consultation.create", c, title=c.title)
    return c


def update_consultation(actor: User, c: Consultation, data: ConsultationData) -> Consultation:
    c.ensure_editable()
    with db.session.no_autoflush:
        _apply(c, data)
        resplit_articles(c, data.draft_text)
    db.session.flush()
    audit(actor, "consultation.update", c)
    return c


def publish(actor: User, c: Consultation) -> None:
    """Publish now; with a future opening time the consultation is scheduled and opens by itself."""
    if c.opens_at is None or c.closes_at is None:
        raise ConsultationError(_("请先设置征询期。"))
    now = utcnow()
    if c.closes_at <= now:
        raise ConsultationError(_("截止时间已过，请先修改征询期。"))
    if not any(not a.is_removed for a in c.articles):
        raise ConsultationError(_("草案没有任何条文。"))
    _check_period(c)
    c.mark_published(now)
    db.session.flush()
    audit(actor, "consultation.publish", c, opens_at=c.opens_at.isoformat(), closes_at=c.closes_at.isoformat())
    signals.consultation_published.send(c, actor=actor)


def extend(actor: User, c: Consultation, new_closes_at: datetime, notice: str) -> Extension:
    if c.state not in (ConsultationState.OPEN, ConsultationState.SCHEDULED):
        raise ConsultationError(_("只有尚未结束的征询可以延期。"))
    if new_closes_at <= c.closes_at:
        raise ConsultationError(_("新的截止时间必须晚于原截止时间。"), field="closes_at")
    if not notice.strip():
        raise ConsultationError(_("请填写延期公告。"), field="notice")
    ext = Extension(consultation=c, previous_closes_at=c.closes_at, new_closes_at=new_closes_at,
                    notice=notice.strip(), created_by_id=actor.id)
    c.closes_at = new_closes_at
    c.closing_soon_sent_at = None  # a new closing date deserves its own reminder
    db.session.add(ext)
    db.session.flush()
    audit(actor, "consultation.extend", c, previous=ext.previous_closes_at.isoformat(),
          new=new_closes_at.isoformat())
    return ext


def withdraw(actor: User, c: Consultation, reason: str) -> None:
    c.mark_withdrawn(utcnow(), reason)
    db.session.flush()
    audit(actor, "consultation.withdraw", c, reason=c.withdraw_reason)


# ---------------------------------------------------------------------------------------------------------------
# Comments


def check_uploads(uploads: list[Upload], allowed: dict[str, str] | None = None) -> list[tuple[Upload, str, str]]:
    """Refuse more than five files, a file over 10 MB, or one whose content is not PDF, DOCX, JPG or PNG (the shared
    rule of core.uploads, refused as a ConsultationError)."""
    return uploads_rule.check_uploads(uploads, allowed or ALLOWED_TYPES, ConsultationError)


def _store(upload: Upload, ext: str) -> tuple[str, int]:
    """Store a checked upload (it goes away again if the transaction rolls back); returns (stored name, size)."""
    key, size = store_upload(UPLOAD_AREA, upload, ext)
    return key.split("/", 1)[1], size


def file_key(att: CommentAttachment | ConsultationDocument) -> str:
    """The storage key of a comment attachment or a consultation document."""
    return f"{UPLOAD_AREA}/{att.stored_name}"


def commenter_type_for(user: User) -> CommenterType:
    if user.role is Role.ENTERPRISE:
        org = user.organisation_name or ""
        if "协会" in org or "商会" in org:
            return CommenterType.ORGANISATION
        return CommenterType.ENTERPRISE
    return CommenterType.RESIDENT


def find_by_idempotency_key(user: User, key: str) -> Comment | None:
    t = Comment.__table__  # a Core query first, the object only when there is one
    found = db.session.scalar(sa.select(t.c.id).where(t.c.user_id == user.id, t.c.idempotency_key == key))
    return db.session.get(Comment, found) if found is not None else None


def _submission_facts() -> sa.Select:
    """What a submission must know before its comment is written, in one query: the comment this idempotency key
    gave already, the account's comments since ``since`` (the per-account limit), whether ``article_id`` is one of
    the consultation's articles still in the draft, and whether the tracking number ``number`` is taken.

    Built once (``_SUBMISSION_FACTS``): it runs with every comment, and a prebuilt statement's compiled form is found
    without building and cache-keying it again. Asked separately these were four round trips."""
    comments, articles = Comment.__table__, Article.__table__
    user_id = sa.bindparam("user_id", type_=sa.Integer)
    return sa.select(
        sa.select(comments.c.id).where(comments.c.user_id == user_id,
                                       comments.c.idempotency_key == sa.bindparam("key"))
        .scalar_subquery().label("existing_id"),
        sa.select(sa.func.count(comments.c.id)).where(comments.c.user_id == user_id,
                                                      comments.c.created_at > sa.bindparam("since"))
        .scalar_subquery().label("recent"),
        sa.exists().where(articles.c.id == sa.bindparam("article_id"),
                          articles.c.consultation_id == sa.bindparam("consultation_id"),
                          articles.c.is_removed.is_(False)).label("article_ok"),
        sa.exists().where(comments.c.tracking_number == sa.bindparam("number")).label("number_taken"),
    )


_SUBMISSION_FACTS = _submission_facts()


# The columns a new comment leaves empty, written out so that its copy holds every column (none is read again).
_UNSET_ON_SUBMIT = dict.fromkeys(("rejection_reason", "moderated_at", "moderated_by_id", "published_at", "group_id",
                                  "answer_notified_at"))


def _insert_comment(**values) -> Comment:
    """Write a new comment with one INSERT (core.rows: no unit of work at the commit, which comes after the
    consultation's row is locked) and give it to the session as a loaded object, as a query would: callers may
    change it (moderation in the same transaction) or read its relationships like any other."""
    return rows.insert_attached(Comment, **_UNSET_ON_SUBMIT, **values)


_consultations = Consultation.__table__
_COUNT_NEW_COMMENT = (sa.update(_consultations).where(_consultations.c.id == sa.bindparam("consultation"))
                      .values(comment_count=_consultations.c.comment_count + 1,
                              pending_comment_count=_consultations.c.pending_comment_count + 1))


def submit_comment(actor: User, c: Consultation, *, text: str, article_id: int | None = None,
                   stance: Stance | None = None, uploads: list[Upload] | None = None,
                   show_organisation: bool = False, idempotency_key: str) -> tuple[Comment, bool]:
    """Store a comment (waiting for review), its receipt mail marked as due (``jobs.mail_receipts``). Returns
    (comment, created): a repeated submit with the same idempotency key returns the first comment and creates
    nothing."""
    if not actor.is_verified:
        raise ConsultationError(_("请先验证您的电子邮箱地址，然后再发表意见。"))
    if not idempotency_key or len(idempotency_key) > 64:
        raise ConsultationError(_("表单已过期，请刷新页面后重试。"))
    now = utcnow()
    number = rules.random_tracking_number(tracking_year(now))
    facts = rows.run(_SUBMISSION_FACTS, {
        "user_id": actor.id, "key": idempotency_key, "since": now - redaction.ACCOUNT_LIMIT_WINDOW,
        "article_id": article_id or None, "consultation_id": c.id, "number": number})[0]
    if facts.existing_id is not None:
        return db.session.get(Comment, facts.existing_id), False
    redaction.check_account_limit(facts.recent)
    state = c.state_at(now)
    if state is ConsultationState.WITHDRAWN:
        raise ConsultationError(_("该征询已撤回，不再接受意见。"))
    if state is not ConsultationState.OPEN:
        raise ConsultationError(_("现在不在征询期内，不能发表意见。"))
    text = (text or "").strip()
    if not text:
        raise ConsultationError(_("请填写意见内容。"), field="text")
    if len(text) > MAX_COMMENT_LENGTH:
        raise ConsultationError(_("意见内容不能超过%(n)s个字（现为%(have)s个字）。", n=MAX_COMMENT_LENGTH,
                                  have=len(text)), field="text")
    if article_id and not facts.article_ok:
        raise ConsultationError(_("请选择草案中的条文。"), field="article_id")
    if facts.number_taken:  # one chance in 10^8 per comment already given this year: draw until one is free
        number = new_tracking_number(Comment.__table__.c.tracking_number, rules.random_tracking_number, now)
    checked = check_uploads(uploads or [])

    ctype = commenter_type_for(actor)
    show_org = bool(show_organisation and ctype is not CommenterType.RESIDENT and actor.organisation_name)
    comment = _insert_comment(
        consultation_id=c.id, article_id=article_id or None, user_id=actor.id, tracking_number=number,
        idempotency_key=idempotency_key, stance=stance,
        text_original=text, text_public=rules.mask_personal_information(text), commenter_type=ctype,
        show_organisation=show_org, public_name=actor.organisation_name if show_org else mask_name(actor.name),
        created_at=now, moderation_state=ModerationState.PENDING,
        receipt_mail_due=bool(actor.email))  # the receipt is queued by jobs.mail_receipts, seconds later
    for upload, ext, mime in checked:
        stored, size = _store(upload, ext)
        comment.attachments.append(CommentAttachment(filename=safe_filename(upload.filename, ext),
                                                     stored_name=stored, mime_type=mime, size=size))
    signals.comment_submitted.send(comment)
    # The kept counts last: this UPDATE locks the consultation's row until the commit, and every comment on the
    # consultation waits for that lock, so nothing else is done while holding it.
    # A Core statement (the ORM's would look for loaded consultations to change too); ``c`` reads them again.
    db.session.flush()  # the rest (attachments) before it, not under the lock
    rows.run(_COUNT_NEW_COMMENT, {"consultation": c.id})
    if sa.inspect(c).persistent:  # a detached copy (the comment view's) has nothing to read again
        db.session.expire(c, ["comment_count", "pending_comment_count"])
    return comment, True


def add_documents(actor: User, c: Consultation, uploads: list[Upload]) -> list[ConsultationDocument]:
    """Attach PDF or DOCX files (the draft, an explanatory note) to a consultation; shown on its public page."""
    checked = check_uploads(uploads, DOCUMENT_TYPES)
    if not checked:
        raise ConsultationError(_("请选择要上传的文件。"), field="attachments")
    docs = []
    for upload, ext, mime in checked:
        stored, size = _store(upload, ext)
        doc = ConsultationDocument(filename=safe_filename(upload.filename, ext), stored_name=stored, mime_type=mime,
                                   size=size)
        c.documents.append(doc)
        docs.append(doc)
    db.session.flush()
    audit(actor, "consultation.documents_add", c, files=[d.filename for d in docs])
    return docs


def remove_document(actor: User, c: Consultation, doc: ConsultationDocument) -> None:
    c.documents.remove(doc)
    storage().delete(file_key(doc))  # once the transaction commits
    db.session.flush()
    audit(actor, "consultation.document_remove", c, file=doc.filename)


# ---------------------------------------------------------------------------------------------------------------
# Moderation (先审查、后公开)


def moderate(actor: User, c: Consultation, comments: Iterable[Comment], *, publish: bool,
             reason: RejectionReason | None = None, note: str = "") -> int:
    """Publish or reject comments of one consultation; each commenter is told by e-mail. Returns how many changed."""
    if not publish and reason is None:
        raise ConsultationError(_("不予公开时请选择原因。"), field="reason")
    now = utcnow()
    changed = 0
    article_deltas: dict[int, int] = {}
    published_delta = pending_delta = 0
    for comment in comments:
        if comment.consultation_id != c.id:
            continue
        old = comment.moderate(publish, reason=reason, note=note, now=now, by_id=actor.id)
        new = comment.moderation_state
        if old is new:
            continue
        delta = (1 if new is ModerationState.PUBLISHED else 0) - (1 if old is ModerationState.PUBLISHED else 0)
        published_delta += delta
        pending_delta -= 1 if old is ModerationState.PENDING else 0
        if comment.article_id and delta:
            article_deltas[comment.article_id] = article_deltas.get(comment.article_id, 0) + delta
        changed += 1
        if comment.user is not None and comment.user.email:
            queue_email(comment.user.email, "consultations/emails/comment_moderated", user=comment.user,
                        comment=comment, consultation=c)
        signals.comment_moderated.send(comment, actor=actor)
    if changed:
        db.session.execute(sa.update(Consultation).where(Consultation.id == c.id).values(
            published_comment_count=Consultation.published_comment_count + published_delta,
            pending_comment_count=Consultation.pending_comment_count + pending_delta))
        for article_id, delta in article_deltas.items():
            db.session.execute(sa.update(Article).where(Article.id == article_id).values(
                published_comment_count=Article.published_comment_count + delta))
        db.session.flush()
        audit(actor, "consultation.moderate", c, count=changed, publish=publish,
              reason=reason.value if reason else None)
    return changed


# ---------------------------------------------------------------------------------------------------------------
# Answers (dispositions)


def answer(actor: User, c: Consultation, *, kind: DispositionKind, response: str, reason: str = "",
           comment: Comment | None = None, group: CommentGroup | None = None) -> Disposition:
    """Answer a comment or a group. Answers stay private until the feedback report is published."""
    if c.is_feedback_published:
        raise ConsultationError(_("反馈报告已发布，答复不能再修改。"))
    if (comment is None) == (group is None):
        raise ConsultationError(_("请选择要答复的意见或意见组。"))
    target = comment if comment is not None else group
    if target.consultation_id != c.id:
        raise ConsultationError(_("该意见不属于本次征询。"))
    if comment is not None and comment.moderation_state is not ModerationState.PUBLISHED:
        raise ConsultationError(_("只能答复已公开的意见。"))
    if group is not None and not group.is_accepted:
        raise ConsultationError(_("请先确认该意见组。"))
    if kind is DispositionKind.NOT_ADOPTED and not reason.strip():
        raise ConsultationError(_("未采纳时必须说明理由。"), field="reason")
    disp = target.disposition
    if disp is None:
        disp = Disposition(consultation_id=c.id, kind=kind)
        if comment is not None:
            disp.comment = comment
        else:
            disp.group = group
        db.session.add(disp)
    disp.kind, disp.response, disp.reason = kind, response.strip(), reason.strip()
    disp.answered_at, disp.answered_by_id = utcnow(), actor.id
    db.session.flush()
    audit(actor, "consultation.answer", c, comment=getattr(comment, "id", None), group=getattr(group, "id", None),
          kind=kind.value)
    return disp


# ---------------------------------------------------------------------------------------------------------------
# FAQ


def save_faq(actor: User, c: Consultation, *, question: str, answer_text: str, is_published: bool,
             item: FaqItem | None = None) -> FaqItem:
    if not question.strip():
        raise ConsultationError(_("请填写问题。"), field="question")
    if not answer_text.strip():
        raise ConsultationError(_("请填写解答。"), field="answer")
    if item is None:
        position = (max((f.position for f in c.faq_items), default=0)) + 1
        item = FaqItem(consultation=c, position=position, question="", answer="")
        db.session.add(item)
    item.question, item.answer, item.is_published = question.strip(), answer_text.strip(), is_published
    db.session.flush()
    audit(actor, "consultation.faq_save", c, faq=item.id)
    return item


def delete_faq(actor: User, c: Consultation, item: FaqItem) -> None:
    c.faq_items.remove(item)
    db.session.flush()
    audit(actor, "consultation.faq_delete", c, faq=item.id)
