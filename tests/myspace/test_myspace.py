"""My space: contributions with state and answer, newest first; new changes marked; notices since the last visit."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import event

from app import signals
from app.core.timeutil import utcnow
from app.notifications.notices import Notice
from app.oversight.models import MySpaceVisit


def test_my_space_lists_comments_with_state_and_answer_after_the_report(client, auth, db, resident, staff,
                                                                        make_consultation, make_comment):
    from app.consultations.models import Disposition, DispositionKind, FeedbackReport, ModerationState

    first = make_consultation(title="垃圾分类办法")
    second = make_consultation(title="停车管理办法")
    old = make_comment(first, resident, text="旧意见", state=ModerationState.PUBLISHED)
    old.created_at = utcnow() - timedelta(days=2)
    new = make_comment(second, resident, text="新意见")
    db.session.add(Disposition(consultation_id=first.id, comment_id=old.id, kind=DispositionKind.ADOPTED,
                               response="已在第五条中采纳。"))
    db.session.commit()

    auth.login(resident)
    html = client.get("/me").get_data(as_text=True)
    assert old.tracking_number in html and new.tracking_number in html
    assert html.index(new.tracking_number) < html.index(old.tracking_number)  # newest first
    assert "已在第五条中采纳" not in html  # the answer stays private until the report is published
    assert client.post("/me/seen").status_code == 302  # the person marks what they saw as seen

    report = FeedbackReport(consultation_id=first.id, published_at=utcnow())
    db.session.add(report)
    db.session.flush()
    signals.feedback_report_published.send(report, actor=staff)
    db.session.commit()
    html = client.get("/me").get_data(as_text=True)
    assert "已在第五条中采纳" in html
    assert "有更新" in html  # the answered comment is marked as changed since it was last marked seen
    assert "意见采纳情况反馈已发布" in html and "1 条新消息" in html  # and an unread notice says so
    # Looking again changes nothing (a GET writes nothing): still new, still unread.
    visits = db.session.scalar(sa.select(MySpaceVisit.visited_at).where(MySpaceVisit.user_id == resident.id))
    html = client.get("/me").get_data(as_text=True)
    assert "有更新" in html and "1 条新消息" in html
    db.session.expire_all()
    assert db.session.scalar(sa.select(MySpaceVisit.visited_at).where(MySpaceVisit.user_id == resident.id)) == visits
    assert db.session.scalar(sa.select(sa.func.count(Notice.id)).where(Notice.read_at.is_not(None))) == 0
    # Marked as seen (a POST from the page's button): nothing is new any more.
    client.post("/me/seen")
    html = client.get("/me").get_data(as_text=True)
    assert "有更新" not in html and "新消息" not in html


def _count_statements(db, client, url):
    statements = []

    def count(*args):
        statements.append(args[2])

    db.session.expire_all()  # each measured request loads what it shows, as a fresh request in production would
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return statements


def test_my_space_uses_one_query_per_section(client, auth, db, app, resident, make_consultation, make_comment):
    from app.consultations.models import FeedbackReport

    first = make_consultation(title="征询0")
    make_comment(first, resident)
    db.session.commit()
    auth.login(resident)
    client.get("/me")
    few = _count_statements(db, client, "/me")
    for n in range(1, 7):
        c = make_consultation(title=f"征询{n}")
        db.session.add(FeedbackReport(consultation_id=c.id, published_at=utcnow()))
        make_comment(c, resident)
    db.session.commit()
    many = _count_statements(db, client, "/me")
    assert len(many) == len(few)  # the number of queries does not grow with the rows
    assert len([s for s in many if "consultation_comment" in s]) == 1


def test_my_space_shows_activity_signups_and_applications(client, auth, resident, make_registration):
    from app.openday.models import RegistrationState

    make_registration(resident, title="走进水厂", state=RegistrationState.WAITLISTED, waitlist_position=3)
    auth.login(resident)
    html = client.get("/me").get_data(as_text=True)
    assert "走进水厂" in html and "候补第 3 位" in html


def test_my_space_needs_sign_in(client):
    assert client.get("/me").status_code == 302


def test_a_selected_applicant_is_sent_to_the_page_where_they_accept(client, auth, db, resident, department, staff):
    """The "confirm attendance" action leads to the application page with the accept / decline buttons."""
    from app.hearings import services as hearing_services
    from app.hearings.models import Application, ApplicationState

    now = utcnow()
    meeting = hearing_services.create_meeting(
        staff, department.id, topics=[("补贴标准", "现行补贴为每台24万元。")], quotas=[],
        title="加装电梯决策会议", summary="讨论补贴。", starts_at=now + timedelta(days=30), place="人民大道200号",
        seats=5, alternates=2, eligibility="年满18周岁。", method="RFC 3797", opens_at=now - timedelta(days=10),
        closes_at=now - timedelta(days=1))
    db.session.flush()
    db.session.add(Application(meeting_id=meeting.id, user_id=resident.id, state=ApplicationState.SELECTED,
                               respond_by=now + timedelta(days=3), statement="关心加装电梯。"))
    db.session.commit()
    auth.login(resident)
    html = client.get("/me").get_data(as_text=True)
    assert f'href="/hearings/{meeting.id}/my-application"' in html
