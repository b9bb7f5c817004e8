"""Admin pages: departments, tags, staff invitations and deactivation; every change audited."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import Department, DepartmentKind, Role, Tag, TagKind, User
from app.core.audit import AuditEntry
from tests.conftest import PASSWORD

from .conftest import errors_of

ADMIN_PAGES = ["/manage/accounts/departments", "/manage/accounts/departments/new", "/manage/accounts/tags"]


def audit_actions(db):
    return list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_are_for_the_admin_only(client, auth, resident, staff, admin, path):
    assert client.get(path).status_code == 302  # sign in first
    auth.login(resident)
    assert client.get(path).status_code == 403
    auth.logout()
    auth.login(staff)
    assert client.get(path).status_code == 403
    auth.logout()
    auth.login(admin)
    assert client.get(path).status_code == 200


def test_staff_pages_of_a_department_are_admin_only(client, auth, staff, department):
    auth.login(staff)
    assert client.get(f"/manage/accounts/departments/{department.id}/staff").status_code == 403
    assert client.post(f"/manage/accounts/departments/{department.id}/staff",
                       data={"name": "x", "email": "x@example.com"}).status_code == 403


# Departments -----------------------------------------------------------------------------------------------------

def dept_form(**changes):
    data = {"code": "transport", "name": "市交通委", "name_en": "Municipal Transport Commission", "kind": "bureau"}
    data.update(changes)
    return data


def test_create_and_edit_a_department(client, db, auth, admin):
    auth.login(admin)
    response = client.post("/manage/accounts/departments/new", data=dept_form(code="Transport"))
    assert response.status_code == 302
    dept = db.session.scalar(sa.select(Department).where(Department.code == "transport"))
    assert dept.name == "市交通委" and dept.kind is DepartmentKind.BUREAU
    page = client.get("/manage/accounts/departments").get_data(as_text=True)
    assert "市交通委" in page and "Municipal Transport Commission" in page
    response = client.post(f"/manage/accounts/departments/{dept.id}/edit",
                           data=dept_form(name="市交通委员会", kind="district"))
    assert response.status_code == 302
    db.session.refresh(dept)
    assert dept.name == "市交通委员会" and dept.kind is DepartmentKind.DISTRICT
    entries = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["accounts.create_department", "accounts.update_department"]
    assert entries[1].department_id == dept.id and entries[1].actor_id == admin.id
    assert entries[1].details["changes"]["name"] == ["市交通委", "市交通委员会"]


def test_department_bad_input(client, db, auth, admin, make_department):
    existing = make_department(name="市房屋管理局", code="housing")
    auth.login(admin)
    for changes, field, message in [
        (dict(code="housing"), "code", "已有部门使用这个代码"),
        (dict(name="市房屋管理局"), "name", "已有同名部门"),
        (dict(code="bad code!"), "code", "代码只能包含英文字母、数字和连字符"),
        (dict(code=""), "code", "请填写代码"),
        (dict(name=""), "name", "请填写名称"),
        (dict(kind="planet"), "kind", "Not a valid choice"),
    ]:
        response = client.post("/manage/accounts/departments/new", data=dept_form(**changes))
        assert response.status_code == 422, changes
        assert f'id="{field}-error"' in response.get_data(as_text=True), changes
        if not message.startswith("Not"):
            assert message in errors_of(response), changes
    assert db.session.scalar(sa.select(sa.func.count(Department.id))) == 1
    assert audit_actions(db) == []
    # Editing into a clash is refused too.
    other = make_department(code="other")
    response = client.post(f"/manage/accounts/departments/{other.id}/edit", data=dept_form(code="housing"))
    assert response.status_code == 422 and "已有部门使用这个代码" in errors_of(response)
    db.session.refresh(other)
    assert other.code == "other" and existing.code == "housing"
    assert client.get("/manage/accounts/departments/9999/edit").status_code == 404


# Tags ------------------------------------------------------------------------------------------------------------

def test_add_rename_deactivate_and_reactivate_a_tag(client, db, auth, admin):
    auth.login(admin)
    response = client.post("/manage/accounts/tags", data={"kind": "industry", "name": "物流", "name_en": "Logistics"})
    assert response.status_code == 302
    tag = db.session.scalar(sa.select(Tag))
    assert (tag.kind, tag.name, tag.name_en, tag.is_active) == (TagKind.INDUSTRY, "物流", "Logistics", True)
    client.post(f"/manage/accounts/tags/{tag.id}/edit", data={"name": "物流运输", "name_en": "Logistics and transport"})
    client.post(f"/manage/accounts/tags/{tag.id}/deactivate")
    db.session.refresh(tag)
    assert tag.name == "物流运输" and not tag.is_active
    client.post(f"/manage/accounts/tags/{tag.id}/activate")
    db.session.refresh(tag)
    assert tag.is_active
    assert audit_actions(db) == ["accounts.create_tag", "accounts.rename_tag", "accounts.deactivate_tag",
                                 "accounts.activate_tag"]
    page = client.get("/manage/accounts/tags").get_data(as_text=True)
    assert "物流运输" in page


def test_tag_bad_input(client, db, auth, admin, make_tag):
    make_tag("老年人")
    other = make_tag("青年")
    auth.login(admin)
    response = client.post("/manage/accounts/tags", data={"kind": "group", "name": "老年人"})
    assert response.status_code == 422 and "已有同名标签" in errors_of(response)
    response = client.post("/manage/accounts/tags", data={"kind": "group", "name": ""})
    assert "请填写名称" in errors_of(response)
    response = client.post(f"/manage/accounts/tags/{other.id}/edit", data={"name": "老年人"})
    assert "已有同名标签" in errors_of(response)
    assert db.session.scalar(sa.select(sa.func.count(Tag.id))) == 2
    db.session.refresh(other)
    assert other.name == "青年" and audit_actions(db) == []


# Staff invitations -----------------------------------------------------------------------------------------------

def invite(client, department, email="new.staff@example.com", name="钱七"):
    return client.post(f"/manage/accounts/departments/{department.id}/staff", data={"name": name, "email": email})


def test_invite_staff_and_accept_the_invitation_once(client, db, auth, admin, department, outbox):
    auth.login(admin)
    assert invite(client, department, email="New.Staff@example.com").status_code == 302
    person = db.session.scalar(sa.select(User).where(User.email == "new.staff@example.com"))
    assert person.role is Role.STAFF and person.department_id == department.id and person.password_hash is None
    assert person.is_invitation_pending
    mail = outbox.last("new.staff@example.com", "accounts/emails/invitation")
    assert department.name in mail.subject and department.name in mail.body_text
    page = client.get(f"/manage/accounts/departments/{department.id}/staff").get_data(as_text=True)
    assert "new.staff@example.com" in page and "已邀请，尚未启用" in page
    auth.logout()
    link = outbox.link("new.staff@example.com")
    form = client.get(link).get_data(as_text=True)
    assert "钱七" in form and department.name in form
    response = client.post(link, data={"name": "钱七七", "password": "staff-pass-123", "password_again": "staff-pass-123"})
    assert response.status_code == 302
    db.session.refresh(person)
    assert person.name == "钱七七" and person.is_verified and not person.is_invitation_pending
    again = client.get(link)
    assert again.status_code == 400 and "链接已使用过" in again.get_data(as_text=True)
    assert auth.login("new.staff@example.com", "staff-pass-123").status_code == 302
    assert client.get("/manage/").status_code == 200
    assert audit_actions(db) == ["accounts.invite_staff", "accounts.accept_invitation"]


def test_invitation_link_expires(app, client, db, auth, admin, department, outbox):
    start = datetime(2026, 8, 1, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False):
        auth.login(admin)
        invite(client, department)
        auth.logout()
    link = outbox.link("new.staff@example.com")
    with time_machine.travel(start + timedelta(hours=app.config["INVITE_LINK_HOURS"], minutes=1), tick=False):
        response = client.post(link, data={"name": "钱七", "password": "staff-pass-123",
                                           "password_again": "staff-pass-123"})
    assert response.status_code == 400 and "链接已过期" in response.get_data(as_text=True)
    person = db.session.scalar(sa.select(User).where(User.email == "new.staff@example.com"))
    assert person.password_hash is None


def test_invitation_bad_input(client, db, auth, admin, department, make_user, outbox):
    make_user(email="resident@example.com")
    auth.login(admin)
    for data, message in [
        ({"name": "钱七", "email": "resident@example.com"}, "该电子邮箱已注册"),
        ({"name": "钱七", "email": "nope"}, "电子邮箱格式不正确"),
        ({"name": "", "email": "a@example.com"}, "请填写姓名"),
    ]:
        response = client.post(f"/manage/accounts/departments/{department.id}/staff", data=data)
        assert response.status_code == 422 and message in errors_of(response), data
    assert outbox.count() == 0 and audit_actions(db) == []
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.role == Role.STAFF)) == 0


def test_accepting_with_a_weak_password_changes_nothing(client, db, auth, admin, department, outbox):
    auth.login(admin)
    invite(client, department)
    auth.logout()
    link = outbox.link("new.staff@example.com")
    response = client.post(link, data={"name": "钱七", "password": "short1", "password_again": "short1"})
    assert response.status_code == 422 and "密码至少需要 10 个字符" in errors_of(response)
    response = client.post(link, data={"name": "", "password": "staff-pass-123", "password_again": "staff-pass-123"})
    assert "请填写姓名" in errors_of(response)
    person = db.session.scalar(sa.select(User).where(User.email == "new.staff@example.com"))
    assert person.password_hash is None and audit_actions(db) == ["accounts.invite_staff"]


def test_inviting_a_pending_address_again_sends_a_new_link(client, db, auth, admin, department, outbox):
    auth.login(admin)
    invite(client, department)
    assert invite(client, department).status_code == 302
    assert len(outbox.all("new.staff@example.com")) == 2
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.role == Role.STAFF)) == 1


def test_an_invited_person_cannot_sign_in_before_accepting(client, auth, admin, department):
    auth.login(admin)
    invite(client, department)
    auth.logout()
    assert "电子邮箱或密码不正确" in errors_of(auth.login("new.staff@example.com", "anything-at-all-1"))


# Staff list and deactivation -------------------------------------------------------------------------------------

def test_staff_listed_per_department(client, auth, admin, make_department, make_user):
    one, two = make_department(), make_department()
    make_user(Role.STAFF, name="甲工作人员", department=one)
    make_user(Role.STAFF, name="乙工作人员", department=two)
    auth.login(admin)
    page = client.get(f"/manage/accounts/departments/{one.id}/staff").get_data(as_text=True)
    assert "甲工作人员" in page and "乙工作人员" not in page
    listing = client.get("/manage/accounts/departments").get_data(as_text=True)
    assert one.name in listing and two.name in listing
    assert client.get("/manage/accounts/departments/9999/staff").status_code == 404


def test_deactivate_and_reactivate_a_staff_member(client, db, auth, admin, staff):
    auth.login(admin)
    page = client.post(f"/manage/accounts/staff/{staff.id}/deactivate").get_data(as_text=True)
    assert "确定停用" in page  # asks first, also without JavaScript
    db.session.refresh(staff)
    assert staff.is_active
    response = client.post(f"/manage/accounts/staff/{staff.id}/deactivate", data={"confirmed": "1"})
    assert response.status_code == 302
    db.session.refresh(staff)
    assert staff.deactivated_at is not None and not staff.is_active
    auth.logout()
    assert "此账户已停用" in errors_of(auth.login(staff))
    auth.login(admin)
    client.post(f"/manage/accounts/staff/{staff.id}/reactivate")
    db.session.refresh(staff)
    assert staff.is_active
    entries = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["accounts.deactivate_staff", "accounts.reactivate_staff"]
    assert all(e.department_id == staff.department_id and e.object_id == str(staff.id) for e in entries)


def test_a_deactivated_staff_session_ends(client, db, auth, admin, staff, app):
    staff_client = app.test_client()
    staff_client.post("/accounts/login", data={"email": staff.email, "password": PASSWORD})
    assert staff_client.get("/manage/").status_code == 200
    auth.login(admin)
    client.post(f"/manage/accounts/staff/{staff.id}/deactivate", data={"confirmed": "1"})
    db.session.expire_all()
    assert staff_client.get("/manage/").status_code == 302


def test_only_staff_accounts_can_be_deactivated(client, auth, admin, resident):
    auth.login(admin)
    assert client.post(f"/manage/accounts/staff/{resident.id}/deactivate").status_code == 404
    assert client.post(f"/manage/accounts/staff/{admin.id}/deactivate").status_code == 404
