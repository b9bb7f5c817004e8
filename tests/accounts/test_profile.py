"""The profile page: name, district, age band, gender, occupation, tags and language."""
import re

import sqlalchemy as sa

from app.accounts.models import DISTRICTS, TagKind
from app.core.audit import AuditEntry

from .conftest import errors_of


def data(**changes):
    values = {"name": "张三丰", "district": "pudong", "age_band": "45_59", "gender": "", "occupation": "",
              "locale": "zh"}
    values.update(changes)
    return values


def test_profile_needs_sign_in(client):
    response = client.get("/accounts/profile")
    assert response.status_code == 302 and "/accounts/login" in response.location


def test_the_page_lists_sixteen_districts_and_active_tags_by_kind(client, auth, resident, make_tag):
    industry = make_tag("制造业", kind=TagKind.INDUSTRY)
    group = make_tag("老年人", kind=TagKind.GROUP)
    hidden = make_tag("停用标签")
    hidden.is_active = False
    auth.login(resident)
    page = client.get("/accounts/profile").get_data(as_text=True)
    assert len(DISTRICTS) == 16
    for zh, _en in DISTRICTS.values():
        assert zh in page
    assert "制造业" in page and "老年人" in page and "停用标签" not in page
    assert page.index("<legend>行业</legend>") < page.index("制造业") < page.index("<legend>人群</legend>") \
        < page.index("老年人")
    assert f'value="{industry.id}"' in page and f'value="{group.id}"' in page


def test_saving_the_profile(client, db, auth, resident, make_tag):
    industry = make_tag(kind=TagKind.INDUSTRY)
    group = make_tag(kind=TagKind.GROUP)
    auth.login(resident)
    response = client.post("/accounts/profile", data=data(gender="female", occupation="教师",
                                                          industry_tags=[str(industry.id)],
                                                          group_tags=[str(group.id)]))
    assert response.status_code == 302
    db.session.refresh(resident)
    assert (resident.name, resident.district, resident.age_band, resident.gender, resident.occupation) == \
        ("张三丰", "pudong", "45_59", "female", "教师")
    assert {t.id for t in resident.tags} == {industry.id, group.id}
    # The form shows what was saved, each tag ticked in its own group.
    page = client.get("/accounts/profile").get_data(as_text=True)
    assert re.search(rf'<input checked id="industry_tags-\d+" name="industry_tags" type="checkbox" value="{industry.id}"',
                     page)
    assert re.search(rf'<input checked id="group_tags-\d+" name="group_tags" type="checkbox" value="{group.id}"', page)
    # Residents' own changes are not audit entries (only staff and admin changes are).
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == 0


def test_optional_fields_can_be_cleared(client, db, auth, resident):
    auth.login(resident)
    client.post("/accounts/profile", data=data(district="", age_band=""))
    db.session.refresh(resident)
    assert resident.district is None and resident.age_band is None and resident.tags == []


def test_unknown_choices_are_refused_and_nothing_is_written(client, db, auth, resident, make_tag):
    inactive = make_tag(kind=TagKind.GROUP)
    inactive.is_active = False
    db.session.commit()
    auth.login(resident)
    for changes, message in [
        (dict(district="atlantis"), "请从列表中选择所在区"),
        (dict(age_band="100_plus"), "请从列表中选择年龄段"),
        (dict(gender="x"), "请从列表中选择性别"),
        (dict(name=""), "请填写姓名"),
        (dict(name="长" * 61), "60"),
        (dict(group_tags=[str(inactive.id)]), "所选标签不存在或已停用"),
        (dict(group_tags=["99999"]), "所选标签不存在或已停用"),
        (dict(locale="fr"), "请选择界面语言"),
    ]:
        response = client.post("/accounts/profile", data=data(**changes))
        assert response.status_code == 422, changes
        assert errors_of(response).strip(), changes
        if message:
            assert message in errors_of(response) or message in response.get_data(as_text=True), changes
    db.session.refresh(resident)
    assert resident.name == "张三" and resident.district == "xuhui" and resident.tags == []


def test_a_deactivated_tag_already_chosen_is_kept(client, db, auth, resident, make_tag):
    old = make_tag(kind=TagKind.GROUP)
    resident.tags = [old]
    old.is_active = False
    db.session.commit()
    auth.login(resident)
    client.post("/accounts/profile", data=data())
    db.session.refresh(resident)
    assert resident.tags == [old]


def test_choosing_english_switches_the_interface(client, db, auth, resident):
    auth.login(resident)
    response = client.post("/accounts/profile", data=data(locale="en"))
    assert "lang=en" in response.headers.get("Set-Cookie", "")
    db.session.refresh(resident)
    assert resident.locale == "en"
    page = client.get("/accounts/profile").get_data(as_text=True)
    assert '<html lang="en"' in page


def test_staff_profile_changes_are_audited(client, db, auth, staff):
    auth.login(staff)
    client.post("/accounts/profile", data=data())
    entry = db.session.scalar(sa.select(AuditEntry))
    assert entry.action == "accounts.update_profile" and entry.department_id == staff.department_id
