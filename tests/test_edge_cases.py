"""Numerical edge cases (issue 8): huge logits, zero-probability actions, gamma near 1 on a
large MDP, nearly singular episodic systems, horizon 1, one state and one action.

The rule checked everywhere: a result is finite and right, or ``inf`` where the quantity
is infinite (a KL divergence against an action of probability 0), or a clear
``ValueError``; never NaN, and never a silent loss of precision (a ``PrecisionWarning``
carrying the measured residual).
"""
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import mdps
import tabular_pg as tpg
from tabular_pg.exact import rational
from tabular_pg.exact.linsolve import RESIDUAL_WARN
from tabular_pg.sampled import estimators as est
from tabular_pg.sampled.registry import estimate, estimator_moments

EPS = np.finfo(float).eps
HUGE = np.array([1.7e308, 0.0, -1.7e308,      # logits spanning more than the float range
                 800.0, 801.0, -800.0,        # exp would overflow without the shift
                 -1e300, -1e300, 5.0])        # two actions underflow to probability 0


def huge_setup():
    mdp = mdps.garnet(3, 3, 2, seed=5, gamma=0.9)
    return mdp, tpg.TabularSoftmax(3, 3), HUGE


def all_finite(*xs):
    return all(np.all(np.isfinite(np.asarray(x, dtype=float))) for x in xs)


