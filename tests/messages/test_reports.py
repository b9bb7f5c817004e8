"""The periodic report and common problems, at controlled instants."""
import io
from datetime import date, datetime, timezone

import openpyxl
import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import Role
from app.core.periods import parse_period
from app.messages import handling, problems, reports
from app.messages.models import ActionKind, CommonProblem, MessageSource, Resolution
from app.notifications.models import OutboxEmail



def _october(db, make_message, make_forwarded, resident, admin, staff, make_department, make_user):
    """Three messages received in October 2026 handled three ways, one first returned by another department."""
    other = make_department(name="市交通委")
    other_staff = make_user(Role.STAFF, department=other)
    on_time = make_message(resident, at=datetime(2026, 10, 8, 2, tzinfo=timezone.utc))
    late = make_forwarded("G-1", at=datetime(2026, 10, 9, 2, tzinfo=timezone.utc))
    waiting = make_forwarded("H-1", source=MessageSource.HOTLINE_12345, at=datetime(2026, 10, 12, 2, tzinfo=timezone.utc))
    with time_machine.travel(datetime(2026, 10, 12, 3, tzinfo=timezone.utc), tick=False):
        handling.assign(admin, waiting, other.id)
        handling.return_message(other_staff, waiting, "不属于本单位")
        for m in (on_time, late, waiting):
            handling.assign(admin, m, staff.department_id)
        handling.request_extension(staff, late, 2, "需要调查")
        handling.decide_extension(admin, late, True)
    with time_machine.travel(datetime(2026, 10, 14, 3, tzinfo=timezone.utc), tick=False):
        handling.write_reply(staff, on_time, "已处理。")
        handling.review_reply(admin, on_time, True)
        handling.rate(resident, on_time, resolution=Resolution.RESOLVED, satisfied=True)
    with time_machine.travel(datetime(2026, 11, 2, 3, tzinfo=timezone.utc), tick=False):
        handling.write_reply(staff, late, "已处理，答复较晚。")
        handling.review_reply(admin, late, True)
    db.session.commit()
    return on_time, late, waiting


def test_monthly_figures_per_department_and_source(db, make_message, make_forwarded, resident, admin, staff,
                                                   make_department, make_user):
    _october(db, make_message, make_forwarded, resident, admin, staff, make_department, make_user)
    data = reports.figures(parse_period("2026-10"), now=datetime(2026, 11, 3, tzinfo=timezone.utc))
    row = next(r for r in data["departments"] if r["department_id"] == staff.department_id)
    assert (row["received"], row["replied"], row["on_time"], row["late"], row["overdue"]) == (3, 2, 1, 1, 1)
    assert row["extended"] == 1 and row["rated"] == 1 and row["satisfaction_share"] == 1.0
    assert row["median_days"] == 11  # 5 working days (8 to 14 Oct, the make-up Saturday counted) and 17
    returned = next(r for r in data["departments"] if r["department_id"] not in (staff.department_id, None))
    assert returned["returned"] == 1 and returned["received"] == 0
    sources = {r["source"]: r for r in data["sources"]}
    assert sources[MessageSource.CENTRAL_PORTAL]["late"] == 1 and sources[MessageSource.PLATFORM]["on_time"] == 1
    assert reports.figures(parse_period("2026-09"))["total"]["received"] == 0


@pytest.mark.slow  # pages and downloads; the figures' date rules are tested fast above
def test_report_pages_and_downloads(client, auth, db, make_message, make_forwarded, resident, admin, staff,
                                    make_department, make_user):
    _october(db, make_message, make_forwarded, resident, admin, staff, make_department, make_user)
    auth.login(admin)
    page = client.get("/manage/messages/report?period=2026-10").get_data(as_text=True)
    assert "留言办理情况通报（2026-10）" in page and "<svg" in page and "按时答复率" in page
    assert client.get("/manage/messages/report?period=2026-13").status_code == 400
    csv = client.get("/manage/messages/report.csv?period=2026-10").get_data().decode("utf-8-sig")
    assert csv.splitlines()[0].startswith("period,department_code") and ",3,2,1,1," in csv
    xlsx = client.get("/manage/messages/report.xlsx?period=2026-Q4")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.get_data())).active
    assert sheet.cell(2, 1).value == "2026-Q4"
    public = client.get("/messages/figures?period=2026-10&lang=en").get_data(as_text=True)
    assert "On time" in public and "李" not in public and "13812345678" not in public


