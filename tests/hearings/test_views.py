import json
from contextlib import contextmanager
from datetime import date, timedelta

import sqlalchemy as sa
import time_machine

from app.accounts.models import Role
from app.core.audit import AuditEntry
from app.hearings import jobs, selection_services, services
from app.hearings.models import Application, ApplicationState, Draw, LotteryRun, Meeting
from tests.hearings.conftest import AFTER_NUMBERS, apply_kwargs

FORM = {"statement": "我住在老小区，关心加装电梯。", "confirms_categories": "y", "lives_or_works_in_city": "y",
        "consents_to_publication": "y"}


def n_applications(db):
    return db.session.scalar(sa.select(sa.func.count(Application.id)))


@contextmanager
def _applicant_signed_in(auth, user, when):
    """Signed in as ``user`` at ``when`` (the clock stays there until the block ends)."""
    with time_machine.travel(when):
        auth.login(user)
        yield


def test_index_lists_published_only(client, make_meeting):
    make_meeting(title="公开的会议")
    make_meeting(title="草稿会议", published=False)
    html = client.get("/hearings/").get_data(as_text=True)
    assert "公开的会议" in html and "草稿会议" not in html


def test_draft_is_not_public(client, make_meeting):
    m = make_meeting(published=False)
    assert client.get(f"/hearings/{m.id}").status_code == 404


def test_apply_through_the_page(client, auth, db, make_meeting, make_applicant):
    meeting = make_meeting()
    with _applicant_signed_in(auth, make_applicant(), meeting.opens_at + timedelta(hours=1)):
        page = client.get(f"/hearings/{meeting.id}").get_data(as_text=True)
        assert "以上个人资料准确无误" in page and "提交报名" in page
        r = client.post(f"/hearings/{meeting.id}", data=FORM)
        assert r.status_code == 302
        assert n_applications(db) == 1
        r = client.post(f"/hearings/{meeting.id}", data=FORM, follow_redirects=True)
        assert "只能报名一次" in r.get_data(as_text=True) or "您已报名" in r.get_data(as_text=True)
    assert n_applications(db) == 1


def test_apply_outside_window_refused(client, auth, db, make_meeting, make_applicant):
    meeting = make_meeting()
    with _applicant_signed_in(auth, make_applicant(), meeting.closes_at + timedelta(hours=1)):
        r = client.post(f"/hearings/{meeting.id}", data=FORM)
        assert "不在报名时间内" in r.get_data(as_text=True)
    assert n_applications(db) == 0


def test_apply_bad_input_shows_message_next_to_field(client, auth, db, make_meeting, make_applicant):
    meeting = make_meeting()
    with _applicant_signed_in(auth, make_applicant(), meeting.opens_at + timedelta(hours=1)):
        r = client.post(f"/hearings/{meeting.id}", data={**FORM, "statement": ""})
        html = r.get_data(as_text=True)
        assert r.status_code == 422 and 'id="statement-error"' in html and "请填写报名理由" in html
        r = client.post(f"/hearings/{meeting.id}", data={**FORM, "has_conflict": "y"})
        html = r.get_data(as_text=True)
        assert 'id="conflict_details-error"' in html and "请说明利益关系" in html
        r = client.post(f"/hearings/{meeting.id}", data={k: v for k, v in FORM.items() if k != "lives_or_works_in_city"})
        assert "列席人须在本市居住或工作" in r.get_data(as_text=True)
    assert n_applications(db) == 0


def test_other_department_cannot_manage(client, auth, make_meeting, make_user, make_department):
    meeting = make_meeting()
    other = make_user(Role.STAFF, department=make_department())
    auth.login(other)
    assert client.get(f"/manage/hearings/{meeting.id}").status_code == 404
    assert client.get("/manage/hearings/").status_code == 200


def _quota_rows(rows):
    """Form data for the fixed quota rows: rows={("gender", "female"): (2, 3, "理由")}."""
    from app.hearings.forms import QUOTA_ROWS

    data = {}
    for i, key in enumerate(QUOTA_ROWS):
        lo, hi, reason = rows.get(key, ("", "", ""))
        data.update({f"quotas-{i}-minimum": str(lo), f"quotas-{i}-maximum": str(hi), f"quotas-{i}-reason": reason})
    return data


