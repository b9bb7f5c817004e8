"""The account e-mails: a Subject line, a text and an HTML body, in the recipient's language, with a working link."""
import re

import pytest
import sqlalchemy as sa

from app.accounts import services
from app.accounts.models import Role, User
from tests.conftest import PASSWORD

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_every_account_mail_has_subject_text_html_and_a_link(app, db, make_user, department, admin, outbox, locale):
    user = make_user(name="Li Si" if locale == "en" else "李四", locale=locale)
    with app.test_request_context():
        services.send_verification(user)
        services.request_password_reset(user.email)
        services.request_email_change(user, "changed@example.com", PASSWORD)
        db.session.commit()
    mails = outbox.all()
    assert [m.template for m in mails] == ["accounts/emails/verify", "accounts/emails/reset",
                                           "accounts/emails/email_change"]
    for mail in mails:
        assert mail.locale == locale
        assert mail.subject and not mail.subject.startswith("Subject")
        assert mail.body_html and "<a href=" in mail.body_html
        assert re.search(r"http://localhost/accounts/\S+", mail.body_text)
        assert user.name in mail.body_text
        if locale == "en":
            assert not CJK.search(mail.subject + mail.body_text + mail.body_html), mail.body_text
        else:
            assert CJK.search(mail.subject)


def test_the_invitation_is_in_chinese_and_names_the_department(app, db, department, admin, outbox):
    with app.test_request_context():
        services.invite_staff(admin, department, email="invitee@example.com", name="钱七")
        db.session.commit()
    mail = outbox.last("invitee@example.com")
    assert department.name in mail.subject and "钱七" in mail.body_text and "168 小时" in mail.body_text
    assert mail.body_html and "/accounts/invitation/" in mail.body_html


def test_the_invitation_in_english_uses_the_english_department_name(app, db, department, admin, outbox):
    with app.test_request_context():
        person = services.invite_staff(admin, department, email="invitee@example.com", name="Qian Qi")
        person.locale = "en"
        db.session.flush()
        services.invite_staff(admin, department, email="invitee@example.com", name="Qian Qi")  # sent again
        db.session.commit()
    mail = outbox.last("invitee@example.com")
    assert mail.locale == "en" and department.name_en in mail.subject
    assert not CJK.search(mail.subject + mail.body_text)
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.role == Role.STAFF)) == 1
