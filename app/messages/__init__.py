from flask import Blueprint

bp = Blueprint("messages", __name__)

from app.messages import manage, views  # noqa: E402,F401  (routes register on bp)
