"""Public pages of the Open Month: the catalogue, sign-up, tickets, ratings and the vote.

Thin: load, authorise, validate, call a service, commit once, flash, redirect.
"""
from __future__ import annotations

import calendar
import io
from datetime import date, datetime, timedelta

import segno
import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from icalendar import Calendar, Event

from app.accounts.models import DISTRICTS, Department, Tag
from app.accounts.permissions import (can_manage_department, login_required, owned_or_404, shown_or_404,
                                      verified_required, visible_or_404)
from app.core import confirm
from app.core.errors import INVALID, commit, commit_or_explain, submit
from app.core.hotcommit import commit_then_flush
from app.core.timeutil import SHANGHAI, format_local, from_local, local, utcnow
from app.extensions import db, limiter
from app.openday import bp, images, services, signup, votes
from app.openday.forms import RatingForm, SignUpForm
from app.openday.models import (
    Activity,
    ActivityMode,
    ActivitySession,
    ActivityState,
    OpenDayError,
    Rating,
    Registration,
    RegistrationState,
)
from app.templating import url_with
from app.core.inputs import arg_date, arg_int, parse_date
from app.core.paging import parse_stamp_cursor

RS = RegistrationState
PAGE_SIZE = 20


def _public_activity(activity_id: int) -> Activity:
    return visible_or_404(Activity, activity_id, _is_public)


def _is_public(activity: Activity) -> bool:
    return activity.is_public


# ------------------------------------------------------------------------------------------- the catalogue

def _filters():
    return {
        "district": request.args.get("district") or None,
        "department": arg_int("department", lenient=True),
        "mode": request.args.get("mode") if request.args.get("mode") in {m.value for m in ActivityMode} else None,
        "day": arg_date("date", lenient=True),
        "tag": arg_int("tag", lenient=True),
    }


def _filtered_activities(f):
    stmt = sa.select(Activity).where(Activity.published_at.is_not(None))
    if f["district"]:
        stmt = stmt.where(Activity.district == f["district"])
    if f["department"]:
        stmt = stmt.where(Activity.department_id == f["department"])
    if f["mode"]:
        stmt = stmt.where(Activity.mode == ActivityMode(f["mode"]))
    if f["tag"]:
        stmt = stmt.where(Activity.tags.any(Tag.id == f["tag"]))
    if f["day"]:
        start = from_local(f["day"])
        stmt = stmt.where(Activity.sessions.any(sa.and_(ActivitySession.starts_at >= start,
                                                        ActivitySession.starts_at < start + timedelta(days=1))))
    return stmt


