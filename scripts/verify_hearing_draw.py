#!/usr/bin/env python3
"""Check a hearing's observer selection from its published files. Standard library only.

    python3 verify_hearing_draw.py --record record.json pool.json panels.json [draw.json]
    python3 verify_hearing_draw.py pool.json panels.json "9319" "2 5 12 8 10"       # without a record
    python3 verify_hearing_draw.py pool.json panels.json --draw draw.json          # numbers from draw.json

With --record (the meeting's public selection record, hearing-N-record.json) it checks the record's hash chain,
every file against the SHA-256 the record committed to, the pool, the chances (recounted from the panels), the solver's
stated chances (a distribution's: they add up to the seats, none above uniform for the lowest), the quotas of every
panel, and, once drawn, the key string, the drawn panel, the alternates' order, the draw file and every
decline and move-in (by pool number, with the move-in rule). Before a draw exists it checks the panels against the
announced commitment. --record-sha256 HASH (repeatable) checks that an entry you archived earlier (from the page or
the Atom feed) is still in the record, so a rewritten record is caught too.

On any mismatch it prints the field with both values, and exits with status 1.

Method (RFC 3797): key = for each source, its numbers sorted ascending each followed by ".", then "/".
Step i (0, 1, 2...): MD5 of i as 2 bytes big-endian + key + the same 2 bytes, read as an unsigned 128-bit
big-endian integer, modulo the number of entries remaining; that 0-based position is selected and removed.
Step 0 picks one of the published panels; steps 1, 2... order the rest of the pool; the first ones are the
alternates. A move-in takes the first waiting alternate with whom the seat holders still meet every quota; if none
does, the first waiting alternate.
"""
import argparse
import hashlib
import json
import re
import sys

GENESIS = "0" * 64
FIRST_FITTING = "first_alternate_keeping_quotas"
NONE_FITS = "first_alternate_none_keeps_quotas"


