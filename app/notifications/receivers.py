"""Receivers of other modules' signals that lead to notifications: news for subscribers, notices about a person's
own contributions (shown in my space), and forgetting what only served a deleted account. Other modules' models
are read; their services are never called."""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import force_locale

from app import signals
from app.accounts.models import DISTRICTS, Department, DepartmentKind, User
from app.consultations.models import Comment
from app.core.timeutil import format_local
from app.extensions import db
from app.hearings.models import Application, ApplicationState
from app.notifications.digest import DigestItem
from app.notifications.models import OutboxEmail, OutboxState
from app.notifications.notices import Notice, add_notice
from app.notifications.subscriptions import DeliveryPreference, NewsKind, Subscription, deliveries_of, notify_news
from app.notifications.subscriptions import topics_of
from app.openday.models import Registration


def _locale_of(user_id: int) -> str:
    # From the identity map when the user is loaded already (the actor usually is): no query, and no autoflush
    # while a sign-up still holds its session's lock.
    with db.session.no_autoflush:
        user = db.session.get(User, user_id)
    return (user.locale if user is not None else None) or "zh"


def _tell(user_id: int | None, kind: str, what: str, link: str, **values) -> None:
    if user_id is None:
        return
    with force_locale(_locale_of(user_id)):
        # Kept as message and values (labels as message ids): shown in the reader's language; the text written now
        # is in the recipient's.
        add_notice(user_id, kind, link=link, message=what, **values)


def _state_label(obj):
    """The state of a contribution (a labelled enum member: stored as its label's message id)."""
    return getattr(obj, "state", "")


def department_district(department_id: int | None) -> list[str]:
    """A district government's news concerns its district's followers too."""
    if department_id is None:
        return []
    dept = db.session.get(Department, department_id)
    if dept is not None and dept.kind is DepartmentKind.DISTRICT and dept.code in DISTRICTS:
        return [dept.code]
    return []


def _consultation_news(kind: NewsKind, key: str, consultation, **extra) -> None:
    notify_news(kind, key, title=consultation.title, link=f"/consultations/{consultation.id}",
                department_id=consultation.department_id, tag_ids=[t.id for t in consultation.tags],
                districts=department_district(consultation.department_id), **extra)


@signals.consultation_published.connect
def on_consultation_published(consultation, **_) -> None:
    _consultation_news(NewsKind.NEW_CONSULTATION, f"consultation:{consultation.id}", consultation)


@signals.consultation_closing_soon.connect
def on_consultation_closing_soon(consultation, **_) -> None:
    """The one path of the closing-soon news: consultations' job sends the signal once per closing date."""
    _consultation_news(NewsKind.CLOSING_SOON, f"closing:{consultation.id}", consultation,
                       when=format_local(consultation.closes_at))


@signals.comment_moderated.connect
def on_comment_moderated(comment, **_) -> None:
    _tell(comment.user_id, "change", "comment_moderated", f"/consultations/track/{comment.tracking_number}",
          number=comment.tracking_number, state=comment.moderation_state)


@signals.feedback_report_published.connect
def on_feedback_report_published(report, **_) -> None:
    consultation = report.consultation
    _consultation_news(NewsKind.FEEDBACK_REPORT, f"report:{report.id}", consultation)
    authors = db.session.scalars(sa.select(Comment.user_id).where(Comment.consultation_id == consultation.id,
                                                                  Comment.user_id.is_not(None)).distinct())
    for user_id in authors:
        _tell(user_id, "change", "comment_answered", "/me", title=consultation.title)


@signals.meeting_announced.connect
def on_meeting_announced(meeting, **_) -> None:
    notify_news(NewsKind.NEW_MEETING, f"meeting:{meeting.id}", title=meeting.title,
                link=f"/hearings/{meeting.id}", department_id=meeting.department_id,
                tag_ids=[t.id for t in getattr(meeting, "tags", []) or []],
                districts=department_district(meeting.department_id))


@signals.application_changed.connect
def on_application_changed(application, **_) -> None:
    if application.state is ApplicationState.SUBMITTED:
        return  # the person has just done it themselves
    _tell(application.user_id, "change", "application", "/me", title=application.meeting.title,
          state=_state_label(application))


@signals.hearing_record_published.connect
def on_hearing_record_published(meeting, **_) -> None:
    observers = db.session.scalars(sa.select(Application.user_id).where(
        Application.meeting_id == meeting.id,
        Application.state.in_([ApplicationState.CONFIRMED, ApplicationState.ATTENDED])))
    for user_id in observers:
        _tell(user_id, "change", "record", f"/hearings/{meeting.id}", title=meeting.title)


