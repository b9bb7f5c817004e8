"""Command-line tools: flask demo-data, flask translations compile, flask create-admin, flask scheduler run."""
from __future__ import annotations

import importlib

import click
from flask import Flask
from flask.cli import AppGroup

from app.accounts.demo import DEMO_ACCOUNTS
from app.accounts.services import create_admin
from app.extensions import db
from app.i18n import compile_catalogs
from app.core.backup import backup_cli
from app.core.storage_cli import storage_cli
from app.scheduler import scheduler_cli

# Demo data, loaded in this order; each loader is idempotent (a second run adds nothing).
DEMO_LOADERS = [
    "app.accounts.demo:load",
    "app.consultations.demo:load",
    "app.hearings.demo:load",
    "app.openday.demo:load",
    "app.messages.demo:load",
]

translations_cli = AppGroup("translations", help="Language catalogues.")


@translations_cli.command("compile")
def compile_command() -> None:
    """Compile every module's .po catalogue to .mo."""
    click.echo(f"Compiled {compile_catalogs()} catalogue(s).")


@click.command("demo-data")
def demo_data_command() -> None:
    """Load demonstration data (safe to run again: it adds nothing the second time)."""
    for path in DEMO_LOADERS:
        module, _, name = path.partition(":")
        loader = getattr(importlib.import_module(module), name)
        click.echo(f"  {module} ...", nl=False)  # the hearings lottery takes a while: say what runs
        added = loader()
        db.session.commit()
        click.echo(f" {added or 'nothing new'}")

    click.echo("\nDemo accounts (password for all: %s):" % DEMO_ACCOUNTS[0][2])
    for email, role, _password, note in DEMO_ACCOUNTS:
        click.echo(f"  {email:32} {role:12} {note}")


@click.command("create-admin")
@click.argument("email")
@click.argument("name")
@click.password_option()
def create_admin_command(email: str, name: str, password: str) -> None:
    """Create an oversight admin account."""

    create_admin(email=email, name=name, password=password)
    db.session.commit()
    click.echo(f"Admin {email} created.")


def init_app(app: Flask) -> None:
    app.cli.add_command(translations_cli)
    app.cli.add_command(scheduler_cli)
    app.cli.add_command(storage_cli)
    app.cli.add_command(backup_cli)
    importlib.import_module("app.core.downgrade_guard").install()
    app.cli.add_command(demo_data_command)
    app.cli.add_command(create_admin_command)
    app.cli.add_command(importlib.import_module("app.hearings.cli").hearings_cli)
    app.cli.add_command(importlib.import_module("app.openday.cli").openday_cli)
