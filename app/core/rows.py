"""Rows written and read without the ORM's unit of work, for the busiest paths (a sign-up, a comment).

``insert`` writes one row with a single Core ``INSERT ... RETURNING id`` in the caller's transaction and gives back a
detached copy of it: an instance of the model holding the values written (column defaults applied, as the ORM would),
which is never added to the session (``insert_attached`` adds it). Reading its attributes needs no query; changing
them changes nothing in the database. Flushing a new ORM object instead costs the unit of work's sort and bookkeeping
at the commit, under whatever lock the transaction holds.

``run`` executes a prebuilt Core statement straight on the driver's cursor of the session's connection (same
transaction), compiled once per database and set of parameter names: for the few statements a busy request runs,
SQLAlchemy's per-execution work (execution context, result object, events) costs more than the driver and the
database together (2026-12-01, one INSERT ... RETURNING on PostgreSQL: 130 µs of CPU through ``session.execute``,
55 µs this way). Its parameters and results are converted by the columns' own types, as SQLAlchemy would; a driver
error is raised as SQLAlchemy's (a lost connection is invalidated as usual). While anything listens to the engine's
statement events (a test or a benchmark counting queries), statements go through SQLAlchemy, so all are seen.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable, NamedTuple, Sequence, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
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


class _Ready(NamedTuple):
    """A statement compiled for one database and one set of parameter names, with its converters."""

    statement: sa.Executable  # kept: the cache is keyed by its id
    compiled: Any  # SQLAlchemy's Compiled (construct_params gives the values of the statement's own binds too)
    sql: str
    order: tuple[str, ...] | None  # positional drivers (SQLite): the parameters' order; None: by name (psycopg)
    binds: tuple[tuple[str, Callable], ...]  # parameter name -> the type's bind processor
    results: tuple[Callable | None, ...] | None  # per result column: the type's result processor (None: none at all)
    row: type  # the rows' named tuple (fields named by the result columns' keys)
    returns_rows: bool  # a SELECT, or RETURNING


_READY: dict[tuple[int, str, tuple[str, ...]], _Ready | None] = {}
_READY_MAX = 1000


def _ready(statement: sa.Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Ready | None:
    """The statement compiled as ``Connection.execute`` compiles it (column keys: the sorted parameter names); None
    when SQLAlchemy would complete it at execution time, which ``run`` then leaves to SQLAlchemy: parameters
    expanded then (``IN`` of a list), or column defaults computed in Python for columns not given (``with_defaults``
    gives them)."""
    key = (id(statement), dialect.name, keys)
    if key in _READY:
        return _READY[key]
    if len(_READY) >= _READY_MAX:  # statements built per call by mistake: the cache never grows without bound
        _READY.clear()
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    ready = None
    if not (compiled.post_compile_params or compiled.insert_prefetch or compiled.update_prefetch):
        binds = tuple((compiled.bind_names[bind], processor) for bind in compiled.binds.values()
                      if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None)
        columns = _columns(statement)
        results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
        order = tuple(compiled.positiontup) if compiled.positional else None
        ready = _Ready(statement, compiled, compiled.string, order, binds, results if any(results) else None,
                       namedtuple("Row", [str(column.key) for column in columns] or ["_"], rename=True),
                       bool(columns))
    _READY[key] = ready
    return ready


def _columns(statement: sa.Executable) -> list:
    """The columns of the rows ``statement`` gives: a SELECT's, or its RETURNING's (none: it gives no rows)."""
    return list(getattr(statement, "exported_columns", ()))


def run(statement: sa.Executable, params: dict[str, Any]) -> Sequence[tuple]:
    """Execute a prebuilt Core ``statement`` with ``params`` in the session's transaction; its rows as named tuples
    (fields named by the result columns' keys; none for a statement without a result). Like ``db.session.execute``
    for a Core statement (which does not autoflush either), with less work per call: for statements built once and
    run on every busy request (each one compiled is kept; a statement built per call would only fill the cache)."""
    connection = db.session.connection()
    dialect = connection.dialect
    ready = None if _watched(connection) else _ready(statement, dialect, tuple(sorted(params)))
    if ready is None:
        result = db.session.execute(statement, params)  # (an ORM result when the statement's tables are mapped)
        return result.all() if _columns(statement) else []  # Row objects: named fields too
    values = ready.compiled.construct_params(params)
    for name, processor in ready.binds:
        values[name] = processor(values[name])
    args = values if ready.order is None else tuple(values[name] for name in ready.order)
    found = _on_cursor(connection, ready.sql, args, ready.returns_rows)
    make = ready.row._make
    if ready.results is None:
        return [make(row) for row in found]
    processors = ready.results
    return [make(value if p is None else p(value) for p, value in zip(processors, row)) for row in found]


def run_plain(sql: str) -> None:
    """Execute SQL without parameters (several statements may be given) in the session's transaction, as
    ``Connection.exec_driver_sql`` would, on the driver's cursor (``run``)."""
    connection = db.session.connection()
    if _watched(connection):
        connection.exec_driver_sql(sql, execution_options={"no_parameters": True})
    else:
        _on_cursor(connection, sql, None, False)


def _watched(connection: sa.Connection) -> bool:
    """Someone listens to the engine's statements (a test or a benchmark counting queries): they are then sent
    through SQLAlchemy, so that every one is seen."""
    if not (connection._has_events or connection.engine._has_events):
        return False
    events = connection.dispatch  # (the flags above stay set once anything has ever listened)
    return bool(events.before_cursor_execute or events.after_cursor_execute or events.before_execute
                or events.after_execute)


def _cursor(connection: sa.Connection) -> tuple[Any, bool]:
    """A cursor of the driver connection for ``run``, and whether it is kept. psycopg's is made once per connection
    and kept with it (it keeps the parameter dumpers it has looked up, so the next statement finds them); any other
    driver's (SQLite's, which may close its cursors itself) is made for one statement."""
    proxied = connection.connection
    driver = proxied.driver_connection
    if not hasattr(driver, "pgconn"):
        return driver.cursor(), False
    cursor = proxied.info.get("rows.cursor")
    if cursor is None or cursor.closed or cursor.connection is not driver:
        cursor = proxied.info["rows.cursor"] = driver.cursor()
    return cursor, True


def _on_cursor(connection: sa.Connection, sql: str, args, returns_rows: bool) -> list:
    cursor, kept = _cursor(connection)
    try:
        if args is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, args)
        return cursor.fetchall() if returns_rows else []  # (psycopg builds ``description`` at each look)
    except Exception as exc:  # wrapped as SQLAlchemy's, the connection invalidated when it is lost
        connection._handle_dbapi_exception(exc, sql, args, cursor, None)
    finally:
        if not kept:
            cursor.close()


