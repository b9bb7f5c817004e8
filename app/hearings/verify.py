"""`flask hearings verify`: compare what the database says with what the public selection record implies.

The record (app/hearings/record.py) is the public truth: the pool, panels and draw files must hash to what it
committed to, the draw must follow from the entered numbers, and replaying its declines and move-ins (with the
move-in rule) must give exactly who holds each seat and who still waits as an alternate. Every difference is
reported with what the record implies and what the database holds. Never re-runs the solver.
"""
from __future__ import annotations

import json

from app.hearings import record, selection
from app.hearings.models import ApplicationState, Meeting
from app.hearings.selection_services import move_in_rule

HOLDING = {ApplicationState.SELECTED, ApplicationState.CONFIRMED, ApplicationState.ATTENDED}


class Check:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ok = True

    def info(self, text: str) -> None:
        self.lines.append(text)

    def same(self, what: str, implied, actual) -> bool:
        if implied == actual:
            return True
        self.ok = False
        self.lines.append(f"MISMATCH {what}: the record implies {implied!r}, the database holds {actual!r}")
        return False

    def fail(self, text: str) -> None:
        self.ok = False
        self.lines.append(f"MISMATCH {text}")


def _one(entries: list[dict], kind: str) -> dict | None:
    found = [e for e in entries if e["kind"] == kind]
    return found[-1] if found else None


def verify_meeting(meeting: Meeting) -> tuple[bool, list[str]]:
    c = Check()
    rows = record.entries(meeting.id)
    entries = [r.as_dict() for r in rows]
    if not entries:
        return False, ["This meeting has no public selection record."]
    for problem in record.check_chain({"entries": entries}):
        c.fail(problem)
    c.info(f"record: {len(entries)} entries, last SHA-256 {entries[-1]['sha256']}")
    frozen = _one(entries, record.Kind.POOL_FROZEN)
    pool = meeting.pool
    if frozen is None or pool is None:
        c.fail(f"pool: record entry present {frozen is not None}, database pool present {pool is not None}")
        return c.ok, c.lines
    c.same("pool file SHA-256 (pool content hashed)", frozen["data"]["pool_sha256"], selection.sha256(pool.content))
    c.same("pool SHA-256 (stored)", frozen["data"]["pool_sha256"], pool.sha256)
    pool_doc = json.loads(pool.content)
    # the quotas in force: the database's must be the pool file's (which carry any relaxation in the record)
    c.same("quotas (pool file vs database)", sorted((q["category"], q["value"], q["min"], q["max"])
                                                    for q in pool_doc.get("quotas", [])),
           sorted((q.category, q.value, q.minimum, q.maximum) for q in meeting.quotas))
    for e in entries:
        if e["kind"] == record.Kind.QUOTAS_RELAXED:
            for ch in e["data"].get("changes", []):
                loosened = (ch.get("new_min") is None and ch.get("new_max") is None) or (
                    ch["new_min"] <= ch["old_min"] and ch["new_max"] >= ch["old_max"])
                if not loosened or not str(ch.get("reason") or "").strip():
                    c.fail(f"record entry {e['seq']}: change of {ch.get('category')}={ch.get('value')} is not a "
                           f"loosening with a reason: {ch}")
    categories = {e["number"]: e["categories"] for e in pool_doc["entries"]}
    c.same("pool size", frozen["data"]["size"], len(pool.entries))
    c.same("seats (pool file vs meeting)", pool_doc.get("seats"), meeting.seats)
    c.same("alternates (pool file vs meeting)", pool_doc.get("alternates"), meeting.alternates)
    for e in sorted(pool.entries, key=lambda e: e.number):
        file_cats = categories.get(e.number)
        db_cats = {k: e.categories.get(k) for k in (file_cats or {})}
        c.same(f"categories of pool number {e.number}", file_cats, db_cats)
    computed = _one(entries, record.Kind.PANELS_COMPUTED)
    announced = _one(entries, record.Kind.SOURCE_ANNOUNCED)
    draw = meeting.draw
    if announced is None:
        c.info("no random source announced yet")
        return c.ok, c.lines
    a = announced["data"]
    c.same("announced pool SHA-256", frozen["data"]["pool_sha256"], a["pool_sha256"])
    if computed is not None:
        c.same("announced panels SHA-256 (against the panels computed)", computed["data"]["panels_sha256"],
               a["panels_sha256"])
    if draw is None:
        c.fail("draw: the record announces a random source, the database has no draw")
        return c.ok, c.lines
    c.same("announcement pool SHA-256", a["pool_sha256"], draw.pool_sha256)
    c.same("announcement panels SHA-256", a["panels_sha256"], draw.panels_sha256)
    c.same("announced at", announced["at"], record.stamp(draw.announced_at))
    c.same("draw not before", a["draw_not_before"], record.stamp(draw.numbers_at) if draw.numbers_at else None)
    c.same("source descriptions", [s["description"] for s in a["sources"]], list(draw.source_descriptions or []))
    run = draw.lottery_run
    if run is None or run.panels_content is None:
        c.fail("panels: the draw points to no computed panels")
        return c.ok, c.lines
    c.same("panels file SHA-256 (panels content hashed)", a["panels_sha256"], selection.sha256(run.panels_content))
    c.same("panels SHA-256 (stored)", a["panels_sha256"], run.panels_sha256)
    _stored_chances(c, run)
    drawn = _one(entries, record.Kind.DRAWN)
    numbers = _one(entries, record.Kind.NUMBERS_ENTERED)
    if drawn is None or numbers is None:
        c.same("draw time", None, record.stamp(draw.drawn_at) if draw.drawn_at else None)
        c.info("not drawn yet")
        return c.ok, c.lines
    if numbers["at"] < a["draw_not_before"]:
        c.fail(f"numbers entered at {numbers['at']}, before the announced {a['draw_not_before']}")
    c.same("numbers entered", numbers["data"]["sources"], draw.sources)
    c.same("drawn at", drawn["at"], record.stamp(draw.drawn_at) if draw.drawn_at else None)
    d = drawn["data"]
    result = selection.compute_draw(pool_doc, json.loads(run.panels_content), numbers["data"]["sources"])
    for field in ("key_string", "panel_index", "panel", "alternates"):
        c.same(f"draw {field} (recomputed from the recorded numbers)", result[field], d[field])
    c.same("draw key string", d["key_string"], draw.key_string)
    c.same("draw panel index", d["panel_index"], draw.panel_index)
    c.same("draw file SHA-256 (draw content hashed)", d["draw_sha256"], selection.sha256(draw.content or ""))
    c.same("draw SHA-256 (stored)", d["draw_sha256"], draw.sha256)
    c.same("draw file (recomputed)", selection.canonical(result).decode("utf-8"), draw.content)
    c.info(f"key string: {d['key_string']}; panel #{d['panel_index']}: {d['panel']}; alternates: {d['alternates']}")
    _replay(c, meeting, entries, d, pool_doc, categories)
    return c.ok, c.lines


