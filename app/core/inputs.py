"""Malformed input stopped at the edge, once (issue 10), so that no view, service or database ever sees it.

- ``init_app`` registers ``BoundedInt`` as the app's ``int`` converter: ``<int:id>`` matches 1..2^31-1 only, so a
  huge, zero or negative id answers 404 before any view runs (PostgreSQL's ``integer`` and SQLite's 64-bit
  integer would fail on a bigger one).
- ``check_request`` (before every request) answers 400 to a query argument holding a control character (NUL, ESC,
  CR, LF...: none has a place in a URL) and 404 to a path holding one.
- ``arg_int``, ``arg_date``, ``arg_text``: query arguments read strictly (400 on a malformed one: the caller asked
  for something that cannot exist), ``form_int``/``form_ids`` the few values views read from ``request.form``.
- Form fields are checked by ``app.core.forms.Form``, the base of every form: a message next to the field.

A 400 or 404 answers in the page's language, or as JSON under /api/ (``app.errors``, ``app.api.core``).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import TypeVar

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

T = TypeVar("T")

MAX_INT = 2**31 - 1  # PostgreSQL integer, the type of every id
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2099, 12, 31)  # dates the app can compute with and store
DATE_PATTERN = r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"  # the same range, for the OpenAPI schema
# C0 controls but tab, CR and LF; DEL; C1 controls; the two noncharacters XML refuses.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\ufffe\uffff]")  # also CR and LF (single-line text)
_DIGITS = re.compile(r"[0-9]{1,10}")


def has_control(text: str, multiline: bool = True) -> bool:
    """Does ``text`` hold a control character? Tab always passes; CR and LF pass in ``multiline`` text."""
    return bool((_CONTROL if multiline else _CONTROL_OR_BREAK).search(text))


def strip_controls(text: str, multiline: bool = True) -> str:
    """``text`` without control characters (for values where dropping them is harmless: feeds, file names)."""
    return (_CONTROL if multiline else _CONTROL_OR_BREAK).sub("", text)


def parse_id(raw: str | None) -> int | None:
    """The integer 1..2^31-1 that ``raw`` writes in plain digits, else None."""
    if raw is None or not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_INT else None


def parse_date(raw: str | None) -> date | None:
    """The date ``raw`` writes as YYYY-MM-DD, within MIN_DATE..MAX_DATE, else None."""
    if not raw or len(raw) != 10:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        return None
    return value if MIN_DATE <= value <= MAX_DATE else None


# ------------------------------------------------------------------------------------------------ query arguments

def arg_int(name: str, default: int | None = None, lenient: bool = False) -> int | None:
    """Query argument ``name`` as an id-like integer 1..2^31-1; ``default`` when missing or empty; 400 otherwise
    (``lenient``: ``default`` too, for a catalogue's filters, where a stale link should still show the list)."""
    return _arg(name, parse_id, default, lenient)


def arg_date(name: str, default: date | None = None, lenient: bool = False) -> date | None:
    """Query argument ``name`` as a date in the sane range; ``default`` when missing or empty; 400 otherwise
    (``lenient``: ``default`` too)."""
    return _arg(name, parse_date, default, lenient)


def _arg(name: str, parse: Callable[[str], T | None], default: T | None, lenient: bool) -> T | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    value = parse(raw)
    if value is None:
        if lenient:
            return default
        abort(400)
    return value


def arg_text(name: str, default: str = "", max_length: int = 200) -> str:
    """Query argument ``name`` as text, stripped and cut to ``max_length`` (control characters never get here)."""
    return (request.args.get(name) or default).strip()[:max_length]


# ------------------------------------------------------------------------------------------------ form values

def form_int(name: str) -> int | None:
    """A value a view reads from ``request.form`` itself, as an id 1..2^31-1; None when missing or malformed."""
    return parse_id(request.form.get(name))


def form_ids(name: str) -> list[int]:
    """Every well-formed id among ``request.form.getlist(name)``; the others are ignored."""
    return [v for v in (parse_id(raw) for raw in request.form.getlist(name)) if v is not None]


def form_text(name: str, max_length: int, multiline: bool = True) -> str:
    """A text a view reads from ``request.form`` itself: stripped, without control characters, cut to length."""
    return strip_controls(request.form.get(name) or "", multiline).strip()[:max_length]


# ------------------------------------------------------------------------------------------------ the edge

class BoundedInt(IntegerConverter):
    """``<int:...>`` for ids: plain digits within 1..2^31-1 (``<int(min=0):...>`` where 0 has a meaning)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = 1, max: int | None = MAX_INT,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def check_request() -> None:
    """Before every request: no control character in the path (404) or in any query argument (400)."""
    if has_control(request.path, multiline=False):
        abort(404)
    for name, values in request.args.lists():
        if has_control(name, multiline=False) or any(has_control(v, multiline=False) for v in values):
            abort(400)


def register_converters(app: Flask) -> None:
    """Called before the blueprints are registered: their rules bind the converter by name when added."""
    app.url_map.converters["int"] = BoundedInt


def init_app(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, check_request)
