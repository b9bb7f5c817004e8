"""Demo data: one open consultation (12 articles, interpretation, published comments, FAQ) and one closed with its
feedback report published. Topics follow the seed (2024 work points: 民心工程 and 涉企 "政策服务包").
Idempotent: each consultation is found by its title first."""
from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.accounts import demo as accounts_demo
from app.accounts.models import mask_name
from app.consultations import reports, rules, services
from app.consultations.models import (
    Article,
    Comment,
    Consultation,
    DispositionKind,
    DocumentType,
    ModerationState,
    Stance,
)
from app.core.timeutil import utcnow
from app.extensions import db

OPEN_TITLE = "上海市既有多层住宅加装电梯管理办法（征求意见稿）"
OPEN_DRAFT = """上海市既有多层住宅加装电梯管理办法（征求意见稿）

第一章 总则
第一条 为了改善既有多层住宅居住条件，方便老年人等群体出行，规范既有多层住宅加装电梯工作，根据有关法律法规，结合本市实际，制定本办法。
第二条 本办法适用于本市行政区域内已建成投入使用、具有合法权属证明、未设电梯的四层及以上住宅加装电梯的活动。
第三条 加装电梯应当遵循业主自愿、政府引导、因地制宜、安全适用、兼顾各方利益的原则。
第四条 市房屋管理部门负责本市既有多层住宅加装电梯的统筹协调和指导监督。区人民政府负责本辖区加装电梯的组织推进，街道办事处、乡镇人民政府做好政策宣传和协调服务。
第二章 申请与审批
第五条 加装电梯应当经本单元房屋专有部分面积占比三分之二以上的业主且人数占比三分之二以上的业主参与表决，并经参与表决专有部分面积四分之三以上的业主且参与表决人数四分之三以上的业主同意。
第六条 业主可以推选业主代表或者委托代建单位作为实施主体，负责申请、设计、施工、验收及后续管理等事项。
第七条 实施主体应当将加装电梯方案在本单元显著位置公示，公示期不少于十日。公示期间有异议的，街道办事处、乡镇人民政府应当组织协调。
第八条 区住房城乡建设管理部门应当建立联合审查机制，在收到完整申请材料之日起二十个工作日内出具审查意见。
第三章 资金与维护
第九条 加装电梯所需资金由业主根据所在楼层等因素协商分摊，可以使用住宅专项维修资金，符合条件的可以申请住房公积金。
第十条 市、区财政对符合条件的加装电梯项目给予补贴，具体标准另行制定。
第十一条 电梯投入使用后，实施主体应当委托具有相应资质的维护保养单位进行日常维护保养，维护费用由受益业主分摊。
第四章 附则
第十二条 本办法自2027年1月1日起施行，有效期五年。
"""
OPEN_INTERPRETATION = """一、起草背景
加装电梯是市委、市政府确定的民心工程。近年来本市加装电梯工作持续推进，但仍存在居民意见难统一、审批流程长、后期维护责任不清等问题。

二、主要内容
（一）明确表决规则（第五条），与民法典关于业主共同决定事项的规定保持一致。
（二）压缩审查时限（第八条），建立联合审查机制，二十个工作日内出具意见。
（三）明确资金渠道和维护责任（第九条至第十一条）。

三、征询重点
欢迎重点就表决规则、低层业主利益平衡、补贴标准和维护费用分摊提出意见。"""

OPEN_COMMENTS = [
    ("zhang.wei@canyu.example", "第五条", Stance.SUGGEST_CHANGE,
     "建议第五条明确一楼、二楼业主的补偿协商机制，避免因个别业主反对导致项目长期搁置。"),
    ("wang.fang@canyu.example", None, Stance.SUPPORT, "我们楼里老人多，爬六楼很困难，非常支持加装电梯，希望尽快推进。"),
    ("li.na@canyu.example", "第八条", Stance.SUGGEST_CHANGE, "第八条的二十个工作日能否再缩短？建议推行网上一站式办理。"),
    ("chen.qiang@canyu.example", "第十一条", Stance.SUGGEST_CHANGE,
     "建议第十一条明确维保单位的响应时限，并将电梯运行数据接入市级监管平台。联系电话13812345678。"),
    ("zhang.wei@canyu.example", "第九条", Stance.SUGGEST_CHANGE, "建议第九条允许提取住房公积金用于分摊加装电梯费用，并简化提取手续。"),
]

