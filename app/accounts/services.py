"""Account use cases. They take the acting user as an argument, flush but never commit."""
from __future__ import annotations


import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, url_for
from flask_babel import gettext as _

from app import signals
from app.accounts import sessions
from app.accounts.models import AGE_BANDS, DISTRICTS, GENDERS, Department, DepartmentKind, LoginThrottle, Role, Tag, \
    TagKind, User
from app.accounts.tokens import LinkError, load_user_for, make_token, state_fingerprint
from app.accounts.validators import normalise_uscc, uscc_problem
from app.core.audit import audit
from app.core.errors import DomainError
from app.core.timeutil import utcnow
from app.extensions import db
from app.notifications.services import queue_email

_hashers: dict[bool, PasswordHasher] = {
    False: PasswordHasher(),  # Argon2id with the library's current defaults
    # Tests only (PASSWORD_HASH_FAST): the same algorithm with the smallest cost, so hundreds of test accounts
    # do not each spend tens of milliseconds. Production never sets it.
    True: PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
}


def _hasher() -> PasswordHasher:
    return _hashers[bool(current_app.config.get("PASSWORD_HASH_FAST"))]


class AccountError(DomainError):
    """A rule of accounts refused an action."""


# Passwords ----------------------------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = _hasher().hash(password)
    return True


def set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    sessions.end_all(user)  # a new password signs the account out everywhere


# Lookups ------------------------------------------------------------------------------------------------------

def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def email_taken(email: str) -> bool:
    return find_user_by_email(email) is not None


# Registration and verification --------------------------------------------------------------------------------

def _verify_fingerprint(user: User, data: dict | None = None) -> str:
    return state_fingerprint("verify", user.email, user.email_verified_at)


def _absolute(endpoint: str, **values) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + url_for(endpoint, **values)


def send_verification(user: User) -> None:
    token = make_token("verify", user.id, _verify_fingerprint(user))
    queue_email(user.email, "accounts/emails/verify", user=user, link=_absolute("accounts.verify", token=token))


def register_user(*, email: str, password: str, name: str, role: Role = Role.RESIDENT,
                  organisation_name: str | None = None, uscc: str | None = None,
                  district: str | None = None, locale: str = "zh") -> User | None:
    """The new account, or None when the address already has one: then its owner is told by e-mail, and the
    caller answers exactly as for a new account (nobody learns which addresses are registered)."""
    if role not in (Role.RESIDENT, Role.ENTERPRISE):
        raise ValueError("only residents and enterprise representatives register themselves")
    email = normalise_email(email)
    if role is Role.ENTERPRISE:
        # The form checks these too; the rule lives here so that no other caller can skip it.
        if not (organisation_name or "").strip():
            raise AccountError(_("企业代表请填写企业名称。"), field="organisation_name")
        problem = uscc_problem(uscc or "")
        if problem:
            raise AccountError(_("统一社会信用代码的校验位不正确，请核对后重新输入。") if problem == "check"
                               else _("请填写有效的统一社会信用代码。"), field="uscc")
    owner = find_user_by_email(email)
    if owner is not None:
        hash_password(password)  # the same work as a new account
        if owner.deleted_at is None:
            queue_email(owner.email, "accounts/emails/already_registered", user=owner,
                        login=_absolute("accounts.login"), reset=_absolute("accounts.forgot_password"))
        return None
    user = User(email=email, name=name.strip(), role=role, district=district or None, locale=locale)
    if role is Role.ENTERPRISE:
        user.organisation_name = (organisation_name or "").strip()
        user.uscc = normalise_uscc(uscc or "")
    set_password(user, password)
    db.session.add(user)
    db.session.flush()
    send_verification(user)
    signals.user_registered.send(user)
    return user


def verify_email(token: str) -> User:
    """Mark the address verified. Raises LinkError for a broken, expired or already used link."""
    user, _data = load_user_for("verify", token, current_app.config["VERIFY_LINK_HOURS"], _verify_fingerprint)
    user.email_verified_at = utcnow()
    return user


# Sign-in (throttling, equal hashing time) lives in accounts/signin.py.


# Administration -----------------------------------------------------------------------------------------------

def create_admin(*, email: str, name: str, password: str, actor: User | None = None) -> User:
    email = normalise_email(email)
    if email_taken(email):
        raise AccountError(_("该电子邮箱已注册。"), field="email")
    user = User(email=email, name=name, role=Role.ADMIN, email_verified_at=utcnow())
    set_password(user, password)
    db.session.add(user)
    db.session.flush()
    audit(actor, "user.create_admin", user)
    return user


