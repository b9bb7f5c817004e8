"""Changing the e-mail address (confirmed from the new address) and the password (current one required)."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import time_machine

from app.core.audit import AuditEntry
from tests.conftest import PASSWORD

from .conftest import errors_of

NEW_PASSWORD = "new-battery-77"


def ask_change(client, new_email, password=PASSWORD):
    return client.post("/accounts/email", data={"new_email": new_email, "password": password})


def test_the_address_changes_only_when_the_link_to_the_new_address_is_followed(client, db, auth, resident, outbox):
    old = resident.email
    auth.login(resident)
    response = ask_change(client, "New.Address@Example.com")
    assert response.status_code == 302
    db.session.refresh(resident)
    assert resident.email == old  # not yet
    mail = outbox.last("new.address@example.com", "accounts/emails/email_change")
    assert mail.subject == "请确认您的新电子邮箱" and "new.address@example.com" in mail.body_text
    link = outbox.link("new.address@example.com")
    response = client.get(link)
    assert response.status_code == 302
    db.session.refresh(resident)
    assert resident.email == "new.address@example.com" and resident.is_verified
    again = client.get(link)
    assert again.status_code == 400 and "链接已使用过" in again.get_data(as_text=True)
    auth.logout()
    assert auth.login(old).status_code == 422
    assert auth.login("new.address@example.com").status_code == 302


def test_the_link_works_without_being_signed_in_and_expires(app, client, db, auth, resident, outbox):
    start = datetime(2026, 7, 1, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False):
        auth.login(resident)
        ask_change(client, "later@example.com")
        auth.logout()
    link = outbox.link("later@example.com")
    with time_machine.travel(start + timedelta(hours=app.config["VERIFY_LINK_HOURS"] + 1), tick=False):
        response = client.get(link)
    assert response.status_code == 400 and "链接已过期" in response.get_data(as_text=True)
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        assert client.get(link).status_code == 302
    db.session.refresh(resident)
    assert resident.email == "later@example.com"


def test_a_duplicate_address_is_refused(client, db, auth, resident, make_user, outbox):
    other = make_user(email="taken@example.com")
    auth.login(resident)
    response = ask_change(client, "TAKEN@example.com")
    assert response.status_code == 422 and "该电子邮箱已被其他账户使用" in errors_of(response)
    assert outbox.count() == 0
    db.session.refresh(resident)
    assert resident.email != other.email


def test_an_address_taken_between_asking_and_confirming_is_refused(client, db, auth, resident, make_user, outbox):
    auth.login(resident)
    ask_change(client, "race@example.com")
    make_user(email="race@example.com")
    response = client.get(outbox.link("race@example.com"))
    assert response.status_code == 400 and "该电子邮箱已被其他账户使用" in response.get_data(as_text=True)
    db.session.refresh(resident)
    assert resident.email != "race@example.com"


def test_bad_input_for_a_new_address(client, db, auth, resident, outbox):
    auth.login(resident)
    for data, message in [
        ({"new_email": "nope", "password": PASSWORD}, "电子邮箱格式不正确"),
        ({"new_email": resident.email, "password": PASSWORD}, "新电子邮箱与当前电子邮箱相同"),
        ({"new_email": "x@example.com", "password": "wrong-password-1"}, "密码不正确"),
        ({"new_email": "x@example.com", "password": ""}, "请输入密码"),
    ]:
        response = client.post("/accounts/email", data=data)
        assert response.status_code == 422 and message in errors_of(response), data
    assert outbox.count() == 0


def test_change_password_needs_the_current_one(client, db, auth, resident):
    auth.login(resident)
    before = resident.password_hash
    for data, message in [
        ({"current_password": "wrong-password-1", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
         "当前密码不正确"),
        ({"current_password": "", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}, "请输入当前密码"),
        ({"current_password": PASSWORD, "password": "short1", "password_again": "short1"}, "密码至少需要 10 个字符"),
        ({"current_password": PASSWORD, "password": NEW_PASSWORD, "password_again": "other-pass-99"},
         "两次输入的密码不一致"),
        ({"current_password": PASSWORD, "password": PASSWORD, "password_again": PASSWORD}, "新密码不能与当前密码相同"),
    ]:
        response = client.post("/accounts/password", data=data)
        assert response.status_code == 422 and message in errors_of(response), data
    db.session.refresh(resident)
    assert resident.password_hash == before
    response = client.post("/accounts/password", data={"current_password": PASSWORD, "password": NEW_PASSWORD,
                                                       "password_again": NEW_PASSWORD})
    assert response.status_code == 302
    auth.logout()
    assert auth.login(resident, PASSWORD).status_code == 422
    assert auth.login(resident, NEW_PASSWORD).status_code == 302


def test_a_password_change_makes_an_earlier_reset_link_used(client, auth, resident, outbox):
    client.post("/accounts/forgot-password", data={"email": resident.email})
    link = outbox.link(resident.email)
    auth.login(resident)
    client.post("/accounts/password", data={"current_password": PASSWORD, "password": NEW_PASSWORD,
                                            "password_again": NEW_PASSWORD})
    assert "链接已使用过" in client.get(link).get_data(as_text=True)


def test_staff_changes_of_address_and_password_are_audited(client, db, auth, staff, outbox):
    auth.login(staff)
    client.post("/accounts/password", data={"current_password": PASSWORD, "password": NEW_PASSWORD,
                                            "password_again": NEW_PASSWORD})
    client.post("/accounts/email", data={"new_email": "staff.new@example.com", "password": NEW_PASSWORD})
    client.get(outbox.link("staff.new@example.com"))
    actions = list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["accounts.change_password", "accounts.change_email"]


def test_a_new_password_ends_other_sessions_but_not_this_one(app, client, db, auth, resident):
    other_device = app.test_client()
    other_device.post("/accounts/login", data={"email": resident.email, "password": PASSWORD})
    assert other_device.get("/accounts/profile").status_code == 200
    auth.login(resident)
    client.post("/accounts/password", data={"current_password": PASSWORD, "password": NEW_PASSWORD,
                                            "password_again": NEW_PASSWORD})
    assert client.get("/accounts/profile").status_code == 200
    assert other_device.get("/accounts/profile").status_code == 302


def test_a_reset_ends_every_session(app, client, db, resident, outbox):
    signed_in = app.test_client()
    signed_in.post("/accounts/login", data={"email": resident.email, "password": PASSWORD})
    client.post("/accounts/forgot-password", data={"email": resident.email})
    client.post(outbox.link(resident.email), data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert signed_in.get("/accounts/profile").status_code == 302
