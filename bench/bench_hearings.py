"""Benchmark of the hearings lottery: time, and the true lowest chance against the maximin optimum minus 1/m.

    .venv/bin/python bench/bench_hearings.py [--pools 120/5,300/5,300/10,600/10] [--time-limit 600]

Pools are synthetic with fixed seeds: 16 districts, age band, gender and account type drawn from the population
shares of app/hearings/shares.py, skewed the way applicants are (central districts, people over 60 and women
apply more; outer districts and people under 30 less). Quotas are the form's defaults: proportional to the
population with one seat of slack either way. The lottery is the module's own code path (lottery.compute in a
child process with the time limit). Per pool: seconds, uniform k/n, the maximin optimum, the true lowest and
highest chance over the m published panels, whether true lowest >= optimum - 1/m, the distribution's highest
chance, and whether everyone's true chance is within 1/m of their chance in the distribution (both ways).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.hearings import lottery  # noqa: E402
from app.hearings.shares import SHARES, default_quotas  # noqa: E402

SKEW = {"district": {"xuhui": 2.5, "jingan": 2.2, "huangpu": 2.0, "changning": 1.8, "chongming": 0.3,
                     "jinshan": 0.4, "fengxian": 0.5, "qingpu": 0.6},
        "age_band": {"60_plus": 1.6, "18_29": 0.6}, "gender": {"female": 1.2}, "account_type": {"enterprise": 1.3}}


def make_pool(n: int, seed: int) -> list[dict]:
    rnd = random.Random(seed)
    pool = []
    for i in range(1, n + 1):
        categories = {}
        for category, shares in SHARES.items():
            values = list(shares)
            weights = [shares[v] * SKEW.get(category, {}).get(v, 1.0) for v in values]
            categories[category] = rnd.choices(values, weights=weights)[0]
        pool.append({"number": i, "categories": categories})
    return pool


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pools", default="120/5,300/5,300/10,600/10")
    parser.add_argument("--time-limit", type=float, default=600)
    args = parser.parse_args()
    print(f"maximin over types on HiGHS {lottery.library_version()}; rounding: {lottery.ROUNDING}")
    print(f"{'pool':>8} {'seconds':>8} {'load':>5} {'uniform':>8} {'optimum':>8} {'m':>5} {'true low':>9} "
          f"{'true high':>9} {'opt-1/m':>8} {'bound':>6} {'dist high':>9} {'+-1/m':>6} {'panels ok':>10}")
    for spec in args.pools.split(","):
        n, seats = (int(x) for x in spec.split("/"))
        pool = make_pool(n, seed=n * 100 + seats)
        quotas = default_quotas(seats)
        started = time.monotonic()
        try:
            result = lottery.compute_with_time_limit(pool, quotas, seats, time_limit=args.time_limit)
        except lottery.LotteryTimeout:
            print(f"{spec:>8} timed out after {args.time_limit:.0f} s")
            continue
        except lottery.LotteryInfeasible as exc:
            print(f"{spec:>8} infeasible: {exc}")
            continue
        seconds = time.monotonic() - started
        load = os.getloadavg()[0]
        by_number = {p["number"]: p for p in pool}
        ok = sum(lottery.panel_satisfies(p, by_number, quotas, seats) for p in result.panels)
        m = len(result.panels)
        counts = {p["number"]: 0 for p in pool}
        for panel in result.panels:
            for number in panel:
                counts[number] += 1
        low, high = min(counts.values()) / m, max(counts.values()) / m
        optimum = result.optimum_chance
        holds = low >= optimum - 1 / m - 1e-12
        dist_high = max(result.maximin_chances.values())
        # everyone within one panel of m times their chance in the distribution, above as below
        near = all(abs(counts[n] - m * result.maximin_chances[n]) <= 1 + 1e-6 for n in counts)
        print(f"{spec:>8} {seconds:>8.2f} {load:>5.1f} {seats / n:>8.5f} {optimum:>8.5f} {m:>5} {low:>9.5f} "
              f"{high:>9.5f} {optimum - 1 / m:>8.5f} {'yes' if holds else 'NO':>6} {dist_high:>9.5f} "
              f"{'yes' if near else 'NO':>6} {ok:>5}/{m}")


if __name__ == "__main__":
    main()
