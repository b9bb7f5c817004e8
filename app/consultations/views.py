from flask import render_template

from app.consultations import bp


@bp.route("/consultations/")
def index():
    return render_template("consultations/index.html")
