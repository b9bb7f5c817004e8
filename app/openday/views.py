from flask import render_template

from app.openday import bp


@bp.route("/openday/")
def index():
    return render_template("openday/index.html")
