"""Subscriptions, notices, the weekly digest and one-click unsubscribe."""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
import time_machine

from app.notifications import subscriptions as subs
from app.notifications.digest import DigestItem, DigestRun, send_weekly_digests, week_key
from app.notifications.models import OutboxEmail
from app.notifications.notices import Notice

# Monday 2026-11-30 10:00 Shanghai = 02:00 UTC.
MONDAY = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)


def outbox(db, template=None):
    stmt = sa.select(OutboxEmail).order_by(OutboxEmail.id)
    if template:
        stmt = stmt.where(OutboxEmail.template == template)
    return db.session.scalars(stmt).all()


def test_subscription_page_saves_topics_and_deliveries(client, auth, resident, make_tag, department, db):
    tag = make_tag("小微企业")
    auth.login(resident)
    page = client.get("/me/subscriptions")
    assert page.status_code == 200
    assert "小微企业" in page.get_data(as_text=True)
    data = {"tags": [str(tag.id)], "departments": [str(department.id)], "districts": ["xuhui"],
            "delivery_new_consultation": "now", "delivery_closing_soon": "none",
            "delivery_feedback_report": "digest", "delivery_new_meeting": "digest", "delivery_new_activity": "none"}
    response = client.post("/me/subscriptions", data=data)
    assert response.status_code == 302
    topics = subs.topics_of(resident.id)
    assert topics == {"departments": {department.id}, "tags": {tag.id}, "districts": {"xuhui"}}
    deliveries = subs.deliveries_of(resident.id)
    assert deliveries[subs.NewsKind.NEW_CONSULTATION] is subs.Delivery.NOW
    assert deliveries[subs.NewsKind.CLOSING_SOON] is subs.Delivery.NONE
    # Saving again with fewer topics removes the others.
    data["tags"] = []
    client.post("/me/subscriptions", data=data)
    assert subs.topics_of(resident.id)["tags"] == set()


def test_bad_choice_is_refused_next_to_the_field_and_nothing_written(client, auth, resident, db):
    auth.login(resident)
    response = client.post("/me/subscriptions", data={"districts": ["atlantis"], "delivery_new_consultation": "x"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="districts-error"' in html and 'id="delivery_new_consultation-error"' in html
    assert "请只在列出的选项中选择。" in html and "请选择一种通知方式。" in html
    english = client.post("/me/subscriptions?lang=en", data={"tags": ["99999"]}).get_data(as_text=True)
    assert "Please choose only among the options listed." in english
    garbled = client.post("/me/subscriptions?lang=zh", data={"tags": ["abc"], "departments": ["x"]})
    assert garbled.status_code == 422 and "请只在列出的选项中选择。" in garbled.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(subs.Subscription.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(subs.Subscription.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(subs.DeliveryPreference.id))) == 0


def test_subscription_page_needs_sign_in(client):
    response = client.get("/me/subscriptions")
    assert response.status_code == 302 and "/accounts/login" in response.headers["Location"]


def _subscribe(db, user, **kwargs):
    deliveries = kwargs.pop("deliveries", None)
    subs.update_subscriptions(user, deliveries=deliveries, **kwargs)
    db.session.commit()


def test_notify_news_reaches_followers_once_by_their_choice(app, db, make_user, make_tag, department):
    tag = make_tag("餐饮")
    now_person = make_user(email="now@example.com")
    digest_person = make_user(email="digest@example.com", locale="en")
    silent = make_user(email="silent@example.com")
    stranger = make_user(email="stranger@example.com")
    unverified = make_user(email="unverified@example.com", verified=False)
    _subscribe(db, now_person, tag_ids=[tag.id],
               deliveries={subs.NewsKind.NEW_CONSULTATION: subs.Delivery.NOW})
    _subscribe(db, digest_person, department_ids=[department.id])
    _subscribe(db, silent, districts=["pudong"], deliveries={subs.NewsKind.NEW_CONSULTATION: subs.Delivery.NONE})
    _subscribe(db, unverified, tag_ids=[tag.id])
    _subscribe(db, stranger, districts=["huangpu"])

    told = subs.notify_news(subs.NewsKind.NEW_CONSULTATION, "consultation:1", title="停车管理办法",
                            link="/consultations/1", department_id=department.id, tag_ids=[tag.id],
                            districts=["pudong"])
    db.session.commit()
    assert told == 2
    mails = outbox(db, "oversight/emails/news")
    assert [m.recipient for m in mails] == ["now@example.com"]
    assert "停车管理办法" in mails[0].subject
    assert "/notifications/unsubscribe/" in mails[0].body_text
    items = db.session.scalars(sa.select(DigestItem)).all()
    assert [i.user_id for i in items] == [digest_person.id]
    assert items[0].text.startswith("New consultation")  # in the person's language
    notices = db.session.scalars(sa.select(Notice).order_by(Notice.user_id)).all()
    assert {n.user_id for n in notices} == {now_person.id, digest_person.id}
    # The same news again: nobody is told twice.
    assert subs.notify_news(subs.NewsKind.NEW_CONSULTATION, "consultation:1", title="x", link="/",
                            department_id=department.id) == 0
    db.session.commit()
    assert len(outbox(db, "oversight/emails/news")) == 1


def test_digest_job_run_twice_sends_each_digest_once(app, db, make_user, department):
    zh = make_user(email="zh@example.com", locale="zh")
    en = make_user(email="en@example.com", locale="en")
    for person in (zh, en):
        _subscribe(db, person, department_ids=[department.id])
    with time_machine.travel(datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc), tick=False):
        for n in range(3):
            subs.notify_news(subs.NewsKind.NEW_ACTIVITY, f"activity:{n}", title=f"开放活动{n}",
                             link=f"/openday/{n}", department_id=department.id)
        db.session.commit()
    with time_machine.travel(MONDAY, tick=False):
        assert send_weekly_digests() == 2
        assert send_weekly_digests() == 0
    mails = outbox(db, "notifications/emails/digest")
    assert sorted(m.recipient for m in mails) == ["en@example.com", "zh@example.com"]
    by = {m.recipient: m for m in mails}
    assert by["en@example.com"].subject.startswith("Weekly digest")
    assert "开放活动2" in by["zh@example.com"].body_text and "每周摘要" in by["zh@example.com"].subject
    assert "/notifications/unsubscribe/" in by["zh@example.com"].body_text
    runs = db.session.scalars(sa.select(DigestRun)).all()
    assert {r.week for r in runs} == {week_key(MONDAY)} and all(r.item_count == 3 for r in runs)
    # News arriving later in the week waits for next week's digest.
    with time_machine.travel(datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc), tick=False):
        subs.notify_news(subs.NewsKind.NEW_ACTIVITY, "activity:9", title="新活动", link="/openday/9",
                         department_id=department.id)
        db.session.commit()
        assert send_weekly_digests() == 0
    with time_machine.travel(datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc), tick=False):
        assert send_weekly_digests() == 2
        assert send_weekly_digests() == 0
    assert len(outbox(db, "notifications/emails/digest")) == 4


