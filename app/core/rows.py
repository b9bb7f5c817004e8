"""Rows written and read without the ORM's unit of work, for the busiest paths (a sign-up, a comment).

``insert`` writes one row with a single Core ``INSERT ... RETURNING id`` in the caller's transaction and gives back a
detached copy of it: an instance of the model holding the values written (column defaults applied, as the ORM would),
which is never added to the session (``insert_attached`` adds it). Reading its attributes needs no query; changing
them changes nothing in the database. Flushing a new ORM object instead costs the unit of work's sort and bookkeeping
at the commit, under whatever lock the transaction holds.
"""
from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import make_transient_to_detached

from app.extensions import db

M = TypeVar("M")

_INSERTS: dict[type, sa.Insert] = {}


def copy(model: type[M], values: dict[str, Any]) -> M:
    """A detached copy of a row: a transient ``model`` object holding ``values`` as if loaded (no change events)."""
    obj = model.__mapper__.class_manager.new_instance()
    obj.__dict__.update(values)
    return obj


def with_defaults(table: sa.Table, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the Python-side column defaults filled in (as the INSERT would apply them), so the copy
    shows what the row holds."""
    out = dict(values)
    for column in table.columns:
        if column.key in out or column.default is None or column.primary_key:
            continue
        default = column.default
        if default.is_scalar:
            out[column.key] = default.arg
        elif default.is_callable:
            out[column.key] = default.arg(None)
    return out


def _insert(model: type, values: dict[str, Any]) -> dict[str, Any]:
    table = model.__table__
    statement = _INSERTS.get(model)
    if statement is None:
        statement = _INSERTS[model] = sa.insert(table).returning(table.c.id)
    row = with_defaults(table, values)
    row["id"] = db.session.execute(statement, row).scalar_one()
    return row


def insert(model: type[M], **values: Any) -> M:
    """Insert one ``model`` row in the current transaction (one statement) and return its detached copy with ``id``."""
    return copy(model, _insert(model, values))


def insert_attached(model: type[M], **values: Any) -> M:
    """``insert``, the row then given to the session as if a query had loaded it (persistent, in the identity map):
    callers may change it or read its relationships like any other. Give every column a value (None for the empty
    ones): a column left out is expired, and reading it costs a query."""
    obj = copy(model, _insert(model, values))
    make_transient_to_detached(obj)
    db.session.add(obj)
    return obj
