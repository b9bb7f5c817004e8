from flask import Blueprint

bp = Blueprint("oversight", __name__)

from app.oversight import myspace, reach, views  # noqa: E402,F401  (routes register on bp)
