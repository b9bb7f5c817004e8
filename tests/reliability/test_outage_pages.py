"""What people see while PostgreSQL is down (a real private cluster, stopped): a page in their language with 503 and
Retry-After, even when signed in (the error page never loads the user); the API answers JSON. A comment committed
just before the database went away is answered with its tracking number, not an error."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import Department, DepartmentKind, Role, User
from app.accounts.services import set_password
from app.consultations import services
from app.consultations.models import Comment
from app.core.timeutil import utcnow
from app.extensions import db as _db
from tests.consultations.conftest import DURING, data

pytestmark = pytest.mark.slow
PASSWORD = "correct-horse-42"


@pytest.fixture
def site(cluster, monkeypatch):
    app = cluster.app
    monkeypatch.setitem(app.config, "TEST_ERROR_PAGES", True)
    tag = uuid.uuid4().hex[:8]
    with time_machine.travel(datetime(2026, 5, 20, tzinfo=timezone.utc), tick=False), app.test_request_context("/"):
        dept = Department(code=f"d-{tag}", name=f"测试局{tag}", kind=DepartmentKind.BUREAU)
        staff = User(email=f"staff-{tag}@example.com", name="王五", role=Role.STAFF, department=dept,
                     email_verified_at=utcnow())
        resident = User(email=f"res-{tag}@example.com", name="张三", role=Role.RESIDENT, email_verified_at=utcnow())
        for user in (staff, resident):
            set_password(user, PASSWORD)
        _db.session.add_all([dept, staff, resident])
        _db.session.flush()
        consultation = services.create_consultation(staff, dept.id, data())
        services.publish(staff, consultation)
        _db.session.commit()
        ids = consultation.id, resident.email
        _db.session.remove()
    yield app, *ids
    if cluster.stopped:
        cluster.start()
        cluster.stopped = False


def test_signed_in_user_gets_a_503_page_in_their_language_and_the_api_json(cluster, site):
    app, _consultation_id, email = site
    client = app.test_client()
    with time_machine.travel(DURING):
        assert client.post("/accounts/login", data={"email": email, "password": PASSWORD}).status_code == 302
        client.set_cookie("lang", "en")
        assert client.get("/consultations/").status_code == 200
        cluster.stop("immediate")
        cluster.stopped = True
        page = client.get("/consultations/")
        assert page.status_code == 503 and page.headers["Retry-After"] == "30"
        assert "Service unavailable" in page.text and "Internal Server Error" not in page.text
        visitor = app.test_client()
        page = visitor.get("/consultations/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert page.status_code == 503 and "服务暂不可用" in page.text
        api = visitor.get("/api/v1/consultations", headers={"Accept-Language": "en"})
        assert api.status_code == 503 and api.headers["Retry-After"] == "30"
        assert api.json["error"]["status"] == 503
        cluster.start()
        cluster.stopped = False
        assert client.get("/consultations/").status_code == 200  # back at once


def test_a_comment_committed_just_before_the_database_goes_away_gets_its_tracking_number(cluster, site):
    app, consultation_id, email = site
    client = app.test_client()

    durable = []

    def flush_wait(conn, cursor, statement, *args):
        if "pg_current_xact_id" in statement:  # commit_then_flush's second transaction: the one that is durable
            durable.append(1)

    def database_goes_away(session):
        if durable:  # right after the commit that makes the comment durable (every connection is ended)
            cluster.stop("fast")
            cluster.stopped = True
            durable.clear()

    with time_machine.travel(DURING):
        client.post("/accounts/login", data={"email": email, "password": PASSWORD})
        form = {"idempotency_key": uuid.uuid4().hex, "article_id": "0", "stance": "", "text": "建议增加开放数据的说明。"}
        sa.event.listen(sa.engine.Engine, "after_cursor_execute", flush_wait)
        sa.event.listen(sa.orm.Session, "after_commit", database_goes_away)
        response = client.post(f"/consultations/{consultation_id}/comments", data=form,
                               content_type="multipart/form-data")
    sa.event.remove(sa.orm.Session, "after_commit", database_goes_away)
    sa.event.remove(sa.engine.Engine, "after_cursor_execute", flush_wait)
    assert cluster.stopped
    assert response.status_code == 302, response.text[:300]
    number = urlsplit(response.headers["Location"]).path.rstrip("/").rsplit("/", 1)[1]
    cluster.start()
    cluster.stopped = False
    with app.app_context():
        assert _db.session.scalar(sa.select(Comment.text_original).where(Comment.tracking_number == number)) == form["text"]
        _db.session.remove()


def test_the_first_page_after_a_restart_is_served(cluster, site):
    """The pool's connections all died with the restart: each is found dead when handed out (its socket is readable:
    the server said goodbye) and replaced, so nobody sees an error page for it."""
    app, consultation_id, email = site
    client = app.test_client()
    with time_machine.travel(DURING):
        assert client.post("/accounts/login", data={"email": email, "password": PASSWORD}).status_code == 302
        assert client.get(f"/consultations/{consultation_id}").status_code == 200
        cluster.restart()
        assert client.get(f"/consultations/{consultation_id}").status_code == 200
        assert client.get("/me").status_code == 200
