"""The open-data API: every endpoint against its generated OpenAPI schema, pagination, filters, caching, errors,
rate limit, feeds, and no personal data anywhere."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from app.accounts.models import Role, TagKind
from app.core.timeutil import local_today, utcnow
from tests.api.schema_check import check_document, validate


@pytest.fixture
def world(db, department, make_user, make_tag, make_consultation, make_comment):
    """Published consultations with comments and a report, a meeting with a draw, an activity with a session."""
    from app.consultations.models import Disposition, DispositionKind, FeedbackReport, ModerationState
    from app.hearings.models import Meeting, Quota
    from app.openday.models import Activity, ActivitySession

    now = utcnow()
    tag = make_tag("餐饮住宿", kind=TagKind.INDUSTRY)
    author = make_user(Role.RESIDENT, name="李秀英", email="li.xiuying@example.com")
    firm = make_user(Role.ENTERPRISE, name="赵强", email="zhao@firm.example")
    consultations = []
    for n in range(5):
        c = make_consultation(title=f"管理办法{n}", tags=[tag] if n % 2 else [])
        c.published_at = now - timedelta(days=10 - n)
        consultations.append(c)
    closed = consultations[0]
    closed.opens_at, closed.closes_at = now - timedelta(days=40), now - timedelta(days=5)
    comments = [make_comment(closed, author if i % 2 else firm, text=f"意见{i}", state=ModerationState.PUBLISHED)
                for i in range(7)]
    make_comment(closed, author, text="待审核的意见")  # pending: never public
    db.session.add(Disposition(consultation_id=closed.id, comment_id=comments[0].id, kind=DispositionKind.ADOPTED,
                               response="已采纳"))
    db.session.add(FeedbackReport(consultation_id=closed.id, published_at=now - timedelta(days=1),
                                  main_points="要点"))
    meeting = Meeting(department_id=department.id, title="加装电梯决策会议", starts_at=now + timedelta(days=20),
                      opens_at=now - timedelta(days=5), closes_at=now + timedelta(days=5), published_at=now,
                      method="分层随机抽签")
    meeting.quotas = [Quota(category="age_band", value="60_plus", minimum=1, maximum=2)]
    activity = Activity(department_id=department.id, title="走进水厂", signup_opens_at=now - timedelta(days=1),
                        signup_closes_at=now + timedelta(days=5), published_at=now, address="杨树浦路830号")
    activity.sessions = [ActivitySession(starts_at=now + timedelta(days=7), ends_at=now + timedelta(days=7, hours=2),
                                         capacity=20, confirmed_seats=5)]
    db.session.add_all([meeting, activity])
    from app.openday.models import Vote, VotingWindow

    window = VotingWindow(year=2025, opens_at=now - timedelta(days=300), closes_at=now - timedelta(days=270))
    db.session.add(window)
    db.session.flush()
    db.session.add_all([Vote(window_id=window.id, activity_id=activity.id, user_id=author.id),
                        Vote(window_id=window.id, activity_id=activity.id, user_id=firm.id)])
    db.session.commit()
    return {"consultations": consultations, "closed": closed, "comments": comments, "meeting": meeting,
            "activity": activity, "people": [author, firm], "department": department}


def _urls(world):
    c, m, a = world["closed"], world["meeting"], world["activity"]
    return ["/api/v1/", "/api/v1/consultations", f"/api/v1/consultations/{c.id}", "/api/v1/comments",
            f"/api/v1/comments?consultation={c.id}", "/api/v1/feedback-reports", "/api/v1/meetings",
            f"/api/v1/meetings/{m.id}", "/api/v1/activities", f"/api/v1/activities/{a.id}", "/api/v1/compliance",
            "/api/v1/votes/2025", "/api/v1/messages", "/api/v1/messages/figures?period=2026-Q4"]


def _schema_for(doc, url):
    path = url.split("?")[0]
    for template, item in doc["paths"].items():
        pattern = "^" + re.sub(r"\{[a-z_]+\}", r"[^/]+", template) + "$"
        if re.match(pattern, path):
            return item["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    raise AssertionError(f"{url} is not in the OpenAPI document")


def test_every_endpoint_matches_its_openapi_schema(client, world):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    check_document(doc)
    documented = {path for path, item in doc["paths"].items() if "get" in item}  # the forwarding API is a POST
    walked = set()
    for url in _urls(world):
        response = client.get(url)
        assert response.status_code == 200, url
        errors = validate(response.get_json(), _schema_for(doc, url), doc)
        assert errors == [], (url, errors)
        walked.add(next(t for t in documented
                        if re.match("^" + re.sub(r"\{[a-z_]+\}", r"[^/]+", t) + "$", url.split("?")[0])))
    assert documented == walked
    error = client.get("/api/v1/comments?limit=9999")
    assert validate(error.get_json(), {"$ref": "#/components/schemas/Error"}, doc) == []
    # The checker is not blind: a wrong type, a missing field and a date-time without offset are each caught.
    good = client.get(f"/api/v1/consultations/{world['closed'].id}").get_json()
    schema = _schema_for(doc, f"/api/v1/consultations/{world['closed'].id}")
    for broken in ({**good, "id": "1"}, {k: v for k, v in good.items() if k != "title"},
                   {**good, "opens_at": "2026-01-01T00:00:00"}, {**good, "extra": 1}):
        assert validate(broken, schema, doc) != []


def test_comments_are_masked_and_answers_public_after_the_report(client, world):
    items = client.get(f"/api/v1/comments?consultation={world['closed'].id}&limit=100").get_json()["items"]
    assert len(items) == 7  # the pending one is not public
    assert {i["public_name"] for i in items} <= {"李**", "赵**"}
    answered = [i for i in items if i["answer"]]
    assert [a["answer"]["disposition"] for a in answered] == ["adopted"]


def test_keyset_pagination_walks_every_item_once(client, world):
    seen, url = [], "/api/v1/comments?limit=3"
    while url:
        body = client.get(url).get_json()
        seen += [i["tracking_number"] for i in body["items"]]
        url = f"/api/v1/comments?limit=3&cursor={body['next_cursor']}" if body["next_cursor"] else None
    assert len(seen) == len(set(seen)) == 7
    consultations = client.get("/api/v1/consultations?limit=2").get_json()
    second = client.get(f"/api/v1/consultations?limit=2&cursor={consultations['next_cursor']}").get_json()
    assert [c["title"] for c in consultations["items"] + second["items"]] == ["管理办法4", "管理办法3", "管理办法2",
                                                                            "管理办法1"]


def test_filtered_pages_walk_their_comments_newest_first_once(client, world, db, make_comment):
    """With a filter and a cursor, every published comment the filter matches comes once, newest first, and no
    other (the page's ids are chosen before the rows are joined to their consultation: api.views._comment_rows)."""
    from app.consultations.models import ModerationState

    closed, other = world["closed"], world["consultations"][1]
    stray = make_comment(other, world["people"][0], text="别处的意见", state=ModerationState.PUBLISHED)
    make_comment(other, world["people"][1], text="别处待审核的意见")  # pending: never public
    db.session.commit()

    def walk(query: str) -> list[str]:
        seen, url = [], f"/api/v1/comments?{query}&limit=2"
        while url:
            body = client.get(url).get_json()
            seen += [i["tracking_number"] for i in body["items"]]
            url = f"/api/v1/comments?{query}&limit=2&cursor={body['next_cursor']}" if body["next_cursor"] else None
        return seen

    newest_first = [c.tracking_number for c in sorted(world["comments"], key=lambda c: c.id, reverse=True)]
    assert walk(f"consultation={closed.id}") == newest_first
    assert walk(f"consultation={other.id}") == [stray.tracking_number]
    assert walk(f"department={world['department'].code}") == [stray.tracking_number] + newest_first


def test_filters(client, world):
    assert len(client.get("/api/v1/consultations?tag=餐饮住宿").get_json()["items"]) == 2
    dept = world["department"].code
    assert len(client.get(f"/api/v1/consultations?department={dept}").get_json()["items"]) == 5
    states = client.get("/api/v1/consultations?state=feedback_published").get_json()["items"]
    assert [c["id"] for c in states] == [world["closed"].id]
    assert client.get("/api/v1/consultations?department=nowhere").status_code == 404
    assert client.get(f"/api/v1/consultations?since={local_today().isoformat()}").status_code == 200


@pytest.mark.parametrize("url,status,words", [
    ("/api/v1/consultations?colour=red", 400, "Unknown parameter"),
    ("/api/v1/consultations?cursor=%%%", 400, "Malformed cursor"),
    ("/api/v1/consultations?cursor=WyJ4Il0", 400, "Malformed cursor"),  # ["x"]: not a date
    ("/api/v1/comments?cursor=eyJhIjoxfQ", 400, "Malformed cursor"),  # {"a":1}
    ("/api/v1/comments?limit=100000", 422, "between 1 and 100"),
    ("/api/v1/comments?limit=abc", 400, "integer"),
    ("/api/v1/comments?limit=0", 422, "between 1 and 100"),
    ("/api/v1/consultations?state=melting", 400, "must be one of"),
    ("/api/v1/consultations?since=yesterday", 400, "date"),
    ("/api/v1/consultations/999999", 404, "No published consultation"),
    ("/api/v1/meetings/999999", 404, "No announced meeting"),
    ("/api/v1/activities/999999", 404, "No published activity"),
    ("/api/v1/votes/2020", 404, "No public vote results"),
    ("/api/v1/nothing/here", 404, "No such API address"),
    ("/api/v1/compliance?period=2026-Q7", 400, "period"),
])
def test_bad_input_gives_a_clear_json_error(client, world, url, status, words):
    response = client.get(url)
    assert response.status_code == status
    assert response.is_json and words in response.get_json()["error"]["message"]


def test_vote_results_once_public(client, world, db):
    from app.openday.models import VotingWindow

    results = client.get("/api/v1/votes/2025").get_json()["results"]
    assert results == [{"activity_id": world["activity"].id, "title": "走进水厂", "votes": 2}]
    now = utcnow()
    db.session.add(VotingWindow(year=2026, opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=5)))
    db.session.commit()
    assert client.get("/api/v1/votes/2026").status_code == 404  # running and without a live ranking