CLOSED_TITLE = "上海市惠企政策“政策服务包”管理办法（征求意见稿）"
CLOSED_DRAFT = """第一条 为了提升惠企政策的知晓度和兑现效率，规范“政策服务包”的编制和推送，制定本办法。
第二条 本办法所称“政策服务包”，是指围绕企业全生命周期，对惠企政策进行拆解、整合后形成的政策集合及办事指引。
第三条 市经济信息化部门负责“政策服务包”的统筹编制，各有关部门按照职责提供政策内容并及时更新。
第四条 “政策服务包”通过企业专属空间精准推送，企业可以按照行业、规模等标签订阅。
第五条 政策内容发生变化的，有关部门应当在五个工作日内完成更新。
第六条 本办法自发布之日起施行。
"""
CLOSED_FINAL = """第四条 “政策服务包”通过企业专属空间精准推送，企业可以按照行业、规模、所在区等标签订阅，也可以通过行业协会、商会获取。
第五条 政策内容发生变化的，有关部门应当在三个工作日内完成更新，并向已订阅企业推送变更提示。
"""
CLOSED_COMMENTS = [
    ("chen.qiang@canyu.example", "第四条", "建议第四条增加按所在区订阅的标签，我们更关心区级的扶持政策。",
     DispositionKind.ADOPTED, "已在第四条增加“所在区”标签。", ""),
    ("zhang.wei@canyu.example", "第五条", "第五条的五个工作日太长了，政策变化应当更快更新。",
     DispositionKind.PARTLY_ADOPTED, "更新时限缩短为三个工作日，并增加变更提示。", ""),
    ("li.na@canyu.example", None, "建议所有惠企政策都直接免申即享。",
     DispositionKind.NOT_ADOPTED, "", "免申即享需逐项评估政策条件，不宜在本办法中统一规定，已转有关部门研究。"),
]


def _find(title: str) -> Consultation | None:
    return db.session.scalar(sa.select(Consultation).where(Consultation.title == title))


def _add_comment(c: Consultation, email: str, article: Article | None, text: str, stance, when) -> Comment | None:
    user = accounts_demo.user(email)
    if user is None:
        return None
    ctype = services.commenter_type_for(user)
    show_org = user.organisation_name is not None
    comment = Comment(
        consultation_id=c.id, article_id=article.id if article else None, user_id=user.id,
        tracking_number=rules.random_tracking_number(when.year), idempotency_key=uuid.uuid4().hex, stance=stance,
        text_original=text, text_public=rules.mask_personal_information(text), commenter_type=ctype,
        show_organisation=show_org, public_name=user.organisation_name if show_org else mask_name(user.name),
        created_at=when, moderation_state=ModerationState.PUBLISHED, moderated_at=when, published_at=when)
    db.session.add(comment)
    c.comment_count += 1
    c.published_comment_count += 1
    if article is not None:
        article.published_comment_count += 1
    return comment


def _create(staff, title: str, draft: str, interpretation: str, document_type, concerns_enterprises: bool,
            opens_at, closes_at, summary: str, contact: str, groups: list[str]) -> Consultation:
    c = services.create_consultation(staff, staff.department_id, services.ConsultationData(
        title=title, summary=summary, document_type=document_type, concerns_enterprises=concerns_enterprises,
        draft_text=draft, interpretation=interpretation, contact=contact, opens_at=opens_at, closes_at=closes_at,
        target_groups=groups))
    c.published_at = opens_at  # published on its opening day
    db.session.flush()
    return c


def load() -> str:
    with current_app.test_request_context("/"):
        return _load()


def _load() -> str:
    housing = accounts_demo.user("housing@canyu.example")
    economy = accounts_demo.user("economy@canyu.example")
    if housing is None or economy is None:
        return ""
    added = []
    now = utcnow().replace(second=0, microsecond=0)
    if _find(OPEN_TITLE) is None:
        c = _create(housing, OPEN_TITLE, OPEN_DRAFT, OPEN_INTERPRETATION, DocumentType.GOVERNMENT_RULE, False,
                    now - timedelta(days=10), now + timedelta(days=25),
                    "为推进加装电梯这项民心工程，市房屋管理局起草了本办法，现公开征询意见。",
                    "市房屋管理局法规处 021-23111111，jiatidianti@fgj.example.gov.cn", ["grassroots"])
        articles = {a.label: a for a in c.articles}  # each comment on the article it talks about
        for i, (email, art, stance, text) in enumerate(OPEN_COMMENTS):
            _add_comment(c, email, articles.get(art) if art else None, text, stance,
                         now - timedelta(days=9 - i))
        services.save_faq(housing, c, question="加装电梯需要多少业主同意？",
                          answer_text="按草案第五条，需“双三分之二”参与表决、“双四分之三”同意。", is_published=True)
        added.append("open consultation")
    if _find(CLOSED_TITLE) is None:
        c = _create(economy, CLOSED_TITLE, CLOSED_DRAFT, "为落实“政策服务包”工作要求，起草本办法。主要听取企业和行业协会、商会意见。",
                    DocumentType.NORMATIVE_DOCUMENT, True, now - timedelta(days=70), now - timedelta(days=35),
                    "围绕企业全生命周期，规范“政策服务包”的编制与精准推送。", "市经济信息化委 021-23112222",
                    ["enterprises", "associations"])
        articles = {a.label: a for a in c.articles}
        for i, (email, art, text, kind, response, reason) in enumerate(CLOSED_COMMENTS):
            comment = _add_comment(c, email, articles.get(art) if art else None, text, None,
                                   now - timedelta(days=60 - i))
            if comment is None:
                continue
            db.session.flush()
            services.answer(economy, c, comment=comment, kind=kind, response=response, reason=reason)
        reports.save_report(economy, c, main_points="共收到企业和市民意见3条，主要集中在订阅标签和政策更新时限。",
                             changes="第四条增加“所在区”标签和行业协会、商会渠道；第五条更新时限由五个工作日缩短为三个工作日。",
                             final_text=CLOSED_FINAL)
        reports.publish_report(economy, c)
        added.append("closed consultation with its feedback report")
    db.session.flush()
    return ", ".join(added)
