"""Pages of the Open Month: the catalogue, sign-up, tickets, ratings, the vote; staff pages under /manage/openday.

Views are thin: load, authorise, validate, call a service, commit once, flash, redirect.
"""
from __future__ import annotations

import calendar
import csv
import io
from datetime import date, datetime, timedelta

import segno
import sqlalchemy as sa
from flask import (
    Response, abort, flash, jsonify, redirect, render_template, request,
    stream_with_context, url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from icalendar import Calendar, Event

from app.accounts.models import DISTRICTS, Department, Tag, User
from app.accounts.permissions import (
    admin_required, can_manage_department, ensure_can_manage, login_required, scope_to_managed, staff_required,
    verified_required,
)
from app.core.timeutil import SHANGHAI, from_local, local, utcnow
from app.extensions import db, limiter
from app.core.storage import Upload
from app.openday import bp, images, services
from app.openday.forms import (
    ActivityForm, CancelActivityForm, CheckInForm, MessageForm, RatingForm, SessionForm, SignUpForm,
    VotingWindowForm, local_to_utc,
)
from app.openday.models import (
    Activity, ActivityMode, ActivitySession, CheckIn, CheckInResult, Eligibility, OpenDayError, Rating,
    Registration, RegistrationState, Vote,
)

RS = RegistrationState
PAGE_SIZE = 20


def _int_arg(name: str) -> int | None:
    try:
        return int(request.args.get(name, ""))
    except ValueError:
        return None


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _public_activity(activity_id: int) -> Activity:
    activity = db.get_or_404(Activity, activity_id)
    if not activity.is_public and not can_manage_department(current_user, activity.department_id):
        abort(404)
    return activity


# ------------------------------------------------------------------------------------------- the catalogue

def _filters():
    return {
        "district": request.args.get("district") or None,
        "department": _int_arg("department"),
        "mode": request.args.get("mode") if request.args.get("mode") in {m.value for m in ActivityMode} else None,
        "day": _date_arg("date"),
        "tag": _int_arg("tag"),
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
def index():
    f = _filters()
    view = "calendar" if request.args.get("view") == "calendar" else "list"
    today = local(utcnow()).date()
    month_arg = request.args.get("month", "")
    try:
        year, month = (int(x) for x in month_arg.split("-"))
        date(year, month, 1)
    except ValueError:
        year, month = (today.year, today.month) if today.month == 8 else (today.year, 8)
    activities, next_url, weeks = [], None, []
    if view == "list":
        stmt = _filtered_activities(f)
        after = request.args.get("after", "")
        if after:
            try:
                ts, aid = after.split("_")
                after_at = datetime.fromtimestamp(int(ts), tz=SHANGHAI)
                stmt = stmt.where(sa.tuple_(Activity.first_starts_at, Activity.id) > (after_at, int(aid)))
            except ValueError:
                pass
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
                           next_month=f"{next_month.year}-{next_month.month:02d}", window=services.current_window())


def url_with_after(after: str) -> str:
    from app.templating import url_with

    return url_with(after=after)


@bp.route("/openday/<int:activity_id>")
def show(activity_id: int):
    activity = _public_activity(activity_id)
    mine = {}
    if current_user.is_authenticated:
        mine = {r.session_id: r for r in db.session.scalars(sa.select(Registration).where(
            Registration.activity_id == activity.id, Registration.user_id == current_user.id))}
    forms = {s.id: SignUpForm(prefix=f"s{s.id}", max_companions=activity.max_companions) for s in activity.sessions}
    return render_template("openday/show.html", activity=activity, mine=mine, forms=forms, now=utcnow(),
                           can_manage=can_manage_department(current_user, activity.department_id))


@bp.route("/openday/images/<name>")
def image(name: str):
    return images.send_image(name)


# --------------------------------------------------------------------------------------- sign-up, ticket

@bp.route("/openday/sessions/<int:session_id>/sign-up", methods=["POST"])
@verified_required
def sign_up(session_id: int):
    session = db.get_or_404(ActivitySession, session_id)
    activity = _public_activity(session.activity_id)
    form = SignUpForm(prefix=f"s{session.id}", max_companions=activity.max_companions)
    if not form.validate_on_submit():
        flash(_("请检查同行人数。"), "error")
        return redirect(url_for("openday.show", activity_id=activity.id))
    try:
        reg = services.sign_up(current_user, session, companions=form.companions.data or 0)
    except OpenDayError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("openday.show", activity_id=activity.id, _anchor=f"session-{session.id}"))
    reg_id, state, position = reg.id, reg.state, reg.waitlist_position
    db.session.commit()
    if state is RS.CONFIRMED:
        flash(_("报名成功！电子票已发送到您的邮箱。"), "success")
    else:
        flash(_("名额已满，您已加入候补名单，序号 %(n)d。", n=position), "info")
    return redirect(url_for("openday.ticket", registration_id=reg_id))


