"""Pure rules of consultations, with no database: minimum periods, tracking numbers, masking, splitting a draft
into articles, and near-duplicate detection. Each is small enough to explain to a member of the public."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.consultations.models import DocumentType, local_date_span
# Shared rules, kept importable from here: working days, near-duplicate grouping, masking, check characters.
from app.core.grouping import (  # noqa: F401
    EXACT_LIMIT,
    MINHASH_BANDS,
    REPS_PER_BUCKET,
    SIMILARITY_THRESHOLD,
    jaccard,
    propose_groups,
    shingles,
)
from app.core.grouping import normalise as _normalise
from app.core.privacy import mask_personal_information  # noqa: F401
from app.core.tracking import TrackingFormat
from app.core.workdays import is_working_day

# ---------------------------------------------------------------------------------------------------------------
# Minimum comment periods (重大行政决策程序暂行条例 art. 15; 规章制定程序条例 art. 15; normative-document practice).


@dataclass(frozen=True)
class MinimumPeriod:
    days: int
    working_days: bool  # True: count working days of the official calendar (with make-up workdays)


def minimum_period(document_type: DocumentType, concerns_enterprises: bool) -> MinimumPeriod | None:
    """The legal minimum for a document type, or None when no minimum applies ("other")."""
    if document_type in (DocumentType.MAJOR_DECISION, DocumentType.GOVERNMENT_RULE):
        return MinimumPeriod(30, False)
    if document_type is DocumentType.NORMATIVE_DOCUMENT:
        return MinimumPeriod(30, False) if concerns_enterprises else MinimumPeriod(7, True)
    return None


def period_length(opens_at: datetime, closes_at: datetime) -> tuple[int, int]:
    """(calendar days, working days) covered by a period, counting Shanghai days from the opening day to the last
    day before closing. A period opening 2026-03-02 00:00 and closing 2026-04-01 00:00 covers 30 calendar days."""
    first, last = local_date_span(opens_at, closes_at)
    if last < first:
        return 0, 0
    calendar_days = (last - first).days + 1
    working = sum(1 for i in range(calendar_days) if is_working_day(first + timedelta(days=i)))
    return calendar_days, working


def period_shortfall(document_type: DocumentType, concerns_enterprises: bool, opens_at: datetime,
                     closes_at: datetime) -> MinimumPeriod | None:
    """The minimum the period falls short of, or None when it is long enough."""
    minimum = minimum_period(document_type, concerns_enterprises)
    if minimum is None:
        return None
    calendar_days, working = period_length(opens_at, closes_at)
    have = working if minimum.working_days else calendar_days
    return minimum if have < minimum.days else None


# ---------------------------------------------------------------------------------------------------------------
# Tracking numbers: ZX-YYYY-NNNNNNNN-C (core.tracking explains the check character).

TRACKING = TrackingFormat("ZX")
make_tracking_number = TRACKING.make
random_tracking_number = TRACKING.random
is_valid_tracking_number = TRACKING.is_valid


# ---------------------------------------------------------------------------------------------------------------
# Splitting a pasted draft at 第X章 and 第X条.

_NUM = "[一二三四五六七八九十百零〇两0-9]+"
_CHAPTER_RE = re.compile(rf"^\s*(第{_NUM}章)[\s　]*(.*)$")
_ARTICLE_RE = re.compile(rf"^\s*(第{_NUM}条)[\s　]*(.*)$")


@dataclass
class ParsedArticle:
    label: str
    chapter: str
    body: str


def split_articles(text: str) -> list[ParsedArticle]:
    """Split a draft into articles. Lines before the first article (title, preamble) are not articles; a chapter
    heading applies to the articles after it. A draft without any 第X条 gives one article holding the whole text."""
    articles: list[ParsedArticle] = []
    chapter = ""
    current: ParsedArticle | None = None
    lines: list[str] = []
    for raw in (text or "").replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        m = _CHAPTER_RE.match(line)
        if m and len(line) <= 60:
            if current is not None:
                current.body = "\n".join(lines).strip()
                articles.append(current)
                current, lines = None, []
            chapter = f"{m.group(1)} {m.group(2)}".strip()
            continue
        m = _ARTICLE_RE.match(line)
        if m:
            if current is not None:
                current.body = "\n".join(lines).strip()
                articles.append(current)
            current = ParsedArticle(label=m.group(1), chapter=chapter, body="")
            lines = [m.group(2)] if m.group(2) else []
            continue
        if current is not None:
            lines.append(line)
    if current is not None:
        current.body = "\n".join(lines).strip()
        articles.append(current)
    if not articles and (text or "").strip():
        articles.append(ParsedArticle(label="", chapter="", body=text.strip()))
    return articles


def match_articles(existing: list, parsed: list[ParsedArticle]) -> list[tuple[object | None, ParsedArticle]]:
    """Pair each parsed article with an existing one so that ids stay stable across edits: first an article with
    the same text (it was only renumbered), then one with the same label (第X条, its text was edited), then the
    most similar remaining text (Jaccard of shingles at least 0.5: renumbered and edited)."""
    free = list(existing)
    pairs: list[list] = [[None, p] for p in parsed]
    by_body = {}
    for a in free:
        by_body.setdefault(_normalise(a.body), a)
    for pair in pairs:
        hit = by_body.get(_normalise(pair[1].body))
        if hit is not None and hit in free:
            pair[0] = hit
            free.remove(hit)
    for pair in pairs:
        if pair[0] is None:
            for a in free:
                if a.label and a.label == pair[1].label:
                    pair[0] = a
                    free.remove(a)
                    break
    for pair in pairs:
        if pair[0] is None and free:
            target = shingles(pair[1].body)
            best = max(free, key=lambda a: jaccard(shingles(a.body), target))
            if jaccard(shingles(best.body), target) >= 0.5:
                pair[0] = best
                free.remove(best)
    return [(a, p) for a, p in pairs]


