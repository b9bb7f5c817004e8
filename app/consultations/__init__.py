from flask import Blueprint

bp = Blueprint("consultations", __name__)

from app.consultations import manage, manage_redact, views  # noqa: E402,F401  (routes register on bp)
