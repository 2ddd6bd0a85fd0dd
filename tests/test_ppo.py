"""PPO (Schulman et al. 2017) with GAE advantages from a fitted tabular critic.

Exact checks compare with independent computations (the exact policy gradient, a plain
loop over visits); the statistical check uses the exact covariance of the estimator
(``estimator_moments``) for a 5-standard-error tolerance; learning checks use fixed seeds.
"""
import warnings

import numpy as np
import pytest
from conftest import random_mdp

import mdps
import tabular_pg as tpg
from tabular_pg.algorithms import PPO, run
from tabular_pg.algorithms.oracles import ExactOracle, SampledOracle
from tabular_pg.algorithms.ppo import (
    AdamState,
    clipped_surrogate_gradient,
    entropy_bonus,
    entropy_bonus_gradient,
    normalized_advantages,
    sample_kl,
)
from tabular_pg.sampled.critic import critic_values, fitted_critic
from tabular_pg.sampled.registry import estimator_moments


def test_fitted_critic_is_the_discounted_visit_weighted_mean_of_returns(rng):
    """Independent computation: a plain loop over every visit of every trajectory (to 1e-12)."""
    mdp = random_mdp(rng, S=5, A=2, gamma=0.8)
    pi = tpg.policies.softmax(rng.normal(size=(5, 2)))
    traj = tpg.rollout(mdp, pi, 30, np.random.default_rng(0))
    num, den = np.zeros(5), np.zeros(5)
    for i in range(traj.n):
        for t in range(traj.T):
            if traj.mask[i, t]:
                G = sum(mdp.gamma ** (k - t) * traj.rewards[i, k] for k in range(t, traj.T))
                num[traj.states[i, t]] += mdp.gamma ** t * G
                den[traj.states[i, t]] += mdp.gamma ** t
    expected = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
    V = fitted_critic(traj, 5, stepwise=False)
    assert V.shape == (traj.T, 5) and np.all(V == V[0])
    np.testing.assert_allclose(V[0], expected, rtol=1e-12, atol=1e-12)


def test_fitted_critic_is_per_step_on_a_finite_horizon(rng):
    mdp = random_mdp(rng, S=4, A=2, gamma=1.0, horizon=5)
    pi = tpg.policies.softmax(rng.normal(size=(4, 2)))
    traj = tpg.rollout(mdp, pi, 20, np.random.default_rng(1))
    V = critic_values(traj, "fitted", mdp.n_states)
    G = traj.rewards_to_go()
    for t, s in [(0, traj.states[0, 0]), (3, traj.states[2, 3])]:
        at = traj.states[:, t] == s
        assert V[t, s] == pytest.approx(G[at, t].mean(), rel=1e-12)
    with pytest.raises(ValueError, match="critic must be one of"):
        critic_values(traj, "learned", mdp.n_states)
    with pytest.raises(ValueError, match=r"critic='exact' needs mdp and pi; got mdp=NoneType, pi=NoneType"):
        critic_values(traj, "exact", mdp.n_states)


@pytest.mark.parametrize("horizon", [None, 4])
def test_gae_one_with_exact_critic_is_unbiased_within_five_exact_standard_errors(rng, horizon):
    """lambda = 1 with the exact critic: sum_i w_i A_i psi_i is unbiased for grad J.

    The exact mean and covariance come from ``estimator_moments``; the mean is checked
    against the independent ``policy_gradient`` (to 1e-10, plus the 1e-8 truncation of an
    infinite horizon), the batch estimate within 5 exact standard errors.
    """
    mdp = random_mdp(rng, S=4, A=2, gamma=0.8, horizon=horizon)
    policy = tpg.TabularSoftmax(4, 2)
    theta = rng.normal(size=8)
    mean, cov = estimator_moments(mdp, policy, theta, "gae", lam=1.0, values="exact")
    exact = tpg.policy_gradient(mdp, policy, theta)
    np.testing.assert_allclose(mean, exact, rtol=1e-10, atol=1e-7 if horizon is None else 1e-12)
    n = 4000
    ans = SampledOracle(mdp, n, rng=np.random.default_rng(5), lam=1.0, values="exact").query(policy, theta)
    g = clipped_surrogate_gradient(policy, theta, ans.dataset(), 0.2)     # the surrogate's gradient at theta_t
    assert np.all(np.abs(g - mean) <= 5 * np.sqrt(np.diag(cov) / n) + 1e-12)


def test_full_batch_weighted_mean_objective_gradient_is_grad_J_over_total_weight(rng):
    """Exact oracle, no normalisation, one batch: the optimiser's gradient at theta_t is
    grad J / sum_i w_i (checked against the independent exact policy gradient)."""
    mdp = random_mdp(rng, S=5, A=3, gamma=0.9)
    policy = tpg.TabularSoftmax(5, 3)
    theta = rng.normal(size=15)
    data = ExactOracle(mdp).query(policy, theta).dataset()
    ppo = PPO(minibatches=1, normalize=False, max_grad_norm=None)
    g = ppo._gradient(policy, theta, data, np.arange(data.n))
    np.testing.assert_allclose(g * data.weights.sum(), tpg.policy_gradient(mdp, policy, theta), rtol=1e-10)


