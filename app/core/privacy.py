"""Masking personal information inside text a person wrote, before publication (个人信息保护法 art. 25, 28): shared by
comments and messages."""
from __future__ import annotations

import re

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_ID_RE = re.compile(r"(?<![0-9])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9])")
_MOBILE_RE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![0-9])")
_LANDLINE_RE = re.compile(r"(?<![0-9])0\d{2,3}-?\d{7,8}(?![0-9])")


def mask_personal_information(text: str) -> str:
    """Replace e-mail addresses, ID numbers, mobile and landline numbers with placeholders."""
    text = _EMAIL_RE.sub("[邮箱已隐去]", text)
    text = _ID_RE.sub("[身份证号已隐去]", text)
    text = _MOBILE_RE.sub("[电话已隐去]", text)
    text = _LANDLINE_RE.sub("[电话已隐去]", text)
    return text


