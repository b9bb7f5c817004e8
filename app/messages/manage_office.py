"""The office's pages for forwarded messages (市政府办公厅, the oversight admin): batch imports with their line-by-line
reports, and the forwarding systems' tokens.

Thin: load, authorise, validate, call a service, commit once, flash, redirect.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.permissions import admin_required
from app.core.errors import commit_or_explain, form_status, show_error
from app.extensions import db
from app.messages import bp, forwarding, imports
from app.messages.forms import ImportForm, TokenForm
from app.messages.models import ForwardingToken, ImportBatch, MessageError, MessageSource


def _recent_batches() -> list[ImportBatch]:
    return list(db.session.scalars(sa.select(ImportBatch).order_by(ImportBatch.id.desc()).limit(20)))


@bp.route("/manage/messages/import", methods=["GET", "POST"])
@admin_required
def manage_import() -> ResponseReturnValue:
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        upload = request.files.get(form.file.name)
        if upload is None or not upload.filename:
            form.file.errors = list(form.file.errors) + [_("请选择要导入的文件。")]
        else:
            data = upload.stream.read(imports.MAX_BYTES + 1)
            try:
                report = imports.import_file(current_user, MessageSource(form.source.data), upload.filename, data)
                db.session.commit()
            except MessageError as error:
                db.session.rollback()
                show_error(form, error)
    status = form_status(form) if report is None else 200
    return render_template("messages/manage/import.html", form=form, report=report,
                           batches=_recent_batches()), status


@bp.route("/manage/messages/import/<int:id>")
@admin_required
def manage_import_report(id: int) -> ResponseReturnValue:
    batch = db.get_or_404(ImportBatch, id)
    return render_template("messages/manage/import_report.html", batch=batch)


@bp.route("/manage/messages/tokens", methods=["GET", "POST"])
@admin_required
def manage_tokens() -> ResponseReturnValue:
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        try:
            _row, new_token = forwarding.create_token(current_user, MessageSource(form.source.data), form.label.data)
            db.session.commit()
        except MessageError as error:
            db.session.rollback()
            show_error(form, error)
    tokens = db.session.scalars(sa.select(ForwardingToken).order_by(ForwardingToken.id.desc())).all()
    response = render_template("messages/manage/tokens.html", form=form, tokens=tokens, new_token=new_token)
    return response, (200 if new_token else form_status(form)), {"Cache-Control": "no-store"}


@bp.route("/manage/messages/tokens/<int:id>/revoke", methods=["POST"])
@admin_required
def manage_token_revoke(id: int) -> ResponseReturnValue:
    row = db.get_or_404(ForwardingToken, id)
    if row.revoked_at is not None:
        abort(404)
    commit_or_explain(lambda: forwarding.revoke_token(current_user, row), _("令牌已吊销。"))
    return redirect(url_for("messages.manage_tokens"))


@bp.route("/manage/messages/import/format")
@admin_required
def import_format() -> ResponseReturnValue:
    """The column layout of a batch file (also in docs/messages-import.md)."""
    return render_template("messages/manage/import_format.html")