@signals.activity_published.connect
def on_activity_published(activity, **_) -> None:
    notify_news(NewsKind.NEW_ACTIVITY, f"activity:{activity.id}", title=activity.title,
                link=f"/openday/{activity.id}", department_id=activity.department_id,
                tag_ids=[t.id for t in getattr(activity, "tags", []) or []],
                districts=sorted(set(department_district(activity.department_id))
                                 | ({activity.district} if getattr(activity, "district", None) else set())))


@signals.registration_changed.connect
def on_registration_changed(registration, by_person: bool = False, **_) -> None:
    if by_person:
        return  # the person has just done it themselves (a sign-up: its page tells them, and a mail follows)
    activity = getattr(registration, "activity", None)
    title = getattr(activity, "title", "") if activity is not None else ""
    _tell(getattr(registration, "user_id", None), "change", "registration", "/me", title=title,
          state=_state_label(registration))


@signals.activity_cancelled.connect
def on_activity_cancelled(activity, **_) -> None:
    people = db.session.scalars(sa.select(Registration.user_id).where(Registration.activity_id == activity.id)
                                .distinct())
    for user_id in people:
        _tell(user_id, "change", "cancelled", f"/openday/{activity.id}", title=activity.title)


@signals.message_changed.connect
def on_message_changed(message, what: str = "", **_) -> None:
    """The writer hears when the message is assigned, returned for reassignment or reopened (their own rating
    needs no notice)."""
    if what in ("assigned", "returned", "reopened"):
        _tell(message.user_id, "change", "message", f"/messages/track/{message.tracking_number}",
              number=message.tracking_number, state=_state_label(message))


@signals.message_replied.connect
def on_message_replied(message, **_) -> None:
    _tell(message.user_id, "change", "message_replied", f"/messages/track/{message.tracking_number}",
          number=message.tracking_number)


@signals.message_deadline.connect
def on_message_deadline(message, what: str = "", user_ids=(), **_) -> None:
    """Staff chased about a deadline (督办) see it among their notices too."""
    for user_id in user_ids:
        _tell(user_id, "deadline", f"message_{what}", f"/manage/messages/{message.id}",
              number=message.tracking_number, title=message.subject)


@signals.problem_confirmed.connect
def on_problem_confirmed(problem, **_) -> None:
    """Every writer in a confirmed common problem is told what was done at the source."""
    for message in problem.messages:
        _tell(message.user_id, "change", "problem", f"/messages/track/{message.tracking_number}",
              number=message.tracking_number, title=problem.title)


@signals.user_deleted.connect
def forget_deleted_user(user_id: int, **_kw) -> None:
    """A deleted account's mail (addresses, names, links), topics, deliveries, notices and pending digest items go
    with it; nothing more is sent to it. A mail row a sender is handling right now is left alone; the retention job
    removes it later."""
    db.session.execute(
        sa.delete(OutboxEmail).where(OutboxEmail.user_id == user_id, OutboxEmail.state != OutboxState.SENDING)
        .execution_options(synchronize_session=False)
    )
    for model in (Subscription, DeliveryPreference, Notice, DigestItem):
        db.session.execute(sa.delete(model).where(model.user_id == user_id))


@signals.collect_user_data.connect
def collect_user_data(user, **_kw) -> dict:
    """For "download my data": the e-mails written to this person (not their links), subscriptions and notices."""
    rows = db.session.execute(
        sa.select(OutboxEmail.created_at, OutboxEmail.sent_at, OutboxEmail.recipient, OutboxEmail.subject,
                  OutboxEmail.state)
        .where(OutboxEmail.user_id == user.id).order_by(OutboxEmail.id)
    ).all()
    topics = topics_of(user.id)
    notices = db.session.scalars(sa.select(Notice).where(Notice.user_id == user.id).order_by(Notice.id))
    return {
        "emails": [{"created_at": format_local(r.created_at), "sent_at": format_local(r.sent_at),
                    "recipient": r.recipient, "subject": r.subject, "state": r.state.value} for r in rows],
        "subscriptions": {"departments": sorted(topics["departments"]), "tags": sorted(topics["tags"]),
                          "districts": sorted(topics["districts"]),
                          "deliveries": {k.value: v.value for k, v in deliveries_of(user.id).items()}},
        "notices": [{"kind": n.kind, "text": n.text, "link": n.link, "created_at": n.created_at.isoformat(),
                     "read_at": n.read_at.isoformat() if n.read_at else None} for n in notices],
    }
