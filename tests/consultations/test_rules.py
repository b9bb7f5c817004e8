"""Pure rules: periods with the official calendar, tracking numbers, masking, splitting, near-duplicates."""
from datetime import date, datetime, timedelta, timezone

import holidays
import pytest

from app.consultations import rules
from app.core import grouping
from app.core.tracking import mod11_2_check
from app.consultations.models import Article, DocumentType

CST = timezone(timedelta(hours=8))


def at(y, m, d):
    return datetime(y, m, d, tzinfo=CST)


def test_make_up_saturday_2026_02_14_is_a_working_day():
    assert date(2026, 2, 14).weekday() == 5
    assert rules.is_working_day(date(2026, 2, 14))
    assert holidays.China(years=2026).is_working_day(date(2026, 2, 14))
    assert not rules.is_working_day(date(2026, 2, 16))  # Spring Festival holiday
    assert not rules.is_working_day(date(2026, 2, 21))  # an ordinary Saturday


def test_period_length_counts_calendar_and_working_days():
    # 2026-02-09 (Mon) .. 2026-02-15 (Sun): 5 weekdays + make-up Saturday 14th = 6 working days.
    assert rules.period_length(at(2026, 2, 9), at(2026, 2, 16)) == (7, 6)
    assert rules.period_length(at(2026, 6, 1), at(2026, 7, 1)) == (30, 21)  # 19 June: Dragon Boat Festival


def test_minimum_periods_by_document_type():
    assert rules.minimum_period(DocumentType.MAJOR_DECISION, False) == rules.MinimumPeriod(30, False)
    assert rules.minimum_period(DocumentType.GOVERNMENT_RULE, True) == rules.MinimumPeriod(30, False)
    assert rules.minimum_period(DocumentType.NORMATIVE_DOCUMENT, False) == rules.MinimumPeriod(7, True)
    assert rules.minimum_period(DocumentType.NORMATIVE_DOCUMENT, True) == rules.MinimumPeriod(30, False)
    assert rules.minimum_period(DocumentType.OTHER, False) is None


def test_seven_working_days_over_spring_festival_needs_the_make_up_saturday():
    nd = DocumentType.NORMATIVE_DOCUMENT
    # 9-13 Feb (5) + Sat 14 Feb (make-up) = 6; the holiday runs to Mon 23 Feb; Tue 24 Feb is the 7th.
    assert rules.period_shortfall(nd, False, at(2026, 2, 9), at(2026, 2, 24)) is not None
    assert rules.period_shortfall(nd, False, at(2026, 2, 9), at(2026, 2, 25)) is None
    assert rules.period_length(at(2026, 2, 9), at(2026, 2, 25)) == (16, 7)
    # A week that starts on the make-up Saturday: it counts, so 14-20 Feb has one working day, not zero.
    assert rules.period_length(at(2026, 2, 14), at(2026, 2, 21)) == (7, 1)


def test_thirty_calendar_days_for_rules_and_enterprise_documents():
    assert rules.period_shortfall(DocumentType.GOVERNMENT_RULE, False, at(2026, 6, 1), at(2026, 6, 30)) is not None
    assert rules.period_shortfall(DocumentType.GOVERNMENT_RULE, False, at(2026, 6, 1), at(2026, 7, 1)) is None
    assert rules.period_shortfall(DocumentType.NORMATIVE_DOCUMENT, True, at(2026, 6, 1), at(2026, 6, 20)) is not None


def test_tracking_number_check_digit_iso_7064_mod_11_2():
    # The Chinese resident ID number uses the same algorithm: 11010519491231002 -> X.
    assert mod11_2_check("11010519491231002") == "X"
    number = rules.make_tracking_number(2026, 1234)
    assert number.startswith("ZX-2026-00001234-")
    assert rules.is_valid_tracking_number(number)
    # Every single-digit error and every adjacent swap is caught.
    digits = "202600001234"
    good = mod11_2_check(digits)
    for i in range(len(digits)):
        for d in "0123456789":
            if d != digits[i]:
                assert mod11_2_check(digits[:i] + d + digits[i + 1:]) != good
    for i in range(len(digits) - 1):
        if digits[i] != digits[i + 1]:
            swapped = digits[:i] + digits[i + 1] + digits[i] + digits[i + 2:]
            assert mod11_2_check(swapped) != good
    assert not rules.is_valid_tracking_number("ZX-2026-00001234-" + ("0" if good != "0" else "1"))
    assert not rules.is_valid_tracking_number("ZX-26-1")


