from flask import jsonify, url_for

from app.api import bp


@bp.route("/api/v1/")
def index():
    return jsonify({"name": "Canyu open data API", "version": "v1", "openapi": url_for("api.index", _external=False)})
