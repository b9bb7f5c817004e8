"""Use cases of the hearings module (meetings, quotas, applications, materials, attendance, suggestions and the
meeting record). They take ``actor``, flush but never commit, write the audit log, queue mail and send signals; a
refused action raises HearingError with a readable message. The selection (pool, panels, draw, replacements) is in
``selection_services``; computing the panels in ``lottery_runs``."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from app import signals
from app.accounts.models import AGE_BANDS, DISTRICTS, GENDERS, Role, User
from app.core.audit import audit
from app.core.timeutil import utcnow
from app.extensions import db
from app.hearings.models import (
    ACCOUNT_TYPES,
    CATEGORIES,
    OBSERVER_HISTORY,
    Application,
    ApplicationState,
    Disposition,
    FollowUp,
    HearingError,
    Meeting,
    Quota,
    Suggestion,
    Topic,
)
from app.i18n import current_language
from app.notifications.services import queue_email

MATERIALS_DAYS_BEFORE = 7
RULE_FIELDS = ("seats", "alternates", "method")



def notify(user: User, template: str, **context) -> None:
    if user.email:
        queue_email(user.email, f"hearings/emails/{template}", user=user, **context)


def create_meeting(actor: User, department_id: int, *, topics: list[tuple[str, str]], quotas: list[dict] = (),
                   **fields) -> Meeting:
    if fields["closes_at"] <= fields["opens_at"]:
        raise HearingError(_l("报名截止时间必须晚于开始时间。"), "closes_at")
    if fields["starts_at"] <= fields["closes_at"]:
        raise HearingError(_l("会议时间必须晚于报名截止时间。"), "starts_at")
    meeting = Meeting(department_id=department_id, **fields)
    meeting.topics = [Topic(position=i, title=t, background=b) for i, (t, b) in enumerate(topics)]
    db.session.add(meeting)
    _replace_quotas(meeting, quotas)
    db.session.flush()
    audit(actor, "hearing.create", meeting, title=meeting.title)
    return meeting


def update_meeting(actor: User, meeting: Meeting, **fields) -> None:
    changed_rules = [k for k in RULE_FIELDS if k in fields and getattr(meeting, k) != fields[k]]
    if changed_rules or ("opens_at" in fields and fields["opens_at"] != meeting.opens_at and meeting.published_at):
        meeting.ensure_rules_editable()
    opens, closes, starts = (fields.get("opens_at", meeting.opens_at), fields.get("closes_at", meeting.closes_at),
                             fields.get("starts_at", meeting.starts_at))
    if closes <= opens:
        raise HearingError(_l("报名截止时间必须晚于开始时间。"), "closes_at")
    if starts <= closes:
        raise HearingError(_l("会议时间必须晚于报名截止时间。"), "starts_at")
    if "seats" in fields and fields["seats"] != meeting.seats and meeting.quotas:
        from app.hearings import quotas as quota_rules

        problems = quota_rules.problems([q.as_dict() for q in meeting.quotas], fields["seats"])
        if problems:
            raise HearingError(problems[0].message, "seats")
    for k, v in fields.items():
        setattr(meeting, k, v)
    db.session.flush()
    audit(actor, "hearing.update", meeting, fields=sorted(fields), rules_changed=changed_rules or None)


def _replace_quotas(meeting: Meeting, quotas) -> None:
    from app.hearings import quotas as quota_rules

    seen = set()
    new = []
    for q in quotas:
        if q["category"] not in CATEGORIES or q["value"] not in quota_rules.category_values(q["category"]):
            raise HearingError(_l("未知的配额类别。"), "quotas")
        key = (q["category"], q["value"])
        if key in seen:
            raise HearingError(_l("同一类别的同一取值只能设置一个配额。"), "quotas")
        seen.add(key)
        new.append(Quota(category=q["category"], value=q["value"], minimum=q["min"], maximum=q["max"],
                         reason=(q.get("reason") or "").strip()))
    problems = quota_rules.problems(list(quotas), meeting.seats)
    if problems:
        raise HearingError(problems[0].message, "quotas")
    meeting.quotas = new


def set_quotas(actor: User, meeting: Meeting, quotas: list[dict]) -> None:
    meeting.ensure_rules_editable()
    _replace_quotas(meeting, quotas)
    db.session.flush()
    audit(actor, "hearing.quotas", meeting, quotas=[{**q.as_dict(), "reason": q.reason} for q in meeting.quotas])


def publish_meeting(actor: User, meeting: Meeting) -> None:
    meeting.publish()
    db.session.flush()
    audit(actor, "hearing.publish", meeting)
    signals.meeting_announced.send(meeting, actor=actor)


def category_value_label(category: str, value: str) -> str:
    table = {"district": DISTRICTS, "age_band": AGE_BANDS, "gender": GENDERS, "account_type": ACCOUNT_TYPES,
             "observer_history": OBSERVER_HISTORY}.get(category, {})
    if value not in table:
        return value
    zh, en = table[value]
    return str(zh) if en is None or current_language() != "en" else en


def profile_categories(user: User, meeting: Meeting | None = None) -> dict:
    """The quota categories of a person, from the profile (shown to them to confirm)."""
    returning = db.session.scalar(
        sa.select(sa.func.count(Application.id)).where(
            Application.user_id == user.id,
            Application.state == ApplicationState.ATTENDED,
            Application.meeting_id != (meeting.id if meeting else -1)))
    return {
        "district": user.district or "",
        "age_band": user.age_band or "",
        "gender": user.gender or "",
        "account_type": "enterprise" if user.role is Role.ENTERPRISE else "resident",
        "observer_history": "returning" if returning else "first_time",
    }


PROFILE_FIELDS = {"district": DISTRICTS, "age_band": AGE_BANDS, "gender": GENDERS}


def _complete_profile(actor: User, given: dict) -> None:
    """The application form asks for the quota categories missing from the profile; what is given there is
    checked and kept in the profile (never changes what the profile already says)."""
    for name, table in PROFILE_FIELDS.items():
        value = (given.get(name) or "").strip()
        if getattr(actor, name) or not value:
            continue
        if value not in table:
            raise HearingError(_l("请从列表中选择。"), name)
        setattr(actor, name, value)


def apply(actor: User, meeting: Meeting, *, statement: str, lives_or_works_in_city: bool, has_conflict: bool,
          conflict_details: str, consents_to_publication: bool, confirms_categories: bool,
          profile: dict | None = None, now: datetime | None = None) -> Application:
    now = now or utcnow()
    if actor.role not in (Role.RESIDENT, Role.ENTERPRISE):
        raise HearingError(_l("只有居民和企业代表可以报名列席。"))
    if not meeting.is_open(now):
        raise HearingError(_l("现在不在报名时间内。"))
    existing = db.session.scalar(sa.select(Application).where(Application.meeting_id == meeting.id,
                                                              Application.user_id == actor.id))
    if existing is not None:
        raise HearingError(_l("您已经报名了这次会议，每人只能报名一次。"))
    _complete_profile(actor, profile or {})
    categories = profile_categories(actor, meeting)
    missing = [c for c in PROFILE_FIELDS if not categories[c]]
    if missing:
        raise HearingError(_l("报名列席需要填写此项。"), missing[0])
    if categories["age_band"] == "under_18":
        raise HearingError(_l("列席人须年满18周岁。"))
    statement = (statement or "").strip()
    if not statement:
        raise HearingError(_l("请填写报名理由。"), "statement")
    if len(statement) > 2000:
        raise HearingError(_l("报名理由不能超过2000字。"), "statement")
    if not lives_or_works_in_city:
        raise HearingError(_l("列席人须在本市居住或工作。"), "lives_or_works_in_city")
    if not confirms_categories:
        raise HearingError(_l("请确认以上资料准确无误。"), "confirms_categories")
    if has_conflict and not (conflict_details or "").strip():
        raise HearingError(_l("请说明利益关系。"), "conflict_details")
    application = Application(meeting=meeting, user_id=actor.id, statement=statement, categories=categories,
                              lives_or_works_in_city=True, has_conflict=has_conflict,
                              conflict_details=(conflict_details or "").strip() if has_conflict else "",
                              consents_to_publication=consents_to_publication, created_at=now)
    db.session.add(application)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        raise HearingError(_l("您已经报名了这次会议，每人只能报名一次。")) from None
    db.session.execute(sa.update(Meeting).where(Meeting.id == meeting.id)
                       .values(application_count=Meeting.application_count + 1))
    db.session.refresh(meeting, ["application_count"])
    signals.application_changed.send(application)
    return application


def withdraw(actor: User, application: Application) -> None:
    if application.user_id != actor.id:
        raise HearingError(_l("只能撤回自己的申请。"))
    application.withdraw()
    db.session.execute(sa.update(Meeting).where(Meeting.id == application.meeting_id)
                       .values(application_count=Meeting.application_count - 1))
    db.session.flush()
    signals.application_changed.send(application)


def review(actor: User, application: Application, *, eligible: bool, reason: str = "") -> None:
    application.review(eligible, reason)
    db.session.flush()
    audit(actor, "hearing.review", application, department_id=application.meeting.department_id,
          eligible=eligible, reason=application.ineligible_reason or None)
    notify(application.user, "reviewed", application=application, meeting=application.meeting)
    signals.application_changed.send(application)


def review_many(actor: User, meeting: Meeting, decisions: list[tuple[Application, bool, str]]) -> int:
    """Review several applications of one meeting at once: all or none (a refusal names the application's reason
    field, ``reason-<id>``). Returns how many were reviewed."""
    for application, eligible, reason in decisions:
        if application.meeting_id != meeting.id:
            raise HearingError(_l("申请不属于这次会议。"))
        try:
            review(actor, application, eligible=eligible, reason=reason)
        except HearingError as exc:
            raise HearingError(exc.message, f"reason-{application.id}" if exc.field == "reason" else None) from None
    return len(decisions)


def active_panel(meeting_id: int) -> list[Application]:
    return list(db.session.scalars(sa.select(Application).where(
        Application.meeting_id == meeting_id,
        Application.state.in_([ApplicationState.SELECTED, ApplicationState.CONFIRMED, ApplicationState.ATTENDED]))))


def send_materials(actor: User, meeting: Meeting, materials: str, now: datetime | None = None) -> bool:
    """Send the meeting materials to confirmed observers. Returns True when it is late (under 7 days before)."""
    now = now or utcnow()
    if not materials.strip():
        raise HearingError(_l("请填写会议材料。"), "materials")
    meeting.materials = materials.strip()
    meeting.materials_sent_at = now
    late = meeting.starts_at - now < timedelta(days=MATERIALS_DAYS_BEFORE)
    for application in active_panel(meeting.id):
        if application.state is ApplicationState.CONFIRMED:
            application.materials_sent_at = now
            notify(application.user, "materials", application=application, meeting=meeting)
    db.session.flush()
    audit(actor, "hearing.materials", meeting, late=late or None)
    return late


def record_attendance(actor: User, meeting: Meeting, attended_ids: set[int], now: datetime | None = None) -> int:
    now = now or utcnow()
    if now < meeting.starts_at:
        raise HearingError(_l("会议开始后才能登记出席。"))
    count = 0
    for application in active_panel(meeting.id):
        if application.id in attended_ids and application.state is ApplicationState.CONFIRMED:
            application.mark_attended(True)
            count += 1
        elif application.id not in attended_ids and application.state is ApplicationState.ATTENDED:
            application.mark_attended(False)
    db.session.flush()
    audit(actor, "hearing.attendance", meeting, attended=sorted(attended_ids))
    return count


def add_suggestion(actor: User, application: Application, text: str, topic_id: int | None = None) -> Suggestion:
    if application.user_id != actor.id:
        raise HearingError(_l("只能以自己的身份提出建议。"))
    if not application.is_observer:
        raise HearingError(_l("只有确认列席的代表可以提出建议。"))
    if application.meeting.record_published_at is not None:
        raise HearingError(_l("会议记录已公开，不能再提出建议。"))
    text = (text or "").strip()
    if not 1 <= len(text) <= 5000:
        raise HearingError(_l("建议内容须为1至5000字。"), "text")
    suggestion = Suggestion(meeting_id=application.meeting_id, application=application, text=text,
                            topic_id=topic_id)
    db.session.add(suggestion)
    db.session.flush()
    return suggestion


def answer_suggestion(actor: User, suggestion: Suggestion, *, disposition: Disposition, answer: str,
                      follow_up: str = "", due_on: date | None = None) -> None:
    answer = (answer or "").strip()
    if disposition is Disposition.NOT_ADOPTED and not answer:
        raise HearingError(_l("未采纳的建议必须说明理由。"), "answer")
    if not answer:
        raise HearingError(_l("请填写答复。"), "answer")
    follow_up = (follow_up or "").strip()
    if follow_up and due_on is None:
        raise HearingError(_l("督办事项需要完成期限。"), "due_on")
    if due_on is not None and not follow_up:
        raise HearingError(_l("请写明督办事项。"), "follow_up")
    suggestion.disposition, suggestion.answer = disposition, answer
    suggestion.answered_at, suggestion.answered_by_id = utcnow(), actor.id
    if follow_up:
        if suggestion.follow_up is None:
            suggestion.follow_up = FollowUp(department_id=suggestion.meeting.department_id, description=follow_up,
                                            due_on=due_on)
        else:
            suggestion.follow_up.description, suggestion.follow_up.due_on = follow_up, due_on
    elif suggestion.follow_up is not None:
        suggestion.follow_up = None
    db.session.flush()
    audit(actor, "hearing.answer", suggestion, department_id=suggestion.meeting.department_id,
          disposition=disposition.value, follow_up_due=due_on.isoformat() if due_on else None)


def publish_record(actor: User, meeting: Meeting, now: datetime | None = None) -> None:
    now = now or utcnow()
    if now < meeting.starts_at:
        raise HearingError(_l("会议召开后才能公开会议记录。"))
    if meeting.record_published_at is not None:
        raise HearingError(_l("会议记录已经公开。"))
    if not meeting.decisions.strip():
        raise HearingError(_l("请先填写会议决定。"), "decisions")
    unanswered = db.session.scalar(sa.select(sa.func.count(Suggestion.id)).where(
        Suggestion.meeting_id == meeting.id, Suggestion.disposition.is_(None)))
    if unanswered:
        raise HearingError(_l("还有%(n)d条建议没有答复。", n=unanswered))
    meeting.record_published_at = now
    for application in active_panel(meeting.id):
        if application.record_sent_at is None:
            application.record_sent_at = now
            notify(application.user, "record", application=application, meeting=meeting)
    db.session.flush()
    audit(actor, "hearing.publish_record", meeting)
    signals.hearing_record_published.send(meeting, actor=actor)
