"""Pure rules of consultations, with no database: minimum periods, tracking numbers, masking, splitting a draft
into articles, and near-duplicate detection. Each is small enough to explain to a member of the public."""
from __future__ import annotations

import re
import secrets
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays

from app.consultations.models import DocumentType, local_date_span

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


@lru_cache(maxsize=32)
def _china_calendar(year: int) -> holidays.HolidayBase:
    return holidays.China(years=year)


def is_working_day(d: date) -> bool:
    """Working day of the official calendar: weekdays that are not holidays, plus make-up workdays (调休)
    such as Saturday 2026-02-14. Decided by the maintained ``holidays`` library, never by a hand list."""
    return _china_calendar(d.year).is_working_day(d)


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
# Tracking numbers: ZX-YYYY-NNNNNNNN-C. C is the ISO 7064 MOD 11-2 check character (0-9 or X, as in the Chinese
# resident ID number) computed over the 12 digits YYYYNNNNNNNN. It catches every single wrong digit and every swap
# of two adjacent digits, so a mistyped number is refused instead of showing someone else's comment.

TRACKING_RE = re.compile(r"^ZX-(\d{4})-(\d{8})-([0-9X])$")


def mod11_2_check(digits: str) -> str:
    total = 0
    for ch in digits:
        total = (total + int(ch)) * 2 % 11
    check = (12 - total) % 11
    return "X" if check == 10 else str(check)


def make_tracking_number(year: int, serial: int) -> str:
    body = f"{year:04d}{serial:08d}"
    return f"ZX-{year:04d}-{serial:08d}-{mod11_2_check(body)}"


def random_tracking_number(year: int) -> str:
    """A random serial, so numbers cannot be walked to find other people's comments."""
    return make_tracking_number(year, secrets.randbelow(10**8))


def is_valid_tracking_number(value: str) -> bool:
    m = TRACKING_RE.match((value or "").strip().upper())
    return bool(m) and mod11_2_check(m.group(1) + m.group(2)) == m.group(3)


# ---------------------------------------------------------------------------------------------------------------
# Masking personal information inside comment text before publication (个人信息保护法 art. 25, 28).

_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_ID_RE = re.compile(r"(?<![0-9])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9])")
_MOBILE_RE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![0-9])")
_LANDLINE_RE = re.compile(r"(?<![0-9])0\d{2,3}-?\d{7,8}(?![0-9])")


def mask_personal_information(text: str) -> str:
    """Replace e-mail addresses, ID numbers, mobile and landline numbers with placeholders."""
    text = _EMAIL_RE.sub("[邮箱已隐去]", text)
    text = _ID_RE.sub("[身份证号已隐去]", text)
    text = _MOBILE_RE.sub("[电话已隐去]", text)
    text = _LANDLINE_RE.sub("[电话已隐去]", text)
    return text


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


# ---------------------------------------------------------------------------------------------------------------
# Near-duplicates: normalise (drop spaces and punctuation, lower case), take the set of 3-character shingles, and
# compare sets with the Jaccard index |A∩B| / |A∪B|. Comments at or above the threshold join one group.

_DROP_RE = re.compile(r"[\s\W_]+", re.UNICODE)
SIMILARITY_THRESHOLD = 0.6


def _normalise(text: str) -> str:
    return _DROP_RE.sub("", (text or "").lower())


