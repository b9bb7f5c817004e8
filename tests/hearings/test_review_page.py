"""Staff review many applications in one submission, a reason next to each ineligible one, page by page."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.hearings import review, services
from app.hearings.models import ApplicationState as S
from tests.hearings.conftest import apply_kwargs

# No date logic here: twice in CI (slow), not nine times (CI budget).
pytestmark = pytest.mark.slow


def _apply(db, meeting, make_applicant, n):
    apps = [services.apply(make_applicant(i), meeting, now=meeting.opens_at + timedelta(hours=1), **apply_kwargs())
            for i in range(n)]
    db.session.commit()
    return apps


def test_many_decisions_in_one_submission_all_or_nothing(client, auth, db, make_meeting, make_applicant, staff):
    meeting = make_meeting()
    a, b, c = _apply(db, meeting, make_applicant, 3)
    auth.login(staff)
    url = f"/manage/hearings/{meeting.id}/applications"
    page = client.get(url).get_data(as_text=True)
    assert page.count('type="radio"') == 6 and "申请人0" in page
    form = {f"decision-{a.id}": "eligible", f"decision-{b.id}": "ineligible", f"reason-{b.id}": "",
            f"decision-{c.id}": "ineligible", f"reason-{c.id}": "与议题存在未申报的利益关系"}
    r = client.post(url, data=form)
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and f'id="reason-{b.id}-error">请说明不符合条件的理由' in body
    assert "与议题存在未申报的利益关系" in body  # what was typed stays
    for x in (a, b, c):
        db.session.refresh(x)
        assert x.state is S.SUBMITTED  # nothing written
    form[f"reason-{b.id}"] = "未满18周岁"
    r = client.post(url, data=form, follow_redirects=True)
    assert "已保存 3 份审查结果" in r.get_data(as_text=True)
    for x in (a, b, c):
        db.session.refresh(x)
    assert (a.state, b.state, c.state) == (S.ELIGIBLE, S.INELIGIBLE, S.INELIGIBLE)
    assert b.ineligible_reason == "未满18周岁"


def test_applications_page_by_page_and_the_rest_marked_eligible(client, auth, db, make_meeting, make_applicant,
                                                                 staff, monkeypatch):
    monkeypatch.setattr(review, "PAGE_SIZE", 2)
    meeting = make_meeting()
    apps = _apply(db, meeting, make_applicant, 3)
    auth.login(staff)
    url = f"/manage/hearings/{meeting.id}/applications"
    first = client.get(url).get_data(as_text=True)
    assert "申请人0" in first and "申请人1" in first and "申请人2" not in first
    assert f"after={apps[1].id}" in first
    second = client.get(f"{url}?after={apps[1].id}").get_data(as_text=True)
    assert "申请人2" in second and "申请人0" not in second
    r = client.post(url, data={f"decision-{apps[0].id}": "ineligible", f"reason-{apps[0].id}": "非本市居民",
                               "all_eligible": "1"}, follow_redirects=True)
    assert "已保存 2 份审查结果" in r.get_data(as_text=True)
    for x in apps:
        db.session.refresh(x)
    assert [x.state for x in apps] == [S.INELIGIBLE, S.ELIGIBLE, S.SUBMITTED]  # page 2 untouched


def test_a_reason_with_a_control_character_is_refused_next_to_it(client, auth, db, make_meeting, make_applicant,
                                                                   staff):
    """The reasons are read from the request by name (reason-<id>), not through a form class: the rule is the
    model's, so a NUL never reaches the database (PostgreSQL would refuse it with a server error)."""
    meeting = make_meeting()
    a, b = _apply(db, meeting, make_applicant, 2)
    auth.login(staff)
    url = f"/manage/hearings/{meeting.id}/applications?lang=en"
    r = client.post(url, data={f"decision-{a.id}": "eligible", f"decision-{b.id}": "ineligible",
                               f"reason-{b.id}": "未满\x0018周岁"})
    assert r.status_code == 422
    assert f'id="reason-{b.id}-error">This must not contain control characters' in r.get_data(as_text=True)
    for x in (a, b):
        db.session.refresh(x)
        assert x.state is S.SUBMITTED and x.ineligible_reason == ""


@pytest.mark.parametrize("after, status", [("99999999999999999999", 400), ("-99999999999999999999", 400),
                                           ("2147483648", 400), ("x", 400), ("0", 200), ("", 200)])
def test_the_page_keyset_beyond_an_id_is_refused(client, auth, db, make_meeting, make_applicant, staff, after,
                                                 status):
    """``after`` is read from the query and the form alike; a huge one overflowed the database's integer (500)."""
    meeting = make_meeting()
    _apply(db, meeting, make_applicant, 1)
    auth.login(staff)
    url = f"/manage/hearings/{meeting.id}/applications?after={after}"
    assert client.get(url).status_code == status
    posted = client.post(url, data={}).status_code
    assert posted == 400 if status == 400 else posted in (200, 302)
