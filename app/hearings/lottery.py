"""The stratified lottery, computed by the `sortition-algorithms` library (maximin on HiGHS).

Pure functions over plain data (no Flask, no database), so the web app, the job runner and the benchmark share
them. The solver runs in a child process that the parent kills when the time limit passes.

How the 1,000 panels are obtained (published with the result): the library's ``find_distribution_maximin``
gives a distribution over quota-respecting panels that maximises the lowest chance of any pool member; the
library's ``standardize_distribution`` drops zero-probability panels; the library's ``lottery_rounding``
(pipage rounding, random numbers from the ``secrets`` module) turns it into a list of 1,000 panels, each
appearing about probability × 1,000 times. This is exactly what the library's ``find_random_sample`` does for
``number_selections=1000``; we call the three steps ourselves so that the distribution (and so each member's
maximin chance) is kept too. The draw then picks one of the 1,000 panels uniformly, so a member's chance in
the published lottery is (panels containing them) / 1,000.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any, Callable

N_PANELS = 1000
ALGORITHM = "maximin"
SOLVER_BACKEND = "highspy"


def library_version() -> str:
    return version("sortition-algorithms")


def settings_record(n_panels: int = N_PANELS) -> dict:
    return {
        "library": "sortition-algorithms",
        "library_version": library_version(),
        "highspy_version": version("highspy"),
        "selection_algorithm": ALGORITHM,
        "solver_backend": SOLVER_BACKEND,
        "check_same_address": False,
        "number_of_panels": n_panels,
        "panels_from": "find_distribution_maximin -> standardize_distribution -> lottery_rounding(number_selections=%d)"
                       % n_panels,
        "random_number_seed": 0,
    }


@dataclass
class Shortfall:
    """One reason the quotas cannot be met; ``kind`` names which check failed."""

    kind: str  # "value_short" | "min_sum_over_seats" | "max_sum_under_seats" | "min_over_max" | "solver"
    category: str = ""
    value: str = ""
    needed: int = 0
    available: int = 0
    detail: str = ""


class LotteryInfeasible(Exception):
    def __init__(self, shortfalls: list[Shortfall]):
        super().__init__("; ".join(f"{s.kind}:{s.category}={s.value}" for s in shortfalls))
        self.shortfalls = shortfalls


class LotteryTimeout(Exception):
    pass


class LotteryFailed(Exception):
    pass


@dataclass
class LotteryResult:
    panels: list[list[int]]  # N_PANELS panels, each the sorted pool numbers
    chances: dict[int, float]  # pool number -> panels containing it / N_PANELS
    maximin_chances: dict[int, float]  # pool number -> chance under the library's distribution
    distribution_size: int
    seconds: float
    settings: dict = field(default_factory=dict)

    @property
    def lowest_chance(self) -> float:
        return min(self.maximin_chances.values())

    @property
    def highest_chance(self) -> float:
        return max(self.maximin_chances.values())


def check_feasibility(pool: list[dict], quotas: list[dict], seats: int) -> list[Shortfall]:
    """Plain checks that explain a shortfall in words before the solver is asked.

    ``pool``: [{"number": 1, "categories": {"district": "xuhui", ...}}]; ``quotas``: [{"category", "value",
    "min", "max"}].
    """
    out: list[Shortfall] = []
    if len(pool) < seats:
        out.append(Shortfall("pool_too_small", needed=seats, available=len(pool)))
    by_category: dict[str, list[dict]] = {}
    for q in quotas:
        by_category.setdefault(q["category"], []).append(q)
        if q["min"] > q["max"]:
            out.append(Shortfall("min_over_max", q["category"], q["value"], q["min"], q["max"]))
        available = sum(1 for p in pool if p["categories"].get(q["category"]) == q["value"])
        if available < q["min"]:
            out.append(Shortfall("value_short", q["category"], q["value"], q["min"], available))
    for category, qs in by_category.items():
        mins = sum(q["min"] for q in qs)
        if mins > seats:
            out.append(Shortfall("min_sum_over_seats", category, needed=mins, available=seats))
        # values without a quota may take any number, so the max sum only binds when every value present has one
        present = {p["categories"].get(category) for p in pool}
        if present <= {q["value"] for q in qs}:
            capacity = sum(min(q["max"], sum(1 for p in pool if p["categories"].get(category) == q["value"]))
                           for q in qs)
            if capacity < seats:
                out.append(Shortfall("max_sum_under_seats", category, needed=seats, available=capacity))
    return out


def build_features(pool: list[dict], quotas: list[dict], seats: int, categories: list[str]):
    """The library's FeatureCollection: every value seen in the pool, min 0 / max seats unless a quota says."""
    from sortition_algorithms.features import FeatureValueMinMax, set_default_max_flex

    features: dict[str, dict[str, Any]] = {}
    for category in categories:
        values = sorted({p["categories"][category] for p in pool} |
                        {q["value"] for q in quotas if q["category"] == category})
        features[category] = {v: FeatureValueMinMax(min=0, max=seats) for v in values}
    for q in quotas:
        features[q["category"]][q["value"]] = FeatureValueMinMax(min=q["min"], max=q["max"])
    set_default_max_flex(features)
    return features


