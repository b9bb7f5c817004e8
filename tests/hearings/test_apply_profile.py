"""The application form asks for the quota categories missing from the profile, keeps what was typed, and saves
the answers to the profile."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import Role
from app.hearings.models import Application

# No date logic here: twice in CI (slow), not nine times (CI budget).
pytestmark = pytest.mark.slow

FORM = {"statement": "我住在老小区，关心加装电梯。", "confirms_categories": "y", "lives_or_works_in_city": "y",
        "consents_to_publication": "y"}


def test_missing_district_age_and_gender_are_asked_on_the_form(client, auth, db, make_meeting, make_user):
    meeting = make_meeting()
    user = make_user(Role.RESIDENT, name="李四", district="xuhui")  # no age band, no gender
    with time_machine.travel(meeting.opens_at + timedelta(hours=1)):
        auth.login(user)
        page = client.get(f"/hearings/{meeting.id}").get_data(as_text=True)
        assert 'name="age_band"' in page and 'name="gender"' in page and 'name="district"' not in page
        r = client.post(f"/hearings/{meeting.id}", data=FORM)
        page = r.get_data(as_text=True)
        assert r.status_code == 422 and page.count("报名列席需要填写此项") == 2
        assert "我住在老小区，关心加装电梯。" in page  # the statement typed is kept
        assert db.session.scalar(sa.select(sa.func.count(Application.id))) == 0
        r = client.post(f"/hearings/{meeting.id}", data={**FORM, "age_band": "45_59", "gender": "nonsense"})
        assert r.status_code == 422 and "请从列表中选择" in r.get_data(as_text=True)
        r = client.post(f"/hearings/{meeting.id}", data={**FORM, "age_band": "45_59", "gender": "female"})
        assert r.status_code == 302
    db.session.refresh(user)
    assert (user.age_band, user.gender) == ("45_59", "female")
    application = db.session.scalar(sa.select(Application))
    assert application.categories["age_band"] == "45_59" and application.categories["gender"] == "female"
