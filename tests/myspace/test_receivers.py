"""Receivers of other modules' events: closing soon, record published, activity cancelled, account deletion and
"download my data"."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app import signals
from app.core.timeutil import utcnow
from app.notifications import subscriptions as subs
from app.notifications.models import OutboxEmail
from app.notifications.notices import Notice, add_notice


def test_closing_soon_signal_and_job_announce_once(db, make_user, make_consultation, department):
    from app.consultations.jobs import remind_closing_soon

    person = make_user(email="soon@example.com")
    subs.update_subscriptions(person, department_ids=[department.id],
                              deliveries={subs.NewsKind.CLOSING_SOON: subs.Delivery.NOW})
    c = make_consultation(days=2)
    db.session.commit()
    signals.consultation_closing_soon.send(c)
    db.session.commit()
    remind_closing_soon()  # the job sends the signal again: the news was already announced, nobody is told twice
    assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id))
                             .where(OutboxEmail.template == "oversight/emails/news")) == 1


def test_record_published_tells_observers_and_shows_decisions(client, auth, db, resident, department):
    from app.hearings.models import Application, ApplicationState, Meeting

    now = utcnow()
    meeting = Meeting(department_id=department.id, title="加装电梯决策会议", starts_at=now - timedelta(days=1),
                      opens_at=now - timedelta(days=30), closes_at=now - timedelta(days=20), published_at=now,
                      decisions="同意试点方案。", record_published_at=now)
    db.session.add(meeting)
    db.session.flush()
    db.session.add(Application(meeting_id=meeting.id, user_id=resident.id, statement="我住老小区",
                               state=ApplicationState.ATTENDED))
    db.session.commit()
    signals.hearing_record_published.send(meeting, actor=None)
    db.session.commit()
    assert db.session.scalar(sa.select(Notice.text).where(Notice.user_id == resident.id)).endswith("会议记录和决定已公开")
    auth.login(resident)
    html = client.get("/me").get_data(as_text=True)
    assert "加装电梯决策会议" in html and "同意试点方案" in html and "已列席" in html


def test_activity_cancelled_tells_registrants(db, resident, make_registration):
    activity = make_registration(resident, title="走进地铁控制中心").activity
    signals.activity_cancelled.send(activity, actor=None)
    db.session.commit()
    assert "已取消" in db.session.scalar(sa.select(Notice.text).where(Notice.user_id == resident.id))


def test_deleting_an_account_forgets_subscriptions_and_notices(db, resident, department):
    subs.update_subscriptions(resident, department_ids=[department.id],
                              deliveries={subs.NewsKind.NEW_MEETING: subs.Delivery.NOW})
    add_notice(resident.id, "change", "x")
    db.session.commit()
    signals.user_deleted.send(resident.id)
    db.session.commit()
    for model in (subs.Subscription, subs.DeliveryPreference, Notice):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0


def test_download_my_data_includes_subscriptions(db, resident, department):
    subs.update_subscriptions(resident, districts=["xuhui"])
    add_notice(resident.id, "change", "您的意见已公开")
    db.session.commit()
    collected = {}
    for _receiver, result in signals.collect_user_data.send(resident):
        collected.update(result or {})
    assert collected["subscriptions"]["districts"] == ["xuhui"]
    assert collected["notices"][0]["text"] == "您的意见已公开"


def test_application_changes_are_told_with_a_translated_state(db, make_user, department):
    from app.hearings.models import Application, ApplicationState, Meeting

    now = utcnow()
    person = make_user(locale="en")
    meeting = Meeting(department_id=department.id, title="Lift meeting", starts_at=now + timedelta(days=30),
                      opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=10), published_at=now)
    db.session.add(meeting)
    db.session.flush()
    application = Application(meeting_id=meeting.id, user_id=person.id, statement="x")
    db.session.add(application)
    db.session.flush()
    signals.application_changed.send(application)  # submitted: nothing to tell
    application.state = ApplicationState.ELIGIBLE
    signals.application_changed.send(application)
    db.session.commit()
    texts = db.session.scalars(sa.select(Notice.text).where(Notice.user_id == person.id)).all()
    assert len(texts) == 1 and "eligible" not in texts[0] and "Lift meeting" in texts[0]


def test_moderation_notice_is_in_the_authors_language(client, db, make_user, make_consultation, make_comment):
    from app.consultations.models import ModerationState

    author = make_user(locale="en")
    comment = make_comment(make_consultation(), author)
    comment.moderation_state = ModerationState.PUBLISHED
    with client.application.test_request_context("/?lang=zh"):  # a Chinese-speaking moderator's request
        signals.comment_moderated.send(comment, actor=None)
    db.session.commit()
    text = db.session.scalar(sa.select(Notice.text).where(Notice.user_id == author.id))
    assert text.startswith("Your comment") and "已公开" not in text


def test_notices_are_shown_in_the_readers_language(client, auth, db, make_user, make_consultation, make_comment):
    """Kept as message and values: written while the author read Chinese, shown in English on an English page."""
    from app.consultations.models import ModerationState

    author = make_user(locale="zh")
    comment = make_comment(make_consultation(title="Parking rules"), author)
    comment.moderation_state = ModerationState.PUBLISHED
    signals.comment_moderated.send(comment, actor=None)
    db.session.commit()
    notice = db.session.scalar(sa.select(Notice).where(Notice.user_id == author.id))
    assert notice.message == "comment_moderated" and notice.params["state"] == {"msgid": "已公开"}
    auth.login(author)
    assert f"您的意见 {comment.tracking_number} 状态更新：已公开" in client.get("/me?lang=zh").get_data(as_text=True)
    html = client.get("/me?lang=en").get_data(as_text=True)
    assert comment.tracking_number in html and "Published" in html and "状态更新" not in html
    assert "1 new message<" in html  # ngettext: singular
