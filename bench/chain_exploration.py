"""Benchmark: "Policy Gradient (continued)"'s exploration chain, and the plateau of softmax PG on Agarwal's chain.

Run ``python bench/chain_exploration.py [--quick] [--figures DIR]``.  Prints

1. the probability that a batch of ``n`` uniform-policy trajectories gives a non-zero
   REINFORCE gradient, ``1 - (1 - 3^-H)^n``, beside the measured frequency: below
   ``~3^H`` trajectories the sampled gradient is exactly zero ("Policy Gradient (continued)");
2. for each algorithm, the iterations and trajectories needed to reach
   ``J >= 0.9 J*`` on ``chain(H)`` with the exact oracle and with sampled oracles, from
   (a) the uniform policy, (b) a policy cloned from a few expert trajectories (lecture
   "Policy Gradient (continued)", fix 1), (c) the uniform reset ``chain(H, reset="uniform")`` (fix 2; ``J`` is
   always measured on the start-state objective of ``chain(H)``);
3. exact softmax PG against NPG on ``agarwal_chain(H)``: the plateau of PG.

Policies are stationary tabular softmax (``Direct`` for CPI): the optimal policy of the
chain ("always advance") is stationary, and with the uniform reset a stationary policy
learns at the end of the chain what it then uses from ``s_0``.  A per-step policy cannot
(the pairs ``(h, s_h)`` that matter from ``s_0`` are reached only from ``s_0``); one row
shows it.  With the exact oracle the scale-free methods (NPG's trust region, PPO with
Adam, CPI's greedy step, CEM's ranking) escape at once, since the exact gradient is tiny
but not zero; plain PG does not.  Seeds and library versions are printed first.
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
from mdps import agarwal_chain, chain
from tabular_pg.algorithms import CEM, PPO, ConservativePolicyIteration, NaturalPolicyGradient, PolicyGradient, run
from tabular_pg.algorithms.oracles import ExactOracle, SampledOracle
from tabular_pg.sampled.rollout import rollout

SEED = 20261122
TARGET = 0.9                      # J* = 1 on the chain: reach J >= 0.9
N_EXPERT, PSEUDO_COUNT = 5, 1.0   # behavioural cloning: 5 expert trajectories, Laplace smoothing

ALGORITHMS = {
    "PG": (lambda: PolicyGradient(step=20.0), "softmax"),
    "NPG": (lambda: NaturalPolicyGradient(delta=0.5, damping=1e-2), "softmax"),
    "PPO": (lambda: PPO(clip=0.2, epochs=10, step=0.3, optimizer="adam"), "softmax"),
    "CPI": (lambda: ConservativePolicyIteration(0.5), "direct"),
    "CEM": (lambda: CEM(population=20, elite=5, std=1.0, noise=0.1), "softmax"),
}
CASES = ("uniform", "cloned", "reset")


def behavioural_cloning(mdp, n_expert: int, pseudo_count: float, rng) -> np.ndarray:
    """Maximum a posteriori :math:`\\pi(a|s) \\propto N(s,a) + c` from expert trajectories, ``(S, A)``.

    The expert is the exact optimum; the counts ``N(s, a)`` are over its sampled
    trajectories (a Dirichlet(c) prior, i.e. Laplace smoothing for ``c = 1``).
    """
    traj = rollout(mdp, tpg.optimum(mdp).pi, n_expert, rng)
    key = traj.states[traj.mask] * mdp.n_actions + traj.actions[traj.mask]
    counts = np.bincount(key, minlength=mdp.n_states * mdp.n_actions).reshape(mdp.n_states, mdp.n_actions)
    return (counts + pseudo_count) / (counts + pseudo_count).sum(axis=1, keepdims=True)


def start(kind: str, case: str, pi_cloned: np.ndarray, S: int, A: int, horizon=None):
    """The policy and its initial parameters for a start ``case``."""
    if kind == "direct":
        policy = tpg.Direct(S, A)
        return policy, (pi_cloned.reshape(-1) if case == "cloned" else policy.initial())
    policy = tpg.TabularSoftmax(S, A, horizon=horizon)
    if case != "cloned":
        return policy, policy.initial()
    logits = np.log(pi_cloned)
    return policy, np.broadcast_to(logits, policy.probs_shape).reshape(-1).copy()


def one_run(H: int, case: str, name: str, oracle_seed, budget: int, n: int, pi_cloned, horizon=None):
    """A History of algorithm ``name`` on ``chain(H)``; ``oracle_seed=None`` means the exact oracle."""
    make, kind = ALGORITHMS[name]
    test = chain(H)
    train = chain(H, reset="uniform") if case == "reset" else test
    policy, theta0 = start(kind, case, pi_cloned, test.n_states, test.n_actions, horizon)
    oracle = (ExactOracle(train) if oracle_seed is None else
              SampledOracle(train, n, rng=np.random.default_rng(oracle_seed), baseline="fitted"))
    seed = SEED if oracle_seed is None else oracle_seed + 1
    return run(make(), test, policy, theta0, oracle, budget, target=TARGET, rng=np.random.default_rng(seed))


def zero_gradient_table(Hs, n: int, queries: int) -> None:
    print(f"\n## 1. P(sampled REINFORCE gradient != 0) at the uniform policy, n = {n} trajectories per batch")
    print(f"{'H':>3} {'3^H':>12} {'1-(1-3^-H)^n':>14} {'measured':>10} {'batches':>8} "
          f"{'trajectories for P=1/2':>24}")
    rng = np.random.default_rng(SEED)
    for H in Hs:
        mdp = chain(H)
        policy = tpg.TabularSoftmax(mdp.n_states, 3)
        oracle = SampledOracle(mdp, n, rng=rng)
        nonzero = sum(bool(np.any(oracle.query(policy, policy.initial()).gradient != 0)) for _ in range(queries))
        p = -np.expm1(n * np.log1p(-3.0 ** -H))
        print(f"{H:>3} {3 ** H:>12} {p:>14.3e} {nonzero / queries:>10.3f} {queries:>8} "
              f"{np.log(2) / -np.log1p(-3.0 ** -H):>24.3e}")


def _cell(hists) -> str:
    """``iterations/trajectories`` (medians over the runs that reached the target) and k/m reached."""
    hit = [(h.first_reaching(TARGET), h.trajectories_to(TARGET)) for h in hists]
    ok = [x for x in hit if x[0] is not None]
    if not ok:
        return f"-- (J={np.median([h.J[-1] for h in hists]):.1e})"
    it, tr = np.median([x[0] for x in ok]), np.median([x[1] for x in ok])
    frac = "" if len(hists) == 1 else f" {len(ok)}/{len(hists)}"
    return f"{it:.0f}/{tr:.0f}{frac}"


def chain_table(Hs, n: int, budget: int, seeds: int, figures) -> dict:
    print(f"\n## 2. Iterations/trajectories to J >= {TARGET} J* on chain(H) "
          f"(budget {budget} iterations; sampled: n = {n} per query, REINFORCE reward-to-go, fitted baseline; "
          f"median over {seeds} oracle seeds that reached, k/{seeds} reached; '--' = never, median final J)")
    curves = {}
    for case in CASES:
        print(f"\n### ({'abc'[CASES.index(case)]}) start: {case}")
        print(f"{'H':>3} {'J(theta0)':>10} {'oracle':>8} " + " ".join(f"{a:>22}" for a in ALGORITHMS))
        for H in Hs:
            pi_cloned = behavioural_cloning(chain(H), N_EXPERT, PSEUDO_COUNT, np.random.default_rng(SEED))
            pol, th0 = start("softmax", case, pi_cloned, H + 1, 3)
            J0 = tpg.evaluate(chain(H), pol.probs(th0)).J
            for label, oracle_seeds in (("exact", [None]), ("sampled", list(range(SEED, SEED + seeds)))):
                cells = []
                for name in ALGORITHMS:
                    hists = [one_run(H, case, name, s, budget, n, pi_cloned) for s in oracle_seeds]
                    curves[(case, H, name, label)] = hists[0]
                    cells.append(_cell(hists))
                print(f"{H:>3} {J0:>10.2e} {label:>8} " + " ".join(f"{c:>22}" for c in cells), flush=True)
    return curves


def per_step_row(H: int, n: int, budget: int) -> None:
    print(f"\n### per-step softmax (horizon={H}) with the uniform reset: the reset does not reach (h, s_h)")
    pi = np.full((H + 1, 3), 1 / 3)
    for label, seed in (("exact", None), ("sampled", SEED)):
        h = one_run(H, "reset", "NPG", seed, budget, n, pi, horizon=H)
        print(f"  NPG {label:>8}: {_cell([h])}")


def agarwal_table(Hs, budget: int) -> None:
    print(f"\n## 3. Exact softmax PG vs NPG on agarwal_chain(H): J/J* after k iterations "
          f"(runs stop at {TARGET} J*: 'done' = reached before k; budget {budget})")
    print(f"{'H':>3} {'algorithm':>28} {'k=10':>7} {'k=100':>7} {'k=1000':>7} {'k=10000':>8} {'iters to 0.9J*':>15}")
    for H in Hs:
        mdp = agarwal_chain(H)
        policy = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions)
        J_star = tpg.optimum(mdp).J
        for label, alg in (("PG(step=1)", PolicyGradient(step=1.0)),
                           ("NPG(step=1-gamma)", NaturalPolicyGradient(step=1 - mdp.gamma)),
                           ("NPG(delta=0.1)", NaturalPolicyGradient(delta=0.1))):
            h = run(alg, mdp, policy, policy.initial(), ExactOracle(mdp), budget, target=TARGET * J_star)
            at = [f"{h.J[k] / J_star:.3f}" if k <= h.iterations else "done" for k in (10, 100, 1000, 10000)]
            reached = h.first_reaching(TARGET * J_star)
            print(f"{H:>3} {label:>28} " + " ".join(f"{x:>7}" for x in at[:3]) + f" {at[3]:>8} "
                  f"{'--' if reached is None else reached:>15}", flush=True)


def plot(curves: dict, H: int, figures: Path) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no figure)")
        return
    fig, axes = plt.subplots(1, len(CASES), figsize=(4 * len(CASES), 3.2), sharey=True)
    for ax, case in zip(axes, CASES):
        for name in ALGORITHMS:
            h = curves.get((case, H, name, "sampled"))
            if h is not None:
                ax.plot(np.maximum(h.trajectories, 1), h.J, label=name)
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1e-6)
        ax.set_title(f"chain(H={H}), start: {case}")
        ax.set_xlabel("trajectories")
    axes[0].set_ylabel("exact J (start state)")
    axes[0].legend(fontsize=7)
    figures.mkdir(parents=True, exist_ok=True)
    path = figures / f"chain_exploration_H{H}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"figure: {path}")


def main(argv=None) -> None:
    warnings.simplefilter("ignore", tpg.ConvergenceWarning)     # runs that miss the target are the data
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller grid (seconds)")
    ap.add_argument("--figures", type=Path, default=None, help="write a figure to this folder")
    args = ap.parse_args(argv)
    Hs = [5, 10, 15] if args.quick else [5, 8, 10, 12, 15, 20]
    n, budget, seeds = 100, 150, (1 if args.quick else 3)
    print(f"# tabular-pg chain exploration  seed={SEED}  python {platform.python_version()}  "
          f"numpy {np.__version__}  scipy {scipy.__version__}  tabular_pg {tpg.__version__}")
    print(f"# oracle seeds {SEED}..{SEED + seeds - 1} (algorithm rng = oracle seed + 1; exact runs use {SEED}); "
          f"behavioural cloning: {N_EXPERT} expert trajectories, pseudo-count {PSEUDO_COUNT}")
    t0 = time.perf_counter()
    zero_gradient_table(Hs, n, queries=200 if args.quick else 1000)
    curves = chain_table(Hs, n, budget, seeds, args.figures)
    per_step_row(10, n, budget)
    agarwal_table([4, 6, 8, 10] if args.quick else [4, 6, 8, 10, 12], 2000 if args.quick else 20000)
    if args.figures is not None:
        plot(curves, 10, args.figures)
    print(f"\n# total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