@pytest.mark.slow
def test_common_problem_found_confirmed_and_every_writer_told(db, make_message, make_forwarded, make_user, admin,
                                                              client):
    a = make_message(make_user(name="张一"), subject="加装电梯审批太慢", text="加装电梯审批时间太长，希望一网通办，缩短审批。")
    b = make_message(make_user(name="张二"), subject="加装电梯审批太慢了", text="加装电梯审批时间太长，希望一网通办，缩短审批！")
    c = make_forwarded("G-9", subject="加装电梯审批", text="加装电梯审批时间太长，希望一网通办缩短审批。",
                       writer_email="c@example.com")
    make_message(make_user(), subject="社区食堂", text="希望长者食堂增加晚餐。")
    found = problems.propose(admin, start=date(2026, 9, 1), end=date(2026, 10, 31))
    assert len(found) == 1 and {m.id for m in found[0].messages} == {a.id, b.id, c.id}
    problem = db.session.get(CommonProblem, found[0].id)
    problems.confirm(admin, problem, title="加装电梯审批时间长", action_kind=ActionKind.POLICY_CHANGE,
                     action_text="审批改为联合审查、网上一站式办理。")
    db.session.commit()
    told = set(db.session.scalars(sa.select(OutboxEmail.recipient).where(OutboxEmail.subject.contains("共性问题"))))
    assert told == {a.user.email, b.user.email, "c@example.com"}
    page = client.get("/messages/problems").get_data(as_text=True)
    assert "加装电梯审批时间长" in page and "联合审查" in page and "3件留言" in page
    assert problems.propose(admin, start=date(2026, 9, 1), end=date(2026, 10, 31)) == []  # nothing new


def _replied_and_reopened(db, make_message, make_user, admin, staff, second_reply_at):
    """A platform message received 8 Oct 2026, replied on 14 Oct, reopened unsatisfied on 15 Oct and, where
    ``second_reply_at`` is given, replied a second time then (the reopening's deadline: 10 working days)."""
    writer = make_user()
    message = make_message(writer, at=datetime(2026, 10, 8, 2, tzinfo=timezone.utc))
    with time_machine.travel(datetime(2026, 10, 12, 3, tzinfo=timezone.utc), tick=False):
        handling.assign(admin, message, staff.department_id)
    with time_machine.travel(datetime(2026, 10, 14, 3, tzinfo=timezone.utc), tick=False):
        handling.write_reply(staff, message, "已安排疏通。")
        handling.review_reply(admin, message, True)
    with time_machine.travel(datetime(2026, 10, 15, 3, tzinfo=timezone.utc), tick=False):
        handling.rate(writer, message, resolution=Resolution.NOT_RESOLVED, satisfied=False,
                      reopen_reason="积水仍未解决")
    if second_reply_at is not None:
        with time_machine.travel(second_reply_at, tick=False):
            handling.write_reply(staff, message, "已改造排水管。")
            handling.review_reply(admin, message, True)
    db.session.commit()
    return message


def test_a_second_reply_after_reopening_is_counted_apart_from_the_first(db, client, auth, make_message, make_user,
                                                                        admin, staff):
    _replied_and_reopened(db, make_message, make_user, admin, staff, datetime(2026, 10, 20, 3, tzinfo=timezone.utc))
    _replied_and_reopened(db, make_message, make_user, admin, staff, datetime(2026, 11, 10, 3, tzinfo=timezone.utc))
    _replied_and_reopened(db, make_message, make_user, admin, staff, None)
    data = reports.figures(parse_period("2026-10"), now=datetime(2026, 11, 12, tzinfo=timezone.utc))
    row = next(r for r in data["departments"] if r["department_id"] == staff.department_id)
    # Three first replies on time; three reopened, two replied again (one on time, one late), one overdue now.
    assert (row["received"], row["replied"], row["on_time"], row["late"]) == (3, 3, 3, 0)
    assert (row["reopened"], row["second_replied"], row["second_on_time"], row["second_late"]) == (3, 2, 1, 1)
    assert row["overdue"] == 1 and data["total"]["second_late"] == 1
    assert data["sources"][0]["second_replied"] == 2
    with time_machine.travel(datetime(2026, 11, 12, tzinfo=timezone.utc), tick=False):
        auth.login(admin)
        page = client.get("/manage/messages/report?period=2026-10&lang=en").get_data(as_text=True)
        csv = client.get("/manage/messages/report.csv?period=2026-10").get_data().decode("utf-8-sig").splitlines()
        api = client.get("/api/v1/messages/figures?period=2026-10").get_json()
    assert "Reopened" in page and "Second replies (on time/late)" in page and "2 <span class=\"ly-meta\">(1/1)" in page
    assert csv[0].endswith(",reopened,second_replied,second_on_time,second_late") and csv[1].endswith(",3,2,1,1")
    assert api["total"]["reopened"] == 3 and api["total"]["second_on_time"] == 1


@pytest.mark.parametrize("query, status, said", [
    ("start=0001-01-01&end=0001-01-02", 302, "日期应在1900-01-01至2099-12-31之间"),
    ("start=2026-01-01&end=9999-12-31", 302, "日期应在1900-01-01至2099-12-31之间"),
    ("department=99999999999999999999", 400, None), ("tag=2147483648", 400, None), ("department=-5", 400, None),
])
def test_proposing_common_problems_with_far_dates_or_huge_ids_is_refused(client, auth, db, admin, make_message,
                                                                          resident, query, status, said):
    """The proposal form's dates and choices are read by name: a year-1 date overflowed the Shanghai conversion and
    a huge id overflowed the database's integer, both a server error."""
    make_message(resident)
    auth.login(admin)
    answer = client.post(f"/manage/messages/problems?{query}")
    assert answer.status_code == status
    if said:
        assert said in client.get(answer.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CommonProblem)) == 0
