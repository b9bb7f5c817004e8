from flask import render_template

from app.hearings import bp


@bp.route("/hearings/")
def index():
    return render_template("hearings/index.html")
