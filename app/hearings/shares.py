"""Population shares used to pre-fill quotas, and the default quotas derived from them.

Sources (rounded; a department can change every figure on the form, with its reason):
- district: resident population of the 16 districts, 7th national census 2020 (上海市第七次全国人口普查公报),
  in 10,000s;
- age band: share of adults (18 and over) in each band, from the same census (60 and over: 23.4 % of all residents,
  about 26 % of adults);
- gender: 51.8 % male, 48.2 % female in the census; "other / prefer not to say" is not counted by the census and
  gets no quota by default;
- account type: not a population figure; the platform's default is that enterprise representatives hold about one
  seat in ten.
The default quota for a value with an expected number of seats e = share × seats is min = max(0, round(e) - 1),
max = round(e) + 1 (at least 1): proportional with one seat of slack either way.
"""
from __future__ import annotations

import math

SHARES: dict[str, dict[str, float]] = {
    "district": {
        "pudong": 568.2, "minhang": 265.3, "baoshan": 223.5, "songjiang": 191.0, "jiading": 183.4,
        "qingpu": 127.1, "yangpu": 124.2, "putuo": 124.0, "fengxian": 114.1, "xuhui": 111.3, "jingan": 97.6,
        "jinshan": 82.3, "hongkou": 75.8, "changning": 69.3, "huangpu": 66.2, "chongming": 63.7,
    },
    "age_band": {"18_29": 18.0, "30_44": 30.0, "45_59": 26.0, "60_plus": 26.0},
    "gender": {"female": 48.2, "male": 51.8},
    "account_type": {"resident": 90.0, "enterprise": 10.0},
}
SOURCES = {
    "district": "上海市第七次全国人口普查（2020）各区常住人口",
    "age_band": "上海市第七次全国人口普查（2020），18岁及以上人口各年龄段占比",
    "gender": "上海市第七次全国人口普查（2020）性别构成",
    "account_type": "平台默认：企业代表约占十分之一名额",
}
SOURCES_EN = {
    "district": "Resident population of each district, 7th national census (2020)",
    "age_band": "Share of adults in each age band, 7th national census (2020)",
    "gender": "Gender composition, 7th national census (2020)",
    "account_type": "Platform default: enterprise representatives hold about one seat in ten",
}


def share(category: str, value: str) -> float:
    values = SHARES.get(category, {})
    total = sum(values.values())
    return values.get(value, 0.0) / total if total else 0.0


def default_quota(category: str, value: str, seats: int) -> tuple[int, int]:
    """(min, max) proportional to the population share with one seat of slack either way."""
    expected = share(category, value) * seats
    rounded = math.floor(expected + 0.5)
    return max(0, rounded - 1), min(seats, max(1, rounded + 1))


def default_quotas(seats: int, categories=("district", "age_band", "gender", "account_type")) -> list[dict]:
    return [{"category": c, "value": v, "min": lo, "max": hi}
            for c in categories for v in SHARES[c] for lo, hi in [default_quota(c, v, seats)]]