def _my_registration(registration_id: int) -> Registration:
    reg = db.get_or_404(Registration, registration_id)
    if reg.user_id != current_user.id:
        abort(404)
    return reg


def _act(action, success: str) -> None:
    """Run one service call: commit and say so, or roll back and say which rule it broke."""
    try:
        action()
    except OpenDayError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(success, "success")


@bp.route("/openday/tickets/")
@login_required
def my_tickets():
    regs = db.session.scalars(sa.select(Registration).where(Registration.user_id == current_user.id)
                              .options(sa.orm.joinedload(Registration.activity))
                              .order_by(Registration.starts_at.desc()).limit(200)).all()
    return render_template("openday/my_tickets.html", registrations=regs)


@bp.route("/openday/tickets/<int:registration_id>")
@login_required
def ticket(registration_id: int):
    reg = _my_registration(registration_id)
    rating = db.session.scalar(sa.select(Rating).where(Rating.registration_id == reg.id))
    return render_template("openday/ticket.html", reg=reg, activity=reg.activity, session=reg.session, now=utcnow(),
                           rank=services.waitlist_rank(reg), rating=rating, rating_form=RatingForm())


@bp.route("/openday/tickets/<int:registration_id>/qr.svg")
@login_required
def ticket_qr(registration_id: int):
    reg = _my_registration(registration_id)
    if not reg.has_ticket:
        abort(404)
    out = io.BytesIO()
    segno.make(reg.ticket_code, error="m").save(out, kind="svg", scale=8, border=2, title=reg.short_code)
    return Response(out.getvalue(), mimetype="image/svg+xml", headers={"Cache-Control": "private, no-store"})


@bp.route("/openday/tickets/<int:registration_id>/ticket.ics")
@login_required
def ticket_ics(registration_id: int):
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
def cancel(registration_id: int):
    reg = _my_registration(registration_id)
    _act(lambda: services.cancel_registration(current_user, reg), _("已取消报名。"))
    return redirect(url_for("openday.ticket", registration_id=reg.id))


@bp.route("/openday/tickets/<int:registration_id>/accept", methods=["POST"])
@login_required
def accept(registration_id: int):
    reg = _my_registration(registration_id)
    _act(lambda: services.accept_offer(current_user, reg), _("您已接受名额，报名成功！"))
    return redirect(url_for("openday.ticket", registration_id=reg.id))


@bp.route("/openday/tickets/<int:registration_id>/rate", methods=["POST"])
@login_required
def rate(registration_id: int):
    reg = _my_registration(registration_id)
    form = RatingForm()
    if form.validate_on_submit():
        try:
            services.rate(current_user, reg, form.stars.data, form.comment.data)
        except OpenDayError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_("感谢您的评价！"), "success")
            return redirect(url_for("openday.ticket", registration_id=reg.id))
    rating = db.session.scalar(sa.select(Rating).where(Rating.registration_id == reg.id))
    return render_template("openday/ticket.html", reg=reg, activity=reg.activity, session=reg.session, now=utcnow(),
                           rank=services.waitlist_rank(reg), rating=rating, rating_form=form), 400


# ------------------------------------------------------------------------------------------------ the vote

def _vote_key() -> str:
    return f"user:{current_user.id}" if current_user.is_authenticated else (request.remote_addr or "")


@bp.route("/openday/vote")
def vote():
    window = services.current_window()
    now = utcnow()
    activities, mine, results = [], set(), []
    if window is not None:
        if window.results_visible(now):
            results = services.ranking(window)
        if window.is_open(now):
            year_start, year_end = from_local(date(window.year, 1, 1)), from_local(date(window.year + 1, 1, 1))
            activities = db.session.scalars(
                sa.select(Activity).where(Activity.published_at.is_not(None), Activity.cancelled_at.is_(None),
                                          Activity.first_starts_at >= year_start, Activity.first_starts_at < year_end)
                .options(sa.orm.joinedload(Activity.department)).order_by(Activity.first_starts_at)).all()
            if current_user.is_authenticated:
                mine = {v.activity_id for v in services.active_votes(window, current_user)}
    return render_template("openday/vote.html", window=window, now=now, activities=activities, mine=mine,
                           results=results)


