"""Masking personal information inside text a person wrote, before publication (个人信息保护法 art. 25, 28): shared by
comments and messages."""
from __future__ import annotations

import re

from flask_babel import gettext as _

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_ID_RE = re.compile(r"(?<![0-9])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9])")
_MOBILE_RE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![0-9])")
_LANDLINE_RE = re.compile(r"(?<![0-9])0\d{2,3}-?\d{7,8}(?![0-9])")


# The placeholders are stored in the public text in Chinese (the text is the same for every reader and for the API);
# pages show them in the reader's language through ``placeholders_translated`` (the ``masked`` filter).
EMAIL_PLACEHOLDER, ID_PLACEHOLDER, PHONE_PLACEHOLDER = "[邮箱已隐去]", "[身份证号已隐去]", "[电话已隐去]"


def mask_personal_information(text: str) -> str:
    """Replace e-mail addresses, ID numbers, mobile and landline numbers with placeholders."""
    text = _EMAIL_RE.sub(EMAIL_PLACEHOLDER, text)
    text = _ID_RE.sub(ID_PLACEHOLDER, text)
    text = _MOBILE_RE.sub(PHONE_PLACEHOLDER, text)
    text = _LANDLINE_RE.sub(PHONE_PLACEHOLDER, text)
    return text


def placeholders_translated(text: str | None) -> str:
    """Public text with its masking placeholders in the page's language (the rest is as the person wrote it)."""
    if not text or "已隐去]" not in text:
        return text or ""
    shown = {EMAIL_PLACEHOLDER: _("[邮箱已隐去]"), ID_PLACEHOLDER: _("[身份证号已隐去]"),
             PHONE_PLACEHOLDER: _("[电话已隐去]")}
    for stored, translated in shown.items():
        text = text.replace(stored, translated)
    return text


