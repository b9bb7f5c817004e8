"""RFC 3797 (Publicly Verifiable Nominations Committee Random Selection), as pure functions.

Nothing here touches the database or Flask, so the same code runs in the app, in ``flask hearings verify`` and
(copied verbatim) in the standalone ``scripts/verify_hearing_draw.py``.

Key string: for each source (a list of numbers), its numbers sorted ascending, each followed by ".", then "/".
Step i (0-based): MD5 of (i as 2 bytes big-endian) + key (ASCII) + (i as 2 bytes big-endian), read as a 128-bit
big-endian unsigned integer, modulo the number of entries remaining; that 0-based position in the remaining list
is selected and removed.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

_NUMBER = re.compile(r"^\d+$")


class SourceFormatError(ValueError):
    """A random source is not a list of non-negative whole numbers."""


def parse_source(text: str) -> list[int]:
    """Parse one source as typed by a person: whole numbers separated by spaces, commas or full-width commas."""
    parts = [p for p in re.split(r"[\s,，、;；]+", (text or "").strip()) if p]
    if not parts:
        raise SourceFormatError("empty")
    numbers = []
    for part in parts:
        if not _NUMBER.match(part):
            raise SourceFormatError(part)
        numbers.append(int(part))
    return numbers


def key_string(sources: Iterable[Sequence[int]]) -> str:
    """The RFC 3797 key string of the sources, in the order given."""
    out = []
    for source in sources:
        nums = sorted(int(n) for n in source)
        if not nums or any(n < 0 for n in nums):
            raise SourceFormatError(repr(source))
        out.append("".join(f"{n}." for n in nums) + "/")
    return "".join(out)


def step_digest(key: str, i: int) -> bytes:
    """MD5 of the 2-byte big-endian i, the key and the same 2 bytes again (i is 0-based)."""
    if not 0 <= i < 65536:
        raise ValueError("step index out of range")
    prefix = i.to_bytes(2, "big")
    return hashlib.md5(prefix + key.encode("ascii") + prefix).digest()


@dataclass(frozen=True)
class Step:
    index: int  # 1-based, as in the RFC's table
    md5: str  # upper-case hex
    value: int  # the digest as a 128-bit unsigned integer
    remaining: int
    position: int  # 0-based position in the remaining list
    selected: object  # the selected item

    def as_dict(self) -> dict:
        return {"index": self.index, "md5": self.md5, "remaining": self.remaining,
                "position": self.position, "selected": self.selected}


def select(key: str, items: Sequence, count: int | None = None, start: int = 0) -> list[Step]:
    """Select ``count`` items (all by default) from ``items`` in RFC 3797 order, using steps ``start``, ``start+1``...

    Returns the steps; ``[s.selected for s in steps]`` is the order of selection.
    """
    remaining = list(items)
    count = len(remaining) if count is None else min(count, len(remaining))
    steps = []
    for n in range(count):
        i = start + n
        digest = step_digest(key, i)
        value = int.from_bytes(digest, "big")
        position = value % len(remaining)
        chosen = remaining.pop(position)
        steps.append(Step(index=i + 1, md5=digest.hex().upper(), value=value, remaining=len(remaining) + 1,
                          position=position, selected=chosen))
    return steps


def pick_index(key: str, n: int, i: int = 0) -> Step:
    """One step of the sequence over ``range(n)``: used to pick a panel out of ``n`` published panels."""
    return select(key, range(n), 1, start=i)[0]