@bp.route("/openday/vote/<int:activity_id>", methods=["POST"])
@limiter.limit("30 per hour", key_func=_vote_key)
@limiter.limit("60 per hour")
@verified_required
def cast_vote(activity_id: int):
    activity = _public_activity(activity_id)
    window = services.current_window()
    if window is None:
        abort(404)
    try:
        if request.form.get("action") == "withdraw":
            services.withdraw_vote(current_user, window, activity)
            message = _("已收回您对“%(title)s”的投票。", title=activity.title)
        else:
            services.cast_vote(current_user, window, activity, ip_address=request.remote_addr or "",
                               user_agent=request.user_agent.string)
            message = _("已为“%(title)s”投票。", title=activity.title)
    except OpenDayError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("openday.vote"))


# ----------------------------------------------------------------------------------------------- staff

def _managed_departments():
    stmt = scope_to_managed(sa.select(Department), Department.id)
    return db.session.scalars(stmt.order_by(Department.name)).all()


def _tags():
    return db.session.scalars(sa.select(Tag).where(Tag.is_active).order_by(Tag.kind, Tag.id)).all()


def _save_image(file) -> str | None:
    """Store an uploaded JPG/PNG (checked by content) and return its file name; None when nothing was sent."""
    return images.store_image(Upload(file.filename, stream=file.stream) if file and file.filename else None)


def _activity_fields(form: ActivityForm) -> dict:
    return dict(title=form.title.data.strip(), description=form.description.data.strip(),
                mode=ActivityMode(form.mode.data), district=form.district.data or None,
                address=(form.address.data or "").strip(), access_notes=(form.access_notes.data or "").strip(),
                online_url=(form.online_url.data or "").strip(),
                signup_opens_at=local_to_utc(form.signup_opens_at.data),
                signup_closes_at=local_to_utc(form.signup_closes_at.data),
                eligibility=Eligibility(form.eligibility.data), max_companions=int(form.max_companions.data))


def _field_error(form, exc: OpenDayError) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = list(field.errors) + [exc.message]
    else:
        flash(exc.message, "error")


@bp.route("/manage/openday/")
@staff_required
def manage_index():
    stmt = scope_to_managed(sa.select(Activity), Activity.department_id)
    before = _int_arg("before")
    if before:
        stmt = stmt.where(Activity.id < before)
    rows = db.session.scalars(stmt.options(sa.orm.joinedload(Activity.department),
                                           sa.orm.selectinload(Activity.sessions))
                              .order_by(Activity.id.desc()).limit(PAGE_SIZE + 1)).all()
    activities = rows[:PAGE_SIZE]
    from app.templating import url_with

    next_url = url_with(before=activities[-1].id) if len(rows) > PAGE_SIZE else None
    return render_template("openday/manage_index.html", activities=activities, next_url=next_url)


@bp.route("/manage/openday/new", methods=["GET", "POST"])
@staff_required
def manage_new():
    departments = _managed_departments() if current_user.is_admin else None
    form = ActivityForm(tags=_tags(), departments=departments)
    if request.method == "GET":
        form.signup_opens_at.data = local(utcnow()).replace(second=0, microsecond=0, tzinfo=None)
        form.signup_closes_at.data = (local(utcnow()) + timedelta(days=30)).replace(second=0, microsecond=0,
                                                                                   tzinfo=None)
    if form.validate_on_submit():
        dept_id = form.department_id.data if departments else current_user.department_id
        ensure_can_manage(dept_id)
        try:
            image = _save_image(form.image.data)
            activity = services.create_activity(current_user, dept_id, tags=_chosen_tags(form), **_activity_fields(form))
            if image:
                activity.images = [{"file": image, "alt": form.image_alt.data or activity.title}]
        except OpenDayError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_("活动已创建（草稿）。请添加场次，然后发布。"), "success")
            return redirect(url_for("openday.manage_show", activity_id=activity.id))
    return render_template("openday/manage_form.html", form=form, activity=None), 400 if form.errors else 200


def _chosen_tags(form):
    ids = form.tags.data or []
    return db.session.scalars(sa.select(Tag).where(Tag.id.in_(ids)).order_by(Tag.id)).all() if ids else []


def _managed_activity(activity_id: int) -> Activity:
    activity = db.get_or_404(Activity, activity_id)
    ensure_can_manage(activity)
    return activity


