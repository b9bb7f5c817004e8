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

from flask import flash, request

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


def show_error(form: Any, error: DomainError, default: str | None = None) -> None:
    """Put the error's message next to its field on ``form`` (or the ``default`` field when the error names none);
    without such a field, flash it for the page."""
    name = error.field or default
    field = getattr(form, name, None) if name and form is not None else None
    if field is not None and hasattr(field, "errors"):
        field.errors = list(field.errors) + [str(error)]
    else:
        flash(str(error), "error")


def form_status(form: Any = None) -> int:
    """The status of a page showing a form: 200 the first time, 422 when a submission comes back to it (the form
    has messages, or a rule refused the submission and said why)."""
    if form is not None and form.errors:
        return INVALID
    return INVALID if request.method == "POST" else 200


def commit() -> None:
    """Commit a view's work keeping the loaded values: what the answer needs afterwards (the new object's id for
    the redirect, its tracking number, the user's name in the page) is read without a query, so a database that
    goes away just after the commit cannot turn a stored change into an error page. (Read anything else the
    answer needs before committing.)"""
    session = db.session()
    keep = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


def submit(form: Any, action: Callable[[], T], success: str | None = None, field: str | None = None) -> T | None:
    """A form submission: when the form validates, run ``action`` and commit (flashing ``success``) and return its
    result; when a rule refuses it, roll back and show the message next to its field (``field`` when the error
    names none). Returns None when the form was not submitted, was invalid or was refused (``form.errors`` or a
    flashed message then says why)."""
    if not form.validate_on_submit():
        return None
    try:
        result = action()
        commit()
    except DomainError as error:
        db.session.rollback()
        show_error(form, error, field)
        return None
    if success:
        flash(success, "success")
    return result if result is not None else True  # type: ignore[return-value]


def commit_or_explain(action: Callable[[], T], success: str | None = None) -> T | None:
    """A single-button action: run ``action``, commit and flash ``success``; when a rule refuses it, roll back and
    flash the reason. Returns the action's result (True when it returned nothing), or None when refused."""
    try:
        result = action()
        commit()
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
        return None
    if success:
        flash(success, "success")
    return result if result is not None else True  # type: ignore[return-value]
