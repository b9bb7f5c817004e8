"""Home page and health check."""
from __future__ import annotations

import importlib
from pathlib import Path

import redis
import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask import current_app, jsonify, render_template
from flask.typing import ResponseReturnValue

from flask_babel import gettext as _

from app.core import bp
from app.i18n import current_language
from app.extensions import db

# Each section contributes a panel to the home page: "module:function" returning a dict for its
# template "<section>/_home_panel.html", or None to show nothing.
HOME_PANELS = [
    ("app.consultations.home:panel", "consultations/_home_panel.html"),
    ("app.hearings.home:panel", "hearings/_home_panel.html"),
    ("app.openday.home:panel", "openday/_home_panel.html"),
]


def _panel(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)()


@bp.route("/terms")
def terms() -> ResponseReturnValue:
    return _legal("terms", _("用户协议"))


@bp.route("/privacy")
def privacy() -> ResponseReturnValue:
    return _legal("privacy", _("个人信息保护政策"))


def _legal(name: str, title: str) -> ResponseReturnValue:
    """The user agreement and the privacy policy: one text per language (templates/core/legal/), with the figures
    (retention, deadlines) read from the settings so the text says what the platform really does."""
    lang = "en" if current_language() == "en" else "zh"
    cfg = current_app.config
    return render_template("core/legal.html", title=title, body=f"core/legal/{name}_{lang}.html",
                           outbox_days=cfg["OUTBOX_KEEP_DAYS"], remember_days=cfg["REMEMBER_COOKIE_DAYS"],
                           report_days=cfg["FEEDBACK_REPORT_DUE_DAYS"])


@bp.route("/")
def home() -> ResponseReturnValue:
    panels = []
    for path, template in HOME_PANELS:
        data = _panel(path)
        if data is not None:
            panels.append((template, data))
    return render_template("core/home.html", panels=panels)


@bp.route("/healthz")
def healthz() -> ResponseReturnValue:
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the database is "unhealthy"
        db.session.rollback()
        current_app.logger.warning("health check failed: %s", exc)
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"}), 200


def _migration_heads() -> set[str]:
    """The head revisions of the code's migrations (read once per process: the code does not change under it)."""
    heads = current_app.extensions.get("canyu_migration_heads")
    if heads is None:
        directory = current_app.extensions["migrate"].directory
        config = AlembicConfig()
        config.set_main_option("script_location", str(Path(directory)))
        heads = current_app.extensions["canyu_migration_heads"] = set(ScriptDirectory.from_config(config).get_heads())
    return heads


@bp.route("/readyz")
def readyz():
    """Ready to take traffic: the database answers and its schema is at the code's migration head (a host started
    with new code before `flask db upgrade` is not ready). The balancer's health check is /healthz (cheap); this is
    for deploys and operators."""
    checks: dict[str, str] = {}
    ready = True
    try:
        current = set(db.session.scalars(sa.text("SELECT version_num FROM alembic_version")))
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - unreachable database or no alembic_version table: not ready either way
        db.session.rollback()
        current = None
        try:
            db.session.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
        except Exception:  # noqa: BLE001
            db.session.rollback()
            checks["database"] = "unreachable"
    heads = _migration_heads()
    if current is None:
        checks["migrations"] = "unknown" if checks["database"] != "ok" else "missing"
        ready = False
    elif current == heads:
        checks["migrations"] = "current"
    else:
        checks["migrations"] = "pending"
        ready = False
    if checks["database"] != "ok":
        ready = False
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        try:
            redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2).ping()
            checks["redis"] = "ok"
        except Exception:  # noqa: BLE001
            checks["redis"] = "unreachable"
            ready = False
    body = {"status": "ready" if ready else "not ready", **checks,
            "revision": sorted(current) if current else None, "head": sorted(heads)}
    return jsonify(body), 200 if ready else 503
