"""`flask storage ...`: move uploaded files between backends and check that every stored name has its file."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.core import storage as st
from app.extensions import db

storage_cli = AppGroup("storage", help="Uploaded files (attachments, documents, images).")


@storage_cli.command("move")
@click.option("--from", "source_name", type=click.Choice(st.BACKENDS), default=None,
              help="Backend to copy from (default: the one STORAGE_BACKEND does not name).")
@click.option("--to", "target_name", type=click.Choice(st.BACKENDS), required=True, help="Backend to copy to.")
@click.option("--delete-source", is_flag=True, help="Remove each file from the source once it is copied.")
def move_command(source_name: str | None, target_name: str, delete_source: bool) -> None:
    """Copy every file to another backend, one chunk at a time; files already there are skipped. Safe to run
    again after an interruption. Then set STORAGE_BACKEND to the target and restart the web workers."""
    if source_name is None:
        source_name = next(name for name in st.BACKENDS if name != target_name)
    if source_name == target_name:
        raise click.UsageError("--from and --to name the same backend")
    source = st.make_storage(source_name, current_app)
    target = st.make_storage(target_name, current_app)
    copied = skipped = moved_bytes = 0
    for key in list(source.keys()):
        if target.exists(key):
            skipped += 1
        else:
            moved_bytes += st.copy(source, target, key)
            db.session.commit()
            copied += 1
        if delete_source:
            source.delete(key)
            db.session.commit()
    click.echo(f"{copied} file(s) copied ({moved_bytes} bytes) from {source_name} to {target_name}; "
               f"{skipped} already there" + ("; source files removed." if delete_source else "."))


@storage_cli.command("list")
@click.option("--backend", type=click.Choice(st.BACKENDS), default=None)
def list_command(backend: str | None) -> None:
    """List the stored files of a backend (default: the configured one) with their sizes."""
    store = st.make_storage(backend, current_app) if backend else st.storage()
    total = 0
    for key in store.keys():
        size = store.size(key) or 0
        total += 1
        click.echo(f"{size:>12}  {key}")
    click.echo(f"{total} file(s) in {store.name}")