def _stored_chances(c: Check, run) -> None:
    """The chances the database keeps for the staff pages must be the ones counted from the published panels."""
    summary = selection.chance_summary(json.loads(run.panels_content))
    for field, stored in (("lowest_chance", run.lowest_chance), ("highest_chance", run.highest_chance),
                          ("optimum_lowest_chance", run.optimum_chance), ("number_of_panels", run.panel_count)):
        counted = summary[field]
        if stored is None or counted is None or abs(stored - counted) > 1e-9:
            c.fail(f"{field}: the published panels give {counted!r}, the database holds {stored!r}")


def _replay(c: Check, meeting: Meeting, entries: list[dict], drawn: dict, pool_doc: dict, categories: dict) -> None:
    """Replay declines and move-ins from the record, then compare every application's standing."""
    holders, waiting = list(drawn["panel"]), list(drawn["alternates"])
    declined: dict[int, str] = {}
    for e in entries:
        data = e["data"]
        if e["kind"] == record.Kind.DECLINED:
            if data["number"] not in holders:
                c.fail(f"record entry {e['seq']}: number {data['number']} declines but holds no seat")
                continue
            holders.remove(data["number"])
            declined[data["number"]] = data["reason"]
        elif e["kind"] == record.Kind.MOVED_IN:
            if not waiting:
                c.fail(f"record entry {e['seq']}: number {data['number']} moves in but no alternate is waiting")
                continue
            number, rule = move_in_rule(holders, waiting, categories, pool_doc["quotas"])
            c.same(f"move-in of record entry {e['seq']} (the rule gives)", (number, rule),
                   (data["number"], data["rule"]))
            if data["number"] in waiting:
                waiting.remove(data["number"])
                holders.append(data["number"])
        elif e["kind"] == record.Kind.NO_ALTERNATE and waiting:
            c.fail(f"record entry {e['seq']}: no alternate recorded while {waiting} were waiting")
    c.info(f"seats by the record: {sorted(holders)}; alternates waiting: {waiting}; declined: {sorted(declined)}")
    by_number = {pe.number: pe.application for pe in meeting.pool.entries}
    actual_holders = sorted(n for n, a in by_number.items() if a.state in HOLDING)
    c.same("seat holders (pool numbers)", sorted(holders), actual_holders)
    for n in sorted(set(actual_holders) - set(holders)):
        was = "an alternate" if n in drawn["alternates"] else "not drawn"
        c.fail(f"number {n} holds a seat in the database but the record gives it none ({was})")
    actual_waiting = sorted((a.alternate_rank or 0, n) for n, a in by_number.items()
                            if a.state is ApplicationState.ALTERNATE)
    c.same("alternates waiting, in order", waiting, [n for _, n in actual_waiting])
    ranks = {n: rank for rank, n in enumerate(drawn["alternates"], start=1)}
    c.same("alternate ranks", ranks, {n: a.alternate_rank for n, a in by_number.items()
                                      if a.alternate_rank is not None})
    actual_declined = {n: a.decline_reason for n, a in by_number.items() if a.state is ApplicationState.DECLINED}
    c.same("declines (pool number: reason)", declined, actual_declined)
    rest = sorted(set(by_number) - set(drawn["panel"]) - set(drawn["alternates"]))
    c.same("not selected", rest, sorted(n for n, a in by_number.items() if a.state is ApplicationState.NOT_SELECTED))