def build_people(pool: list[dict], features):
    from sortition_algorithms.people import People

    people = People(columns_to_keep=[])
    for row, p in enumerate(pool, start=1):
        people.add(str(p["number"]), {c: p["categories"][c] for c in features}, features, row)
    return people


def _categories(pool: list[dict], quotas: list[dict]) -> list[str]:
    return sorted({q["category"] for q in quotas})


def compute(pool: list[dict], quotas: list[dict], seats: int, *, n_panels: int = N_PANELS,
            progress: Callable[[str, int, int | None], None] | None = None) -> LotteryResult:
    """Run the library in this process. Raises LotteryInfeasible when the quotas cannot be met."""
    shortfalls = check_feasibility(pool, quotas, seats)
    if shortfalls:
        raise LotteryInfeasible(shortfalls)
    from sortition_algorithms import errors
    from sortition_algorithms.committee_generation import find_distribution_maximin, standardize_distribution
    from sortition_algorithms.core import lottery_rounding
    from sortition_algorithms.utils import set_random_provider

    started = time.monotonic()
    categories = _categories(pool, quotas)
    if not categories:  # no quotas: one feature with a single value, so the library still does the work
        pool = [{**p, "categories": {**p["categories"], "all": "all"}} for p in pool]
        categories = ["all"]
    features = build_features(pool, quotas, seats, categories)
    people = build_people(pool, features)
    set_random_provider(0)  # 0 = the secrets module
    reporter = _Reporter(progress) if progress else None
    try:
        committees, probabilities, _report = find_distribution_maximin(
            features, people, seats, [], SOLVER_BACKEND, progress_reporter=reporter)
    except (errors.InfeasibleQuotasError, errors.InfeasibleQuotasCantRelaxError, errors.SelectionError) as exc:
        raise LotteryInfeasible([Shortfall("solver", detail=str(exc))]) from exc
    committees, probabilities = standardize_distribution(committees, probabilities)
    lottery = lottery_rounding(committees, probabilities, n_panels)
    if len(lottery) != n_panels:
        raise LotteryFailed(f"lottery_rounding returned {len(lottery)} panels, not {n_panels}")
    panels = [sorted(int(k) for k in c) for c in lottery]
    numbers = [p["number"] for p in pool]
    counts = dict.fromkeys(numbers, 0)
    for panel in panels:
        for n in panel:
            counts[n] += 1
    maximin = dict.fromkeys(numbers, 0.0)
    for committee, prob in zip(committees, probabilities):
        for k in committee:
            maximin[int(k)] += prob
    return LotteryResult(
        panels=panels,
        chances={n: counts[n] / n_panels for n in numbers},
        maximin_chances={n: round(v, 6) for n, v in maximin.items()},
        distribution_size=len(committees),
        seconds=round(time.monotonic() - started, 3),
        settings=settings_record(n_panels),
    )


class _Reporter:
    def __init__(self, callback):
        self.callback = callback
        self.phase = ""
        self.total = None

    def start_phase(self, name, total=None, *, message=None):
        self.phase, self.total = name, total
        self.callback(name, 0, total)

    def update(self, current, *, message=None):
        self.callback(self.phase, current, self.total)

    def end_phase(self):
        pass


