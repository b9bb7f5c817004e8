"""Commit before chance, the append-only public record, and `flask hearings verify` against database tampering."""
import json
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine
from flask_babel import force_locale

from app.core.audit import AuditEntry
from app.hearings import record, selection, selection_services
from app.hearings.models import Application, ApplicationState, HearingError
from app.hearings.verify import verify_meeting
from tests.api.schema_check import validate
from tests.hearings.conftest import AFTER_NUMBERS, _announce, _app, _panels


@pytest.mark.slow  # a lottery run; the date and time-of-day rules stay fast in test_services
def test_commit_before_chance(db, pool_meeting, staff):
    meeting = pool_meeting()
    with pytest.raises(HearingError, match="方案及其SHA-256公开之后"):  # no panels yet
        _announce(staff, meeting)
    run = _panels(db, staff, meeting)
    draw = _announce(staff, meeting)
    assert (draw.pool_sha256, draw.panels_sha256) == (meeting.pool.sha256, run.panels_sha256)
    db.session.commit()
    for refused in (lambda: selection_services.request_lottery(staff, meeting),
                    lambda: selection_services.freeze_pool(staff, meeting, now=AFTER_NUMBERS)):
        with pytest.raises(HearingError, match="随机数来源已于.*公布，候选池、配额和抽签方案自那时起不能再改变"):
            refused()
    with pytest.raises(HearingError) as english:
        selection_services.request_lottery(staff, meeting)
    with force_locale("en"):
        assert "cannot change" in str(english.value.message)
    # A panels file changed after the announcement is refused at the draw, even with its hash updated to match.
    run.panels_content = run.panels_content.replace('"panels":[[', '"panels":[[99,', 1)
    run.panels_sha256 = selection.sha256(run.panels_content)
    with time_machine.travel(AFTER_NUMBERS), pytest.raises(HearingError, match="承诺的不一致"):
        selection_services.perform_draw(staff, meeting, ["7 3 9"])


@pytest.mark.slow  # a lottery run and a draw
def test_the_record_is_a_hash_chain_by_pool_number_that_cannot_be_edited(db, pool_meeting, staff):
    meeting = pool_meeting()
    _panels(db, staff, meeting)
    _announce(staff, meeting)
    with time_machine.travel(AFTER_NUMBERS):
        selection_services.perform_draw(staff, meeting, ["7 3 9"])
    first = db.session.scalars(sa.select(Application).where(Application.state == ApplicationState.SELECTED)).first()
    selection_services.respond(first.user, first, accept=False, now=AFTER_NUMBERS + timedelta(hours=2))
    db.session.commit()
    doc = record.document(meeting.id)
    assert [e["kind"] for e in doc["entries"]] == ["pool_frozen", "panels_computed", "source_announced",
                                                   "numbers_entered", "drawn", "declined", "moved_in"]
    assert record.check_chain(doc) == []
    assert doc["entries"][5]["data"] == {"number": first.pool_entry.number, "reason": "declined"}
    assert first.user.name not in json.dumps(doc, ensure_ascii=False)
    announced = doc["entries"][2]
    assert announced["data"]["draw_not_before"] == "2026-06-30T13:30:00Z"
    assert announced["at"] < doc["entries"][3]["at"]
    entry = record.entries(meeting.id)[5]
    entry.data = entry.data.replace("declined", "no_answer")
    with pytest.raises(record.RecordError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(record.RecordError, match="append-only"):
        db.session.delete(record.entries(meeting.id)[0])
        db.session.flush()
    db.session.rollback()
    # A refused second draw is audited with the numbers attempted.
    with time_machine.travel(AFTER_NUMBERS + timedelta(days=1)), pytest.raises(HearingError):
        selection_services.perform_draw(staff, meeting, ["1 2 3"])
    db.session.commit()
    refused = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "hearing.draw_refused")).one()
    assert refused.details["attempted"] == ["1 2 3"]


def _sql(db, statement):
    db.session.execute(sa.text(statement))


def _tamper_record_sql(db, statement):
    if db.engine.dialect.name == "postgresql":  # the trigger refuses it outright
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.session.begin_nested():
            _sql(db, statement)
        return False
    _sql(db, statement)
    return True


