"""Demo data for hearings (idempotent: meetings are found by title, people by e-mail).

1. 市房屋管理局: a meeting open for applications (加装电梯补贴), with three applications.
2. 徐汇区人民政府: a meeting whose selection is complete and public: pool, quotas, 1,000 panels computed by the
   library, announced random sources, the draw and the alternates; observers have answered.
The random numbers in the demo are made up for the demonstration (the meetings say so).
"""
from __future__ import annotations

import random
from datetime import date, time, timedelta

import sqlalchemy as sa

from app.accounts import demo as accounts_demo
from app.accounts.models import Role, User
from app.core.timeutil import from_local, local, utcnow
from app.extensions import db
from app.hearings import lottery_runs, selection_services, services
from app.hearings.models import ApplicationState, Disposition, Meeting

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
GIVEN = ["建国", "秀英", "志强", "桂兰", "海燕", "伟", "静", "敏", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明",
         "超", "霞", "平", "刚", "丽", "晨", "欣怡", "子涵", "宇航", "雨桐", "浩然", "佳琪", "思远"]
DISTRICTS = ["xuhui", "xuhui", "xuhui", "pudong", "jingan", "changning", "minhang", "huangpu", "yangpu"]
AGES = ["18_29", "30_44", "30_44", "45_59", "45_59", "60_plus", "60_plus"]
STATEMENTS = [
    "家中有八十多岁的老人，希望社区养老服务站离家更近，愿意把我们楼组的情况带到会上。",
    "我在街道做社区志愿者，经常陪老人去日间照料中心，了解大家最常提的需求。",
    "我经营一家小型康复器械公司，想就嵌入式养老设施的配置标准提出建议。",
    "作为双职工家庭，父母的日常照护是我们最大的难题，希望政策更贴近上班族。",
    "我已退休，每天在社区食堂吃饭，想反映助餐点的服务时间和价格问题。",
    "我在物业公司工作，熟悉老旧小区可改造的公共空间，可以提供具体的场地意见。",
]


def _demo_people(n: int) -> list[User]:
    rnd = random.Random(20260601)
    people = []
    for i in range(n):
        email = f"hearing.demo{i + 1:02d}@canyu.example"
        person = accounts_demo.user(email)
        if person is None:
            enterprise = i % 7 == 3
            person = User(email=email, name=SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)],
                          role=Role.ENTERPRISE if enterprise else Role.RESIDENT,
                          district=rnd.choice(DISTRICTS), age_band=rnd.choice(AGES),
                          gender="female" if rnd.random() < 0.55 else "male", email_verified_at=utcnow())
            if enterprise:
                person.organisation_name = "上海汇养健康服务有限公司"
                person.uscc = "91310000MA1FL8XQ37"
            accounts_demo.give_demo_password(person)
            db.session.add(person)
        people.append(person)
    db.session.flush()
    return people


def _meeting(title: str) -> Meeting | None:
    return db.session.scalar(sa.select(Meeting).where(Meeting.title == title))


def _open_meeting(now) -> Meeting | None:
    title = "既有多层住宅加装电梯补贴政策调整决策会议"
    if _meeting(title):
        return None
    dept = accounts_demo.department("housing")
    staff = accounts_demo.user("housing@canyu.example")
    meeting = services.create_meeting(
        staff, dept.id, title=title,
        summary="市房屋管理局拟调整既有多层住宅加装电梯的财政补贴标准和审批流程，邀请市民代表和企业代表列席决策会议。",
        topics=[("加装电梯财政补贴标准调整", "现行补贴为每台不超过28万元。拟按楼层数和受益户数分档补贴，并对有老年人、残疾人的楼栋适当倾斜。"),
                ("加装电梯审批流程简化", "拟将规划、施工许可等环节并联办理，审批时限由40个工作日压缩至20个工作日。"),
                ("低楼层住户利益平衡机制", "讨论低楼层住户的补偿办法和意见分歧时的协商程序。")],
        quotas=[{"category": "gender", "value": "female", "min": 2, "max": 3, "reason": "男女大致各半。"},
                {"category": "age_band", "value": "60_plus", "min": 1, "max": 2,
                 "reason": "加装电梯主要惠及老年住户，至少一位60岁以上代表。"},
                {"category": "account_type", "value": "enterprise", "min": 0, "max": 1,
                 "reason": "相关企业最多一位，避免利益相关方占多数。"}],
        starts_at=now + timedelta(days=40), place="上海市徐汇区肇嘉浜路1号 市房屋管理局第三会议室",
        online_link="", seats=5, alternates=2,
        eligibility="年满18周岁；在本市居住或工作；与会议议题无利害关系（由申请人声明），加装电梯相关企业的从业人员请如实申报。",
        method=("资格审查后，符合条件的申请人按随机编号组成候选池（公开每人的类别，不公开姓名）；用 maximin 算法计算约1000个"
                "满足配额的方案并在抽签前公开；按 RFC 3797，用事先公布的将来开奖号码公开抽取其中一个方案，"
                "并按同一序列确定候补顺序。"),
        opens_at=now - timedelta(days=2), closes_at=now + timedelta(days=12), response_days=3)
    meeting.publish(now=meeting.opens_at - timedelta(days=7))
    for person in _demo_people(6)[3:6]:
        services.apply(person, meeting, statement=STATEMENTS[person.id % len(STATEMENTS)],
                       lives_or_works_in_city=True, has_conflict=False, conflict_details="",
                       consents_to_publication=True, confirms_categories=True, now=now - timedelta(days=1))
    return meeting


