#!/usr/bin/env python3
"""Recompute a hearing's observer selection from its published files. Standard library only.

    python3 verify_hearing_draw.py pool.json panels.json "9319" "2 5 12 8 10" "9 18 26 34 41 45"
    python3 verify_hearing_draw.py pool.json panels.json --draw draw.json      # take the numbers from draw.json

It prints the SHA-256 of both files (compare them with the ones published before the draw), the RFC 3797 key
string, every step (MD5, entries remaining, position), the panel and the alternates. With --draw it also checks
that the published draw file says the same, and exits with status 1 if anything differs.

Method (RFC 3797): key = for each source, its numbers sorted ascending each followed by ".", then "/".
Step i (0, 1, 2...): MD5 of i as 2 bytes big-endian + key + the same 2 bytes, read as an unsigned 128-bit
big-endian integer, modulo the number of entries remaining; that 0-based position is selected and removed.
Step 0 picks one of the published panels; steps 1, 2... order the rest of the pool; the first ones are the
alternates.
"""
import argparse
import hashlib
import json
import re
import sys


def canonical(obj):
    return (json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pool")
    parser.add_argument("panels")
    parser.add_argument("sources", nargs="*", help="one argument per public random source")
    parser.add_argument("--draw", help="the published draw file, to compare with")
    args = parser.parse_args(argv)
    with open(args.pool, "rb") as f:
        pool_bytes = f.read()
    with open(args.panels, "rb") as f:
        panels_bytes = f.read()
    pool, panels_doc = json.loads(pool_bytes), json.loads(panels_bytes)
    draw = None
    if args.draw:
        with open(args.draw, "rb") as f:
            draw = json.load(f)
    if args.sources:
        sources = [parse_source(s) for s in args.sources]
    elif draw:
        sources = draw["sources"]
    else:
        parser.error("give the random numbers, or --draw")
    ok = True
    pool_sha = hashlib.sha256(pool_bytes).hexdigest()
    panels_sha = hashlib.sha256(panels_bytes).hexdigest()
    print(f"pool file SHA-256:   {pool_sha}")
    print(f"panels file SHA-256: {panels_sha}")
    if canonical(pool) != pool_bytes or canonical(panels_doc) != panels_bytes:
        print("note: a file is not in canonical form (it was changed after publication?)")
    if panels_doc.get("pool_sha256") not in (None, pool_sha):
        print("MISMATCH: the panels file was computed for a different pool file")
        ok = False
    quotas, seats = pool["quotas"], pool["seats"]
    by_number = {e["number"]: e for e in pool["entries"]}
    panels = panels_doc["panels"]
    bad = [i for i, p in enumerate(panels) if len(set(p)) != seats or any(n not in by_number for n in p) or not all(
        q["min"] <= sum(1 for n in p if by_number[n]["categories"].get(q["category"]) == q["value"]) <= q["max"]
        for q in quotas)]
    print(f"panels: {len(panels)}, each of {seats}; panels breaking a quota: {len(bad)}")
    ok = ok and not bad
    key = key_string(sources)
    print(f"key string: {key}")
    md5, index = step(key, 0, len(panels))
    panel = sorted(panels[index])
    print(f"step 1: MD5 {md5} mod {len(panels)} = {index} -> panel #{index}: {panel}")
    rest = [n for n in sorted(by_number) if n not in set(panel)]
    order = []
    i = 1
    while rest:
        md5, pos = step(key, i, len(rest))
        chosen = rest.pop(pos)
        order.append(chosen)
        print(f"step {i + 1}: MD5 {md5} mod {len(rest) + 1} = {pos} -> {chosen}")
        i += 1
    alternates = order[: int(pool["alternates"])]
    print(f"panel: {panel}")
    print(f"alternates in order: {alternates}")
    if draw:
        same = (draw["key_string"] == key and draw["panel"] == panel and draw["alternates"] == alternates
                and draw["reserve_order"] == order and draw.get("pool_sha256") == pool_sha
                and draw.get("panels_sha256") == panels_sha)
        print("published draw file agrees" if same else "MISMATCH with the published draw file")
        ok = ok and same
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