# Password reset -----------------------------------------------------------------------------------------------

def _reset_fingerprint(user: User, data: dict | None = None) -> str:
    # A new password (or a new address) makes every earlier reset link "used".
    return state_fingerprint("reset", user.email, user.password_hash)


def request_password_reset(email: str) -> None:
    """Queue a reset link when an active account has this address. Says nothing either way."""
    user = find_user_by_email(email)
    if user is None or not user.is_active or user.password_hash is None:
        return
    token = make_token("reset", user.id, _reset_fingerprint(user))
    queue_email(user.email, "accounts/emails/reset", user=user, link=_absolute("accounts.reset_password", token=token),
                hours=current_app.config["RESET_LINK_HOURS"])


def check_reset_token(token: str) -> User:
    user, _data = load_user_for("reset", token, current_app.config["RESET_LINK_HOURS"], _reset_fingerprint)
    if not user.is_active:
        raise LinkError("invalid")
    return user


def reset_password(token: str, password: str) -> User:
    """Set a new password from a reset link. The link proves the address, so it also counts as verification."""
    user = check_reset_token(token)
    set_password(user, password)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == f"email:{user.email}"))
    if user.role in (Role.STAFF, Role.ADMIN):
        audit(user, "accounts.reset_password", user)
    return user


# Profile ------------------------------------------------------------------------------------------------------

def update_profile(user: User, *, name: str, district: str | None, age_band: str | None, gender: str | None,
                   occupation: str | None, tag_ids: list[int], locale: str) -> User:
    name = (name or "").strip()
    if not name:
        raise AccountError(_("请填写姓名。"), field="name")
    if district and district not in DISTRICTS:
        raise AccountError(_("请从列表中选择所在区。"), field="district")
    if age_band and age_band not in AGE_BANDS:
        raise AccountError(_("请从列表中选择年龄段。"), field="age_band")
    if gender and gender not in GENDERS:
        raise AccountError(_("请从列表中选择性别。"), field="gender")
    if locale not in current_app.config["LANGUAGES"]:
        raise AccountError(_("请选择界面语言。"), field="locale")
    chosen = list(db.session.scalars(sa.select(Tag).where(Tag.id.in_(tag_ids or []), Tag.is_active.is_(True))))
    if len(chosen) != len(set(tag_ids or [])):
        raise AccountError(_("所选标签不存在或已停用。"), field="industry_tags")
    # Tags the admin has since deactivated stay on the profile; only active ones can be chosen or removed here.
    kept = [t for t in user.tags if not t.is_active]
    user.name = name
    user.district = district or None
    user.age_band = age_band or None
    user.gender = gender or None
    user.occupation = (occupation or "").strip() or None
    user.locale = locale
    user.tags = sorted(kept + chosen, key=lambda t: t.id)
    if user.role in (Role.STAFF, Role.ADMIN):
        audit(user, "accounts.update_profile", user)
    return user


# Change of e-mail address and password ------------------------------------------------------------------------

def _email_fingerprint(user: User, data: dict | None = None) -> str:
    # Bound to the password too: after a password change an e-mail-change link already sent stops working.
    return state_fingerprint("email", user.email, (data or {}).get("e"), user.password_changed_at)


def request_email_change(user: User, new_email: str, password: str) -> str:
    """Send a confirmation link to the new address; the address changes when the link is followed."""
    if not check_password(user, password):
        raise AccountError(_("密码不正确。"), field="password")
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise AccountError(_("新电子邮箱与当前电子邮箱相同。"), field="new_email")
    if email_taken(new_email):
        raise AccountError(_("该电子邮箱已被其他账户使用。"), field="new_email")
    data = {"e": new_email}
    token = make_token("email", user.id, _email_fingerprint(user, data), **data)
    queue_email(new_email, "accounts/emails/email_change", user=user,
                link=_absolute("accounts.confirm_email_change", token=token), new_email=new_email,
                hours=current_app.config["VERIFY_LINK_HOURS"])
    return new_email


