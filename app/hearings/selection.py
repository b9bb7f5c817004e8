"""The published files (pool, panels, draw) and the draw computed from them. Pure functions, no database.

``scripts/verify_hearing_draw.py`` repeats this logic with the standard library only, so that anyone can check a
draw without this code base; tests make sure the two agree.
"""
from __future__ import annotations

import hashlib
import json

from app.hearings import rfc3797

POOL_FORMAT = "canyu-hearing-pool/1"
PANELS_FORMAT = "canyu-hearing-panels/1"
DRAW_FORMAT = "canyu-hearing-draw/1"


def canonical(obj) -> bytes:
    """Deterministic serialisation: sorted keys, no spaces, UTF-8, newline at the end."""
    return (json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")


def sha256(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def chance_summary(panels_doc: dict) -> dict:
    """The headline chances, counted from the published panels themselves (never from a stored figure): the true
    chance of a person in the draw is (panels holding them) / (number of panels)."""
    panels = panels_doc["panels"]
    m = len(panels)
    counts = {c["number"]: 0 for c in panels_doc.get("chances", [])}
    for panel in panels:
        for n in set(panel):
            counts[n] = counts.get(n, 0) + 1
    maximin = [c["maximin_chance"] for c in panels_doc.get("chances", []) if c.get("maximin_chance") is not None]
    return {"number_of_panels": m, "counts": counts,
            "lowest_chance": min(counts.values()) / m if counts and m else None,
            "highest_chance": max(counts.values()) / m if counts and m else None,
            "optimum_lowest_chance": min(maximin) if maximin else None}


def compute_draw(pool_doc: dict, panels_doc: dict, sources: list[list[int]]) -> dict:
    """Everything the draw derives: key string, the panel index (step 1 modulo the number of panels), the panel,
    and the order of the rest of the pool (steps 2, 3, ...) whose first ``alternates`` are the alternates."""
    panels = panels_doc["panels"]
    key = rfc3797.key_string(sources)
    first = rfc3797.pick_index(key, len(panels))
    panel = sorted(panels[first.position])
    numbers = sorted(e["number"] for e in pool_doc["entries"])
    rest = [n for n in numbers if n not in set(panel)]
    steps = rfc3797.select(key, rest, len(rest), start=1)
    order = [s.selected for s in steps]
    n_alt = int(pool_doc["alternates"])
    return {
        "format": DRAW_FORMAT,
        "meeting_id": pool_doc["meeting_id"],
        "pool_sha256": sha256(canonical(pool_doc)),
        "panels_sha256": sha256(canonical(panels_doc)),
        "sources": [sorted(s) for s in sources],
        "key_string": key,
        "panel_step": {"index": first.index, "md5": first.md5, "remaining": first.remaining,
                       "position": first.position},
        "panel_index": first.position,
        "panel": panel,
        "reserve_steps": [s.as_dict() for s in steps],
        "reserve_order": order,
        "alternates": order[:n_alt],
    }
