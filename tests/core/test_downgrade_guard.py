"""`flask db downgrade` lists what it drops, and refuses in production without --allow-data-loss."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def flask(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_downgrade_that_drops_tables_is_refused_in_production(tmp_path, monkeypatch):
    db_file = tmp_path / "site.db"
    base = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{db_file}", "UPLOAD_DIR": str(tmp_path / "up"),
            "CANYU_ENV": "development"}
    assert flask(base, "db", "upgrade").returncode == 0
    engine = sa.create_engine(f"sqlite:///{db_file}")
    with engine.begin() as conn:
        head = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    production = {**base, "CANYU_ENV": "production", "SECRET_KEY": "x" * 40, "RATELIMIT_ENABLED": "0",
                  "BASE_URL": "https://canyu.example.gov.cn"}
    result = flask(production, "db", "downgrade", "base")
    assert result.returncode == 1
    assert "table user (0 rows)" in result.stderr and "Refused in production" in result.stderr
    with engine.begin() as conn:  # nothing happened
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == head
    result = flask(production, "db", "downgrade", "--allow-data-loss")  # one step (-1)
    assert result.returncode == 0, result.stderr
    assert "This downgrade drops" in result.stderr
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() != head
    engine.dispose()
