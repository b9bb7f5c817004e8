from flask import Blueprint

bp = Blueprint("openday", __name__)

from app.openday import views  # noqa: E402,F401