def test_masking_phones_ids_and_emails():
    text = "我的电话13812345678，座机021-64381234，身份证110105194912310029，邮箱li.na@example.com。"
    masked = rules.mask_personal_information(text)
    for secret in ("13812345678", "64381234", "110105194912310029", "li.na@example.com"):
        assert secret not in masked
    assert masked.count("[电话已隐去]") == 2 and "[身份证号已隐去]" in masked and "[邮箱已隐去]" in masked
    assert rules.mask_personal_information("第3条第2款建议改为30日") == "第3条第2款建议改为30日"


def test_split_articles_at_chapters_and_articles():
    from tests.consultations.conftest import DRAFT

    parsed = rules.split_articles(DRAFT)
    assert [p.label for p in parsed] == ["第一条", "第二条", "第三条", "第四条", "第五条"]
    assert parsed[0].chapter == "第一章 总则" and parsed[2].chapter == "第二章 开放目录"
    assert parsed[3].body == "公共数据开放目录应当每年更新一次。"
    assert rules.split_articles("没有条号的通知全文") [0].label == ""


def test_match_keeps_ids_by_text_then_label_then_similar_text():
    old = [Article(id=1, label="第一条", body="为了促进和规范本市公共数据开放，制定本办法。"),
           Article(id=2, label="第二条", body="本办法适用于本市行政区域内公共数据的开放。"),
           Article(id=3, label="第三条", body="市大数据中心负责编制公共数据开放目录并向社会公布。")]
    new = rules.split_articles(
        "第一条 为了促进和规范本市公共数据开放，制定本办法。\n"
        "第二条 公共数据开放应当遵循需求导向、安全可控的原则。\n"
        "第三条 本办法适用于本市行政区域内公共数据的开放。\n"
        "第四条 市大数据中心负责编制公共数据开放目录并每年向社会公布。")
    ids = {p.label: (a.id if a else None) for a, p in rules.match_articles(old, new)}
    assert ids["第一条"] == 1  # same text, same number
    assert ids["第三条"] == 2  # renumbered, same text
    assert ids["第四条"] == 3  # renumbered and edited: the most similar text
    assert ids["第二条"] is None  # inserted


def test_match_by_label_when_text_edited():
    old = [Article(id=7, label="第一条", body="甲乙丙丁")]
    ids = [a.id for a, p in rules.match_articles(old, rules.split_articles("第一条 完全不同的新文字"))]
    assert ids == [7]


def test_near_duplicate_groups_by_jaccard():
    items = [
        (1, "强烈建议延长开放时间到晚上九点，方便上班族。"),
        (2, "强烈建议延长开放时间到晚上九点，方便上班族！！"),
        (3, "强烈建议 延长开放时间到晚上九点，方便上班族"),
        (4, "数据目录应当公布更新频率。"),
    ]
    groups = rules.propose_groups(items)
    assert len(groups) == 1
    ids, similarity = groups[0]
    assert ids == [1, 2, 3] and similarity >= rules.SIMILARITY_THRESHOLD
    assert rules.jaccard(rules.shingles("abcd"), rules.shingles("abcd")) == 1.0


def test_identical_texts_group_without_comparisons():
    groups = rules.propose_groups([(1, "同意！"), (2, "同意"), (3, "反对")])
    assert groups == [([1, 2], 1.0)]


@pytest.mark.slow
def test_mass_campaign_grouped_by_minhash_in_linear_work(monkeypatch):
    import random

    random.seed(7)
    base = "强烈建议在第五条中明确低层业主的补偿协商机制，由街道组织协商，协商不成的由区房管部门调解，确保公平。"
    items = []
    for i in range(2500):  # a campaign of slightly edited copies
        text = list(base)
        text[random.randrange(len(text))] = "的"
        items.append((i, "".join(text) + f"（{i}号）"))
    for i in range(2500, 3500):  # unrelated comments
        items.append((i, f"第{i}号意见：建议公开第{i % 12}条的实施细则和时间表，编号{i * 7919}。" + "甲乙丙丁"[i % 4] * (i % 9)))
    assert len({rules._normalise(text) for _, text in items}) > rules.EXACT_LIMIT  # distinct texts: MinHash
    # The work is counted in exact comparisons, not timed: a bound on the wall clock fails on a busy machine.
    comparisons = 0
    exact = rules.jaccard

    def counting_jaccard(a, b):
        nonlocal comparisons
        comparisons += 1
        return exact(a, b)

    monkeypatch.setattr(grouping, "jaccard", counting_jaccard)  # the shared grouping code that rules re-exports
    groups = rules.propose_groups(items)
    big = max(groups, key=lambda g: len(g[0]))
    assert len(big[0]) >= 2450 and all(i < 2500 for i in big[0])  # nearly the whole campaign, nothing else
    # Linear: each text meets at most REPS_PER_BUCKET others per band, far from the 6 million pairs of 3,500 texts.
    assert 0 < comparisons <= rules.MINHASH_BANDS * rules.REPS_PER_BUCKET * len(items)
