"""scripts/verify_hearing_draw.py --record: an outsider's check of the published files against the public record.

The files of one drawn meeting (with a decline and a move-in) are built once per process; every tampering then runs
the script in-process on edited copies, which keeps the whole set well under a second or two.
"""
import copy
import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

from app.hearings import record, selection

pytestmark = pytest.mark.slow  # builds a drawn meeting (a lottery run) once: ~10 s under load, then ~4 s for all
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_hearing_draw.py"
_spec = importlib.util.spec_from_file_location("verify_hearing_draw", SCRIPT)
verifier = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(verifier)
_FILES: dict = {}


@pytest.fixture
def files(request):
    """pool, panels, draw and record documents of a drawn meeting (built on first use, then reused)."""
    if not _FILES:
        meeting, _facts = request.getfixturevalue("drawn_meeting")
        _FILES.update(pool=json.loads(meeting.pool.content),
                      panels=json.loads(meeting.draw.lottery_run.panels_content),
                      draw=json.loads(meeting.draw.content), record=record.document(meeting.id))
        assert _FILES["pool"] == json.loads(meeting.pool.content)
    return copy.deepcopy(_FILES)


def run(tmp_path, capsys, docs, raw=None, extra=()):
    paths = {}
    for name in ("pool", "panels", "draw", "record"):
        if docs.get(name) is None:
            continue
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_bytes((raw or {}).get(name) or selection.canonical(docs[name]))
    argv = ["--record", str(paths["record"]), str(paths["pool"]), str(paths["panels"])]
    argv += [str(paths["draw"])] if "draw" in paths else []
    code = verifier.main(argv + list(extra))
    return code, capsys.readouterr().out


def rehash(rec):
    """Recompute the whole chain, as a forger would."""
    prev = record.GENESIS
    for i, e in enumerate(rec["entries"], start=1):
        e["seq"], e["prev_sha256"] = i, prev
        e["sha256"] = record.entry_hash(e)
        prev = e["sha256"]
    return rec


def entry(rec, kind):
    return next(e for e in rec["entries"] if e["kind"] == kind)


def sha(doc):
    return hashlib.sha256(selection.canonical(doc)).hexdigest()


def _swap_pool_numbers(d):
    """Two entries of different categories trade numbers."""
    entries = d["pool"]["entries"]
    a = entries[0]
    b = next(e for e in entries if e["categories"] != a["categories"])
    a["categories"], b["categories"] = b["categories"], a["categories"]


def _flip_gender(d):
    cats = d["pool"]["entries"][2]["categories"]
    cats["gender"] = {"female": "male", "male": "female"}[cats["gender"]]


def _edit_panel(d):
    panel = d["panels"]["panels"][d["draw"]["panel_index"] if d.get("draw") else 0]
    outsider = next(n for n in range(1, 13) if n not in panel)
    panel[0] = outsider


def _forged_consistent_set(d):
    """Files consistent with each other (pool hash in panels, draw recomputed) but not with the record."""
    _swap_pool_numbers(d)
    d["panels"]["pool_sha256"] = sha(d["pool"])
    d["draw"] = verifier.compute_draw(d["pool"], d["panels"], sha(d["pool"]), sha(d["panels"]), d["draw"]["sources"])


def _forged_record_and_draw(d):
    """The operator redraws with other numbers and rewrites the record consistently; the draw entry an outsider
    archived from the feed is gone."""
    d["archived"] = entry(d["record"], "drawn")["sha256"]
    numbers = [[1, 2, 3]]
    forged = verifier.compute_draw(d["pool"], d["panels"], sha(d["pool"]), sha(d["panels"]), numbers)
    entry(d["record"], "numbers_entered")["data"]["sources"] = numbers
    drawn = entry(d["record"], "drawn")["data"]
    drawn.update({k: forged[k] for k in ("key_string", "panel_index", "panel", "alternates")},
                 draw_sha256=sha(forged))
    d["record"]["entries"] = [e for e in d["record"]["entries"] if e["kind"] not in ("declined", "moved_in")]
    d["draw"] = forged
    rehash(d["record"])


def _move_in_outside_rule(d):
    moved = entry(d["record"], "moved_in")["data"]
    other = next(n for n in d["draw"]["alternates"] if n != moved["number"])
    moved["number"], moved["alternate_rank"] = other, d["draw"]["alternates"].index(other) + 1
    rehash(d["record"])


def _published_with(d, edit):
    """The operator publishes panels whose figures were edited before publication: the record commits to the edited
    file from the start (its hashes recomputed), so only the figures themselves can give it away."""
    edit(d["panels"])
    for kind in ("panels_computed", "source_announced"):
        entry(d["record"], kind)["data"]["panels_sha256"] = sha(d["panels"])
    d["draw"]["panels_sha256"] = sha(d["panels"])
    entry(d["record"], "drawn")["data"].update(panels_sha256=sha(d["panels"]), draw_sha256=sha(d["draw"]))
    rehash(d["record"])


def _inflated_optimum(panels):
    """Everyone's optimal chance raised: the stated optimum looks better than the solver's."""
    for c in panels["chances"]:
        c["maximin_chance"] = round(c["maximin_chance"] * 1.1, 9)
    panels["optimum_chance"] = min(c["maximin_chance"] for c in panels["chances"])


def _optimum_above_uniform(panels):
    uniform = panels["seats"] / len(panels["chances"])
    for c in panels["chances"]:
        c["maximin_chance"] = uniform + 0.001
    panels["optimum_chance"] = uniform + 0.001


