"""Domain errors and the two ways a view answers them.

Every rule of every module that refuses an action raises ``DomainError`` (or a subclass named after its module):
``message`` is readable by the user (a translated or lazily translated string) and ``field`` names the form field
it belongs next to (None: the whole form). Views answer it in one of two ways:

- ``show_error(form, error)``: the message next to its field (or flashed when the form has no such field), for a
  page that shows the form again with status 422 (``form_status``);
- ``commit_or_explain(action, success)``: a single-button action: run it and commit, or roll back and say why.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import flash

from app.extensions import db

T = TypeVar("T")

INVALID = 422  # the status of a page that shows a form again with messages


class DomainError(Exception):
    """A rule refused an action; ``str(error)`` is the message in the current language."""

    def __init__(self, message: Any, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


def show_error(form: Any, error: DomainError) -> None:
    """Put the error's message next to its field on ``form``; without such a field, flash it for the page."""
    field = getattr(form, error.field, None) if error.field and form is not None else None
    if field is not None and hasattr(field, "errors"):
        field.errors = list(field.errors) + [str(error)]
    else:
        flash(str(error), "error")


def form_status(form: Any) -> int:
    """200 for a form shown for the first time, 422 when it is shown again with messages."""
    return INVALID if form is not None and form.errors else 200


def submit(form: Any, action: Callable[[], T], success: str | None = None) -> T | None:
    """A form submission: when the form validates, run ``action`` and commit (flashing ``success``) and return its
    result; when a rule refuses it, roll back and show the message next to its field. Returns None when the form
    was not submitted, was invalid or was refused (``form.errors`` or a flashed message then says why)."""
    if not form.validate_on_submit():
        return None
    try:
        result = action()
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        show_error(form, error)
        return None
    if success:
        flash(success, "success")
    return result if result is not None else True  # type: ignore[return-value]


def commit_or_explain(action: Callable[[], T], success: str | None = None) -> T | None:
    """A single-button action: run ``action``, commit and flash ``success``; when a rule refuses it, roll back and
    flash the reason. Returns the action's result (True when it returned nothing), or None when refused."""
    try:
        result = action()
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
        return None
    if success:
        flash(success, "success")
    return result if result is not None else True  # type: ignore[return-value]
