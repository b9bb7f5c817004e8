"""Check characters of tracking numbers (comments ZX-…, messages LY-…): ISO 7064 MOD 11-2 (0-9 or X, as in the
Chinese resident ID number). It catches every single wrong digit and every swap of two adjacent digits, so a
mistyped number is refused instead of showing someone else's record."""
from __future__ import annotations


def mod11_2_check(digits: str) -> str:
    total = 0
    for ch in digits:
        total = (total + int(ch)) * 2 % 11
    check = (12 - total) % 11
    return "X" if check == 10 else str(check)
