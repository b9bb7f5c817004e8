"""Benchmark of the hearings lottery: time and the lowest/highest selection chance against the uniform k/n.

    .venv/bin/python bench/bench_hearings.py [--seats 10] [--sizes 50,300,1000] [--time-limit 600]

Pools are synthetic with 5 categories (district, age band, gender, account type, first-time/returning) drawn with
fixed seeds; quotas on every category. The lottery is the module's own code path: the sortition-algorithms
library's maximin on HiGHS in a child process with a time limit, then its lottery_rounding to 1,000 panels.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.hearings import lottery  # noqa: E402

DISTRICTS = ["xuhui", "pudong", "jingan", "minhang", "yangpu", "huangpu"]
AGES = ["18_29", "30_44", "45_59", "60_plus"]


def make_pool(n: int, seed: int) -> list[dict]:
    rnd = random.Random(seed)
    pool = []
    for i in range(1, n + 1):
        pool.append({"number": i, "categories": {
            "district": rnd.choices(DISTRICTS, weights=[3, 4, 2, 2, 2, 1])[0],
            "age_band": rnd.choices(AGES, weights=[2, 4, 3, 2])[0],
            "gender": rnd.choices(["female", "male"], weights=[45, 55])[0],
            "account_type": rnd.choices(["resident", "enterprise"], weights=[85, 15])[0],
            "observer_history": rnd.choices(["first_time", "returning"], weights=[80, 20])[0],
        }})
    return pool


def quotas_for(seats: int) -> list[dict]:
    half = seats // 2
    return [
        {"category": "gender", "value": "female", "min": half - 1, "max": half + 1},
        {"category": "gender", "value": "male", "min": half - 1, "max": half + 1},
        {"category": "age_band", "value": "60_plus", "min": 1, "max": max(2, seats // 3)},
        {"category": "age_band", "value": "18_29", "min": 1, "max": max(2, seats // 3)},
        {"category": "district", "value": "pudong", "min": 1, "max": max(2, seats // 2)},
        {"category": "district", "value": "huangpu", "min": 0, "max": 1},
        {"category": "account_type", "value": "enterprise", "min": 1, "max": max(1, seats // 4)},
        {"category": "observer_history", "value": "returning", "min": 0, "max": max(1, seats // 4)},
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seats", type=int, default=10)
    parser.add_argument("--sizes", default="50,300,1000")
    parser.add_argument("--time-limit", type=float, default=600)
    args = parser.parse_args()
    print(f"sortition-algorithms {lottery.library_version()}, {lottery.ALGORITHM} on {lottery.SOLVER_BACKEND}; "
          f"{args.seats} seats; 5 categories, {len(quotas_for(args.seats))} quotas; 1000 panels")
    print(f"{'pool':>6} {'seconds':>8} {'uniform k/n':>12} {'lowest':>8} {'highest':>8} "
          f"{'low/uniform':>11} {'lowest@1000':>11} {'highest@1000':>12} {'panels ok':>9}")
    for n in [int(s) for s in args.sizes.split(",")]:
        pool = make_pool(n, seed=n)
        quotas = quotas_for(args.seats)
        started = time.monotonic()
        try:
            result = lottery.compute_with_time_limit(pool, quotas, args.seats, time_limit=args.time_limit)
        except lottery.LotteryTimeout:
            print(f"{n:>6} timed out after {args.time_limit:.0f} s")
            continue
        except lottery.LotteryInfeasible as exc:
            print(f"{n:>6} infeasible: {exc}")
            continue
        seconds = time.monotonic() - started
        by_number = {p["number"]: p for p in pool}
        ok = sum(lottery.panel_satisfies(p, by_number, quotas, args.seats) for p in result.panels)
        uniform = args.seats / n
        print(f"{n:>6} {seconds:>8.2f} {uniform:>12.4f} {result.lowest_chance:>8.4f} {result.highest_chance:>8.4f} "
              f"{result.lowest_chance / uniform:>11.3f} {min(result.chances.values()):>11.3f} "
              f"{max(result.chances.values()):>12.3f} {ok:>5}/{len(result.panels)}")


if __name__ == "__main__":
    main()
