"""The benchmarks create their own PostgreSQL database on a fresh machine (README: "created if missing")."""
import os
import secrets

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.benchdb import ensure_database


def test_a_benchmark_database_is_created_when_missing():
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (set TEST_DATABASE_URL)")
    name = f"canyu_probe_{secrets.token_hex(4)}_bench"
    target = make_url(url).set(database=name)
    admin = sa.create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        assert ensure_database(target.render_as_string(hide_password=False)) is True
        assert ensure_database(target.render_as_string(hide_password=False)) is False  # a second run keeps it
        with admin.connect() as conn:
            assert conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