def canonical(obj):
    return (json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def parse_source(text):
    parts = [p for p in re.split(r"[\s,，、;；]+", text.strip()) if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise SystemExit(f"not a list of whole numbers: {text!r}")
    return [int(p) for p in parts]


def key_string(sources):
    return "".join("".join(f"{n}." for n in sorted(s)) + "/" for s in sources)


def step(key, i, remaining):
    prefix = i.to_bytes(2, "big")
    digest = hashlib.md5(prefix + key.encode("ascii") + prefix).digest()
    return digest.hex().upper(), int.from_bytes(digest, "big") % remaining


def compute_draw(pool, panels_doc, pool_sha, panels_sha, sources):
    """The draw file as the platform writes it (canonical JSON of this dict)."""
    panels = panels_doc["panels"]
    key = key_string(sources)
    md5, index = step(key, 0, len(panels))
    panel = sorted(panels[index])
    rest = [n for n in sorted(e["number"] for e in pool["entries"]) if n not in set(panel)]
    steps, i = [], 1
    while rest:
        digest, pos = step(key, i, len(rest))
        steps.append({"index": i + 1, "md5": digest, "remaining": len(rest), "position": pos,
                      "selected": rest.pop(pos)})
        i += 1
    order = [s["selected"] for s in steps]
    return {"format": "canyu-hearing-draw/1", "meeting_id": pool["meeting_id"], "pool_sha256": pool_sha,
            "panels_sha256": panels_sha, "sources": [sorted(s) for s in sources], "key_string": key,
            "panel_step": {"index": 1, "md5": md5, "remaining": len(panels), "position": index},
            "panel_index": index, "panel": panel, "reserve_steps": steps, "reserve_order": order,
            "alternates": order[: int(pool["alternates"])]}


class Report:
    def __init__(self):
        self.ok = True

    def info(self, text):
        print(text)

    def same(self, field, expected, found):
        if expected != found:
            self.ok = False
            print(f"MISMATCH {field}: expected {expected!r}, found {found!r}")
        return expected == found

    def fail(self, text):
        self.ok = False
        print(f"MISMATCH {text}")


def meets_quotas(members, categories, quotas):
    return all(q["min"] <= sum(1 for m in members if categories.get(m, {}).get(q["category"]) == q["value"])
               <= q["max"] for q in quotas)


def check_pool(r, pool, pool_bytes):
    numbers = [e["number"] for e in pool["entries"]]
    r.same("pool: numbers 1..n, each once", list(range(1, len(numbers) + 1)), sorted(numbers))
    r.same("pool: file in canonical form", canonical(pool), pool_bytes)


def check_panels(r, pool, panels_doc, pool_sha):
    """Every panel meets the quotas; the chances are what the panels give."""
    seats, quotas = int(pool["seats"]), pool["quotas"]
    categories = {e["number"]: e["categories"] for e in pool["entries"]}
    panels = panels_doc["panels"]
    r.same("panels: pool_sha256", pool_sha, panels_doc.get("pool_sha256"))
    r.same("panels: seats", seats, panels_doc.get("seats"))
    for i, p in enumerate(panels):
        if len(set(p)) != seats or len(p) != seats or any(n not in categories for n in p):
            r.fail(f"panel #{i}: {sorted(p)} is not {seats} distinct pool numbers")
        elif not meets_quotas(p, categories, quotas):
            r.fail(f"panel #{i}: {sorted(p)} breaks a quota")
    counts = {n: 0 for n in categories}
    for p in panels:
        for n in set(p):
            counts[n] = counts.get(n, 0) + 1
    m = len(panels)
    published = {c["number"]: c for c in panels_doc.get("chances", [])}
    r.same("chances: pool numbers listed", sorted(categories), sorted(published))
    for n in sorted(categories):
        c = published.get(n, {})
        r.same(f"chances: number {n} in_panels (recounted)", counts[n], c.get("in_panels"))
        if not isinstance(c.get("chance"), (int, float)) or abs(c["chance"] - counts[n] / m) > 1e-9:
            r.fail(f"chances: number {n} chance: expected {counts[n] / m!r} ({counts[n]}/{m}), "
                   f"found {c.get('chance')!r}")
    if "number_of_panels" in panels_doc:
        r.same("panels: number_of_panels", m, panels_doc["number_of_panels"])
    for field, value in (("lowest_chance", min(counts.values()) / m), ("highest_chance", max(counts.values()) / m)):
        if field in panels_doc and abs(panels_doc[field] - value) > 1e-9:
            r.fail(f"panels: {field}: expected {value!r}, found {panels_doc[field]!r}")
    check_optimum(r, panels_doc, counts, seats, m)
    r.info(f"panels: {m}, each of {seats}; chances recounted from the panels: lowest {min(counts.values())}/{m}, "
           f"highest {max(counts.values())}/{m}")


def check_optimum(r, panels_doc, counts, seats, m):
    """The solver's chances (before rounding) cannot be recomputed without a solver, but they must be a
    distribution's: each in [0, 1], summing to the number of seats (every panel holds that many), so the lowest of
    them (the stated optimum) is at most the uniform chance seats/n; and if the file claims the rounding bound, every
    true chance is at least that optimum minus 1/m."""
    maximin = {c["number"]: c.get("maximin_chance") for c in panels_doc.get("chances", [])}
    if not maximin or not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in maximin.values()):
        r.fail(f"chances: maximin_chance must be a number in [0, 1] for every pool number, found {maximin!r}")
        return
    n = len(maximin)
    total = sum(maximin.values())
    if abs(total - seats) > 1e-6:
        r.fail(f"chances: maximin_chance adds up to {total!r}, expected the number of seats {seats} "
               "(the chances of any distribution over panels add up to the seats)")
    optimum = min(maximin.values())
    if "optimum_chance" in panels_doc and abs(panels_doc["optimum_chance"] - optimum) > 1e-9:
        r.fail(f"panels: optimum_chance: expected {optimum!r} (the lowest maximin_chance), "
               f"found {panels_doc['optimum_chance']!r}")
    if optimum > seats / n + 1e-9:
        r.fail(f"panels: optimum {optimum!r} is above the uniform chance {seats}/{n} = {seats / n!r}, which no "
               "distribution can give everyone")
    claims_target = (panels_doc.get("settings") or {}).get("every_true_chance_within_1_over_m_of_its_maximin_chance")
    if claims_target:
        for n in sorted(maximin):
            if abs(counts.get(n, 0) / m - maximin[n]) > 1 / m + 1e-8:
                r.fail(f"panels: claims every true chance within 1/m of its maximin chance, but number {n} has "
                       f"{counts.get(n, 0)}/{m} against {maximin[n]!r}")
    claims_bound = (panels_doc.get("settings") or {}).get("lowest_at_least_optimum_minus_1_over_m")
    lowest = min(counts.values()) / m if counts and m else 0.0
    if claims_bound and lowest < optimum - 1 / m - 1e-12:
        r.fail(f"panels: claims every true chance >= optimum - 1/m, but the lowest is {lowest!r} "
               f"< {optimum!r} - 1/{m}")


def check_chain(r, record, archived):
    prev = GENESIS
    for i, e in enumerate(record.get("entries", []), start=1):
        r.same(f"record entry {i}: seq", i, e.get("seq"))
        r.same(f"record entry {i}: prev_sha256", prev, e.get("prev_sha256"))
        r.same(f"record entry {i} ({e.get('kind')}): sha256 of its content",
               sha256(canonical({k: v for k, v in e.items() if k != "sha256"})), e.get("sha256"))
        prev = e.get("sha256")
    hashes = {e.get("sha256") for e in record.get("entries", [])}
    for h in archived:
        if h not in hashes:
            r.fail(f"record: archived entry SHA-256 {h} is no longer in the record")
    r.info(f"record: {len(record.get('entries', []))} entries, last SHA-256 {prev}")


def last(record, kind):
    found = [e for e in record.get("entries", []) if e.get("kind") == kind]
    return found[-1] if found else None


def replay(r, record, drawn, pool):
    """Declines and move-ins, by pool number, with the rule."""
    categories = {e["number"]: e["categories"] for e in pool["entries"]}
    holders, waiting = list(drawn["panel"]), list(drawn["alternates"])
    for e in record["entries"]:
        d = e.get("data", {})
        if e.get("kind") == "declined":
            if d.get("number") not in holders:
                r.fail(f"record entry {e['seq']}: number {d.get('number')} declines but holds no seat")
                continue
            holders.remove(d["number"])
        elif e.get("kind") == "moved_in":
            if not waiting:
                r.fail(f"record entry {e['seq']}: number {d.get('number')} moves in but no alternate is waiting")
                continue
            fitting = next((n for n in waiting if meets_quotas(holders + [n], categories, pool["quotas"])), None)
            expected = (fitting, FIRST_FITTING) if fitting is not None else (waiting[0], NONE_FITS)
            r.same(f"record entry {e['seq']}: move-in (number, rule)", expected, (d.get("number"), d.get("rule")))
            r.same(f"record entry {e['seq']}: alternate_rank", drawn["alternates"].index(expected[0]) + 1,
                   d.get("alternate_rank"))
            if d.get("number") in waiting:
                waiting.remove(d["number"])
                holders.append(d["number"])
        elif e.get("kind") == "no_alternate" and waiting:
            r.fail(f"record entry {e['seq']}: 'no alternate' while {waiting} were waiting")
    r.info(f"seats now: {sorted(holders)}; alternates waiting: {waiting}")


def check_relaxations(r, record, pool):
    """Quota relaxations and cancelled rounds before the draw: a relaxation names the pool it replaces, only loosens
    (a lower minimum, a higher maximum, or no quota), gives a reason, and is followed by the reissued pool; the pool
    in force must carry the relaxed quotas. A cancelled round names the pool it sets aside and gives a reason."""
    entries = record.get("entries", [])
    pool_sha, relaxed = None, {}
    for i, e in enumerate(entries):
        d, kind, seq = e.get("data", {}), e.get("kind"), e.get("seq")
        if kind == "pool_frozen":
            pool_sha = d.get("pool_sha256")
        elif kind == "quotas_relaxed":
            r.same(f"record entry {seq}: quotas_relaxed.old_pool_sha256 (the pool frozen before)", pool_sha,
                   d.get("old_pool_sha256"))
            nxt = entries[i + 1] if i + 1 < len(entries) else {}
            r.same(f"record entry {seq}: the next entry reissues the pool (kind, pool_sha256)",
                   ("pool_frozen", d.get("pool_sha256")), (nxt.get("kind"), nxt.get("data", {}).get("pool_sha256")))
            for c in d.get("changes", []):
                what = f"record entry {seq}: relaxation of {c.get('category')}={c.get('value')}"
                removed = c.get("new_min") is None and c.get("new_max") is None
                if not removed and not (c.get("new_min", 0) <= c.get("old_min", 0)
                                        and c.get("new_max", 0) >= c.get("old_max", 0)):
                    r.fail(f"{what}: {c.get('old_min')}-{c.get('old_max')} -> {c.get('new_min')}-{c.get('new_max')}"
                           " is not a relaxation (a minimum went up or a maximum down)")
                if not str(c.get("reason") or "").strip():
                    r.fail(f"{what}: no reason given")
                relaxed[(c.get("category"), c.get("value"))] = (seq, None if removed else (c["new_min"], c["new_max"]))
        elif kind == "round_cancelled":
            r.same(f"record entry {seq}: round_cancelled.pool_sha256 (the pool set aside)", pool_sha,
                   d.get("pool_sha256"))
            if not str(d.get("reason") or "").strip():
                r.fail(f"record entry {seq}: round cancelled without a reason")
            pool_sha = None
        elif kind in ("panels_computed", "source_announced") and pool_sha is None:
            r.fail(f"record entry {seq}: {kind} with no pool in force (after a cancelled round, before a new freeze)")
    in_pool = {(q["category"], q["value"]): (q["min"], q["max"]) for q in pool.get("quotas", [])}
    for key, (seq, bounds) in sorted(relaxed.items(), key=lambda kv: kv[1][0]):
        r.same(f"quota {key[0]}={key[1]} in the pool file (record entry {seq} relaxed it to)", bounds,
               in_pool.get(key))
    if relaxed:
        r.info(f"quota relaxations: {len(relaxed)} quota(s), each a loosening with a reason")


def check_with_record(r, args, pool, pool_bytes, panels_doc, panels_bytes):
    with open(args.record, "rb") as f:
        record = json.load(f)
    check_chain(r, record, args.record_sha256 or [])
    pool_sha, panels_sha = sha256(pool_bytes), sha256(panels_bytes)
    frozen = last(record, "pool_frozen")
    computed = last(record, "panels_computed")
    announced = last(record, "source_announced")
    if frozen is None:
        r.fail("record: no 'pool_frozen' entry")
        return None
    r.same("pool file SHA-256 (record: pool_frozen.pool_sha256)", frozen["data"]["pool_sha256"], pool_sha)
    r.same("pool size (record: pool_frozen.size)", frozen["data"]["size"], len(pool["entries"]))
    r.same("meeting (record)", record.get("meeting_id"), pool.get("meeting_id"))
    check_pool(r, pool, pool_bytes)
    check_relaxations(r, record, pool)
    if computed is None:
        r.fail("record: no 'panels_computed' entry")
        return None
    r.same("panels file SHA-256 (record: panels_computed.panels_sha256)", computed["data"]["panels_sha256"],
           panels_sha)
    r.same("number of panels (record: panels_computed.panels)", computed["data"].get("panels"),
           len(panels_doc["panels"]))
    check_panels(r, pool, panels_doc, pool_sha)
    if announced is None:
        r.info("no random source announced yet: the panels are the ones computed")
        return None
    a = announced["data"]
    r.same("panels file SHA-256 (record: source_announced.panels_sha256, the commitment)", a["panels_sha256"],
           panels_sha)
    r.same("pool file SHA-256 (record: source_announced.pool_sha256, the commitment)", a["pool_sha256"], pool_sha)
    if not announced["at"] < a["draw_not_before"]:
        r.fail(f"record: source announced at {announced['at']}, not before its numbers ({a['draw_not_before']})")
    if computed["at"] > announced["at"]:
        r.fail(f"record: panels computed at {computed['at']}, after the source was announced ({announced['at']})")
    numbers, drawn = last(record, "numbers_entered"), last(record, "drawn")
    if drawn is None or numbers is None:
        r.info("not drawn yet: the panels match the announced commitment" if r.ok else "not drawn yet")
        return None
    if numbers["at"] < a["draw_not_before"]:
        r.fail(f"record: numbers entered at {numbers['at']}, before the announced {a['draw_not_before']}")
    r.same("number of sources (record: announced vs entered)", len(a["sources"]), len(numbers["data"]["sources"]))
    return record, numbers["data"]["sources"], drawn


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pool")
    parser.add_argument("panels")
    parser.add_argument("sources", nargs="*", help="one argument per public random source (or, with --record, the "
                                                   "draw file)")
    parser.add_argument("--draw", help="the published draw file, to compare with")
    parser.add_argument("--record", help="the meeting's public selection record")
    parser.add_argument("--record-sha256", action="append", help="an entry hash you archived earlier")
    args = parser.parse_args(argv)
    if args.record and len(args.sources) == 1 and args.sources[0].endswith(".json"):
        args.draw, args.sources = args.sources[0], []
    with open(args.pool, "rb") as f:
        pool_bytes = f.read()
    with open(args.panels, "rb") as f:
        panels_bytes = f.read()
    pool, panels_doc = json.loads(pool_bytes), json.loads(panels_bytes)
    draw_bytes = draw = None
    if args.draw:
        with open(args.draw, "rb") as f:
            draw_bytes = f.read()
        draw = json.loads(draw_bytes)
    r = Report()
    pool_sha, panels_sha = sha256(pool_bytes), sha256(panels_bytes)
    print(f"pool file SHA-256:   {pool_sha}")
    print(f"panels file SHA-256: {panels_sha}")
    drawn = None
    if args.record:
        found = check_with_record(r, args, pool, pool_bytes, panels_doc, panels_bytes)
        if found is None:
            if draw is not None:
                r.fail("draw file given, but the record has no draw")
            print("OK" if r.ok else "FAILED")
            return 0 if r.ok else 1
        record, sources, drawn = found
        if args.sources:
            r.same("random numbers (record: numbers_entered)", sources, [parse_source(s) for s in args.sources])
    else:
        if canonical(pool) != pool_bytes or canonical(panels_doc) != panels_bytes:
            print("note: a file is not in canonical form (it was changed after publication?)")
        check_panels(r, pool, panels_doc, pool_sha)
        if args.sources:
            sources = [parse_source(s) for s in args.sources]
        elif draw:
            sources = draw["sources"]
        else:
            parser.error("give the random numbers, or --draw, or --record")
    result = compute_draw(pool, panels_doc, pool_sha, panels_sha, sources)
    print(f"key string: {result['key_string']}")
    print(f"step 1: MD5 {result['panel_step']['md5']} mod {len(panels_doc['panels'])} = {result['panel_index']} "
          f"-> panel #{result['panel_index']}: {result['panel']}")
    for s in result["reserve_steps"]:
        print(f"step {s['index']}: MD5 {s['md5']} mod {s['remaining']} = {s['position']} -> {s['selected']}")
    print(f"panel: {result['panel']}")
    print(f"alternates in order: {result['alternates']}")
    if drawn is not None:
        d = drawn["data"]
        for field in ("key_string", "panel_index", "panel", "alternates", "pool_sha256", "panels_sha256"):
            r.same(f"draw {field} (record: drawn.{field})", result[field], d.get(field))
        replay(r, record, result, pool)
    if draw is not None:
        if drawn is not None:
            r.same("draw file SHA-256 (record: drawn.draw_sha256)", drawn["data"].get("draw_sha256"),
                   sha256(draw_bytes))
        for field in sorted(set(result) | set(draw)):
            r.same(f"draw file: {field}", result.get(field), draw.get(field))
        print("published draw file agrees" if r.ok else "MISMATCH with the published draw file")
    print("OK" if r.ok else "FAILED")
    return 0 if r.ok else 1


if __name__ == "__main__":
    sys.exit(main())
