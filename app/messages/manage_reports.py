"""Staff pages of messages for the office and the departments: the periodic report (printable, CSV, XLSX, charts)
and common problems (propose from grouping, confirm with the source action).

Thin: load, authorise, validate, call a service, commit once, flash, redirect.
"""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.accounts.models import DISTRICTS, Department, Role, Tag
from app.accounts.permissions import admin_required, staff_required
from app.core import exports
from app.core.errors import commit_or_explain, form_status, submit
from app.core.inputs import parse_id
from app.core.periods import Period, PeriodError, parse_period
from app.core.timeutil import local_today, utcnow
from app.extensions import db
from app.i18n import current_language
from app.messages import bp, problems, reports
from app.messages.forms import ConfirmProblemForm
from app.messages.models import ActionKind, CommonProblem, Message


def period_or_400(key: str | None) -> Period:
    try:
        return parse_period(key or reports.default_period())
    except PeriodError:
        abort(400)


def _scope() -> int | None:
    """A department sees its own figures; the office every department's."""
    return None if current_user.role is Role.ADMIN else current_user.department_id


@bp.route("/manage/messages/report")
@staff_required
def manage_report() -> ResponseReturnValue:
    period = period_or_400(request.args.get("period"))
    data = reports.figures(period, department_id=_scope())
    return render_template("messages/manage/report.html", data=data, period=period, charts=reports.charts(data, current_language()),
                           problems=reports.problems_in(period), generated_at=utcnow(),
                           last_day=period.end - timedelta(days=1))


@bp.route("/manage/messages/report.<fmt>")
@staff_required
def manage_report_download(fmt: str) -> ResponseReturnValue:
    exports.format_or_404(fmt)
    period = period_or_400(request.args.get("period"))
    data = reports.figures(period, department_id=_scope())
    return exports.download(fmt, f"messages-report-{period.key}", reports.EXPORT_HEADER,
                            reports.export_rows(data, current_language()), sheet_name=period.key)


# ---------------------------------------------------------------------------------------------------------------
# Common problems


def _date(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


def _id(name: str) -> int | None:
    """A department or tag chosen in the form (or the query): an id 1..2^31-1, else 400 (only a forged request
    sends another)."""
    raw = request.values.get(name)
    if not raw:
        return None
    value = parse_id(raw)
    if value is None:
        abort(400)
    return value


@bp.route("/manage/messages/problems", methods=["GET", "POST"])
@admin_required
def manage_problems() -> ResponseReturnValue:
    today = local_today()
    start = _date(request.values.get("start"), today - timedelta(days=90))
    end = _date(request.values.get("end"), today)
    department_id, tag_id = _id("department"), _id("tag")
    district = request.values.get("district") if request.values.get("district") in DISTRICTS else None
    topic = request.values.get("mode") == "topic"
    if request.method == "POST":
        created = commit_or_explain(lambda: problems.propose(
            current_user, start=start, end=end, department_id=department_id, district=district, tag_id=tag_id,
            threshold=problems.TOPIC if topic else problems.NEAR_DUPLICATE))
        if created is not None:
            flash(_("发现%(n)s组可能的共性问题，请逐一确认。", n=len(created)), "success")
        return redirect(url_for("messages.manage_problems", start=start, end=end, department=department_id,
                                district=district, tag=tag_id, mode="topic" if topic else None))
    items = db.session.scalars(sa.select(CommonProblem).options(selectinload(CommonProblem.messages))
                               .order_by(CommonProblem.confirmed_at.is_not(None), CommonProblem.id.desc())
                               .limit(100)).all()
    lang = current_language()
    return render_template(
        "messages/manage/problems.html", items=items, start=start, end=end, department_id=department_id,
        district=district, tag_id=tag_id, topic=topic,
        departments=db.session.scalars(sa.select(Department).order_by(Department.id)).all(),
        tags=db.session.scalars(sa.select(Tag).where(Tag.is_active.is_(True)).order_by(Tag.id)).all(),
        districts=[(code, names[1] if lang == "en" else names[0]) for code, names in DISTRICTS.items()])


@bp.route("/manage/messages/problems/<int:id>", methods=["GET", "POST"])
@admin_required
def manage_problem(id: int) -> ResponseReturnValue:
    problem = db.get_or_404(CommonProblem, id)
    form = ConfirmProblemForm()
    if request.method == "GET":
        form.title.data = problem.title
    if not problem.is_confirmed and submit(form, lambda: problems.confirm(
            current_user, problem, title=form.title.data, action_kind=ActionKind(form.action_kind.data),
            action_text=form.action_text.data, action_link=form.action_link.data or ""),
            _("已确认为共性问题，已告知每位留言人。")):
        return redirect(url_for("messages.manage_problem", id=id))
    return render_template("messages/manage/problem.html", problem=problem, form=form), form_status(form)


@bp.route("/manage/messages/problems/<int:id>/remove/<int:message_id>", methods=["POST"])
@admin_required
def manage_problem_remove(id: int, message_id: int) -> ResponseReturnValue:
    problem = db.get_or_404(CommonProblem, id)
    message = db.get_or_404(Message, message_id)
    commit_or_explain(lambda: problems.remove_message(current_user, problem, message), _("已移出。"))
    if db.session.get(CommonProblem, id) is None:
        return redirect(url_for("messages.manage_problems"))
    return redirect(url_for("messages.manage_problem", id=id))

