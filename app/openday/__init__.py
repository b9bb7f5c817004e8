from flask import Blueprint

bp = Blueprint("openday", __name__)

from app.openday import manage, views  # noqa: E402,F401  (routes register on bp)
