"""A pooled PostgreSQL connection is checked when it is handed out (extensions.watch_postgres_connections): one the
server has closed (a restart, a terminated backend) is replaced without an error, and a healthy one costs no ping."""
from __future__ import annotations

import time

import psycopg
import pytest
import sqlalchemy as sa


@pytest.fixture
def postgres(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the check is PostgreSQL's (set TEST_DATABASE_URL); SQLite keeps SQLAlchemy's pre-ping")
    db.session.remove()
    return db


def _backend_pid(db) -> int:
    with db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def _end_every_other_backend(db) -> None:
    """What a restart does to the pool: the server ends every connection to this database (but the caller's)."""
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:
        ended = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                              "AND pid <> pg_backend_pid() AND backend_type = 'client backend'").fetchall()
        for (pid,) in ended:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))  # waits (up to 5 s) until it has exited
        deadline = time.monotonic() + 10
        while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)",
                            ([p for (p,) in ended],)).fetchone()[0] and time.monotonic() < deadline:
            admin.execute("SELECT pg_stat_clear_snapshot()")


@pytest.fixture
def pings(postgres, monkeypatch):
    calls = []
    dialect = postgres.engine.dialect
    real = dialect.do_ping

    def counted(dbapi_connection):
        calls.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return calls


def test_a_connection_the_server_ended_is_replaced_without_an_error(postgres, pings, client):
    before = _backend_pid(postgres)
    _end_every_other_backend(postgres)
    after = _backend_pid(postgres)  # without the check: OperationalError (server closed the connection)
    assert after != before
    assert pings  # the dead connection was readable, so it was asked, and dropped
    # A page after the "restart" is served, not an error.
    _end_every_other_backend(postgres)
    assert client.get("/consultations/").status_code == 200
    postgres.engine.dispose()  # the other pooled connections it ended: each would be found (and pinged) when next used


def test_a_healthy_pooled_connection_is_handed_out_without_a_ping(postgres, pings):
    postgres.engine.dispose()  # only connections made now (an earlier test may have left ended ones, each pinged)
    pooled = {_backend_pid(postgres) for _ in range(5)}
    assert {_backend_pid(postgres) for _ in range(5)} <= pooled  # the pool's connections, reused
    assert pings == []
