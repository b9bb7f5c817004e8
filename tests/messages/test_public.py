"""The public list (keyset pages, filters, masked personal data) and the API's messages (no personal data)."""
from datetime import timedelta

import pytest
import time_machine

from app.messages import handling, services
from app.messages.views import PAGE_SIZE

from tests.api.schema_check import validate
from tests.messages.conftest import RECEIVED


pytestmark = pytest.mark.slow  # many messages written and released through the services (4 s)

def _published(db, make_message, resident, admin, staff, n):
    messages = []
    for i in range(n):
        m = make_message(resident, subject=f"第{i}号留言", allow_publish=True, district="xuhui",
                         text=f"第{i}号：我的电话13812345678，邮箱me{i}@example.com。")
        handling.assign(admin, m, staff.department_id)
        with time_machine.travel(RECEIVED + timedelta(days=1, minutes=i), tick=False):
            handling.write_reply(staff, m, f"答复{i}")
            handling.review_reply(admin, m, True)
        messages.append(m)
    private = make_message(resident, subject="不公开的留言", allow_publish=False)
    handling.assign(admin, private, staff.department_id)
    handling.write_reply(staff, private, "私下答复")
    handling.review_reply(admin, private, True)
    db.session.commit()
    return messages


def test_public_list_pages_by_keyset_and_hides_personal_data(client, db, make_message, resident, admin, staff):
    messages = _published(db, make_message, resident, admin, staff, PAGE_SIZE + 2)
    first = client.get("/messages/").get_data(as_text=True)
    assert f"第{PAGE_SIZE + 1}号留言" in first and "第0号留言" not in first and "不公开的留言" not in first
    assert "13812345678" not in first and "@example.com" not in first and "张**" in first and "张三" not in first
    next_url = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = client.get(next_url).get_data(as_text=True)
    assert "第0号留言" in second and "第1号留言" in second and f"第{PAGE_SIZE + 1}号留言" not in second
    assert "第0号留言" not in client.get("/messages/?district=pudong").get_data(as_text=True)
    shown = client.get(f"/messages/{messages[0].id}").get_data(as_text=True)
    assert "答复0" in shown and "13812345678" not in shown
    services.set_hidden(admin, messages[0], True)  # the office takes one down
    db.session.commit()
    assert client.get(f"/messages/{messages[0].id}").status_code == 404


def test_api_lists_published_messages_and_figures_without_personal_data(client, db, make_message, resident, admin,
                                                                        staff):
    _published(db, make_message, resident, admin, staff, 3)
    doc = client.get("/api/v1/openapi.json").get_json()
    body = client.get("/api/v1/messages?limit=2").get_json()
    assert validate(body, doc["paths"]["/api/v1/messages"]["get"]["responses"]["200"]["content"]
                    ["application/json"]["schema"], doc) == []
    assert len(body["items"]) == 2 and body["next_cursor"]
    rest = client.get(f"/api/v1/messages?limit=2&cursor={body['next_cursor']}").get_json()
    assert [i["subject"] for i in body["items"] + rest["items"]] == ["第2号留言", "第1号留言", "第0号留言"]
    text = str(body) + str(rest)
    assert "张三" not in text and "13812345678" not in text and resident.email not in text
    assert body["items"][0]["replies"][0]["text"] == "答复2"
    figures = client.get("/api/v1/messages/figures?period=2026-Q3").get_json()
    assert validate(figures, doc["paths"]["/api/v1/messages/figures"]["get"]["responses"]["200"]["content"]
                    ["application/json"]["schema"], doc) == []
    assert figures["total"]["received"] == 4 and figures["total"]["replied"] == 4
    assert client.get("/api/v1/messages/figures?period=2026-13").status_code == 400