def _managed_session(session_id: int) -> ActivitySession:
    session = db.get_or_404(ActivitySession, session_id)
    ensure_can_manage(session.activity)
    return session


@bp.route("/manage/openday/<int:activity_id>/edit", methods=["GET", "POST"])
@staff_required
def manage_edit(activity_id: int):
    activity = _managed_activity(activity_id)
    form = ActivityForm(obj=activity, tags=_tags())
    if request.method == "GET":
        form.mode.data = activity.mode.value
        form.eligibility.data = activity.eligibility.value
        form.max_companions.data = str(activity.max_companions)
        form.signup_opens_at.data = local(activity.signup_opens_at).replace(tzinfo=None)
        form.signup_closes_at.data = local(activity.signup_closes_at).replace(tzinfo=None)
        form.tags.data = [t.id for t in activity.tags]
    if form.validate_on_submit():
        try:
            image = _save_image(form.image.data)
            changed = services.update_activity(current_user, activity, tags=_chosen_tags(form), **_activity_fields(form))
            if image:
                activity.images = [{"file": image, "alt": form.image_alt.data or activity.title}]
        except OpenDayError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_("已保存。") if changed or image else _("没有改动。"), "success")
            return redirect(url_for("openday.manage_show", activity_id=activity.id))
    return render_template("openday/manage_form.html", form=form, activity=activity), 400 if form.errors else 200


@bp.route("/manage/openday/<int:activity_id>")
@staff_required
def manage_show(activity_id: int):
    activity = _managed_activity(activity_id)
    return render_template("openday/manage_show.html", activity=activity, session_form=SessionForm(),
                           cancel_form=CancelActivityForm(), now=utcnow())


@bp.route("/manage/openday/<int:activity_id>/publish", methods=["POST"])
@staff_required
def manage_publish(activity_id: int):
    activity = _managed_activity(activity_id)
    _act(lambda: services.publish_activity(current_user, activity), _("活动已发布。"))
    return redirect(url_for("openday.manage_show", activity_id=activity.id))


@bp.route("/manage/openday/<int:activity_id>/cancel", methods=["POST"])
@staff_required
def manage_cancel(activity_id: int):
    activity = _managed_activity(activity_id)
    form = CancelActivityForm()
    if form.validate_on_submit():
        try:
            told = services.cancel_activity(current_user, activity, form.reason.data)
        except OpenDayError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_("活动已取消，已通知 %(n)d 位报名者。", n=told), "success")
            return redirect(url_for("openday.manage_show", activity_id=activity.id))
    return render_template("openday/manage_show.html", activity=activity, session_form=SessionForm(),
                           cancel_form=form, now=utcnow()), 400


def _session_times(form: SessionForm):
    return from_local(form.day.data, form.start.data), from_local(form.day.data, form.end.data)


@bp.route("/manage/openday/<int:activity_id>/sessions", methods=["POST"])
@staff_required
def manage_add_session(activity_id: int):
    activity = _managed_activity(activity_id)
    form = SessionForm()
    if form.validate_on_submit():
        starts_at, ends_at = _session_times(form)
        try:
            services.add_session(current_user, activity, starts_at, ends_at, form.capacity.data, form.has_waitlist.data)
        except OpenDayError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_("场次已添加。"), "success")
            return redirect(url_for("openday.manage_show", activity_id=activity.id))
    return render_template("openday/manage_show.html", activity=activity, session_form=form,
                           cancel_form=CancelActivityForm(), now=utcnow()), 400


@bp.route("/manage/openday/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@staff_required
def manage_edit_session(session_id: int):
    session = _managed_session(session_id)
    form = SessionForm()
    if request.method == "GET":
        form.day.data = local(session.starts_at).date()
        form.start.data = local(session.starts_at).time()
        form.end.data = local(session.ends_at).time()
        form.capacity.data = session.capacity
        form.has_waitlist.data = session.has_waitlist
    if form.validate_on_submit():
        starts_at, ends_at = _session_times(form)
        try:
            changed = services.update_session(current_user, session, starts_at, ends_at, form.capacity.data,
                                              form.has_waitlist.data)
        except OpenDayError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_("已保存。") if changed else _("没有改动。"), "success")
            return redirect(url_for("openday.manage_show", activity_id=session.activity_id))
    return render_template("openday/manage_session_form.html", form=form, session=session,
                           activity=session.activity), 400 if form.errors else 200


PARTICIPANT_STATES = [RS.CONFIRMED, RS.WAITLISTED, RS.OFFERED, RS.CHECKED_IN, RS.NO_SHOW, RS.CANCELLED]


