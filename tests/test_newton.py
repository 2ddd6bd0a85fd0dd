"""CubicNewton (Nesterov & Polyak 2006; adaptive M of Cartis, Gould & Toint 2011) against policy gradient."""
import warnings

import numpy as np
import pytest

import mdps
import tabular_pg as tpg
from tabular_pg.algorithms import PolicyGradient
from tabular_pg.algorithms.newton import CubicNewton, cubic_step


def iterations_to(alg, mdp, level, iterations=200):
    pol = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tpg.ConvergenceWarning)
        hist = tpg.run(alg, mdp, pol, pol.initial(), tpg.ExactOracle(mdp), iterations)
    return hist.first_reaching(level), hist


def test_cubic_newton_needs_fewer_iterations_than_policy_gradient_on_a_garnet():
    """Measured, gap 1e-6 J* on garnet(20, 4, 3), gamma = 0.99: CubicNewton 20 iterations,
    normalised PG (the default, step 2) 28, PG with the raw gradient (step 1) never in 200."""
    mdp = mdps.garnet(20, 4, 3, seed=1, gamma=0.99)
    level = tpg.optimum(mdp).J * (1 - 1e-6)
    t_newton, hist = iterations_to(CubicNewton(), mdp, level)
    t_pg, _ = iterations_to(PolicyGradient(), mdp, level)
    t_raw, _ = iterations_to(PolicyGradient(step=1.0, normalize=False), mdp, level)
    assert t_newton is not None and t_pg is not None and t_newton < t_pg
    assert t_raw is None
    assert np.all(np.diff(hist.J) >= 0)          # rejected steps stay put: J never decreases


def test_cubic_newton_beats_the_plain_gradient_step_on_a_bandit():
    mdp = mdps.bandit([0.2, 0.5, 0.9])
    t_newton, hist = iterations_to(CubicNewton(), mdp, 0.9 - 1e-6)
    t_raw, _ = iterations_to(PolicyGradient(step=1.0, normalize=False), mdp, 0.9 - 1e-6)
    assert t_newton is not None and t_raw is None
    assert np.all(np.diff(hist.J) >= 0)


def test_fixed_M_is_an_ascent_method_when_M_bounds_the_hessian_lipschitz_constant():
    """With a large M each step increases J (Nesterov & Polyak 2006: J(theta + s) >= J(theta) + m(s) >= J(theta))."""
    mdp = mdps.garnet(8, 3, 2, seed=2, gamma=0.9)
    _, hist = iterations_to(CubicNewton(M=100.0, adaptive=False), mdp, np.inf, iterations=30)
    assert np.all(np.diff(hist.J) > 0)


def test_cubic_step_solves_the_cubic_model_globally(rng):
    """Optimality conditions of the cubic model: g = (M r / 2 I - H) s with M r / 2 >= lambda_max(H)."""
    for _ in range(20):
        B = rng.normal(size=(6, 6))
        H, g, M = (B + B.T) / 2, rng.normal(size=6), float(rng.uniform(0.1, 10))
        s = cubic_step(g, H, M)
        r = np.linalg.norm(s)
        assert np.abs((M * r / 2 * np.eye(6) - H) @ s - g).max() <= 1e-10 * max(1.0, np.abs(g).max())
        assert M * r / 2 >= np.linalg.eigvalsh(H)[-1] - 1e-12
    # the hard case: at a saddle (g = 0) the step leaves along the positive curvature
    s = cubic_step(np.zeros(2), np.diag([-1.0, 2.0]), M=1.0)
    assert np.allclose(np.abs(s), [0.0, 4.0], rtol=1e-12, atol=1e-12)


def test_a_sampled_oracle_is_refused_with_a_clear_error():
    mdp = mdps.bandit([0.2, 0.9])
    pol = tpg.TabularSoftmax(1, 2)
    oracle = tpg.SampledOracle(mdp, 10, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="only an ExactOracle supplies"):
        tpg.run(CubicNewton(), mdp, pol, pol.initial(), oracle, 1)


def test_bad_parameters():
    with pytest.raises(ValueError, match="M must be"):
        CubicNewton(M=0.0)
    with pytest.raises(TypeError, match="adaptive must be a bool"):
        CubicNewton(adaptive="yes")


def test_a_direct_policy_stays_on_the_simplex_and_ascends():
    """Projected steps, judged by the projected step: J never decreases (slowly at the boundary)."""
    mdp = mdps.garnet(8, 3, 2, seed=2, gamma=0.9)
    pol = tpg.Direct(8, 3)
    hist = tpg.run(CubicNewton(), mdp, pol, pol.initial(), tpg.ExactOracle(mdp), 30)
    assert np.all(np.diff(hist.J) >= 0) and hist.J[-1] > hist.J[0]
    assert np.allclose(hist.pi.sum(axis=-1), 1, rtol=0, atol=1e-12) and hist.pi.min() >= 0