def confirm_email_change(token: str) -> User:
    user, data = load_user_for("email", token, current_app.config["VERIFY_LINK_HOURS"], _email_fingerprint)
    new_email = normalise_email(data.get("e", ""))
    if not new_email:
        raise LinkError("invalid")
    if email_taken(new_email):
        raise AccountError(_("该电子邮箱已被其他账户使用。"), field="new_email")
    old = user.email
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == f"email:{old}"))
    user.email = new_email
    user.email_verified_at = utcnow()
    sessions.end_all(user)  # a new address signs the account out everywhere
    _notify_old_address(user, old)
    if user.role in (Role.STAFF, Role.ADMIN):
        audit(user, "accounts.change_email", user)
    return user


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not check_password(user, current_password):
        raise AccountError(_("当前密码不正确。"), field="current_password")
    if current_password == new_password:
        raise AccountError(_("新密码不能与当前密码相同。"), field="password")
    set_password(user, new_password)
    if user.role in (Role.STAFF, Role.ADMIN):
        audit(user, "accounts.change_password", user)


# My data ------------------------------------------------------------------------------------------------------

def _iso(dt) -> str | None:
    return dt.isoformat() if dt is not None else None


def export_user_data(user: User) -> dict:
    """Everything the platform holds about ``user``: the account, the profile, tags, and each module's part."""
    data: dict = {
        "exported_at": _iso(utcnow()),
        "account": {
            "id": user.id,
            "email": user.email,
            "role": user.role.value,
            "email_verified_at": _iso(user.email_verified_at),
            "created_at": _iso(user.created_at),
            "last_login_at": _iso(user.last_login_at),
            "password_changed_at": _iso(user.password_changed_at),
            "department": user.department.name if user.department else None,
        },
        "profile": {
            "name": user.name,
            "district": user.district,
            "district_name": DISTRICTS[user.district][0] if user.district in DISTRICTS else None,
            "age_band": user.age_band,
            "gender": user.gender,
            "occupation": user.occupation,
            "organisation_name": user.organisation_name,
            "uscc": user.uscc,
            "locale": user.locale,
        },
        "tags": [{"id": t.id, "kind": t.kind.value, "name": t.name, "name_en": t.name_en} for t in user.tags],
    }
    for _receiver, result in signals.collect_user_data.send(user):
        if result:
            data.update(result)
    return data


DELETED_NAME = "已注销用户"


def delete_account(user: User, password: str) -> int:
    """Anonymise the account; what the person contributed stays, no longer linked to a name or address."""
    if user.role in (Role.STAFF, Role.ADMIN):
        raise AccountError(_("工作人员账户不能自行注销，请联系管理员停用。"), field="password")
    if not check_password(user, password):
        raise AccountError(_("密码不正确。"), field="password")
    user_id = user.id
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == f"email:{user.email}"))
    user.email = None
    user.password_hash = None
    user.name = DELETED_NAME
    user.organisation_name = None
    user.uscc = None
    user.district = None
    user.age_band = None
    user.gender = None
    user.occupation = None
    user.tags = []
    user.deleted_at = utcnow()
    db.session.flush()
    signals.user_deleted.send(user_id)
    return user_id


# Administration: departments, tags, staff ---------------------------------------------------------------------

def _department_clash(code: str, name: str, exclude_id: int | None = None) -> None:
    stmt = sa.select(Department).where(sa.or_(Department.code == code, Department.name == name))
    if exclude_id is not None:
        stmt = stmt.where(Department.id != exclude_id)
    for other in db.session.scalars(stmt):
        if other.code == code:
            raise AccountError(_("已有部门使用这个代码。"), field="code")
        raise AccountError(_("已有同名部门。"), field="name")


def create_department(actor: User, *, code: str, name: str, name_en: str, kind: DepartmentKind) -> Department:
    code, name = code.strip().lower(), name.strip()
    _department_clash(code, name)
    dept = Department(code=code, name=name, name_en=(name_en or "").strip(), kind=kind)
    db.session.add(dept)
    db.session.flush()
    audit(actor, "accounts.create_department", dept, department_id=dept.id, code=code, name=name)
    return dept


def update_department(actor: User, dept: Department, *, code: str, name: str, name_en: str,
                      kind: DepartmentKind) -> Department:
    code, name = code.strip().lower(), name.strip()
    _department_clash(code, name, exclude_id=dept.id)
    changes = {}
    for attr, value in (("code", code), ("name", name), ("name_en", (name_en or "").strip()), ("kind", kind)):
        old = getattr(dept, attr)
        if old != value:
            changes[attr] = [getattr(old, "value", old), getattr(value, "value", value)]
            setattr(dept, attr, value)
    if changes:
        audit(actor, "accounts.update_department", dept, department_id=dept.id, changes=changes)
    return dept