@pytest.mark.parametrize("horizon", [None, 3])
def test_entropy_bonus_gradient_matches_central_finite_differences(rng, horizon):
    """Schulman et al. 2017 eq. 9's entropy term: the analytic gradient against central
    differences of entropy_bonus (step 1e-5, truncation error ~1e-10), on a sampled dataset
    (repeated states, minibatch subset, its own weights), stationary and per-step policies;
    the value against an independent -sum p log p of the probabilities."""
    mdp = random_mdp(rng, S=4, A=3, gamma=0.9, horizon=horizon)
    policy = tpg.TabularSoftmax(4, 3, horizon=horizon)
    theta = rng.normal(size=policy.n_params)
    data = SampledOracle(mdp, 20, rng=np.random.default_rng(1)).query(policy, theta).dataset()
    index = rng.choice(data.n, size=data.n // 2, replace=False)
    w = rng.random(index.size)
    g = entropy_bonus_gradient(policy, theta, data, index, w)
    eps, fd = 1e-5, np.zeros_like(theta)
    for k in range(theta.size):
        e = np.zeros_like(theta)
        e[k] = eps
        S_plus, S_minus = (entropy_bonus(policy, theta + e, data, index, w),
                           entropy_bonus(policy, theta - e, data, index, w))
        fd[k] = (S_plus - S_minus) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-9)
    pi = policy.probs(theta)
    p_i = pi[data.steps[index], data.states[index]] if horizon else pi[data.states[index]]
    assert abs(entropy_bonus(policy, theta, data, index, w) - w @ -(p_i * np.log(p_i)).sum(axis=1)) < 1e-12


def test_entropy_coefficient_adds_its_gradient_to_the_surrogate_gradient(rng):
    """PPO(entropy=c)'s minibatch gradient is the surrogate's plus c times the entropy
    bonus's, both under the minibatch's normalised weights (CleanRL's pg_loss - c * entropy)."""
    mdp = random_mdp(rng, S=5, A=3, gamma=0.9)
    policy = tpg.TabularSoftmax(5, 3)
    theta = rng.normal(size=15)
    data = ExactOracle(mdp).query(policy, theta).dataset()
    batch, c = np.arange(data.n), 0.05
    plain = PPO(minibatches=1, max_grad_norm=None)._gradient(policy, theta, data, batch)
    bonus = PPO(minibatches=1, max_grad_norm=None, entropy=c)._gradient(policy, theta, data, batch)
    p = data.weights / data.weights.sum()
    np.testing.assert_allclose(bonus - plain, c * entropy_bonus_gradient(policy, theta, data, batch, p),
                               rtol=1e-10, atol=1e-14)


def test_normalized_advantages_have_weighted_mean_zero_and_unit_std(rng):
    A, w = rng.normal(size=50) * 3 + 1, rng.random(50)
    x = normalized_advantages(A, w)
    p = w / w.sum()
    assert abs(p @ x) < 1e-12 and abs(np.sqrt(p @ x ** 2) - 1) < 1e-7
    assert np.all(normalized_advantages(np.full(4, 2.5), np.ones(4)) == 0)


def test_adam_moments_persist_across_iterations(rng):
    mdp = random_mdp(rng, S=4, A=3, gamma=0.9)
    policy = tpg.TabularSoftmax(4, 3)
    ppo = PPO()
    state0 = ppo.start(policy, policy.initial())
    assert isinstance(state0, AdamState) and state0.k == 0
    theta1, state1 = ppo.update(policy, policy.initial(), ExactOracle(mdp), state0, np.random.default_rng(0))
    assert state1.k == ppo.epochs * ppo.minibatches and np.any(state1.v > 0)
    carried, state2 = ppo.update(policy, theta1, ExactOracle(mdp), state1, np.random.default_rng(1))
    fresh, _ = ppo.update(policy, theta1, ExactOracle(mdp), ppo.start(policy, theta1), np.random.default_rng(1))
    assert state2.k == 2 * state1.k and not np.allclose(carried, fresh)
    hist = run(ppo, mdp, policy, policy.initial(), ExactOracle(mdp), 2, rng=np.random.default_rng(7))
    step_rng = np.random.default_rng(7)                              # run passes its rng to every update
    t1, s1 = ppo.update(policy, policy.initial(), ExactOracle(mdp), ppo.start(policy, policy.initial()), step_rng)
    t2, _ = ppo.update(policy, t1, ExactOracle(mdp), s1, step_rng)
    np.testing.assert_array_equal(hist.theta[2], t2)
    with pytest.raises(ValueError):
        state1.m[0] = 1.0


