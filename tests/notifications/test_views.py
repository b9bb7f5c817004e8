"""The development mail page /manage/mail."""
from __future__ import annotations

import re

from app.accounts.models import Role
from app.notifications.services import queue_email

LINK = "http://localhost/accounts/verify/eyJ1IjoxfQ.aBc-123_x"


def queue_verification(db, user):
    queue_email(user.email, "accounts/emails/verify", user=user, link=LINK)
    db.session.commit()


def test_the_admin_sees_mail_with_clickable_links(client, auth, db, admin, resident):
    queue_verification(db, resident)
    auth.login(admin)
    page = client.get("/manage/mail").get_data(as_text=True)
    assert resident.email in page
    assert f'<a href="{LINK}"' in page
    assert "等待发送" in page


def test_filter_by_recipient(client, auth, db, admin, resident, make_user):
    other = make_user(email="other@example.com")
    queue_verification(db, resident)
    queue_verification(db, other)
    auth.login(admin)
    page = client.get("/manage/mail", query_string={"to": resident.email.upper()}).get_data(as_text=True)
    assert resident.email in page and "other@example.com" not in page


def test_admin_may_see_it_and_department_staff_may_not(client, auth, admin, staff):
    auth.login(admin)
    assert client.get("/manage/mail").status_code == 200
    client.post("/accounts/logout")
    auth.login(staff)
    assert client.get("/manage/mail").status_code == 403


def test_residents_are_refused(client, auth, resident, make_user):
    auth.login(resident)
    assert client.get("/manage/mail").status_code == 403
    client.post("/accounts/logout")
    auth.login(make_user(Role.ENTERPRISE))
    assert client.get("/manage/mail").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/manage/mail")
    assert response.status_code == 302 and "/accounts/login" in response.headers["Location"]


def test_not_found_when_the_mail_page_is_switched_off(app, client, auth, admin, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SHOW_IN_APP", False)
    auth.login(admin)
    assert client.get("/manage/mail").status_code == 404


def test_the_page_in_english(client, auth, admin):
    auth.login(admin)
    page = client.get("/manage/mail?lang=en").get_data(as_text=True)
    assert "Mail log" in page and "No mail yet." in page


def test_older_mail_is_on_the_next_page(client, auth, db, admin, monkeypatch):
    monkeypatch.setattr("app.notifications.views.PAGE_SIZE", 2)
    for i in range(3):
        queue_email(f"r{i}@example.com", "notifications/emails/test_message")
    db.session.commit()
    auth.login(admin)
    first = client.get("/manage/mail").get_data(as_text=True)
    assert "r2@example.com" in first and "r1@example.com" in first and "r0@example.com" not in first
    next_url = re.search(r'href="([^"]*before=\d+[^"]*)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(next_url).get_data(as_text=True)
    assert "r0@example.com" in second and "r1@example.com" not in second
    assert 'rel="next"' not in second


def test_other_peoples_reset_and_account_links_are_masked(client, auth, db, admin, make_user):
    other_admin = make_user(Role.ADMIN, email="boss@example.com")
    secret = "http://localhost/accounts/reset/SECRET-TOKEN-1"
    for template in ("accounts/emails/reset", "accounts/emails/email_changed", "accounts/emails/email_change"):
        queue_email(other_admin.email, template, user=other_admin, link=secret, hours=2, new_email="x@example.com")
    queue_email(admin.email, "accounts/emails/reset", user=admin, link="http://localhost/accounts/reset/MINE-2",
                hours=2)
    db.session.commit()
    auth.login(admin)
    page = client.get("/manage/mail").get_data(as_text=True)
    assert "SECRET-TOKEN-1" not in page and page.count("链接已隐藏") >= 3
    assert "MINE-2" in page  # the admin's own mail keeps its link
