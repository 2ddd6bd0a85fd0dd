"""Benchmark: every algorithm against the exact optimum, with the exact and with sampled oracles.

Run ``python bench/algorithms.py [--quick]``.  On a Garnet MDP and on Sutton & Barto's 5x5
grid (both ``gamma = 0.9``) it prints, per algorithm,

1. exact oracle: iterations to close 99.9% of the gap ``J* - J(theta0)`` (``J*`` from
   :func:`tabular_pg.optimum`), the remaining relative gap, and the wall time per iteration;
   for CPI with the Kakade-Langford step, the smallest margin ``realised gain - bound``
   over the run (it must be >= 0);
2. sampled oracle (``n`` trajectories per query): the relative gap after a fixed number of
   iterations and the trajectories that cost, median and range over seeds.

Seeds and library versions are printed first.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tabular_pg as tpg
from mdps import garnet, sutton_barto_grid
from tabular_pg.algorithms import (
    CEM,
    PPO,
    ConservativePolicyIteration,
    NaturalPolicyGradient,
    PolicyGradient,
    bound_step,
    greedy_policy,
    improvement_bound,
    policy_advantage,
    run,
)
from tabular_pg.algorithms.oracles import ExactOracle, SampledOracle

SEED = 20261122
ALGORITHMS = [
    ("PG step 1", lambda: PolicyGradient(step=1.0), "softmax"),
    ("NPG step 0.1", lambda: NaturalPolicyGradient(step=0.1, damping=1e-3), "softmax"),
    ("NPG delta 0.05", lambda: NaturalPolicyGradient(delta=0.05, damping=1e-3), "softmax"),
    ("projected PG (direct)", lambda: PolicyGradient(step=0.02), "direct"),
    ("CPI bound", lambda: ConservativePolicyIteration("bound"), "direct"),
    ("CPI line search", lambda: ConservativePolicyIteration("line_search"), "direct"),
    ("PPO sgd", lambda: PPO(clip=0.2, epochs=10, step=1.0), "softmax"),
    ("PPO adam mb", lambda: PPO(clip=0.2, epochs=5, step=0.05, minibatch=64, optimizer="adam"), "softmax"),
    ("CEM", lambda: CEM(population=30, elite=6, noise=0.1), "softmax"),
]


def _policy(kind: str, mdp):
    S, A = mdp.n_states, mdp.n_actions
    return tpg.TabularSoftmax(S, A) if kind == "softmax" else tpg.Direct(S, A)


def cpi_bound_margin(mdp, hist) -> float:
    """min over iterations of J(pi_{t+1}) - J(pi_t) - bound_t (Kakade & Langford 2002, Thm 4.1)."""
    policy, oracle = tpg.Direct(mdp.n_states, mdp.n_actions), ExactOracle(mdp)
    margins = []
    for t in range(hist.iterations):
        answers = oracle.query(policy, hist.theta[t])
        adv, eps = policy_advantage(answers, greedy_policy(answers))
        bound = improvement_bound(bound_step(adv, eps, mdp.gamma), adv, eps, mdp.gamma)
        margins.append(hist.J[t + 1] - hist.J[t] - bound)
    return min(margins) if margins else float("nan")


def exact_table(name: str, mdp, budget: int) -> None:
    J_star = tpg.optimum(mdp).J
    print(f"\n## {name}: exact oracle (J* = {J_star:.6g}; target: 99.9% of the gap closed; budget {budget})")
    print(f"{'algorithm':>22} {'iterations':>10} {'rel. gap':>10} {'ms/iter':>8} {'CPI bound margin':>17}")
    for label, make, kind in ALGORITHMS:
        policy = _policy(kind, mdp)
        J0 = tpg.evaluate(mdp, policy.probs(policy.initial())).J
        hist = run(make(), mdp, policy, policy.initial(), ExactOracle(mdp), budget,
                   target=J_star - 1e-3 * (J_star - J0), rng=np.random.default_rng(SEED))
        reached = hist.first_reaching(J_star - 1e-3 * (J_star - J0))
        per_iter = 1e3 * hist.wall_time[-1] / max(hist.iterations, 1)
        margin = f"{cpi_bound_margin(mdp, hist):.2e}" if label == "CPI bound" else ""
        print(f"{label:>22} {'--' if reached is None else reached:>10} "
              f"{(J_star - hist.J[-1]) / (J_star - J0):>10.2e} {per_iter:>8.2f} {margin:>17}", flush=True)


def sampled_table(name: str, mdp, n: int, iterations: int, seeds: int) -> None:
    J_star = tpg.optimum(mdp).J
    print(f"\n## {name}: sampled oracle (n = {n} per query, REINFORCE reward-to-go, fitted baseline; "
          f"{iterations} iterations; median [min, max] over {seeds} seeds)")
    print(f"{'algorithm':>22} {'rel. gap':>30} {'trajectories':>14}")
    for label, make, kind in ALGORITHMS:
        policy = _policy(kind, mdp)
        J0 = tpg.evaluate(mdp, policy.probs(policy.initial())).J
        gaps, trajs = [], []
        for seed in range(SEED, SEED + seeds):
            oracle = SampledOracle(mdp, n, rng=np.random.default_rng(seed), baseline="fitted")
            hist = run(make(), mdp, policy, policy.initial(), oracle, iterations, rng=np.random.default_rng(seed + 1))
            gaps.append((J_star - hist.J[-1]) / (J_star - J0))
            trajs.append(hist.trajectories[-1])
        print(f"{label:>22} {np.median(gaps):>10.3f} [{min(gaps):>7.3f}, {max(gaps):>7.3f}] "
              f"{int(np.median(trajs)):>14}", flush=True)


def main(argv=None) -> None:
    warnings.simplefilter("ignore", tpg.ConvergenceWarning)     # runs that miss the target are the data
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer seeds and iterations")
    args = ap.parse_args(argv)
    print(f"# tabular-pg algorithms  seed={SEED}  python {platform.python_version()}  numpy {np.__version__}  "
          f"scipy {scipy.__version__}  tabular_pg {tpg.__version__}")
    t0 = time.perf_counter()
    mdps = [("garnet(20, 4, 3, seed=0, gamma=0.9)", garnet(20, 4, 3, seed=0, gamma=0.9)),
            ("sutton_barto_grid(gamma=0.9)", sutton_barto_grid(gamma=0.9))]
    for name, mdp in mdps:
        exact_table(name, mdp, 300 if args.quick else 3000)
        sampled_table(name, mdp, 20 if args.quick else 50, 30 if args.quick else 100, 2 if args.quick else 3)
    print(f"\n# total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
