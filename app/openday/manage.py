"""Staff pages of the Open Month under /manage/openday/: activities, sessions, participants, exports, check-in
and the voting window.

Thin: load, authorise, validate, call a service, commit once, flash, redirect.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.accounts.models import Department, Tag, User
from app.accounts.permissions import admin_required, ensure_can_manage, managed_or_404, scope_to_managed, staff_required
from app.core import confirm, exports
from app.core.errors import INVALID, commit, commit_or_explain, form_status, submit
from app.core.storage import Upload
from app.core.timeutil import format_local, from_local, local, utcnow
from app.extensions import db
from app.openday import bp, images, services, votes
from app.openday.forms import (
    ActivityForm,
    CancelActivityForm,
    CheckInForm,
    MessageForm,
    SessionForm,
    VotingWindowForm,
    local_to_utc,
)
from app.openday.models import (
    Activity,
    ActivityMode,
    ActivitySession,
    CheckIn,
    CheckInResult,
    Eligibility,
    Registration,
    RegistrationState,
    Vote,
)
from app.templating import url_with
from app.core.inputs import arg_int, form_int

RS = RegistrationState
PAGE_SIZE = 20


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


@bp.route("/manage/openday/")
@staff_required
def manage_index() -> ResponseReturnValue:
    stmt = scope_to_managed(sa.select(Activity), Activity.department_id)
    before = arg_int("before")
    if before:
        stmt = stmt.where(Activity.id < before)
    rows = db.session.scalars(stmt.options(sa.orm.joinedload(Activity.department),
                                           sa.orm.selectinload(Activity.sessions))
                              .order_by(Activity.id.desc()).limit(PAGE_SIZE + 1)).all()
    activities = rows[:PAGE_SIZE]

    next_url = url_with(before=activities[-1].id) if len(rows) > PAGE_SIZE else None
    return render_template("openday/manage_index.html", activities=activities, next_url=next_url)


@bp.route("/manage/openday/new", methods=["GET", "POST"])
@staff_required
def manage_new() -> ResponseReturnValue:
    departments = _managed_departments() if current_user.is_admin else None
    form = ActivityForm(tags=_tags(), departments=departments)
    if request.method == "GET":
        form.signup_opens_at.data = local(utcnow()).replace(second=0, microsecond=0, tzinfo=None)
        form.signup_closes_at.data = (local(utcnow()) + timedelta(days=30)).replace(second=0, microsecond=0,
                                                                                   tzinfo=None)
    department_id = form.department_id.data if departments else current_user.department_id
    saved = _submit_activity(form, department_id=department_id)
    if saved is not None:
        flash(_("活动已创建（草稿）。请添加场次，然后发布。"), "success")
        return redirect(url_for("openday.manage_show", activity_id=saved[0].id))
    return render_template("openday/manage_form.html", form=form, activity=None), form_status(form)


def _submit_activity(form: ActivityForm, activity: Activity | None = None,
                     department_id: int | None = None) -> tuple[Activity, bool] | None:
    """Create (in ``department_id``) or update ``activity`` from the form, with its uploaded image, and commit.
    Returns the activity and whether anything changed; None when the form is invalid or a rule refused it."""
    def save() -> tuple[Activity, bool]:
        if activity is None:
            ensure_can_manage(department_id)
        image = _save_image(form.image.data)
        fields = dict(tags=_chosen_tags(form), **_activity_fields(form))
        if activity is None:
            saved, changed = services.create_activity(current_user, department_id, **fields), True
        else:
            saved, changed = activity, services.update_activity(current_user, activity, **fields)
        if image:
            saved.images = [{"file": image, "alt": form.image_alt.data or saved.title}]
        return saved, bool(changed or image)
    return submit(form, save)


def _chosen_tags(form):
    ids = form.tags.data or []
    return db.session.scalars(sa.select(Tag).where(Tag.id.in_(ids)).order_by(Tag.id)).all() if ids else []


def _managed_activity(activity_id: int) -> Activity:
    return managed_or_404(Activity, activity_id)


def _managed_session(session_id: int) -> ActivitySession:
    session = db.get_or_404(ActivitySession, session_id)
    ensure_can_manage(session.activity)
    return session


@bp.route("/manage/openday/<int:activity_id>/edit", methods=["GET", "POST"])
@staff_required
def manage_edit(activity_id: int) -> ResponseReturnValue:
    activity = _managed_activity(activity_id)
    form = ActivityForm(obj=activity, tags=_tags())
    if request.method == "GET":
        form.mode.data = activity.mode.value
        form.eligibility.data = activity.eligibility.value
        form.max_companions.data = str(activity.max_companions)
        form.signup_opens_at.data = local(activity.signup_opens_at).replace(tzinfo=None)
        form.signup_closes_at.data = local(activity.signup_closes_at).replace(tzinfo=None)
        form.tags.data = [t.id for t in activity.tags]
    saved = _submit_activity(form, activity)
    if saved is not None:
        flash(_("已保存。") if saved[1] else _("没有改动。"), "success")
        return redirect(url_for("openday.manage_show", activity_id=activity.id))
    return render_template("openday/manage_form.html", form=form, activity=activity), form_status(form)


@bp.route("/manage/openday/<int:activity_id>")
@staff_required
def manage_show(activity_id: int) -> ResponseReturnValue:
    activity = _managed_activity(activity_id)
    return render_template("openday/manage_show.html", activity=activity, session_form=SessionForm(),
                           cancel_form=CancelActivityForm(), now=utcnow())


@bp.route("/manage/openday/<int:activity_id>/publish", methods=["POST"])
@staff_required
def manage_publish(activity_id: int) -> ResponseReturnValue:
    activity = _managed_activity(activity_id)
    return confirm.act(_("发布后活动公开，市民可以按报名时间报名。确定发布？"),
                       lambda: services.publish_activity(current_user, activity), _("活动已发布。"),
                       detail=activity.title, back=url_for("openday.manage_show", activity_id=activity.id),
                       button=_("发布"), danger=False)


@bp.route("/manage/openday/<int:activity_id>/cancel", methods=["POST"])
@staff_required
def manage_cancel(activity_id: int) -> ResponseReturnValue:
    activity = _managed_activity(activity_id)
    form = CancelActivityForm()
    if form.validate_on_submit() and (page := confirm.ask(
            _("确定取消该活动吗？所有报名者都会收到通知，取消后不能恢复。"), detail=activity.title,
            back=url_for("openday.manage_show", activity_id=activity.id), button=_("取消活动"))) is not None:
        return page
    told = submit(form, lambda: services.cancel_activity(current_user, activity, form.reason.data))
    if told is not None:
        flash(_("活动已取消，已通知 %(n)d 位报名者。", n=told), "success")
        return redirect(url_for("openday.manage_show", activity_id=activity.id))
    return render_template("openday/manage_show.html", activity=activity, session_form=SessionForm(),
                           cancel_form=form, now=utcnow()), INVALID


def _session_times(form: SessionForm):
    return from_local(form.day.data, form.start.data), from_local(form.day.data, form.end.data)


@bp.route("/manage/openday/<int:activity_id>/sessions", methods=["POST"])
@staff_required
def manage_add_session(activity_id: int) -> ResponseReturnValue:
    activity = _managed_activity(activity_id)
    form = SessionForm()
    if submit(form, lambda: services.add_session(current_user, activity, *_session_times(form), form.capacity.data,
                                                 form.has_waitlist.data), _("场次已添加。")):
        return redirect(url_for("openday.manage_show", activity_id=activity.id))
    return render_template("openday/manage_show.html", activity=activity, session_form=form,
                           cancel_form=CancelActivityForm(), now=utcnow()), INVALID


@bp.route("/manage/openday/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@staff_required
def manage_edit_session(session_id: int) -> ResponseReturnValue:
    session = _managed_session(session_id)
    form = SessionForm()
    if request.method == "GET":
        form.day.data = local(session.starts_at).date()
        form.start.data = local(session.starts_at).time()
        form.end.data = local(session.ends_at).time()
        form.capacity.data = session.capacity
        form.has_waitlist.data = session.has_waitlist
    changed = submit(form, lambda: services.update_session(current_user, session, *_session_times(form),
                                                           form.capacity.data, form.has_waitlist.data))
    if changed is not None:
        flash(_("已保存。") if changed else _("没有改动。"), "success")
        return redirect(url_for("openday.manage_show", activity_id=session.activity_id))
    return render_template("openday/manage_session_form.html", form=form, session=session,
                           activity=session.activity), form_status(form)


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
def manage_participants(session_id: int) -> ResponseReturnValue:
    session = _managed_session(session_id)
    state = _state_arg()
    stmt = _participants_stmt(session, state)
    after = arg_int("after")
    if after:
        stmt = stmt.where(Registration.id > after)
    rows = db.session.scalars(stmt.order_by(Registration.id).limit(100 + 1)).all()

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


def _export_rows(session: ActivitySession, state):
    stmt = _participants_stmt(session, state).order_by(Registration.id).execution_options(yield_per=500)
    for reg in db.session.scalars(stmt):
        u = reg.user
        yield (u.name, u.email or "", u.organisation_name or "", u.district or "", u.age_band or "", u.gender or "",
               reg.companions, reg.state.value, reg.waitlist_position or "", reg.short_code,
               format_local(reg.created_at), format_local(reg.checked_in_at))


@bp.route("/manage/openday/sessions/<int:session_id>/participants.<fmt>")
@staff_required
def manage_export(session_id: int, fmt: str) -> ResponseReturnValue:
    session = _managed_session(session_id)
    exports.format_or_404(fmt)
    state = _state_arg()
    exports.audit_export(current_user, "openday.export", session.activity, fmt, session_id=session.id)
    commit()
    return exports.download(fmt, f"openday-session-{session.id}-participants",
                            [zh for _key, zh in EXPORT_COLUMNS], _export_rows(session, state),
                            sheet_name="participants")


@bp.route("/manage/openday/sessions/<int:session_id>/message", methods=["POST"])
@staff_required
def manage_message(session_id: int) -> ResponseReturnValue:
    session = _managed_session(session_id)
    form = MessageForm()
    n = submit(form,
               lambda: services.message_participants(current_user, session, form.subject.data, form.body.data,
                                                     [RS(v) for v in form.recipients.data]))
    if n is not None:
        flash(_("消息已发送给 %(n)d 人。", n=n), "success")
        return redirect(url_for("openday.manage_participants", session_id=session.id))
    counts = dict(db.session.execute(sa.select(Registration.state, sa.func.count()).where(
        Registration.session_id == session.id).group_by(Registration.state)).all())
    return render_template("openday/manage_participants.html", session=session, activity=session.activity,
                           registrations=[], state=None, states=PARTICIPANT_STATES, counts=counts, next_url=None,
                           message_form=form), INVALID


@bp.route("/manage/openday/sessions/<int:session_id>/no-shows", methods=["POST"])
@staff_required
def manage_no_shows(session_id: int) -> ResponseReturnValue:
    session = _managed_session(session_id)
    n = commit_or_explain(lambda: services.mark_no_shows(current_user, session))
    if n is not None:
        flash(_("已将 %(n)d 人标记为未到场。", n=n), "success")
    return redirect(url_for("openday.manage_participants", session_id=session.id))


# -------------------------------------------------------------------------------------------- check-in

@bp.route("/manage/openday/sessions/<int:session_id>/check-in", methods=["GET", "POST"])
@staff_required
def check_in(session_id: int) -> ResponseReturnValue:
    session = _managed_session(session_id)
    form = CheckInForm()
    wants_json = request.accept_mimetypes.best == "application/json"
    if request.method == "POST":
        reg_id = form_int("registration_id")
        method = request.form.get("method", "manual")
        method = method if method in ("scan", "manual", "search") else "manual"
        if reg_id or form.validate_on_submit():
            registration = db.session.scalar(sa.select(Registration).where(
                Registration.id == reg_id, Registration.session_id == session.id)) if reg_id else None
            result, reg, message = services.check_in(
                current_user, session, code="" if reg_id else form.code.data or "", registration=registration,
                method="search" if reg_id else method, user_agent=request.user_agent.string)
            commit()
            ok = result is CheckInResult.OK
            if wants_json:
                return jsonify(result=result.value, ok=ok, message=message,
                               checked_in=session.checked_in_count)
            flash(message, "success" if ok else "error")
            return redirect(url_for("openday.check_in", session_id=session.id))
        if wants_json:
            return jsonify(result="invalid", ok=False, message=_("请输入票码或短码。")), INVALID
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
    door = session.door_window(current_app.config["OPENDAY_CHECK_IN_OPENS_MINUTES"])
    return render_template("openday/check_in.html", session=session, activity=session.activity, form=form,
                           q=q, found=found, recent=recent, door=door), form_status(form)


# ------------------------------------------------------------------------------------ the vote (admin)

@bp.route("/manage/openday/vote", methods=["GET", "POST"])
@admin_required
def manage_vote() -> ResponseReturnValue:
    window = votes.current_window()
    form = VotingWindowForm(obj=window)
    if request.method == "GET" and window is not None:
        form.opens_at.data = local(window.opens_at).replace(tzinfo=None)
        form.closes_at.data = local(window.closes_at).replace(tzinfo=None)
    target = window if window is not None and window.year == form.year.data else None
    if submit(form, lambda: votes.set_voting_window(current_user, form.year.data, local_to_utc(form.opens_at.data),
                                                    local_to_utc(form.closes_at.data), form.live_ranking.data,
                                                    window=target), _("投票设置已保存。")):
        return redirect(url_for("openday.manage_vote"))
    cast, results, flagged = [], [], 0
    if window is not None:
        results = votes.ranking(window)
        stmt = sa.select(Vote).where(Vote.window_id == window.id)
        if request.args.get("flagged") == "1":
            stmt = stmt.where(Vote.is_flagged)
        before = arg_int("before")
        if before:
            stmt = stmt.where(Vote.id < before)
        cast = db.session.scalars(stmt.options(sa.orm.joinedload(Vote.user), sa.orm.joinedload(Vote.activity))
                                   .order_by(Vote.id.desc()).limit(201)).all()
        flagged = db.session.scalar(sa.select(sa.func.count(Vote.id)).where(Vote.window_id == window.id,
                                                                            Vote.is_flagged))

    next_url = url_with(before=cast[199].id) if len(cast) > 200 else None
    return render_template("openday/manage_vote.html", form=form, window=window, votes=cast[:200],
                           results=results, flagged=flagged, next_url=next_url), form_status(form)
