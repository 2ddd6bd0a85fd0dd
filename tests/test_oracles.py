"""Oracles: the exact oracle agrees with the exact engine; datasets carry the surrogate scale;
the sampled oracle's answers are its estimators' and lie within 5 exact standard errors.

Tolerances: two float64 computations of one quantity agree to ~1e-12 (1e-10 asserted);
Monte Carlo checks use fixed seeds and 5 standard errors computed from exact variances
(``tabular_pg.sampled.moments`` for gradients, binomial and return-variance recursions here).
"""
import numpy as np
import pytest
from conftest import random_mdp

import tabular_pg as tpg
from tabular_pg.algorithms import clipped_surrogate_gradient
from tabular_pg.algorithms.answers import Cost
from tabular_pg.algorithms.oracles import ExactOracle, SampledOracle
from tabular_pg.exact.fisher import FisherMatrix
from tabular_pg.sampled.estimators import reinforce
from tabular_pg.sampled.registry import estimator_moments


@pytest.mark.parametrize("horizon", [None, 4])
def test_exact_answers_are_the_engine_quantities(rng, horizon):
    mdp = random_mdp(rng, S=5, A=3, gamma=0.9, horizon=horizon)
    policy = tpg.TabularSoftmax(5, 3, horizon=horizon)
    theta = rng.normal(size=policy.n_params)
    ans = ExactOracle(mdp).query(policy, theta)
    ev = tpg.evaluate(mdp, policy.probs(theta))
    np.testing.assert_array_equal(ans.gradient, tpg.policy_gradient(mdp, policy, theta))
    np.testing.assert_array_equal(ans.fisher, tpg.fisher_information(mdp, policy, theta))
    for damping in (0.0, 0.1):
        np.testing.assert_allclose(ans.natural_gradient(damping), tpg.natural_gradient(mdp, policy, theta, damping),
                                   rtol=1e-9, atol=1e-10)
    for name in ("Q", "A", "visits"):
        np.testing.assert_array_equal(getattr(ans, name), getattr(ev, name))
    np.testing.assert_allclose(ans.V, ev.V, atol=1e-12)
    assert ans.J == ev.J and ans.cost == Cost(0, 0)


@pytest.mark.parametrize("damping", [0.0, 0.3])
def test_fisher_blocks_solve_equals_the_dense_solve(rng, damping):
    mdp = random_mdp(rng, S=4, A=3, gamma=0.8)
    policy = tpg.TabularSoftmax(4, 3)
    theta = rng.normal(size=12)
    F, g = tpg.fisher_information(mdp, policy, theta), tpg.policy_gradient(mdp, policy, theta)
    dense = np.linalg.solve(F + damping * np.eye(12), g) if damping else np.linalg.pinv(F, hermitian=True) @ g
    np.testing.assert_allclose(FisherMatrix.from_dense(policy, F).solve(g, damping), dense, atol=1e-10)
    with pytest.raises(ValueError, match="damping"):
        FisherMatrix.from_dense(policy, F).solve(g, -1.0)


def test_fisher_blocks_solve_inverts_the_small_block_of_a_rarely_visited_state(rng):
    """The cut-off is relative to the whole F (as in pinv(F)), not to each block."""
    policy = tpg.TabularSoftmax(2, 2)
    F = np.zeros((4, 4))
    F[:2, :2] = [[1.0, -1.0], [-1.0, 1.0]]
    F[2:, 2:] = 1e-8 * np.array([[1.0, -1.0], [-1.0, 1.0]])
    g = np.array([0.5, -0.5, 1e-8, -1e-8])
    np.testing.assert_allclose(FisherMatrix.from_dense(policy, F).solve(g, 0.0), np.linalg.pinv(F, hermitian=True) @ g,
                               rtol=1e-8)
    F[2:, 2:] *= 1e-300                                               # round-off: dropped, no overflow
    assert np.all(np.isfinite(FisherMatrix.from_dense(policy, F).solve(g, 0.0)))


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


# ----------------------------------------------------------------------------- sampled oracle

SAMPLED = [("reinforce", None), ("reinforce", "fitted"), ("reinforce", "value"), ("reinforce", 0.5), ("gae", None)]


@pytest.mark.parametrize("estimator, baseline", SAMPLED)
@pytest.mark.parametrize("horizon", [None, 4])
def test_sampled_surrogate_gradient_at_current_policy_is_the_oracle_gradient(rng, estimator, baseline, horizon):
    mdp = random_mdp(rng, S=5, A=3, gamma=0.9, horizon=horizon)
    policy = tpg.TabularSoftmax(5, 3, horizon=horizon)
    theta = rng.normal(size=policy.n_params)
    ans = SampledOracle(mdp, 40, rng=np.random.default_rng(1), estimator=estimator, baseline=baseline).query(
        policy, theta)
    g = ans.gradient
    np.testing.assert_allclose(clipped_surrogate_gradient(policy, theta, ans.dataset(), 0.2), g, rtol=0,
                               atol=1e-12 * max(1, np.abs(g).max()))


