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
        # Labels are read here, so that they come out in the recipient's language.
        values = {k: str(v() if callable(v) else v) for k, v in values.items()}
        add_notice(user_id, kind, change_text(what, **values), link)


def _label(value):
    """A state's label, read later by _tell inside the recipient's language."""
    return lambda: getattr(value, "label", None) or getattr(value, "value", value)


def _state_label(obj):
    """The state of a contribution: its own ``state_label`` if it has one, else its state's label."""
    return lambda: getattr(obj, "state_label", None) or _label(getattr(obj, "state", ""))()


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
    if getattr(application.state, "value", "") == "submitted":
        return  # the person has just done it themselves
    meeting = application.meeting
    _tell(application.user_id, "change", "application", "/me", title=meeting.title, state=_state_label(application))


@signals.activity_published.connect
def on_activity_published(activity, **_):
    notify_news(NewsKind.NEW_ACTIVITY, f"activity:{activity.id}", title=activity.title,
                link=f"/openday/{activity.id}", department_id=activity.department_id,
                tag_ids=[t.id for t in getattr(activity, "tags", []) or []],
                districts=sorted(set(_department_district(activity.department_id))
                                 | ({activity.district} if getattr(activity, "district", None) else set())))


@signals.registration_changed.connect
def on_registration_changed(registration, **_):
    activity = getattr(registration, "activity", None)
    title = getattr(activity, "title", "") if activity is not None else ""
    _tell(getattr(registration, "user_id", None), "change", "registration", "/me", title=title,
          state=_state_label(registration))


@signals.consultation_closing_soon.connect
def on_consultation_closing_soon(consultation, **_):
    from app.core.timeutil import format_local

    notify_news(NewsKind.CLOSING_SOON, f"closing:{consultation.id}", title=consultation.title,
                link=f"/consultations/{consultation.id}", department_id=consultation.department_id,
                tag_ids=[t.id for t in consultation.tags],
                districts=_department_district(consultation.department_id),
                when=format_local(consultation.closes_at))


@signals.hearing_record_published.connect
def on_hearing_record_published(meeting, **_):
    from app.hearings.models import Application, ApplicationState

    observers = db.session.scalars(sa.select(Application.user_id).where(
        Application.meeting_id == meeting.id,
        Application.state.in_([ApplicationState.CONFIRMED, ApplicationState.ATTENDED])))
    for user_id in observers:
        _tell(user_id, "change", "record", f"/hearings/{meeting.id}", title=meeting.title)


@signals.activity_cancelled.connect
def on_activity_cancelled(activity, **_):
    from app.openday.models import Registration

    people = db.session.scalars(sa.select(Registration.user_id).where(Registration.activity_id == activity.id)
                                .distinct())
    for user_id in people:
        _tell(user_id, "change", "cancelled", f"/openday/{activity.id}", title=activity.title)


@signals.user_deleted.connect
def on_user_deleted(user_id, **_):
    """Forget what only served the person: topics, deliveries, notices, pending digest items, visits."""
    from app.notifications.digest import DigestItem
    from app.notifications.notices import Notice
    from app.notifications.subscriptions import DeliveryPreference, Subscription
    from app.oversight.models import MySpaceVisit

    for model in (Subscription, DeliveryPreference, Notice, DigestItem, MySpaceVisit):
        db.session.execute(sa.delete(model).where(model.user_id == user_id))


@signals.collect_user_data.connect
def on_collect_user_data(user, **_):
    """The person's subscriptions, notices and invitations for "download my data"."""
    from app.notifications.notices import Notice
    from app.notifications.subscriptions import deliveries_of, topics_of
    from app.oversight.models import Invitation

    topics = topics_of(user.id)
    notices = db.session.scalars(sa.select(Notice).where(Notice.user_id == user.id).order_by(Notice.id))
    invitations = db.session.scalars(sa.select(Invitation).where(Invitation.user_id == user.id)
                                     .order_by(Invitation.id))
    return {
        "subscriptions": {"departments": sorted(topics["departments"]), "tags": sorted(topics["tags"]),
                          "districts": sorted(topics["districts"]),
                          "deliveries": {k.value: v.value for k, v in deliveries_of(user.id).items()}},
        "notices": [{"kind": n.kind, "text": n.text, "link": n.link, "created_at": n.created_at.isoformat(),
                     "read_at": n.read_at.isoformat() if n.read_at else None} for n in notices],
        "invitations": [{"consultation_id": i.consultation_id, "group": i.target_group,
                         "invited_at": i.invited_at.isoformat(),
                         "opened_at": i.opened_at.isoformat() if i.opened_at else None,
                         "commented_at": i.commented_at.isoformat() if i.commented_at else None}
                        for i in invitations],
    }
