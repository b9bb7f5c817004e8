from flask import Blueprint

bp = Blueprint("oversight", __name__)

from app.oversight import reach, views  # noqa: E402,F401
