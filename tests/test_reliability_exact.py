"""Reliability of the exact layer (issue 20): gamma = 1 needs only the states mu reaches to
terminate, ``optimum`` says when it optimised over proper policies only, the trust-region
step meets its KL bound on the exact KL, and costs are refused before they explode.

Expected values are closed forms or independent numpy computations, never the code under test.
"""
import warnings

import numpy as np
import pytest

import mdps
import tabular_pg as tpg


def unreached_cycle():
    """gamma = 1: state 0 pays 1 for action 0 and ends (terminal 2) under either action; state 1 is a
    rewarding self-loop that mu never reaches."""
    P = np.zeros((3, 2, 3))
    P[0, :, 2] = 1.0
    P[1, :, 1] = 1.0
    P[2, :, 2] = 1.0
    return tpg.FiniteMDP(P, [[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]], [1.0, 0.0, 0.0], gamma=1.0)


def test_a_rewarding_cycle_mu_never_reaches_is_not_refused():
    """Before: "states [1] never reach a terminal state" although J is finite."""
    mdp, pol = unreached_cycle(), tpg.TabularSoftmax(3, 2)
    theta = np.array([0.3, 0.0, 0.0, 0.0, 0.0, 0.0])
    ev = tpg.evaluate(mdp, pol.probs(theta))
    sigma = 1 / (1 + np.exp(-0.3))                                      # pi(0 | 0)
    assert ev.J == pytest.approx(sigma, rel=1e-14)
    assert np.isnan(ev.V[1]) and np.isnan(ev.Q[1]).all()               # undefined, not invented
    assert np.isfinite(ev.Q[0]).all() and ev.V[2] == 0.0
    assert np.array_equal(ev.d, [1.0, 0.0, 0.0])
    g = tpg.policy_gradient(mdp, pol, theta)                            # d sigma / d theta = sigma (1 - sigma)
    assert np.allclose(g, [sigma * (1 - sigma), -sigma * (1 - sigma), 0, 0, 0, 0], rtol=1e-12, atol=0)


def test_a_reachable_endless_cycle_is_still_refused():
    mdp = unreached_cycle().with_(mu=[0.5, 0.5, 0.0])
    with pytest.raises(ValueError, match=r"states \[1\] \(1 in all\), reachable from mu, never reach a terminal"):
        tpg.evaluate(mdp, np.full((3, 2), 0.5))


def test_start_mass_only_on_terminal_states():
    """No step is ever taken: J = 0 and d is all zeros (documented), not a NaN division."""
    ev = tpg.evaluate(unreached_cycle().with_(mu=[0.0, 0.0, 1.0]), np.full((3, 2), 0.5))
    assert ev.J == 0.0 and np.array_equal(ev.d, np.zeros(3)) and np.array_equal(ev.visits, np.zeros(3))


