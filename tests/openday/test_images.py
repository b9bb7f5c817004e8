"""Activity images through the file storage (each backend; SQLite and PostgreSQL): checked by content, served with
their checked type by every app host, and gone again when the save rolls back."""
from __future__ import annotations

import io

import sqlalchemy as sa

from app.openday import services
from app.openday.models import Activity, OpenDayError
from tests.conftest import files_on_disk

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 300
JPG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 300

FORM = {"title": "图片测试", "description": "x", "mode": "online", "online_url": "https://m.example/x",
        "signup_opens_at": "2026-07-01T09:00", "signup_closes_at": "2026-08-20T18:00",
        "eligibility": "everyone", "max_companions": "0"}


def test_image_is_stored_and_served_with_its_checked_type(client, auth, clock, staff, db, file_storage):
    auth.login(staff)
    resp = client.post("/manage/openday/new", data=dict(FORM, image=(io.BytesIO(JPG), "活动\x00.png")),
                       content_type="multipart/form-data")
    assert resp.status_code == 302
    activity = db.session.scalar(sa.select(Activity))
    name = activity.images[0]["file"]
    assert name.endswith(".jpg")  # the content is a JPEG whatever the name said
    served = client.get(f"/openday/images/{name}")
    assert served.status_code == 200 and served.get_data() == JPG and served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/openday/images/..%2f..%2fconfig.py").status_code == 404
    assert client.get("/openday/images/0123456789abcdef0123.png").status_code == 404  # never stored


def test_image_saved_then_activity_refused_leaves_nothing(client, auth, clock, staff, db, app, file_storage,
                                                          monkeypatch):
    def refuse(*args, **kwargs):
        raise OpenDayError("测试：拒绝创建", field="title")

    monkeypatch.setattr(services, "create_activity", refuse)
    auth.login(staff)
    resp = client.post("/manage/openday/new", data=dict(FORM, image=(io.BytesIO(PNG), "a.png")),
                       content_type="multipart/form-data")
    assert resp.status_code in (400, 422) and "测试：拒绝创建" in resp.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Activity)) == 0
    assert list(file_storage.keys()) == [] and files_on_disk(app) == []


def test_image_refused_by_content_stores_nothing(client, auth, clock, staff, db, app, file_storage):
    auth.login(staff)
    resp = client.post("/manage/openday/new", data=dict(FORM, image=(io.BytesIO(b"GIF89a" + b"\x00" * 50), "a.png")),
                       content_type="multipart/form-data")
    assert resp.status_code in (400, 422) and "JPG 或 PNG" in resp.get_data(as_text=True)
    assert list(file_storage.keys()) == [] and files_on_disk(app) == []
