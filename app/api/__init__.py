"""Open-data API v1 (read only) with its generated OpenAPI document, and the public feeds."""
from flask import Blueprint, current_app

from app.extensions import limiter

bp = Blueprint("api", __name__)

# One limit per client address for every API and feed address.
limiter.limit(lambda: current_app.config.get("API_RATE_LIMIT", "300 per minute"))(bp)

from app.api import core, feeds, messages, openapi, views  # noqa: E402,F401
