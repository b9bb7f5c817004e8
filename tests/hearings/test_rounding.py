"""The maximin distribution and its rounding to published panels (pure functions, no database)."""
import random
from collections import Counter

import numpy as np
import pytest

from app.hearings import lottery, maximin, rounding

QUOTAS = [{"category": "gender", "value": "female", "min": 2, "max": 3},
          {"category": "district", "value": "xuhui", "min": 1, "max": 2},
          {"category": "age_band", "value": "60_plus", "min": 1, "max": 1}]


def _pool(n=30, seed=7):
    rnd = random.Random(seed)
    return [{"number": i, "categories": {"gender": rnd.choice(["female", "male", "male"]),
                                         "district": rnd.choice(["xuhui", "pudong", "pudong", "jingan"]),
                                         "age_band": rnd.choice(["30_44", "60_plus", "45_59"])}}
            for i in range(1, n + 1)]


def _dist(pool=None):
    return maximin.solve(pool or _pool(), QUOTAS, 5, ["age_band", "district", "gender"])


def test_pipage_keeps_the_total_and_rounds_each_value_to_a_neighbour():
    rng = np.random.default_rng(1)
    fractions = rng.uniform(0, 1, 40)
    fractions *= 17 / fractions.sum()
    fractions = np.clip(fractions, 0, 1)
    fractions *= 17 / fractions.sum()
    means = np.zeros(40)
    for _ in range(400):
        out = rounding.pipage(fractions, rng)
        assert out.sum() == 17 and set(out) <= {0, 1}
        means += out / 400
    assert np.abs(means - fractions).max() < 0.15  # each value is kept in expectation


def test_rounding_keeps_each_panel_within_one_copy_and_everyone_within_1_over_m():
    dist = _dist()
    assert abs(dist.probabilities.sum() - 1) < 1e-9 and dist.optimum > 0
    m = rounding.panel_count(dist.optimum, 1000)
    copies, ok, method = rounding.round_copies(dist, m)
    assert ok and copies.sum() == m
    if method == "pipage":  # the copies of each composition are floor or ceil of m * p: within 1/m as a chance
        assert np.abs(copies - m * dist.probabilities).max() < 1
    result = rounding.round_to_panels(dist)
    counts = Counter(n for panel in result.panels for n in panel)
    assert result.within_bound and len(result.panels) == result.m
    pool = {p["number"]: p for p in _pool()}
    assert all(lottery.panel_satisfies(panel, pool, QUOTAS, 5) for panel in result.panels)
    assert min(counts[n] for n in pool) / result.m >= dist.optimum - 1 / result.m
    chances = dist.type_chances()
    for t, members in enumerate(dist.types.members):  # people of one type differ by one panel at most
        seen = [counts[n] for n in members]
        assert max(seen) - min(seen) <= 1
        assert all(c / result.m >= chances[t] - 1 / result.m - 1e-9 or c / result.m >= dist.optimum - 1 / result.m
                   for c in seen)


def test_integer_programme_repairs_a_rounding_that_misses():
    dist = _dist()
    copies, ok, method = rounding.round_copies(dist, 1000, tries=0)  # no pipage: largest remainders, then the ILP
    assert ok and method == "pipage+ilp" and copies.sum() == 1000


def test_panel_count_leaves_the_most_room():
    assert rounding.panel_count(1 / 31, 1000) == 1022  # 0.97 of a panel of room (1023 / 31 = 33 is avoided)
    assert rounding.panel_count(0.5, 1000) in (1000, 1001)


@pytest.mark.slow
def test_optimum_is_the_sortition_libraries():
    """The optimum over types equals the per-person maximin of the sortition-algorithms library."""
    import logging

    import sortition_algorithms.utils  # noqa: F401
    from sortition_algorithms.committee_generation import find_distribution_maximin
    from sortition_algorithms.features import FeatureValueMinMax, set_default_max_flex
    from sortition_algorithms.people import People

    logging.getLogger("sortition_algorithms").setLevel(logging.WARNING)
    logging.getLogger("sortition_algorithms_user").setLevel(logging.WARNING)
    pool = _pool(24, seed=3)
    categories = ["age_band", "district", "gender"]
    features = {c: {v: FeatureValueMinMax(min=0, max=5) for v in sorted({p["categories"][c] for p in pool})}
                for c in categories}
    for q in QUOTAS:
        features[q["category"]][q["value"]] = FeatureValueMinMax(min=q["min"], max=q["max"])
    set_default_max_flex(features)
    people = People(columns_to_keep=[])
    for row, p in enumerate(pool, start=1):
        people.add(str(p["number"]), p["categories"], features, row)
    committees, probabilities, _ = find_distribution_maximin(features, people, 5, [], "highspy")
    theirs = Counter()
    for committee, prob in zip(committees, probabilities):
        for k in committee:
            theirs[int(k)] += prob
    assert _dist(pool).optimum == pytest.approx(min(theirs[p["number"]] for p in pool), abs=1e-6)


