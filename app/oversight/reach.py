"""Targeted invitations: the tracked link in the invitation e-mail, and the staff page that shows the reach of a
consultation's invitations per target group."""
from __future__ import annotations

from flask import abort, redirect, render_template
from flask.typing import ResponseReturnValue

from app.accounts.permissions import managed_or_404, staff_required
from app.consultations.models import Consultation
from app.extensions import db
from app.oversight import bp, services
from app.oversight.labels import TARGET_GROUP_LABELS


@bp.route("/invitations/<token>")
def open_invitation(token: str) -> ResponseReturnValue:
    key = services.read_open_token(token)
    invitation = services.mark_opened(*key) if key is not None else None
    if invitation is None:
        abort(404)
    db.session.commit()
    return redirect(f"/consultations/{invitation.consultation_id}")


def group_label(group: str) -> str:
    if group.startswith("named:"):
        return group[len("named:"):]
    return str(TARGET_GROUP_LABELS.get(group, group))


@bp.route("/manage/consultations/<int:consultation_id>/reach")
@staff_required
def manage_reach(consultation_id: int) -> ResponseReturnValue:

    consultation = managed_or_404(Consultation, consultation_id)
    rows = services.reach_by_group(consultation.id)
    for row in rows:
        row["label"] = group_label(row["group"])
    totals = {k: sum(r[k] for r in rows) for k in ("invited", "opened", "commented")}
    return render_template("oversight/reach.html", consultation=consultation, rows=rows, totals=totals)
