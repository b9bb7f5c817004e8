"""The stratified lottery: the maximin distribution over quota-respecting panels, rounded to m published panels.

Pure functions over plain data (no Flask, no database), so the web app, the job runner and the benchmark share
them. The solver runs in a child process that the parent kills when the time limit passes.

How the panels are obtained (published with the result):
1. maximin.py finds the distribution over panels that maximises the lowest chance of anyone in the pool: the
   objective of Flanigan et al. (Nature 2021) that the sortition-algorithms library solves, computed over types
   of people with identical categories on HiGHS (the same optimum, in seconds rather than minutes; a test checks
   it against the library).
2. rounding.py turns it into m panels (m about 1,000, chosen so that rounding loses least; 2,000 or 4,000 when
   needed): the true chance of a person is (panels containing them) / m, and it is at least the optimum minus
   1/m for everyone, or the result says that it is not. Seats are then balanced inside panels (quotas kept) until
   nobody is more than one panel above or below m times their chance in the distribution, when moves allow it
   (the result says whether it holds); when that chance is k/n for everyone, m is a multiple of n/gcd(n, k).
The draw then picks one of the m panels by RFC 3797.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any, Callable

N_PANELS = 1000  # the base number of panels; the one used is in [1000, 1000 + 1/optimum), or near 2000, 4000
ALGORITHM = "maximin"
SOLVER_BACKEND = "highspy"
ROUNDING = ("compositions, dependent (pipage) rounding best of 12, integer programme, m 1000 -> 2000 -> 4000 "
            "(a multiple of n/gcd(n, k) when everyone's chance is k/n), seats balanced towards m * chance")


def library_version() -> str:
    """The solver library's version (HiGHS through highspy)."""
    return version("highspy")


def settings_record(n_panels: int = N_PANELS, method: str = "", within_bound: bool | None = None,
                    within_target: bool | None = None) -> dict:
    return {
        "solver": "canyu maximin over types (column generation)",
        "highspy_version": version("highspy"),
        "selection_algorithm": ALGORITHM,
        "solver_backend": SOLVER_BACKEND,
        "check_same_address": False,
        "number_of_panels": n_panels,
        "rounding": ROUNDING,
        "rounding_used": method,
        "lowest_at_least_optimum_minus_1_over_m": within_bound,
        "every_true_chance_within_1_over_m_of_its_maximin_chance": within_target,
    }


@dataclass
class Shortfall:
    """One reason the quotas cannot be met; ``kind`` names which check failed."""

    kind: str  # "value_short" | "min_sum_over_seats" | "max_sum_under_seats" | "min_over_max" | "conflict" | ...
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
    panels: list[list[int]]  # m panels, each the sorted pool numbers
    chances: dict[int, float]  # pool number -> panels containing it / m: the true chance in the draw
    maximin_chances: dict[int, float]  # pool number -> chance in the optimal distribution, before rounding
    distribution_size: int
    seconds: float
    settings: dict = field(default_factory=dict)
    within_bound: bool = True  # every true chance >= optimum - 1/m

    @property
    def n_panels(self) -> int:
        return len(self.panels)

    @property
    def lowest_chance(self) -> float:
        """The lowest true chance (after rounding to the published panels)."""
        return min(self.chances.values())

    @property
    def highest_chance(self) -> float:
        return max(self.chances.values())

    @property
    def optimum_chance(self) -> float:
        """The lowest chance in the solver's optimal distribution, before rounding."""
        return min(self.maximin_chances.values())


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


def explain_no_panel(pool: list[dict], quotas: list[dict], seats: int) -> list[Shortfall]:
    """Every quota can be met on its own, but not all together: name the quotas that block, with how many people
    in the pool have each value."""
    from app.hearings import maximin

    def count(q):
        return sum(1 for p in pool if p["categories"].get(q["category"]) == q["value"])

    blocking = maximin.blocking_quotas(pool, quotas, seats)
    return [Shortfall("conflict", q["category"], q["value"], q["min"], count(q), detail=str(q["max"]))
            for q in blocking] or [Shortfall("conflict_all")]


def _categories(pool: list[dict], quotas: list[dict]) -> list[str]:
    return sorted({q["category"] for q in quotas})


def compute(pool: list[dict], quotas: list[dict], seats: int, *, n_panels: int = N_PANELS,
            progress: Callable[[str, int, int | None], None] | None = None,
            deadline: float | None = None) -> LotteryResult:
    """Run the lottery computation in this process. Raises LotteryInfeasible when the quotas cannot be met."""
    from app.hearings import maximin, rounding

    shortfalls = check_feasibility(pool, quotas, seats)
    if shortfalls:
        raise LotteryInfeasible(shortfalls)
    started = time.monotonic()
    try:
        dist = maximin.solve(pool, quotas, seats, _categories(pool, quotas), progress=progress)
    except maximin.NoPanel:
        raise LotteryInfeasible(explain_no_panel(pool, quotas, seats)) from None
    if progress:
        progress("rounding", 0, None)
    bases = (n_panels, 2 * n_panels, 4 * n_panels)  # 1000 -> 2000 -> 4000 by default
    rounded = rounding.round_to_panels(dist, panel_counts=bases, deadline=deadline, quotas=quotas)
    m = rounded.m
    type_chances = dist.type_chances()
    maximin_chances = {}
    for t, members in enumerate(dist.types.members):
        for n in members:
            # rounded down, so that the published optimum never overstates the solver's
            maximin_chances[n] = math.floor(float(type_chances[t]) * 1e9) / 1e9
    numbers = [p["number"] for p in pool]
    return LotteryResult(
        panels=rounded.panels,
        chances={n: rounded.counts.get(n, 0) / m for n in numbers},
        maximin_chances={n: maximin_chances.get(n, 0.0) for n in numbers},
        distribution_size=int((dist.probabilities > 0).sum()),
        seconds=round(time.monotonic() - started, 3),
        settings=settings_record(m, rounded.method, rounded.within_bound, rounded.within_target),
        within_bound=rounded.within_bound,
    )


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
