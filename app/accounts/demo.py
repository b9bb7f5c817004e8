"""Demo departments, staff, residents and an enterprise. Idempotent: found by e-mail or code, never added twice."""
from __future__ import annotations

import sqlalchemy as sa

from app.accounts.models import Department, DepartmentKind, Role, Tag, TagKind, User
from app.accounts.services import set_password
from app.core.timeutil import utcnow
from app.extensions import db

DEMO_PASSWORD = "canyu-demo-2026"

DEPARTMENTS = [
    ("gov-office", "市政府办公厅", "General Office of the Municipal Government", DepartmentKind.BUREAU),
    ("housing", "市房屋管理局", "Municipal Housing Administration Bureau", DepartmentKind.BUREAU),
    ("economy", "市经济信息化委", "Municipal Commission of Economy and Informatization", DepartmentKind.BUREAU),
    ("ecology", "市生态环境局", "Municipal Bureau of Ecology and Environment", DepartmentKind.BUREAU),
    ("civil-affairs", "市民政局", "Municipal Civil Affairs Bureau", DepartmentKind.BUREAU),
    ("market", "市市场监管局", "Municipal Administration for Market Regulation", DepartmentKind.BUREAU),
    ("xuhui", "徐汇区人民政府", "Xuhui District Government", DepartmentKind.DISTRICT),
    ("pudong", "浦东新区人民政府", "Pudong New Area Government", DepartmentKind.DISTRICT),
]

TAGS = [
    (TagKind.INDUSTRY, "制造业", "Manufacturing"),
    (TagKind.INDUSTRY, "信息技术", "Information technology"),
    (TagKind.INDUSTRY, "商贸零售", "Trade and retail"),
    (TagKind.INDUSTRY, "房地产与物业", "Real estate and property"),
    (TagKind.INDUSTRY, "餐饮住宿", "Catering and hospitality"),
    (TagKind.INDUSTRY, "行业协会商会", "Industry associations and chambers"),
    (TagKind.GROUP, "老年人", "Older people"),
    (TagKind.GROUP, "青年", "Young people"),
    (TagKind.GROUP, "残疾人", "People with disabilities"),
    (TagKind.GROUP, "外籍人士", "Foreign residents"),
    (TagKind.GROUP, "社区工作者", "Community workers"),
    (TagKind.GROUP, "小微企业主", "Small business owners"),
]

# (email, role, password, what the account is for) — printed by `flask demo-data`.
DEMO_ACCOUNTS = [
    ("admin@canyu.example", "admin", DEMO_PASSWORD, "政务公开办 oversight admin"),
    ("housing@canyu.example", "staff", DEMO_PASSWORD, "市房屋管理局 staff"),
    ("economy@canyu.example", "staff", DEMO_PASSWORD, "市经济信息化委 staff"),
    ("ecology@canyu.example", "staff", DEMO_PASSWORD, "市生态环境局 staff"),
    ("xuhui@canyu.example", "staff", DEMO_PASSWORD, "徐汇区人民政府 staff"),
    ("zhang.wei@canyu.example", "resident", DEMO_PASSWORD, "resident 张伟, 徐汇区"),
    ("li.na@canyu.example", "resident", DEMO_PASSWORD, "resident 李娜, 浦东新区"),
    ("wang.fang@canyu.example", "resident", DEMO_PASSWORD, "resident 王芳, 静安区, 60+"),
    ("chen.qiang@canyu.example", "enterprise", DEMO_PASSWORD, "enterprise 上海申城智造科技有限公司"),
]

_PEOPLE = {
    "admin@canyu.example": dict(name="周敏", role=Role.ADMIN, department="gov-office"),
    "housing@canyu.example": dict(name="刘洋", role=Role.STAFF, department="housing"),
    "economy@canyu.example": dict(name="赵磊", role=Role.STAFF, department="economy"),
    "ecology@canyu.example": dict(name="孙丽", role=Role.STAFF, department="ecology"),
    "xuhui@canyu.example": dict(name="吴静", role=Role.STAFF, department="xuhui"),
    "zhang.wei@canyu.example": dict(name="张伟", role=Role.RESIDENT, district="xuhui", age_band="30_44",
                                    gender="male", tags=["青年", "信息技术"]),
    "li.na@canyu.example": dict(name="李娜", role=Role.RESIDENT, district="pudong", age_band="18_29",
                                gender="female", tags=["青年"]),
    "wang.fang@canyu.example": dict(name="王芳", role=Role.RESIDENT, district="jingan", age_band="60_plus",
                                    gender="female", tags=["老年人"]),
    "chen.qiang@canyu.example": dict(name="陈强", role=Role.ENTERPRISE, district="minhang", age_band="45_59",
                                     gender="male", organisation_name="上海申城智造科技有限公司",
                                     uscc="91310000MA1FL8XQ37", tags=["制造业", "小微企业主"]),
}


def department(code: str) -> Department:
    return db.session.scalar(sa.select(Department).where(Department.code == code))


def user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def give_demo_password(person: User) -> None:
    """Demo accounts of other modules sign in with the same password as these."""
    set_password(person, DEMO_PASSWORD)


def load() -> str:
    added = []
    for code, name, name_en, kind in DEPARTMENTS:
        if department(code) is None:
            db.session.add(Department(code=code, name=name, name_en=name_en, kind=kind))
            added.append(code)
    for kind, name, name_en in TAGS:
        if db.session.scalar(sa.select(Tag).where(Tag.name == name)) is None:
            db.session.add(Tag(kind=kind, name=name, name_en=name_en))
    db.session.flush()
    for email, spec in _PEOPLE.items():
        if user(email) is not None:
            continue
        spec = dict(spec)
        dept = spec.pop("department", None)
        tag_names = spec.pop("tags", [])
        person = User(email=email, email_verified_at=utcnow(), **spec)
        db.session.add(person)
        if dept:
            person.department = department(dept)
        person.tags = list(db.session.scalars(sa.select(Tag).where(Tag.name.in_(tag_names))))
        set_password(person, DEMO_PASSWORD)
        added.append(email)
    db.session.flush()
    return f"{len(added)} departments and accounts added" if added else ""
