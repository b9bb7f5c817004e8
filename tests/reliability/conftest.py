"""Fixtures for the fault tests: one private PostgreSQL cluster for the session (initdb takes seconds), with the
application's tables, an aiosmtpd server, and scheduler processes that are always stopped at the end."""
from __future__ import annotations

import os
import secrets
import shutil

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db as _db
from app.notifications.models import OutboxEmail
from config import TestingConfig
from tests.reliability.cluster import PG_BINS, PgCluster, SchedulerProcess, Smtp, scheduler_env


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    # PostgreSQL fault tests run in the PostgreSQL pass (TEST_DATABASE_URL), not again in the SQLite one.
    if not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql") and not os.environ.get("CANYU_FAULT_TESTS"):
        pytest.skip("PostgreSQL fault tests: set TEST_DATABASE_URL to PostgreSQL (or CANYU_FAULT_TESTS=1)")
    if not PG_BINS or (shutil.which("runuser") is None and os.geteuid() == 0):
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed")
    pg = PgCluster()
    app = create_app({"SQLALCHEMY_DATABASE_URI": pg.url(), "UPLOAD_DIR": str(tmp_path_factory.mktemp("up"))},
                     config_class=TestingConfig)
    with app.app_context():
        _db.create_all()
        _db.engine.dispose()
    pg.app = app
    yield pg
    with app.app_context():
        _db.engine.dispose()
    pg.destroy()


@pytest.fixture
def smtp_server():
    server = Smtp()
    yield server
    server.stop()


@pytest.fixture
def schedulers(cluster, smtp_server, tmp_path):
    started: list[SchedulerProcess] = []

    def start(**extra: str) -> SchedulerProcess:
        proc = SchedulerProcess(scheduler_env(cluster.url(), smtp_server.port, **extra),
                                tmp_path / f"scheduler{len(started) + 1}.log")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def queue_mail(app, recipient: str) -> None:
    """One outbox row, as queue_email writes it (committed)."""
    with app.app_context():
        _db.session.add(OutboxEmail(recipient=recipient, template="test", subject="测试", body_text="测试\n",
                                    message_id=f"<{secrets.token_hex(8)}@canyu.test>"))
        _db.session.commit()
        _db.session.remove()
        _db.engine.dispose()


def outbox_states(app) -> dict[str, str]:
    with app.app_context():
        rows = _db.session.execute(sa.select(OutboxEmail.recipient, OutboxEmail.state)).all()
        _db.session.remove()
        _db.engine.dispose()
    return {r: s.value for r, s in rows}
