"""Quotas: one row per category value, the defaults a new meeting starts from, and the rules a set of quotas must
meet before it is saved (a quota set that cannot fill the seats is refused at entry, not at the lottery)."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.accounts.models import AGE_BANDS, DISTRICTS, GENDERS
from app.hearings import shares
from app.hearings.models import ACCOUNT_TYPES, CATEGORIES, OBSERVER_HISTORY
from app.i18n import current_language

CATEGORY_VALUES = {"district": DISTRICTS, "age_band": AGE_BANDS, "gender": GENDERS, "account_type": ACCOUNT_TYPES,
                   "observer_history": OBSERVER_HISTORY}
# Categories pre-filled from population shares on a new meeting. Districts and account type are not: a district
# government's meeting draws its applicants from one district, and who applies as an enterprise depends on the
# topic; their rows show the population share so staff can set them with a reason.
PREFILLED = ("age_band", "gender")


def rows() -> list[tuple[str, str]]:
    """Every (category, value) a quota may be set on, in the form's order (under-18s cannot apply)."""
    return [(c, v) for c in CATEGORIES for v in CATEGORY_VALUES[c] if (c, v) != ("age_band", "under_18")]


def category_values(category: str) -> list[str]:
    return [v for c, v in rows() if c == category]


def default_quotas(seats: int) -> list[dict]:
    """A new meeting's quotas: age band and gender proportional to the population with one seat of slack."""
    out = []
    for category in PREFILLED:
        source = (shares.SOURCES_EN if current_language() == "en" else shares.SOURCES)[category]
        for value in category_values(category):
            if value not in shares.SHARES[category]:
                continue
            lo, hi = shares.default_quota(category, value, seats)
            out.append({"category": category, "value": value, "min": lo, "max": hi,
                        "reason": _("按人口比例（%(source)s：%(share).1f%%），上下各留一个名额的余地。",
                                    source=source, share=shares.share(category, value) * 100)})
    return out


@dataclass
class Problem:
    category: str
    value: str  # "" for a problem of the whole category
    field: str  # "min" | "max" | "reason" | ""
    message: str


def problems(quotas: list[dict], seats: int) -> list[Problem]:
    """Why these quotas cannot be saved: each min <= max <= seats with a reason, and per category the minimums
    fit in the seats and the maximums (when every value has one) can fill them."""
    out: list[Problem] = []
    by_category: dict[str, list[dict]] = {}
    for q in quotas:
        c, v = q["category"], q["value"]
        by_category.setdefault(c, []).append(q)
        if q["min"] < 0:
            out.append(Problem(c, v, "min", str(_l("最少人数不能是负数。"))))
        if q["min"] > q["max"]:
            out.append(Problem(c, v, "min", str(_l("最少人数（%(lo)d）不能大于最多人数（%(hi)d）。",
                                                    lo=q["min"], hi=q["max"]))))
        if q["max"] > seats:
            out.append(Problem(c, v, "max", str(_l("最多人数（%(hi)d）不能超过名额（%(seats)d）。",
                                                    hi=q["max"], seats=seats))))
        if "reason" in q and not (q.get("reason") or "").strip():
            out.append(Problem(c, v, "reason", str(_l("请说明设置这项配额的理由。"))))
    for c, qs in by_category.items():
        label = str(CATEGORIES.get(c, c))
        total_min = sum(q["min"] for q in qs)
        if total_min > seats:
            out.append(Problem(c, "", "", str(_l("“%(category)s”各项最少人数之和（%(total)d）超过了名额（%(seats)d）。",
                                                 category=label, total=total_min, seats=seats))))
        if {q["value"] for q in qs} >= set(category_values(c)):
            total_max = sum(min(q["max"], seats) for q in qs)
            if total_max < seats:
                out.append(Problem(c, "", "", str(_l(
                    "“%(category)s”各项最多人数之和（%(total)d）少于名额（%(seats)d），名额填不满。",
                    category=label, total=total_max, seats=seats))))
    return out
