"""Demo data of the Open Month (idempotent: activities are found by title, people by e-mail).

August 2026: sessions already held (with check-ins, no-shows and ratings), sessions open for sign-up and sessions
full with a waitlist, online and offline, from eight departments; and the popular vote of 2026.
Sessions that should be open but whose August 2026 date has already passed when the loader runs are put in
August of the next year, so that the demo always has something to sign up for.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from app.accounts import demo as accounts_demo
from app.accounts.models import Role, Tag, User
from app.core.timeutil import from_local, utcnow
from app.extensions import db
from app.openday.models import (
    Activity, ActivityMode, ActivitySession, Eligibility, Rating, Registration, RegistrationState, Vote, VotingWindow,
)

RS = RegistrationState
YEAR = 2026

# (department code, title, mode, district, address, access notes, eligibility, companions, tags, sessions)
# sessions: (day of August, start, end, capacity, kind) where kind is "past", "open" or "full".
ACTIVITIES = [
    ("housing", "走进市房屋管理局：旧区改造成果展", ActivityMode.OFFLINE, "huangpu", "黄浦区世博村路 300 号",
     "地铁 8 号线中华艺术宫站 2 号口步行 5 分钟；无障碍通道和无障碍卫生间。", Eligibility.EVERYONE, 2,
     ["房地产与物业", "老年人"], [(4, "09:30", "11:30", 8, "past"), (18, "14:00", "16:00", 30, "open")]),
    ("economy", "智能工厂开放日：看上海制造的数字化", ActivityMode.BOTH, "jiading", "嘉定区安亭镇墨玉南路 888 号",
     "地铁 11 号线安亭站，活动当天有接驳车；展厅有电梯。", Eligibility.ADULTS, 0,
     ["制造业", "信息技术"], [(6, "10:00", "12:00", 10, "past"), (20, "10:00", "12:00", 3, "full")]),
    ("ecology", "环境监测站探秘：空气质量数据从哪里来", ActivityMode.OFFLINE, "xuhui", "徐汇区钦州路 100 号",
     "地铁 1 号线上海体育馆站；监测站楼顶平台无电梯，轮椅使用者可在一楼参观数据大厅。", Eligibility.EVERYONE, 1,
     ["青年"], [(8, "14:00", "15:30", 6, "past"), (22, "09:00", "10:30", 20, "open")]),
    ("civil-affairs", "养老服务综合体开放参观", ActivityMode.OFFLINE, "jingan", "静安区共和新路 1000 号",
     "地铁 1 号线汉中路站；全程无障碍，可借用轮椅。", Eligibility.EVERYONE, 2,
     ["老年人", "社区工作者"], [(12, "09:30", "11:00", 3, "full"), (26, "09:30", "11:00", 25, "open")]),
    ("market", "线上直播：食品安全抽检实验室", ActivityMode.ONLINE, None, "", "", Eligibility.EVERYONE, 0,
     ["餐饮住宿", "商贸零售"], [(5, "19:00", "20:00", 200, "past"), (19, "19:00", "20:00", 300, "open")]),
    ("xuhui", "徐汇区政务服务中心“一网通办”体验日", ActivityMode.OFFLINE, "xuhui", "徐汇区漕溪北路 336 号",
     "地铁 1/9/11 号线徐家汇站 14 号口；无障碍通道，手语翻译需提前预约。", Eligibility.RESIDENTS, 1,
     ["社区工作者"], [(7, "09:00", "11:00", 8, "past"), (21, "09:00", "11:00", 15, "open")]),
    ("pudong", "浦东新区企业服务中心开放日", ActivityMode.BOTH, "pudong", "浦东新区合欢路 2 号",
     "地铁 6 号线民生路站；停车位有限，建议公共交通。", Eligibility.ENTERPRISES, 1,
     ["小微企业主", "行业协会商会"], [(13, "14:00", "16:30", 20, "open")]),
    ("gov-office", "线上开放：市政府常务会议怎样开", ActivityMode.ONLINE, None, "", "", Eligibility.EVERYONE, 0,
     ["青年", "外籍人士"], [(3, "15:00", "16:00", 100, "past"), (27, "15:00", "16:00", 100, "open")]),
]

COMMENTS = ["讲解很清楚，受益匪浅。", "安排有序，工作人员很耐心。", "希望明年还能再来。", "内容丰富，时间有点短。", ""]


def _extra_people(n: int = 24) -> list[User]:
    people = []
    surnames = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张"
    districts = ["xuhui", "pudong", "jingan", "huangpu", "minhang", "yangpu"]
    for i in range(n):
        email = f"openday.demo{i + 1:02d}@canyu.example"
        user = accounts_demo.user(email)
        if user is None:
            user = User(email=email, name=surnames[i % len(surnames)] + "市民", role=Role.RESIDENT,
                        district=districts[i % len(districts)], age_band=["18_29", "30_44", "45_59", "60_plus"][i % 4],
                        email_verified_at=from_local(date(2026, 6, 1)), created_at=from_local(date(2026, 6, 1)))
            db.session.add(user)
            people.append(user)
        else:
            people.append(user)
    db.session.flush()
    return people


def _day(day: int, kind: str, now: datetime) -> date:
    d = date(YEAR, 8, day)
    if kind != "past" and from_local(d) <= now:
        return date(YEAR + 1, 8, day)
    return d


def _register(session: ActivitySession, user: User, state: RS, at: datetime, companions: int = 0) -> Registration:
    reg = Registration(session=session, activity=session.activity, user=user, companions=companions, state=state,
                       starts_at=session.starts_at, ends_at=session.ends_at, created_at=at)
    seats = 1 + companions
    if state in (RS.CONFIRMED, RS.CHECKED_IN, RS.NO_SHOW):
        session.confirmed_seats += seats
        reg.confirmed_at = at
    if state is RS.WAITLISTED:
        session.waitlist_tail += 1
        session.waitlist_count += 1
        reg.waitlist_position = session.waitlist_tail
    if state is RS.CHECKED_IN:
        reg.checked_in_at = session.starts_at - timedelta(minutes=8)
        session.checked_in_count += 1
        session.activity.checked_in_count += 1
    if state is RS.NO_SHOW:
        session.no_show_count += 1
        session.activity.no_show_count += 1
    db.session.add(reg)
    return reg


def load() -> str:
    now = utcnow()
    people = _extra_people()
    named = [accounts_demo.user(e) for e in ("zhang.wei@canyu.example", "li.na@canyu.example",
                                             "wang.fang@canyu.example")]
    named = [u for u in named if u is not None]
    residents = named + people
    enterprise = accounts_demo.user("chen.qiang@canyu.example")
    added = []
    for n, (dept_code, title, mode, district, address, notes, eligibility, companions, tag_names, sessions) \
            in enumerate(ACTIVITIES):
        if db.session.scalar(sa.select(Activity.id).where(Activity.title == title)) is not None:
            continue
        department = accounts_demo.department(dept_code)
        if department is None:
            continue
        activity = Activity(
            department_id=department.id, title=title, mode=mode, district=district, address=address,
            access_notes=notes, eligibility=eligibility, max_companions=companions,
            description=f"{title}。\n\n欢迎市民走进{department.name}，了解工作流程，与工作人员面对面交流。"
                        "活动结束后请为本场活动评分，并参加“最受欢迎的政府开放活动”评选。",
            online_url="https://live.canyu.example/openday/" + dept_code if mode is not ActivityMode.OFFLINE else "",
            signup_opens_at=from_local(date(YEAR, 7, 1)), signup_closes_at=from_local(date(YEAR + 1, 8, 31)),
            published_at=from_local(date(YEAR, 6, 25)), created_at=from_local(date(YEAR, 6, 20)))
        activity.tags = list(db.session.scalars(sa.select(Tag).where(Tag.name.in_(tag_names))))
        db.session.add(activity)
        db.session.flush()
        pool = [enterprise] if eligibility is Eligibility.ENTERPRISES and enterprise else residents
        for day, start, end, capacity, kind in sessions:
            d = _day(day, kind, now)
            s = ActivitySession(activity=activity, starts_at=from_local(d, time.fromisoformat(start)),
                                ends_at=from_local(d, time.fromisoformat(end)), capacity=capacity, has_waitlist=True)
            db.session.add(s)
            db.session.flush()  # column defaults (the counters) are set
            signed_up_at = from_local(date(YEAR, 7, 2 + n))
            if kind == "past":
                attendees = pool[: min(len(pool), capacity)]
                for i, user in enumerate(attendees):
                    state = RS.NO_SHOW if i % 5 == 4 else RS.CHECKED_IN
                    reg = _register(s, user, state, signed_up_at)
                    if state is RS.CHECKED_IN and i % 3 != 2:
                        stars = [5, 4, 5, 3, 4][(i + n) % 5]
                        db.session.flush()
                        db.session.add(Rating(registration_id=reg.id, session_id=s.id, activity_id=activity.id,
                                              user_id=user.id, stars=stars, comment=COMMENTS[(i + n) % len(COMMENTS)],
                                              created_at=s.ends_at + timedelta(hours=2)))
                        s.rating_count += 1
                        s.rating_sum += stars
                        activity.rating_count += 1
                        activity.rating_sum += stars
                s.no_shows_marked_at = s.ends_at + timedelta(hours=1)
            elif kind == "full":
                for i, user in enumerate(pool[-(capacity + 3):]):
                    _register(s, user, RS.CONFIRMED if i < capacity else RS.WAITLISTED, signed_up_at)
            else:
                for user in pool[-4:-1]:
                    _register(s, user, RS.CONFIRMED, signed_up_at)
        db.session.flush()
        activity.refresh_first_start()
        added.append(title)
    window = db.session.scalar(sa.select(VotingWindow).where(VotingWindow.year == YEAR))
    votes = 0
    if window is None:
        admin = accounts_demo.user("admin@canyu.example")
        window = VotingWindow(year=YEAR, opens_at=from_local(date(YEAR, 8, 1)),
                              closes_at=from_local(date(YEAR, 9, 15), time(18, 0)), live_ranking=True,
                              created_by_id=admin.id if admin else None, created_at=from_local(date(YEAR, 7, 25)))
        db.session.add(window)
        db.session.flush()
        activities = db.session.scalars(sa.select(Activity).where(
            Activity.title.in_([a[1] for a in ACTIVITIES]), Activity.first_starts_at >= from_local(date(YEAR, 1, 1)),
            Activity.first_starts_at < from_local(date(YEAR + 1, 1, 1))).order_by(Activity.id)).all()
        # A plausible result: a few favourites, a long tail (weights fall with a fixed, seeded popularity order).
        rng = random.Random(YEAR)
        order = activities[:]
        rng.shuffle(order)
        weights = [0.9 ** (2 * k) for k in range(len(order))]
        for i, user in enumerate(residents):
            chosen: list[Activity] = []
            for _ in range(min(1 + i % 3, len(order))):
                activity = rng.choices(order, weights)[0]
                if activity not in chosen:
                    chosen.append(activity)
            for activity in chosen:
                db.session.add(Vote(window_id=window.id, activity_id=activity.id, user_id=user.id,
                                    created_at=from_local(date(YEAR, 8, 10 + i % 20)), ip_address="127.0.0.1"))
                votes += 1
    db.session.flush()
    parts = []
    if added:
        parts.append(f"{len(added)} activities")
    if votes:
        parts.append(f"voting window {YEAR} with {votes} votes")
    return ", ".join(parts)