@bp.route("/openday/")
def index() -> ResponseReturnValue:
    f = _filters()
    view = "calendar" if request.args.get("view") == "calendar" else "list"
    now = utcnow()
    month_arg = request.args.get("month", "")
    try:
        year, month = (int(x) for x in month_arg.split("-"))
        if parse_date(f"{date(year, month, 1):%Y-%m-%d}") is None:
            raise ValueError(month_arg)
    except ValueError:
        year, month = _opening_month(f, now)
    activities, next_url, weeks = [], None, []
    if view == "list":
        stmt = _filtered_activities(f)
        after = request.args.get("after", "")
        if after:
            cursor = parse_stamp_cursor(after, SHANGHAI)
            if cursor is None:
                abort(400)
            stmt = stmt.where(sa.tuple_(Activity.first_starts_at, Activity.id) > cursor)
        stmt = stmt.options(sa.orm.selectinload(Activity.sessions), sa.orm.joinedload(Activity.department),
                            sa.orm.selectinload(Activity.tags))
        rows = db.session.scalars(stmt.order_by(Activity.first_starts_at, Activity.id).limit(PAGE_SIZE + 1)).all()
        activities = rows[:PAGE_SIZE]
        if len(rows) > PAGE_SIZE and activities[-1].first_starts_at:
            last = activities[-1]
            next_url = url_with_after(f"{int(last.first_starts_at.timestamp())}_{last.id}")
    else:
        first = from_local(date(year, month, 1))
        last_day = calendar.monthrange(year, month)[1]
        end = from_local(date(year, month, last_day)) + timedelta(days=1)
        ids = _filtered_activities(f).with_only_columns(Activity.id)
        sessions = db.session.scalars(
            sa.select(ActivitySession).where(ActivitySession.activity_id.in_(ids), ActivitySession.starts_at >= first,
                                             ActivitySession.starts_at < end)
            .options(sa.orm.joinedload(ActivitySession.activity)).order_by(ActivitySession.starts_at)).all()
        by_day: dict[date, list] = {}
        for s in sessions:
            by_day.setdefault(local(s.starts_at).date(), []).append(s)
        for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
            weeks.append([(d, d.month == month, by_day.get(d, [])) for d in week])
    departments = db.session.scalars(sa.select(Department).where(
        Department.id.in_(sa.select(Activity.department_id).where(Activity.published_at.is_not(None))))
        .order_by(Department.name)).all()
    tags = db.session.scalars(sa.select(Tag).where(Tag.is_active).order_by(Tag.kind, Tag.id)).all()
    prev_month = date(year, month, 1) - timedelta(days=1)
    next_month = date(year, month, 28) + timedelta(days=7)
    return render_template("openday/index.html", activities=activities, next_url=next_url, f=f, view=view,
                           weeks=weeks, year=year, month=month, departments=departments, tags=tags, districts=list(DISTRICTS),
                           modes=list(ActivityMode), prev_month=f"{prev_month.year}-{prev_month.month:02d}",
                           next_month=f"{next_month.year}-{next_month.month:02d}", window=votes.current_window(),
                           now=now)


def _opening_month(f, now: datetime) -> tuple[int, int]:
    """The calendar opens on the month of the next session open for sign-up (else the next session, else now)."""
    ids = _filtered_activities(f).where(Activity.state_clause(ActivityState.PUBLISHED)).with_only_columns(Activity.id)
    upcoming = sa.select(sa.func.min(ActivitySession.starts_at)).join(Activity).where(
        ActivitySession.activity_id.in_(ids), ActivitySession.starts_at > now)
    first = (db.session.scalar(upcoming.where(Activity.signup_opens_at <= now, Activity.signup_closes_at > now))
             or db.session.scalar(upcoming) or now)
    day = local(first).date()
    return day.year, day.month


def url_with_after(after: str) -> str:

    return url_with(after=after)


@bp.route("/openday/<int:activity_id>")
def show(activity_id: int) -> ResponseReturnValue:
    activity = _public_activity(activity_id)
    mine = {}
    if current_user.is_authenticated:
        mine = {r.session_id: r for r in db.session.scalars(sa.select(Registration).where(
            Registration.activity_id == activity.id, Registration.user_id == current_user.id))}
    forms = {s.id: SignUpForm(prefix=f"s{s.id}", max_companions=activity.max_companions) for s in activity.sessions}
    return render_template("openday/show.html", activity=activity, mine=mine, forms=forms, now=utcnow(),
                           can_manage=can_manage_department(current_user, activity.department_id))


@bp.route("/openday/images/<name>")
def image(name: str) -> ResponseReturnValue:
    return images.send_image(name)


# --------------------------------------------------------------------------------------- sign-up, ticket

@bp.route("/openday/sessions/<int:session_id>/sign-up", methods=["POST"])
@verified_required
def sign_up(session_id: int) -> ResponseReturnValue:
    # The busiest page of the Open Month: the session and its activity are read once, as plain copies (signup.load).
    session = signup.load(session_id, person_id=current_user.id)  # and, on PostgreSQL, the person's lock
    if session is None:
        abort(404)
    shown_or_404(session.activity, _is_public)
    activity_id = session.activity_id
    # CSRFProtect has checked this POST's token before the view (and a form then skips its own check): no csrf
    # field, so none is built and signed for a page that is never shown.
    form = SignUpForm(prefix=f"s{session.id}", max_companions=session.activity.max_companions, meta={"csrf": False})
    if not form.validate_on_submit():
        flash(_("请检查同行人数。"), "error")
        return redirect(url_for("openday.show", activity_id=activity_id))
    try:
        done = signup.sign_up(current_user, session, companions=form.companions.data or 0)
    except OpenDayError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("openday.show", activity_id=activity_id, _anchor=f"session-{session_id}"))
    commit_then_flush()
    # The ticket page says how it went (``signed_up``), from the registration itself: a flash would be kept in the
    # session cookie, signed again here and once more when the ticket page takes it out.
    return redirect(url_for("openday.ticket", registration_id=done.id, signed_up=1))