def _selected_meeting(now, *, title, dept_code, staff_email, summary, topics, quotas, start_offset, n_people,
                      sources, source_descriptions, demo_residents) -> Meeting | None:
    if _meeting(title):
        return None
    dept = accounts_demo.department(dept_code)
    staff = accounts_demo.user(staff_email)
    opens = now + timedelta(days=start_offset)
    meeting = services.create_meeting(
        staff, dept.id, title=title, summary=summary, topics=topics, quotas=quotas,
        starts_at=opens + timedelta(days=50), place="徐汇区漕溪北路336号 区政府第一会议室", online_link="",
        seats=5, alternates=2,
        eligibility="年满18周岁；在本市居住或工作；与会议议题无利害关系（由申请人声明）。",
        method=("资格审查后，符合条件的申请人按随机编号组成候选池；用 maximin 算法计算约1000个满足配额的方案（每人的实际入选机会 = 包含他的方案数 ÷ 方案数）"
                "并在抽签前公开；按 RFC 3797，用事先公布的将来开奖号码公开抽取其中一个方案，并按同一序列确定候补顺序。"),
        opens_at=opens, closes_at=opens + timedelta(days=14), response_days=3)
    meeting.publish(now=opens - timedelta(days=7))
    people = [accounts_demo.user(e) for e in demo_residents] + _demo_people(n_people)
    applications = []
    for i, person in enumerate(p for p in people if p is not None):
        applications.append(services.apply(
            person, meeting, statement=STATEMENTS[i % len(STATEMENTS)], lives_or_works_in_city=True,
            has_conflict=(i == 5), conflict_details="本人在一家养老服务企业兼职。" if i == 5 else "",
            consents_to_publication=True, confirms_categories=True, now=opens + timedelta(days=1, hours=i)))
    for i, a in enumerate(applications):
        if i == 5:
            services.review(staff, a, eligible=False, reason="申报与议题相关企业存在雇佣关系，存在利益冲突。")
        else:
            services.review(staff, a, eligible=True)
    selection_services.freeze_pool(staff, meeting, now=meeting.closes_at + timedelta(hours=2))
    run = selection_services.request_lottery(staff, meeting)
    db.session.flush()
    computed_at = meeting.closes_at + timedelta(days=1)  # the demo computes now, dated the day after the pool froze
    lottery_runs.execute_lottery_run(run, time_limit=300, recorded_at=computed_at)
    if selection_services.published_run(meeting) is None:
        return meeting
    run.finished_at = computed_at
    run.started_at = run.finished_at - timedelta(seconds=run.seconds or 1)
    expected = local(meeting.closes_at + timedelta(days=5)).date()  # the draw day, in Shanghai
    selection_services.announce_draw(staff, meeting, descriptions=source_descriptions, expected_on=expected,
                                     times=[time(21, 30)], now=computed_at + timedelta(hours=2))
    selection_services.perform_draw(staff, meeting, [" ".join(map(str, s)) for s in sources],
                                    now=from_local(expected, time(21, 45)))
    return meeting


def _answer_all(meeting: Meeting, now) -> None:
    staff_app = meeting.pool.entries
    selected = [e.application for e in staff_app if e.application.state is ApplicationState.SELECTED]
    for i, a in enumerate(selected):
        when = a.respond_by - timedelta(days=1)
        if i == 0:
            selection_services.respond(a.user, a, accept=False, now=when)  # an alternate moves in
        else:
            selection_services.respond(a.user, a, accept=True, now=when)
    for a in [e.application for e in staff_app if e.application.state is ApplicationState.SELECTED]:
        selection_services.respond(a.user, a, accept=True, now=a.respond_by - timedelta(hours=6))


def load() -> str:
    from flask_babel import force_locale

    with force_locale("zh"):
        return _load()


def _load() -> str:
    now = utcnow().replace(second=0, microsecond=0)
    added = []
    if _open_meeting(now):
        added.append("open meeting")
    selected = _selected_meeting(
        now, title="徐汇区社区嵌入式养老服务设施布局方案决策会议", dept_code="xuhui", staff_email="xuhui@canyu.example",
        summary=("徐汇区拟在各街道布局社区嵌入式养老服务设施（综合为老服务中心、日间照料中心、社区助餐点），"
                 "邀请利益相关的市民代表和民营企业代表列席区政府常务会议。（本会议为演示数据，抽签使用的号码为虚构。）"),
        topics=[("社区嵌入式养老服务设施布局方案", "方案拟新增综合为老服务中心3处、日间照料中心8处、社区助餐点15处，优先覆盖60岁以上老年人口占比超过35%的街道。"),
                ("社区助餐服务价格和补贴", "拟对80岁以上老人、低保和低收入老人给予每餐3至5元补贴。")],
        quotas=[{"category": "gender", "value": "female", "min": 2, "max": 3, "reason": "男女大致各半。"},
                {"category": "age_band", "value": "60_plus", "min": 1, "max": 2,
                 "reason": "养老设施的主要使用者是老年人，至少一位60岁以上代表。"},
                {"category": "district", "value": "xuhui", "min": 2, "max": 5,
                 "reason": "设施建在徐汇区，至少两位徐汇区居民。"}],
        start_offset=-40, n_people=28, sources=[[7, 19, 23, 31, 44, 52, 58, 61, 66, 70, 72, 75, 77, 79, 3, 12, 26, 38, 49, 55],
                                                 [4, 0, 9, 2, 6]],
        source_descriptions=["中国福利彩票“快乐8”第2026170期开奖号码（20个）", "中国体育彩票“排列5”第26170期开奖号码"],
        demo_residents=["zhang.wei@canyu.example", "li.na@canyu.example", "wang.fang@canyu.example",
                        "chen.qiang@canyu.example"])
    if selected is not None:
        _answer_all(selected, now)
        added.append("meeting with public selection")
    db.session.flush()
    return ", ".join(added)
