"""The oversight dashboard, compliance figures, downloads and the printable report."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import time_machine

from app.core.timeutil import utcnow

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=timezone.utc)


def _closed(db, make_consultation, make_comment, user, *, closed_days_ago, report_after_days=None, adopted=True):
    from app.consultations.models import Disposition, DispositionKind, FeedbackReport, ModerationState

    c = make_consultation(title=f"已截止{closed_days_ago}")
    c.opens_at = NOW - timedelta(days=closed_days_ago + 30)
    c.closes_at = NOW - timedelta(days=closed_days_ago)
    comment = make_comment(c, user, state=ModerationState.PUBLISHED)
    db.session.add(Disposition(consultation_id=c.id, comment_id=comment.id,
                               kind=DispositionKind.ADOPTED if adopted else DispositionKind.NOT_ADOPTED,
                               response="答复", reason="" if adopted else "理由"))
    make_comment(c, user, state=ModerationState.PUBLISHED)  # not answered
    if report_after_days is not None:
        db.session.add(FeedbackReport(consultation_id=c.id, published_at=c.closes_at + timedelta(days=report_after_days)))
    db.session.flush()
    return c


def test_dashboard_figures_link_to_their_lists(client, auth, db, admin, resident, make_consultation, make_comment):
    with time_machine.travel(NOW, tick=False):
        open_one = make_consultation(title="开放中的征询", days=5)
        open_one.short_period_reason = "涉及紧急公共安全事项"
        make_comment(open_one, resident)
        _closed(db, make_consultation, make_comment, resident, closed_days_ago=40)  # report overdue
        db.session.commit()
        auth.login(admin)
        html = client.get("/manage/oversight").get_data(as_text=True)
        assert "/manage/oversight/list/open" in html and "/manage/oversight/list/reports" in html
        assert "其中逾期 1 项" in html
        listing = client.get("/manage/oversight/list/short").get_data(as_text=True)
        assert "涉及紧急公共安全事项" in listing
        pending = client.get("/manage/oversight/list/pending").get_data(as_text=True)
        assert "开放中的征询" in pending
        assert client.get("/manage/oversight/list/nope").status_code == 404


def test_dashboard_is_admin_only(client, auth, staff):
    auth.login(staff)
    assert client.get("/manage/oversight").status_code == 403


def test_compliance_per_department(client, auth, db, admin, resident, make_consultation, make_comment):
    with time_machine.travel(NOW, tick=False):
        _closed(db, make_consultation, make_comment, resident, closed_days_ago=50, report_after_days=10)
        _closed(db, make_consultation, make_comment, resident, closed_days_ago=55, report_after_days=40,
                adopted=False)
        db.session.commit()
        auth.login(admin)
        csv_text = client.get("/manage/oversight/compliance.csv?period=2026-Q4").get_data(as_text=True)
        lines = csv_text.strip().splitlines()
        assert lines[0].lstrip("\ufeff").startswith("department,period,closed")
        fields = lines[1].split(",")
        # 2 closed, 2 reports, 1 on time, median 25 days, 4 comments, 2 answered, 1 adopted of 2
        assert fields[2:] == ["2", "2", "0.5", "25.0", "4", "0.5", "0.5", "1", "0"]
        page = client.get("/manage/oversight/compliance?period=2026-Q4")
        assert page.status_code == 200 and "<svg" in page.get_data(as_text=True)
        xlsx = client.get("/manage/oversight/compliance.xlsx?period=2026-Q4")
        assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
        report = client.get("/manage/oversight/report?period=2026-11").get_data(as_text=True)
        assert "月度通报" in report and "oversight.css" in report
        assert client.get("/manage/oversight/compliance?period=2026-Q9").status_code == 400


def test_year_view_lists_each_quarter_and_open_month_list(client, auth, db, admin, resident, department,
                                                          make_consultation, make_comment):
    from app.openday.models import Activity, ActivitySession

    with time_machine.travel(NOW, tick=False):
        _closed(db, make_consultation, make_comment, resident, closed_days_ago=50, report_after_days=10)
        _closed(db, make_consultation, make_comment, resident, closed_days_ago=200, report_after_days=45)
        activity = Activity(department_id=department.id, title="走进档案馆", signup_opens_at=NOW,
                            signup_closes_at=NOW + timedelta(days=3), published_at=NOW)
        activity.sessions = [ActivitySession(starts_at=NOW + timedelta(days=5), ends_at=NOW + timedelta(days=5, hours=1),
                                             capacity=30, confirmed_seats=12, checked_in_count=9, no_show_count=3)]
        db.session.add(activity)
        db.session.commit()
        auth.login(admin)
        lines = client.get("/manage/oversight/compliance.csv?period=2026").get_data(as_text=True).strip().splitlines()
        assert [line.split(",")[1] for line in lines[1:]] == ["2026-Q2", "2026-Q4"]
        assert lines[1].split(",")[4] == "0.0"  # Q2's report came after 45 days: not on time
        html = client.get("/manage/oversight/list/openday").get_data(as_text=True)
        assert "走进档案馆" in html and "到场率 75%" in html
        assert "/manage/oversight/list/openday" in client.get("/manage/oversight").get_data(as_text=True)


def test_compliance_counts_a_consultation_once_closed_and_a_report_late_once_due(client, auth, db, admin,
                                                                                make_consultation):
    """2026-Q4 seen on 20 December: open, closed but not due, on time, late and missing reports; then in February."""
    from app.consultations.models import FeedbackReport

    def closing(month, day, report=None):
        c = make_consultation(title=f"截止{month}-{day}")
        c.opens_at = datetime(2026, 9, 1, tzinfo=timezone.utc)
        c.closes_at = datetime(2026, month, day, 4, tzinfo=timezone.utc)
        if report is not None:
            db.session.add(FeedbackReport(consultation_id=c.id, published_at=c.closes_at + timedelta(days=report)))
        return c

    with time_machine.travel(datetime(2026, 12, 20, 4, tzinfo=timezone.utc), tick=False):
        closing(12, 25)             # still open: not counted
        closing(12, 10)             # closed, report due 9 January: neither on time nor late yet
        closing(10, 5, report=15)   # on time
        closing(10, 10, report=46)  # published late
        closing(10, 15)             # due 14 November and missing: late
        db.session.commit()
        auth.login(admin)
        lines = client.get("/manage/oversight/compliance.csv?period=2026-Q4").get_data(as_text=True).splitlines()
        row = dict(zip(lines[0].lstrip("\ufeff").split(","), lines[1].split(",")))
        assert (row["closed"], row["reports"], row["reports_late"], row["reports_not_yet_due"]) == ("4", "2", "2", "1")
        assert row["on_time_share"] == "0.333"  # 1 of the 3 reports due
        report = client.get("/manage/oversight/report?period=2026-Q4").get_data(as_text=True)
        assert "33%" in report and "25%" not in report and "20%" not in report
    with time_machine.travel(datetime(2027, 2, 1, 4, tzinfo=timezone.utc), tick=False):
        auth.login(admin)  # six weeks later: a fresh sign-in
        lines = client.get("/manage/oversight/compliance.csv?period=2026-Q4").get_data(as_text=True).splitlines()
        row = dict(zip(lines[0].lstrip("\ufeff").split(","), lines[1].split(",")))
        assert (row["closed"], row["reports_late"], row["reports_not_yet_due"], row["on_time_share"]) == \
            ("5", "4", "0", "0.2")


def test_compliance_and_report_name_departments_in_english_on_english_pages(client, auth, db, admin, resident,
                                                                          make_consultation, make_comment):
    with time_machine.travel(NOW, tick=False):
        c = _closed(db, make_consultation, make_comment, resident, closed_days_ago=50, report_after_days=10)
        db.session.commit()
        zh, en = c.department.name, c.department.name_en
        auth.login(admin)
        for url in ("/manage/oversight/compliance?period=2026-Q4", "/manage/oversight/report?period=2026-Q4"):
            html = client.get(url + "&lang=en").get_data(as_text=True)
            assert en in html and zh not in html  # the table and the charts
            html = client.get(url + "&lang=zh").get_data(as_text=True)
            assert zh in html
        assert zh in client.get("/manage/oversight/compliance.csv?period=2026-Q4").get_data(as_text=True)


def test_pending_comments_are_counted_per_consultation_longest_wait_first(client, auth, db, admin, resident,
                                                                          make_consultation, make_comment):
    """The dashboard's "待审核意见": per consultation, how many wait and for how long, the longest wait first; published
    and rejected comments do not count (counted from the moderation queue's index: oversight.metrics)."""
    from app.consultations.models import ModerationState

    recent, older = make_consultation(title="近期的征询"), make_consultation(title="较早的征询")
    make_consultation(title="无待审核的征询")
    for hours_ago, c in ((30, older), (5, recent), (3, older), (2, recent), (1, recent)):
        make_comment(c, resident).created_at = NOW - timedelta(hours=hours_ago)
    make_comment(recent, resident, state=ModerationState.PUBLISHED).created_at = NOW - timedelta(hours=90)
    make_comment(older, resident, state=ModerationState.REJECTED).created_at = NOW - timedelta(hours=90)
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        auth.login(admin)
        dashboard = client.get("/manage/oversight").get_data(as_text=True)
        listing = client.get("/manage/oversight/list/pending").get_data(as_text=True)
    assert '<span class="figure">5</span>待审核意见' in dashboard and "最久已等待 30 小时" in dashboard
    assert "无待审核的征询" not in listing
    assert listing.index("较早的征询") < listing.index("近期的征询")
    assert "2 条待审核，最久等待 30 小时" in listing and "3 条待审核，最久等待 5 小时" in listing