def test_digest_waits_for_monday_morning(app, db, make_user, department):
    person = make_user()
    _subscribe(db, person, department_ids=[department.id])
    subs.notify_news(subs.NewsKind.NEW_MEETING, "meeting:1", title="会议", link="/hearings/1",
                     department_id=department.id)
    db.session.commit()
    # Monday 07:00 Shanghai: not yet.
    with time_machine.travel(datetime(2026, 11, 29, 23, 0, tzinfo=timezone.utc), tick=False):
        assert send_weekly_digests() == 0


def test_one_click_unsubscribe_without_sign_in(client, db, make_user, department):
    person = make_user()
    _subscribe(db, person, department_ids=[department.id])
    token = subs.unsubscribe_token(person.id, subs.NewsKind.NEW_MEETING)
    response = client.get(f"/notifications/unsubscribe/{token}")
    assert response.status_code == 200
    assert "您已退订" in response.get_data(as_text=True)
    deliveries = subs.deliveries_of(person.id)
    assert deliveries[subs.NewsKind.NEW_MEETING] is subs.Delivery.NONE
    assert deliveries[subs.NewsKind.NEW_ACTIVITY] is subs.Delivery.DIGEST
    client.get(f"/notifications/unsubscribe/{subs.unsubscribe_token(person.id)}")
    assert set(subs.deliveries_of(person.id).values()) == {subs.Delivery.NONE}


def test_tampered_unsubscribe_link_is_refused(client, db, make_user):
    person = make_user()
    token = subs.unsubscribe_token(person.id)
    response = client.get(f"/notifications/unsubscribe/{token[:-2]}xx")
    assert response.status_code == 400
    assert "退订链接无效" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(subs.DeliveryPreference.id))) == 0


def test_closing_soon_job_announces_once(app, db, make_user, make_consultation, department):
    """One path: consultations' job marks the consultation and sends the signal; notifications tells subscribers."""
    from app.consultations.jobs import remind_closing_soon

    person = make_user(email="closing@example.com")
    _subscribe(db, person, department_ids=[department.id],
               deliveries={subs.NewsKind.CLOSING_SOON: subs.Delivery.NOW})
    make_consultation(title="快截止的征询", days=2)
    make_consultation(title="还早的征询", days=20)
    db.session.commit()
    assert remind_closing_soon() == 1
    assert remind_closing_soon() == 0
    mails = outbox(db, "oversight/emails/news")
    assert [m.recipient for m in mails] == ["closing@example.com"] and "快截止的征询" in mails[0].subject
