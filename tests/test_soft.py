"""Entropy-regularised evaluation, gradient and optimum, each against an independent computation.

References: Cen, Cheng, Chen, Wei & Chi (2021), "Fast Global Convergence of Natural Policy
Gradient Methods with Entropy Regularization" (soft values, soft policy iteration); Mei, Xiao,
Szepesvári & Schuurmans (2020), Lemma 10 (the soft policy gradient).
"""
import numpy as np
import pytest
from scipy.special import logsumexp

import mdps
import tabular_pg as tpg
from tabular_pg.exact.soft import policy_entropy, soft_value_iteration

TAU = 0.3


def five_point(f, x, h=1e-3):
    """Central 5-point finite differences of a scalar function: truncation error O(h^4)."""
    def d(e):
        return (-f(x + 2 * e) + 8 * f(x + e) - 8 * f(x - e) + f(x - 2 * e)) / (12 * h)
    return np.array([d(e) for e in np.eye(x.size) * h])


@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_soft_optimum_matches_an_independent_soft_value_iteration(gamma):
    # soft policy iteration (linear solves) vs the soft Bellman contraction iterated to 1e-13
    mdp = mdps.garnet(20, 4, 3, seed=3, gamma=gamma)
    opt = tpg.optimum(mdp, entropy=TAU)
    V = soft_value_iteration(mdp, TAU, tol=1e-13)
    assert np.max(np.abs(opt.V - V)) <= 1e-12 * np.max(np.abs(V))


def test_soft_optimum_is_the_softmax_fixed_point():
    mdp = mdps.garnet(15, 3, 2, seed=1, gamma=0.95)
    opt = tpg.optimum(mdp, entropy=TAU)
    Q = mdp.R + mdp.gamma * (mdp.P @ opt.V)                       # independent backup, dense P (S, A, S)
    assert np.allclose(opt.Q, Q, rtol=1e-12, atol=1e-12)
    assert np.allclose(opt.V, TAU * logsumexp(Q / TAU, axis=1), rtol=1e-12, atol=0)
    assert np.allclose(opt.pi, np.exp((Q - opt.V[:, None]) / TAU), rtol=1e-11, atol=0)


def test_soft_J_is_J_plus_the_discounted_entropy_by_the_rational_oracle():
    # J_tau = J + tau * sum_s visits(s) H(pi(.|s)), with J and the visits exact rationals
    mdp = mdps.garnet(6, 3, 2, seed=2, gamma=0.9)
    pi = np.random.default_rng(0).dirichlet(np.ones(3), size=6)
    exact = tpg.rational.evaluate(mdp, pi)
    visits = np.array([float(v) for v in exact.visits])
    expected = float(exact.J) + TAU * visits @ policy_entropy(pi)
    assert tpg.evaluate(mdp, pi, entropy=TAU).J == pytest.approx(expected, rel=1e-12)


def test_soft_advantage_has_zero_mean_and_soft_V_is_consistent():
    mdp = mdps.garnet(8, 3, 2, seed=4)
    pi = np.random.default_rng(1).dirichlet(np.ones(3), size=8)
    ev = tpg.evaluate(mdp, pi, entropy=TAU)
    assert np.allclose((pi * ev.A).sum(axis=1), 0, atol=1e-12)
    assert np.allclose(ev.V, (pi * (ev.Q - TAU * np.log(pi))).sum(axis=1), rtol=1e-12)
    assert ev.entropy == TAU and tpg.evaluate(mdp, pi).entropy == 0.0


