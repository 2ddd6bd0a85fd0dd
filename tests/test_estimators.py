"""Sampled estimators against their exact moments.

Monte Carlo check: each coordinate of the batch mean lies within 5 standard errors of the
exact mean, the standard error taken from the exact covariance, sqrt(C_ii / n) (per
coordinate; coordinates with zero exact variance must match to rounding).
"""
import numpy as np
import pytest
from conftest import random_mdp, random_policy

import tabular_pg as tpg
from tabular_pg.sampled import estimators as E
from tabular_pg.sampled import scores
from tabular_pg.sampled.moments import fitted_baseline_mean
from tabular_pg.sampled.registry import estimate, estimator_moments
from tabular_pg.sampled.rollout import rollout, sample_visitation

TRAJECTORY_CASES = [
    ("reinforce", {}),
    ("reinforce", {"reward_to_go": True}),
    ("reinforce", {"baseline": 0.5}),
    ("reinforce", {"reward_to_go": True, "baseline": "value"}),
    ("reinforce", {"reward_to_go": True, "baseline": "optimal"}),
    ("reinforce", {"baseline": "optimal"}),
    ("qvalue", {}),
    ("qvalue", {"advantage": True}),
    ("qvalue", {"critic": "monte_carlo"}),
    ("gae", {"lam": 0.0}),
    ("gae", {"lam": 0.7}),
    ("gae", {"lam": 0.7, "values": np.array([0.3, -0.2, 0.5, 0.0])}),    # imperfect V: biased
]


def assert_within_5_se(samples, mean, cov):
    n = samples.shape[0]
    se = np.sqrt(np.clip(np.diag(cov), 0, None) / n)
    err = np.abs(samples.mean(axis=0) - mean)
    assert np.all(err <= 5 * se + 1e-10 * (1 + np.abs(mean))), (err / np.maximum(se, 1e-300)).max()


@pytest.fixture(scope="module")
def finite_setup():
    rng = np.random.default_rng(1)
    mdp = random_mdp(rng, S=4, A=2, gamma=0.9, horizon=4)
    pol = tpg.TabularSoftmax(4, 2)
    th = rng.normal(size=8)
    traj = rollout(mdp, pol.probs(th), 20000, np.random.default_rng(2))
    return mdp, pol, th, traj


@pytest.fixture(scope="module")
def infinite_setup():
    rng = np.random.default_rng(3)
    mdp = random_mdp(rng, S=4, A=2, gamma=0.6, sparse=True, branching=2)
    pol = tpg.LogLinear(rng.normal(size=(4, 2, 3)))
    th = rng.normal(size=3)
    traj = rollout(mdp, pol.probs(th), 20000, np.random.default_rng(4), tol=1e-4)
    return mdp, pol, th, traj


@pytest.mark.parametrize("estimator,options", TRAJECTORY_CASES)
@pytest.mark.parametrize("setup", ["finite_setup", "infinite_setup"])
def test_monte_carlo_mean_within_5_standard_errors(request, setup, estimator, options):
    mdp, pol, th, traj = request.getfixturevalue(setup)
    mean, cov = estimator_moments(mdp, pol, th, estimator, tol=1e-4, **options)
    g = estimate(traj, pol, th, estimator, mdp=mdp, per_trajectory=True, **options)
    assert_within_5_se(g, mean, cov)
    assert np.allclose(g.mean(axis=0), estimate(traj, pol, th, estimator, mdp=mdp, **options), atol=1e-12)


@pytest.mark.parametrize("critic", ["exact", "monte_carlo"])
@pytest.mark.parametrize("advantage", [False, True])
def test_visitation_estimator_within_5_standard_errors(rng, critic, advantage):
    mdp = random_mdp(rng, S=4, A=3, gamma=0.7, sparse=True)
    pol = tpg.TabularSoftmax(4, 3)
    th = rng.normal(size=12)
    samples = sample_visitation(mdp, pol.probs(th), 20000, np.random.default_rng(5))
    opts = {"critic": critic, "advantage": advantage}
    mean, cov = estimator_moments(mdp, pol, th, "visitation", **opts)
    assert np.allclose(mean, tpg.policy_gradient(mdp, pol, th), rtol=1e-10, atol=1e-12)
    assert_within_5_se(E.visitation(samples, pol, th, mdp, per_trajectory=True, **opts), mean, cov)