def test_target_kl_stops_the_epochs_early(rng):
    mdp = random_mdp(rng, S=4, A=3, gamma=0.9)
    policy = tpg.TabularSoftmax(4, 3)
    ppo = PPO(target_kl=1e-9)
    theta, state = ppo.update(policy, policy.initial(), ExactOracle(mdp), ppo.start(policy, policy.initial()),
                              np.random.default_rng(0))
    assert state.k == ppo.minibatches                                # one epoch, then the KL exceeded 1e-9
    data = ExactOracle(mdp).query(policy, policy.initial()).dataset()
    assert sample_kl(policy, theta, data) > 1e-9 and sample_kl(policy, policy.initial(), data) == 0.0


def test_sampled_ppo_with_defaults_reaches_ninety_percent_of_the_optimum_on_the_garnet():
    """Tour garnet, n = 50: measured 0.9 J* after 4 iterations (200 trajectories) on each of
    seeds 0-4 (algorithm rng 100-104); K = 10 iterations is a 2.5x margin.  Every iteration moves theta."""
    mdp = mdps.from_spec("garnet:S=10,A=3,b=3,seed=0,gamma=0.9")
    policy = tpg.TabularSoftmax(10, 3)
    J_star = tpg.optimum(mdp).J
    reached = 0
    for seed in range(5):
        oracle = SampledOracle(mdp, n=50, rng=np.random.default_rng(seed))
        with warnings.catch_warnings():
            warnings.simplefilter("error")                           # no no-op warning may occur here
            hist = run(PPO(), mdp, policy, policy.initial(), oracle, 10, rng=np.random.default_rng(100 + seed))
        assert np.all(np.any(np.diff(hist.theta, axis=0) != 0, axis=1))
        reached += hist.J.max() >= 0.9 * J_star
    assert reached >= 4


def test_a_batch_without_signal_warns_and_leaves_theta_unchanged():
    """Chain H=12 from the uniform policy: P(any reward in 50 episodes) < 1e-4, so every
    advantage is exactly 0 -- the update must say so rather than silently do nothing."""
    mdp = mdps.chain(12)
    policy = tpg.TabularSoftmax(mdp.n_states, 3, horizon=12)
    oracle = SampledOracle(mdp, 50, rng=np.random.default_rng(0))
    ppo = PPO()
    with pytest.warns(tpg.ConvergenceWarning, match="no learning signal"):
        theta, state = ppo.update(policy, policy.initial(), oracle, ppo.start(policy, policy.initial()),
                                  np.random.default_rng(0))
    assert np.all(theta == policy.initial()) and state.k == 0


@pytest.mark.parametrize("kwargs, error, name", [
    (dict(minibatches=0), ValueError, "minibatches"), (dict(max_grad_norm=0.0), ValueError, "max_grad_norm"),
    (dict(target_kl=-0.01), ValueError, "target_kl"), (dict(normalize="yes"), TypeError, "normalize"),
    (dict(step=float("inf")), ValueError, "step"), (dict(entropy=-0.01), ValueError, "entropy"),
    (dict(entropy="0.01"), TypeError, "entropy"),
])
def test_bad_ppo_parameters_are_named(kwargs, error, name):
    with pytest.raises(error, match=name):
        PPO(**kwargs)


def test_exact_ppo_learns_when_a_minibatch_holds_one_state_action_pair():
    """The exact oracle's dataset of a 2-state, 2-action MDP has 4 rows, so 4 minibatches hold one
    row each; normalising a single advantage by its own spread zeroed it and PPO never moved
    (the tour's value polytope showed PPO's path ending where it started)."""
    P = np.array([[[0.7, 0.3], [0.2, 0.8]], [[0.99, 0.01], [0.99, 0.01]]])
    mdp = tpg.FiniteMDP(P, np.array([[-0.45, -0.1], [0.5, 0.5]]), [0.5, 0.5], gamma=0.9)
    policy = tpg.TabularSoftmax(2, 2)
    hist = tpg.run(tpg.PPO(), mdp, policy, np.array([0.0, 3.0, 0.0, 3.0]), tpg.ExactOracle(mdp), 30,
                   rng=np.random.default_rng(0))
    assert hist.J[1] > hist.J[0] + 0.1
    assert hist.J[-1] > tpg.optimum(mdp).J - 1e-3


def test_a_repeated_convergence_warning_is_shown_once_with_its_count():
    mdp = tpg.FiniteMDP(np.ones((1, 2, 1)), np.array([[1.0, 1.0]]), [1.0], gamma=0.5)   # no action is better
    policy = tpg.TabularSoftmax(1, 2)
    with pytest.warns(tpg.ConvergenceWarning) as record:
        tpg.run(tpg.PPO(), mdp, policy, np.array([0.0, 0.0]), tpg.ExactOracle(mdp), 6, rng=np.random.default_rng(0))
    texts = [str(w.message) for w in record]
    assert len(texts) == 2 and "repeated at 5 more iterations (2..6)" in texts[1]