def _shift_maximin(panels):
    """A person's stated optimal chance raised and another's lowered by as much: the sum still equals the seats."""
    high = max(panels["chances"], key=lambda c: c["maximin_chance"])
    high["maximin_chance"] = round(high["maximin_chance"] + 0.05, 9)
    low = min((c for c in panels["chances"] if c is not high), key=lambda c: -c["maximin_chance"])
    low["maximin_chance"] = round(low["maximin_chance"] - 0.05, 9)
    panels["optimum_chance"] = min(c["maximin_chance"] for c in panels["chances"])


TAMPERINGS = {
    "stated optimum inflated before publication": (lambda d: _published_with(d, _inflated_optimum),
                                                   "maximin_chance adds up to"),
    "stated optimum above uniform before publication": (lambda d: _published_with(d, _optimum_above_uniform),
                                                        "above the uniform chance"),
    "maximin chances moved between two people (sum kept)": (lambda d: _published_with(d, _shift_maximin),
                                                             "within 1/m of its maximin chance"),
    "headline optimum not the lowest maximin chance": (lambda d: _published_with(d, lambda p: p.update(
        optimum_chance=p["optimum_chance"] + 0.01)), "optimum_chance: expected"),
    "swapped pool entries": (_swap_pool_numbers, "pool file SHA-256"),
    "edited pool categories": (_flip_gender, "pool file SHA-256"),
    "pool entry removed": (lambda d: d["pool"]["entries"].pop(), "pool size"),
    "loosened quotas in the pool": (lambda d: d["pool"]["quotas"][0].update(max=5), "pool file SHA-256"),
    "pool not canonical": (lambda d: d.setdefault("raw", {}).update(
        pool=json.dumps(d["pool"], ensure_ascii=False, indent=1).encode()), "pool: file in canonical form"),
    "edited panel": (_edit_panel, "panels file SHA-256"),
    "edited chances (in_panels)": (lambda d: d["panels"]["chances"][0].update(
        in_panels=d["panels"]["chances"][0]["in_panels"] + 1), "in_panels (recounted)"),
    "edited chances (chance)": (lambda d: d["panels"]["chances"][3].update(chance=0.5), "chance: expected"),
    "reordered panels": (lambda d: d["panels"]["panels"].reverse(), "panels file SHA-256"),
    "panels for another pool": (lambda d: d["panels"].update(pool_sha256="0" * 64), "panels: pool_sha256"),
    "changed random number in the draw file": (lambda d: d["draw"]["sources"][0].__setitem__(0, 8),
                                               "draw file SHA-256"),
    "reordered sources in the draw file": (lambda d: d["draw"]["sources"].reverse() or d["draw"]["sources"].append(
        [5]), "draw file: sources"),
    "draw file: other panel": (lambda d: d["draw"].update(panel_index=d["draw"]["panel_index"] + 1),
                               "draw file: panel_index"),
    "draw file: alternates reordered": (lambda d: d["draw"]["alternates"].reverse(), "draw file: alternates"),
    "changed random number in the record": (lambda d: entry(d["record"], "numbers_entered")["data"]["sources"][0]
                                            .__setitem__(0, 8), "sha256 of its content"),
    "changed hash in the record": (lambda d: entry(d["record"], "drawn").update(sha256="f" * 64), "prev_sha256"),
    "record entry removed": (lambda d: d["record"]["entries"].pop(3), "record entry 4: seq"),
    "move-in outside the rule (chain rehashed)": (_move_in_outside_rule, "move-in (number, rule)"),
    "decline of someone without a seat": (lambda d: entry(d["record"], "declined")["data"].update(
        number=d["draw"]["alternates"][0]) or rehash(d["record"]), "declines but holds no seat"),
    "commitment to other panels (chain rehashed)": (lambda d: entry(d["record"], "source_announced")["data"].update(
        panels_sha256="a" * 64) or rehash(d["record"]), "source_announced.panels_sha256"),
    "numbers entered before they came out": (lambda d: entry(d["record"], "numbers_entered").update(
        at="2026-06-30T10:00:00Z") or rehash(d["record"]), "before the announced"),
    "forged self-consistent files": (_forged_consistent_set, "pool_frozen.pool_sha256"),
    "forged record and draw, consistent": (_forged_record_and_draw, "no longer in the record"),
}


def test_the_published_files_check_out(tmp_path, capsys, files):
    code, out = run(tmp_path, capsys, files, extra=["--record-sha256", files["record"]["entries"][-1]["sha256"]])
    assert code == 0, out
    assert "MISMATCH" not in out and out.strip().endswith("OK") and "seats now" in out


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_every_tampering_is_named(tmp_path, capsys, files, name):
    tamper, expected = TAMPERINGS[name]
    tamper(files)
    extra = ["--record-sha256", files["archived"]] if "archived" in files else []
    code, out = run(tmp_path, capsys, files, raw=files.get("raw"), extra=extra)
    assert code == 1, out
    assert any(line.startswith("MISMATCH") and expected in line for line in out.splitlines()), out


def test_before_the_draw_the_panels_are_checked_against_the_commitment(tmp_path, capsys, files):
    files["record"]["entries"] = files["record"]["entries"][:3]  # as published between announcement and draw
    files["draw"] = None
    code, out = run(tmp_path, capsys, files)
    assert code == 0 and "match the announced commitment" in out, out
    _edit_panel(files)
    code, out = run(tmp_path, capsys, files)
    assert code == 1 and "source_announced.panels_sha256, the commitment" in out, out
