"""Reward-weighted regression / EM ("Lecture 6: The Policy Gradient" §3.4, §5; Peters & Schaal 2007).

The exact E-step counts N(s,a) = E[R(tau) sum_t 1{s_t=s, a_t=a}] against brute force (every
trajectory enumerated on a finite horizon; the double series sum_{t,t'} gamma^max(t,t')
E[1{s_t=s,a_t=a} r_t'] of the terminating chain, truncated where gamma^t < 1e-30, otherwise),
agreeing to 1e-10 relative; the sampled counts against the exact ones within 5 standard errors;
the EM bound of eq. (39) and the monotone improvement on every iterate; the fixed point against PG's.
"""
import itertools
import warnings

import numpy as np
import pytest
from conftest import episodic_mdp, random_mdp

import mdps
import tabular_pg as tpg
from tabular_pg.algorithms import PolicyGradient
from tabular_pg.algorithms.rwr import RewardWeightedRegression, em_lower_bound, return_weighted_counts


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def enumerate_counts(mdp, pi):
    """Exact mean and variance of X_h(s,a) = R(tau) 1{s_h=s, a_h=a} over every trajectory (finite horizon)."""
    S, A, H = mdp.n_states, mdp.n_actions, mdp.horizon
    pis = np.broadcast_to(pi, (H, S, A))
    mean, second = np.zeros((H, S, A)), np.zeros((H, S, A))
    for path in itertools.product(range(S), range(A), repeat=H):
        s, a = path[0::2], path[1::2]
        p = mdp.mu[s[0]] * np.prod([pis[h, s[h], a[h]] for h in range(H)]) \
            * np.prod([mdp.P[s[h], a[h], s[h + 1]] for h in range(H - 1)])
        R = sum(mdp.gamma ** h * mdp.R[s[h], a[h]] for h in range(H))
        for h in range(H):
            mean[h, s[h], a[h]] += p * R
            second[h, s[h], a[h]] += p * R * R
    return mean, second - mean ** 2


def future_counts(mdp, pi, T=400):
    """The rewards-from-t part: sum_t P(s_t, a_t) sum_k gamma^(t+k) E[r_{t+k} | s_t, a_t], summed term by term."""
    S, g = mdp.n_states, mdp.gamma
    live = np.ones(S)
    if g == 1:
        live[mdp.terminal_states()] = 0.0
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    g_k, reward_k = mdp.R * live[:, None], []                # E[r_{t+k} | s_t, a_t], k = 0, 1, ...
    for _ in range(T):
        reward_k.append(g_k)
        g_k = np.einsum("sat,t->sa", mdp.P, (pi * g_k).sum(axis=1) * live)
    to_go = sum(g ** k * reward_k[k] for k in range(T))
    p, N = mdp.mu * live, np.zeros_like(pi)
    for t in range(T):
        N += g ** t * p[:, None] * pi * to_go
        p = p @ P_pi * live
    return N


def past_counts(mdp, pi, T=400):
    """The rewards-before-t part: sum_t gamma^t sum_{t'<t} E[r_t' 1{s_t=s}] pi(a|s), by forward propagation."""
    S, g = mdp.n_states, mdp.gamma
    live = np.ones(S)
    if g == 1:
        live[mdp.terminal_states()] = 0.0
    p, u, total = mdp.mu * live, np.zeros(S), np.zeros(S)
    for t in range(T):              # u = E[1{s_t = s} sum_{t'<t} r_t'] (undiscounted), p = P(s_t = s)
        total += g ** t * u
        step = pi[:, :, None] * mdp.P                       # P(a, s' | s)
        u, p = np.einsum("s,sat->t", u, step) * live + np.einsum("s,sa,sat->t", p, mdp.R, step) * live, \
            np.einsum("s,sat->t", p, step) * live
    return total[:, None] * pi


