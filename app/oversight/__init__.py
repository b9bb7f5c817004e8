from flask import Blueprint

bp = Blueprint("oversight", __name__)

from app.oversight import views  # noqa: E402,F401
