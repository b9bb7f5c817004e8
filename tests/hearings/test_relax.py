"""Quotas the frozen pool cannot meet: explained in the reader's language; staff relax them or reopen applications,
and the public record shows it."""
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine
from flask_babel import force_locale

from app.core.audit import AuditEntry
from app.hearings import jobs, lottery, lottery_runs, record, relax, services, verify
from app.hearings.models import LotteryRun, LotteryStatus, Meeting
from app.notifications.models import OutboxEmail
from tests.hearings.conftest import apply_kwargs

XUHUI = {"category": "district", "value": "xuhui", "min": 4, "max": 5, "reason": "项目在徐汇区"}


def _infeasible(client, auth, pool_meeting, staff):
    meeting = pool_meeting(quotas=(XUHUI,))  # 12 applicants, 3 of them in Xuhui
    with time_machine.travel(meeting.closes_at + timedelta(days=1)):
        auth.login(staff)
        client.post(f"/manage/hearings/{meeting.id}/lottery")
    return meeting


@pytest.mark.slow  # about 4 s: two lottery runs
def test_infeasible_quota_is_explained_on_a_chinese_page_and_relaxed_in_public(client, auth, db, pool_meeting,
                                                                               staff):
    meeting = _infeasible(client, auth, pool_meeting, staff)
    old_sha = meeting.pool.sha256
    with time_machine.travel(meeting.closes_at + timedelta(days=1)):
        auth.login(staff)
        page = client.get(f"/manage/hearings/{meeting.id}").get_data(as_text=True)
        message = "配额不足：“所在区：徐汇区”至少需要4人，候选池中只有3人。"
        assert message in page and "放宽配额" in page
        lottery_section = page[page.index('id="lottery"'):page.index('id="draw"')]
        assert not re.search(r"\b(solver|quota|infeasible|Infeasible)\b", lottery_section)
        public = client.get(f"/hearings/{meeting.id}/selection").get_data(as_text=True)
        assert message in public
        english = client.get(f"/hearings/{meeting.id}/selection?lang=en").get_data(as_text=True)
        assert "Xuhui" in english and "只有" not in english
        client.get(f"/hearings/{meeting.id}/selection?lang=zh")  # back to Chinese
        # tightening is refused, with the reason on the page, and nothing changes
        r = client.post(f"/manage/hearings/{meeting.id}/relax-quotas",
                        data={"relax-rows-0-minimum": "5", "relax-rows-0-maximum": "5", "relax-rows-0-reason": "x"})
        assert r.status_code == 422 and "只能放宽配额" in r.get_data(as_text=True)
        r = client.post(f"/manage/hearings/{meeting.id}/relax-quotas",
                        data={"relax-rows-0-minimum": "2", "relax-rows-0-maximum": "5", "relax-rows-0-reason": ""})
        assert r.status_code == 422 and "请说明每项放宽的理由" in r.get_data(as_text=True)
        db.session.expire_all()
        assert meeting.quotas[0].minimum == 4 and meeting.pool.sha256 == old_sha
        r = client.post(f"/manage/hearings/{meeting.id}/relax-quotas",
                        data={"relax-rows-0-minimum": "2", "relax-rows-0-maximum": "5",
                              "relax-rows-0-reason": "徐汇区报名人数不足，降为至少2人"})
        assert r.status_code == 302
        db.session.expire_all()
        assert (meeting.quotas[0].minimum, meeting.quotas[0].maximum) == (2, 5)
        assert meeting.pool.sha256 != old_sha and '"min":2' in meeting.pool.content
        kinds = [e.kind for e in record.entries(meeting.id)]
        assert kinds[-2:] == [relax.QUOTAS_RELAXED, record.Kind.POOL_FROZEN]
        assert record.check_chain(record.document(meeting.id)) == []
        assert verify.verify_meeting(meeting)[0], verify.verify_meeting(meeting)[1]
        meeting.quotas[0].minimum = 4  # the database quietly back to the old quota: verify names it
        ok, lines = verify.verify_meeting(meeting)
        assert not ok and any("quotas (pool file vs database)" in line for line in lines)
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(
            AuditEntry.action == "hearing.quotas_relaxed")) == 1
        # the lottery now runs on the relaxed quotas
        client.post(f"/manage/hearings/{meeting.id}/lottery")
        jobs.run_queued_lotteries()
        run = db.session.scalars(sa.select(LotteryRun).order_by(LotteryRun.id.desc())).first()
        assert run.status is LotteryStatus.SUCCEEDED and run.pool_sha256 == meeting.pool.sha256
        public = client.get(f"/hearings/{meeting.id}/selection").get_data(as_text=True)
        assert "放宽配额" in public and "徐汇区报名人数不足，降为至少2人" in public and "4–5人 → 2–5" in public
        _standalone_verifier_checks_the_relaxation(meeting, run)
        # once the panels exist, the quotas are fixed
        r = client.post(f"/manage/hearings/{meeting.id}/relax-quotas",
                        data={"relax-rows-0-minimum": "1", "relax-rows-0-maximum": "5", "relax-rows-0-reason": "再放宽"},
                        follow_redirects=True)
        assert "不能再修改" in r.get_data(as_text=True) and meeting.quotas[0].minimum == 2


