"""Demo data: a month of messages from three forwarding sources and the platform across four departments, in every
state a handling office meets: replied on time, replied late, overdue now, returned and reassigned, extended,
under review, rated (one reopened), new; and one common problem confirmed with its source action.

The acts go through the module's use cases, each at its own past instant (the use cases read the clock through
``utcnow``, which the loader sets for the moment of each act). Idempotent: forwarded messages are found by their
source id, platform messages by their idempotency key, the problem by its title.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest import mock

import sqlalchemy as sa

from app.accounts.models import Department, User
from app.core.timeutil import format_local, utcnow
from app.extensions import db
from app.messages import handling, imports, problems, services
from app.messages.models import ActionKind, CommonProblem, ImportBatch, Message, MessageSource, Resolution

S = MessageSource


@contextmanager
def _at(when: datetime):
    """Run use cases as if at ``when`` (the demo's past acts)."""
    with mock.patch("app.messages.services.utcnow", return_value=when), \
            mock.patch("app.messages.handling.utcnow", return_value=when):
        yield


# (key, source, days ago, subject, text, writer e-mail or (name, phone), district, consent, story, department code)
MESSAGES = [
    ("demo-1", S.PLATFORM, 27, "小区门口道路积水严重", "每逢下雨，徐汇区田林路小区门口积水没过脚踝，老人出行困难，希望尽快改造排水。",
     "zhang.wei@canyu.example", "xuhui", True, "on_time_rated", "xuhui"),
    ("GOV-2026-10311", S.CENTRAL_PORTAL, 26, "惠企政策申报材料能否简化",
     "我公司申报“政策服务包”中的技改补贴，需要重复提交营业执照等材料，建议数据共享、免于提交。", ("陈强", "13800001234"),
     "pudong", True, "late", "economy"),
    ("12345-88001", S.HOTLINE_12345, 20, "夜间施工噪声扰民", "宝山区某工地每晚十点后仍在施工，噪声很大，影响休息。",
     ("王女士", "13900002222"), "baoshan", False, "overdue", "ecology"),
    ("MB-HS-0102", S.MAILBOX, 18, "加装电梯低层住户补偿怎么协商",
     "我们单元准备加装电梯，一楼住户要求补偿，协商不下来，街道说不归他们管。", ("刘先生", "13700003333"), "xuhui", True,
     "returned", "housing"),
    ("GOV-2026-10377", S.CENTRAL_PORTAL, 15, "老旧小区加装电梯审批时间太长",
     "加装电梯从申请到开工用了半年，建议压缩审批时间、推行一站式办理。", ("赵先生", "13600004444"), "jingan", True,
     "extended", "housing"),
    ("demo-2", S.PLATFORM, 12, "加装电梯审批流程希望再简化", "希望加装电梯的审批能网上一站式办理，缩短审批时间，减少跑腿。",
     "li.na@canyu.example", "pudong", True, "reopened", "housing"),
    ("GOV-2026-10402", S.CENTRAL_PORTAL, 6, "餐饮店油烟直排", "闵行区某小区底商餐饮店油烟直排，居民窗户都不敢开。",
     ("孙先生", "13500005555"), "minhang", False, "review", "ecology"),
    ("demo-3", S.PLATFORM, 2, "社区食堂能否延长营业时间", "社区长者食堂只供应午餐，希望增加晚餐供应。",
     "wang.fang@canyu.example", "jingan", True, "new", None),
    ("MB-HS-0150", S.MAILBOX, 9, "加装电梯审批能否网上办理", "建议加装电梯审批网上一站式办理，审批时间太长了，希望缩短。",
     ("周女士", "13400006666"), "putuo", True, "on_time", "housing"),
]

PROBLEM_TITLE = "加装电梯审批时间长、流程繁"

BATCH = """来源编号,转办时间,主题,内容,姓名,电话,区,同意公开
MB-EC-0201,{when},小区垃圾分类点夜间异味,垃圾分类投放点夜间异味大，建议增加清运频次。,赵女士,13300007777,长宁区,是
MB-EC-0202,2026-13-01,日期有误的一行,这一行的日期无法识别，导入报告会列出它。,钱先生,,,否
"""


def _department(code: str | None) -> Department | None:
    return db.session.scalar(sa.select(Department).where(Department.code == code)) if code else None


def _user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _existing(key: str, source: MessageSource) -> Message | None:
    if source is MessageSource.PLATFORM:
        return db.session.scalar(sa.select(Message).where(Message.idempotency_key == key))
    return db.session.scalar(sa.select(Message).where(Message.source == source, Message.source_ref == key))


def _create(key, source, received: datetime, subject, text, writer, district, consent) -> Message | None:
    if source is MessageSource.PLATFORM:
        user = _user(writer)
        if user is None:
            return None
        with _at(received):
            message, _ = services.submit_message(user, services.MessageData(
                subject=subject, text=text, district=district, allow_publish=consent), idempotency_key=key)
        return message
    name, phone = writer
    with _at(received):
        message, _ = services.receive_forwarded(None, source, services.ForwardedData(
            source_ref=key, forwarded_at=received, subject=subject, text=text, writer_name=name, writer_phone=phone,
            district=district, allow_publish=consent))
    return message


def _story(message: Message, story: str, dept: Department, received: datetime, admin: User, now: datetime) -> None:
    staff = handling.department_staff(dept.id)
    if not staff:
        return
    person = staff[0]
    with _at(received + timedelta(hours=3)):
        handling.assign(admin, message, dept.id)
    if story == "returned":
        with _at(received + timedelta(days=1)):
            handling.return_message(person, message, "低层住户补偿协商由所在区统筹，请转区政府办理。")
        other = _department("xuhui")
        with _at(received + timedelta(days=1, hours=4)):
            handling.assign(admin, message, other.id, [dept.id])
        with _at(received + timedelta(days=2)):
            handling.acknowledge(handling.department_staff(other.id)[0], message)
        return
    with _at(received + timedelta(days=1)):
        handling.acknowledge(person, message)
    if story == "overdue":
        return
    if story == "extended":
        with _at(received + timedelta(days=3)):
            handling.request_extension(person, message, 5, "需会同规划资源部门核实审批环节。")
        with _at(received + timedelta(days=3, hours=5)):
            handling.decide_extension(admin, message, True, "同意延长5个工作日。")
        return
    days = {"on_time_rated": 6, "on_time": 5, "late": 24, "reopened": 4, "review": 3}[story]
    when = min(received + timedelta(days=days), now - timedelta(hours=1))
    text = {"on_time_rated": "已会同区水务部门疏通管网并新增两处雨水口，11月底前完成道路翻排。",
            "late": "已推动企业基础信息共享，营业执照等材料在申报时自动调取，无需重复提交。",
            "reopened": "加装电梯审批已实行联合审查，20个工作日内出具意见。",
            "review": "已责令该店安装油烟净化设施，并将复查。",
            "on_time": "本市正在推行加装电梯“一网通办”，预计年内上线。"}[story]
    with _at(when):
        handling.write_reply(person, message, text)
        if message.reply_submitted_at is not None and story != "review":
            handling.review_reply(admin, message, True)
    resident = message.user
    if story == "on_time_rated" and resident is not None:
        with _at(when + timedelta(days=2)):
            handling.rate(resident, message, resolution=Resolution.RESOLVED, satisfied=True, comment="处理及时。")
    if story == "reopened" and resident is not None:
        with _at(when + timedelta(days=1)):
            handling.rate(resident, message, resolution=Resolution.PARTLY, satisfied=False,
                          reopen_reason="只说明了时限，没有说明能否网上一站式办理。")


def load() -> str:
    admin = _user("admin@canyu.example")
    if admin is None:
        return ""
    now = utcnow()
    added = 0
    for key, source, days_ago, subject, text, writer, district, consent, story, code in MESSAGES:
        if _existing(key, source) is not None:
            continue
        received = now - timedelta(days=days_ago)
        message = _create(key, source, received, subject, text, writer, district, consent)
        if message is None:
            continue
        added += 1
        dept = _department(code)
        if dept is not None:
            _story(message, story, dept, received, admin, now)
        db.session.flush()
    if db.session.scalar(sa.select(ImportBatch.id)) is None:  # one batch from a mailbox, with one bad row
        batch = BATCH.format(when=format_local(now - timedelta(days=5)))
        report = imports.import_file(admin, MessageSource.MAILBOX, "信箱转办-示例.csv", batch.encode("utf-8"))
        added += report.imported
    if db.session.scalar(sa.select(CommonProblem.id).where(CommonProblem.title == PROBLEM_TITLE)) is None:
        housing = _department("housing")
        members = list(db.session.scalars(sa.select(Message).where(
            Message.subject.contains("电梯"), Message.subject.contains("审批"))))
        if housing is not None and len(members) >= 2:
            problem = problems.create_problem(admin, [m.id for m in members], title=PROBLEM_TITLE,
                                              department_id=housing.id)
            problems.confirm(admin, problem, title=PROBLEM_TITLE, action_kind=ActionKind.POLICY_CHANGE,
                             action_text="市房屋管理局会同市规划资源局修订加装电梯审批流程：联合审查、网上一站式办理，"
                                         "审查时限由20个工作日压缩为10个工作日。",
                             action_link="/consultations/")
            added += 1
    return f"{added} messages and problems" if added else ""
