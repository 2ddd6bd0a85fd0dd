"""Invariants of the exact engine on hypothesis-generated MDPs and policies.

Generated: dense and sparse transitions; discounted, finite-horizon and gamma = 1
episodic MDPs; degenerate ones (one state, one action, deterministic transitions,
unreachable states, zero rewards); policies from uniform to near-deterministic.
"""
import numpy as np
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

import tabular_pg as tpg


@st.composite
def mdps_and_policies(draw, kind=None):
    S = draw(st.integers(1, 5))
    A = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = kind or draw(st.sampled_from(["discounted", "finite", "episodic"]))
    deterministic = draw(st.booleans())
    if deterministic:
        P = np.eye(S)[rng.integers(S, size=(S, A))]
    else:
        P = rng.random((S, A, S)) * (rng.random((S, A, S)) < 0.6)
        P[np.arange(S)[:, None], np.arange(A), rng.integers(S, size=(S, A))] += 0.1
        P /= P.sum(axis=2, keepdims=True)
    R = rng.normal(size=(S, A)) * draw(st.sampled_from([0.0, 1.0, 100.0]))
    mu = np.zeros(S)
    mu[: draw(st.integers(1, S))] = 1.0                        # later states may be unreachable
    gamma, horizon = draw(st.floats(0.0, 0.99)), None
    if kind == "finite":
        gamma, horizon = draw(st.sampled_from([0.5, 1.0])), draw(st.integers(1, 4))
    if kind == "episodic":
        gamma = 1.0
        P = np.concatenate([P * 0.7, np.full((S, A, 1), 0.3)], axis=2)   # terminate w.p. 0.3
        P = np.concatenate([P, np.eye(S + 1)[None, -1].repeat(A, 0)[None]], axis=0)
        R, mu = np.vstack([R, np.zeros((1, A))]), np.r_[mu, 0.0]
        S += 1
    if draw(st.booleans()):
        P = sp.csr_matrix(P.reshape(S * A, S))
    mdp = tpg.FiniteMDP(P, R, mu / mu.sum(), gamma=gamma, horizon=horizon)
    temperature = draw(st.sampled_from([0.0, 1.0, 5.0, 20.0]))
    theta = rng.normal(size=S * A) * temperature
    return mdp, tpg.TabularSoftmax(S, A), theta


def dense_P(mdp):
    return mdp.P_sa.toarray().reshape(mdp.n_states, mdp.n_actions, -1) if mdp.is_sparse else mdp.P


@given(mdps_and_policies())
def test_bellman_equation_visitation_and_zero_mean_advantage(case):
    mdp, policy, theta = case
    pi = policy.probs(theta)
    ev = tpg.evaluate(mdp, pi)
    P, scale = dense_P(mdp), 1 + np.abs(mdp.R).max() * (mdp.horizon or 1 / max(1e-12, 1 - mdp.gamma))
    if mdp.horizon is None:
        P_pi = np.einsum("sa,sat->st", pi, P)
        bellman = (pi * mdp.R).sum(1) + mdp.gamma * P_pi @ ev.V - ev.V
        assert np.abs(bellman).max() <= 1e-9 * scale
        assert abs(ev.d.sum() - 1) < 1e-9
    else:
        assert np.allclose(ev.d.sum(axis=1), 1, atol=1e-12)
        assert np.abs(ev.V[-1] - (pi * mdp.R).sum(1)).max() <= 1e-12 * scale
    assert np.abs((pi * ev.A).sum(axis=-1)).max() <= 1e-9 * scale
    assert np.all(ev.d >= -1e-15)


@given(mdps_and_policies())
def test_policy_gradient_theorem_against_finite_differences(case):
    mdp, policy, theta = case
    g = tpg.policy_gradient(mdp, policy, theta)
    eps = 1e-5
    J = lambda t: tpg.evaluate(mdp, policy.probs(t)).J  # noqa: E731
    fd = np.array([(J(theta + eps * e) - J(theta - eps * e)) / (2 * eps) for e in np.eye(theta.size)])
    scale = 1 + np.abs(mdp.R).max() * (mdp.horizon or 1 / (1 - min(mdp.gamma, 0.99))) ** 3
    assert np.abs(g - fd).max() <= 1e-7 * scale


@given(mdps_and_policies(), st.integers(0, 2**32 - 1))
def test_performance_difference_identity(case, seed):
    mdp, policy, theta = case
    other = theta + np.random.default_rng(seed).normal(size=theta.size) * 3
    p, q = policy.probs(theta), policy.probs(other)
    lhs = tpg.evaluate(mdp, q).J - tpg.evaluate(mdp, p).J
    scale = 1 + abs(tpg.evaluate(mdp, q).J) + abs(tpg.evaluate(mdp, p).J)
    assert abs(tpg.performance_difference(mdp, q, p) - lhs) <= 1e-10 * scale


@given(mdps_and_policies())
def test_fisher_is_symmetric_positive_semidefinite(case):
    mdp, policy, theta = case
    F = tpg.fisher_information(mdp, policy, theta)
    assert np.allclose(F, F.T, atol=1e-14)
    assert np.linalg.eigvalsh(F).min() >= -1e-12 * max(1.0, np.abs(F).max())


@given(mdps_and_policies(), st.integers(0, 2**32 - 1))
def test_kl_nonnegative_and_zero_only_for_equal_policies(case, seed):
    mdp, policy, theta = case
    p = policy.probs(theta)
    assert tpg.kl_divergence(mdp, p, p) == 0.0
    q = policy.probs(theta + np.random.default_rng(seed).normal(size=theta.size))
    kl = tpg.kl_divergence(mdp, p, q)
    assert kl >= 0.0
    d = tpg.evaluate(mdp, p).d
    visited_differ = np.any((d > 0)[..., None] & ~np.isclose(np.broadcast_to(p, d.shape + p.shape[-1:]), q,
                                                             rtol=0, atol=1e-12))
    if visited_differ:
        assert kl > 0.0