def test_etag_and_cache_control(client, world):
    first = client.get("/api/v1/consultations")
    assert first.headers["ETag"] and "max-age" in first.headers["Cache-Control"]
    again = client.get("/api/v1/consultations", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    feed = client.get("/api/v1/feeds/consultations.atom")
    assert client.get("/api/v1/feeds/consultations.atom",
                      headers={"If-None-Match": feed.headers["ETag"]}).status_code == 304


def test_rate_limit_answers_429_in_json(app, world):
    """TestingConfig turns the limiter off; this test builds an app with it on (same database)."""
    from app import create_app
    from app.extensions import limiter
    from config import TestingConfig

    limited = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                          "UPLOAD_DIR": app.config["UPLOAD_DIR"], "RATELIMIT_ENABLED": True,
                          "API_RATE_LIMIT": "3 per minute"}, config_class=TestingConfig)
    try:
        client = limited.test_client()
        codes = [client.get("/api/v1/consultations").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        response = client.get("/api/v1/consultations", environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert response.status_code == 429 and response.is_json
        assert "Too many requests" in response.get_json()["error"]["message"]
        assert response.headers.get("Retry-After")
        other = client.get("/api/v1/consultations", environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert other.status_code == 200  # the limit is per address
    finally:
        limiter.enabled = False
        with limited.app_context():
            from app.extensions import db

            db.session.remove()


def test_feeds(client, world):
    atom = client.get("/api/v1/feeds/consultations.atom")
    assert atom.mimetype == "application/atom+xml" and "管理办法4" in atom.get_data(as_text=True)
    assert "要点" in client.get("/api/v1/feeds/feedback-reports.atom").get_data(as_text=True)
    assert "走进水厂" in client.get("/api/v1/feeds/activities.atom").get_data(as_text=True)
    ics = client.get("/api/v1/feeds/openday.ics")
    assert ics.mimetype == "text/calendar"
    from icalendar import Calendar

    events = Calendar.from_ical(ics.data).walk("VEVENT")
    assert [str(e["summary"]) for e in events] == ["走进水厂"]


def test_no_personal_data_in_any_endpoint_or_feed(client, world):
    doc = client.get("/api/v1/openapi.json").get_json()
    urls = _urls(world) + ["/api/v1/feeds/consultations.atom", "/api/v1/feeds/feedback-reports.atom",
                           "/api/v1/feeds/activities.atom", "/api/v1/feeds/openday.ics", "/api/v1/openapi.json"]
    urls += [u + ("&" if "?" in u else "?") + "limit=100" for u in _urls(world) if "/api/v1/" != u and
             "paginat" not in u and u.rstrip("/").split("/")[-1] in ("consultations", "comments", "feedback-reports",
                                                                      "meetings", "activities")]
    assert doc
    people = world["people"]
    for url in urls:
        text = client.get(url).get_data(as_text=True)
        for person in people:
            assert person.email not in text, url
            assert person.name not in text, url
        assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", text.replace("@canyu", "")), url
        assert not re.search(r"1[3-9]\d{9}", text), url


def test_list_pages_use_a_fixed_number_of_queries(client, world, db):
    from sqlalchemy import event

    for url in ("/api/v1/consultations?limit=100", "/api/v1/comments?limit=100", "/api/v1/meetings",
                "/api/v1/activities", "/api/v1/feedback-reports"):
        statements = []

        def count(*args):
            statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert len(statements) <= 6, (url, len(statements), statements)


@pytest.fixture
def shanghai_small_hours():
    """01:00 on 2 December in Shanghai, still 1 December in UTC: the hours when the two calendars disagree."""
    with time_machine.travel(datetime(2026, 12, 1, 17, 0, tzinfo=timezone.utc), tick=True):
        yield


def test_date_and_tag_filters_on_other_lists(client, shanghai_small_hours, world):
    # The comments were published at 01:00 on 2 December, Shanghai time: a person asking for "since 2 December"
    # gets them, "since 3 December" or "until 1 December" (the UTC date) does not.
    assert len(client.get("/api/v1/comments?since=2026-12-02&limit=100").get_json()["items"]) == 7
    assert len(client.get("/api/v1/comments?until=2026-12-02&limit=100").get_json()["items"]) == 7
    assert client.get("/api/v1/comments?since=2026-12-03").get_json()["items"] == []
    assert client.get("/api/v1/comments?until=2026-12-01").get_json()["items"] == []
    assert client.get("/api/v1/comments?tag=餐饮住宿").get_json()["items"] == []  # the closed one is untagged
    assert len(client.get("/api/v1/meetings?until=2027-01-01").get_json()["items"]) == 1
    assert client.get("/api/v1/feedback-reports?until=2026-11-30").get_json()["items"] == []  # 1 Dec, 01:00
    assert len(client.get("/api/v1/feedback-reports?since=2026-12-01").get_json()["items"]) == 1
    assert client.get("/api/v1/activities?until=2020-01-01").get_json()["items"] == []


def test_meeting_selection_record_is_published(client, world, db):
    import hashlib
    import json

    from app.hearings.models import Draw, LotteryRun, LotteryStatus, Pool

    meeting = world["meeting"]
    pool_file = json.dumps({"entries": [{"number": 1, "categories": {"age_band": "60_plus"}}]})
    db.session.add(Pool(meeting_id=meeting.id, size=1, content=pool_file,
                        sha256=hashlib.sha256(pool_file.encode()).hexdigest()))
    # five one-seat panels: number 1 is on two of them (0.4), numbers 2-4 on one each (0.2)
    panels_file = json.dumps({"panels": [[1], [1], [2], [3], [4]], "chances": [
        {"number": n, "maximin_chance": c} for n, c in ((1, 0.37), (2, 0.21), (3, 0.21), (4, 0.21))]})
    db.session.add(LotteryRun(meeting_id=meeting.id, status=LotteryStatus.SUCCEEDED, panels_content=panels_file,
                              panels_sha256="ab", lowest_chance=0.9, highest_chance=0.9,  # the file is what counts
                              optimum_chance=0.9, settings={"number_of_panels": 1003}))
    db.session.add(Draw(meeting_id=meeting.id, source_descriptions=["上海体彩 2026-12-01"]))
    db.session.commit()
    body = client.get(f"/api/v1/meetings/{meeting.id}").get_json()
    selection = body["selection"]
    assert selection["pool"]["file"] == pool_file and selection["pool"]["size"] == 1
    # the headline chances are counted from the published panels file, not taken from stored figures
    assert selection["panels"]["lowest_chance"] == 0.2 and selection["panels"]["highest_chance"] == 0.4
    assert selection["panels"]["optimum_lowest_chance"] == 0.21 and selection["panels"]["number_of_panels"] == 5
    assert selection["draw"]["source_descriptions"] == ["上海体彩 2026-12-01"] and selection["draw"]["drawn_at"] is None
    assert selection["quotas"] == [{"category": "age_band", "value": "60_plus", "min": 1, "max": 2, "reason": ""}]
    doc = client.get("/api/v1/openapi.json").get_json()
    schema = doc["paths"]["/api/v1/meetings/{meeting_id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert validate(body, schema["schema"], doc) == []