@pytest.mark.parametrize("kind", ["stationary", "per-step"])
def test_exact_counts_equal_the_enumeration_of_every_trajectory(rng, kind):
    mdp = random_mdp(rng, S=2, A=2, gamma=0.9, horizon=3)
    mdp = mdp.with_(R=np.abs(mdp.R))
    policy = tpg.TabularSoftmax(2, 2, horizon=3 if kind == "per-step" else None)
    theta = rng.normal(size=policy.n_params)
    N, J = return_weighted_counts(tpg.ExactOracle(mdp).query(policy, theta))
    mean, _ = enumerate_counts(mdp, policy.probs(theta))
    assert rel(N, mean if kind == "per-step" else mean.sum(axis=0)) < 1e-12
    assert J == pytest.approx(tpg.evaluate(mdp, policy.probs(theta)).J, rel=1e-12)


@pytest.mark.parametrize("kind", ["discounted", "episodic"])
def test_exact_counts_equal_the_series_of_the_terminating_chain(rng, kind):
    mdp = random_mdp(rng, S=4, A=2, gamma=0.8) if kind == "discounted" else episodic_mdp(rng, S=4, A=2)
    mdp = mdp.with_(R=np.abs(mdp.R))
    policy = tpg.TabularSoftmax(4, 2)
    theta = rng.normal(size=8)
    pi = policy.probs(theta)
    ev = tpg.evaluate(mdp, pi)
    N, _ = return_weighted_counts(tpg.ExactOracle(mdp).query(policy, theta))
    future = future_counts(mdp, pi)
    assert rel(future, ev.visits[:, None] * pi * ev.Q) < 1e-10      # the series' rewards-from-t part
    assert rel(N, future + past_counts(mdp, pi)) < 1e-10


@pytest.mark.parametrize("kind", ["stationary", "per-step"])
def test_sampled_counts_agree_with_the_exact_ones_within_five_standard_errors(rng, kind):
    """Finite horizon: the exact variance of each count from the enumeration; n = 20,000 trajectories."""
    mdp = random_mdp(rng, S=2, A=2, gamma=0.9, horizon=3)
    mdp = mdp.with_(R=np.abs(mdp.R))
    policy = tpg.TabularSoftmax(2, 2, horizon=3 if kind == "per-step" else None)
    theta = rng.normal(size=policy.n_params)
    n = 20_000
    oracle = tpg.SampledOracle(mdp, n, rng=np.random.default_rng(7))
    N_hat, _ = return_weighted_counts(oracle.query(policy, theta))
    moments = enumerate_counts if kind == "per-step" else stationary_moments
    mean, var = moments(mdp, policy.probs(theta))
    assert np.all(np.abs(N_hat - mean) <= 5 * np.sqrt(var / n))


def stationary_moments(mdp, pi):
    """Exact mean and variance of X(s,a) = R(tau) sum_h 1{s_h=s, a_h=a} (enumeration, stationary pi)."""
    S, A, H = mdp.n_states, mdp.n_actions, mdp.horizon
    mean, second = np.zeros((S, A)), np.zeros((S, A))
    for path in itertools.product(range(S), range(A), repeat=H):
        s, a = path[0::2], path[1::2]
        p = mdp.mu[s[0]] * np.prod([pi[s[h], a[h]] for h in range(H)]) \
            * np.prod([mdp.P[s[h], a[h], s[h + 1]] for h in range(H - 1)])
        R = sum(mdp.gamma ** h * mdp.R[s[h], a[h]] for h in range(H))
        X = np.zeros((S, A))
        np.add.at(X, (list(s), list(a)), R)
        mean += p * X
        second += p * X * X
    return mean, second - mean ** 2


