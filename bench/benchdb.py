"""The benchmarks' own PostgreSQL databases are created when missing, so a benchmark runs on a fresh machine."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import make_url


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database ``url`` names if it does not exist (SQLite files need nothing).

    Returns True when it was created."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        return False
    name = parsed.database
    engine = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                return False
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            return True
    finally:
        engine.dispose()