def panel_satisfies(panel: list[int], pool_by_number: dict[int, dict], quotas: list[dict], seats: int) -> bool:
    """True when the panel has ``seats`` distinct members of the pool and meets every quota."""
    if len(set(panel)) != seats or any(n not in pool_by_number for n in panel):
        return False
    for q in quotas:
        count = sum(1 for n in panel if pool_by_number[n]["categories"].get(q["category"]) == q["value"])
        if not q["min"] <= count <= q["max"]:
            return False
    return True


# ---- running in a child process with a time limit -------------------------------------------------------


def end_with_parent(parent_pid: int) -> None:
    """Make this (child) process end when its parent dies, whatever the parent was doing: the kernel sends SIGKILL
    on Linux (prctl PR_SET_PDEATHSIG); a watcher thread checks the parent's pid as well (other systems, and a
    parent that died before the prctl)."""
    import ctypes
    import os
    import signal
    import threading

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass

    def watch():
        while True:
            if os.getppid() != parent_pid:
                os._exit(70)
            time.sleep(0.5)

    if os.getppid() != parent_pid:
        os._exit(70)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _silence_stdout() -> None:
    """HiGHS prints its banner and log from C straight to file descriptor 1, whatever its Python options say: the
    child's standard output goes nowhere (results and errors travel through the pipe to the parent)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _child(conn, pool, quotas, seats, n_panels, parent_pid=None, at_start=None):
    import logging

    if parent_pid is not None:
        end_with_parent(parent_pid)
    _silence_stdout()
    if at_start is not None:
        at_start()  # e.g. forget the database connections inherited from the parent (without closing them)

    import sortition_algorithms.utils  # noqa: F401 - sets up its loggers; quieten them below

    logging.getLogger("sortition_algorithms_user").setLevel(logging.WARNING)
    logging.getLogger("sortition_algorithms").setLevel(logging.WARNING)
    last = [0.0]

    def progress(phase, current, total):
        now = time.monotonic()
        if now - last[0] > 0.5:
            last[0] = now
            conn.send(("progress", phase, current, total))

    try:
        result = compute(pool, quotas, seats, n_panels=n_panels, progress=progress)
        conn.send(("ok", result))
    except LotteryInfeasible as exc:
        conn.send(("infeasible", exc.shortfalls))
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a failure
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def compute_with_time_limit(pool: list[dict], quotas: list[dict], seats: int, *, time_limit: float,
                            n_panels: int = N_PANELS,
                            progress: Callable[[str, int, int | None], None] | None = None,
                            at_start: Callable[[], None] | None = None) -> LotteryResult:
    """Run ``compute`` in a child process; kill it and raise LotteryTimeout after ``time_limit`` seconds.

    The child ends itself if this process dies (so it never outlives a killed scheduler, nor keeps its database
    sockets open); ``at_start`` runs first in the child."""
    shortfalls = check_feasibility(pool, quotas, seats)
    if shortfalls:
        raise LotteryInfeasible(shortfalls)
    ctx = multiprocessing.get_context("fork")
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    import os

    proc = ctx.Process(target=_child, args=(child_conn, pool, quotas, seats, n_panels, os.getpid(), at_start),
                       daemon=True)
    proc.start()
    child_conn.close()
    deadline = time.monotonic() + time_limit
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LotteryTimeout()
            if not parent_conn.poll(min(left, 1.0)):
                if not proc.is_alive() and not parent_conn.poll(0):
                    raise LotteryFailed(f"solver process ended with exit code {proc.exitcode}")
                continue
            try:
                message = parent_conn.recv()
            except EOFError:
                raise LotteryFailed(f"solver process ended with exit code {proc.exitcode}") from None
            kind = message[0]
            if kind == "progress":
                if progress:
                    progress(*message[1:])
                continue
            if kind == "ok":
                return message[1]
            if kind == "infeasible":
                raise LotteryInfeasible(message[1])
            raise LotteryFailed(message[1])
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        parent_conn.close()