def loop_or_pay():
    """State 0: action 0 ends the episode (terminal 1) with reward -1; action 1 loops with reward 0."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 1] = P[0, 1, 0] = P[1, :, 1] = 1.0
    return tpg.FiniteMDP(P, [[-1.0, 0.0], [0.0, 0.0]], [1.0, 0.0], gamma=1.0)


def test_optimum_at_gamma_one_flags_that_it_considered_proper_policies_only():
    opt = tpg.optimum(loop_or_pay())
    assert opt.proper_only and opt.J == -1.0 and opt.pi[0].tolist() == [1.0, 0.0]
    discounted = tpg.optimum(loop_or_pay().with_(gamma=0.9))           # looping forever earns 0 > -1
    assert not discounted.proper_only and discounted.J == 0.0
    assert not tpg.optimum(loop_or_pay().with_(horizon=3)).proper_only


def exact_kl(mdp, pi_old, pi_new):
    """E_{s ~ d^{pi_old}} KL(pi_old(.|s) || pi_new(.|s)), d from an independent dense solve."""
    S, A = pi_old.shape
    P_pi = np.einsum("sa,sat->st", pi_old, mdp.P)
    d = (1 - mdp.gamma) * np.linalg.solve((np.eye(S) - mdp.gamma * P_pi).T, mdp.mu)
    return float(d @ np.sum(pi_old * (np.log(pi_old) - np.log(pi_new)), axis=1))


@pytest.mark.parametrize("scale", [5.0, 10.0, 20.0])
def test_trust_region_step_meets_the_bound_on_the_exact_kl(scale):
    """Before: delta = 0.1 realised KL 31 at logits +-5 and inf at +-10 on this garnet."""
    mdp, pol, delta = mdps.garnet(6, 3, 2, seed=0, gamma=0.9, sparse=False), tpg.TabularSoftmax(6, 3), 0.1
    theta = np.where(np.arange(18) % 3 == 0, scale, -scale) + 0.1 * np.arange(18)
    new = tpg.trust_region_step(mdp, pol, theta, delta)
    kl = exact_kl(mdp, pol.probs(theta), pol.probs(new))
    assert 0.9 * delta * (1 - 1e-9) <= kl <= delta * (1 + 1e-9)


def test_trust_region_step_is_unchanged_where_the_quadratic_model_holds():
    mdp, pol = mdps.garnet(6, 3, 2, seed=0, gamma=0.9, sparse=False), tpg.TabularSoftmax(6, 3)
    theta, delta = np.linspace(-0.5, 0.5, 18), 1e-4
    g, w = tpg.policy_gradient(mdp, pol, theta), tpg.natural_gradient(mdp, pol, theta)
    assert np.array_equal(tpg.trust_region_step(mdp, pol, theta, delta), theta + np.sqrt(2 * delta / (g @ w)) * w)
    kl = exact_kl(mdp, pol.probs(theta), pol.probs(theta + np.sqrt(2 * delta / (g @ w)) * w))
    assert abs(kl - delta) < 0.05 * delta                               # second order: KL ~ delta


def test_the_automatic_krylov_path_near_gamma_one_is_refused_at_once():
    """Before: garnet S = 1e5 at gamma = 0.99999 ran > 600 s; the budget check needs no solve."""
    mdp = mdps.garnet(2000, 4, 5, seed=0, gamma=1 - 1e-8, sparse=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"nnz\(P\) / \(1 - gamma\) = 40000 / 1e-08 = 4e\+12 exceeds 1e\+11"):
            tpg.evaluate(mdp, np.full((2000, 4), 0.25))
        with pytest.raises(ValueError, match="exceeds 1e"):
            tpg.optimum(mdp)


def test_a_huge_horizon_is_refused_before_allocating():
    """Before: horizon = 10**100 gave numpy's "maximum allowed dimension"; 10**9 ran out of memory."""
    mdp = tpg.FiniteMDP(np.ones((1, 1, 1)), [[1.0]], [1.0], gamma=1.0, horizon=10**100)
    for call in (lambda: tpg.evaluate(mdp, [[1.0]]), lambda: tpg.optimum(mdp)):
        with pytest.raises(ValueError, match=r"H\*S\*A = 10{100} entries, beyond the limit 100000000"):
            call()


def test_optimum_at_gamma_one_ignores_endless_states_mu_never_reaches():
    """optimum refused a gamma = 1 MDP whose non-terminating state mu never reaches, although J* is finite."""
    P = np.zeros((3, 2, 3))
    P[0, 0, 2] = 1.0
    P[0, 1, [0, 2]] = 0.5                 # action 1 in state 0: reward 2, back to 0 w.p. 1/2
    P[1, :, 1] = 1.0                      # state 1 loops forever, rewarded, but is never reached
    P[2, :, 2] = 1.0
    R = np.array([[1.0, 2.0], [1.0, 1.0], [0.0, 0.0]])
    opt = tpg.optimum(tpg.FiniteMDP(P, R, [1.0, 0.0, 0.0], gamma=1.0))
    assert opt.J == pytest.approx(4.0, rel=1e-12)        # V(0) = 2 + V(0) / 2 under action 1
    assert np.isnan(opt.V[1]) and opt.pi[0].tolist() == [0.0, 1.0] and opt.proper_only
    P[0, 0] = 0.0
    P[0, 0, 1] = 1.0                      # now state 1 is reachable: refused, and named
    with pytest.raises(ValueError, match=r"states \[1\], reachable from mu"):
        tpg.optimum(tpg.FiniteMDP(P, R, [1.0, 0.0, 0.0], gamma=1.0))
