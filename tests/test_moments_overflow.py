"""Exact moments with rewards far from 1: exact power-of-two scaling inside, a clear error outside float64."""
import warnings

import numpy as np
import pytest
from conftest import random_mdp

import tabular_pg as tpg
from tabular_pg.sampled.registry import estimator_moments

CASES = [("reinforce", {}), ("reinforce", {"reward_to_go": True, "baseline": 0.7}),
         ("reinforce", {"reward_to_go": True, "baseline": "optimal", "behaviour": np.full((3, 2), 0.5)}),
         ("qvalue", {"advantage": True}), ("gae", {"lam": 0.5, "values": np.array([0.3, -1.0, 2.0])})]


def scaled(options, factor):
    return {k: v * factor if k in ("values",) or (k == "baseline" and not isinstance(v, str)) else v
            for k, v in options.items()}


@pytest.mark.parametrize("estimator,options", CASES)
@pytest.mark.parametrize("k", [500, -500])
def test_moments_are_homogeneous_in_the_rewards_without_overflow(estimator, options, k):
    """Rewards (and reward-unit options) times 2^k, |r| ~ 1e150 or 1e-150: the moments equal the
    unscaled ones times 2^k (mean) and 4^k (covariance) exactly up to rounding (1e-13 relative),
    with no numpy warning.  Unscaled, r^2 would overflow (1e300 * T^2) or underflow."""
    rng = np.random.default_rng(51)
    for mdp in (random_mdp(rng, S=3, A=2, gamma=0.9, horizon=4), random_mdp(rng, S=3, A=2, gamma=0.7)):
        pol = tpg.TabularSoftmax(3, 2)
        th = rng.normal(size=6)
        m, c = estimator_moments(mdp, pol, th, estimator, tol=1e-6, **options)
        big = mdp.with_(R=mdp.R * 2.0 ** k)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            mk, ck = estimator_moments(big, pol, th, estimator, tol=1e-6 * 2.0 ** k, **scaled(options, 2.0 ** k))
        np.testing.assert_allclose(mk, np.ldexp(m, k), rtol=1e-13, atol=1e-13 * np.ldexp(np.abs(m).max(), k))
        np.testing.assert_allclose(ck, np.ldexp(c, 2 * k), rtol=1e-13, atol=1e-13 * np.ldexp(np.abs(c).max(), 2 * k))


def test_covariance_beyond_float64_is_a_clear_error_and_the_fisher_is_unaffected():
    mdp = tpg.FiniteMDP(np.full((2, 2, 2), .5), [[1e160, 0.], [0., 2e160]], [1., 0.], 0.9, horizon=3)
    pol = tpg.TabularSoftmax(2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"covariance of this estimator exceeds the float64 range "
                                             r"\(largest entry about 1e320"):
            estimator_moments(mdp, pol, np.zeros(4))
        F, _ = estimator_moments(mdp, pol, np.zeros(4), "fisher")
    F1, _ = estimator_moments(mdp.with_(R=np.ones((2, 2))), pol, np.zeros(4), "fisher")
    np.testing.assert_array_equal(F, F1)


def test_representable_covariance_whose_squared_reward_overflows():
    """One state, two actions, one step, reward R = 1e155 for action 0 (R^2 = 1e310 > float64).

    REINFORCE is psi(a) r(a): R (p1, -p1) w.p. p0, else 0, so the covariance is
    p0 p1^3 R^2 [[1, -1], [-1, 1]] (about 1e298 at p1 ~ 1e-4): a closed form, to 1e-12."""
    R = 1e155
    mdp = tpg.FiniteMDP(np.ones((1, 2, 1)), [[R, 0.0]], [1.0], gamma=1.0, horizon=1)
    pol = tpg.TabularSoftmax(1, 2)
    th = np.array([0.0, -9.2])
    p0, p1 = pol.probs(th)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean, cov = estimator_moments(mdp, pol, th)
    np.testing.assert_allclose(mean, p0 * p1 * R * np.array([1, -1]), rtol=1e-12)
    np.testing.assert_allclose(cov, p0 * p1 ** 3 * R * R * np.array([[1, -1], [-1, 1]]), rtol=1e-12)
