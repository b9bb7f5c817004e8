"""Accounts: people, departments, roles and the tags people describe themselves with."""
from __future__ import annotations

import enum
import hashlib
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from app.core.timeutil import utcnow
from app.core.types import UTCDateTime
from app.extensions import db


class Role(enum.Enum):
    RESIDENT = "resident"
    ENTERPRISE = "enterprise"
    STAFF = "staff"
    ADMIN = "admin"


class DepartmentKind(enum.Enum):
    BUREAU = "bureau"  # 委办局
    DISTRICT = "district"  # 区政府


class TagKind(enum.Enum):
    INDUSTRY = "industry"  # 行业
    GROUP = "group"  # 人群


# The 16 districts of Shanghai, stored by code, shown in the user's language.
DISTRICTS: dict[str, tuple[str, str]] = {
    "huangpu": ("黄浦区", "Huangpu"),
    "xuhui": ("徐汇区", "Xuhui"),
    "changning": ("长宁区", "Changning"),
    "jingan": ("静安区", "Jing'an"),
    "putuo": ("普陀区", "Putuo"),
    "hongkou": ("虹口区", "Hongkou"),
    "yangpu": ("杨浦区", "Yangpu"),
    "minhang": ("闵行区", "Minhang"),
    "baoshan": ("宝山区", "Baoshan"),
    "jiading": ("嘉定区", "Jiading"),
    "pudong": ("浦东新区", "Pudong New Area"),
    "jinshan": ("金山区", "Jinshan"),
    "songjiang": ("松江区", "Songjiang"),
    "qingpu": ("青浦区", "Qingpu"),
    "fengxian": ("奉贤区", "Fengxian"),
    "chongming": ("崇明区", "Chongming"),
}

# Age bands; hearings use them for eligibility (18+) and quotas.
AGE_BANDS: dict[str, tuple[str, str]] = {
    "under_18": ("18岁以下", "Under 18"),
    "18_29": ("18–29岁", "18–29"),
    "30_44": ("30–44岁", "30–44"),
    "45_59": ("45–59岁", "45–59"),
    "60_plus": ("60岁及以上", "60 and over"),
}

GENDERS: dict[str, tuple[str, str]] = {
    "female": ("女", "Female"),
    "male": ("男", "Male"),
    "other": ("其他 / 不愿透露", "Other / prefer not to say"),
}


def tag_link_table(name: str, owner_column: str, owner_key: str) -> sa.Table:
    """The table that tags an owner row (a user, a consultation, an activity): both sides cascade on delete."""
    return sa.Table(
        name,
        db.metadata,
        sa.Column(owner_column, sa.ForeignKey(owner_key, ondelete="CASCADE"), primary_key=True),
        sa.Column("tag_id", sa.ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
    )


user_tag = tag_link_table("user_tag", "user_id", "user.id")


class Department(db.Model):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    name_en: Mapped[str] = mapped_column(sa.String(200), default="")
    kind: Mapped[DepartmentKind] = mapped_column(sa.Enum(DepartmentKind, native_enum=False, length=20),
                                                 default=DepartmentKind.BUREAU)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    staff: WriteOnlyMapped[User] = relationship(back_populates="department")

    def display_name(self, locale: str = "zh") -> str:
        return self.name_en if locale == "en" and self.name_en else self.name

    def __repr__(self) -> str:
        return f"<Department {self.code}>"


class Tag(db.Model):
    """A managed 行业 / 人群 label that people choose for their profile and staff target."""

    __tablename__ = "tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[TagKind] = mapped_column(sa.Enum(TagKind, native_enum=False, length=20))
    name: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name_en: Mapped[str] = mapped_column(sa.String(120), default="")
    is_active: Mapped[bool] = mapped_column(default=True)

    def display_name(self, locale: str = "zh") -> str:
        return self.name_en if locale == "en" and self.name_en else self.name


class User(UserMixin, db.Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(sa.String(254), unique=True)  # None once the account is deleted
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    name: Mapped[str] = mapped_column(sa.String(60))  # real name, shown masked in public
    role: Mapped[Role] = mapped_column(sa.Enum(Role, native_enum=False, length=20), default=Role.RESIDENT, index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)

    # Enterprise representatives.
    organisation_name: Mapped[str | None] = mapped_column(sa.String(200))
    uscc: Mapped[str | None] = mapped_column(sa.String(18), index=True)  # 统一社会信用代码

    # Profile.
    district: Mapped[str | None] = mapped_column(sa.String(20))
    age_band: Mapped[str | None] = mapped_column(sa.String(20))
    gender: Mapped[str | None] = mapped_column(sa.String(20))
    occupation: Mapped[str | None] = mapped_column(sa.String(100))
    locale: Mapped[str] = mapped_column(sa.String(5), default="zh")

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Staff accounts are deactivated (not deleted) by the admin: they keep their name on what they did.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    department: Mapped[Department | None] = relationship(back_populates="staff")
    tags: Mapped[list[Tag]] = relationship(secondary=user_tag, order_by=Tag.id)

    @property
    def is_active(self) -> bool:  # Flask-Login: deleted and deactivated accounts cannot sign in
        return self.deleted_at is None and self.deactivated_at is None

    @property
    def is_invitation_pending(self) -> bool:
        """Invited staff who have not yet followed the invitation link (no password yet)."""
        return self.role in (Role.STAFF, Role.ADMIN) and self.password_hash is None and self.deleted_at is None

    # The token of the server-side session (accounts/sessions.py) this request runs in; not a column.
    session_token = ""

    def get_id(self) -> str:
        """Flask-Login's session id: the user id, a digest of the password hash and the token of the server-side
        session (a UserSession row), so that signing out, a new password or address end it for good."""
        return f"{self.id}.{self.session_fingerprint}.{self.session_token}"

    @property
    def session_fingerprint(self) -> str:
        return hashlib.sha256((self.password_hash or "").encode()).hexdigest()[:12]

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_staff(self) -> bool:
        return self.role is Role.STAFF

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_enterprise(self) -> bool:
        return self.role is Role.ENTERPRISE

    @property
    def masked_name(self) -> str:
        """The public form of a name: the first character, then ** (张三 -> 张**)."""
        return mask_name(self.name)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role.value}>"


class LoginThrottle(db.Model):
    """Failed sign-ins counted per key ("email:x@y" or "ip:1.2.3.4"). An attempt is counted *before* its password
    is checked, by a compare-and-set on ``version``, so parallel guesses cannot get more checks than allowed."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    next_allowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    version: Mapped[int] = mapped_column(default=0)


class UserSession(db.Model):
    """One signed-in session (a browser, maybe remembered). The session and remember-me cookies carry its token;
    a request is signed in only while its row is live, so signing out (here or everywhere) ends it for good."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # sha256 of the cookie's token
    remember: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip_address: Mapped[str] = mapped_column(sa.String(45), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")

    def is_live(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.expires_at


def mask_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        return "**"
    return name[0] + "**"
