"""The maximin distribution over quota-respecting panels, computed over *types* of people (HiGHS, column
generation). Pure functions over plain data.

People with the same values in every quota category are interchangeable for the quotas, so by symmetry there is a
maximin distribution that gives all of them the same chance (average any optimal distribution over the permutations
inside each type). The problem then only needs how many people of each type a panel holds: a "composition" x with
0 <= x_t <= n_t, sum x_t = seats, each quota's min <= sum of x_t over the types with that value <= max.

    maximise   lambda
    subject to sum_j p_j x_jt / n_t >= lambda   for every type t that some panel can contain
               sum_j p_j = 1, p >= 0

A second phase keeps everyone at or above that optimum and brings the highest chance down (min-max, with its own
column generation; bounded to 40 rounds or 5 seconds).

The optimum is the same as that of the per-person maximin of Flanigan et al. (Nature 2021) that the
sortition-algorithms library solves, with far fewer columns and constraints, so it takes a second instead of
minutes. Columns are generated with the dual: the composition maximising sum_t y_t x_t / n_t (a small integer
programme) enters while its value exceeds the dual bound.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

EPS = 1e-9
GAP = 1e-7


class NoPanel(Exception):
    """No panel meets the quotas (the caller's plain checks should have said why)."""


@dataclass
class Types:
    keys: list[tuple]  # the category values of each type, in the order of ``categories``
    counts: np.ndarray  # n_t
    members: list[list[int]]  # pool numbers of each type
    categories: list[str]


def group_types(pool: list[dict], categories: list[str]) -> Types:
    by_key: dict[tuple, list[int]] = {}
    for p in pool:
        key = tuple(p["categories"].get(c, "") for c in categories)
        by_key.setdefault(key, []).append(p["number"])
    keys = sorted(by_key)
    return Types(keys, np.array([len(by_key[k]) for k in keys], dtype=float), [sorted(by_key[k]) for k in keys],
                 list(categories))


_SCHEDULER_PID = 0  # the process in which HiGHS's global thread scheduler was last reset (see _highs)


def _highs():
    """A quiet, single-threaded HiGHS instance. HiGHS keeps one thread scheduler per process, sized by the first
    run: once another user (the sortition-algorithms library, default threads) has sized it differently, or in a
    forked child whose threads did not survive the fork, every threads=1 run is refused without solving (status
    "not set"), which looked like quotas no panel can meet. So the scheduler is reset once in each process."""
    global _SCHEDULER_PID
    import os

    import highspy

    if _SCHEDULER_PID != os.getpid():
        highspy.Highs.resetGlobalScheduler(True)
        _SCHEDULER_PID = os.getpid()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    return h


class Pricer:
    """The integer programme that finds a quota-respecting composition with the largest weight."""

    def __init__(self, types: Types, quotas: list[dict], seats: int):
        import highspy

        self.h = h = _highs()
        t_count = len(types.keys)
        upper = np.minimum(types.counts, seats)
        h.addCols(t_count, np.zeros(t_count), np.zeros(t_count), upper, 0, np.array([], dtype=np.int32),
                  np.array([], dtype=np.int32), np.array([]))
        h.changeColsIntegrality(t_count, np.arange(t_count, dtype=np.int32),
                                np.array([highspy.HighsVarType.kInteger] * t_count))
        self._row(range(t_count), seats, seats)
        for q in quotas:
            ci = types.categories.index(q["category"])
            idx = [t for t, key in enumerate(types.keys) if key[ci] == q["value"]]
            self._row(idx, q["min"], q["max"])
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        h.setOptionValue("mip_rel_gap", 1e-9)
        self.t_count = t_count

    def _row(self, idx, lo, hi) -> None:
        idx = np.array(list(idx), dtype=np.int32)
        self.h.addRow(float(lo), float(hi), len(idx), idx, np.ones(len(idx)))

    def best(self, weights: np.ndarray) -> np.ndarray | None:
        import highspy

        self.h.changeColsCost(self.t_count, np.arange(self.t_count, dtype=np.int32), weights.astype(float))
        self.h.run()
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.rint(np.array(self.h.getSolution().col_value)).astype(int)


def feasible(pool: list[dict], quotas: list[dict], seats: int, categories: list[str]) -> bool:
    """Whether any panel meets the quotas."""
    types = group_types(pool, categories)
    return Pricer(types, quotas, seats).best(np.zeros(len(types.keys))) is not None


def blocking_quotas(pool: list[dict], quotas: list[dict], seats: int) -> list[dict]:
    """The quotas each of which, relaxed alone (dropped), would let a panel meet the rest."""
    out = []
    for i, q in enumerate(quotas):
        rest = quotas[:i] + quotas[i + 1:]
        if feasible(pool, rest, seats, sorted({r["category"] for r in rest})):
            out.append(q)
    return out


@dataclass
class Distribution:
    compositions: np.ndarray  # J x T, how many of each type each panel composition holds
    probabilities: np.ndarray  # J
    types: Types
    optimum: float  # the lowest chance of anyone who can be on a panel
    covered: np.ndarray  # bool per type: some panel can hold this type
    seconds: float
    iterations: int

    def type_chances(self) -> np.ndarray:
        return (self.probabilities @ self.compositions) / self.types.counts


def solve(pool: list[dict], quotas: list[dict], seats: int, categories: list[str], *,
          deadline: float | None = None, progress=None) -> Distribution:
    """Maximin over compositions. Raises NoPanel when no composition meets the quotas."""
    started = time.monotonic()
    types = group_types(pool, categories)
    pricer = Pricer(types, quotas, seats)
    t_count = len(types.keys)
    columns: dict[tuple, np.ndarray] = {}

    def add(x):
        if x is not None:
            columns.setdefault(tuple(int(v) for v in x), x)

    rng = np.random.default_rng()
    first = pricer.best(rng.uniform(0.99, 1.0, t_count))
    if first is None:
        raise NoPanel()
    add(first)
    # A varied start: a few random weights, then columns favouring the types no column holds yet, until each
    # type is in some column or shown to fit in no panel.
    for _ in range(min(10, t_count)):
        add(pricer.best(rng.uniform(0.0, 1.0, t_count) / types.counts))
    covered = np.zeros(t_count, dtype=bool)
    for x in columns.values():
        covered |= x > 0
    while not covered.all():
        x = pricer.best(np.where(covered, 0.0, 1.0) + rng.uniform(0.0, 1e-3, t_count))
        if x is None or not (x[~covered] > 0).any():
            break
        add(x)
        covered |= x > 0
    for t in np.flatnonzero(~covered):
        w = np.zeros(t_count)
        w[t] = 1.0
        x = pricer.best(w)
        if x is not None and x[t] > 0:
            add(x)
            covered |= x > 0
    # Column generation on the dual: min z s.t. sum_t y_t x_jt / n_t <= z for every column, sum y = 1, y >= 0
    # (y only on covered types: a type no panel can hold gets chance 0 and does not bound the others).
    cov = np.flatnonzero(covered)
    dual = _highs()
    import highspy

    nc = len(cov)
    dual.addCols(nc + 1, np.r_[np.zeros(nc), 1.0], np.zeros(nc + 1), np.r_[np.ones(nc), highspy.kHighsInf], 0,
                 np.array([], dtype=np.int32), np.array([], dtype=np.int32), np.array([]))
    dual.addRow(1.0, 1.0, nc, np.arange(nc, dtype=np.int32), np.ones(nc))

    def dual_row(x):
        coeffs = x[cov] / types.counts[cov]
        nz = np.flatnonzero(coeffs)
        dual.addRow(-highspy.kHighsInf, 0.0, len(nz) + 1, np.r_[nz, nc].astype(np.int32), np.r_[coeffs[nz], -1.0])

    for x in columns.values():
        dual_row(x)
    iterations = 0
    while True:
        iterations += 1
        dual.run()
        sol = np.array(dual.getSolution().col_value)
        y, z = sol[:nc], sol[nc]
        weights = np.zeros(t_count)
        weights[cov] = y / types.counts[cov]
        x = pricer.best(weights)
        value = float(weights @ x)
        if progress:
            progress("maximin", iterations, None)
        if value <= z + GAP or tuple(int(v) for v in x) in columns:
            break
        add(x)
        dual_row(x)
        if deadline is not None and time.monotonic() > deadline:
            break
    compositions = np.array(list(columns.values()))
    probabilities, optimum = _primal(compositions, types.counts, cov)
    compositions, probabilities = _lower_the_highest(pricer, compositions, probabilities, optimum, types.counts, cov,
                                                     columns, deadline)
    return Distribution(compositions, probabilities, types, optimum, covered, time.monotonic() - started,
                        iterations)


def _primal(compositions: np.ndarray, counts: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, float]:
    """max lambda s.t. sum_j p_j x_jt / n_t >= lambda (covered t), sum p = 1, p >= 0; then, keeping that lowest
    chance, the highest chance as low as these compositions allow (maximin alone leaves it arbitrary)."""
    import highspy

    j_count = len(compositions)
    inf = highspy.kHighsInf
    empty = (0, np.array([], dtype=np.int32), np.array([], dtype=np.int32), np.array([]))

    def model(sense, lower_bound):
        h = _highs()
        h.addCols(j_count + 1, np.r_[np.zeros(j_count), 1.0], np.zeros(j_count + 1), np.r_[np.ones(j_count), 1.0],
                  *empty)
        h.changeObjectiveSense(sense)
        h.addRow(1.0, 1.0, j_count, np.arange(j_count, dtype=np.int32), np.ones(j_count))
        for t in cov:
            coeffs = compositions[:, t] / counts[t]
            nz = np.flatnonzero(coeffs)
            idx = np.r_[nz, j_count].astype(np.int32)
            if lower_bound is None:  # chance_t - lambda >= 0
                h.addRow(0.0, inf, len(idx), idx, np.r_[coeffs[nz], -1.0])
            else:  # chance_t >= lower_bound and chance_t - mu <= 0
                h.addRow(lower_bound, inf, len(nz), nz.astype(np.int32), coeffs[nz])
                h.addRow(-inf, 0.0, len(idx), idx, np.r_[coeffs[nz], -1.0])
        h.run()
        return h

    def result(h):
        p = np.maximum(np.array(h.getSolution().col_value)[:j_count], 0.0)
        return p / p.sum()

    p = result(model(highspy.ObjSense.kMaximize, None))
    optimum = float(((p @ compositions) / counts)[cov].min())
    h = model(highspy.ObjSense.kMinimize, optimum * (1 - 1e-9))
    if h.getModelStatus() == highspy.HighsModelStatus.kOptimal:
        balanced = result(h)
        if float(((balanced @ compositions) / counts)[cov].min()) >= optimum * (1 - 1e-7):
            p = balanced
    chances = (p @ compositions) / counts
    return p, float(chances[cov].min())


def _lower_the_highest(pricer: Pricer, compositions: np.ndarray, p: np.ndarray, optimum: float, counts: np.ndarray,
                       cov: np.ndarray, columns: dict, deadline: float | None, rounds: int = 40,
                       seconds: float = 5.0):
    """Keep everyone at or above the optimum and bring the highest chance down, generating columns for that too:
    min mu s.t. optimum <= chance_t <= mu. A composition x helps when sum_t (yL_t + yU_t) x_t / n_t > -yS, with y
    the row duals (HiGHS: reduced cost = c - A'y)."""
    import highspy

    inf = highspy.kHighsInf
    empty = (0, np.array([], dtype=np.int32), np.array([], dtype=np.int32), np.array([]))
    floor = optimum * (1 - 1e-9)
    best_p, best_comps, best_mu = p, compositions, float(((p @ compositions) / counts)[cov].max())
    stop = time.monotonic() + seconds
    for _ in range(rounds):
        j_count = len(compositions)
        h = _highs()
        h.addCols(j_count + 1, np.r_[np.zeros(j_count), 1.0], np.zeros(j_count + 1), np.r_[np.ones(j_count), 1.0],
                  *empty)
        h.addRow(1.0, 1.0, j_count, np.arange(j_count, dtype=np.int32), np.ones(j_count))
        for t in cov:
            coeffs = compositions[:, t] / counts[t]
            nz = np.flatnonzero(coeffs)
            h.addRow(floor, inf, len(nz), nz.astype(np.int32), coeffs[nz])
            idx = np.r_[nz, j_count].astype(np.int32)
            h.addRow(-inf, 0.0, len(idx), idx, np.r_[coeffs[nz], -1.0])
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            break
        sol = h.getSolution()
        q = np.maximum(np.array(sol.col_value)[:j_count], 0.0)
        q /= q.sum()
        chances = (q @ compositions) / counts
        if chances[cov].min() >= optimum * (1 - 1e-7) and chances[cov].max() < best_mu - 1e-12:
            best_p, best_comps, best_mu = q, compositions, float(chances[cov].max())
        duals = np.array(sol.row_dual)
        y_sum, y_rows = duals[0], duals[1:].reshape(-1, 2)
        weights = np.zeros(len(counts))
        weights[cov] = (y_rows[:, 0] + y_rows[:, 1]) / counts[cov]
        x = pricer.best(weights)
        if x is None or float(weights @ x) <= -y_sum + 1e-9 or tuple(int(v) for v in x) in columns:
            break
        columns[tuple(int(v) for v in x)] = x
        compositions = np.vstack([compositions, x])
        if time.monotonic() > stop or (deadline is not None and time.monotonic() > deadline):
            break
    return best_comps, best_p
