"""Malformed input handled at the edge (app/core/inputs.py, app/core/forms.py): one sharp test per kind."""
from __future__ import annotations

import base64
import io
from xml.etree import ElementTree

import sqlalchemy as sa
from flask_wtf import FlaskForm

from app.accounts.models import User
from app.core.forms import Form


def register(**changes):
    data = {"account_type": "resident", "name": "李四", "email": "li.si@example.com", "password": "correct-horse-42",
            "password_again": "correct-horse-42", "district": "xuhui", "accept_terms": "y"}
    return {**data, **changes}


def users(db) -> int:
    return db.session.scalar(sa.select(sa.func.count(User.id)))


def test_every_form_derives_from_the_checking_base_form(app):
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    unchecked = [f.__qualname__ for f in subclasses(FlaskForm) if not issubclass(f, Form)]
    assert unchecked == []


def test_control_characters_are_refused_next_to_the_field_in_the_page_language(client, db):
    response = client.post("/accounts/register", data=register(name="李\x00四"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "不能包含控制字符" in page and users(db) == 0
    response = client.post("/accounts/register?lang=en", data=register(name="Li\x1bSi"))
    assert "must not contain control characters" in response.get_data(as_text=True) and users(db) == 0
    response = client.post("/accounts/register", data=register(name="李\r\n四"))  # a one-line field
    assert response.status_code == 422 and users(db) == 0


def test_a_text_area_keeps_line_breaks_and_tabs(app):
    from app.openday.forms import MessageForm

    with app.test_request_context(method="POST", data={"subject": "通知", "body": "第一行\r\n\t第二行"}):
        form = MessageForm()
        form.validate()
        assert "body" not in form.errors


def test_ids_beyond_the_database_range_answer_404_or_400(client, make_consultation):
    c = make_consultation()
    assert client.get(f"/consultations/{c.id}").status_code == 200
    for path in ("/consultations/2147483648", "/consultations/0", "/consultations/-1",
                 "/consultations/99999999999999999999999"):
        assert client.get(path).status_code == 404, path
    assert client.get("/consultations/?before=2147483648").status_code == 400
    assert client.get("/consultations/?department=abc").status_code == 400
    assert client.get(f"/consultations/{c.id}?before=99999999999999999999.1").status_code == 200  # ignored
    response = client.get("/api/v1/consultations/2147483648")
    assert response.status_code == 404 and response.is_json


def test_far_dates_and_nested_cursors_answer_400(client):
    assert client.get("/openday/?date=0001-01-01").status_code == 200  # a catalogue filter: ignored
    for query in ("since=0001-01-01", "until=9999-12-31", "consultation=2147483648",
                  "cursor=" + base64.urlsafe_b64encode(b"[" * 50_000).decode()):
        response = client.get(f"/api/v1/comments?{query}")
        assert response.status_code == 400 and response.is_json, query
    assert client.get("/hearings/?after=99999999999999_1").status_code == 400


def test_control_characters_and_line_breaks_in_query_arguments_answer_400(client):
    assert client.get("/accounts/login?next=/me%0D%0ASet-Cookie:%20x=1").status_code == 400
    assert client.get("/consultations/?q=%00").status_code == 400
    response = client.get("/api/v1/consultations?department=%00")
    assert response.status_code == 400 and response.is_json
    assert client.get("/consultations/track/C%00").status_code == 404


def test_a_malformed_group_id_answers_400(client, auth, make_consultation, staff):
    c = make_consultation()
    auth.login(staff)
    response = client.post(f"/manage/consultations/{c.id}/groups", data={"action": "accept", "group_id": "x"})
    assert response.status_code == 400
    response = client.post(f"/manage/consultations/{c.id}/groups", data={"action": "accept", "group_id": "²"})
    assert response.status_code == 400


def test_the_atom_feed_stays_well_formed_with_control_characters_stored_earlier(client, db, make_consultation):
    c = make_consultation(title="停车\x1b管理\x01办法")  # PostgreSQL refuses NUL itself
    db.session.commit()
    response = client.get("/api/v1/feeds/consultations.atom")
    titles = [e.text for e in ElementTree.fromstring(response.data).iter("{http://www.w3.org/2005/Atom}title")]
    assert "停车管理办法" in titles


def test_a_nul_in_an_upload_name_is_dropped_and_a_failed_upload_leaves_no_file(client, auth, app, db,
                                                                               make_consultation, staff):
    from app.consultations.models import ConsultationDocument
    from tests.conftest import files_on_disk

    c = make_consultation()
    db.session.commit()
    auth.login(staff)
    before = files_on_disk(app)
    client.post(f"/manage/consultations/{c.id}/documents", content_type="multipart/form-data",
                data={"documents": [(io.BytesIO(b"MZ\x90\x00 not a pdf"), "草案\x00.pdf")]})
    assert files_on_disk(app) == before and db.session.scalar(sa.select(ConsultationDocument)) is None
    client.post(f"/manage/consultations/{c.id}/documents", content_type="multipart/form-data",
                data={"documents": [(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "草案\x00全文.exe")]})
    doc = db.session.scalar(sa.select(ConsultationDocument))
    assert doc.filename == "草案全文.exe.pdf" and doc.mime_type == "application/pdf"
    response = client.get(f"/consultations/{c.id}/documents/{doc.id}")
    assert response.mimetype == "application/pdf" and "filename*=UTF-8''%E8%8D%89" in response.headers[
        "Content-Disposition"]


def test_the_api_refuses_exactly_what_its_schema_refuses(client):
    for query in ("consultations?since=", "comments?until=", "comments?limit=", "meetings?cursor=",
                  "compliance?period=2026-Q5", "compliance?period=2026-q4", "compliance?period=2100",
                  "comments?cursor=1764300000000000.42", "consultations?cursor=42"):
        response = client.get(f"/api/v1/{query}")
        assert response.status_code == 400 and response.is_json, query
    for query in ("consultations?cursor=1764300000000000.42", "comments?cursor=42", "compliance?period=2026-11",
                  "compliance?period=2026-Q4", "activities?department="):
        assert client.get(f"/api/v1/{query}").status_code == 200, query
    params = {p["name"]: p["schema"] for p in client.get("/api/v1/openapi.json").get_json()["paths"][
        "/api/v1/consultations"]["get"]["parameters"]}
    assert "pattern" in params["cursor"] and "pattern" in params["since"] and params["since"]["format"] == "date"
    response = client.post("/api/v1/consultations")
    assert response.status_code == 405 and "GET" in response.headers["Allow"] and response.is_json
    assert "GET" in client.post("/consultations/").headers["Allow"]
