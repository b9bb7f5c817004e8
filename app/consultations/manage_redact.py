"""Staff page: hide a phrase (a name the writer typed) in a comment's public text (issue 10)."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.permissions import staff_required
from app.consultations import bp, redaction
from app.consultations.forms import RedactForm
from app.consultations.manage import _managed_or_404, _part_of
from app.consultations.models import Comment, ConsultationError
from app.core.errors import form_status, show_error
from app.extensions import db


@bp.route("/manage/consultations/<int:id>/comments/<int:comment_id>/redact", methods=["GET", "POST"])
@staff_required
def manage_redact(id: int, comment_id: int) -> ResponseReturnValue:
    c = _managed_or_404(id)
    comment = _part_of(c, Comment, comment_id)
    form = RedactForm()
    if form.validate_on_submit():
        try:
            n = redaction.redact(current_user, c, comment, form.phrase.data)
            db.session.commit()
        except ConsultationError as error:
            db.session.rollback()
            show_error(form, error, "phrase")
        else:
            flash(_("已在公开文本中隐去 %(n)d 处。原文仍保留，仅本部门工作人员可见。", n=n), "success")
            return redirect(url_for("consultations.manage_redact", id=c.id, comment_id=comment.id))
    return render_template("consultations/manage/redact.html", c=c, comment=comment, form=form), form_status(form)
