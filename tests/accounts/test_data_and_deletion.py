"""Download my data (JSON, with what other modules contribute) and deleting the account."""
import json
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
import time_machine

from app import signals
from app.accounts.models import Role, TagKind, User, user_tag
from app.accounts.services import DELETED_NAME
from tests.conftest import PASSWORD

from .conftest import errors_of


def test_download_needs_sign_in(client):
    assert client.get("/accounts/data.json").status_code == 302


def test_the_download_is_a_json_attachment_with_profile_tags_and_module_data(client, db, auth, make_user, make_tag):
    tag = make_tag("青年", kind=TagKind.GROUP)
    person = make_user(Role.ENTERPRISE, name="陈强", district="minhang", age_band="45_59", occupation="经理")
    person.tags = [tag]
    db.session.commit()

    def contribute(user):
        return {"consultations": {"comments": [{"id": 7, "text": f"comment by {user.id}"}]}}

    signals.collect_user_data.connect(contribute)
    try:
        auth.login(person)
        response = client.get("/accounts/data.json")
    finally:
        signals.collect_user_data.disconnect(contribute)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["email"] == person.email and data["account"]["role"] == "enterprise"
    assert data["profile"]["name"] == "陈强" and data["profile"]["district"] == "minhang"
    assert data["profile"]["uscc"] == person.uscc and data["profile"]["occupation"] == "经理"
    assert data["tags"] == [{"id": tag.id, "kind": "group", "name": "青年", "name_en": tag.name_en}]
    assert data["consultations"]["comments"][0]["text"] == f"comment by {person.id}"
    assert "password_hash" not in json.dumps(data)


def test_the_download_is_named_after_the_day_in_shanghai(client, auth, resident):
    with time_machine.travel(datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc)):  # 1 January, 00:30 in Shanghai
        auth.login(resident)
        response = client.get("/accounts/data.json")
    assert 'filename="canyu-my-data-20270101.json"' in response.headers["Content-Disposition"]


def test_the_data_page_offers_download_and_deletion(client, auth, resident):
    auth.login(resident)
    page = client.get("/accounts/data").get_data(as_text=True)
    assert "/accounts/data.json" in page and "/accounts/delete" in page


@pytest.fixture
def deleted_events():
    received = []

    def on_deleted(user_id):
        received.append(user_id)

    signals.user_deleted.connect(on_deleted)
    yield received
    signals.user_deleted.disconnect(on_deleted)


def test_deleting_anonymises_signs_out_and_keeps_the_row(client, db, auth, make_user, make_tag, deleted_events):
    person = make_user(Role.ENTERPRISE, name="陈强", district="minhang", age_band="45_59", gender="male",
                       occupation="经理")
    person.tags = [make_tag()]
    db.session.commit()
    email, user_id = person.email, person.id
    auth.login(person)
    response = client.post("/accounts/delete", data={"password": PASSWORD, "confirm": "y"})
    assert response.status_code == 302
    db.session.expire_all()
    row = db.session.get(User, user_id)
    assert row is not None  # contributions keep pointing at the row
    assert row.email is None and row.name == DELETED_NAME and row.masked_name == "已**"
    assert (row.district, row.age_band, row.gender, row.occupation, row.organisation_name, row.uscc,
            row.password_hash) == (None,) * 7
    assert row.deleted_at is not None and not row.is_active
    assert db.session.scalar(sa.select(sa.func.count()).select_from(user_tag)) == 0
    assert deleted_events == [user_id]
    assert client.get("/accounts/profile").status_code == 302  # signed out
    assert "电子邮箱或密码不正确" in errors_of(auth.login(email))
    # The address is free again.
    assert client.post("/accounts/register", data={"account_type": "resident", "name": "新用户", "email": email,
                                                   "password": "brand-new-pass-1", "password_again": "brand-new-pass-1",
                                                   "accept_terms": "y"}).status_code == 302


def test_deletion_needs_the_password_and_the_tick(client, db, auth, resident, deleted_events):
    auth.login(resident)
    for data, message in [
        ({"password": "wrong-password-1", "confirm": "y"}, "密码不正确"),
        ({"password": "", "confirm": "y"}, "请输入密码以确认注销"),
        ({"password": PASSWORD}, "请勾选确认"),
    ]:
        response = client.post("/accounts/delete", data=data)
        assert response.status_code == 422 and message in errors_of(response), data
    db.session.refresh(resident)
    assert resident.deleted_at is None and resident.email and deleted_events == []


def test_staff_cannot_delete_themselves(client, db, auth, staff):
    auth.login(staff)
    response = client.post("/accounts/delete", data={"password": PASSWORD, "confirm": "y"})
    assert "工作人员账户不能自行注销" in errors_of(response)
    db.session.refresh(staff)
    assert staff.deleted_at is None


def test_downloading_my_data_is_audited(client, auth, db, resident):
    import sqlalchemy as sa

    from app.core.audit import AuditEntry

    auth.login(resident)
    response = client.get("/accounts/data.json")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "accounts.data_export"))
    assert entry.actor_id == resident.id and entry.details["format"] == "json" and entry.created_at is not None
