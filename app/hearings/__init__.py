from flask import Blueprint

bp = Blueprint("hearings", __name__)

from app.hearings import views  # noqa: E402,F401
