"""Rules enforced by the account services themselves, whoever calls them."""
import pytest
import sqlalchemy as sa

from app.accounts import services
from app.accounts.models import Role, User
from app.accounts.validators import uscc_check_char
from tests.conftest import PASSWORD

FIRST17 = "91310104MA1FR0K2X"


def register(**changes):
    values = dict(email="qy@example.com", password=PASSWORD, name="陈强", role=Role.ENTERPRISE,
                  organisation_name="上海某某有限公司", uscc=FIRST17 + uscc_check_char(FIRST17))
    values.update(changes)
    return services.register_user(**values)


@pytest.mark.parametrize("changes, field", [
    (dict(uscc=FIRST17 + ("1" if uscc_check_char(FIRST17) != "1" else "2")), "uscc"),
    (dict(uscc="123"), "uscc"),
    (dict(organisation_name="  "), "organisation_name"),
])
def test_register_refuses_a_bad_enterprise_whoever_calls_it(app, db, changes, field):
    with app.test_request_context():
        with pytest.raises(services.AccountError) as info:
            register(**changes)
    assert info.value.field == field
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_only_residents_and_enterprises_register_themselves(app, db):
    with app.test_request_context(), pytest.raises(ValueError):
        register(role=Role.STAFF)


def test_a_valid_enterprise_registers(app, db, outbox):
    with app.test_request_context():
        user = register(uscc=(FIRST17 + uscc_check_char(FIRST17)).lower())
        db.session.commit()
    assert user.uscc == FIRST17 + uscc_check_char(FIRST17)
    assert outbox.last(user.email).template == "accounts/emails/verify"


def test_registering_sends_user_registered(app, db):
    from app import signals

    seen = []

    def receiver(sender, **kwargs):
        seen.append(sender.email)

    signals.user_registered.connect(receiver)
    try:
        with app.test_request_context():
            register(role=Role.RESIDENT, organisation_name=None, uscc=None)
    finally:
        signals.user_registered.disconnect(receiver)
    assert seen == ["qy@example.com"]
