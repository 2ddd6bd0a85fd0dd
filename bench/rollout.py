"""Benchmark: rollout throughput by row sampler, beside a plain Python loop (issue 18).

Run ``python bench/rollout.py [--quick]``.  Prints, for a dense 64-state garnet (4 actions,
every successor possible: rows of 64 entries) and a sparse garnet S = 10^4 (rows of 5),
``n = 10^4`` trajectories of ``T = 100`` steps, the steps/s of

* a tuned plain Python step loop (``bisect`` on list rows; from ``bench/estimators.py``),
* :func:`tabular_pg.rollout` with each ``method``: ``"inverse_cdf"`` (padded table for rows
  of <= 16 entries, else ``searchsorted``: the sampler before the alias tables),
  ``"alias"`` (alias tables for actions and successors), ``"joint"`` (one alias draw of
  ``(a, s')`` per step) and ``"auto"`` (the default),

and the ratios to the loop and to ``"inverse_cdf"``, measured in the same run (best of 5,
the loop and the methods interleaved, so that a busy machine slows all alike).  Then the cost of the tables
(successors: once per MDP; actions or joint: once per policy), the draw cost of the table
and alias row samplers by row width (how :data:`~tabular_pg.sampled.samplers.NARROW_ROWS`
was chosen), and the cost of wrapping a batch in :class:`~tabular_pg.Trajectories` with and
without validation.
"""
from __future__ import annotations

import argparse
import sys
import time
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from estimators import python_loop_steps, python_tables  # noqa: E402

import tabular_pg as tpg  # noqa: E402
from mdps import garnet  # noqa: E402
from tabular_pg.sampled import samplers  # noqa: E402
from tabular_pg.sampled.rollout import Trajectories, rollout  # noqa: E402

SEED = 20261202
METHODS = ("inverse_cdf", "alias", "joint", "auto")


def best(f, repeat: int) -> float:
    """Best wall time of ``repeat`` calls of ``f`` (seconds)."""
    return min(timeit.repeat(f, number=1, repeat=repeat))


def throughput(quick: bool) -> None:
    n, T, reps = (2_000, 100, 3) if quick else (10_000, 100, 5)
    print(f"\n## Rollout steps/s (n = {n:,} trajectories, T = {T}; best of {reps}, methods interleaved)\n")
    print(f"{'MDP':28s} {'Python loop':>12s} " + " ".join(f"{m:>12s}" for m in METHODS)
          + f" {'auto/loop':>10s} {'auto/inverse_cdf':>17s}")
    cases = [("dense garnet S=64 A=4 b=64", garnet(64, 4, 64, seed=0, gamma=0.99)),
             ("sparse garnet S=10^4 A=4 b=5", garnet(10_000, 4, 5, seed=1, gamma=0.99, sparse=True))]
    rng = np.random.default_rng(SEED)
    for name, mdp in cases:
        pi = tpg.policies.softmax(rng.normal(size=(mdp.n_states, mdp.n_actions)))
        tables, loop_n = python_tables(mdp, pi), 200 if quick else 1000
        times = {m: [] for m in ("loop", *METHODS)}
        for _ in range(reps):
            t0 = time.perf_counter()
            python_loop_steps(tables, mdp.n_actions, loop_n, T, np.random.default_rng(SEED))
            times["loop"].append((time.perf_counter() - t0) * n / loop_n)        # scaled to n trajectories
            for m in METHODS:
                times[m].append(best(lambda mdp=mdp, pi=pi, m=m: rollout(mdp, pi, n, np.random.default_rng(SEED),
                                                                         horizon=T, method=m), 1))
        rate = {m: n * T / min(ts) for m, ts in times.items()}
        loop = rate["loop"]
        print(f"{name:28s} {loop:12.3e} " + " ".join(f"{rate[m]:12.3e}" for m in METHODS)
              + f" {rate['auto'] / loop:9.0f}x {rate['auto'] / rate['inverse_cdf']:16.1f}x")


