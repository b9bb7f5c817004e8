"""Cross-cutting pieces: the home page, health check, errors, language and display preferences."""
from flask import Blueprint

bp = Blueprint("core", __name__)

from app.core import views  # noqa: E402,F401  (routes register on bp)