def test_staff_create_meeting_validates_quotas(client, auth, db, staff):
    from app.hearings.forms import QUOTA_ROWS

    auth.login(staff)
    page = client.get("/manage/hearings/new").get_data(as_text=True)
    female = QUOTA_ROWS.index(("gender", "female"))
    # pre-filled from population shares (48.2 % of 5 seats: 1 to 3), with the reason
    assert f'name="quotas-{female}-minimum" type="number" value="1"' in page.replace('required ', '')
    assert "第七次人口普查" in page and "48.2%" in page
    data = {"title": "测试会议", "topics": "议题一\n背景", "starts_at": "2027-03-01T09:00", "seats": "5",
            "alternates": "2", "eligibility": "年满18周岁", "method": "RFC 3797", "opens_at": "2027-01-01T09:00",
            "closes_at": "2027-01-15T17:00", "response_days": "3"}
    rows = {("gender", "female"): (3, 2, "性别均衡"), ("gender", "male"): (3, 4, ""),
            ("age_band", "60_plus"): (2, 6, "老年人"), ("age_band", "18_29"): (4, 5, "青年"),
            ("district", "xuhui"): (1, "", "")}
    r = client.post("/manage/hearings/new", data={**data, **_quota_rows(rows)})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "最少人数（3）不能大于最多人数（2）。" in html  # next to the female row
    assert f'id="quotas-{female}-minimum-error"' in html
    assert "请说明设置这项配额的理由。" in html and "最多人数（6）不能超过名额（5）。" in html
    assert "“年龄段”各项最少人数之和（6）超过了名额（5）。" in html and 'id="quota-age_band-error"' in html
    assert "请同时填写最少和最多人数。" in html
    assert db.session.scalar(sa.select(sa.func.count(Meeting.id))) == 0
    # every gender value capped: the maxima must be able to fill the seats
    capped = {("gender", "female"): (0, 1, "a"), ("gender", "male"): (0, 2, "b"), ("gender", "other"): (0, 1, "c")}
    html = client.post("/manage/hearings/new", data={**data, **_quota_rows(capped)}).get_data(as_text=True)
    assert "“性别”各项最多人数之和（4）少于名额（5），名额填不满。" in html
    ok = {("gender", "female"): (2, 3, "与人口比例一致")}
    r = client.post("/manage/hearings/new", data={**data, **_quota_rows(ok)})
    assert r.status_code == 302
    meeting = db.session.scalars(sa.select(Meeting)).one()
    assert [(q.as_dict(), q.reason) for q in meeting.quotas] == [
        ({"category": "gender", "value": "female", "min": 2, "max": 3}, "与人口比例一致")]
    edit = client.get(f"/manage/hearings/{meeting.id}/edit").get_data(as_text=True)
    assert 'value="与人口比例一致"' in edit


def test_staff_create_meeting_in_english_explains_quotas_in_english(client, auth, db, staff):
    auth.login(staff)
    data = {"title": "Test", "topics": "Topic", "starts_at": "2027-03-01T09:00", "seats": "5", "alternates": "2",
            "eligibility": "18+", "method": "RFC 3797", "opens_at": "2027-01-01T09:00",
            "closes_at": "2027-01-15T17:00", "response_days": "3"}
    rows = {("age_band", "60_plus"): (3, 4, "x"), ("age_band", "30_44"): (3, 4, "y")}
    html = client.post("/manage/hearings/new?lang=en", data={**data, **_quota_rows(rows)}).get_data(as_text=True)
    assert "add up to 6, more than the 5 seats" in html and "各项" not in html


def test_review_without_reason_refused(client, auth, db, make_meeting, make_applicant, staff):
    meeting = make_meeting()
    a = services.apply(make_applicant(), meeting, now=meeting.opens_at, **apply_kwargs())
    db.session.commit()
    auth.login(staff)
    r = client.post(f"/manage/hearings/{meeting.id}/applications/{a.id}/review", data={"decision": "ineligible"})
    assert r.status_code == 422 and "请说明不符合条件的理由" in r.get_data(as_text=True)
    db.session.refresh(a)
    assert a.state is ApplicationState.SUBMITTED
    r = client.post(f"/manage/hearings/{meeting.id}/applications/{a.id}/review",
                    data={"decision": "ineligible", "reason": "未满18周岁"})
    assert r.status_code == 302
    db.session.refresh(a)
    assert a.state is ApplicationState.INELIGIBLE


