"""Who may do what. Every view that is not public goes through these helpers.

Staff act for one department; the oversight admin sees every department. A department's non-public data
(drafts, comments waiting for review, applicants, participants) is visible to its own staff and the admin only.
"""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable, TypeVar

import sqlalchemy as sa
from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.models import Role
from app.extensions import db

T = TypeVar("T")


def is_staff_or_admin(user) -> bool:
    return bool(user and user.is_authenticated and user.role in (Role.STAFF, Role.ADMIN))


def can_manage_department(user, department_id: int | None) -> bool:
    """True when ``user`` may see and change the non-public data of ``department_id``."""
    if not (user and user.is_authenticated):
        return False
    if user.role is Role.ADMIN:
        return True
    return user.role is Role.STAFF and department_id is not None and user.department_id == department_id


def ensure_can_manage(obj_or_department_id: Any) -> None:
    """Abort with 404 unless the current user manages the object's department.

    404 rather than 403: staff of another department must not learn that a non-public object exists.
    """
    department_id = getattr(obj_or_department_id, "department_id", obj_or_department_id)
    if not can_manage_department(current_user, department_id):
        abort(404)


def managed_or_404(model: type[T], id: int) -> T:
    """The row ``id`` of ``model`` (which has a ``department_id``) when the current user manages it; else 404."""
    row = db.get_or_404(model, id)
    ensure_can_manage(row)
    return row


def owned_or_404(model: type[T], id: int, **owner: Any) -> T:
    """The row ``id`` of ``model`` when its columns named in ``owner`` hold the values given (its consultation, its
    meeting, its user); else 404."""
    row = db.get_or_404(model, id)
    if any(getattr(row, column) != value for column, value in owner.items()):
        abort(404)
    return row


def shown_or_404(row: T | None, is_public: Callable[[T], bool]) -> T:
    """``row`` when it exists and is public (``is_public(row)``) or the current user manages its department; else 404
    (a draft's existence is not given away). For a row read in a view's own way (a detached copy, a narrow load)."""
    if row is None or not (is_public(row) or can_manage_department(current_user, row.department_id)):
        abort(404)
    return row


def visible_or_404(model: type[T], id: int, is_public: Callable[[T], bool]) -> T:
    """The row ``id`` of ``model`` when it is public or the current user manages its department (``shown_or_404``)."""
    return shown_or_404(db.session.get(model, id), is_public)


def managed_department_ids(user) -> list[int] | None:
    """The departments ``user`` manages: None means all (the admin)."""
    if user.role is Role.ADMIN:
        return None
    if user.role is Role.STAFF and user.department_id is not None:
        return [user.department_id]
    return []


def scope_to_managed(stmt, department_column, user=None) -> sa.Select:
    """Restrict a select() to the rows of the departments the user manages."""
    ids = managed_department_ids(user or current_user)
    if ids is None:
        return stmt
    return stmt.where(department_column.in_(ids))


def _login_redirect():
    flash(_("请先登录。"), "info")
    # full_path always ends in "?" (even without a query string): send the plain path back when there is none. A
    # very long address (a server in front refuses those anyway) is not carried along either: its path is enough.
    here = request.full_path if request.query_string and len(request.full_path) <= 2000 else request.path
    return redirect(url_for("accounts.login", next=here))


def login_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return _login_redirect()
        return view(*args, **kwargs)

    return wrapped


def verified_required(view: Callable) -> Callable:
    """Signed in with a verified e-mail address (needed to comment, apply, sign up and vote)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return _login_redirect()
        if not current_user.is_verified:
            flash(_("请先验证您的电子邮箱地址，然后再试。"), "warning")
            return redirect(url_for("accounts.unverified"))
        return view(*args, **kwargs)

    return wrapped


def staff_required(view: Callable) -> Callable:
    """Department staff or the oversight admin."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return _login_redirect()
        if not is_staff_or_admin(current_user):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def admin_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return _login_redirect()
        if current_user.role is not Role.ADMIN:
            abort(403)
        return view(*args, **kwargs)

    return wrapped
