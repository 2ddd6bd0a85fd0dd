"""The block path of the exact estimator moments against the dense path and enumeration."""
import numpy as np
import pytest
from conftest import random_mdp
from test_moments import BIASED, UNBIASED, tiny_mdps

import tabular_pg as tpg
from tabular_pg.sampled.moments import moment_horizon
from tabular_pg.sampled.moments_blocks import linear_moments
from tabular_pg.sampled.moments_enumeration import brute_force_moments
from tabular_pg.sampled.registry import lookup


def both_paths(mdp, pol, th, estimator, tol=1e-8, **options):
    spec = lookup(estimator).terms(mdp, pol, th, moment_horizon(mdp, tol), **lookup(estimator).bind(options, True))
    return [linear_moments(mdp, pol, th, spec, path=path) for path in ("block", "dense")]


def assert_relative(a, b, rtol):
    assert np.abs(a - b).max() <= rtol * np.abs(b).max(), np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("estimator,options", UNBIASED + BIASED)
def test_block_path_equals_dense_path_to_1e12(estimator, options):
    """Same recursion, different order of summation: agreement to rounding (1e-12 relative).

    Stationary and per-step tabular softmax, full rewards r(s,a,s'), a terminal state, and a
    truncated infinite horizon (garnet-like random MDP, 12 steps)."""
    rng = np.random.default_rng(31)
    mdps = tiny_mdps(rng) + [random_mdp(rng, S=3, A=3, gamma=0.8)]
    for mdp in mdps:
        S, A = mdp.n_states, mdp.n_actions
        pols = [tpg.TabularSoftmax(S, A)] + ([tpg.TabularSoftmax(S, A, horizon=mdp.horizon)] if mdp.horizon else [])
        for pol in pols:
            th = rng.normal(size=pol.n_params)
            (mb, cb), (md, cd) = both_paths(mdp, pol, th, estimator, tol=1e-2, **options)
            assert_relative(mb, md, 1e-12)
            assert_relative(cb, cd, 1e-12)


def test_block_path_equals_enumeration_on_a_tiny_mdp():
    """Independent oracle: every trajectory with its probability (moments_enumeration), 1e-10 relative."""
    rng = np.random.default_rng(32)
    for mdp in tiny_mdps(rng):
        pol = tpg.TabularSoftmax(3, 2)
        th = rng.normal(size=6)
        for options in ({}, {"reward_to_go": True, "baseline": "value"}):
            (m, c), _ = both_paths(mdp, pol, th, "reinforce", **options)
            mb, cb = brute_force_moments(mdp, pol, th, "reinforce", **options)
            assert_relative(m, mb, 1e-10)
            assert_relative(c, cb, 1e-10)


def test_path_argument_is_checked():
    rng = np.random.default_rng(33)
    mdp = tiny_mdps(rng)[0]
    spec = lookup("reinforce").terms(mdp, tpg.TabularSoftmax(3, 2), np.zeros(6), 3)
    with pytest.raises(ValueError, match="path must be one of"):
        linear_moments(mdp, tpg.TabularSoftmax(3, 2), np.zeros(6), spec, path="sparse")
    with pytest.raises(ValueError, match="path='block' needs a TabularSoftmax"):
        linear_moments(mdp, tpg.LogLinear(rng.normal(size=(3, 2, 2))), np.zeros(2), spec, path="block")


@pytest.mark.parametrize("options", [{}, {"reward_to_go": True, "baseline": "value"}])
def test_block_path_never_holds_a_dense_matrix_moment(options):
    """Peak traced memory of estimator_moments (block path) at S=60, A=4, H=5 (d=240) is below a
    tenth of ONE (S*A, d, d) array (110 MB), which the dense path holds several of at every step."""
    import tracemalloc
    rng = np.random.default_rng(34)
    mdp = random_mdp(rng, S=60, A=4, gamma=0.9, horizon=5, branching=3)
    pol = tpg.TabularSoftmax(60, 4)
    th = rng.normal(size=pol.n_params)
    one_dense = 60 * 4 * pol.n_params ** 2 * 8
    tracemalloc.start()
    try:
        tpg.estimator_moments(mdp, pol, th, "reinforce", **options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < one_dense / 10, (peak, one_dense)