def test_infeasible_lottery_explained(client, auth, db, pool_meeting, staff):
    meeting = pool_meeting(quotas=({"category": "district", "value": "chongming", "min": 1, "max": 2},))
    auth.login(staff)
    r = client.post(f"/manage/hearings/{meeting.id}/lottery", follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "崇明区" in html and "不会进行抽签" in html
    # The public selection page explains it in the reader's language.
    english = client.get(f"/hearings/{meeting.id}/selection?lang=en").get_data(as_text=True)
    assert "Chongming" in english and "崇明区" not in english


def _through_draw(client, auth, db, pool_meeting, staff):
    meeting = pool_meeting()
    auth.login(staff)
    assert client.post(f"/manage/hearings/{meeting.id}/lottery").status_code == 302
    jobs.run_queued_lotteries()
    with time_machine.travel(meeting.closes_at + timedelta(days=1)):
        auth.login(staff)
        sources = "福彩3D 第2026150期开奖号码\n体彩排列5 第26150期"
        for times, field, message in (("晚上9点", "times", "21:30"), ("21:15 20:30 19:00", "times", "每个来源一个"),
                                      ("21:30", "expected_on", "至少1整天")):
            expected_on = "2026-06-30" if field == "times" else meeting.closes_at.date().isoformat()
            r = client.post(f"/manage/hearings/{meeting.id}/announce-draw", data={
                "announce-descriptions": sources, "announce-expected_on": expected_on, "announce-times": times})
            html = r.get_data(as_text=True)
            assert r.status_code == 422 and f'id="announce-{field}-error"' in html and message in html
        assert meeting.draw is None
        r = client.post(f"/manage/hearings/{meeting.id}/announce-draw",
                        data={"announce-descriptions": sources, "announce-expected_on": "2026-06-30",
                              "announce-times": "21:15, 20:30"})
        assert r.status_code == 302
    assert meeting.draw.source_times == ["21:15", "20:30"]
    return meeting


def _drawn(client, auth, db, pool_meeting, staff):
    """A meeting whose draw staff have performed (numbers 5 and 6), with the applications it selected."""
    meeting = _through_draw(client, auth, db, pool_meeting, staff)
    with time_machine.travel(AFTER_NUMBERS):
        auth.login(staff)
        client.post(f"/manage/hearings/{meeting.id}/draw", data={"draw-source_0": "5", "draw-source_1": "6"})
    return meeting, db.session.scalars(sa.select(Application).where(Application.state == ApplicationState.SELECTED)
                                       .order_by(Application.id)).all()


def test_draw_page_flow(client, auth, db, pool_meeting, staff):
    meeting = _through_draw(client, auth, db, pool_meeting, staff)
    with time_machine.travel(AFTER_NUMBERS):
        auth.login(staff)
        r = client.post(f"/manage/hearings/{meeting.id}/draw", data={"draw-source_0": "3 1 x", "draw-source_1": "1"})
        html = r.get_data(as_text=True)
        assert r.status_code == 422 and "格式不对" in html and 'id="draw-source_0-error"' in html
        assert db.session.scalars(sa.select(Draw)).one().drawn_at is None
        r = client.post(f"/manage/hearings/{meeting.id}/draw", data={"draw-source_0": "3 1 7", "draw-source_1": "8 2 6 0 4"})
        assert r.status_code == 302
        r = client.post(f"/manage/hearings/{meeting.id}/draw", data={"draw-source_0": "1", "draw-source_1": "2"},
                        follow_redirects=True)
        assert "只能进行一次" in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(
        AuditEntry.action == "hearing.draw_refused")) == 1
    draw = db.session.scalars(sa.select(Draw)).one()
    assert draw.key_string == "1.3.7./0.2.4.6.8./"
    page = client.get(f"/hearings/{meeting.id}/selection").get_data(as_text=True)
    assert draw.key_string in page and meeting.pool.sha256 in page and "福彩3D" in page
    pool = client.get(f"/hearings/{meeting.id}/pool.json")
    assert pool.get_data(as_text=True) == meeting.pool.content
    panels = json.loads(client.get(f"/hearings/{meeting.id}/panels.json").get_data(as_text=True))
    m = len(panels["panels"])
    assert 1000 <= m < 2000
    # the headline figures are the true chances counted from the published panels, beside the solver's optimum
    counts = [sum(e["number"] in p for p in panels["panels"]) for e in json.loads(meeting.pool.content)["entries"]]
    optimum = min(c["maximin_chance"] for c in panels["chances"])
    assert f'<dd class="js-true-lowest">{min(counts) / m * 100:.2f}%</dd>' in page
    assert f'<dd class="js-true-highest">{max(counts) / m * 100:.2f}%</dd>' in page
    assert f'<dd class="js-optimum">{optimum * 100:.2f}%</dd>' in page
    assert f"入选方案数 / {m}" in page and "（本次成立）" in page
    api = client.get(f"/api/v1/meetings/{meeting.id}").get_json()["selection"]["panels"]
    assert (api["number_of_panels"], api["lowest_chance"], api["highest_chance"]) == (m, min(counts) / m,
                                                                                    max(counts) / m)
    assert api["optimum_lowest_chance"] == optimum
    d = json.loads(client.get(f"/hearings/{meeting.id}/draw.json").get_data(as_text=True))
    assert d["panel"] == panels["panels"][d["panel_index"]]
    # the public page shows masked names of the selected only
    show = client.get(f"/hearings/{meeting.id}").get_data(as_text=True)
    assert "申**" in show and "申请人" not in show