def table_costs(quick: bool) -> None:
    print("\n## Table builds (ms): successors once per MDP, actions / joint (a, s') once per policy\n")
    print(f"{'MDP':28s} {'succ inverse_cdf':>17s} {'succ alias':>11s} {'pi table':>9s} {'pi alias':>9s} "
          f"{'joint':>9s}")
    rng = np.random.default_rng(SEED)
    for name, mdp in [("dense garnet S=64 A=4 b=64", garnet(64, 4, 64, seed=0, gamma=0.99)),
                      ("dense garnet S=500 A=4 b=500", garnet(500, 4, 500, seed=2, gamma=0.99)),
                      ("sparse garnet S=10^4 A=4 b=5", garnet(10_000, 4, 5, seed=1, gamma=0.99, sparse=True)),
                      ][:2 if quick else 3]:
        pi = tpg.policies.softmax(rng.normal(size=(mdp.n_states, mdp.n_actions)))
        P = samplers.transitions(mdp).P
        succ = {m: best(lambda P=P, m=m: samplers.row_sampler(P.data, P.indptr.astype(np.intp), m), 3)
                for m in ("inverse_cdf", "alias")}
        flat, starts = pi.reshape(-1), np.arange(0, pi.size + 1, mdp.n_actions)
        rows = {m: best(lambda flat=flat, starts=starts, m=m: samplers.row_sampler(flat, starts, m), 3)
                for m in ("inverse_cdf", "alias")}
        joint = best(lambda mdp=mdp, pi=pi: samplers.sampler(mdp, pi, "joint"), 3)          # successor tables cached
        print(f"{name:28s} {1e3 * succ['inverse_cdf']:17.1f} {1e3 * succ['alias']:11.1f} "
              f"{1e3 * rows['inverse_cdf']:9.2f} {1e3 * rows['alias']:9.2f} {1e3 * joint:9.1f}")


def draw_costs() -> None:
    print("\n## One draw from each of 10^4 rows (us) by row width: padded table vs alias\n")
    print(f"{'width':>6s} {'table':>8s} {'alias':>8s}")
    rng = np.random.default_rng(SEED)
    m = 10_000
    for w in (2, 3, 4, 6, 8, 12, 16):
        weights = rng.random(1000 * w)
        starts = np.arange(0, weights.size + 1, w)
        rows, u = rng.integers(0, 1000, m), rng.random(m)
        cost = {}
        for method in ("table", "alias"):
            table = samplers.row_sampler(weights, starts, method)
            cost[method] = min(timeit.repeat(lambda table=table, rows=rows, u=u: table.draw(rows, u), number=50,
                                             repeat=5)) / 50
        print(f"{w:6d} {1e6 * cost['table']:8.1f} {1e6 * cost['alias']:8.1f}")


def container_cost() -> None:
    print("\n## Wrapping a batch (n = 10^4, T = 100) in Trajectories (ms)\n")
    mdp = garnet(64, 4, 64, seed=0, gamma=0.99)
    pi = np.full((64, 4), 0.25)
    traj = rollout(mdp, pi, 10_000, np.random.default_rng(SEED), horizon=100)
    arrays = [np.array(a) for a in (traj.states, traj.actions, traj.rewards, traj.mask)]
    checked = best(lambda: Trajectories(*arrays, mdp.gamma, None), 5)
    trusted = best(lambda: Trajectories.sampled(*(a.copy() for a in arrays), mdp.gamma, None), 5)
    copies = best(lambda: [a.copy() for a in arrays], 5)
    print(f"validated constructor {1e3 * checked:.2f}; Trajectories.sampled {1e3 * max(trusted - copies, 0.0):.2f} "
          f"(after subtracting the {1e3 * copies:.2f} ms of copying its input)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trajectories and repeats")
    args = parser.parse_args(argv)
    print(f"# bench/rollout.py  numpy {np.__version__}, python {sys.version.split()[0]}, seed {SEED}")
    throughput(args.quick)
    table_costs(args.quick)
    draw_costs()
    container_cost()


if __name__ == "__main__":
    main()
