"""The oversight dashboard (政务公开办), the lists behind its figures, compliance per department and quarter with
SVG charts and CSV / XLSX downloads, and the printable periodic report. Admin only."""
from __future__ import annotations

import csv
import io

from flask import Response, abort, render_template, request
from flask_babel import gettext as _

from app.accounts.permissions import admin_required
from app.core.timeutil import local, utcnow
from app.oversight import bp, charts, metrics


def _period(default_quarter: bool = True) -> metrics.Period:
    key = request.args.get("period") or metrics.quarter_of(local(utcnow()).date())
    try:
        return metrics.parse_period(key)
    except metrics.PeriodError:
        abort(400)


@bp.route("/manage/oversight")
@admin_required
def manage_dashboard():
    now = utcnow()
    return render_template("oversight/dashboard.html", data=metrics.dashboard(now), now=now,
                           period=metrics.quarter_of(local(now).date()), month=local(now).strftime("%Y-%m"))


@bp.route("/manage/oversight/list/<name>")
@admin_required
def manage_list(name: str):
    if name not in metrics.FIGURES:
        abort(404)
    try:
        rows = metrics.figure_list(name, utcnow())
    except ImportError:
        abort(404)
    return render_template("oversight/list.html", name=name, rows=rows)


@bp.route("/manage/oversight/compliance")
@admin_required
def manage_compliance():
    period = _period()
    rows = metrics.compliance_rows(period)
    chart_list = [(label, charts.bar_chart(rows, key, label)) for key, label in charts.chart_series()]
    return render_template("oversight/compliance.html", rows=rows, period=period, charts=chart_list)


@bp.route("/manage/oversight/compliance.csv")
@admin_required
def manage_compliance_csv():
    period = _period()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(metrics.COMPLIANCE_COLUMNS)
    for row in metrics.compliance_rows(period):
        writer.writerow(["" if row[c] is None else row[c] for c in metrics.COMPLIANCE_COLUMNS])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=compliance-{period.key}.csv"})


@bp.route("/manage/oversight/compliance.xlsx")
@admin_required
def manage_compliance_xlsx():
    import xlsxwriter

    period = _period()
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(period.key)
    bold = book.add_format({"bold": True})
    for col, name in enumerate(metrics.COMPLIANCE_COLUMNS):
        sheet.write(0, col, name, bold)
    for r, row in enumerate(metrics.compliance_rows(period), start=1):
        for col, name in enumerate(metrics.COMPLIANCE_COLUMNS):
            if row[name] is not None:
                sheet.write(r, col, row[name])
    book.close()
    return Response(buffer.getvalue(),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename=compliance-{period.key}.xlsx"})


@bp.route("/manage/oversight/report")
@admin_required
def manage_report():
    period = _period()
    now = utcnow()
    rows = metrics.compliance_rows(period)
    chart_list = [(label, charts.bar_chart(rows, key, label)) for key, label in charts.chart_series()]
    kind = _("季度通报") if "Q" in period.key else (_("年度通报") if len(period.key) == 4 else _("月度通报"))
    return render_template("oversight/report.html", rows=rows, period=period, charts=chart_list, kind=kind,
                           data=metrics.dashboard(now), now=now)