def _my_registration(registration_id: int) -> Registration:
    return owned_or_404(Registration, registration_id, user_id=current_user.id)


@bp.route("/openday/tickets/")
@login_required
def my_tickets() -> ResponseReturnValue:
    regs = db.session.scalars(sa.select(Registration).where(Registration.user_id == current_user.id)
                              .options(sa.orm.joinedload(Registration.activity))
                              .order_by(Registration.starts_at.desc()).limit(200)).all()
    return render_template("openday/my_tickets.html", registrations=regs)


@bp.route("/openday/tickets/<int:registration_id>")
@login_required
def ticket(registration_id: int) -> ResponseReturnValue:
    reg = _my_registration(registration_id)
    rating = db.session.scalar(sa.select(Rating).where(Rating.registration_id == reg.id))
    return render_template("openday/ticket.html", reg=reg, activity=reg.activity, session=reg.session, now=utcnow(),
                           rank=services.waitlist_rank(reg), rating=rating, rating_form=RatingForm(),
                           leave=_leave_words(reg), signed_up=_signed_up_words(reg))


def _signed_up_words(reg: Registration) -> tuple[str, str] | None:
    """Right after signing up (the sign-up's redirect says ``signed_up``): what happened, as (category, text)."""
    if not request.args.get("signed_up"):
        return None
    if reg.state is RS.CONFIRMED:
        return "success", _("报名成功！电子票已发送到您的邮箱。")
    if reg.state is RS.WAITLISTED:
        return "info", _("名额已满，您已加入候补名单，序号 %(n)d。", n=reg.waitlist_position)
    return None


def _leave_words(reg: Registration) -> tuple[str, str, str]:
    """What leaving means in the registration's state: (button, question, done)."""
    if reg.state is RS.WAITLISTED:
        return (_("放弃候补"), _("确定要退出候补名单吗？您的候补位置将让给排在后面的人。"), _("已退出候补名单。"))
    if reg.state is RS.OFFERED:
        return (_("放弃名额"), _("确定要放弃留给您的名额吗？名额将让给下一位候补者。"), _("已放弃名额。"))
    return (_("取消报名"), _("确定要取消报名吗？您的座位将让给候补者，取消后不能恢复。"), _("已取消报名。"))


@bp.route("/openday/tickets/<int:registration_id>/qr.svg")
@login_required
def ticket_qr(registration_id: int) -> ResponseReturnValue:
    reg = _my_registration(registration_id)
    if not reg.has_ticket:
        abort(404)
    out = io.BytesIO()
    segno.make(reg.ticket_code, error="m").save(out, kind="svg", scale=8, border=2, title=reg.short_code)
    return Response(out.getvalue(), mimetype="image/svg+xml", headers={"Cache-Control": "private, no-store"})


@bp.route("/openday/tickets/<int:registration_id>/ticket.ics")
@login_required
def ticket_ics(registration_id: int) -> ResponseReturnValue:
    reg = _my_registration(registration_id)
    if not reg.has_ticket:
        abort(404)
    cal = Calendar()
    cal.add("prodid", "-//Canyu//Open Month//ZH")
    cal.add("version", "2.0")
    ev = Event()
    ev.add("uid", f"openday-registration-{reg.id}@canyu")
    ev.add("summary", reg.activity.title)
    ev.add("dtstart", reg.session.starts_at)
    ev.add("dtend", reg.session.ends_at)
    ev.add("dtstamp", utcnow())
    if reg.activity.is_offline:
        ev.add("location", reg.activity.address)
    ev.add("description", _("票号（短码）：%(code)s", code=reg.short_code) + "\n"
           + url_for("openday.ticket", registration_id=reg.id, _external=True))
    cal.add_component(ev)
    return Response(cal.to_ical(), mimetype="text/calendar",
                    headers={"Content-Disposition": f"attachment; filename=openday-{reg.id}.ics"})