@pytest.mark.parametrize("baseline", [None, "fitted", "value"])
def test_sampled_gradient_is_the_estimators_reinforce(rng, baseline):
    mdp = random_mdp(rng, S=4, A=2, gamma=0.8)
    policy = tpg.TabularSoftmax(4, 2)
    theta = rng.normal(size=8)
    oracle = SampledOracle(mdp, 30, rng=np.random.default_rng(2), estimator="reinforce", baseline=baseline)
    ans = oracle.query(policy, theta)
    expected = reinforce(ans.traj, policy, theta, reward_to_go=True, baseline=baseline, mdp=mdp)
    np.testing.assert_allclose(ans.gradient, expected, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("horizon", [None, 3])
def test_sampled_gradient_within_five_exact_standard_errors(rng, horizon):
    mdp = random_mdp(rng, S=4, A=2, gamma=0.8, horizon=horizon)
    policy = tpg.TabularSoftmax(4, 2)
    theta = rng.normal(size=8)
    n = 4000
    mean, cov = estimator_moments(mdp, policy, theta, "reinforce", reward_to_go=True)
    g = SampledOracle(mdp, n, rng=np.random.default_rng(3), estimator="reinforce").query(policy, theta).gradient
    assert np.all(np.abs(g - mean) <= 5 * np.sqrt(np.diag(cov) / n) + 1e-12)


def _return_variance(mdp, pi):
    """Exact Var[sum_h gamma^h r_h] on a finite horizon: backward recursion of the second moment."""
    S = mdp.n_states
    V, M = np.zeros(S), np.zeros(S)                       # E[G_h | s], E[G_h^2 | s]
    for _ in range(mdp.horizon):
        EV, EM = (mdp.P @ V), (mdp.P @ M)                 # (S, A)
        M = (pi * (mdp.R ** 2 + 2 * mdp.gamma * mdp.R * EV + mdp.gamma ** 2 * EM)).sum(axis=1)
        V = (pi * (mdp.R + mdp.gamma * EV)).sum(axis=1)
    return mdp.mu @ M - (mdp.mu @ V) ** 2


def test_sampled_J_and_visits_within_five_exact_standard_errors(rng):
    mdp = random_mdp(rng, S=4, A=3, gamma=0.9, horizon=5)
    policy = tpg.TabularSoftmax(4, 3)
    theta = rng.normal(size=12)
    n = 3000
    ans = SampledOracle(mdp, n, rng=np.random.default_rng(4)).query(policy, theta)
    ev = tpg.evaluate(mdp, policy.probs(theta))
    assert abs(ans.J - ev.J) <= 5 * np.sqrt(_return_variance(mdp, policy.probs(theta)) / n)
    discount = mdp.gamma ** np.arange(5)[:, None]
    se = discount * np.sqrt(ev.d * (1 - ev.d) / n)         # visits[h, s] = gamma^h * Binomial(n, d_h(s)) / n
    assert np.all(np.abs(ans.visits - ev.visits) <= 5 * se + 1e-15)


def test_sampled_oracle_counts_its_samples(rng):
    mdp = random_mdp(rng, S=4, A=2, gamma=1.0, horizon=6)
    policy = tpg.TabularSoftmax(4, 2)
    oracle = SampledOracle(mdp, 25, rng=np.random.default_rng(5))
    ans = oracle.query(policy, policy.initial())
    assert ans.cost == Cost(25, 150) and oracle.cost == Cost(25, 150)
    oracle.value(policy, policy.initial())
    assert oracle.cost == Cost(50, 300)


def test_sampled_answers_are_reproducible_from_the_seed(rng):
    mdp = random_mdp(rng, S=4, A=2, gamma=0.9)
    policy = tpg.TabularSoftmax(4, 2)
    theta = rng.normal(size=8)
    a, b = (SampledOracle(mdp, 20, rng=np.random.default_rng(6)).query(policy, theta) for _ in range(2))
    for name in ("gradient", "fisher", "Q", "visits"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize("kwargs, name, exc", [                      # wrong type: TypeError; wrong value: ValueError
    (dict(n=0), "n", ValueError), (dict(n=2.5), "n", TypeError), (dict(rng=None), "rng", TypeError),
    (dict(estimator="qlearning"), "estimator", ValueError), (dict(baseline="mean"), "baseline", ValueError),
    (dict(lam=1.5), "lam", ValueError), (dict(lam="x"), "lam", TypeError),
    (dict(values="learned"), "values", ValueError),
])
def test_sampled_oracle_rejects_bad_arguments(rng, kwargs, name, exc):
    mdp = random_mdp(rng, S=3, A=2, gamma=0.9)
    args = dict(n=10, rng=np.random.default_rng(0)) | kwargs
    with pytest.raises(exc, match=name):
        SampledOracle(mdp, args.pop("n"), **args)


def test_sampled_gradient_of_a_direct_policy_with_zeros(rng):
    """No score table is built, so zero probabilities are fine; unsampled actions get 0."""
    mdp = random_mdp(rng, S=3, A=3, gamma=0.5)
    policy = tpg.Direct(3, 3)
    pi = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    g = SampledOracle(mdp, 500, rng=np.random.default_rng(9)).query(policy, pi.reshape(-1)).gradient
    assert np.all(np.isfinite(g)) and np.all(g.reshape(3, 3)[pi == 0] == 0)
