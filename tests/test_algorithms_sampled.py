"""Algorithms against the sampled oracle: bit-identical reproducibility from seeds, sample
accounting, and "Policy Gradient (continued)"'s exploration failure on the chain (an exact fact, no tolerance:
without a rewarded trajectory every return is 0, so the REINFORCE gradient is exactly 0).
"""
import numpy as np
import pytest
from conftest import random_mdp

import mdps
import tabular_pg as tpg
from tabular_pg.algorithms import CEM, PPO, ConservativePolicyIteration, NaturalPolicyGradient, PolicyGradient, run
from tabular_pg.algorithms.oracles import SampledOracle

ALGORITHMS = [
    (PolicyGradient(step=0.5), "softmax"),
    (NaturalPolicyGradient(delta=0.05), "softmax"),
    (NaturalPolicyGradient(step=0.1, damping=1e-3), "softmax"),
    (ConservativePolicyIteration(0.2), "direct"),
    (ConservativePolicyIteration("line_search"), "direct"),
    (PPO(clip=0.2, epochs=3, step=0.5, minibatch=16, optimizer="adam"), "softmax"),
    (CEM(population=8, elite=2, noise=0.1), "softmax"),
]


@pytest.mark.parametrize("algorithm, kind", ALGORITHMS, ids=[type(a).__name__ + str(i) for i, (a, _) in
                                                               enumerate(ALGORITHMS)])
def test_sampled_runs_are_bit_identical_given_the_seeds(rng, algorithm, kind):
    mdp = random_mdp(rng, S=4, A=2, gamma=0.9)
    policy = tpg.TabularSoftmax(4, 2) if kind == "softmax" else tpg.Direct(4, 2)

    def once(seed):
        oracle = SampledOracle(mdp, 10, rng=np.random.default_rng(seed), estimator="reinforce", baseline="fitted")
        return run(algorithm, mdp, policy, policy.initial(), oracle, 4, rng=np.random.default_rng(seed + 1))

    first, second, other = once(11), once(11), once(12)
    assert first.same_run(second)
    # CPI's greedy policy is a discrete function of the samples: two seeds may agree on it
    assert not first.same_run(other) or isinstance(algorithm, ConservativePolicyIteration)
    assert first.trajectories[-1] > 0 and np.all(np.diff(first.trajectories) > 0)
    np.testing.assert_allclose(first.J, [tpg.evaluate(mdp, p).J for p in first.pi], rtol=1e-14)


def test_sample_accounting_of_a_run(rng):
    mdp = random_mdp(rng, S=4, A=2, gamma=1.0, horizon=5)
    policy = tpg.TabularSoftmax(4, 2)
    oracle = SampledOracle(mdp, 7, rng=np.random.default_rng(0))
    hist = run(PolicyGradient(step=0.1), mdp, policy, policy.initial(), oracle, 3)
    assert hist.trajectories.tolist() == [0, 7, 14, 21] and hist.steps.tolist() == [0, 35, 70, 105]
    cem = run(CEM(population=4, elite=2), mdp, policy, policy.initial(),
              SampledOracle(mdp, 7, rng=np.random.default_rng(0)), 2, rng=np.random.default_rng(1))
    assert cem.trajectories.tolist() == [0, 28, 56]             # population x n per iteration


@pytest.mark.parametrize("baseline", [None, "fitted"])
def test_chain_sampled_gradient_is_exactly_zero_without_a_rewarded_trajectory(baseline):
    H = 12
    mdp = mdps.chain(H)
    policy = tpg.TabularSoftmax(mdp.n_states, 3, horizon=H)
    oracle = SampledOracle(mdp, 200, rng=np.random.default_rng(0), baseline=baseline)
    ans = oracle.query(policy, policy.initial())
    assert ans.traj.returns().max() == 0.0                      # P(some reward) = 1-(1-3^-12)^200 < 4e-4
    assert np.all(ans.gradient == 0.0)
    hist = run(NaturalPolicyGradient(delta=0.1), mdp, policy, policy.initial(), oracle, 5)
    assert np.all(hist.theta == 0.0)
    np.testing.assert_allclose(hist.J, 3.0 ** -H, rtol=1e-12)


def test_chain_exact_gradient_is_tiny_but_trust_region_npg_escapes():
    H = 12
    mdp = mdps.chain(H)
    policy = tpg.TabularSoftmax(mdp.n_states, 3, horizon=H)
    g = tpg.policy_gradient(mdp, policy, policy.initial())
    assert 0 < np.abs(g).max() < 3.0 ** -(H - 1)
    hist = run(NaturalPolicyGradient(delta=1.0), mdp, policy, policy.initial(), tpg.oracles.ExactOracle(mdp), 50,
               target=0.9)
    assert hist.J[-1] >= 0.9
