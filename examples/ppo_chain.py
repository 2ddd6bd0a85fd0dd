"""PPO on the exploration chain: the exact oracle beside the sampled one, and the two fixes.

On the chain of "Policy Gradient (continued)" (H states; action 0 advances, the others reset;
reward 1 at the end) the uniform policy reaches the reward with probability 3^-H, so a batch
of sampled trajectories almost never carries a non-zero return and sampled PPO cannot start.
The lecture's fix 2 starts every episode uniformly along the chain; then sampled PPO learns.
Every curve is the exact J of each iterate (History.J), whatever the oracle.

Run:  python examples/ppo_chain.py
"""
import warnings

import numpy as np

import tabular_pg as tpg
from mdps import chain


def train(mdp, oracle, iterations: int, seed: int) -> tpg.History:
    policy = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    return tpg.run(tpg.PPO(), mdp, policy, policy.initial(), oracle, iterations=iterations,
                   rng=np.random.default_rng(10_000 + seed))


def main(H: int = 8, n: int = 50, iterations: int = 40, seeds: int = 5) -> dict:
    hard, reset = chain(H), chain(H, reset="uniform")
    p_reward = 3.0 ** -H
    print(f"chain H = {H}: the uniform policy sees the reward w.p. 3^-H = {p_reward:.2e}; a batch of {n} "
          f"has no rewarded trajectory w.p. {(1 - p_reward) ** n:.3f}, {iterations} batches w.p. "
          f"{(1 - p_reward) ** (n * iterations):.2f}")
    configs = {
        "exact oracle, start s0": lambda seed: (hard, tpg.ExactOracle(hard)),
        "sampled oracle, start s0": lambda seed: (hard, tpg.SampledOracle(hard, n=n, rng=np.random.default_rng(seed))),
        "sampled oracle, uniform reset": lambda seed: (reset, tpg.SampledOracle(reset, n=n,
                                                                               rng=np.random.default_rng(seed))),
    }
    out = {}
    with warnings.catch_warnings():   # a batch without reward is a no-op update, and says so: silenced here
        warnings.simplefilter("ignore", tpg.ConvergenceWarning)
        for name, make in configs.items():
            # J of the learned policy on the original task (start at s0), whatever the training start
            J = np.array([tpg.evaluate(hard, train(*make(seed), iterations, seed).pi[-1]).J for seed in range(seeds)])
            out[name] = J
            print(f"{name:30s} J(s0) after {iterations} iterations, seeds 0..{seeds - 1}: "
                  f"{' '.join(f'{j:.3f}' for j in J)}   (J* = 1)")
    return out


if __name__ == "__main__":
    main()
