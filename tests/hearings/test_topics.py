"""Editing a meeting's topics keeps the rows (and the suggestions on them), is audited, and refuses to orphan a
suggestion: on SQLite (foreign keys on) and PostgreSQL alike."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.core.audit import AuditEntry
from app.core.timeutil import local
from app.hearings import topics as topics_mod
from app.hearings.models import Application, ApplicationState, HearingError, Meeting, Suggestion, Topic


@pytest.fixture
def meeting_with_suggestion(db, make_meeting, make_applicant):
    """A meeting with two topics and a confirmed observer's suggestion on the first one."""
    meeting = make_meeting(published=False)
    topics_mod.update_topics(None, meeting, [("补贴标准", "现行补贴为每台24万元。"), ("施工管理", "夜间施工。")])
    db.session.flush()
    person = make_applicant()
    application = Application(meeting_id=meeting.id, user_id=person.id, statement="关心。",
                              state=ApplicationState.CONFIRMED)
    db.session.add(application)
    db.session.flush()
    first = meeting.topics[0]
    db.session.add(Suggestion(meeting_id=meeting.id, application_id=application.id, topic_id=first.id,
                              text="建议提高补贴。"))
    db.session.commit()
    return meeting


def _suggestion(db) -> Suggestion:
    db.session.expire_all()
    return db.session.scalars(sa.select(Suggestion)).one()


def _audits(db) -> list[AuditEntry]:
    return db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "hearing.topics")
                              .order_by(AuditEntry.id)).all()


def test_correcting_a_topic_keeps_its_row_and_the_suggestion_on_it(db, meeting_with_suggestion, staff):
    meeting = meeting_with_suggestion
    first_id = meeting.topics[0].id
    before = len(_audits(db))
    assert topics_mod.update_topics(staff, meeting, [("补贴标准（修订）", "现行补贴为每台25万元。"),
                                                     ("施工管理", "夜间施工。")])
    db.session.commit()
    suggestion = _suggestion(db)
    assert suggestion.topic_id == first_id
    assert suggestion.topic.title == "补贴标准（修订）" and suggestion.topic.background == "现行补贴为每台25万元。"
    entry = _audits(db)[-1]
    assert len(_audits(db)) == before + 1 and entry.actor_id == staff.id
    assert entry.details["edited"] == ["补贴标准 → 补贴标准（修订）"]


def test_adding_and_reordering_keep_every_row(db, meeting_with_suggestion, staff):
    meeting = meeting_with_suggestion
    ids = {t.title: t.id for t in meeting.topics}
    topics_mod.update_topics(staff, meeting, [("新议题", ""), ("施工管理", "夜间施工。"),
                                              ("补贴标准", "现行补贴为每台24万元。")])
    db.session.commit()
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Topic).where(Topic.meeting_id == meeting.id).order_by(Topic.position)).all()
    assert [t.title for t in rows] == ["新议题", "施工管理", "补贴标准"]
    assert rows[1].id == ids["施工管理"] and rows[2].id == ids["补贴标准"]
    assert _suggestion(db).topic_id == ids["补贴标准"]


def test_removing_a_topic_with_suggestions_is_refused_and_nothing_changes(db, meeting_with_suggestion, staff):
    meeting = meeting_with_suggestion
    before = [(t.id, t.title) for t in meeting.topics]
    audits = len(_audits(db))
    with pytest.raises(HearingError) as refused:
        topics_mod.update_topics(staff, meeting, [("施工管理", "夜间施工。")])
    assert "补贴标准" in str(refused.value) and refused.value.field == "topics"
    db.session.rollback()
    db.session.expire_all()
    meeting = db.session.get(Meeting, meeting.id)
    assert [(t.id, t.title) for t in meeting.topics] == before
    assert _suggestion(db).topic_id == before[0][0]
    assert len(_audits(db)) == audits


def test_removing_a_topic_without_suggestions(db, meeting_with_suggestion, staff):
    meeting = meeting_with_suggestion
    kept = meeting.topics[0].id
    topics_mod.update_topics(staff, meeting, [("补贴标准", "现行补贴为每台24万元。")])
    db.session.commit()
    db.session.expire_all()
    assert [t.id for t in db.session.get(Meeting, meeting.id).topics] == [kept]
    assert db.session.scalar(sa.select(sa.func.count(Topic.id))) == 1
    assert _audits(db)[-1].details["removed"] == ["施工管理"]


def test_no_change_writes_nothing(db, meeting_with_suggestion, staff):
    meeting = meeting_with_suggestion
    audits = len(_audits(db))
    assert not topics_mod.update_topics(staff, meeting, [(t.title, t.background) for t in meeting.topics])
    assert len(_audits(db)) == audits


def test_refused_once_the_record_is_published(db, meeting_with_suggestion, staff):
    meeting = meeting_with_suggestion
    meeting.record_published_at = meeting.starts_at + timedelta(days=1)
    db.session.commit()
    with pytest.raises(HearingError):
        topics_mod.update_topics(staff, meeting, [("补贴标准（修订）", ""), ("施工管理", "夜间施工。")])


def _edit_form(meeting: Meeting, topics_text: str) -> dict:
    return {"title": meeting.title, "summary": meeting.summary, "topics": topics_text,
            "starts_at": local(meeting.starts_at).strftime("%Y-%m-%dT%H:%M"), "place": meeting.place,
            "seats": str(meeting.seats), "alternates": str(meeting.alternates), "eligibility": meeting.eligibility,
            "method": meeting.method, "opens_at": local(meeting.opens_at).strftime("%Y-%m-%dT%H:%M"),
            "closes_at": local(meeting.closes_at).strftime("%Y-%m-%dT%H:%M"),
            "response_days": str(meeting.response_days), "quotas": ""}


def test_the_edit_page_updates_topics_in_place(client, auth, db, meeting_with_suggestion, staff):
    meeting = meeting_with_suggestion
    first_id = meeting.topics[0].id
    auth.login(staff)
    r = client.post(f"/manage/hearings/{meeting.id}/edit",
                    data=_edit_form(meeting, "补贴标准（修订）\n现行补贴为每台25万元。\n\n施工管理\n夜间施工。"))
    assert r.status_code == 302
    suggestion = _suggestion(db)
    assert suggestion.topic_id == first_id and suggestion.topic.title == "补贴标准（修订）"
    r = client.post(f"/manage/hearings/{meeting.id}/edit", data=_edit_form(meeting, "施工管理\n夜间施工。"))
    assert r.status_code == 422 and "已有列席代表的建议，不能删除" in r.get_data(as_text=True)
    assert _suggestion(db).topic_id == first_id
    assert db.session.scalar(sa.select(sa.func.count(Topic.id))) == 2