@pytest.mark.parametrize("case", ["discounted", "per-step finite horizon", "episodic"])
def test_soft_policy_gradient_matches_finite_differences_of_J_tau(case):
    if case == "discounted":
        mdp, pol = mdps.garnet(5, 3, 2, seed=0, gamma=0.9), tpg.TabularSoftmax(5, 3)
    elif case == "per-step finite horizon":
        mdp = mdps.chain(H=4)
        pol = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions, horizon=4)
    else:
        mdp = mdps.russell_norvig_grid()
        pol = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    tau = 0.01 if case == "episodic" else TAU
    theta = np.random.default_rng(2).normal(size=pol.n_params)
    g = tpg.policy_gradient(mdp, pol, theta, entropy=tau)
    fd = five_point(lambda th: tpg.evaluate(mdp, pol.probs(th), entropy=tau).J, theta)
    assert np.max(np.abs(g - fd)) <= 1e-9 * np.max(np.abs(g))        # O(h^4) = 1e-12 truncation + rounding


def test_soft_gradient_vanishes_at_the_soft_optimum():
    mdp = mdps.garnet(10, 3, 2, seed=5, gamma=0.9)
    opt = tpg.optimum(mdp, entropy=TAU)
    pol = tpg.TabularSoftmax(10, 3)
    assert np.max(np.abs(tpg.policy_gradient(mdp, pol, np.log(opt.pi).ravel(), entropy=TAU))) < 1e-12


def test_finite_horizon_soft_optimum_is_consistent_with_soft_evaluation():
    mdp = mdps.chain(H=5)
    opt = tpg.optimum(mdp, entropy=TAU)
    assert opt.pi.shape == (5, mdp.n_states, mdp.n_actions)
    assert tpg.evaluate(mdp, opt.pi, entropy=TAU).J == pytest.approx(opt.J, rel=1e-13)
    pol = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions, horizon=5)
    assert np.max(np.abs(tpg.policy_gradient(mdp, pol, np.log(opt.pi).ravel(), entropy=TAU))) < 1e-12


def test_the_regularised_optimum_tends_to_the_unregularised_one():
    # J* <= J*_tau <= J* + tau log A / (1 - gamma), and J(pi*_tau) >= J* - tau log A / (1 - gamma)
    mdp = mdps.garnet(12, 4, 3, seed=6, gamma=0.9)
    J_star, slack = tpg.optimum(mdp).J, np.log(4) / (1 - mdp.gamma)
    gaps = []
    for tau in (1.0, 0.1, 0.01, 0.001):
        opt = tpg.optimum(mdp, entropy=tau)
        J_pi = tpg.evaluate(mdp, opt.pi).J
        assert J_star - 1e-12 <= opt.J <= J_star + tau * slack + 1e-12
        assert J_pi >= J_star - tau * slack - 1e-12
        gaps.append(J_star - J_pi)
    assert gaps[-1] < 1e-3 * gaps[0] and np.all(np.diff(gaps) < 0)


def test_episodic_soft_optimum_is_finite_or_a_clear_error():
    mdp = mdps.russell_norvig_grid()                       # step reward -0.04, 4 actions
    opt = tpg.optimum(mdp, entropy=0.01)                    # 0.01 log 4 < 0.04: finite
    assert tpg.evaluate(mdp, opt.pi, entropy=0.01).J == pytest.approx(opt.J, rel=1e-12)
    with pytest.raises(ValueError, match="unbounded"):      # 0.05 log 4 > 0.04: episodes grow forever
        with pytest.warns(tpg.PrecisionWarning):            # the last solve, nearly singular, says so too
            tpg.optimum(mdp, entropy=0.05)


def test_bad_entropy_arguments():
    mdp = mdps.garnet(4, 2, 2, seed=0)
    pi, pol = np.full((4, 2), 0.5), tpg.TabularSoftmax(4, 2)
    with pytest.raises(ValueError, match="entropy"):
        tpg.evaluate(mdp, pi, entropy=-0.1)
    with pytest.raises(TypeError, match="entropy"):
        tpg.optimum(mdp, entropy="0.1")
    with pytest.raises(ValueError, match="entropy=0.0 but entropy=0.1"):
        tpg.policy_gradient(mdp, pol, pol.initial(), evaluation=tpg.evaluate(mdp, pi), entropy=0.1)
