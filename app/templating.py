"""Jinja filters and globals shared by every page."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, request

from app.accounts.models import AGE_BANDS, DISTRICTS, GENDERS
from app.core.privacy import placeholders_translated
from app.core.timeutil import format_local
from app.i18n import current_language


def _label(table: dict[str, tuple[str, str]], code: str | None) -> str:
    if not code or code not in table:
        return ""
    zh, en = table[code]
    return en if current_language() == "en" else zh


def url_with(**changes) -> str:
    """The current address with some query arguments changed (None removes one)."""
    args = request.args.to_dict(flat=True)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    query = urlencode(args)
    return request.path + (f"?{query}" if query else "")


def colon(text) -> str:
    """A label followed by a colon: full-width in Chinese, ": " in English."""
    return f"{text}：" if current_language() == "zh" else f"{text}: "


def parenthesized(text) -> str:
    """Text in brackets: full-width in Chinese, " (...)" in English."""
    return f"（{text}）" if current_language() == "zh" else f" ({text})"


# Punctuation between pieces a template puts together: full-width in Chinese, ASCII with a space in English.
PUNCTUATION = {"colon": ("：", ": "), "comma": ("，", ", "), "semicolon": ("；", "; "), "list": ("、", ", ")}


def punct(name: str) -> str:
    """The separator ``name`` (colon, comma, semicolon, list) in the page's language."""
    zh, en = PUNCTUATION[name]
    return zh if current_language() == "zh" else en


def init_app(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = format_local
    app.jinja_env.filters["colon"] = colon
    app.jinja_env.filters["masked"] = placeholders_translated  # public text's masking placeholders, translated
    app.jinja_env.filters["paren"] = parenthesized
    app.jinja_env.filters["localdate"] = lambda dt: format_local(dt, "%Y-%m-%d")
    app.jinja_env.filters["district"] = lambda code: _label(DISTRICTS, code)
    app.jinja_env.filters["age_band"] = lambda code: _label(AGE_BANDS, code)
    app.jinja_env.filters["gender"] = lambda code: _label(GENDERS, code)
    app.jinja_env.filters["localized"] = lambda obj: obj.display_name(current_language()) if obj else ""
    app.jinja_env.globals["url_with"] = url_with
    app.jinja_env.globals["punct"] = punct
    app.jinja_env.globals["site_name"] = app.config["SITE_NAME"]
