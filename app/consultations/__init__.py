from flask import Blueprint

bp = Blueprint("consultations", __name__)

from app.consultations import manage, views  # noqa: E402,F401  (routes register on bp)
