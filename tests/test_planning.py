"""The optimum: policy iteration vs value iteration vs exhaustive search over policies."""
import itertools

import numpy as np
import pytest
from conftest import episodic_mdp, random_mdp

import tabular_pg as tpg


def best_deterministic_J(mdp):
    S, A = mdp.n_states, mdp.n_actions
    return max(tpg.evaluate(mdp, np.eye(A)[list(acts)]).J for acts in itertools.product(range(A), repeat=S))


@pytest.mark.parametrize("sparse", [False, True])
def test_policy_iteration_equals_value_iteration_and_exhaustive_search(rng, sparse):
    mdp = random_mdp(rng, S=5, A=3, gamma=0.9, sparse=sparse)
    opt = tpg.optimum(mdp)
    np.testing.assert_allclose(opt.V, tpg.value_iteration(mdp, tol=1e-13), rtol=0, atol=1e-12)
    np.testing.assert_allclose(opt.Q.max(axis=1), opt.V, atol=1e-12)
    assert abs(opt.J - best_deterministic_J(mdp)) < 1e-12
    np.testing.assert_array_equal(opt.pi.sum(axis=1), 1)


def test_backward_induction_equals_exhaustive_search_over_per_step_policies(rng):
    mdp = random_mdp(rng, S=2, A=2, gamma=0.9, horizon=3)
    opt = tpg.optimum(mdp)
    best = max(tpg.evaluate(mdp, np.eye(2)[np.array(acts).reshape(3, 2)]).J
               for acts in itertools.product(range(2), repeat=6))
    assert abs(opt.J - best) < 1e-13 and opt.pi.shape == (3, 2, 2)
    assert abs(tpg.evaluate(mdp, opt.pi).J - opt.J) < 1e-13


def test_episodic_optimum_starts_proper_and_beats_every_deterministic_policy(rng):
    mdp = episodic_mdp(rng, S=5, A=2)
    opt = tpg.optimum(mdp)
    assert abs(opt.J - best_deterministic_J(mdp)) < 1e-12


def test_episodic_optimum_needs_a_proper_policy():
    P = np.zeros((3, 1, 3))
    P[0, 0, 1] = P[1, 0, 0] = P[2, 0, 2] = 1.0              # 0 <-> 1 forever; 2 is terminal
    mdp = tpg.FiniteMDP(P, np.zeros((3, 1)), np.array([1.0, 0.0, 0.0]), gamma=1.0)
    with pytest.raises(ValueError, match=r"states \[0, 1\], reachable from mu, cannot reach a terminal"):
        tpg.optimum(mdp)
    with pytest.raises(ValueError, match=r"needs zero-reward absorbing"):
        tpg.optimum(mdp.with_(R=np.ones((3, 1))))


def test_value_iteration_refuses_what_it_cannot_do(rng):
    with pytest.raises(ValueError, match="gamma < 1"):
        tpg.value_iteration(random_mdp(rng, gamma=1.0, horizon=3))


def test_an_unconverged_optimum_pairs_its_policy_with_that_policy_s_values(rng):
    """At max_iterations, optimum returned the next greedy policy beside the previous policy's V."""
    mdp = random_mdp(rng, S=30, A=4, gamma=0.99)
    with pytest.warns(tpg.ConvergenceWarning):
        opt = tpg.optimum(mdp, max_iterations=1)
    ev = tpg.evaluate(mdp, opt.pi)
    assert np.allclose(opt.V, ev.V, rtol=1e-10, atol=1e-10) and opt.J == pytest.approx(ev.J, rel=1e-10)
