"""Home page and health check."""
from __future__ import annotations

import importlib

import sqlalchemy as sa
from flask import current_app, jsonify, render_template
from flask.typing import ResponseReturnValue

from app.core import bp
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
