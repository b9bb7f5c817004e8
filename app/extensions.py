"""Extension objects, created once and bound to the app in create_app()."""
from __future__ import annotations

import select

import sqlalchemy as sa
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


SQLITE_BUSY_TIMEOUT_MS = 15000


def _sqlite_foreign_keys_on(dbapi_connection, _connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # SQLite has one writer at a time; a writer waits this long for the lock instead of the driver's 5 s, so a
    # burst of sign-ups on a busy machine queues instead of failing with "database is locked".
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def postgres_engine_options(app) -> None:
    """Before ``db.init_app``: a PostgreSQL engine checks a pooled connection with ``watch_postgres_connections``
    (no round trip for a healthy one) instead of SQLAlchemy's pre-ping (a ``SELECT 1`` before every request)."""
    uri = str(app.config.get("SQLALCHEMY_DATABASE_URI", ""))
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("postgresql") and options.get("pool_pre_ping"):
        options["pool_pre_ping"] = False
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
        app.config["CANYU_CHECK_POOLED_CONNECTIONS"] = True


def _alive_or_disconnect(engine: sa.Engine):
    def check(dbapi_connection, _record, _proxy) -> None:
        """A pooled connection is handed out only if it still works. An idle connection has nothing to read; the
        server's goodbye (a restart, a terminated backend) or a closed socket makes it readable. Only then is it
        asked, with a ping; DisconnectionError makes the pool drop it and hand out a new one (after a restart, each
        pooled connection is found so in turn)."""
        if dbapi_connection.closed or dbapi_connection.broken:
            raise sa.exc.DisconnectionError("connection closed")
        try:
            readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
        except (OSError, ValueError) as exc:
            raise sa.exc.DisconnectionError(str(exc)) from exc
        if not readable:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DisconnectionError(str(exc)) from exc
        if not alive:
            raise sa.exc.DisconnectionError("ping failed")
    return check


def watch_postgres_connections(app) -> None:
    """After ``db.init_app``: the check on checkout that ``postgres_engine_options`` chose."""
    if not app.config.get("CANYU_CHECK_POOLED_CONNECTIONS"):
        return
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "postgresql":
                sa.event.listen(engine, "checkout", _alive_or_disconnect(engine))


def enforce_sqlite_foreign_keys(app) -> None:
    """SQLite enforces foreign keys (and their ON DELETE rules) only when each connection asks: ask on every new
    connection of the app's SQLite engines. PostgreSQL always enforces them."""
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                sa.event.listen(engine, "connect", _sqlite_foreign_keys_on)
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
mail = Mail()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
