"""`flask db downgrade` says what it will destroy, and refuses in production unless told `--allow-data-loss`.

The migrations between the current revision and the target are read (their ``downgrade()``): every table they drop
(with its number of rows now) and every column they drop is listed before anything runs.
"""
from __future__ import annotations

import inspect
import os
import re

import click
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app, g
from flask.cli import with_appcontext

from app.extensions import db

_DROP_TABLE = re.compile(r"drop_table\(\s*['\"](\w+)['\"]")
_BATCH = re.compile(r"batch_alter_table\(\s*['\"](\w+)['\"]")
_DROP_COLUMN = re.compile(r"drop_column\(\s*(?:['\"](\w+)['\"]\s*,\s*)?['\"](\w+)['\"]")


def _steps(script: ScriptDirectory, current: str | None, target: str) -> list:
    """The revisions whose downgrade() runs to go from ``current`` to ``target`` (newest first)."""
    steps, rev = [], script.get_revision(current) if current else None
    if target.startswith("-") and target[1:].isdigit():
        for _ in range(int(target[1:])):
            if rev is None:
                break
            steps.append(rev)
            rev = script.get_revision(rev.down_revision) if rev.down_revision else None
        return steps
    while rev is not None and not (target != "base" and rev.revision.startswith(target)):
        steps.append(rev)
        down = rev.down_revision
        if isinstance(down, tuple):  # a merge point: follow the first parent
            down = down[0]
        rev = script.get_revision(down) if down else None
    return steps


def losses(target: str, directory: str | None = None) -> list[str]:
    """What going down to ``target`` drops, in words: tables (with their rows now) and columns."""
    config = current_app.extensions["migrate"].migrate.get_config(directory)
    script = ScriptDirectory.from_config(config)
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        existing = set(sa.inspect(conn).get_table_names())
        out = []
        for rev in _steps(script, current, target):
            source = inspect.getsource(rev.module.downgrade)
            for table in _DROP_TABLE.findall(source):
                rows = (conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one()
                        if table in existing else 0)
                out.append(f"table {table} ({rows} rows) — migration {rev.revision} {rev.doc}")
            batch_table = None
            for line in source.splitlines():
                if m := _BATCH.search(line):
                    batch_table = m.group(1)
                if m := _DROP_COLUMN.search(line):
                    table = m.group(1) or batch_table
                    out.append(f"column {table}.{m.group(2)} — migration {rev.revision} {rev.doc}")
    return out


def install() -> None:
    """Put the guarded command in place of Flask-Migrate's `db downgrade`."""
    from flask_migrate import cli as migrate_cli

    original = migrate_cli.db.commands.get("downgrade")
    if original is None or getattr(original, "_canyu_guarded", False):
        return

    @click.command("downgrade", help=(original.help or "Revert to a previous version") +
                   "\n\nLists the tables and columns it drops first; refused in production (CANYU_ENV=production) "
                   "without --allow-data-loss.")
    @click.option("-d", "--directory", default=None, help='Migration script directory (default is "migrations")')
    @click.option("--sql", is_flag=True, help="Don't emit SQL to database - dump to standard output instead")
    @click.option("--tag", default=None, help='Arbitrary "tag" name - can be used by custom env.py scripts')
    @click.option("-x", "--x-arg", multiple=True, help="Additional arguments consumed by custom env.py scripts")
    @click.option("--allow-data-loss", is_flag=True, help="Run even in production when tables or columns go.")
    @click.argument("revision", default="-1")
    @with_appcontext
    def downgrade(directory, sql, tag, x_arg, revision, allow_data_loss):
        if not sql:
            lost = losses(revision, directory or g.get("directory"))
            if lost:
                click.echo("This downgrade drops, with everything in them:\n  " + "\n  ".join(lost), err=True)
                if os.environ.get("CANYU_ENV") == "production" and not allow_data_loss:
                    raise click.ClickException(
                        "Refused in production: back up first (flask backup create), then run again with "
                        "--allow-data-loss.")
        migrate_cli._downgrade(directory or g.get("directory"), revision, sql, tag, x_arg or g.get("x_arg"))

    downgrade._canyu_guarded = True
    migrate_cli.db.add_command(downgrade)
