"""Sign in and out, and throttling after repeated failures."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import LoginThrottle, Role
from app.core.timeutil import utcnow
from tests.conftest import PASSWORD

from .conftest import errors_of

START = datetime(2026, 5, 4, 1, 0, tzinfo=timezone.utc)


def login(client, email, password=PASSWORD, ip="10.0.0.1", **extra):
    return client.post("/accounts/login", data={"email": email, "password": password, **extra},
                       environ_base={"REMOTE_ADDR": ip})


def test_sign_in_and_out(client, db, resident):
    response = login(client, resident.email.upper())
    assert response.status_code == 302
    assert client.get("/accounts/profile").status_code == 200
    db.session.refresh(resident)
    assert resident.last_login_at is not None
    client.post("/accounts/logout")
    assert client.get("/accounts/profile").status_code == 302


def test_sign_in_goes_back_to_the_page_asked_for_but_never_off_site(client, resident):
    assert login(client, resident.email, **{}).location.endswith("/")
    client.post("/accounts/logout")
    response = client.post("/accounts/login?next=/accounts/profile", data={"email": resident.email,
                                                                            "password": PASSWORD})
    assert response.location.endswith("/accounts/profile")
    client.post("/accounts/logout")
    response = client.post("/accounts/login?next=//evil.example/x", data={"email": resident.email,
                                                                           "password": PASSWORD})
    assert "evil" not in response.location


def test_a_wrong_password_shows_a_message_next_to_the_password(client, db, resident):
    response = login(client, resident.email, "wrong-password-1")
    assert response.status_code == 422
    assert "电子邮箱或密码不正确" in errors_of(response)
    assert client.get("/accounts/profile").status_code == 302
    counts = dict(db.session.execute(sa.select(LoginThrottle.key, LoginThrottle.failures)).all())
    assert counts == {f"email:{resident.email}": 1, "ip:10.0.0.1": 1}


def test_an_unknown_address_gets_the_same_message(client):
    response = login(client, "nobody@example.com", "wrong-password-1")
    assert "电子邮箱或密码不正确" in errors_of(response)


def test_empty_fields_are_reported(client):
    response = client.post("/accounts/login", data={"email": "", "password": ""})
    assert "请填写电子邮箱" in errors_of(response) and "请输入密码" in errors_of(response)


def test_after_five_failures_the_sixth_attempt_waits_even_with_the_right_password(app, client, db, resident):
    base = app.config["LOGIN_BASE_DELAY_SECONDS"]
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(5):
            assert "电子邮箱或密码不正确" in errors_of(login(client, resident.email, "wrong-password-1"))
        response = login(client, resident.email)  # the right password, too early
        assert response.status_code == 422
        assert f"请在 {base} 秒后再试" in errors_of(response)
        assert client.get("/accounts/profile").status_code == 302
        traveller.shift(timedelta(seconds=base - 1))
        assert "请在 1 秒后再试" in errors_of(login(client, resident.email))
        traveller.shift(timedelta(seconds=1))
        response = login(client, resident.email)
        assert response.status_code == 302
        assert client.get("/accounts/profile").status_code == 200
    # Success forgets the account's failures.
    db.session.expire_all()
    assert db.session.get(LoginThrottle, f"email:{resident.email}").failures == 0


def test_the_delay_grows_with_each_further_failure(app, client, resident):
    base = app.config["LOGIN_BASE_DELAY_SECONDS"]
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(5):
            login(client, resident.email, "wrong-password-1")
        traveller.shift(timedelta(seconds=base + 1))
        login(client, resident.email, "wrong-password-1")  # sixth failure, after the first delay
        response = login(client, resident.email)
        assert f"请在 {2 * base} 秒后再试" in errors_of(response)


def test_failures_from_one_address_throttle_other_accounts(app, client, make_user):
    people = [make_user() for _ in range(5)]
    with time_machine.travel(START, tick=False):
        for person in people:
            login(client, person.email, "wrong-password-1", ip="10.9.9.9")
        other = make_user()
        response = login(client, other.email, ip="10.9.9.9")
        assert "秒后再试" in errors_of(response)
        # The same account from another address is not held up by that address.
        assert login(client, other.email, ip="10.9.9.10").status_code == 302


def test_failures_for_one_account_throttle_it_from_every_address(client, resident):
    with time_machine.travel(START, tick=False):
        for n in range(5):
            login(client, resident.email, "wrong-password-1", ip=f"10.1.1.{n}")
        assert "秒后再试" in errors_of(login(client, resident.email, ip="10.2.2.2"))


def test_old_failures_do_not_count(client, resident):
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            login(client, resident.email, "wrong-password-1")
    with time_machine.travel(START + timedelta(hours=25), tick=False):
        assert login(client, resident.email).status_code == 302


def test_a_deleted_account_cannot_sign_in(client, db, resident):
    resident.deleted_at = utcnow()
    db.session.commit()
    assert "电子邮箱或密码不正确" in errors_of(login(client, resident.email))


def test_a_deactivated_staff_member_is_told_after_the_right_password(client, db, make_user, department):
    person = make_user(Role.STAFF, department=department)
    person.deactivated_at = utcnow()
    db.session.commit()
    assert "电子邮箱或密码不正确" in errors_of(login(client, person.email, "wrong-password-1"))
    assert "此账户已停用" in errors_of(login(client, person.email))


def test_logout_needs_a_post(client, resident, auth):
    auth.login(resident)
    assert client.get("/accounts/logout").status_code == 405
    assert client.get("/accounts/profile").status_code == 200


@pytest.mark.slow  # no date logic: twice in CI, not nine times
def test_staff_and_admins_land_on_manage_residents_on_home(client, staff, admin, resident):
    for person, landing in ((staff, "/manage/"), (admin, "/manage/"), (resident, "/")):
        response = client.post("/accounts/login", data={"email": person.email, "password": PASSWORD})
        assert response.location == landing
        assert client.get("/accounts/login").location == landing  # already signed in
        client.post("/accounts/logout")
    response = client.post("/accounts/login?next=/manage/openday/", data={"email": staff.email, "password": PASSWORD})
    assert response.location == "/manage/openday/"  # the page asked for still wins


def test_anonymous_pages_redirect_to_sign_in_without_a_stray_question_mark(client):
    assert client.get("/me").location == "/accounts/login?next=/me"
    assert client.get("/me?tab=news").location == "/accounts/login?next=/me?tab%3Dnews"


def test_a_correct_sign_in_does_not_hold_up_the_next_person_behind_the_same_address(app, client, db, make_user):
    """Five people behind one address (an office's NAT) mistype; once the delay is over, each correct sign-in
    from that address goes through, one after the other: a success must not restart the address's delay."""
    base = app.config["LOGIN_BASE_DELAY_SECONDS"]
    people = [make_user() for _ in range(8)]
    with time_machine.travel(START, tick=False) as traveller:
        for person in people[:5]:
            login(client, person.email, "wrong-password-1", ip="10.7.7.7")
        assert "秒后再试" in errors_of(login(client, people[5].email, ip="10.7.7.7"))
        traveller.shift(timedelta(seconds=base + 1))
        for person in people[5:]:
            assert login(client, person.email, ip="10.7.7.7").status_code == 302, person.email
            client.post("/accounts/logout")
        # A failure still earns the next, longer delay for everyone behind the address.
        login(client, people[0].email, "wrong-password-1", ip="10.7.7.7")
        assert f"请在 {2 * base} 秒后再试" in errors_of(login(client, people[1].email, ip="10.7.7.7"))
