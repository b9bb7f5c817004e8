"""A change of address: the link dies with a password change; the old address gets a notice and can undo it."""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import User
from tests.conftest import PASSWORD

NEW_PASSWORD = "new-horse-battery-9"


def ask_change(client, new_email, password=PASSWORD):
    return client.post("/accounts/email", data={"new_email": new_email, "password": password})


def test_an_email_change_link_stops_working_after_a_password_change(client, db, auth, resident, outbox):
    auth.login(resident)
    ask_change(client, "thief@example.com")
    link = outbox.link("thief@example.com")
    client.post("/accounts/password", data={"current_password": PASSWORD, "password": NEW_PASSWORD,
                                            "password_again": NEW_PASSWORD})
    assert client.get(link).status_code == 400
    assert db.session.get(User, resident.id).email != "thief@example.com"


def test_the_old_address_is_told_and_can_undo_the_change(app, client, db, auth, resident, outbox):
    old = resident.email
    auth.login(resident)
    ask_change(client, "thief@example.com")
    client.get(outbox.link("thief@example.com"))
    assert db.session.get(User, resident.id).email == "thief@example.com"
    notice = outbox.last(old, "accounts/emails/email_changed")
    assert "thief@example.com" in notice.body_text
    undo = outbox.link(old, "accounts/emails/email_changed")
    thief = app.test_client()
    thief.post("/accounts/login", data={"email": "thief@example.com", "password": PASSWORD})
    assert thief.get("/accounts/profile").status_code == 200
    page = client.get(undo).get_data(as_text=True)
    assert "恢复原登录邮箱" in page and db.session.get(User, resident.id).email == "thief@example.com"
    response = client.post(undo)
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.get(User, resident.id)
    assert user.email == old
    assert thief.get("/accounts/profile").status_code == 302  # every session ended
    assert thief.post("/accounts/login", data={"email": "thief@example.com", "password": PASSWORD}).status_code == 422
    assert client.post("/accounts/login", data={"email": old, "password": PASSWORD}).status_code == 422
    reset = outbox.link(old, "accounts/emails/reset")
    client.post(reset, data={"password": NEW_PASSWORD, "password_again": NEW_PASSWORD})
    assert client.post("/accounts/login", data={"email": old, "password": NEW_PASSWORD}).status_code == 302
    assert client.post(undo).status_code == 400  # used once


def test_undo_in_english(client, db, auth, resident, outbox):
    old = resident.email
    auth.login(resident)
    ask_change(client, "new@example.com")
    client.get(outbox.link("new@example.com"))
    page = client.get(outbox.link(old, "accounts/emails/email_changed") + "?lang=en").get_data(as_text=True)
    assert "Restore" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1
