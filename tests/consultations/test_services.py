"""Use cases: drafting, periods, state, comments, moderation, grouping, answers and the feedback report."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import Role
from app.consultations import exports, groups, jobs, reports, services
from app.consultations.models import (
    Comment,
    CommenterType,
    CommentGroup,
    Consultation,
    ConsultationError,
    ConsultationState,
    DispositionKind,
    DocumentType,
    ModerationState,
    RejectionReason,
)
from app.core.audit import AuditEntry
from app.notifications.models import OutboxEmail
from tests.consultations.conftest import AFTER, CLOSES, DRAFT, DURING, OPENS, data

pytestmark = pytest.mark.usefixtures("ctx")

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 40
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def count(db, model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_create_splits_articles_and_resplit_keeps_ids(db, staff, department):
    c = services.create_consultation(staff, department.id, data())
    db.session.commit()
    assert [a.label for a in c.articles] == ["第一条", "第二条", "第三条", "第四条", "第五条"]
    ids = {a.label: a.id for a in c.articles}
    edited = DRAFT.replace("第三条 市大数据中心", "第三条 公共数据开放应当安全可控。\n第四条 市大数据中心") \
        .replace("第四条 公共数据开放目录", "第五条 公共数据开放目录").replace("第五条 本办法自", "第六条 本办法自")
    services.update_consultation(staff, c, data(draft_text=edited))
    db.session.commit()
    new_ids = {a.label: a.id for a in c.articles}
    assert new_ids["第一条"] == ids["第一条"] and new_ids["第二条"] == ids["第二条"]
    assert new_ids["第四条"] == ids["第三条"]  # renumbered, text unchanged: the same article
    assert new_ids["第六条"] == ids["第五条"]
    assert new_ids["第三条"] not in ids.values()  # the inserted article is new
    assert db.session.scalar(sa.select(AuditEntry.action).where(AuditEntry.action == "consultation.update"))


def test_short_period_needs_a_reason(db, staff, department):
    short = data(closes_at=OPENS + timedelta(days=10))
    with pytest.raises(ConsultationError) as err:
        services.create_consultation(staff, department.id, short)
    assert err.value.field == "short_period_reason" and "30" in str(err.value)
    db.session.rollback()
    assert count(db, Consultation) == 0
    c = services.create_consultation(staff, department.id, data(closes_at=OPENS + timedelta(days=10),
                                                                short_period_reason="应急需要"))
    assert services.is_period_short(c)


def test_normative_document_counts_working_days_with_make_up_saturday(db, staff, department):
    cst = timezone(timedelta(hours=8))
    nd = dict(document_type=DocumentType.NORMATIVE_DOCUMENT, opens_at=datetime(2026, 2, 9, tzinfo=cst))
    with pytest.raises(ConsultationError):
        services.create_consultation(staff, department.id, data(closes_at=datetime(2026, 2, 24, tzinfo=cst), **nd))
    db.session.rollback()
    services.create_consultation(staff, department.id, data(closes_at=datetime(2026, 2, 25, tzinfo=cst), **nd))
    with pytest.raises(ConsultationError):  # concerning enterprises: 30 days
        services.create_consultation(staff, department.id, data(closes_at=datetime(2026, 2, 25, tzinfo=cst),
                                                                concerns_enterprises=True, **nd))


def test_state_follows_time_and_acts(db, make_consultation, staff):
    draft = make_consultation(publish=False)
    assert draft.state is ConsultationState.DRAFT
    c = make_consultation()
    assert c.state_at(OPENS - timedelta(days=1)) is ConsultationState.SCHEDULED
    assert c.state_at(DURING) is ConsultationState.OPEN
    assert c.state_at(CLOSES) is ConsultationState.CLOSED
    with time_machine.travel(DURING, tick=False):
        services.withdraw(staff, c, "政策调整")
        assert c.state is ConsultationState.WITHDRAWN
        with pytest.raises(ConsultationError):
            services.publish(staff, c)


def test_publish_twice_and_withdraw_without_reason_refused(db, make_consultation, staff):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        with pytest.raises(ConsultationError):
            services.publish(staff, c)
        with pytest.raises(ConsultationError):
            services.withdraw(staff, c, "  ")
        assert c.withdrawn_at is None


def test_extend_with_public_notice(db, make_consultation, staff):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        with pytest.raises(ConsultationError):
            services.extend(staff, c, CLOSES - timedelta(days=1), "延期")
        with pytest.raises(ConsultationError):
            services.extend(staff, c, CLOSES + timedelta(days=7), "")
        ext = services.extend(staff, c, CLOSES + timedelta(days=7), "因收到大量意见，延长一周。")
        db.session.commit()
    assert c.closes_at == CLOSES + timedelta(days=7) and ext.previous_closes_at == CLOSES
    assert c.state_at(CLOSES + timedelta(days=1)) is ConsultationState.OPEN


def test_comment_gets_tracking_number_masked_text_and_receipt(db, make_consultation, resident):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        comment, created = services.submit_comment(resident, c, text="请联系我13812345678，邮箱a@b.cn",
                                                   article_id=c.articles[2].id, idempotency_key="k1")
        db.session.commit()
    assert created and comment.tracking_number.startswith("ZX-2026-")
    assert comment.text_original == "请联系我13812345678，邮箱a@b.cn"
    assert "13812345678" not in comment.text_public and "a@b.cn" not in comment.text_public
    assert comment.public_name == "张**" and comment.commenter_type is CommenterType.RESIDENT
    assert comment.moderation_state is ModerationState.PENDING
    db.session.refresh(c)
    assert (c.comment_count, c.pending_comment_count, c.published_comment_count) == (1, 1, 0)
    # The receipt is queued by a job seconds later, from the flag the comment's own INSERT set; once.
    assert db.session.scalar(sa.select(OutboxEmail)) is None and comment.receipt_mail_due
    assert jobs.mail_receipts() == 1 and jobs.mail_receipts() == 0
    mail = db.session.scalar(sa.select(OutboxEmail))
    assert mail.recipient == resident.email and comment.tracking_number in mail.subject
    assert f"/consultations/track/{comment.tracking_number}" in mail.body_text and c.title in mail.body_text
    assert db.session.scalar(sa.select(Comment.receipt_mail_due).where(Comment.id == comment.id)) is False


def test_receipts_of_a_deleted_comment_or_account_are_not_sent_and_a_failed_run_keeps_them(db, make_consultation,
                                                                                         make_user, monkeypatch):
    c = make_consultation()
    kept, gone, left = make_user(email="kept@example.com"), make_user(), make_user(email="left@example.com")
    with time_machine.travel(DURING, tick=False):
        mine = services.submit_comment(kept, c, text="留下", idempotency_key="a")[0]
        deleted = services.submit_comment(gone, c, text="删除", idempotency_key="b")[0]
        services.submit_comment(left, c, text="注销", idempotency_key="c")
        db.session.commit()
    db.session.delete(deleted)
    left.email = None  # (an account deleted: its address is gone)
    db.session.commit()

    def broken(*_a, **_k):
        raise RuntimeError("the mail template is broken")

    with monkeypatch.context() as m:
        m.setattr(jobs, "queue_email", broken)
        with pytest.raises(RuntimeError):
            jobs.mail_receipts()
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).where(Comment.receipt_mail_due)) == 2
    assert jobs.mail_receipts() == 1
    assert db.session.scalars(sa.select(OutboxEmail.recipient)).all() == ["kept@example.com"]
    assert mine.tracking_number in db.session.scalar(sa.select(OutboxEmail.subject))


def test_same_idempotency_key_gives_one_comment(db, make_consultation, resident):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        first, created1 = services.submit_comment(resident, c, text="意见", idempotency_key="same")
        second, created2 = services.submit_comment(resident, c, text="意见", idempotency_key="same")
        db.session.commit()
    assert first.id == second.id and created1 and not created2
    assert count(db, Comment) == 1
    db.session.refresh(c)
    assert c.comment_count == 1


@pytest.mark.parametrize("when,text,expected", [
    (OPENS - timedelta(days=2), "意见", "不在征询期内"),
    (AFTER, "意见", "不在征询期内"),
    (DURING, "   ", "请填写意见内容"),
    (DURING, "长" * 5001, "不能超过5000"),
])
def test_bad_comments_are_refused_and_nothing_written(db, make_consultation, resident, when, text, expected):
    c = make_consultation()
    with time_machine.travel(when, tick=False):
        with pytest.raises(ConsultationError) as err:
            services.submit_comment(resident, c, text=text, idempotency_key=uuid.uuid4().hex)
    assert expected in str(err.value)
    db.session.rollback()
    assert count(db, Comment) == 0 and count(db, OutboxEmail) == 0


def test_comment_on_an_article_not_in_the_draft_refused(db, make_consultation, resident):
    c, other = make_consultation(), make_consultation()
    removed = c.articles[1]
    removed.is_removed = True
    db.session.commit()
    with time_machine.travel(DURING, tick=False):
        for article_id in (other.articles[0].id, removed.id):
            with pytest.raises(ConsultationError) as err:
                services.submit_comment(resident, c, text="意见", article_id=article_id,
                                        idempotency_key=uuid.uuid4().hex)
            assert "请选择草案中的条文" in str(err.value) and err.value.field == "article_id"
            db.session.rollback()
    assert count(db, Comment) == 0 and count(db, OutboxEmail) == 0


def test_a_taken_tracking_number_is_drawn_again(db, make_consultation, resident, monkeypatch):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        first, _ = services.submit_comment(resident, c, text="意见", idempotency_key="first")
        free = services.rules.TRACKING.make(2026, 12345678)
        draws = iter([first.tracking_number, first.tracking_number, free])  # taken twice, then a free one
        monkeypatch.setattr(services.rules, "random_tracking_number", lambda year: next(draws))
        second, created = services.submit_comment(resident, c, text="意见二", idempotency_key="second")
        db.session.commit()
    assert created and second.tracking_number == free
    assert count(db, Comment) == 2


def test_comment_on_withdrawn_consultation_refused(db, make_consultation, resident, staff):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        services.withdraw(staff, c, "政策调整")
        db.session.commit()
        with pytest.raises(ConsultationError) as err:
            services.submit_comment(resident, c, text="意见", idempotency_key="x")
    assert "撤回" in str(err.value)


def test_unverified_account_cannot_comment(db, make_consultation, make_user):
    c = make_consultation()
    person = make_user(verified=False)
    with time_machine.travel(DURING, tick=False), pytest.raises(ConsultationError):
        services.submit_comment(person, c, text="意见", idempotency_key="x")


def test_attachments_checked_by_content(db, make_consultation, resident, app):
    c = make_consultation()
    with time_machine.travel(DURING, tick=False):
        with pytest.raises(ConsultationError) as err:
            services.submit_comment(resident, c, text="附件", idempotency_key="a",
                                    uploads=[services.Upload("setup.pdf", EXE)])
        assert "setup.pdf" in str(err.value) and err.value.field == "attachments"
        with pytest.raises(ConsultationError) as err:
            services.submit_comment(resident, c, text="附件", idempotency_key="b",
                                    uploads=[services.Upload(f"{i}.pdf", PDF) for i in range(6)])
        assert "5" in str(err.value)
        big = PDF + b"0" * (10 * 1024 * 1024)
        with pytest.raises(ConsultationError):
            services.submit_comment(resident, c, text="附件", idempotency_key="c",
                                    uploads=[services.Upload("big.pdf", big)])
        db.session.rollback()
        assert count(db, Comment) == 0
        comment, _ = services.submit_comment(resident, c, text="附件", idempotency_key="d",
                                             uploads=[services.Upload("a.pdf", PDF), services.Upload("b.png", PNG)])
        db.session.commit()
    assert sorted(a.mime_type for a in comment.attachments) == ["application/pdf", "image/png"]


def test_enterprise_comments_as_its_organisation(db, make_consultation, make_user):
    c = make_consultation()
    firm = make_user(Role.ENTERPRISE, name="陈强", organisation_name="上海申城智造科技有限公司")
    assoc = make_user(Role.ENTERPRISE, name="李四", organisation_name="上海市软件行业协会")
    with time_machine.travel(DURING, tick=False):
        a, _ = services.submit_comment(firm, c, text="意见", idempotency_key="1", show_organisation=True)
        b, _ = services.submit_comment(firm, c, text="意见二", idempotency_key="2", show_organisation=False)
        d, _ = services.submit_comment(assoc, c, text="意见三", idempotency_key="3", show_organisation=True)
    assert a.public_name == "上海申城智造科技有限公司" and a.commenter_type is CommenterType.ENTERPRISE
    assert b.public_name == "陈**"
    assert d.commenter_type is CommenterType.ORGANISATION


def _published(db, c, staff, users_texts):
    comments = []
    with time_machine.travel(DURING, tick=False):
        for user, text, kw in users_texts:
            comment, _ = services.submit_comment(user, c, text=text, idempotency_key=uuid.uuid4().hex, **kw)
            comments.append(comment)
        services.moderate(staff, c, comments, publish=True)
        db.session.commit()
    return comments


def test_moderation_publishes_rejects_keeps_counts_and_tells_commenter(db, make_consultation, resident, staff):
    c = make_consultation()
    art = c.articles[0]
    with time_machine.travel(DURING, tick=False):
        comments = [services.submit_comment(resident, c, text=f"意见{i}", article_id=art.id,
                                            idempotency_key=str(i))[0] for i in range(3)]
        with pytest.raises(ConsultationError):
            services.moderate(staff, c, comments[:1], publish=False)  # a reason is needed
        n = services.moderate(staff, c, comments[:2], publish=True)
        services.moderate(staff, c, comments[2:], publish=False, reason=RejectionReason.SPAM, note="广告")
        db.session.commit()
    assert n == 2
    db.session.refresh(c)
    db.session.refresh(art)
    assert (c.published_comment_count, c.pending_comment_count, art.published_comment_count) == (2, 0, 2)
    assert comments[2].rejection_reason is RejectionReason.SPAM
    subjects = db.session.scalars(sa.select(OutboxEmail.subject).order_by(OutboxEmail.id)).all()
    assert sum("已公开" in s for s in subjects) == 2 and sum("未予公开" in s for s in subjects) == 1
    # Moderating again changes nothing.
    with time_machine.travel(DURING, tick=False):
        assert services.moderate(staff, c, comments[:2], publish=True) == 0


def test_grouping_accept_split_merge(db, make_consultation, resident, staff):
    c = make_consultation()
    same = "建议开放目录中增加数据更新频率和联系人信息，方便企业使用。"
    comments = _published(db, c, staff, [(resident, same, {}), (resident, same + "！", {}),
                                         (resident, "建议" + same, {}), (resident, "无关的另一条意见内容", {})])
    proposed = groups.propose_groups(staff, c)
    db.session.commit()
    assert len(proposed) == 1
    g = proposed[0]
    assert sorted(m.id for m in g.comments) == sorted(x.id for x in comments[:3])
    groups.accept_group(staff, c, g, "关于更新频率")
    groups.split_group(staff, c, g, [comments[2].id])
    db.session.commit()
    assert len(g.comments) == 2 and g.is_accepted
    other = CommentGroup(consultation_id=c.id, title="x", is_accepted=True)
    db.session.add(other)
    db.session.flush()
    comments[2].group = other
    comments[3].group = other
    groups.merge_groups(staff, c, g, [other])
    db.session.commit()
    assert len(g.comments) == 4 and db.session.get(CommentGroup, other.id) is None


def test_answers_private_until_report_and_report_needs_every_answer(db, make_consultation, resident, staff):
    c = make_consultation()
    comments = _published(db, c, staff, [(resident, "意见一", {}), (resident, "意见二", {})])
    with time_machine.travel(DURING, tick=False):
        with pytest.raises(ConsultationError):
            reports.get_or_create_report(staff, c)  # still open
    with time_machine.travel(AFTER, tick=False):
        with pytest.raises(ConsultationError) as err:
            services.answer(staff, c, comment=comments[0], kind=DispositionKind.NOT_ADOPTED, response="")
        assert err.value.field == "reason"
        services.answer(staff, c, comment=comments[0], kind=DispositionKind.ADOPTED, response="已采纳")
        reports.save_report(staff, c, main_points="主要意见……", changes="修改了第三条",
                             final_text="第三条 市大数据中心负责编制并每年更新开放目录。")
        with pytest.raises(ConsultationError) as err:
            reports.publish_report(staff, c)
        assert "1条" in str(err.value)
        services.answer(staff, c, comment=comments[1], kind=DispositionKind.NOT_ADOPTED, response="",
                        reason="超出本办法范围")
        db.session.query(OutboxEmail).delete()
        report = reports.publish_report(staff, c)
        db.session.commit()
        assert c.state is ConsultationState.FEEDBACK_PUBLISHED
    assert report.statistics["by_disposition"]["adopted"] == 1
    assert report.statistics["by_disposition"]["not_adopted"] == 1
    assert report.statistics["by_commenter_type"]["resident"] == 2
    assert c.articles[2].final_body == "市大数据中心负责编制并每年更新开放目录。"
    mails = db.session.scalars(sa.select(OutboxEmail)).all()
    assert len(mails) == 2 and any("超出本办法范围" in m.body_text for m in mails)
    with time_machine.travel(AFTER, tick=False), pytest.raises(ConsultationError):
        services.answer(staff, c, comment=comments[0], kind=DispositionKind.ADOPTED, response="改")


def test_group_answer_serves_every_member(db, make_consultation, resident, staff):
    c = make_consultation()
    text = "建议延长图书馆开放时间到晚上九点方便上班族使用"
    comments = _published(db, c, staff, [(resident, text, {}), (resident, text + "。", {})])
    g = groups.propose_groups(staff, c)[0]
    with time_machine.travel(AFTER, tick=False):
        with pytest.raises(ConsultationError):
            services.answer(staff, c, group=g, kind=DispositionKind.ADOPTED, response="")  # not accepted yet
        groups.accept_group(staff, c, g)
        services.answer(staff, c, group=g, kind=DispositionKind.PARTLY_ADOPTED, response="部分采纳")
        db.session.commit()
        assert reports.unanswered_count(c) == 0
    assert all(m.answer.kind is DispositionKind.PARTLY_ADOPTED for m in comments)
    stats = reports.report_statistics(c)
    assert stats["by_disposition"]["partly_adopted"] == 2


def test_export_rows_include_article_state_group_and_disposition(db, make_consultation, resident, staff):
    c = make_consultation()
    comments = _published(db, c, staff, [(resident, "意见<script>", {"article_id": None})])
    with time_machine.travel(AFTER, tick=False):
        services.answer(staff, c, comment=comments[0], kind=DispositionKind.NOT_APPLICABLE, response="不适用")
        db.session.commit()
    rows = list(exports.export_rows(c.id))
    assert len(rows) == 1
    row = dict(zip(exports.EXPORT_HEADER, rows[0]))
    assert row["moderation_state"] == "published" and row["disposition"] == "not_applicable"
    assert row["text"] == "意见<script>"


def test_a_comment_in_the_first_hour_of_new_year_in_shanghai_belongs_to_the_new_year(db, make_consultation,
                                                                                      resident):
    """00:30 on 1 January 2027 in Shanghai is still 31 December 2026 in UTC: the receipt's tracking number and the
    staff export show the Shanghai year and day."""
    shanghai = timezone(timedelta(hours=8))
    c = make_consultation(opens_at=datetime(2026, 12, 15, tzinfo=shanghai), closes_at=datetime(2027, 1, 15,
                                                                                                tzinfo=shanghai))
    with time_machine.travel(datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc), tick=False):
        comment, _ = services.submit_comment(resident, c, text="新年第一条意见。", idempotency_key="new-year")
        db.session.commit()
    assert comment.tracking_number.startswith("ZX-2027-")
    row = dict(zip(exports.EXPORT_HEADER, next(exports.export_rows(c.id))))
    assert row["created_at"] == "2027-01-01T00:30:00+08:00"
    if db.engine.dialect.name == "postgresql":  # PostgreSQL formats the CSV itself
        assert ",2027-01-01T00:30:00+08:00," in b"".join(exports._csv_copy(c.id)).decode()


def test_csv_export_copy_path_matches_python_path(db, make_consultation, resident, staff):
    import pytest as _pytest

    if db.engine.dialect.name != "postgresql":
        _pytest.skip("COPY path is PostgreSQL only")
    c = make_consultation()
    text = "建议修改第三条\n第二行，含逗号和\"引号\""
    comments = _published(db, c, staff, [(resident, text, {"article_id": c.articles[2].id}),
                                         (resident, "整体支持", {}), (resident, text + "！", {})])
    with time_machine.travel(DURING, tick=False):
        services.submit_comment(resident, c, text="待审查", idempotency_key="p")
        g = groups.propose_groups(staff, c)[0]
        groups.accept_group(staff, c, g)
    with time_machine.travel(AFTER, tick=False):
        services.answer(staff, c, group=g, kind=DispositionKind.PARTLY_ADOPTED, response="部分采纳，见第三条")
        services.answer(staff, c, comment=comments[1], kind=DispositionKind.NOT_ADOPTED, response="",
                        reason="理由")
        db.session.commit()
    python = b"".join(exports._csv_python(c.id))
    copy = b"".join(exports._csv_copy(c.id))
    assert python.count(b"\n") >= 5
    assert copy == python


def test_unanswered_are_those_without_their_own_or_an_accepted_groups_answer(db, client, auth, make_consultation,
                                                                             resident, staff):
    """The count staff see and the answers page's default list: published comments with neither an answer of
    their own nor one of their accepted group (reports.unanswered_clause); a group's size is counted."""
    from app.consultations.models import CommentGroup, Disposition

    c = make_consultation()
    own, answered_a, answered_b, proposed, plain = _published(
        db, c, staff, [(resident, f"第{i}条意见：内容各不相同{i}", {}) for i in range(5)])
    answered_group = CommentGroup(consultation_id=c.id, title="已答复的组", is_accepted=True)
    unaccepted = CommentGroup(consultation_id=c.id, title="未接受的组", is_accepted=False)
    db.session.add_all([answered_group, unaccepted])
    db.session.flush()
    answered_a.group_id = answered_b.group_id = answered_group.id
    proposed.group_id = unaccepted.id
    db.session.add_all([Disposition(consultation_id=c.id, comment_id=own.id, kind=DispositionKind.ADOPTED,
                                    response="采纳"),
                        Disposition(consultation_id=c.id, group_id=answered_group.id,
                                    kind=DispositionKind.ADOPTED, response="采纳"),
                        # an answer to a group not accepted does not answer its members
                        Disposition(consultation_id=c.id, group_id=unaccepted.id, kind=DispositionKind.ADOPTED,
                                    response="采纳")])
    with time_machine.travel(DURING, tick=False):
        pending, _ = services.submit_comment(resident, c, text="尚未审核的意见", idempotency_key=uuid.uuid4().hex)
    db.session.commit()
    assert reports.unanswered_count(c) == 2  # proposed (its group is not accepted) and plain; pending is not public
    auth.login(staff)
    page = client.get(f"/manage/consultations/{c.id}/answers").get_data(as_text=True)
    listed = {x.tracking_number for x in (own, answered_a, answered_b, proposed, plain, pending)
              if x.tracking_number in page}
    assert listed == {proposed.tracking_number, plain.tracking_number}
    assert "已答复的组" in page and "（2）" in page and "未接受的组" not in page