def test_huge_logits_give_finite_probabilities_scores_and_products():
    _, pol, th = huge_setup()
    pi = pol.probs(th)
    np.testing.assert_array_equal(pi[0], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(pi[2], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(pi[1, :2], [1 / (1 + np.e), np.e / (1 + np.e)], rtol=1e-14)
    logp = pol.log_probs(th)
    assert not np.isnan(logp).any()
    assert np.all(pi[np.isneginf(logp)] == 0) and np.all(np.isfinite(logp[pi > 0]))
    W = np.arange(9.0).reshape(3, 3)
    assert all_finite(pol.score(th), pol.jacobian(th), pol.vjp(th, W), pol.fisher_blocks(th, np.ones(3)),
                      pol.fisher(th, np.ones((3, 3))))
    # the score e_a - pi_s is bounded by 2 in every entry whatever theta is
    assert np.abs(pol.score(th)).max() <= 1.0 + 1e-15


def test_huge_logits_flow_through_exact_gradients_and_kl():
    mdp, pol, th = huge_setup()
    g = tpg.policy_gradient(mdp, pol, th)
    F = tpg.fisher_information(mdp, pol, th)
    assert all_finite(g, F, tpg.natural_gradient(mdp, pol, th), tpg.natural_gradient(mdp, pol, th, damping=1e-3))
    # a deterministic state has no gradient: pi (1 - pi) = 0 in every coordinate of state 0 and 2
    assert np.all(g.reshape(3, 3)[[0, 2]] == 0.0)
    pi, flipped = pol.probs(th), pol.probs(-th)
    assert tpg.kl_divergence(mdp, pi, flipped) == np.inf                # pi takes actions flipped never does
    kl = tpg.kl_divergence(mdp, pi, tpg.policies.softmax(np.zeros((3, 3))))
    assert np.isfinite(kl) and kl > 0                                   # 0 log 0 = 0, never NaN


def test_huge_logits_flow_through_sampled_estimators_and_their_exact_moments():
    mdp, pol, th = huge_setup()
    finite = mdp.with_(horizon=4)
    traj = tpg.rollout(finite, pol.probs(th), 200, np.random.default_rng(0))
    pi = pol.probs(th)
    assert np.all(pi[traj.states, traj.actions] > 0)                    # zero-probability actions never drawn
    for baseline in (None, 1.5, "value", "optimal", "fitted"):
        assert all_finite(est.reinforce(traj, pol, th, reward_to_go=True, baseline=baseline, mdp=finite))
    assert all_finite(est.qvalue(traj, pol, th, finite, advantage=True), est.gae(traj, pol, th, 0.7, mdp=finite),
                      est.fisher(traj, pol, th))
    g = tpg.policy_gradient(finite, pol, th)
    for name, options in [("reinforce", {"baseline": "optimal"}), ("qvalue", {}), ("gae", {"lam": 0.5})]:
        mean, cov = estimator_moments(finite, pol, th, name, **options)
        assert all_finite(mean, cov)
        # unbiased: mean = gradient up to rounding of sums of H*S*A terms of size <= rmax*H
        assert np.abs(mean - g).max() <= 1e3 * EPS * finite.horizon ** 2


def test_log_linear_with_large_but_finite_logits():
    phi = np.arange(12.0).reshape(2, 3, 2) - 5.0
    pol = tpg.LogLinear(phi)
    th = np.array([1e300, -1e300])                    # logits up to ~1e301, differences exceed nothing
    mdp = mdps.garnet(2, 3, 2, seed=1, gamma=0.5)
    assert all_finite(pol.probs(th), pol.score(th), tpg.policy_gradient(mdp, pol, th),
                      tpg.fisher_information(mdp, pol, th))


def test_actions_of_probability_zero():
    mdp = mdps.garnet(3, 3, 2, seed=2, gamma=0.8)
    pol = tpg.Direct(3, 3)
    p = np.array([1.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.2, 0.3, 0.5])
    # dJ/dpi = d~(s) Q(s, a) is defined for every action, taken or not
    assert all_finite(tpg.policy_gradient(mdp, pol, p))
    # the score (and so the Fisher matrix and score-based estimators) is not: a clear error
    with pytest.raises(ValueError, match=r"the score of a Direct policy is undefined where pi\(a\|s\) = 0"):
        tpg.fisher_information(mdp, pol, p)
    with pytest.raises(ValueError, match=r"undefined where pi\(a\|s\) = 0"):
        est.reinforce(tpg.rollout(mdp, pol.probs(p), 5, np.random.default_rng(0)), pol, p)
    uniform = np.full((3, 3), 1 / 3)
    assert tpg.kl_divergence(mdp, uniform, pol.probs(p)) == np.inf
    kl = tpg.kl_divergence(mdp, pol.probs(p), uniform)
    assert np.isfinite(kl) and kl > 0
    ev = tpg.evaluate(mdp, pol.probs(p))
    assert ev.d_sa[0, 1] == 0.0 and all_finite(ev.Q, ev.A)               # Q of untaken actions is defined


def warned_evaluate(mdp, pi, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ev = tpg.evaluate(mdp, pi, **kw)
    return ev, [w for w in caught if issubclass(w.category, tpg.PrecisionWarning)]


def backward_error(M, x, b):
    """Normwise backward error ||b - Mx|| / (||M|| ||x|| + ||b||) in the max-norm (Rigal & Gaches 1967)."""
    norm_M = abs(M).sum(axis=1).max()
    return float(np.abs(b - M @ x).max() / (norm_M * np.abs(x).max() + np.abs(b).max()))


def assert_certified(ev, warned):
    """The residual certificate holds, or a PrecisionWarning reported the measured residual."""
    assert np.isfinite(ev.residual)
    if ev.residual > RESIDUAL_WARN:
        assert warned, f"residual {ev.residual:.2e} > {RESIDUAL_WARN:g} without a PrecisionWarning"
        assert re.search(f"relative residual {ev.residual:.2e}", str(warned[0].message))
    else:
        assert not warned


def test_gamma_near_one_on_a_5000_state_garnet_is_certified_or_warned():
    S, gamma = 5000, 0.9999
    mdp = mdps.garnet(S, 3, 3, seed=1, gamma=gamma)
    pi = tpg.policies.softmax(np.random.default_rng(0).normal(size=(S, 3)))
    ev, warned = warned_evaluate(mdp, pi)
    assert_certified(ev, warned)
    # independent check of both solves: backward errors at the level a backward-stable
    # solve guarantees (linsolve stops at 1e-14; 10x for recomputing the residual here)
    M = sp.identity(S, format="csr") - gamma * tpg.transition_matrix(mdp, pi)
    assert backward_error(M, ev.V, (pi * mdp.R).sum(axis=1)) <= 1e-13
    assert backward_error(M.T.tocsr(), ev.visits, mdp.mu) <= 1e-13
    assert abs(ev.d.sum() - 1.0) <= 1e-10 and ev.d.min() >= 0


def slow_ring(n, p, sparse):
    """n transient states in a ring, each step ends the episode w.p. p (terminal state n); reward 1 a step.

    Every transient state has V = sum_t (1-p)^t = 1/p and expected episode length 1/p.
    """
    rows = np.r_[np.arange(n), np.arange(n), n]
    cols = np.r_[(np.arange(n) + 1) % n, np.full(n, n), n]
    vals = np.r_[np.full(n, 1 - p), np.full(n, p), 1.0]
    P = sp.csr_matrix((vals, (rows, cols)), shape=(n + 1, n + 1))
    R = np.r_[np.ones(n), 0.0][:, None]
    mu = np.r_[np.ones(n) / n, 0.0]
    return tpg.FiniteMDP(P if sparse else P.toarray()[:, None, :], R, mu, gamma=1.0)


@pytest.mark.parametrize("n, sparse", [(5, False), (3000, True)])
def test_nearly_singular_episodic_system(n, sparse):
    p = 1e-6
    mdp = slow_ring(n, p, sparse)
    ev, warned = warned_evaluate(mdp, np.ones((n + 1, 1)))
    assert_certified(ev, warned)
    # a posteriori bound (Higham 2002, Thm 7.2): rel. error <= 2 kappa eta / (1 - kappa eta), with
    # kappa_inf(I - P_TT) = ||I - P_TT|| ||(I - P_TT)^-1|| = 2 / p and eta the backward error; the
    # residual computed here in floating point is itself exact only to gamma_3 (|M||x| + |b|)
    # (two entries a row plus b; Higham Lemma 3.5), so 3 eps are added to the computed eta
    M = sp.identity(n, format="csr") - sp.csr_matrix(mdp.P_sa)[:n, :n]
    eta = backward_error(M, ev.V[:n], np.ones(n)) + 3 * EPS
    kappa = 2 / p
    assert kappa * eta < 0.5
    assert np.abs(ev.V[:n] * p - 1).max() <= 2 * kappa * eta / (1 - kappa * eta) + 4 * EPS
    assert abs(ev.visits.sum() * p - 1) <= 2 * kappa * eta / (1 - kappa * eta) + n * EPS
    assert ev.V[n] == 0.0 and ev.visits[n] == 0.0


def test_nearly_singular_episodic_system_against_the_rational_oracle():
    mdp = slow_ring(4, 1e-6, sparse=False)
    pi = np.ones((5, 1))
    exact = rational.evaluate(mdp, pi).to_float()
    ev, warned = warned_evaluate(mdp, pi)
    assert_certified(ev, warned)
    # forward error <= 2 kappa eta with kappa = 2e6 and eta for dense LU of a 4x4 system at most
    # gamma_4 growth * few eps (Higham Thm 9.4), taken as 16 eps
    np.testing.assert_allclose(ev.V, exact["V"], rtol=2 * 2e6 * 16 * EPS)
    np.testing.assert_allclose(ev.visits, exact["visits"], rtol=2 * 2e6 * 16 * EPS)


def tiny_cases():
    one = tpg.FiniteMDP(np.ones((1, 1, 1)), [[1.5]], [1.0], gamma=0.5)
    two_actions = tpg.FiniteMDP(np.ones((1, 2, 1)), [[1.0, -1.0]], [1.0], gamma=1.0, horizon=1)
    return {"S=A=1 discounted": one, "S=A=1 horizon 1": one.with_(horizon=1), "S=1, A=2 horizon 1": two_actions,
            "S=A=1 gamma 0": one.with_(gamma=0.0)}


@pytest.mark.parametrize("name", sorted(tiny_cases()))
def test_one_state_one_action_and_horizon_one(name):
    mdp = tiny_cases()[name]
    S, A = mdp.n_states, mdp.n_actions
    pol = tpg.TabularSoftmax(S, A)
    th = np.linspace(-0.5, 0.5, S * A)
    pi = pol.probs(th)
    ev = tpg.evaluate(mdp, pi)
    r_pi = float((pi * mdp.R).sum())
    scale = 1 / (1 - mdp.gamma) if mdp.horizon is None else 1.0
    assert ev.J == pytest.approx(r_pi * scale, rel=1e-15)
    assert float(rational.evaluate(mdp, pi).J) == pytest.approx(ev.J, rel=1e-15)
    g = tpg.policy_gradient(mdp, pol, th)
    # one state, one step of value: dJ/dtheta_a = scale * pi_a (r_a - r_pi)
    np.testing.assert_allclose(g, scale * pi[0] * (mdp.R[0] - r_pi), rtol=1e-13, atol=1e-15)
    assert all_finite(tpg.fisher_information(mdp, pol, th), tpg.natural_gradient(mdp, pol, th),
                      tpg.trust_region_step(mdp, pol, th, 0.1))
    assert tpg.kl_divergence(mdp, pi, pi) == 0.0
    assert tpg.optimum(mdp).J == pytest.approx(mdp.R.max() * scale, rel=1e-15)
    traj = tpg.rollout(mdp, pi, 50, np.random.default_rng(0))
    m = mdp if mdp.horizon is not None else mdp.with_(horizon=traj.T)
    for estimator, options in [("reinforce", {"baseline": "value", "mdp": mdp}), ("qvalue", {"mdp": mdp}),
                               ("gae", {"lam": 0.5, "mdp": mdp}), ("fisher", {})]:
        assert all_finite(estimate(traj, pol, th, estimator, **options))
        mean, cov = estimator_moments(m, pol, th, estimator, **{k: v for k, v in options.items() if k != "mdp"})
        assert all_finite(mean, cov)
    if A == 1:                                          # no choice, no gradient, no variance
        assert np.all(g == 0) and np.all(estimator_moments(m, pol, th)[1] == 0)


def test_kl_of_near_deterministic_policies_never_rounds_below_zero():
    # found by the thorough hypothesis profile of tests/test_invariants.py: sum p log(p/q) gave
    # -6e-28 for these rows, p = (1, 1.3e-27, 1.2e-32), q = (1, 2.0e-27, 1.2e-32); the KL is 1.7e-28
    mdp = tpg.FiniteMDP(np.ones((1, 3, 1)), np.zeros((1, 3)), [1.0], gamma=0.0)
    pol = tpg.TabularSoftmax(1, 3)
    theta = np.array([66.45999033, 4.51573226, -7.05261589])
    other = theta + np.random.default_rng(1).normal(size=3)
    p, q = pol.probs(theta), pol.probs(other)
    kl = tpg.kl_divergence(mdp, p, q)
    # reference from the log-probabilities, where the small entries keep their precision:
    # KL = sum_a p_a (log p_a - log q_a), with the a0 term p0 (log p0 - log q0) = log1p(-x) - log1p(-y)
    lp, lq = pol.log_probs(theta)[0], pol.log_probs(other)[0]
    x, y = p[0, 1:].sum(), q[0, 1:].sum()
    reference = p[0, 0] * (np.log1p(-x) - np.log1p(-y)) + (p[0, 1:] * (lp[1:] - lq[1:])).sum()
    # the two forms differ by O(x^2) = 1e-54 plus rounding of a few terms: 1e-12 relative
    assert 0.0 < kl and abs(kl - reference) <= 1e-12 * reference
    assert tpg.kl_divergence(mdp, p, p) == 0.0
