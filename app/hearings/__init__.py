from flask import Blueprint

bp = Blueprint("hearings", __name__)

from app.hearings import manage, manage_relax, review, views  # noqa: E402,F401  (routes register on bp)
