"""The application factory."""
from __future__ import annotations

import importlib
import os
from pathlib import Path

from flask import Flask

from app import errors, i18n, security
from app.core import inputs, observability
from app.extensions import (
    babel,
    csrf,
    db,
    enforce_sqlite_foreign_keys,
    limiter,
    login_manager,
    mail,
    migrate,
    postgres_engine_options,
    watch_postgres_connections,
)
from config import Config, ProductionConfig, config_from_env

# The blueprints, listed explicitly (never discovered by walking the tree).
BLUEPRINTS = [
    "app.core:bp",
    "app.accounts:bp",
    "app.notifications:bp",
    "app.consultations:bp",
    "app.hearings:bp",
    "app.openday:bp",
    "app.messages:bp",
    "app.oversight:bp",
    "app.api:bp",
]

# Modules whose receivers.py connects signal receivers.
RECEIVERS = [
    "app.notifications.receivers",
    "app.oversight.receivers",
    "app.messages.receivers",
]

# Every module's models, imported so that the metadata (and so migrations) sees every table.
MODELS = [
    "app.core.audit",
    "app.core.storage",
    "app.core.jobruns",
    "app.accounts.models",
    "app.notifications.models",
    "app.scheduler",
    "app.consultations.models",
    "app.hearings.models",
    "app.hearings.record",
    "app.openday.models",
    "app.messages.models",
    "app.oversight.models",
    "app.notifications.notices",
    "app.notifications.subscriptions",
    "app.notifications.digest",
]


def _import(path: str):
    module, _, attr = path.partition(":")
    mod = importlib.import_module(module)
    return getattr(mod, attr) if attr else mod


def create_app(test_config: dict | None = None, config_class: type[Config] | None = None) -> Flask:
    """Build the app. ``config_class`` defaults to the one CANYU_ENV names; ``test_config`` overrides settings."""
    app = Flask(__name__, instance_relative_config=True,
                template_folder=str(Path(__file__).resolve().parent.parent / "templates"))
    config_class = config_class or config_from_env()
    if config_class is ProductionConfig:
        ProductionConfig.check()
    app.config.from_object(config_class)
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    os.makedirs(app.config["UPLOAD_DIR"], exist_ok=True)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(p) for p in i18n.translation_directories())

    postgres_engine_options(app)
    db.init_app(app)
    watch_postgres_connections(app)
    enforce_sqlite_foreign_keys(app)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    login_manager.init_app(app)
    mail.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)
    limiter.init_app(app)

    for path in MODELS:
        _import(path)
    inputs.register_converters(app)  # before the blueprints: their <int:...> rules bind it
    for path in BLUEPRINTS:
        app.register_blueprint(_import(path))
    for path in RECEIVERS:
        _import(path)

    i18n.init_app(app)
    inputs.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    observability.init_app(app)

    from app import cli, templating  # here, not at the top: both import models, which need the app package first

    templating.init_app(app)
    cli.init_app(app)
    return app
