"""Leaving and cancelling ask first, without JavaScript too; a waitlisted person's button says what it does."""
from __future__ import annotations

import pytest

from app.openday import services
from app.openday.models import RegistrationState as RS

# No date logic here: twice in CI (slow), not nine times (CI budget).
pytestmark = pytest.mark.slow


def test_leaving_the_waitlist_says_so_and_asks_first(client, auth, clock, make_activity, people, db,
                                                     leave_without_js):
    session = make_activity(capacity=1).sessions[0]
    first, second = people(2)
    services.sign_up(first, session)
    reg = services.sign_up(second, session)
    db.session.commit()
    assert reg.state is RS.WAITLISTED
    auth.login(second)
    page = client.get(f"/openday/tickets/{reg.id}").get_data(as_text=True)
    assert "放弃候补" in page and "取消报名" not in page
    leave_without_js(reg, "确定要退出候补名单吗", "已退出候补名单")
    db.session.refresh(reg)
    assert reg.state is RS.CANCELLED


def test_cancelling_an_activity_asks_first_and_keeps_the_reason(client, auth, clock, make_activity, staff, db):
    activity = make_activity()
    auth.login(staff)
    page = client.post(f"/manage/openday/{activity.id}/cancel", data={"reason": "台风预警"}).get_data(as_text=True)
    assert "确定取消该活动吗" in page and 'name="reason" value="台风预警"' in page
    db.session.refresh(activity)
    assert activity.cancelled_at is None
    page = client.post(f"/manage/openday/{activity.id}/cancel", data={"reason": "台风预警", "confirmed": "1"},
                       follow_redirects=True).get_data(as_text=True)
    assert "活动已取消" in page
    db.session.refresh(activity)
    assert activity.cancel_reason == "台风预警"
