"""Off-policy REINFORCE: importance weights, their exact moments, enumeration and Monte Carlo."""
import numpy as np
import pytest
from conftest import random_mdp
from test_moments import tiny_mdps

import tabular_pg as tpg
from tabular_pg.sampled.importance import ratio_table
from tabular_pg.sampled.moments import moment_horizon
from tabular_pg.sampled.moments_blocks import linear_moments
from tabular_pg.sampled.moments_enumeration import brute_force_moments
from tabular_pg.sampled.registry import estimate, estimator_moments, lookup
from tabular_pg.sampled.rollout import rollout

WEIGHTINGS = [{"importance": "per_decision", "reward_to_go": True},
              {"importance": "trajectory", "reward_to_go": True},
              {"importance": "trajectory", "reward_to_go": False}]


def behaviour_for(rng, S, A):
    beta = rng.random((S, A)) + 0.2
    return beta / beta.sum(axis=1, keepdims=True)


def relative(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("weighting", WEIGHTINGS, ids=lambda w: f"{w['importance']}-rtg{w['reward_to_go']}")
@pytest.mark.parametrize("baseline", [None, "value", 0.4])
def test_recursion_equals_enumeration_and_untruncated_mean_is_the_gradient(weighting, baseline):
    """Enumeration of every behaviour trajectory (its probability, the sampled importance-weighted
    estimate of each) is the independent oracle, 1e-10 relative; untruncated, the mean is grad J
    (1e-10 relative); truncated at c = 0.9 (below some ratios) it is not."""
    rng = np.random.default_rng(41)
    for mdp in tiny_mdps(rng):
        pol = tpg.TabularSoftmax(3, 2)
        th = rng.normal(size=6)
        beta = behaviour_for(rng, 3, 2)
        g = tpg.policy_gradient(mdp, pol, th)
        for truncation in (None, 0.9):
            options = dict(weighting, baseline=baseline, behaviour=beta, truncation=truncation)
            mean, cov = estimator_moments(mdp, pol, th, "reinforce", **options)
            m_bf, c_bf = brute_force_moments(mdp, pol, th, "reinforce", **options)
            assert relative(mean, m_bf) <= 1e-10 and relative(cov, c_bf) <= 1e-10
            if truncation is None:
                assert np.linalg.norm(mean - g) <= 1e-10 * np.linalg.norm(g)
            else:
                assert ratio_table(pol.probs(th), beta).max() > truncation
                assert np.linalg.norm(mean - g) > 1e-3 * np.linalg.norm(g)


def test_truncation_above_every_ratio_changes_nothing_and_on_policy_weights_are_one():
    rng = np.random.default_rng(42)
    mdp = tiny_mdps(rng)[0]
    pol = tpg.TabularSoftmax(3, 2)
    th = rng.normal(size=6)
    beta = behaviour_for(rng, 3, 2)
    c_max = ratio_table(pol.probs(th), beta).max()
    for weighting in WEIGHTINGS:
        m, c = estimator_moments(mdp, pol, th, "reinforce", behaviour=beta, **weighting)
        mt, ct = estimator_moments(mdp, pol, th, "reinforce", behaviour=beta, truncation=c_max * 1.01, **weighting)
        assert relative(mt, m) <= 1e-14 and relative(ct, c) <= 1e-14
        on = estimator_moments(mdp, pol, th, "reinforce", reward_to_go=weighting["reward_to_go"])
        self_ = estimator_moments(mdp, pol, th, "reinforce", behaviour=pol.probs(th), **weighting)
        assert relative(self_[0], on[0]) <= 1e-12 and relative(self_[1], on[1]) <= 1e-12


@pytest.mark.parametrize("weighting", WEIGHTINGS, ids=lambda w: f"{w['importance']}-rtg{w['reward_to_go']}")
def test_block_path_equals_dense_path_off_policy(weighting):
    """Importance weights through both paths of linear_moments: 1e-12 relative (stationary and per-step policy)."""
    rng = np.random.default_rng(43)
    for mdp in tiny_mdps(rng) + [random_mdp(rng, S=4, A=3, gamma=0.7)]:
        S, A = mdp.n_states, mdp.n_actions
        pols = [tpg.TabularSoftmax(S, A)] + ([tpg.TabularSoftmax(S, A, horizon=mdp.horizon)] if mdp.horizon else [])
        for pol in pols:
            th = rng.normal(size=pol.n_params)
            for truncation in (None, 1.2):
                spec = lookup("reinforce").terms(mdp, pol, th, moment_horizon(mdp, 1e-2), baseline="value",
                                                 behaviour=behaviour_for(rng, S, A), truncation=truncation,
                                                 **weighting)
                (mb, cb), (md, cd) = [linear_moments(mdp, pol, th, spec, path=p) for p in ("block", "dense")]
                assert relative(mb, md) <= 1e-12 and relative(cb, cd) <= 1e-12


@pytest.mark.parametrize("weighting", WEIGHTINGS, ids=lambda w: f"{w['importance']}-rtg{w['reward_to_go']}")
@pytest.mark.parametrize("truncation", [None, 0.9])
def test_monte_carlo_within_5_standard_errors(weighting, truncation):
    """Rollouts from the behaviour policy (fixed seed, n = 40000): the sampled mean is within 5
    standard errors of the exact mean, the standard error from the exact covariance."""
    rng = np.random.default_rng(44)
    mdp = random_mdp(rng, S=4, A=3, gamma=0.9, horizon=5)
    pol = tpg.TabularSoftmax(4, 3)
    th = rng.normal(size=12)
    beta = behaviour_for(rng, 4, 3)
    options = dict(weighting, behaviour=beta, truncation=truncation, baseline="value")
    mean, cov = estimator_moments(mdp, pol, th, "reinforce", **options)
    n = 40_000
    traj = rollout(mdp, beta, n, np.random.default_rng(45))
    per = estimate(traj, pol, th, "reinforce", mdp=mdp, per_trajectory=True, **options)
    se = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(per.mean(axis=0) - mean) <= 5 * se)


def test_bad_behaviour_and_options_are_clear_errors():
    rng = np.random.default_rng(46)
    mdp = tiny_mdps(rng)[0]
    pol = tpg.TabularSoftmax(3, 2)
    th = np.zeros(6)
    beta = np.array([[1.0, 0.0], [0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match=r"behaviour must be > 0 wherever the policy is"):
        estimator_moments(mdp, pol, th, "reinforce", behaviour=beta, reward_to_go=True)
    with pytest.raises(ValueError, match=r"behaviour must have shape"):
        estimator_moments(mdp, pol, th, "reinforce", behaviour=np.full((2, 2), 0.5), reward_to_go=True)
    with pytest.raises(ValueError, match="behaviour rows must sum to 1"):
        estimator_moments(mdp, pol, th, "reinforce", behaviour=np.full((3, 2), 0.6), reward_to_go=True)
    with pytest.raises(ValueError, match="needs reward_to_go=True"):
        estimator_moments(mdp, pol, th, "reinforce", behaviour=np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="importance must be one of"):
        estimator_moments(mdp, pol, th, "reinforce", importance="weighted")
    with pytest.raises(ValueError, match="truncation must be a finite number > 0"):
        estimator_moments(mdp, pol, th, "reinforce", behaviour=np.full((3, 2), 0.5), truncation=0.0)
    with pytest.raises(TypeError, match="truncation must be a finite number"):
        estimator_moments(mdp, pol, th, "reinforce", behaviour=np.full((3, 2), 0.5), truncation="1")
