"""`flask backup create` / `flask backup restore`: the database and the uploaded files in one archive, checked.

An archive (a tar file) holds:

- ``database.pgdump``: PostgreSQL's own ``pg_dump --format=custom`` (consistent: one snapshot), restored with
  ``pg_restore --clean --if-exists --single-transaction``; or ``database.sqlite``: SQLite's online backup API
  (consistent while the site runs);
- ``uploads/``: the files of the ``filesystem`` storage backend (``UPLOAD_DIR``); files kept by the ``database``
  backend are rows, so they are in the dump;
- ``manifest.json``: when, which schema revision, the number of rows of every table and the SHA-256 of every
  stored file (both backends). A restore checks every one of them and says so.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from app.core import storage as st
from app.core.timeutil import utcnow
from app.extensions import db

backup_cli = AppGroup("backup", help="Back up and restore the database and the uploaded files.")
FORMAT = "canyu-backup-1"


def _tables() -> list[str]:
    names = set(sa.inspect(db.engine).get_table_names())
    return sorted(names)


def row_counts() -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in _tables()}


def file_checksums() -> dict[str, str]:
    """SHA-256 of every stored file, in both backends (``backend:key``)."""
    out = {}
    for name in st.BACKENDS:
        backend = st.make_storage(name, current_app)
        try:
            keys = list(backend.keys())
        except sa.exc.SQLAlchemyError:  # the database backend's table is missing
            db.session.rollback()
            continue
        for key in keys:
            digest = hashlib.sha256()
            for chunk in backend.read(key):
                digest.update(chunk)
            out[f"{name}:{key}"] = digest.hexdigest()
    db.session.rollback()
    return out


def _revision() -> str | None:
    try:
        with db.engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.SQLAlchemyError:
        return None


def _libpq(url: sa.engine.URL) -> tuple[str, dict[str, str]]:
    """A libpq address for pg_dump / pg_restore, the password in the environment (not on the command line)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _sqlite_path(url: sa.engine.URL) -> str:
    if not url.database or url.database == ":memory:":
        raise click.ClickException("An in-memory SQLite database cannot be backed up.")
    return url.database


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise click.ClickException(f"{args[0]} failed: {result.stderr.strip()[:2000]}")


def create_backup(output: Path) -> dict:
    url = db.engine.url
    manifest = {"format": FORMAT, "created_at": utcnow().isoformat(), "dialect": url.get_backend_name(),
                "revision": _revision(), "tables": row_counts(), "files": file_checksums()}
    upload_dir = Path(current_app.config["UPLOAD_DIR"])
    with tempfile.TemporaryDirectory(prefix="canyu-backup-") as tmp:
        tmp_path = Path(tmp)
        if url.get_backend_name() == "postgresql":
            address, env = _libpq(url)
            dump = tmp_path / "database.pgdump"
            _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(dump), address], env)
        else:
            dump = tmp_path / "database.sqlite"
            source = sqlite3.connect(_sqlite_path(url))
            target = sqlite3.connect(dump)
            try:
                source.backup(target)  # the online backup API: a consistent copy while the site runs
            finally:
                target.close()
                source.close()
        (tmp_path / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".part")
        with tarfile.open(partial, "w") as tar:
            tar.add(tmp_path / "manifest.json", "manifest.json")
            tar.add(dump, dump.name)
            if upload_dir.is_dir():
                tar.add(upload_dir, "uploads", filter=lambda info: None if ".part-" in info.name else info)
        os.replace(partial, output)  # never a half-written archive under the final name
    return manifest


def _safe_members(tar: tarfile.TarFile):
    for member in tar.getmembers():
        if member.name.startswith("/") or ".." in Path(member.name).parts or not (member.isfile() or member.isdir()):
            raise click.ClickException(f"Unexpected entry in the archive: {member.name}")
        yield member


def restore_backup(archive: Path) -> tuple[dict, list[str]]:
    """Replace the database and the uploaded files with the archive's. Returns the manifest and what differs
    (empty when every row count and every file checksum matches)."""
    url = db.engine.url
    upload_dir = Path(current_app.config["UPLOAD_DIR"])
    with tempfile.TemporaryDirectory(prefix="canyu-restore-") as tmp:
        tmp_path = Path(tmp)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp_path, members=list(_safe_members(tar)))
        manifest = json.loads((tmp_path / "manifest.json").read_text())
        if manifest.get("format") != FORMAT:
            raise click.ClickException("Not a Canyu backup archive.")
        if manifest["dialect"] != url.get_backend_name():
            raise click.ClickException(f"The archive holds a {manifest['dialect']} database; this site uses "
                                       f"{url.get_backend_name()}.")
        db.session.remove()
        db.engine.dispose()  # no connection of ours keeps a table locked
        if manifest["dialect"] == "postgresql":
            address, env = _libpq(url)
            _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
                  "--dbname", address, str(tmp_path / "database.pgdump")], env)
        else:
            source = sqlite3.connect(tmp_path / "database.sqlite")
            target = sqlite3.connect(_sqlite_path(url))
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
        if upload_dir.exists():
            shutil.rmtree(upload_dir)
        if (tmp_path / "uploads").is_dir():
            shutil.copytree(tmp_path / "uploads", upload_dir)
        else:
            upload_dir.mkdir(parents=True, exist_ok=True)
    db.engine.dispose()
    counts = row_counts()
    differences = [f"table {t}: {n} rows in the backup, {counts.get(t)} now"
                   for t, n in manifest["tables"].items() if counts.get(t) != n]
    files = file_checksums()
    differences += [f"file {key}: {'missing' if key not in files else 'different content'}"
                    for key, digest in manifest["files"].items() if files.get(key) != digest]
    return manifest, differences


@backup_cli.command("create")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The archive to write (default: instance/backups/canyu-<UTC time>.tar).")
def create_command(output: Path | None) -> None:
    """Back up the database and the uploaded files into one archive (safe while the site runs)."""
    if output is None:
        output = Path(current_app.instance_path) / "backups" / f"canyu-{utcnow():%Y%m%dT%H%M%SZ}.tar"
    manifest = create_backup(output)
    click.echo(f"Backup written to {output}: {sum(manifest['tables'].values())} rows in {len(manifest['tables'])} "
               f"tables, {len(manifest['files'])} file(s), schema revision {manifest['revision']}.")


@backup_cli.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(archive: Path, yes: bool) -> None:
    """Replace the whole database and every uploaded file with the ARCHIVE's, then check every row count and
    file. Stop the web workers and the scheduler first."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        manifest = json.loads(member.read()) if member else {}
    click.echo(f"This replaces every table of {db.engine.url.render_as_string(hide_password=True)} and every file "
               f"in {current_app.config['UPLOAD_DIR']} with the backup of {manifest.get('created_at')} "
               f"({sum(manifest.get('tables', {}).values())} rows, {len(manifest.get('files', {}))} files). "
               "What was written since that backup is lost.")
    if not yes:
        click.confirm("Restore?", abort=True)
    manifest, differences = restore_backup(archive)
    if differences:
        raise click.ClickException("Restored, but the check found differences:\n  " + "\n  ".join(differences))
    click.echo(f"Restored and checked: {sum(manifest['tables'].values())} rows in {len(manifest['tables'])} tables "
               f"and {len(manifest['files'])} file(s) are all there.")
