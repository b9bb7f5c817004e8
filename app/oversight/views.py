"""The oversight dashboard (政务公开办), the lists behind its figures, compliance per department and quarter with
SVG charts and CSV / XLSX downloads, and the printable periodic report. Admin only."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.accounts.models import Department
from app.accounts.permissions import admin_required
from app.core import exports
from app.core.timeutil import local, utcnow
from app.extensions import db
from app.i18n import current_language
from app.oversight import bp, charts, metrics, operations


def _localized(rows: list[dict]) -> list[dict]:
    """Rows with their department's English name on English pages (downloads keep the Chinese names)."""
    if current_language() != "en":
        return rows
    names = dict(db.session.execute(sa.select(Department.name, Department.name_en)).all())
    return [{**row, "department": names.get(row.get("department")) or row.get("department")} for row in rows]


def _period(default_quarter: bool = True) -> metrics.Period:
    key = request.args.get("period") or metrics.quarter_of(local(utcnow()).date())
    try:
        return metrics.parse_period(key)
    except metrics.PeriodError:
        abort(400)


@bp.route("/manage/oversight")
@admin_required
def manage_dashboard() -> ResponseReturnValue:
    now = utcnow()
    return render_template("oversight/dashboard.html", data=metrics.dashboard(now), now=now,
                           period=metrics.quarter_of(local(now).date()), month=local(now).strftime("%Y-%m"),
                           scheduler=operations.scheduler_status(now), outbox=operations.outbox_counts(),
                           OutboxState=operations.OutboxState)


@bp.route("/manage/oversight/list/<name>")
@admin_required
def manage_list(name: str) -> ResponseReturnValue:
    if name not in metrics.FIGURES:
        abort(404)
    rows = _localized(metrics.figure_list(name, utcnow()))
    return render_template("oversight/list.html", name=name, rows=rows)


@bp.route("/manage/oversight/compliance")
@admin_required
def manage_compliance() -> ResponseReturnValue:
    period = _period()
    rows = _localized(metrics.compliance_rows(period))
    chart_list = [(label, charts.bar_chart(rows, key, label)) for key, label in charts.chart_series()]
    return render_template("oversight/compliance.html", rows=rows, period=period, charts=chart_list)


def _compliance_download(fmt: str):
    """Compliance per department as CSV or XLSX (figures, no personal data: not audited)."""
    period = _period()
    rows = ([row[c] for c in metrics.COMPLIANCE_COLUMNS] for row in metrics.compliance_rows(period))
    return exports.download(fmt, f"compliance-{period.key}", metrics.COMPLIANCE_COLUMNS, rows,
                            sheet_name=period.key)


@bp.route("/manage/oversight/compliance.csv")
@admin_required
def manage_compliance_csv() -> ResponseReturnValue:
    return _compliance_download("csv")


@bp.route("/manage/oversight/compliance.xlsx")
@admin_required
def manage_compliance_xlsx() -> ResponseReturnValue:
    return _compliance_download("xlsx")


@bp.route("/manage/oversight/report")
@admin_required
def manage_report() -> ResponseReturnValue:
    period = _period()
    now = utcnow()
    rows = _localized(metrics.compliance_rows(period, now))
    chart_list = [(label, charts.bar_chart(rows, key, label)) for key, label in charts.chart_series()]
    kind = _("季度通报") if "Q" in period.key else (_("年度通报") if len(period.key) == 4 else _("月度通报"))
    return render_template("oversight/report.html", rows=rows, period=period, charts=chart_list, kind=kind,
                           data=metrics.dashboard(now), now=now)