def test_selected_person_accepts_on_own_page(client, auth, db, pool_meeting, staff):
    meeting, selected = _drawn(client, auth, db, pool_meeting, staff)
    chosen = selected[0]
    with time_machine.travel(AFTER_NUMBERS + timedelta(days=1)):
        auth.logout()
        auth.login(chosen.user)
        page = client.get(f"/hearings/{meeting.id}/my-application").get_data(as_text=True)
        assert "确认列席" in page
        client.post(f"/hearings/{meeting.id}/my-application/accept")
    db.session.refresh(chosen)
    assert chosen.state is ApplicationState.CONFIRMED


def test_home_and_manage_links(client, auth, staff, make_meeting):
    m = make_meeting(title="首页上的会议")
    with time_machine.travel(m.opens_at):
        assert "首页上的会议" in client.get("/").get_data(as_text=True)
    auth.login(staff)
    assert "决策会议与列席代表遴选" in client.get("/manage/").get_data(as_text=True)


def test_materials_late_warning_and_record_refused_until_answered(client, auth, db, pool_meeting, staff):
    from app.hearings.models import Suggestion

    meeting, chosen = _drawn(client, auth, db, pool_meeting, staff)
    for a in chosen:
        selection_services.respond(a.user, a, accept=True, now=a.respond_by - timedelta(hours=1))
    db.session.commit()
    with time_machine.travel(meeting.starts_at - timedelta(days=3)):
        auth.login(staff)
        r = client.post(f"/manage/hearings/{meeting.id}/materials", data={"materials-materials": "议程"},
                        follow_redirects=True)
        assert "距会议不足7天" in r.get_data(as_text=True)
    services.add_suggestion(chosen[0].user, chosen[0], "建议增加夜间停车位。")
    db.session.commit()
    with time_machine.travel(meeting.starts_at + timedelta(hours=3)):
        auth.login(staff)
        r = client.post(f"/manage/hearings/{meeting.id}/record", data={"record-decisions": "通过。"})
        assert r.status_code == 422 and "还有1条建议没有答复" in r.get_data(as_text=True)
        db.session.expire_all()
        assert db.session.get(Meeting, meeting.id).record_published_at is None
        s = db.session.scalars(sa.select(Suggestion)).one()
        r = client.post(f"/manage/hearings/{meeting.id}/suggestions/{s.id}/answer",
                        data={f"s{s.id}-disposition": "not_adopted", f"s{s.id}-answer": ""})
        assert r.status_code == 422 and "请填写答复" in r.get_data(as_text=True)
        r = client.post(f"/manage/hearings/{meeting.id}/suggestions/{s.id}/answer",
                        data={f"s{s.id}-disposition": "not_adopted", f"s{s.id}-answer": "用地不足，暂不采纳。"})
        assert r.status_code == 302
        r = client.post(f"/manage/hearings/{meeting.id}/record", data={"record-decisions": "通过。"})
        assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Meeting, meeting.id).record_published_at is not None


def test_the_checking_script_can_be_downloaded_from_the_site(client):
    response = client.get("/hearings/verify_hearing_draw.py")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    script = response.get_data(as_text=True)
    assert "def key_string" in script or "RFC 3797" in script
    compile(script, "verify_hearing_draw.py", "exec")  # a complete Python program
