"""`flask backup create` / `restore` on PostgreSQL (pg_dump / pg_restore, a private cluster): demo data and the
files of both storage backends, backed up, wiped, restored, every row and file found."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.core.test_backup import backup_wipe_restore, demo_site

pytestmark = pytest.mark.slow


def test_postgresql_backup_and_restore_find_every_row_and_file(cluster, tmp_path):
    engine = sa.create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE DATABASE canyu_backup"))
    engine.dispose()
    # The demo accounts and consultations (with their comments); `flask demo-data` in full takes minutes here.
    app = demo_site(cluster.url("canyu_backup"), tmp_path / "uploads",
                    loaders="app.accounts.demo:load,app.consultations.demo:load")
    before, after = backup_wipe_restore(app, tmp_path)
    rows, _files = before
    assert rows["consultation_comment"] > 0  # the consultations' demo data is in the backup too
    assert after == before  # every row count and every file's checksum