def test_identities_between_estimators(finite_setup):
    mdp, pol, th, traj = finite_setup
    same = [(E.qvalue(traj, pol, th, mdp, critic="monte_carlo", per_trajectory=True),
             E.reinforce(traj, pol, th, reward_to_go=True, per_trajectory=True)),
            # GAE(1) with the exact V telescopes to reward-to-go minus gamma^t V_t(s_t)
            (E.gae(traj, pol, th, 1.0, mdp=mdp, per_trajectory=True),
             E.reinforce(traj, pol, th, reward_to_go=True, baseline="value", mdp=mdp, per_trajectory=True))]
    for a, b in same:
        assert np.allclose(a, b, atol=1e-12)


def test_fitted_baseline_exact_mean_by_repeated_batches():
    """The per-(step, state) fitted baseline is biased; its exact batch mean is checked on many batches."""
    rng = np.random.default_rng(6)
    mdp = random_mdp(rng, S=3, A=2, gamma=0.9, horizon=3)
    pol = tpg.TabularSoftmax(3, 2)
    th = rng.normal(size=6)
    n, batches = 3, 3000
    traj = rollout(mdp, pol.probs(th), n * batches, np.random.default_rng(7))
    g = np.array([E.reinforce(_slice(traj, i * n, n), pol, th, reward_to_go=True, baseline="fitted")
                  for i in range(batches)])
    exact = fitted_baseline_mean(mdp, pol, th, n)
    grad = tpg.policy_gradient(mdp, pol, th)
    se = g.std(axis=0) / np.sqrt(batches)
    assert np.all(np.abs(g.mean(axis=0) - exact) <= 5 * se + 1e-12)
    assert np.linalg.norm(exact - grad) > 10 * np.linalg.norm(se)      # the bias is resolved
    assert np.allclose(fitted_baseline_mean(mdp, pol, th, 10 ** 9), grad, atol=1e-6)


def _slice(traj, start, n):
    return E.Trajectories(traj.states[start:start + n], traj.actions[start:start + n],
                          traj.rewards[start:start + n], traj.mask[start:start + n], traj.gamma, traj.horizon)


def test_sampled_fisher_and_natural_gradient(rng):
    mdp = random_mdp(rng, S=3, A=2, gamma=0.7)
    pol = tpg.TabularSoftmax(3, 2)
    th = rng.normal(size=6)
    F = tpg.fisher_information(mdp, pol, th)
    x = sample_visitation(mdp, pol.probs(th), 40000, np.random.default_rng(8))
    F_hat = E.fisher(x, pol, th)
    psi = pol.score(th)[x.states, x.actions]
    se = np.sqrt((psi[:, :, None] * psi[:, None, :]).var(axis=0) / x.n)
    assert np.all(np.abs(F_hat - F) <= 5 * se + 1e-12)
    traj = rollout(mdp, pol.probs(th), 20000, np.random.default_rng(9), tol=1e-6)
    assert np.abs(E.fisher(traj, pol, th) - F).max() < 0.02
    g = tpg.policy_gradient(mdp, pol, th)
    assert np.allclose(E.natural_gradient(g, F), tpg.natural_gradient(mdp, pol, th), atol=1e-8)
    finite = random_mdp(rng, S=3, A=2, gamma=0.9, horizon=3)
    traj = rollout(finite, pol.probs(th), 20000, np.random.default_rng(10))
    assert np.abs(E.fisher(traj, pol, th) - tpg.fisher_information(finite, pol, th)).max() < 0.05


@pytest.mark.parametrize("setup", ["finite_setup", "infinite_setup"])
def test_sampled_fisher_within_5_standard_errors(request, setup):
    mdp, pol, th, traj = request.getfixturevalue(setup)
    F, C = estimator_moments(mdp, pol, th, "fisher", tol=1e-4)
    per = E.fisher(traj, pol, th, per_trajectory=True)
    assert np.allclose(per.mean(axis=0), E.fisher(traj, pol, th), atol=1e-12)
    assert_within_5_se(per.reshape(traj.n, -1), F.ravel(), C)


