"""`flask backup create` / `flask backup restore`: the demo data and uploaded files, backed up, wiped, restored
and every row and file found again (SQLite here; PostgreSQL on a private cluster, with the whole demo data, in tests/reliability)."""
from __future__ import annotations

import importlib
import io

import pytest
import sqlalchemy as sa

from app import create_app
from app.core import storage as st
from app.core.backup import file_checksums, row_counts
from app.extensions import db as _db
from config import TestingConfig

pytestmark = pytest.mark.slow


def demo_site(url: str, uploads, loaders: str | None = None) -> object:
    """A site with the demo data (all of it, or only the ``loaders`` named) and a file in each storage backend."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "UPLOAD_DIR": str(uploads)}, config_class=TestingConfig)
    with app.app_context():
        _db.create_all()
        if loaders is None:
            result = app.test_cli_runner().invoke(args=["demo-data"])
            assert result.exit_code == 0, result.output
        else:
            with app.test_request_context("/"):
                for path in loaders.split(","):
                    module, _, name = path.partition(":")
                    getattr(importlib.import_module(module), name)()
                    _db.session.commit()
    with app.app_context(), app.test_request_context("/"):
        for name, backend in (("filesystem", "filesystem"), ("database", "database")):
            st.make_storage(backend, app).save(f"attachments/{name}-backup-test.pdf",
                                               io.BytesIO(b"%PDF-1.4 " + name.encode() * 1000))
        _db.session.commit()
    return app


def backup_wipe_restore(app, tmp_path) -> tuple[tuple[dict, dict], tuple[dict, dict]]:
    """Back the site up, drop every table and file, restore. Returns (rows, files) before and after."""
    runner = app.test_cli_runner()
    with app.app_context():
        counts, files = row_counts(), file_checksums()
    assert counts["user"] > 5 and len(files) == 2
    archive = tmp_path / "site.tar"
    result = runner.invoke(args=["backup", "create", "-o", str(archive)])
    assert result.exit_code == 0 and "2 file(s)" in result.output, result.output

    with app.app_context():  # the disaster: every table and every file gone
        _db.drop_all()
        _db.session.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        _db.session.commit()
    for path in sorted((tmp_path / "uploads").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()

    refused = runner.invoke(args=["backup", "restore", str(archive)], input="n\n")
    assert refused.exit_code == 1 and "What was written since that backup is lost" in refused.output
    result = runner.invoke(args=["backup", "restore", str(archive), "--yes"])
    assert result.exit_code == 0, result.output
    assert "are all there" in result.output
    with app.app_context():
        restored = row_counts(), file_checksums()
        _db.engine.dispose()
    return (counts, files), restored


def test_sqlite_backup_and_restore_find_every_row_and_file(tmp_path):
    # The demo accounts and departments here (the whole demo data: on PostgreSQL, tests/reliability).
    app = demo_site(f"sqlite:///{tmp_path / 'site.db'}", tmp_path / "uploads", loaders="app.accounts.demo:load")
    before, after = backup_wipe_restore(app, tmp_path)
    assert after == before  # every row count and every file's checksum
