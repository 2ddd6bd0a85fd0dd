"""Bias and variance of the policy-gradient estimators, exactly, beside a Monte Carlo check.

For each estimator of the registry on a small garnet (finite horizon H = 8), prints the exact
bias ‖E ĝ − ∇J‖, the exact total variance tr Cov ĝ of one trajectory's estimate, and the
mean squared error of a batch of n measured over repeated batches, which must match
‖bias‖² + tr Cov / n (the check the test makes, with its own standard error).

Run:  python examples/estimator_variance.py
"""
import numpy as np

import tabular_pg as tpg
from mdps import garnet
from tabular_pg.sampled.registry import estimate

VARIANTS = {
    "REINFORCE, total return": dict(estimator="reinforce"),
    "REINFORCE, reward-to-go": dict(estimator="reinforce", reward_to_go=True),
    "reward-to-go + V baseline": dict(estimator="reinforce", reward_to_go=True, baseline="value"),
    "exact Q critic": dict(estimator="qvalue", critic="exact"),
    "exact A critic": dict(estimator="qvalue", critic="exact", advantage=True),
}


def main(n: int = 20, batches: int = 400) -> dict:
    base = garnet(S=6, A=3, branching=3, seed=3)
    mdp = tpg.FiniteMDP(base.P, base.R, base.mu, gamma=0.95, horizon=8)
    policy = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    theta = np.random.default_rng(0).normal(size=policy.n_params)
    g = tpg.policy_gradient(mdp, policy, theta)
    rng = np.random.default_rng(1)
    print(f"{'estimator':28s} {'|bias|':>9s} {'tr Cov':>10s} {'MSE(n) exact':>13s} {'MSE(n) sampled':>15s} {'z':>6s}")
    out = {}
    for name, options in VARIANTS.items():
        mean, cov = tpg.estimator_moments(mdp, policy, theta, **options)
        mse_exact = float(np.sum((mean - g) ** 2) + np.trace(cov) / n)
        errs = []
        for _ in range(batches):
            traj = tpg.rollout(mdp, policy.probs(theta), n=n, rng=rng)
            errs.append(np.sum((estimate(traj, policy, theta, mdp=mdp, **options) - g) ** 2))
        errs = np.asarray(errs)
        z = (errs.mean() - mse_exact) / (errs.std(ddof=1) / np.sqrt(batches))
        print(f"{name:28s} {np.linalg.norm(mean - g):9.1e} {np.trace(cov):10.4f} {mse_exact:13.5f} "
              f"{errs.mean():15.5f} {z:6.2f}")
        out[name] = {"bias": float(np.linalg.norm(mean - g)), "trace": float(np.trace(cov)), "z": float(z)}
    return out


if __name__ == "__main__":
    main()
