"""Use cases of messages: intake on the platform and from forwarding sources, and what every other use case shares
(the history, the deadlines). Each takes the acting user, flushes but never commits, writes the audit log, queues
mail and sends signals; a refused action raises MessageError with a translated message."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from app import signals
from app.accounts.models import DISTRICTS, Role, Tag, User, mask_name
from app.core.audit import audit
from app.core.forms import CONTROL_MESSAGE
from app.core.inputs import has_control
from app.core.privacy import mask_personal_information
from app.core.storage import Upload, safe_filename, store_upload
from app.core.timeutil import utcnow
from app.core.tracking import new_tracking_number
from app.core.uploads import check_uploads
from app.extensions import db
from app.messages import rules
from app.messages.models import (
    ContactPreference,
    EventKind,
    ExtensionDecision,
    Message,
    MessageAttachment,
    MessageError,
    MessageEvent,
    MessageSource,
    WriterType,
)
from app.notifications.services import queue_email

UPLOAD_AREA = "messages"  # storage keys: messages/<random>.<ext>


def file_key(att: MessageAttachment) -> str:
    return f"{UPLOAD_AREA}/{att.stored_name}"


def record(message: Message, kind: EventKind, actor: User | None = None, *, department_id: int | None = None,
           note: str = "", at: datetime | None = None) -> MessageEvent:
    """Add one act to the message's history (its status page and the reports read it)."""
    event = MessageEvent(kind=kind, at=at or utcnow(), department_id=department_id,
                         actor_id=getattr(actor, "id", None), note=note)
    message.events.append(event)
    return event


def refresh_deadlines(message: Message) -> None:
    """Derive the deadlines from the message's dates and acts (never stored by a job): acknowledgement from the
    assignment, reply from receipt or reopening plus an approved extension. Called by every act that changes them."""
    message.ack_due_at = (rules.ack_due(message.source, message.assigned_at)
                          if message.assigned_at is not None and message.department_id is not None else None)
    extra = message.extension_days if message.extension_decision is ExtensionDecision.APPROVED else 0
    message.reply_due_at = rules.reply_due(message.source, message.received_at, message.reopened_at, extra)


def find_by_idempotency_key(user: User, key: str) -> Message | None:
    return db.session.scalar(sa.select(Message).where(Message.user_id == user.id, Message.idempotency_key == key))


def find_by_tracking_number(number: str) -> Message | None:
    number = (number or "").strip().upper()
    if not rules.is_valid_tracking_number(number):
        return None
    return db.session.scalar(sa.select(Message).where(Message.tracking_number == number))


def _check_controls(field: str, value: str, multiline: bool = False) -> None:
    """No control character (NUL, ESC...; line breaks only in a text) is ever stored, whatever the way in."""
    if has_control(value, multiline=multiline):
        raise MessageError(str(CONTROL_MESSAGE), field=field)


def _check_text(subject: str, text: str) -> tuple[str, str]:
    subject, text = (subject or "").strip(), (text or "").strip()
    _check_controls("subject", subject)
    _check_controls("text", text, multiline=True)
    if not subject:
        raise MessageError(_("请填写留言主题。"), field="subject")
    if len(subject) > rules.MAX_SUBJECT_LENGTH:
        raise MessageError(_("主题不能超过%(n)s个字。", n=rules.MAX_SUBJECT_LENGTH), field="subject")
    if not text:
        raise MessageError(_("请填写留言内容。"), field="text")
    if len(text) > rules.MAX_TEXT_LENGTH:
        raise MessageError(_("留言内容不能超过%(n)s个字（现为%(have)s个字）。", n=rules.MAX_TEXT_LENGTH,
                             have=len(text)), field="text")
    return subject, text


def _check_district(district: str | None) -> str | None:
    if district and district not in DISTRICTS:
        raise MessageError(_("请选择上海市的一个区。"), field="district")
    return district or None


@dataclass
class MessageData:
    subject: str
    text: str
    district: str | None = None
    allow_publish: bool = False
    contact_preference: ContactPreference = ContactPreference.EMAIL
    tag_ids: list[int] | None = None