def _participants_stmt(session: ActivitySession, state: RegistrationState | None):
    stmt = (sa.select(Registration).where(Registration.session_id == session.id)
            .options(sa.orm.joinedload(Registration.user)))
    if state is not None:
        stmt = stmt.where(Registration.state == state)
    return stmt


def _state_arg():
    try:
        return RS(request.args.get("state", ""))
    except ValueError:
        return None


@bp.route("/manage/openday/sessions/<int:session_id>/participants")
@staff_required
def manage_participants(session_id: int):
    session = _managed_session(session_id)
    state = _state_arg()
    stmt = _participants_stmt(session, state)
    after = _int_arg("after")
    if after:
        stmt = stmt.where(Registration.id > after)
    rows = db.session.scalars(stmt.order_by(Registration.id).limit(100 + 1)).all()
    from app.templating import url_with

    next_url = url_with(after=rows[99].id) if len(rows) > 100 else None
    counts = dict(db.session.execute(sa.select(Registration.state, sa.func.count()).where(
        Registration.session_id == session.id).group_by(Registration.state)).all())
    return render_template("openday/manage_participants.html", session=session, activity=session.activity,
                           registrations=rows[:100], state=state, states=PARTICIPANT_STATES, counts=counts,
                           next_url=next_url, message_form=MessageForm())


EXPORT_COLUMNS = [
    ("name", "姓名"), ("email", "电子邮箱"), ("organisation", "单位"), ("district", "所在区"), ("age_band", "年龄段"),
    ("gender", "性别"), ("companions", "同行人数"), ("state", "状态"), ("waitlist_position", "候补序号"),
    ("short_code", "短码"), ("signed_up_at", "报名时间"), ("checked_in_at", "签到时间"),
]


