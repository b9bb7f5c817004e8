"""The migrations match the models, and every string has an English translation."""
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from app import create_app
from app.extensions import db
from config import TestingConfig

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_build_the_schema_the_models_describe(tmp_path):
    """`flask db upgrade` on an empty database, then `flask db check` finds nothing to do."""
    from flask_migrate import check, upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.db'}", "UPLOAD_DIR": str(tmp_path)},
                     config_class=TestingConfig)
    with app.app_context():
        upgrade()
        tables = set(sa.inspect(db.engine).get_table_names())
        assert set(db.metadata.tables) <= tables
        check()  # raises (exits) when the models and migrations differ


def test_every_string_has_an_english_translation():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "i18n.py"), "check"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-4000:]