def _forged_move_in(db, meeting, drawn):
    """The operator declines a holder and moves in someone not drawn, records and database agreeing."""
    holder = next(e.application for e in meeting.pool.entries if e.application.state is ApplicationState.CONFIRMED)
    outsider = next(e.application for e in meeting.pool.entries if e.application.state is ApplicationState.NOT_SELECTED)
    holder.state, holder.decline_reason = ApplicationState.DECLINED, "declined"
    outsider.state = ApplicationState.SELECTED
    record.append(meeting.id, record.Kind.DECLINED, {"number": holder.pool_entry.number, "reason": "declined"})
    record.append(meeting.id, record.Kind.MOVED_IN, {"vacated": holder.pool_entry.number,
                  "number": outsider.pool_entry.number, "alternate_rank": None,
                  "rule": selection_services.FIRST_FITTING, "skipped": []})


TAMPERINGS = {
    "seat given to someone not drawn": (lambda db, m, d: (
        setattr(_app(m, d["rest"][0]), "state", ApplicationState.CONFIRMED),
        setattr(_app(m, d["holders"][0]), "state", ApplicationState.NOT_SELECTED)), "seat holders"),
    "alternate order changed": (lambda db, m, d: (
        setattr(_app(m, d["alternates"][0]), "alternate_rank", 2),
        setattr(_app(m, d["alternates"][1]), "alternate_rank", 1)), "alternate ranks"),
    "move-in outside the rule": (_forged_move_in, "move-in of record entry"),
    "a declined person given the seat back": (lambda db, m, d: setattr(
        _app(m, d["declined"]), "state", ApplicationState.CONFIRMED), "seat holders"),
    "decline reason changed": (lambda db, m, d: setattr(_app(m, d["declined"]), "decline_reason", "no_answer"),
                               "declines"),
    "edited record entry": (lambda db, m, d: _tamper_record_sql(
        db, "UPDATE hearing_selection_event SET data = replace(data, 'declined', 'no_answer') "
            "WHERE kind = 'declined'") or pytest.skip("refused by the trigger"), "record entry 6 (declined): sha256"),
    "removed record entry": (lambda db, m, d: _tamper_record_sql(
        db, "DELETE FROM hearing_selection_event WHERE kind = 'numbers_entered'") or pytest.skip("refused"),
        "record entry 4: seq"),
    "pool file edited with its hash": (lambda db, m, d: (
        setattr(m.pool, "content", m.pool.content.replace('"female"', '"male"', 1)),
        setattr(m.pool, "sha256", selection.sha256(m.pool.content))), "pool SHA-256 (stored)"),
    "pool entry categories changed": (lambda db, m, d: setattr(m.pool.entries[0], "categories", {
        **m.pool.entries[0].categories,
        "gender": {"female": "male", "male": "female"}[m.pool.entries[0].categories["gender"]]}),
        "categories of pool number"),
    "panels edited with their hash": (lambda db, m, d: (
        setattr(m.draw.lottery_run, "panels_content", m.draw.lottery_run.panels_content.replace("[[", "[[99,", 1)),
        setattr(m.draw.lottery_run, "panels_sha256", selection.sha256(m.draw.lottery_run.panels_content))),
        "panels SHA-256 (stored)"),
    "random numbers changed": (lambda db, m, d: setattr(m.draw, "sources", [[1, 2, 3]]), "numbers entered"),
    "forged draw file": (lambda db, m, d: (
        setattr(m.draw, "content", m.draw.content.replace('"panel_index":', '"panel_index":1', 1)),
        setattr(m.draw, "sha256", selection.sha256(m.draw.content))), "draw SHA-256 (stored)"),
    "draw allowed earlier": (lambda db, m, d: setattr(m.draw, "numbers_at", m.draw.numbers_at - timedelta(days=1)),
                             "draw not before"),
    "seats changed after the pool was frozen": (lambda db, m, d: setattr(m, "seats", m.seats + 1),
                                                "seats (pool file vs meeting)"),
    "alternates changed after the pool was frozen": (lambda db, m, d: setattr(m, "alternates", m.alternates + 1),
                                                     "alternates (pool file vs meeting)"),
    "stored lowest chance raised": (lambda db, m, d: setattr(m.draw.lottery_run, "lowest_chance", 0.5),
                                    "lowest_chance: the published panels give"),
    "stored optimum raised": (lambda db, m, d: setattr(m.draw.lottery_run, "optimum_chance", 0.5),
                              "optimum_lowest_chance: the published panels give"),
}