def test_sampled_counts_of_the_terminating_chain(rng):
    """Infinite horizon: the batch's weights sum_t' gamma^max(t,t') r_t' against the exact counts, within
    5 standard errors of the batch (the per-trajectory sums are i.i.d.; their variance is estimated from
    the 40,000 trajectories, no closed form being at hand); the rollout's truncation bias (<= 1e-6) is far below."""
    mdp = random_mdp(rng, S=3, A=2, gamma=0.7)
    mdp = mdp.with_(R=np.abs(mdp.R))
    policy, theta = tpg.TabularSoftmax(3, 2), rng.normal(size=6)
    n = 40_000
    answers = tpg.SampledOracle(mdp, n, rng=np.random.default_rng(3)).query(policy, theta)
    N_hat, J_hat = return_weighted_counts(answers)
    N, J = return_weighted_counts(tpg.ExactOracle(mdp).query(policy, theta))
    traj = answers.traj
    r = np.where(traj.mask, traj.rewards, 0.0)
    disc = traj.discounts
    w = disc * (np.cumsum(r, axis=1) - r) + np.cumsum((r * disc)[:, ::-1], axis=1)[:, ::-1]
    X = np.zeros((n, 3 * 2))
    np.add.at(X, (np.repeat(np.arange(n), traj.T), (traj.states * 2 + traj.actions).ravel()), (w * traj.mask).ravel())
    se = X.std(axis=0).reshape(3, 2) / np.sqrt(n)
    assert np.allclose(X.mean(axis=0).reshape(3, 2), N_hat, rtol=1e-12, atol=0)
    assert np.all(np.abs(N_hat - N) <= 5 * se)
    assert abs(J_hat - J) <= 5 * traj.returns().std() / np.sqrt(n)


EM_CASES = {
    "discounted garnet": lambda rng: (mdps.garnet(8, 3, 2, seed=5, gamma=0.9), 0.0),
    "negative rewards, shifted": lambda rng: (random_mdp(rng, S=5, A=3, gamma=0.8), 3.0),
    "finite horizon": lambda rng: (random_mdp(rng, S=4, A=3, gamma=0.95, horizon=5).with_(R=rng.random((4, 3))), 0.0),
    "episodic": lambda rng: (episodic_mdp(rng, S=5, A=3).with_(R=np.r_[rng.random((4, 3)), np.zeros((1, 3))]), 0.0),
}


@pytest.mark.parametrize("case", sorted(EM_CASES))
def test_the_em_bound_and_monotone_improvement_hold_on_every_iterate(rng, case):
    """log J'(pi_t+1) >= L(pi_t+1; q_t) >= L(pi_t; q_t) = log J'(pi_t), eq. (39)-(40), at 1e-12 relative.

    J' is the exact objective of the shifted rewards, J + shift * E[T] (from evaluate, independently)."""
    mdp, shift = EM_CASES[case](rng)
    assert (mdp.R + shift).min() >= 0
    policy = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    oracle, alg = tpg.ExactOracle(mdp), RewardWeightedRegression(shift=shift)
    steps = sum(mdp.gamma ** h for h in range(mdp.horizon)) if mdp.horizon else 1 / (1 - mdp.gamma) if shift else 0.0
    extra = shift * steps                 # E[sum_t gamma^t shift] (finite horizon) or shift E[T] = shift / (1 - gamma)
    theta = policy.initial()
    for _ in range(40):
        answers = oracle.query(policy, theta)
        N, J_t = return_weighted_counts(answers, shift)
        assert J_t == pytest.approx(answers.J + extra, rel=1e-12)
        assert em_lower_bound(N, J_t, answers.pi, answers.pi) == pytest.approx(np.log(J_t), rel=1e-12)
        theta, _ = alg.update(policy, theta, oracle, None, None)
        pi_new = policy.probs(theta)
        bound = em_lower_bound(N, J_t, answers.pi, pi_new)
        J_new = tpg.evaluate(mdp, pi_new).J + extra
        assert np.log(J_new) >= bound - 1e-12 * abs(bound)
        assert bound >= np.log(J_t) - 1e-12 * abs(bound)