def _uniform_pool():
    """Quotas that cost nobody anything: the maximin gives everyone k/n."""
    rnd = random.Random(11)
    return [{"number": i, "categories": {"gender": rnd.choice(["female", "male"]),
                                         "district": rnd.choice(["xuhui", "pudong", "jingan", "minhang"])}}
            for i in range(1, 41)]


UNIFORM_QUOTAS = [{"category": "gender", "value": "female", "min": 1, "max": 4},
                  {"category": "district", "value": "xuhui", "min": 0, "max": 3}]


def test_when_everyone_can_have_k_over_n_the_highest_true_chance_is_at_most_k_over_n_plus_1_over_m():
    pool = _uniform_pool()
    result = lottery.compute(pool, UNIFORM_QUOTAS, 5)
    m = result.n_panels
    assert result.optimum_chance == pytest.approx(5 / 40, abs=1e-7)
    assert m % 8 == 0 and 1000 <= m < 1008  # a multiple of n / gcd(n, k) = 8: m * 5/40 panels is whole
    counts = Counter(n for panel in result.panels for n in panel)
    assert max(counts.values()) <= m * 5 // 40 + 1 and min(counts.values()) >= m * 5 // 40 - 1
    assert result.highest_chance <= 5 / 40 + 1 / m + 1e-12
    assert result.settings["every_true_chance_within_1_over_m_of_its_maximin_chance"] is True
    by_number = {p["number"]: p for p in pool}
    assert all(lottery.panel_satisfies(panel, by_number, UNIFORM_QUOTAS, 5) for panel in result.panels)


def test_balancing_moves_seats_towards_everyones_target_and_keeps_the_quotas():
    dist = _dist()
    rounded = rounding.round_to_panels(dist, quotas=QUOTAS)
    m, balanced = rounded.m, rounded.panels
    target = rounding.targets(dist, m)
    counts = Counter(n for panel in balanced for n in panel)
    assert len(balanced) == m  # (the rounding alone is sometimes already within one panel: nothing to move)
    assert all(abs(counts[n] - target[n]) <= 1 + 1e-9 for n in target), \
        sorted((counts[n] - target[n], n) for n in target)[::len(target) - 1]
    assert rounded.within_target is True
    pool = {p["number"]: p for p in _pool()}
    assert all(lottery.panel_satisfies(panel, pool, QUOTAS, 5) for panel in balanced)
    assert min(counts[n] for n in pool) >= rounding._need(m, dist.optimum)


def test_balancing_never_breaks_a_quota_or_the_lower_bound_and_only_lowers_the_deviation():
    dist = _dist()
    m = rounding.panel_count(dist.optimum, 1000)
    copies, _ok, _method = rounding.round_copies(dist, m)
    panels = rounding.seat_people(dist, copies)
    target = rounding.targets(dist, m)

    def spread(ps):
        counts = Counter(n for panel in ps for n in panel)
        return sum((counts[n] - target[n]) ** 2 for n in target)

    balanced, moved = rounding.balance(panels, dist, QUOTAS, m, seconds=600)
    assert len(balanced) == m and spread(balanced) <= spread(panels) - moved * 1e-9
    pool = {p["number"]: p for p in _pool()}
    assert all(lottery.panel_satisfies(panel, pool, QUOTAS, 5) for panel in balanced)
    counts = Counter(n for panel in balanced for n in panel)
    assert min(counts[n] for n in pool) >= min(rounding._need(m, dist.optimum), min(Counter(
        n for panel in panels for n in panel)[n] for n in pool))


LIBRARY_FIRST = """
import sys
from tests.hearings.test_rounding import QUOTAS, _pool
import highspy
h = highspy.Highs()  # another user of HiGHS in this process, with its default threads, runs first
h.setOptionValue("output_flag", False)
h.addVar(0.0, 1.0)
h.run()
from app.hearings import lottery
result = lottery.compute(_pool(), QUOTAS, 5)
print("panels", result.n_panels)
"""


@pytest.mark.slow  # a fresh interpreter, so that nothing has used HiGHS before
def test_the_lottery_solves_after_another_highs_user_sized_its_thread_scheduler():
    """HiGHS sizes one thread scheduler per process at its first run; our single-threaded runs were then refused
    without solving, and the lottery said that no panel could meet the quotas (the tests passed or failed by order)."""
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([sys.executable, "-c", LIBRARY_FIRST], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "panels 10" in done.stdout, done.stdout[-500:]
