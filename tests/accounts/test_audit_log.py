"""The audit log browser: the admin sees everything, staff their own department; filters and keyset pages."""
from datetime import datetime, timezone

import pytest
import time_machine

from app.accounts.models import Role
from app.core.audit import audit


@pytest.fixture
def entries(db, make_department, make_user):
    """Entries for two departments and one without a department."""
    housing, ecology = make_department(name="市房屋管理局"), make_department(name="市生态环境局")
    h_staff = make_user(Role.STAFF, name="刘洋", email="housing.staff@example.com", department=housing)
    e_staff = make_user(Role.STAFF, name="孙丽", email="ecology.staff@example.com", department=ecology)
    admin = make_user(Role.ADMIN, name="周敏", email="admin@example.com")
    with time_machine.travel(datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc), tick=False):
        audit(h_staff, "consultations.publish", object_type="Consultation", object_id=1, department_id=housing.id,
              title="住房租赁条例")
        db.session.flush()  # created_at is set at flush time
    with time_machine.travel(datetime(2026, 3, 20, 2, 0, tzinfo=timezone.utc), tick=False):
        audit(e_staff, "hearings.announce", object_type="Meeting", object_id=2, department_id=ecology.id,
              title="生态会议")
        db.session.flush()
    with time_machine.travel(datetime(2026, 3, 25, 2, 0, tzinfo=timezone.utc), tick=False):
        audit(admin, "accounts.create_tag", object_type="Tag", object_id=3, name="物流")
        db.session.flush()
    db.session.commit()
    return dict(housing=housing, ecology=ecology, h_staff=h_staff, e_staff=e_staff, admin=admin)


def page(client, query=""):
    response = client.get("/manage/audit" + query)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_residents_cannot_see_the_audit_log(client, auth, resident):
    assert client.get("/manage/audit").status_code == 302
    auth.login(resident)
    assert client.get("/manage/audit").status_code == 403


def test_the_admin_sees_every_entry(client, auth, entries):
    auth.login(entries["admin"])
    text = page(client)
    assert "consultations.publish" in text and "hearings.announce" in text and "accounts.create_tag" in text
    # Newest first.
    assert text.index("accounts.create_tag") < text.index("hearings.announce") < text.index("consultations.publish")


def test_staff_see_only_their_department(client, auth, entries):
    auth.login(entries["h_staff"])
    text = page(client)
    assert "consultations.publish" in text
    assert "hearings.announce" not in text and "生态会议" not in text
    assert "accounts.create_tag" not in text  # no department: the admin's only
    # Asking for the other department by filter shows nothing either.
    text = page(client, f"?department={entries['ecology'].id}")
    assert "hearings.announce" not in text and "没有符合条件的记录" in text
    # The department choice lists only their own department.
    assert "市生态环境局" not in text


@pytest.mark.parametrize("query, shown, hidden", [
    ("?actor=housing.staff", ["consultations.publish"], ["hearings.announce", "accounts.create_tag"]),
    ("?action=hearings", ["hearings.announce"], ["consultations.publish", "accounts.create_tag"]),
    ("?object_type=Tag", ["accounts.create_tag"], ["consultations.publish", "hearings.announce"]),
    ("?date_from=2026-03-15&date_to=2026-03-20", ["hearings.announce"], ["consultations.publish",
                                                                        "accounts.create_tag"]),
    ("?date_to=2026-03-10", ["consultations.publish"], ["hearings.announce", "accounts.create_tag"]),
    ("?actor=%25", [], ["consultations.publish", "hearings.announce", "accounts.create_tag"]),  # % is literal
])
def test_filters(client, auth, entries, query, shown, hidden):
    auth.login(entries["admin"])
    text = page(client, query)
    for action in shown:
        assert action in text, query
    for action in hidden:
        assert f"<code>{action}</code>" not in text, query


def test_filter_by_department(client, auth, entries):
    auth.login(entries["admin"])
    text = page(client, f"?department={entries['ecology'].id}")
    assert "hearings.announce" in text and "<code>consultations.publish</code>" not in text


def test_a_date_range_backwards_is_reported_next_to_the_field(client, auth, entries):
    auth.login(entries["admin"])
    text = page(client, "?date_from=2026-03-20&date_to=2026-03-10")
    assert 'id="date_to-error"' in text and "截止日期不能早于起始日期" in text


def test_an_unreadable_date_is_reported_not_a_crash(client, auth, entries):
    auth.login(entries["admin"])
    text = page(client, "?date_from=yesterday")
    assert 'id="date_from-error"' in text


def test_keyset_pages_by_id_descending(client, db, auth, admin):
    from app.accounts import manage

    for n in range(manage.AUDIT_PAGE_SIZE + 5):
        audit(admin, "accounts.test", object_type="Thing", object_id=n)
    db.session.commit()
    auth.login(admin)
    first = page(client, "?object_type=Thing")
    assert first.count("<code>accounts.test</code>") == manage.AUDIT_PAGE_SIZE
    assert f"Thing #{manage.AUDIT_PAGE_SIZE + 4}<" in first and "Thing #4<" not in first
    import re

    next_link = re.search(r'<a href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "before=" in next_link and "object_type=Thing" in next_link
    second = page(client, next_link.replace("/manage/audit", ""))
    assert second.count("<code>accounts.test</code>") == 5
    assert "Thing #4<" in second and "Thing #0<" in second and 'rel="next"' not in second
    assert 'rel="prev"' in second


def test_staff_actions_in_accounts_show_in_their_department_log(client, db, auth, staff, make_user, department):
    other_staff = make_user(Role.STAFF, department=department)
    auth.login(staff)
    client.post("/accounts/profile", data={"name": "王五", "locale": "zh"})
    auth.logout()
    auth.login(other_staff)
    assert "accounts.update_profile" in page(client)
