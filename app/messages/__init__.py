from flask import Blueprint

bp = Blueprint("messages", __name__)

from app.messages import forwarding, manage, manage_office, manage_reports, views  # noqa: E402,F401  (routes register on bp)
