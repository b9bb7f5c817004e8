"""Forwarded messages: batch files (CSV, XLSX, bad files, bad rows, re-import) and the forwarding API."""
import io

import openpyxl
import pytest
import sqlalchemy as sa

from app.messages import forwarding, imports
from app.messages.models import ForwardingToken, ImportBatch, Message, MessageSource
from app.core.timeutil import local

pytestmark = pytest.mark.slow  # views and loaders, not clock-sensitive: run in the two full passes, not the clock passes

HEADER = "source_id,forwarded_at,subject,text,writer_name,writer_phone,district,allow_publish\n"
GOOD = ("GOV-1,2026-11-03 14:20,惠企政策申报材料能否简化,建议数据共享，联系13800001234。,陈强,13800001234,浦东新区,是\n"
        "GOV-2,2026-11-04,夜间施工噪声,工地夜间施工。,王女士,,baoshan,否\n")
BAD = ("GOV-3,2026-13-01,日期错误,内容,,,,\n"
       "GOV-1,2026-11-05,重复编号,内容,,,,\n"
       "GOV-4,2026-11-05,,没有主题,,,,\n"
       "GOV-5,2026-11-05,区错误,内容,,,火星区,\n")


def _count(db, model=Message):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _upload(client, data: bytes, name="batch.csv", source="central_portal"):
    return client.post("/manage/messages/import", data={"source": source, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_csv_import_reports_bad_rows_and_a_second_import_adds_nothing(client, auth, admin, db):
    auth.login(admin)
    data = (HEADER + GOOD + BAD).encode("utf-8-sig")
    page = _upload(client, data).get_data(as_text=True)
    assert "导入2件" in page and "有误4行" in page
    for line, reason in ((4, "2026-13-01"), (5, "与第2行重复"), (6, "缺少主题"), (7, "火星区")):
        assert f"<td>{line}</td><td>" in page and reason in page
    stored = db.session.scalar(sa.select(Message).where(Message.source_ref == "GOV-1"))
    assert stored.source is MessageSource.CENTRAL_PORTAL and stored.district == "pudong" and stored.allow_publish
    assert local(stored.forwarded_at).strftime("%Y-%m-%d %H:%M") == "2026-11-03 14:20"
    assert stored.public_name == "陈**" and "13800001234" not in stored.text_public
    assert stored.reply_due_at is not None and stored.tracking_number.startswith("LY-")
    again = _upload(client, data).get_data(as_text=True)
    assert "导入0件" in again and "已存在2件" in again and _count(db) == 2


def test_whole_files_refused_with_one_reason(client, auth, admin, db):
    auth.login(admin)
    cases = [
        (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200, "batch.csv", "二进制"),
        ("编号,日期\nA,2026-11-01\n".encode(), "batch.csv", "缺少必需的列"),
        ((HEADER + "".join(f"X-{i},2026-11-01,主题,内容,,,,\n" for i in range(imports.MAX_ROWS + 1))).encode(),
         "big.csv", "请分批导入"),
        (b"not a workbook", "batch.xlsx", "不是XLSX"),
    ]
    for data, name, reason in cases:
        response = _upload(client, data, name)
        assert response.status_code == 422 and reason in response.get_data(as_text=True), name
    assert _count(db) == 0 and _count(db, ImportBatch) == 0


def test_xlsx_with_date_cells_and_chinese_headers(client, auth, admin, db):
    from datetime import datetime

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["来源编号", "转办时间", "主题", "内容", "区"])
    sheet.append(["12345-001", datetime(2026, 11, 2, 9, 30), "油烟扰民", "餐饮店油烟直排。", "闵行区"])
    sheet.append([12345002, "2026/11/02 10:00", "噪声", "夜间噪声。", None])
    buffer = io.BytesIO()
    book.save(buffer)
    auth.login(admin)
    page = _upload(client, buffer.getvalue(), "hotline.xlsx", "hotline_12345").get_data(as_text=True)
    assert "导入2件" in page
    refs = set(db.session.scalars(sa.select(Message.source_ref)))
    assert refs == {"12345-001", "12345002"}


def test_forwarding_api_needs_a_live_token_and_is_idempotent(client, db, admin):
    row, token = forwarding.create_token(admin, MessageSource.HOTLINE_12345, "12345 平台")
    db.session.commit()
    assert row.token_hash != token and token not in str(row.__dict__)
    body = {"source_id": "12345-88001", "forwarded_at": "2026-11-03T14:20:00+08:00", "subject": "夜间施工噪声扰民",
            "text": "某工地每晚十点后仍在施工。", "writer_name": "王女士", "district": "baoshan"}
    assert client.post("/api/v1/messages/forwarded", json=body).status_code == 401
    assert client.post("/api/v1/messages/forwarded", json=body,
                       headers={"Authorization": "Bearer lyf_wrong"}).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    first = client.post("/api/v1/messages/forwarded", json=body, headers=auth)
    assert first.status_code == 201 and first.json["created"]
    replay = client.post("/api/v1/messages/forwarded", json=dict(body, subject="改过的主题"), headers=auth)
    assert replay.status_code == 200 and replay.json == dict(first.json, created=False)
    message = db.session.scalar(sa.select(Message))
    assert message.source is MessageSource.HOTLINE_12345 and message.subject == "夜间施工噪声扰民"
    bad = client.post("/api/v1/messages/forwarded", json=dict(body, source_id="x2", subject=""), headers=auth)
    assert bad.status_code == 422 and bad.json["error"]["field"] == "subject"
    unknown = client.post("/api/v1/messages/forwarded", json=dict(body, source_id="x3", extra=1), headers=auth)
    assert unknown.status_code == 400
    forwarding.revoke_token(admin, db.session.get(ForwardingToken, row.id))
    db.session.commit()
    assert client.post("/api/v1/messages/forwarded", json=dict(body, source_id="x4"), headers=auth).status_code == 401
    assert _count(db) == 1
    spec = client.get("/api/v1/openapi.json").json
    assert "post" in spec["paths"]["/api/v1/messages/forwarded"]


def test_forwarding_api_refuses_what_must_never_be_stored(client, db, admin):
    """Control characters, a date before 2000, an e-mail field holding more than one address and JSON nested past
    the parser's depth: a 4xx naming the field, and no message stored."""
    _row, token = forwarding.create_token(admin, MessageSource.HOTLINE_12345, "12345")
    db.session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    body = {"source_id": "12345-1", "forwarded_at": "2026-11-03T14:20:00+08:00", "subject": "夜间施工噪声扰民",
            "text": "工地夜间施工。"}
    for change, field in [({"subject": "噪声\x00扰民"}, "subject"), ({"text": "工地\x1b夜间施工"}, "text"),
                          ({"writer_name": "李\x00四"}, "writer_name"), ({"source_id": "12345-\x07"}, "source_ref"),
                          ({"forwarded_at": "0001-01-01T00:00:00+00:00"}, "forwarded_at"),
                          ({"writer_email": "a@example.com\r\nBcc: b@example.com"}, "writer_email"),
                          ({"writer_email": "not an address"}, "writer_email")]:
        answer = client.post("/api/v1/messages/forwarded", json=dict(body, **change), headers=auth)
        assert answer.status_code == 422 and answer.get_json()["error"]["field"] == field, (change, answer.get_json())
    nested = client.post("/api/v1/messages/forwarded", data=b"[" * 100_000, headers=dict(
        auth, **{"Content-Type": "application/json"}))
    assert nested.status_code == 400 and nested.get_json()["error"]["message"] == "The body must be a JSON object."
    assert _count(db) == 0
    assert client.post("/api/v1/messages/forwarded", json=body, headers=auth).status_code == 201


def test_csv_rows_with_control_characters_far_dates_or_two_addresses_are_reported(client, auth, admin, db):
    auth.login(admin)
    data = ("source_id,forwarded_at,subject,text,writer_email\n"
            "A-1,2026-11-03 14:20,噪声\x1b扰民,夜间施工。,\n"
            "A-2,0001-01-01,路灯不亮,路灯坏了。,\n"
            "A-3,2026-11-03,路灯不亮,路灯坏了。,\"a@example.com, b@example.com\"\n")
    page = _upload(client, data.encode("utf-8")).get_data(as_text=True)
    assert "“subject”列含有控制字符" in page and "转办时间早于2000年" in page
    assert "邮箱“a@example.com, b@example.com”格式不正确" in page
    assert _count(db) == 0


def test_a_batch_report_reads_in_the_language_of_whoever_opens_it(client, auth, admin, db):
    """The reasons of bad rows are kept as message ids and values, not as text in the importer's language."""
    auth.login(admin)
    _upload(client, (HEADER + BAD).encode("utf-8"))
    batch = db.session.scalars(sa.select(ImportBatch)).one()
    english = client.get(f"/manage/messages/import/{batch.id}?lang=en").get_data(as_text=True)
    assert "not recognised" in english and "2026-13-01" in english and "火星区" in english
    assert "无法识别" not in english and "缺少主题" not in english
    chinese = client.get(f"/manage/messages/import/{batch.id}?lang=zh").get_data(as_text=True)
    assert "转办时间“2026-13-01”无法识别" in chinese and "缺少主题" in chinese
