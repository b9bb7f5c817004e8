"""`flask db downgrade` lists what it drops, and refuses in production without --allow-data-loss."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask_migrate import cli as migrate_cli
from flask_migrate import upgrade

from app import create_app
from app.extensions import db as _db
from config import TestingConfig

pytestmark = pytest.mark.slow


def test_downgrade_that_drops_tables_is_refused_in_production(tmp_path, monkeypatch):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'site.db'}",
                      "UPLOAD_DIR": str(tmp_path / "up")}, config_class=TestingConfig)
    runner = app.test_cli_runner()

    def revision() -> str:
        with _db.engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    with app.app_context():
        upgrade()
        head = revision()
        monkeypatch.setenv("CANYU_ENV", "production")
        result = runner.invoke(migrate_cli.db, ["downgrade", "base"])
        assert result.exit_code == 1
        assert "table user (0 rows)" in result.output and "Refused in production" in result.output
        assert revision() == head  # nothing happened
        # Back to before the messages module (its tables are dropped), whatever migrations came after it.
        result = runner.invoke(migrate_cli.db, ["downgrade", "--allow-data-loss", "86bf85dc28b4"])
        assert result.exit_code == 0, result.output
        assert "This downgrade drops" in result.output and revision() != head
        _db.engine.dispose()
