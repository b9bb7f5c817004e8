"""Checks on what people type into account forms."""
from __future__ import annotations

import re

# GB 32100-2015: 统一社会信用代码 — 18 characters from this alphabet (no I, O, S, V, Z); the last is a check character.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def normalise_uscc(value: str) -> str:
    return (value or "").strip().upper().replace(" ", "")


def uscc_problem(value: str) -> str | None:
    """None when the code is valid; otherwise which rule it breaks: 'length', 'characters' or 'check'."""
    code = normalise_uscc(value)
    if len(code) != 18:
        return "length"
    if not _USCC_SHAPE.match(code):
        return "characters"
    if uscc_check_char(code[:17]) != code[17]:
        return "check"
    return None


COMMON_PASSWORDS = {
    "password", "password1", "password123", "1234567890", "12345678910", "qwertyuiop", "abcdefghij",
    "iloveyou123", "woaini1314", "a123456789", "qwerty123456", "1qaz2wsx3edc", "aa123456789",
}


def password_problem(password: str, email: str | None = None) -> str | None:
    """None when the password is strong enough; otherwise a code for the rule it breaks."""
    if len(password) < 10:
        return "short"
    if len(password) > 200:
        return "long"
    if password.lower() in COMMON_PASSWORDS:
        return "common"
    if email and password.lower() == email.lower():
        return "email"
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        return "mix"
    return None