def test_bad_names_and_missing_mdp(finite_setup):
    mdp, pol, th, traj = finite_setup
    with pytest.raises(ValueError,
                       match=r"estimator must be one of \['fisher', 'gae', 'qvalue', 'reinforce', 'visitation'\]"):
        estimate(traj, pol, th, "reinforse")
    with pytest.raises(ValueError, match="baseline must be None, a number, or one of"):
        E.reinforce(traj, pol, th, baseline="avg")
    with pytest.raises(ValueError, match="mdp"):
        E.reinforce(traj, pol, th, baseline="value")
    with pytest.raises(ValueError, match="critic must be one of"):
        E.qvalue(traj, pol, th, mdp, critic="td")
    with pytest.raises(ValueError, match="lam"):
        E.gae(traj, pol, th, 1.5, mdp=mdp)
    with pytest.raises(ValueError, match="gamma"):
        E.reinforce(traj, pol, th, baseline="value", mdp=mdp.with_(gamma=0.5))


def test_per_step_policy_estimates(rng):
    H = 3
    mdp = random_mdp(rng, S=3, A=2, gamma=1.0, horizon=H)
    pol = tpg.TabularSoftmax(3, 2, horizon=H)
    th = rng.normal(size=pol.n_params)
    traj = rollout(mdp, pol.probs(th), 20000, np.random.default_rng(12))
    for est, opts in [("reinforce", {"reward_to_go": True, "baseline": "optimal"}), ("gae", {"lam": 0.5})]:
        mean, cov = estimator_moments(mdp, pol, th, est, **opts)
        assert np.allclose(mean, tpg.policy_gradient(mdp, pol, th), rtol=1e-10, atol=1e-13)
        assert_within_5_se(estimate(traj, pol, th, est, mdp=mdp, per_trajectory=True, **opts), mean, cov)
    assert random_policy(rng, 3, 2, H).shape == (H, 3, 2)


def test_chunked_per_trajectory_estimates_agree(finite_setup, monkeypatch):
    mdp, pol, th, traj = finite_setup
    whole = (E.reinforce(traj, pol, th, reward_to_go=True, per_trajectory=True),
             E.fisher(traj, pol, th, per_trajectory=True))
    monkeypatch.setattr(scores, "CHUNK_ENTRIES", 50)             # a few trajectories per block
    chunked = (E.reinforce(traj, pol, th, reward_to_go=True, per_trajectory=True),
               E.fisher(traj, pol, th, per_trajectory=True))
    for a, b in zip(whole, chunked):
        assert a.shape == b.shape and np.allclose(a, b, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="per-step policy"):
        E.reinforce(traj, tpg.TabularSoftmax(4, 2, horizon=3), np.zeros(24))


def test_episodic_estimators_are_unbiased(rng):
    """gamma = 1, no horizon: episodes run to termination and the exact critic is the
    stationary Q.  No moment recursion exists for unbounded episodes, so here the standard
    error is the empirical one (per coordinate, 5 SE)."""
    from conftest import episodic_mdp
    mdp = episodic_mdp(rng, S=4, A=2)
    pol = tpg.TabularSoftmax(4, 2)
    th = rng.normal(size=8)
    g = tpg.policy_gradient(mdp, pol, th)
    traj = rollout(mdp, pol.probs(th), 20000, np.random.default_rng(13))
    for est, opts in [("qvalue", {}), ("qvalue", {"advantage": True}), ("gae", {"lam": 0.5}),
                      ("reinforce", {"reward_to_go": True, "baseline": "optimal"})]:
        x = estimate(traj, pol, th, est, mdp=mdp, per_trajectory=True, **opts)
        se = x.std(axis=0) / np.sqrt(traj.n)
        assert np.all(np.abs(x.mean(axis=0) - g) <= 5 * se + 1e-12), (est, opts)
