"""Registration of residents and enterprise representatives, e-mail verification and resending it."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import Role, User
from app.accounts.validators import uscc_check_char

from .conftest import errors_of

GOOD = "correct-horse-42"


def form(**changes):
    data = {"account_type": "resident", "name": "李四", "email": "li.si@example.com", "password": GOOD,
            "password_again": GOOD, "district": "xuhui", "accept_terms": "y"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def user_count(db):
    return db.session.scalar(sa.select(sa.func.count(User.id)))


def test_register_page_shows_the_form(client):
    page = client.get("/accounts/register").get_data(as_text=True)
    assert "统一社会信用代码" in page and "企业名称" in page


def test_a_resident_registers_and_gets_a_verification_mail(client, db, outbox):
    response = client.post("/accounts/register", data=form(email="Li.Si@Example.com"))
    assert response.status_code == 302
    user = db.session.scalar(sa.select(User))
    assert user.email == "li.si@example.com"  # normalised
    assert user.role is Role.RESIDENT and user.district == "xuhui" and not user.is_verified
    assert user.password_hash and GOOD not in user.password_hash
    mail = outbox.last("li.si@example.com", "accounts/emails/verify")
    assert mail.subject == "请验证您的电子邮箱"
    assert "李四" in mail.body_text and mail.body_html


def test_the_verification_link_verifies_once_then_says_used(client, db, outbox):
    client.post("/accounts/register", data=form())
    link = outbox.link("li.si@example.com")
    response = client.get(link)
    assert response.status_code == 302
    assert db.session.scalar(sa.select(User)).is_verified
    again = client.get(link)
    assert again.status_code == 400
    assert "链接已使用过" in again.get_data(as_text=True)


def test_an_expired_verification_link_is_refused(app, client, db, outbox):
    start = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False):
        client.post("/accounts/register", data=form())
    link = outbox.link("li.si@example.com")
    hours = app.config["VERIFY_LINK_HOURS"]
    with time_machine.travel(start + timedelta(hours=hours, minutes=1), tick=False):
        response = client.get(link)
    assert response.status_code == 400
    assert "链接已过期" in response.get_data(as_text=True)
    assert not db.session.scalar(sa.select(User)).is_verified
    with time_machine.travel(start + timedelta(hours=hours - 1), tick=False):
        assert client.get(link).status_code == 302  # still valid just before


def test_a_tampered_link_is_invalid(client, outbox):
    client.post("/accounts/register", data=form())
    response = client.get(outbox.link("li.si@example.com") + "x")
    assert response.status_code == 400
    assert "链接无效" in response.get_data(as_text=True)


def test_resend_verification_sends_a_new_mail_that_works(client, db, outbox):
    client.post("/accounts/register", data=form())
    client.post("/accounts/login", data={"email": "li.si@example.com", "password": GOOD})
    response = client.post("/accounts/unverified", data={})
    assert response.status_code == 302
    mails = outbox.all("li.si@example.com", "accounts/emails/verify")
    assert len(mails) == 2
    assert client.get(outbox.link("li.si@example.com")).status_code == 302
    assert db.session.scalar(sa.select(User)).is_verified
    # The earlier link is now "used": the state it was made for has moved on.
    first = mails[0].body_text
    first_link = [w for w in first.split() if w.startswith("http")][0].replace("http://localhost", "")
    assert "链接已使用过" in client.get(first_link).get_data(as_text=True)


def test_unverified_page_needs_sign_in_and_sends_verified_people_home(client, resident, auth):
    assert client.get("/accounts/unverified").status_code == 302
    auth.login(resident)
    response = client.get("/accounts/unverified")
    assert response.status_code == 302 and response.location.endswith("/")


def test_an_enterprise_rep_registers_with_a_valid_code(client, db):
    first17 = "91310104MA1FR0K2X"
    code = first17 + uscc_check_char(first17)
    response = client.post("/accounts/register", data=form(account_type="enterprise", organisation_name="上海某某有限公司",
                                                           uscc=code.lower()))
    assert response.status_code == 302
    user = db.session.scalar(sa.select(User))
    assert user.role is Role.ENTERPRISE and user.uscc == code and user.organisation_name == "上海某某有限公司"


def wrong_check(first17: str) -> str:
    right = uscc_check_char(first17)
    return first17 + ("1" if right != "1" else "2")


@pytest.mark.parametrize("changes, field_message", [
    (dict(uscc=wrong_check("91310104MA1FR0K2X")), "统一社会信用代码的校验位不正确"),
    (dict(uscc="91310104MA1FR0K2"), "统一社会信用代码应为 18 位"),
    (dict(uscc="91310104MA1FR0K2XI"), "只能包含数字和大写字母"),
    (dict(uscc=""), "企业代表请填写统一社会信用代码"),
    (dict(organisation_name=""), "企业代表请填写企业名称"),
])
def test_enterprise_bad_input_is_shown_next_to_the_field_and_nothing_is_written(client, db, outbox, changes,
                                                                                 field_message):
    data = form(account_type="enterprise", organisation_name="上海某某有限公司",
                uscc="91310104MA1FR0K2X" + uscc_check_char("91310104MA1FR0K2X"))
    data.update(changes)
    response = client.post("/accounts/register", data=data)
    assert response.status_code == 422
    assert field_message in errors_of(response)
    assert user_count(db) == 0 and outbox.count() == 0


@pytest.mark.parametrize("changes, message", [
    (dict(password="short1", password_again="short1"), "密码至少需要 10 个字符"),
    (dict(password="password123", password_again="password123"), "这个密码太常见"),
    (dict(password="onlyletterslong", password_again="onlyletterslong"), "同时包含字母和数字"),
    (dict(password="li.si@example.com1", password_again="li.si@example.com1", email="li.si@example.com1"),
     "电子邮箱格式不正确"),
    (dict(password_again="correct-horse-43"), "两次输入的密码不一致"),
    (dict(email="not-an-address"), "电子邮箱格式不正确"),
    (dict(name=""), "请填写姓名"),
    (dict(accept_terms=None), "请阅读并同意"),
])
def test_bad_registration_input(client, db, outbox, changes, message):
    response = client.post("/accounts/register", data=form(**changes))
    assert response.status_code == 422
    assert message in errors_of(response)
    assert user_count(db) == 0 and outbox.count() == 0


def test_password_equal_to_the_email_is_refused(client, db, outbox):
    email = "abc12345@example.com"
    response = client.post("/accounts/register", data=form(email=email, password=email, password_again=email))
    assert "密码不能与电子邮箱相同" in errors_of(response)
    assert user_count(db) == 0 and outbox.count() == 0


def test_a_taken_address_gets_the_same_answer_and_its_owner_a_mail(client, db, outbox, make_user):
    """No account enumeration (issue 10): the page cannot tell a taken address from a new one."""
    make_user(email="li.si@example.com")
    taken = client.post("/accounts/register", data=form(email="LI.SI@example.com"), follow_redirects=True)
    fresh = client.post("/accounts/register", data=form(email="wang.wu@example.com"), follow_redirects=True)
    strip = lambda r: r.get_data(as_text=True).replace("li.si@example.com", "X").replace("wang.wu@example.com", "X")
    assert taken.status_code == fresh.status_code == 200 and strip(taken) == strip(fresh)
    assert user_count(db) == 2
    notice = outbox.last("li.si@example.com", "accounts/emails/already_registered")
    assert "没有创建新账户" in notice.body_text
    assert outbox.last("wang.wu@example.com", "accounts/emails/verify")


def test_registration_in_english_gives_english_messages_and_mail(client, db, outbox):
    response = client.post("/accounts/register?lang=en", data=form(password="short1", password_again="short1"))
    assert "at least 10 characters" in errors_of(response)
    client.post("/accounts/register?lang=en", data=form())
    user = db.session.scalar(sa.select(User))
    assert user.locale == "en"
    mail = outbox.last(user.email)
    assert mail.locale == "en" and "verify" in mail.subject.lower()