def _safe_cell(value):
    """Keep spreadsheet programs from running a cell as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _export_rows(session: ActivitySession, state):
    from app.core.timeutil import format_local

    stmt = _participants_stmt(session, state).order_by(Registration.id).execution_options(yield_per=500)
    for reg in db.session.scalars(stmt):
        u = reg.user
        yield [_safe_cell(v) for v in (
            u.name, u.email or "", u.organisation_name or "", u.district or "", u.age_band or "", u.gender or "",
            reg.companions, reg.state.value, reg.waitlist_position or "", reg.short_code,
            format_local(reg.created_at), format_local(reg.checked_in_at))]


@bp.route("/manage/openday/sessions/<int:session_id>/participants.<fmt>")
@staff_required
def manage_export(session_id: int, fmt: str):
    session = _managed_session(session_id)
    state = _state_arg()
    from app.core.audit import audit

    audit(current_user, "openday.export", session.activity, session_id=session.id, format=fmt)
    db.session.commit()
    filename = f"openday-session-{session.id}-participants"
    header = [zh for _key, zh in EXPORT_COLUMNS]
    if fmt == "csv":
        def generate():
            buf = io.StringIO()
            writer = csv.writer(buf)
            buf.write("\ufeff")
            writer.writerow(header)
            for row in _export_rows(session, state):
                writer.writerow(row)
                if buf.tell() > 16384:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
            yield buf.getvalue()

        return Response(stream_with_context(generate()), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={filename}.csv"})
    if fmt == "xlsx":
        import xlsxwriter

        out = io.BytesIO()
        book = xlsxwriter.Workbook(out, {"in_memory": True, "constant_memory": True,
                                         "strings_to_formulas": False, "strings_to_urls": False})
        sheet = book.add_worksheet("participants")
        sheet.write_row(0, 0, header)
        for i, row in enumerate(_export_rows(session, state), start=1):
            sheet.write_row(i, 0, row)
        book.close()
        return Response(out.getvalue(),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f"attachment; filename={filename}.xlsx"})
    abort(404)


@bp.route("/manage/openday/sessions/<int:session_id>/message", methods=["POST"])
@staff_required
def manage_message(session_id: int):
    session = _managed_session(session_id)
    form = MessageForm()
    if form.validate_on_submit():
        try:
            n = services.message_participants(current_user, session, form.subject.data, form.body.data,
                                              [RS(v) for v in form.recipients.data])
        except OpenDayError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_("消息已发送给 %(n)d 人。", n=n), "success")
            return redirect(url_for("openday.manage_participants", session_id=session.id))
    counts = dict(db.session.execute(sa.select(Registration.state, sa.func.count()).where(
        Registration.session_id == session.id).group_by(Registration.state)).all())
    return render_template("openday/manage_participants.html", session=session, activity=session.activity,
                           registrations=[], state=None, states=PARTICIPANT_STATES, counts=counts, next_url=None,
                           message_form=form), 400


@bp.route("/manage/openday/sessions/<int:session_id>/no-shows", methods=["POST"])
@staff_required
def manage_no_shows(session_id: int):
    session = _managed_session(session_id)
    try:
        n = services.mark_no_shows(current_user, session)
    except OpenDayError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(_("已将 %(n)d 人标记为未到场。", n=n), "success")
    return redirect(url_for("openday.manage_participants", session_id=session.id))


# -------------------------------------------------------------------------------------------- check-in

@bp.route("/manage/openday/sessions/<int:session_id>/check-in", methods=["GET", "POST"])
@staff_required
def check_in(session_id: int):
    session = _managed_session(session_id)
    form = CheckInForm()
    wants_json = request.accept_mimetypes.best == "application/json"
    if request.method == "POST":
        reg_id = request.form.get("registration_id", type=int)
        method = request.form.get("method", "manual")
        method = method if method in ("scan", "manual", "search") else "manual"
        if reg_id or form.validate_on_submit():
            registration = db.session.get(Registration, reg_id) if reg_id else None
            if reg_id and registration is None:
                abort(404)
            result, reg, message = services.check_in(
                current_user, session, code=form.code.data or "", registration=registration,
                method="search" if reg_id else method, user_agent=request.user_agent.string)
            db.session.commit()
            ok = result is CheckInResult.OK
            if wants_json:
                return jsonify(result=result.value, ok=ok, message=message,
                               checked_in=session.checked_in_count)
            flash(message, "success" if ok else "error")
            return redirect(url_for("openday.check_in", session_id=session.id))
        if wants_json:
            return jsonify(result="invalid", ok=False, message=_("请输入票码或短码。")), 400
    q = (request.args.get("q") or "").strip()[:60]
    found = []
    if q:
        found = db.session.scalars(
            sa.select(Registration).join(User, User.id == Registration.user_id)
            .where(Registration.session_id == session.id, User.name.contains(q, autoescape=True))
            .options(sa.orm.contains_eager(Registration.user)).order_by(User.name).limit(20)).all()
    recent = db.session.scalars(sa.select(CheckIn).where(CheckIn.session_id == session.id)
                                .options(sa.orm.joinedload(CheckIn.registration).joinedload(Registration.user))
                                .order_by(CheckIn.id.desc()).limit(10)).all()
    return render_template("openday/check_in.html", session=session, activity=session.activity, form=form,
                           q=q, found=found, recent=recent), 400 if form.errors else 200


# ------------------------------------------------------------------------------------ the vote (admin)

@bp.route("/manage/openday/vote", methods=["GET", "POST"])
@admin_required
def manage_vote():
    window = services.current_window()
    form = VotingWindowForm(obj=window)
    if request.method == "GET" and window is not None:
        form.opens_at.data = local(window.opens_at).replace(tzinfo=None)
        form.closes_at.data = local(window.closes_at).replace(tzinfo=None)
    if form.validate_on_submit():
        target = window if window is not None and window.year == form.year.data else None
        try:
            services.set_voting_window(current_user, form.year.data, local_to_utc(form.opens_at.data),
                                       local_to_utc(form.closes_at.data), form.live_ranking.data, window=target)
        except OpenDayError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(_("投票设置已保存。"), "success")
            return redirect(url_for("openday.manage_vote"))
    votes, results, flagged = [], [], 0
    if window is not None:
        results = services.ranking(window)
        stmt = sa.select(Vote).where(Vote.window_id == window.id)
        if request.args.get("flagged") == "1":
            stmt = stmt.where(Vote.is_flagged)
        before = _int_arg("before")
        if before:
            stmt = stmt.where(Vote.id < before)
        votes = db.session.scalars(stmt.options(sa.orm.joinedload(Vote.user), sa.orm.joinedload(Vote.activity))
                                   .order_by(Vote.id.desc()).limit(201)).all()
        flagged = db.session.scalar(sa.select(sa.func.count(Vote.id)).where(Vote.window_id == window.id,
                                                                            Vote.is_flagged))
    from app.templating import url_with

    next_url = url_with(before=votes[199].id) if len(votes) > 200 else None
    return render_template("openday/manage_vote.html", form=form, window=window, votes=votes[:200],
                           results=results, flagged=flagged, next_url=next_url), 400 if form.errors else 200
