"""English pages get English punctuation: a template never writes a full-width colon, comma, bracket or list
separator outside a translated string (those come from the page's language: the ``colon``/``paren`` filters and
``punct()``), hidden screen-reader text included. Chinese-only pages (``*_zh.html``) are exempt."""
import re
from pathlib import Path

import pytest

from app.accounts.models import Role

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
FULL_WIDTH = re.compile(r"[：（）；，。、【】！？]")
TRANSLATED = re.compile(r"""(?:_|gettext|ngettext)\(\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")(?:\s*,\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"))?""")


def _untranslated_lines(path: Path) -> list[str]:
    text = re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)
    text = TRANSLATED.sub("_(X", text)
    text = re.sub(r"\{% trans.*?endtrans %\}", "", text, flags=re.S)
    return [f"{path.relative_to(TEMPLATES)}:{n}: {line.strip()[:120]}"
            for n, line in enumerate(text.splitlines(), 1) if FULL_WIDTH.search(line)]


def test_no_template_writes_full_width_punctuation_outside_a_translation():
    found = [line for path in sorted(TEMPLATES.rglob("*")) if path.suffix in (".html", ".txt")
             and not path.stem.endswith("_zh") for line in _untranslated_lines(path)]
    assert found == []


@pytest.mark.parametrize("lang, separator, name", [("en", ": ", "Housing Bureau"), ("zh", "：", "市房屋局")])
def test_hidden_link_text_follows_the_page_language(client, auth, db, make_user, make_department, lang, separator,
                                                    name):
    department = make_department(name="市房屋局")
    department.name_en = "Housing Bureau"
    db.session.commit()
    auth.login(make_user(Role.ADMIN))
    page = client.get(f"/manage/accounts/departments?lang={lang}").get_data(as_text=True)
    assert f'<span class="visually-hidden">{separator}{name}</span>' in page, re.findall("visually-hidden\">[^<]*", page)