def create_tag(actor: User, *, kind: TagKind, name: str, name_en: str) -> Tag:
    name = name.strip()
    if db.session.scalar(sa.select(Tag.id).where(Tag.name == name)) is not None:
        raise AccountError(_("已有同名标签。"), field="name")
    tag = Tag(kind=kind, name=name, name_en=(name_en or "").strip())
    db.session.add(tag)
    db.session.flush()
    audit(actor, "accounts.create_tag", tag, name=name, kind=kind.value)
    return tag


def rename_tag(actor: User, tag: Tag, *, name: str, name_en: str) -> Tag:
    name = name.strip()
    if db.session.scalar(sa.select(Tag.id).where(Tag.name == name, Tag.id != tag.id)) is not None:
        raise AccountError(_("已有同名标签。"), field="name")
    old = (tag.name, tag.name_en)
    tag.name, tag.name_en = name, (name_en or "").strip()
    if old != (tag.name, tag.name_en):
        audit(actor, "accounts.rename_tag", tag, old=list(old), new=[tag.name, tag.name_en])
    return tag


def set_tag_active(actor: User, tag: Tag, active: bool) -> Tag:
    if tag.is_active != active:
        tag.is_active = active
        audit(actor, "accounts.activate_tag" if active else "accounts.deactivate_tag", tag)
    return tag


def _invite_fingerprint(user: User, data: dict | None = None) -> str:
    # Accepting sets the password, which makes every invitation link for this account "used".
    return state_fingerprint("invite", user.email, user.password_hash, user.department_id)


def invite_staff(actor: User, department: Department, *, email: str, name: str) -> User:
    """Create the staff account (without a password) and e-mail an invitation link that sets one.

    Inviting an address whose invitation is still pending in the same department sends the link again.
    """
    email = normalise_email(email)
    person = find_user_by_email(email)
    if person is not None:
        if not (person.is_invitation_pending and person.department_id == department.id and person.is_active):
            raise AccountError(_("该电子邮箱已注册。"), field="email")
        person.name = name.strip() or person.name
        resend = True
    else:
        person = User(email=email, name=name.strip(), role=Role.STAFF, department_id=department.id,
                      locale="zh")
        db.session.add(person)
        db.session.flush()
        resend = False
    token = make_token("invite", person.id, _invite_fingerprint(person))
    queue_email(email, "accounts/emails/invitation", user=person,
                link=_absolute("accounts.accept_invitation", token=token), department=department,
                hours=current_app.config["INVITE_LINK_HOURS"])
    audit(actor, "accounts.invite_staff", person, email=email, resend=resend or None)
    return person


def check_invitation(token: str) -> User:
    user, _data = load_user_for("invite", token, current_app.config["INVITE_LINK_HOURS"], _invite_fingerprint)
    if not user.is_active:
        raise LinkError("invalid")
    return user


def accept_invitation(token: str, *, name: str, password: str) -> User:
    user = check_invitation(token)
    user.name = name.strip()
    set_password(user, password)
    user.email_verified_at = utcnow()
    audit(user, "accounts.accept_invitation", user)
    return user


def set_staff_active(actor: User, person: User, active: bool) -> User:
    """Reactivate a staff account or deactivate it (it can no longer sign in); audited when that changes it."""
    if person.role is not Role.STAFF:
        raise AccountError(_("只能启用工作人员账户。") if active else _("只能停用工作人员账户。"))
    if (person.deactivated_at is None) != active:
        person.deactivated_at = None if active else utcnow()
        audit(actor, "accounts.reactivate_staff" if active else "accounts.deactivate_staff", person)
    return person


def email_undo_fingerprint(user: User, data: dict | None = None) -> str:
    """An undo link (accounts/email_undo.py) is valid while the account still has the address it was sent about."""
    return state_fingerprint("email-undo", user.email, (data or {}).get("n"))


def _notify_old_address(user: User, old_email: str) -> None:
    """Tell the old address of the change, with a link that undoes it (EMAIL_UNDO_HOURS, once)."""
    data = {"o": old_email, "n": user.email}
    token = make_token("email-undo", user.id, email_undo_fingerprint(user, data), **data)
    queue_email(old_email, "accounts/emails/email_changed", user=user, new_email=user.email,
                link=_absolute("accounts.undo_email_change", token=token),
                hours=current_app.config["EMAIL_UNDO_HOURS"])