@bp.route("/openday/tickets/<int:registration_id>/cancel", methods=["POST"])
@login_required
def cancel(registration_id: int) -> ResponseReturnValue:
    reg = _my_registration(registration_id)
    button, question, done = _leave_words(reg)
    return confirm.act(question, lambda: services.cancel_registration(current_user, reg), done,
                       back=url_for("openday.ticket", registration_id=reg.id), button=button,
                       detail=f"{reg.activity.title} · {format_local(reg.session.starts_at)}")


@bp.route("/openday/tickets/<int:registration_id>/accept", methods=["POST"])
@login_required
def accept(registration_id: int) -> ResponseReturnValue:
    reg = _my_registration(registration_id)
    commit_or_explain(lambda: services.accept_offer(current_user, reg), _("您已接受名额，报名成功！"))
    return redirect(url_for("openday.ticket", registration_id=reg.id))


@bp.route("/openday/tickets/<int:registration_id>/rate", methods=["POST"])
@login_required
def rate(registration_id: int) -> ResponseReturnValue:
    reg = _my_registration(registration_id)
    form = RatingForm()
    if submit(form, lambda: services.rate(current_user, reg, form.stars.data, form.comment.data), _("感谢您的评价！")):
        return redirect(url_for("openday.ticket", registration_id=reg.id))
    rating = db.session.scalar(sa.select(Rating).where(Rating.registration_id == reg.id))
    return render_template("openday/ticket.html", reg=reg, activity=reg.activity, session=reg.session, now=utcnow(),
                           rank=services.waitlist_rank(reg), rating=rating, rating_form=form,
                           leave=_leave_words(reg)), INVALID


# ------------------------------------------------------------------------------------------------ the vote

def _vote_key() -> str:
    return f"user:{current_user.id}" if current_user.is_authenticated else (request.remote_addr or "")


@bp.route("/openday/vote")
def vote() -> ResponseReturnValue:
    window = votes.current_window()
    now = utcnow()
    activities, mine, results = [], set(), []
    if window is not None:
        if window.results_visible(now):
            results = votes.ranking(window)
        if window.is_open(now):
            year_start, year_end = from_local(date(window.year, 1, 1)), from_local(date(window.year + 1, 1, 1))
            activities = db.session.scalars(
                sa.select(Activity).where(Activity.state_clause(ActivityState.PUBLISHED),
                                          Activity.first_starts_at >= year_start, Activity.first_starts_at < year_end)
                .options(sa.orm.joinedload(Activity.department)).order_by(Activity.first_starts_at)).all()
            if current_user.is_authenticated:
                mine = {v.activity_id for v in votes.active_votes(window, current_user)}
    return render_template("openday/vote.html", window=window, now=now, activities=activities, mine=mine,
                           results=results)


@bp.route("/openday/vote/<int:activity_id>", methods=["POST"])
@limiter.limit("30 per hour", key_func=_vote_key)
@limiter.limit("60 per hour")
@verified_required
def cast_vote(activity_id: int) -> ResponseReturnValue:
    activity = _public_activity(activity_id)
    window = votes.current_window()
    if window is None:
        abort(404)
    try:
        if request.form.get("action") == "withdraw":
            votes.withdraw_vote(current_user, window, activity)
            message = _("已收回您对“%(title)s”的投票。", title=activity.title)
        else:
            votes.cast_vote(current_user, window, activity, ip_address=request.remote_addr or "",
                               user_agent=request.user_agent.string)
            message = _("已为“%(title)s”投票。", title=activity.title)
    except OpenDayError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        commit()
        flash(message, "success")
    return redirect(url_for("openday.vote"))


@bp.record_once
def _enums_for_templates(state) -> None:
    """Templates compare states with the members themselves (``reg.state == RegistrationState.CANCELLED``)."""
    state.app.jinja_env.globals.update(ActivityState=ActivityState, RegistrationState=RegistrationState)
