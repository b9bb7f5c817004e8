"""Staff review of a meeting's applications: a page of applications at a time (keyset on the id), many decisions
in one submission, a reason next to each ineligible one. All or nothing: a missing reason writes nothing."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from app.accounts.permissions import managed_or_404, staff_required
from app.core.errors import INVALID
from app.core.inputs import parse_id
from app.extensions import db
from app.hearings import bp, services
from app.hearings.models import Application, ApplicationState, HearingError, Meeting

PAGE_SIZE = 50
REVIEWABLE = (ApplicationState.SUBMITTED, ApplicationState.ELIGIBLE, ApplicationState.INELIGIBLE)


def _page(meeting: Meeting, after: int, state: ApplicationState | None) -> tuple[list[Application], int | None]:
    stmt = (sa.select(Application).where(Application.meeting_id == meeting.id, Application.id > after)
            .options(selectinload(Application.user), selectinload(Application.pool_entry))
            .order_by(Application.id).limit(PAGE_SIZE + 1))
    if state is not None:
        stmt = stmt.where(Application.state == state)
    rows = list(db.session.scalars(stmt))
    return rows[:PAGE_SIZE], (rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None)


def _after() -> int:
    """The keyset of the page: an application id 1..2^31-1 (0: the first page); anything else is a forged
    address, 400 (a huge one overflowed the database's integer: a server error)."""
    raw = request.values.get("after") or ""
    if raw in ("", "0"):
        return 0
    after = parse_id(raw)
    if after is None:
        abort(400)
    return after


def _counts(meeting: Meeting) -> dict[ApplicationState, int]:
    return dict(db.session.execute(sa.select(Application.state, sa.func.count()).where(
        Application.meeting_id == meeting.id).group_by(Application.state)).all())


def _decisions(rows: list[Application]) -> tuple[list[tuple[Application, bool, str]], dict[int, str]]:
    """The decisions posted for the rows of this page, and the messages of those that lack a reason."""
    mark_rest = bool(request.form.get("all_eligible"))
    decisions, errors = [], {}
    for a in rows:
        choice = request.form.get(f"decision-{a.id}", "")
        reason = (request.form.get(f"reason-{a.id}") or "").strip()
        if not choice and mark_rest and a.state is ApplicationState.SUBMITTED:
            choice = "eligible"
        if choice not in ("eligible", "ineligible") or a.state not in REVIEWABLE:
            continue
        if choice == "ineligible" and not reason:
            errors[a.id] = _("请说明不符合条件的理由。")
        elif len(reason) > 1000:
            errors[a.id] = _("理由不能超过1000字。")
        decisions.append((a, choice == "eligible", reason))
    return decisions, errors


@bp.route("/manage/hearings/<int:id>/applications", methods=["GET", "POST"])
@staff_required
def manage_applications(id: int) -> ResponseReturnValue:
    meeting = managed_or_404(Meeting, id)
    after = _after()
    state = request.values.get("state", "")
    state = next((s for s in ApplicationState if s.value == state), None)
    rows, next_after = _page(meeting, after, state)
    errors: dict[int, str] = {}
    if request.method == "POST":
        decisions, errors = _decisions(rows)
        if not errors and not decisions:
            flash(_("没有选择任何审查结果。"), "info")
        elif not errors:
            try:
                n = services.review_many(current_user, meeting, decisions)
                db.session.commit()
            except HearingError as exc:
                db.session.rollback()
                if exc.field and exc.field.startswith("reason-"):
                    errors[int(exc.field.split("-")[1])] = str(exc)
                else:
                    flash(str(exc), "error")
            else:
                flash(_("已保存 %(n)d 份审查结果，并已通知申请人。", n=n), "success")
                return redirect(url_for("hearings.manage_applications", id=meeting.id, after=after or None,
                                        state=state.value if state else None))
    status = INVALID if errors else 200
    return render_template("hearings/manage/applications.html", meeting=meeting, rows=rows, errors=errors,
                           counts=_counts(meeting), state=state, after=after, next_after=next_after,
                           S=ApplicationState, REVIEWABLE=REVIEWABLE, posted=request.form), status