def _mails(db, template):
    return db.session.scalars(sa.select(OutboxEmail).where(OutboxEmail.template == f"hearings/emails/{template}")
                              .order_by(OutboxEmail.id)).all()


def test_relaxed_quotas_are_mailed_to_everyone_in_the_pool(client, auth, db, pool_meeting, staff):
    meeting = _infeasible(client, auth, pool_meeting, staff)
    in_pool = {e.application.user.email: e.number for e in meeting.pool.entries}
    with time_machine.travel(meeting.closes_at + timedelta(days=1)):
        auth.login(staff)
        r = client.post(f"/manage/hearings/{meeting.id}/relax-quotas",
                        data={"relax-rows-0-minimum": "2", "relax-rows-0-maximum": "5",
                              "relax-rows-0-reason": "徐汇区报名人数不足，降为至少2人"})
        assert r.status_code == 302
    mails = _mails(db, "quotas_relaxed")
    assert sorted(m.recipient for m in mails) == sorted(in_pool)  # each person in the pool, once
    for m in mails:
        assert m.subject == "列席会议遴选：配额已放宽"
        assert f"（编号{in_pool[m.recipient]}）" in m.body_text
        assert "所在区：徐汇区 4–5人 → 2–5。理由：徐汇区报名人数不足，降为至少2人" in m.body_text
        assert f"/hearings/{meeting.id}/selection" in m.body_text


