"""Oracles: the exact oracle agrees with the exact engine; datasets carry the surrogate scale.

Tolerances: two float64 computations of one quantity agree to ~1e-12 (1e-10 asserted).
"""
import numpy as np
import pytest

import tabular_pg as tpg
from conftest import random_mdp
from tabular_pg.oracles import Cost, ExactOracle, block_natural_gradient


@pytest.mark.parametrize("horizon", [None, 4])
def test_exact_answers_are_the_engine_quantities(rng, horizon):
    mdp = random_mdp(rng, S=5, A=3, gamma=0.9, horizon=horizon)
    policy = tpg.TabularSoftmax(5, 3, horizon=horizon)
    theta = rng.normal(size=policy.n_params)
    ans = ExactOracle(mdp).query(policy, theta)
    ev = tpg.evaluate(mdp, policy.probs(theta))
    np.testing.assert_array_equal(ans.gradient, tpg.policy_gradient(mdp, policy, theta))
    np.testing.assert_array_equal(ans.fisher, tpg.fisher_information(mdp, policy, theta))
    np.testing.assert_array_equal(ans.natural_gradient(0.1), tpg.natural_gradient(mdp, policy, theta, 0.1))
    for name in ("Q", "A", "visits"):
        np.testing.assert_array_equal(getattr(ans, name), getattr(ev, name))
    np.testing.assert_allclose(ans.V, ev.V, atol=1e-12)
    assert ans.J == ev.J and ans.cost == Cost(0, 0)


@pytest.mark.parametrize("damping", [0.0, 0.3])
def test_block_natural_gradient_equals_the_dense_solve(rng, damping):
    mdp = random_mdp(rng, S=4, A=3, gamma=0.8)
    policy = tpg.TabularSoftmax(4, 3)
    theta = rng.normal(size=12)
    F, g = tpg.fisher_information(mdp, policy, theta), tpg.policy_gradient(mdp, policy, theta)
    dense = np.linalg.solve(F + damping * np.eye(12), g) if damping else np.linalg.pinv(F, hermitian=True) @ g
    np.testing.assert_allclose(block_natural_gradient(policy, F, g, damping), dense, atol=1e-10)
    with pytest.raises(ValueError, match="damping"):
        block_natural_gradient(policy, F, g, -1.0)


@pytest.mark.parametrize("horizon", [None, 3])
def test_exact_dataset_weights_are_visits_times_policy(rng, horizon):
    mdp = random_mdp(rng, S=5, A=2, gamma=0.9, horizon=horizon)
    policy = tpg.TabularSoftmax(5, 2)
    theta = rng.normal(size=10)
    ans = ExactOracle(mdp).query(policy, theta)
    data = ans.dataset()
    total = 1 / (1 - mdp.gamma) if horizon is None else (mdp.gamma ** np.arange(horizon)).sum()
    assert abs(data.weights.sum() - total) < 1e-10                   # sum_s d~(s) = 1/(1-gamma)
    assert abs(data.weights @ data.advantages) < 1e-10                # E_pi[A] = 0
    pi = policy.probs(theta)
    np.testing.assert_array_equal(data.old_probs, pi[data.states, data.actions])
    r = mdp.R[data.states, data.actions]
    assert abs(data.weights @ r - ans.J) < 1e-10                      # J = sum d~ pi r
    assert not data.weights.flags.writeable


def test_exact_oracle_rejects_policies_of_another_mdp(rng):
    mdp = random_mdp(rng, S=4, A=2, gamma=0.9)
    oracle = ExactOracle(mdp)
    with pytest.raises(ValueError, match=r"\(S, A\)"):
        oracle.query(tpg.TabularSoftmax(4, 3), np.zeros(12))
    with pytest.raises(ValueError, match="theta"):
        oracle.query(tpg.TabularSoftmax(4, 2), np.zeros(3))
    with pytest.raises(TypeError, match="mdp"):
        ExactOracle("chain")
    with pytest.raises(ValueError, match="horizon"):
        ExactOracle(random_mdp(rng, S=4, A=2, gamma=1.0, horizon=3)).query(tpg.TabularSoftmax(4, 2, horizon=5),
                                                                            np.zeros(40))


def test_exact_value_is_J(rng):
    mdp = random_mdp(rng, S=4, A=2, gamma=0.9)
    policy = tpg.TabularSoftmax(4, 2)
    theta = rng.normal(size=8)
    assert ExactOracle(mdp).value(policy, theta) == tpg.evaluate(mdp, policy.probs(theta)).J