def shingles(text: str, k: int = 3) -> frozenset[str]:
    norm = _normalise(text)
    if len(norm) <= k:
        return frozenset([norm]) if norm else frozenset()
    return frozenset(norm[i:i + k] for i in range(len(norm) - k + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


EXACT_LIMIT = 2000  # up to this many distinct texts every candidate pair is compared exactly


def propose_groups(items: list[tuple[int, str]], threshold: float = SIMILARITY_THRESHOLD
                   ) -> list[tuple[list[int], float]]:
    """Group ids whose texts are near-duplicates (single linkage: A~B and B~C put A, B, C together).

    Returns (ids, lowest similarity of a joining pair) for each group of two or more. Identical texts (after
    normalising) are grouped first. Up to EXACT_LIMIT distinct texts, candidate pairs come from an inverted index
    of shingles and every pair sharing a shingle is compared exactly; beyond that (a mass campaign of many slightly
    edited copies) candidates come from MinHash signatures (see _lsh_pairs) and are confirmed with the exact Jaccard,
    so the work grows linearly with the number of comments.
    """
    by_text: dict[str, list[int]] = {}
    for cid, text in items:
        by_text.setdefault(_normalise(text), []).append(cid)
    reps = {ids[0]: norm for norm, ids in by_text.items()}
    members = {ids[0]: ids for ids in by_text.values()}
    sets = {cid: shingles(norm) for cid, norm in reps.items()}
    parent = {cid: cid for cid in sets}
    lowest: dict[int, float] = {}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(a, b, sim):
        ra, rb = find(a), find(b)
        low = min(sim, lowest.get(ra, 1.0), lowest.get(rb, 1.0))
        if ra != rb:
            parent[rb] = ra
        lowest[ra] = low

    pairs = _exact_pairs(sets) if len(sets) <= EXACT_LIMIT else _lsh_pairs(sets, find)
    for a, b in pairs:
        sim = jaccard(sets[a], sets[b])
        if sim >= threshold:
            join(a, b, sim)
    groups: dict[int, list[int]] = {}
    for rep in sets:
        groups.setdefault(find(rep), []).extend(members[rep])
    return [(sorted(ids), round(lowest.get(root, 1.0), 3)) for root, ids in groups.items() if len(ids) > 1]


def _exact_pairs(sets: dict[int, frozenset]):
    index: dict[str, list[int]] = {}
    for cid, s in sets.items():
        for sh in s:
            index.setdefault(sh, []).append(cid)
    for cid, s in sets.items():
        seen = set()
        for sh in s:
            for other in index[sh]:
                if other > cid and other not in seen:
                    seen.add(other)
                    yield cid, other


MINHASH_BANDS, MINHASH_ROWS = 20, 3  # P(candidate) is 0.99 at Jaccard 0.6 and 0.42 at 0.3
REPS_PER_BUCKET = 5


def _lsh_pairs(sets: dict[int, frozenset], find):
    """Candidate pairs from MinHash locality-sensitive hashing: texts whose signatures agree on a whole band
    share a bucket; each text in a bucket is compared with at most REPS_PER_BUCKET groups already found there."""
    # numpy is imported only when comments are grouped: it costs every web worker ~20 MB and 0.1 s otherwise.
    import numpy as np

    prime = (1 << 31) - 1
    rng = np.random.default_rng(20260214)
    k = MINHASH_BANDS * MINHASH_ROWS
    a = rng.integers(1, prime, size=(k, 1), dtype=np.int64)
    b = rng.integers(0, prime, size=(k, 1), dtype=np.int64)
    ids = [cid for cid, s in sets.items() if s]
    signatures = np.empty((len(ids), k), dtype=np.int64)
    for row, cid in enumerate(ids):
        x = np.fromiter((zlib.crc32(sh.encode("utf-8")) % prime for sh in sets[cid]), dtype=np.int64)
        signatures[row] = ((a * x + b) % prime).min(axis=1)
    for band in range(MINHASH_BANDS):
        buckets: dict[bytes, list[int]] = {}
        chunk = signatures[:, band * MINHASH_ROWS:(band + 1) * MINHASH_ROWS]
        for row, cid in enumerate(ids):
            buckets.setdefault(chunk[row].tobytes(), []).append(cid)
        for bucket in buckets.values():
            if len(bucket) < 2:
                continue
            reps: list[int] = []
            for cid in bucket:
                for rep in reps:
                    yield rep, cid
                if len(reps) < REPS_PER_BUCKET and all(find(r) != find(cid) for r in reps):
                    reps.append(cid)
