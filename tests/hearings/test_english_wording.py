"""English pages say "1 alternate" (ngettext) and use ASCII colons and brackets (the colon and paren filters)."""
from __future__ import annotations

from flask import render_template_string
from flask_babel import force_locale


def test_one_alternate_is_singular_in_english(client, make_meeting):
    one, two = make_meeting(alternates=1), make_meeting(alternates=2)
    html = client.get(f"/hearings/{one.id}?lang=en").get_data(as_text=True)
    assert "with 1 alternate<" in html
    assert "with 2 alternates<" in client.get(f"/hearings/{two.id}?lang=en").get_data(as_text=True)
    assert "1 alternate." in client.get(f"/hearings/{one.id}/selection?lang=en").get_data(as_text=True)
    assert "候补1人" in client.get(f"/hearings/{one.id}?lang=zh").get_data(as_text=True)


def test_colon_and_brackets_follow_the_language(app):
    template = "{{ '参加者'|colon }}10:00{{ '当前设备'|paren }}"
    with app.test_request_context("/"):
        with force_locale("zh"):
            assert render_template_string(template) == "参加者：10:00（当前设备）"
        with force_locale("en"):
            assert render_template_string(template) == "参加者: 10:00 (当前设备)"
