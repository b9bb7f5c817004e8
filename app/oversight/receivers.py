"""Reactions to other modules' events: news for subscribers, targeted invitations, and notices about a person's own
contributions (shown in my space). Only other modules' models are read; their services are never called."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import force_locale

from app import signals
from app.extensions import db
from app.notifications.notices import add_notice
from app.notifications.subscriptions import NewsKind, notify_news
from app.oversight.labels import change_text


def _locale_of(user_id: int) -> str:
    from app.accounts.models import User

    return db.session.scalar(sa.select(User.locale).where(User.id == user_id)) or "zh"


def _tell(user_id: int | None, kind: str, what: str, link: str, **values) -> None:
    if user_id is None:
        return
    with force_locale(_locale_of(user_id)):
        add_notice(user_id, kind, change_text(what, **values), link)


def _label(value) -> str:
    label = getattr(value, "label", None)
    return str(label if label is not None else getattr(value, "value", value))


def _department_district(department_id: int | None) -> list[str]:
    """A district government's consultation concerns its district's followers too."""
    from app.accounts.models import DISTRICTS, Department, DepartmentKind

    if department_id is None:
        return []
    dept = db.session.get(Department, department_id)
    if dept is not None and dept.kind is DepartmentKind.DISTRICT and dept.code in DISTRICTS:
        return [dept.code]
    return []


@signals.consultation_published.connect
def on_consultation_published(consultation, **_):
    from app.oversight.services import invite_target_groups

    notify_news(NewsKind.NEW_CONSULTATION, f"consultation:{consultation.id}", title=consultation.title,
                link=f"/consultations/{consultation.id}", department_id=consultation.department_id,
                tag_ids=[t.id for t in consultation.tags],
                districts=_department_district(consultation.department_id))
    invite_target_groups(consultation)


@signals.comment_submitted.connect
def on_comment_submitted(comment, **_):
    from app.oversight.services import mark_commented

    mark_commented(comment.consultation_id, comment.user_id)


@signals.comment_moderated.connect
def on_comment_moderated(comment, **_):
    _tell(comment.user_id, "change", "comment_moderated", f"/consultations/track/{comment.tracking_number}",
          number=comment.tracking_number, state=_label(comment.moderation_state))


@signals.feedback_report_published.connect
def on_feedback_report_published(report, **_):
    from app.consultations.models import Comment

    consultation = report.consultation
    notify_news(NewsKind.FEEDBACK_REPORT, f"report:{report.id}", title=consultation.title,
                link=f"/consultations/{consultation.id}", department_id=consultation.department_id,
                tag_ids=[t.id for t in consultation.tags],
                districts=_department_district(consultation.department_id))
    authors = db.session.scalars(sa.select(Comment.user_id).where(Comment.consultation_id == consultation.id,
                                                                  Comment.user_id.is_not(None)).distinct())
    for user_id in authors:
        _tell(user_id, "change", "comment_answered", "/me", title=consultation.title)


@signals.meeting_announced.connect
def on_meeting_announced(meeting, **_):
    notify_news(NewsKind.NEW_MEETING, f"meeting:{meeting.id}", title=meeting.title,
                link=f"/hearings/{meeting.id}", department_id=meeting.department_id,
                tag_ids=[t.id for t in getattr(meeting, "tags", []) or []],
                districts=_department_district(meeting.department_id))


@signals.application_changed.connect
def on_application_changed(application, **_):
    meeting = application.meeting
    _tell(application.user_id, "change", "application", "/me", title=meeting.title,
          state=_label(getattr(application, "state", "")))


@signals.activity_published.connect
def on_activity_published(activity, **_):
    notify_news(NewsKind.NEW_ACTIVITY, f"activity:{activity.id}", title=activity.title,
                link=f"/openday/{activity.id}", department_id=activity.department_id,
                tag_ids=[t.id for t in getattr(activity, "tags", []) or []],
                districts=_department_district(activity.department_id))


@signals.registration_changed.connect
def on_registration_changed(registration, **_):
    activity = getattr(registration, "activity", None)
    title = getattr(activity, "title", "") if activity is not None else ""
    _tell(getattr(registration, "user_id", None), "change", "registration", "/me", title=title,
          state=_label(getattr(registration, "state", "")))