@pytest.mark.slow  # a lottery run and a draw
def test_verify_catches_every_database_tampering(db, drawn_meeting):
    """One drawn meeting; each tampering is made inside a savepoint, checked, and rolled back."""
    meeting, facts = drawn_meeting
    ok, lines = verify_meeting(meeting)
    assert ok, "\n".join(lines)
    assert len(TAMPERINGS) >= 8
    missed = []
    for name, (tamper, expected) in TAMPERINGS.items():
        savepoint = db.session.begin_nested()
        try:
            tamper(db, meeting, facts)
        except pytest.skip.Exception:
            savepoint.rollback()
            continue
        db.session.flush()
        db.session.expire_all()
        ok, lines = verify_meeting(meeting)
        savepoint.rollback()
        db.session.expire_all()
        if ok or not any(line.startswith("MISMATCH") and expected in line for line in lines):
            missed.append((name, lines))
    assert not missed, missed
    assert verify_meeting(meeting)[0]


@pytest.mark.slow  # a lottery run and a draw
def test_the_record_is_public_on_the_page_in_the_api_and_as_a_feed(client, db, drawn_meeting):
    meeting, facts = drawn_meeting
    doc = record.document(meeting.id)
    page = client.get(f"/hearings/{meeting.id}/selection").get_data(as_text=True)
    assert f"编号{facts['declined']}谢绝" in page and doc["entries"][-1]["sha256"] in page
    assert "开奖前；号码于 2026-06-30 21:30 公布" in page
    english = client.get(f"/hearings/{meeting.id}/selection?lang=en").get_data(as_text=True)
    assert f"Number {facts['declined']} declined" in english and "Alternate moved in" in english
    assert json.loads(client.get(f"/hearings/{meeting.id}/record.json").get_data(as_text=True)) == doc
    api = client.get(f"/api/v1/meetings/{meeting.id}").get_json()
    assert api["selection"]["record"] == doc["entries"]
    # the API's headline chances are counted from the published panels file, whatever the database keeps
    panels = json.loads(api["selection"]["panels"]["file"])
    counts = Counter(n for panel in panels["panels"] for n in panel)
    m = len(panels["panels"])
    assert api["selection"]["panels"]["lowest_chance"] == min(counts.values()) / m
    assert api["selection"]["panels"]["highest_chance"] == max(counts.values()) / m
    assert api["selection"]["panels"]["number_of_panels"] == m
    meeting.draw.lottery_run.lowest_chance = 0.99
    db.session.flush()
    tampered = client.get(f"/api/v1/meetings/{meeting.id}").get_json()["selection"]["panels"]
    assert tampered["lowest_chance"] == min(counts.values()) / m
    db.session.rollback()
    # a highest chance above the equal chance k/n is explained on the page: forced by the quotas, or rounding
    uniform = meeting.seats / meeting.pool.size
    optimum = api["selection"]["panels"]["optimum_lowest_chance"]
    if optimum < uniform - 1e-9:
        assert "所有人的入选机会加起来等于名额数" in page
    elif max(counts.values()) / m > uniform:
        assert f"实际机会与它相差不超过1/{m}" in page
    schema = client.get("/api/v1/openapi.json").get_json()
    response = schema["paths"]["/api/v1/meetings/{meeting_id}"]["get"]["responses"]["200"]["content"]
    assert validate(api, response["application/json"]["schema"], schema) == []
    feed = client.get(f"/api/v1/feeds/hearings/{meeting.id}/record.atom")
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"
    text = feed.get_data(as_text=True)
    assert text.count("<entry>") == len(doc["entries"]) and "候选池冻结 · Pool frozen" in text
    assert doc["entries"][2]["data"]["panels_sha256"] in text