def test_cancel_round_reopens_applications_in_public(client, auth, db, pool_meeting, staff, make_applicant):
    meeting = _infeasible(client, auth, pool_meeting, staff)
    sha = meeting.pool.sha256
    when = meeting.closes_at + timedelta(days=1)
    with time_machine.travel(when):
        auth.login(staff)
        r = client.post(f"/manage/hearings/{meeting.id}/cancel-round",
                        data={"cancel-reason": "", "cancel-closes_at": "2020-01-01T09:00"})
        assert r.status_code == 422 and "请说明取消本轮遴选、重新报名的理由。" in r.get_data(as_text=True)
        new_close = (when + timedelta(days=7) + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")
        r = client.post(f"/manage/hearings/{meeting.id}/cancel-round",
                        data={"cancel-reason": "徐汇区报名人数不足，延长报名一周", "cancel-closes_at": new_close})
        assert r.status_code == 302
        db.session.expire_all()
        meeting = db.session.get(Meeting, meeting.id)
        assert meeting.pool is None and meeting.is_open()
        last = record.entries(meeting.id)[-1]
        assert last.kind == relax.ROUND_CANCELLED and sha in last.data
        services.apply(make_applicant(100, district="xuhui"), meeting, **apply_kwargs())
        public = client.get(f"/hearings/{meeting.id}/selection").get_data(as_text=True)
        assert "取消本轮遴选、重新开放报名" in public and "延长报名一周" in public
        # times a reader sees are Shanghai times, not the record's UTC stamps
        cancelled = public[public.index('id="relaxation-'):public.index("</section>", public.index('id="relaxation-'))]
        assert f"报名截止改为 {new_close.replace('T', ' ')}" in cancelled
        assert (when + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M") + " 取消本轮遴选" in cancelled
        assert "Z" not in re.sub(r"<[^>]+>", "", cancelled.split("SHA-256")[0])
    # everyone whose pool was set aside is told why and until when applications are open (Shanghai time)
    mails = _mails(db, "round_cancelled")
    assert len(mails) == 12 and len({m.recipient for m in mails}) == 12
    shown = new_close.replace("T", " ")
    assert all("延长报名一周" in m.body_text and f"重新开放至{shown}" in m.body_text for m in mails)
    assert mails[0].subject == "列席会议遴选：本轮已取消，报名重新开放"


def test_conflicting_quotas_are_named_with_their_counts(app):
    # every quota can be met alone, not together: the women are all in Pudong, the Xuhui applicants all men
    pool = [{"number": i, "categories": {"gender": "female" if i <= 3 else "male",
                                         "district": "pudong" if i <= 3 else "xuhui"}} for i in range(1, 7)]
    quotas = [{"category": "gender", "value": "female", "min": 2, "max": 2},
              {"category": "district", "value": "xuhui", "min": 1, "max": 2}]
    try:
        lottery.compute(pool, quotas, 2)
        raise AssertionError("expected the quotas to conflict")
    except lottery.LotteryInfeasible as exc:
        shortfalls = exc.shortfalls
    with app.test_request_context(), force_locale("zh"):
        text = lottery_runs.explain_shortfalls(shortfalls)
    assert "“性别：女”（最少2人、最多2人；候选池中有3人）与其他配额无法同时满足" in text
    assert "“所在区：徐汇区”（最少1人、最多2人；候选池中有3人）" in text
    with app.test_request_context(), force_locale("en"):
        english = lottery_runs.explain_shortfalls(shortfalls)
    assert "Xuhui" in english and "徐汇" not in english


def _standalone_verifier_checks_the_relaxation(meeting, run):
    """scripts/verify_hearing_draw.py --record accepts the relaxed meeting and names a tampered relaxation."""
    import contextlib
    import copy
    import importlib.util
    import io
    import json
    import tempfile
    from pathlib import Path

    from app.hearings import selection

    spec = importlib.util.spec_from_file_location(
        "verify_hearing_draw", Path(__file__).resolve().parents[2] / "scripts" / "verify_hearing_draw.py")
    verifier = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(verifier)
    docs = {"pool": json.loads(meeting.pool.content), "panels": json.loads(run.panels_content),
            "record": record.document(meeting.id)}

    def check(d):
        with tempfile.TemporaryDirectory() as tmp:
            paths = {}
            for name, doc in d.items():
                paths[name] = Path(tmp) / f"{name}.json"
                paths[name].write_bytes(selection.canonical(doc))
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = verifier.main(["--record", str(paths["record"]), str(paths["pool"]), str(paths["panels"])])
            return code, out.getvalue()

    code, out = check(docs)
    assert code == 0, out
    assert "quota relaxations: 1" in out
    # a forger turns the relaxation into a tightening and rehashes the whole chain
    forged = copy.deepcopy(docs)
    change = next(e for e in forged["record"]["entries"] if e["kind"] == relax.QUOTAS_RELAXED)["data"]["changes"][0]
    change["new_min"] = 5
    prev = record.GENESIS
    for e in forged["record"]["entries"]:
        e["prev_sha256"] = prev
        e["sha256"] = prev = record.entry_hash(e)
    code, out = check(forged)
    assert code == 1 and "is not a relaxation" in out and "relaxed it to" in out
    # the pool file quietly relaxed further than the record says
    loose = copy.deepcopy(docs)
    loose["pool"]["quotas"][0]["min"] = 1
    code, out = check(loose)
    assert code == 1 and "pool file SHA-256" in out and "relaxed it to" in out