def _insert(model: type, values: dict[str, Any]) -> dict[str, Any]:
    table = model.__table__
    statement = _INSERTS.get(model)
    if statement is None:
        statement = _INSERTS[model] = sa.insert(table).returning(table.c.id)
    row = with_defaults(table, values)
    row["id"] = run(statement, row)[0][0]
    return row


def insert(model: type[M], **values: Any) -> M:
    """Insert one ``model`` row in the current transaction (one statement) and return its detached copy with ``id``."""
    return copy(model, _insert(model, values))


def attach(model: type[M], values: dict[str, Any]) -> M:
    """A row read with Core (every column) given to the session as if a query had loaded it: persistent, in the
    identity map, its relationships loaded on first use. The caller makes sure the session does not hold it yet."""
    obj = copy(model, values)
    make_transient_to_detached(obj)
    db.session.add(obj)
    return obj


def insert_attached(model: type[M], **values: Any) -> M:
    """``insert``, the row then given to the session as if a query had loaded it (persistent, in the identity map):
    callers may change it or read its relationships like any other. Give every column a value (None for the empty
    ones): a column left out is expired, and reading it costs a query."""
    return attach(model, _insert(model, values))


def claim_flagged(flag: sa.orm.InstrumentedAttribute, batch: int) -> list[int]:
    """Clear the boolean ``flag`` (a model's column, e.g. ``Registration.signup_mail_due``) on up to ``batch`` rows
    that have it set, oldest id first, and return their ids: one UPDATE ... RETURNING in the caller's transaction,
    whose work on those rows (queueing their mail) then commits or rolls back with the cleared flags. Runs that
    overlap claim each row once: the UPDATE checks the flag again on the row it has locked (a second run waits for
    the first's row locks and then finds them cleared)."""
    model = flag.class_
    due = sa.select(model.id).where(flag).order_by(model.id).limit(batch).scalar_subquery()
    return list(db.session.scalars(
        sa.update(model).where(model.id.in_(due), flag).values({flag.key: False}).returning(model.id)
        .execution_options(synchronize_session=False)))
