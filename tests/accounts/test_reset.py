"""Password reset by e-mail: the same answer for every address, a link that works once and expires."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import time_machine

from app.accounts.models import User
from tests.conftest import PASSWORD

from .conftest import errors_of

NEW = "new-battery-77"
START = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)


def ask(client, email):
    return client.post("/accounts/forgot-password", data={"email": email})


def test_the_page_has_a_form(client):
    page = client.get("/accounts/forgot-password").get_data(as_text=True)
    assert 'name="email"' in page


def test_known_and_unknown_addresses_get_the_same_answer(client, resident, outbox):
    known = ask(client, resident.email)
    unknown = ask(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 302
    assert known.location == unknown.location
    flash_known = client.get(known.location).get_data(as_text=True)
    ask(client, "nobody@example.com")
    flash_unknown = client.get(unknown.location).get_data(as_text=True)
    assert "如果该电子邮箱已注册" in flash_known and "如果该电子邮箱已注册" in flash_unknown
    assert [m.recipient for m in outbox.all()] == [resident.email]


def test_a_bad_address_is_reported_next_to_the_field(client, outbox):
    response = ask(client, "not-an-address")
    assert response.status_code == 422 and "电子邮箱格式不正确" in errors_of(response)
    assert outbox.count() == 0


def test_the_link_sets_a_new_password_once(client, db, resident, outbox, auth):
    ask(client, resident.email.upper())
    mail = outbox.last(resident.email, "accounts/emails/reset")
    assert mail.subject == "重置您的密码" and "2 小时内有效" in mail.body_text
    link = outbox.link(resident.email)
    assert client.get(link).status_code == 200
    response = client.post(link, data={"password": NEW, "password_again": NEW})
    assert response.status_code == 302 and response.location.endswith("/accounts/login")
    assert auth.login(resident, PASSWORD).status_code == 422  # the old password no longer works
    assert auth.login(resident, NEW).status_code == 302
    auth.logout()
    again = client.get(link)
    assert again.status_code == 400 and "链接已使用过" in again.get_data(as_text=True)
    assert client.post(link, data={"password": "another-one-88", "password_again": "another-one-88"}).status_code == 400


def test_a_weak_or_mismatched_new_password_changes_nothing(client, db, resident, outbox):
    ask(client, resident.email)
    link = outbox.link(resident.email)
    before = resident.password_hash
    response = client.post(link, data={"password": "short1", "password_again": "short1"})
    assert "密码至少需要 10 个字符" in errors_of(response)
    response = client.post(link, data={"password": NEW, "password_again": NEW + "x"})
    assert "两次输入的密码不一致" in errors_of(response)
    response = client.post(link, data={"password": resident.email, "password_again": resident.email})
    assert "密码不能与电子邮箱相同" in errors_of(response)
    db.session.refresh(resident)
    assert resident.password_hash == before
    assert client.get(link).status_code == 200  # the link still works


def test_the_link_expires_after_reset_link_hours(app, client, db, resident, outbox):
    with time_machine.travel(START, tick=False):
        ask(client, resident.email)
    link = outbox.link(resident.email)
    hours = app.config["RESET_LINK_HOURS"]
    with time_machine.travel(START + timedelta(hours=hours, seconds=1), tick=False):
        response = client.post(link, data={"password": NEW, "password_again": NEW})
    assert response.status_code == 400 and "链接已过期" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(User.password_hash).where(User.id == resident.id)) == resident.password_hash


def test_an_unverified_account_becomes_verified_by_resetting(client, db, make_user, outbox):
    person = make_user(verified=False)
    ask(client, person.email)
    client.post(outbox.link(person.email), data={"password": NEW, "password_again": NEW})
    db.session.refresh(person)
    assert person.is_verified


def test_a_deleted_account_gets_no_mail(client, db, resident, outbox):
    from app.core.timeutil import utcnow

    resident.deleted_at = utcnow()
    db.session.commit()
    ask(client, resident.email)
    assert outbox.count() == 0


def test_the_mail_is_in_the_recipients_language(client, db, resident, outbox):
    resident.locale = "en"
    db.session.commit()
    ask(client, resident.email)
    mail = outbox.last(resident.email)
    assert mail.locale == "en" and mail.subject == "Reset your password"