def test_the_fixed_point_is_policy_gradient_s():
    """RWR's fixed points have A = 0 on the support (a stationary point of J); from the uniform
    policy it reaches the optimum that PG reaches (measured: gap 2e-9, |grad J| 3e-9 after 500)."""
    mdp = mdps.garnet(6, 3, 2, seed=4, gamma=0.5)
    policy = tpg.TabularSoftmax(6, 3)
    oracle = tpg.ExactOracle(mdp)
    rwr = tpg.run(RewardWeightedRegression(), mdp, policy, policy.initial(), oracle, 500)
    with warnings.catch_warnings():      # PG may reach the deterministic optimum to rounding and stop moving
        warnings.simplefilter("ignore", tpg.ConvergenceWarning)
        pg = tpg.run(PolicyGradient(), mdp, policy, policy.initial(), oracle, 500)
    J_star = tpg.optimum(mdp).J
    assert np.all(np.diff(rwr.J) >= -1e-12 * abs(J_star))
    assert rwr.J[-1] >= J_star - 1e-7 and pg.J[-1] >= J_star - 1e-12
    assert np.abs(rwr.pi[-1] - pg.pi[-1]).max() < 1e-5
    assert np.linalg.norm(tpg.policy_gradient(mdp, policy, rwr.theta[-1])) < 1e-7


def test_the_m_step_of_a_direct_policy_and_of_a_bandit():
    """One step on a bandit: pi_new(a) = pi(a) r(a) / sum_b pi(b) r(b) (N = pi r, rho = 0)."""
    mdp = mdps.bandit([0.2, 0.5, 0.9])
    direct = tpg.Direct(1, 3)
    theta = np.array([0.5, 0.3, 0.2])
    new, _ = RewardWeightedRegression().update(direct, theta, tpg.ExactOracle(mdp), None, None)
    want = theta * [0.2, 0.5, 0.9]
    assert np.allclose(new, want / want.sum(), rtol=1e-14, atol=0)


def test_with_a_sampled_oracle_it_learns_a_bandit():
    """From weighted counts of 200 sampled pulls per iteration; seeded, J measured exactly."""
    mdp = mdps.bandit([0.2, 0.5, 0.9])
    policy = tpg.TabularSoftmax(1, 3)
    oracle = tpg.SampledOracle(mdp, 200, rng=np.random.default_rng(0))
    hist = tpg.run(RewardWeightedRegression(), mdp, policy, policy.initial(), oracle, 30)
    assert hist.J[0] == pytest.approx(1.6 / 3) and hist.J[-1] > 0.89


def test_negative_returns_and_bad_settings_are_refused(rng):
    mdp = random_mdp(rng, S=3, A=2, gamma=0.8)                  # normal rewards: some negative
    policy = tpg.TabularSoftmax(3, 2)
    with pytest.raises(ValueError, match="non-negative returns; found the reward"):
        RewardWeightedRegression().update(policy, policy.initial(), tpg.ExactOracle(mdp), None, None)
    with pytest.raises(ValueError, match="non-negative returns; found the sampled return"):
        RewardWeightedRegression().update(policy, policy.initial(),
                                          tpg.SampledOracle(mdp, 50, rng=np.random.default_rng(0)), None, None)
    episodic = episodic_mdp(rng, S=4, A=2)
    with pytest.raises(ValueError, match="shift must be 0 with gamma = 1"):
        RewardWeightedRegression(shift=1.0).update(tpg.TabularSoftmax(4, 2), np.zeros(8),
                                                   tpg.ExactOracle(episodic), None, None)
    with pytest.raises(TypeError, match="closed-form M-step"):
        ok = mdp.with_(R=np.abs(mdp.R))
        RewardWeightedRegression().update(tpg.LogLinear(np.ones((3, 2, 1))), np.zeros(1), tpg.ExactOracle(ok),
                                          None, None)
    with pytest.raises(TypeError, match="shift"):
        RewardWeightedRegression(shift="1")
    with pytest.raises(ValueError, match="shift must be finite"):
        RewardWeightedRegression(shift=np.inf)