def submit_message(actor: User, data: MessageData, *, uploads: list[Upload] | None = None,
                   idempotency_key: str) -> tuple[Message, bool]:
    """A resident or an enterprise writes a message. Returns (message, created): a repeated submit with the same
    idempotency key returns the first message and creates nothing."""
    if not actor.is_verified:
        raise MessageError(_("请先验证您的电子邮箱地址，然后再留言。"))
    if actor.role not in (Role.RESIDENT, Role.ENTERPRISE):
        raise MessageError(_("工作人员账户不能以个人身份留言。"))
    if not idempotency_key or len(idempotency_key) > 64:
        raise MessageError(_("表单已过期，请刷新页面后重试。"))
    existing = find_by_idempotency_key(actor, idempotency_key)
    if existing is not None:
        return existing, False
    subject, text = _check_text(data.subject, data.text)
    district = _check_district(data.district)
    if data.contact_preference is ContactPreference.PHONE:  # accounts keep no phone number
        raise MessageError(_("请选择通过电子邮件或“我的空间”接收答复。"), field="contact_preference")
    checked = check_uploads(uploads or [], error=MessageError)
    now = utcnow()
    message = Message(
        tracking_number=new_tracking_number(Message.tracking_number, rules.random_tracking_number, now),
        source=MessageSource.PLATFORM, idempotency_key=idempotency_key,
        user_id=actor.id, writer_name=actor.name,
        writer_type=WriterType.ENTERPRISE if actor.role is Role.ENTERPRISE else WriterType.RESIDENT,
        public_name=mask_name(actor.name), subject=subject, text_original=text,
        text_public=mask_personal_information(text), district=district, allow_publish=bool(data.allow_publish),
        contact_preference=data.contact_preference, received_at=now, created_at=now)
    if data.tag_ids:
        message.tags = list(db.session.scalars(sa.select(Tag).where(Tag.id.in_(data.tag_ids),
                                                                    Tag.is_active.is_(True))))
    refresh_deadlines(message)
    db.session.add(message)
    for upload, ext, mime in checked:
        key, size = store_upload(UPLOAD_AREA, upload, ext)
        message.attachments.append(MessageAttachment(filename=safe_filename(upload.filename, ext),
                                                     stored_name=key.split("/", 1)[1], mime_type=mime, size=size))
    record(message, EventKind.RECEIVED, at=now)
    db.session.flush()
    if actor.email:
        queue_email(actor.email, "messages/emails/received", user=actor, message=message)
    signals.message_received.send(message)
    return message, True


@dataclass
class ForwardedData:
    """One message as a forwarding source sends it (a batch row or an API request)."""

    source_ref: str
    forwarded_at: datetime
    subject: str
    text: str
    writer_name: str = ""
    writer_phone: str = ""
    writer_email: str = ""
    district: str | None = None
    allow_publish: bool = False


def find_forwarded(source: MessageSource, source_ref: str) -> Message | None:
    return db.session.scalar(sa.select(Message).where(Message.source == source,
                                                      Message.source_ref == (source_ref or "").strip()))


def receive_forwarded(actor: User | None, source: MessageSource, data: ForwardedData, *,
                      batch_id: int | None = None) -> tuple[Message, bool]:
    """Store one forwarded message, idempotent on the source's own id: returns (message, created); the same id
    again returns the stored message and changes nothing."""
    if source is MessageSource.PLATFORM:
        raise MessageError(_("请选择转办来源。"), field="source")
    ref = (data.source_ref or "").strip()
    if not ref or len(ref) > 64:
        raise MessageError(_("来源编号必填，且不超过64个字符。"), field="source_ref")
    existing = find_forwarded(source, ref)
    if existing is not None:
        return existing, False
    subject, text = _check_text(data.subject, data.text)
    district = _check_district(data.district)
    now = utcnow()
    if data.forwarded_at.tzinfo is None:
        raise MessageError(_("转办时间缺少时区。"), field="forwarded_at")
    if data.forwarded_at > now:
        raise MessageError(_("转办时间不能晚于现在。"), field="forwarded_at")
    if not rules.is_plausible_forwarded_at(data.forwarded_at, now):
        raise MessageError(_("转办时间早于%(year)s年，请检查。", year=rules.EARLIEST_FORWARDED.year),
                           field="forwarded_at")
    for field in ("source_ref", "writer_name", "writer_phone", "writer_email"):
        _check_controls(field, getattr(data, field) or "")
    email = (data.writer_email or "").strip()
    if email and not rules.is_plausible_email(email):
        raise MessageError(_("留言人邮箱格式不正确。"), field="writer_email")
    name = (data.writer_name or "").strip()[:60]
    message = Message(
        tracking_number=new_tracking_number(Message.tracking_number, rules.random_tracking_number, now),
        source=source, source_ref=ref, forwarded_at=data.forwarded_at,
        import_batch_id=batch_id, writer_name=name, writer_phone=(data.writer_phone or "").strip()[:40],
        writer_email=email, public_name=mask_name(name), subject=subject,
        text_original=text, text_public=mask_personal_information(text), district=district,
        allow_publish=bool(data.allow_publish), received_at=data.forwarded_at, created_at=now,
        contact_preference=ContactPreference.EMAIL if data.writer_email else ContactPreference.PHONE)
    refresh_deadlines(message)
    db.session.add(message)
    record(message, EventKind.RECEIVED, actor, at=data.forwarded_at, note=source.msgid)
    db.session.flush()
    signals.message_received.send(message)
    return message, True


def redact(actor: User, message: Message, text_public: str) -> None:
    """Staff redaction of the public text (beyond the automatic masking); the original is kept for staff."""
    text_public = (text_public or "").strip()
    if not text_public:
        raise MessageError(_("公开文本不能为空。"), field="text_public")
    message.text_public = mask_personal_information(text_public)
    db.session.flush()
    audit(actor, "message.redact", message, department_id=message.department_id)


def set_hidden(actor: User, message: Message, hidden: bool) -> None:
    """The office takes a published message off the public list (or puts it back)."""
    message.hidden_at = utcnow() if hidden else None
    db.session.flush()
    audit(actor, "message.hide" if hidden else "message.unhide", message, department_id=message.department_id)
