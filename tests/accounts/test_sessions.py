"""Signing out ends the session for good: replayed session and remember-me cookies find nothing (issue 10)."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import time_machine

from app.accounts import jobs
from app.accounts.models import UserSession
from app.core.timeutil import utcnow
from tests.conftest import PASSWORD


def sign_in(client, user, remember=True):
    data = {"email": user.email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    assert client.post("/accounts/login", data=data).status_code == 302
    return {name: client.get_cookie(name).value for name in ("session", "remember_token")
            if client.get_cookie(name) is not None}


def replay(app, cookies, path="/accounts/profile"):
    """A fresh browser holding only the copied cookies."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value)
    return other.get(path).status_code


def test_replaying_cookies_after_sign_out_fails(app, client, resident):
    cookies = sign_in(client, resident)
    assert set(cookies) == {"session", "remember_token"}
    assert replay(app, cookies) == 200 and replay(app, {"remember_token": cookies["remember_token"]}) == 200
    client.post("/accounts/logout")
    assert replay(app, cookies) == 302
    assert replay(app, {"session": cookies["session"]}) == 302
    assert replay(app, {"remember_token": cookies["remember_token"]}) == 302


def test_sign_out_everywhere_and_ending_one_device(app, client, db, resident):
    phone = app.test_client()
    phone_cookies = sign_in(phone, resident, remember=False)
    laptop_cookies = sign_in(client, resident)
    page = client.get("/accounts/sessions").get_data(as_text=True)
    assert "当前设备" in page and page.count("退出此设备") == 2
    phone_row = db.session.scalar(sa.select(UserSession).order_by(UserSession.id))
    client.post(f"/accounts/sessions/{phone_row.id}/end")
    assert replay(app, phone_cookies) == 302 and replay(app, laptop_cookies) == 200
    other = sign_in(app.test_client(), resident)
    client.post("/accounts/sessions/end-all")
    assert replay(app, other) == 302 and replay(app, laptop_cookies) == 302
    assert client.get("/accounts/profile").status_code == 302


def test_someone_elses_session_cannot_be_ended(app, client, db, resident, make_user):
    stranger_cookies = sign_in(app.test_client(), make_user())
    sign_in(client, resident)
    row = db.session.scalar(sa.select(UserSession).order_by(UserSession.id))
    assert client.post(f"/accounts/sessions/{row.id}/end").status_code == 404
    assert replay(app, stranger_cookies) == 200


def test_a_new_password_ends_every_other_session_and_keeps_this_one(app, client, resident):
    other = sign_in(app.test_client(), resident)
    sign_in(client, resident)
    response = client.post("/accounts/password", data={"current_password": PASSWORD,
                                                       "password": "new-horse-battery-9",
                                                       "password_again": "new-horse-battery-9"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert client.get("/accounts/profile").status_code == 200
    assert replay(app, other) == 302


def test_remember_cookie_settings(app, client, resident):
    assert app.config["REMEMBER_COOKIE_DURATION"] <= timedelta(days=30)
    response = client.post("/accounts/login", data={"email": resident.email, "password": PASSWORD, "remember": "y"})
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("remember_token="))
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie


def test_remembered_session_expires_and_old_rows_are_purged(app, client, db, resident):
    cookies = sign_in(client, resident)
    app.test_client().post("/accounts/login", data={"email": "nobody@example.com", "password": "wrong-password-1"})
    with time_machine.travel(utcnow() + timedelta(days=31)):
        assert replay(app, {"remember_token": cookies["remember_token"]}) == 302
    with time_machine.travel(utcnow() + timedelta(days=62)):
        assert jobs.purge_sessions() == 1 + 3  # the session; throttle rows of two addresses and one client
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UserSession)) == 0


def test_an_idle_session_ends_but_a_used_one_carries_on(app, client, db, resident, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_IDLE_HOURS", 24)
    cookies = sign_in(client, resident, remember=False)
    idle = app.config["SESSION_IDLE_HOURS"]
    start = utcnow()
    for hours in range(idle // 2, 3 * idle, idle // 2):  # used every half idle period: stays signed in
        with time_machine.travel(start + timedelta(hours=hours)):
            assert replay(app, cookies) == 200
    with time_machine.travel(start + timedelta(hours=3 * idle + idle + 1)):
        assert replay(app, cookies) == 302


def test_production_remember_cookie_is_secure_lax_and_at_most_30_days():
    from config import ProductionConfig

    assert ProductionConfig.REMEMBER_COOKIE_SECURE and ProductionConfig.SESSION_COOKIE_SECURE
    assert ProductionConfig.REMEMBER_COOKIE_SAMESITE == "Lax"
    assert ProductionConfig.REMEMBER_COOKIE_DURATION <= timedelta(days=30)
