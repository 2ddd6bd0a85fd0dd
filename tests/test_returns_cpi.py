"""First-visit Q-hat/V-hat tables (tabular_pg.sampled.returns) and sampled CPI.

The statistical test compares Q-hat and V-hat with the exact Q and V at 5 standard
errors, the variance computed exactly (second moment of the discounted return by an
independent dense linear solve in this file) and divided by the observed count: first-visit
returns of one pair are i.i.d. given the count (strong Markov property).
"""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import random_mdp

import mdps
import tabular_pg as tpg
from tabular_pg.algorithms import ConservativePolicyIteration, PolicyGradient, run
from tabular_pg.algorithms.oracles import SampledOracle
from tabular_pg.algorithms.pg import table_gradient
from tabular_pg.exact.linsolve import ConvergenceWarning
from tabular_pg.sampled.returns import TAIL, return_table, usable_steps
from tabular_pg.sampled.rollout import rollout


def exact_return_moments(P, R, pi, gamma):
    """Q, V and E[G^2 | s, a], E[G^2 | s] of the discounted return, by dense solves (S, A small).

    G = r(s,a) + gamma G', so U(s,a) = r^2 + 2 gamma r (P V)(s,a) + gamma^2 sum_s' P(s'|s,a) sum_a' pi U(s',a').
    """
    S, A = R.shape
    P_pi = np.einsum("sat,sa->st", P, pi)
    V = np.linalg.solve(np.eye(S) - gamma * P_pi, (pi * R).sum(axis=1))
    Q = R + gamma * P @ V
    M = np.eye(S * A) - gamma ** 2 * np.einsum("sat,tb->satb", P, pi).reshape(S * A, S * A)
    U = np.linalg.solve(M, (R ** 2 + 2 * gamma * R * (P @ V)).reshape(-1)).reshape(S, A)
    return Q, V, U, (pi * U).sum(axis=1)


def test_first_visit_q_and_v_agree_with_exact_values_within_five_standard_errors():
    rng = np.random.default_rng(3)
    mdp = random_mdp(rng, S=4, A=2, gamma=0.8)
    P, R = sp.csr_matrix(mdp.P_sa).toarray().reshape(4, 2, 4), np.asarray(mdp.R)
    pi = rng.dirichlet(np.ones(2), size=4)
    Q, V, U, W = exact_return_moments(P, R, pi, 0.8)
    np.testing.assert_allclose(Q, tpg.evaluate(mdp, pi).Q, rtol=1e-10)      # the independent solve is right
    tab = return_table(rollout(mdp, pi, 4000, np.random.default_rng(0)), 4, 2)
    assert tab.Q_seen.all() and (tab.V_counts > 0).all()
    rmax = np.abs(R).max()
    bias = TAIL * rmax / (1 - 0.8)                                          # truncation bound of kept returns
    assert np.all(np.abs(tab.Q - Q) <= 5 * np.sqrt((U - Q ** 2) / tab.Q_counts) + bias)
    assert np.all(np.abs(tab.V - V) <= 5 * np.sqrt((W - V ** 2) / tab.V_counts) + bias)
    np.testing.assert_allclose(tab.Q_second, tab.Q_second.clip(min=tab.Q ** 2))   # mean G^2 >= (mean G)^2


def test_no_truncation_bias_on_a_constant_reward():
    # one state, reward 1, gamma 0.9: Q = 10; every kept return is 10 (1 - gamma^(T-t)) >= 10 (1 - TAIL)
    mdp = tpg.FiniteMDP(np.ones((1, 1, 1)), [[1.0]], [1.0], gamma=0.9)
    traj = rollout(mdp, np.ones((1, 1)), 3, np.random.default_rng(0))
    tab = return_table(traj, 1, 1)
    assert 10 * (1 - TAIL) <= tab.Q[0, 0] <= 10 and 10 * (1 - TAIL) <= tab.V[0] <= 10
    assert usable_steps(traj) < traj.T
    every_visit = (traj.rewards_to_go() / traj.discounts).mean()               # the old estimate
    T = traj.T  # mean over t of 10 (1 - 0.9^(T-t)): biased low by ~Q / (T (1 - gamma))
    assert abs(every_visit - (10 - 10 * 0.9 * (1 - 0.9 ** T) / (T * 0.1))) < 1e-9 and every_visit < 9.6


def test_unsampled_pairs_are_unknown_not_zero():
    s = np.array([[0, 0, 1]])
    a = np.array([[0, 0, 1]])
    r = np.array([[1.0, 1.0, 1.0]])
    traj = tpg.sampled.Trajectories(s, a, r, s >= 0, gamma=1.0)
    tab = return_table(traj, 2, 2)
    assert tab.Q_counts.tolist() == [[1, 0], [0, 1]] and tab.V_counts.tolist() == [1, 1]
    assert np.isnan(tab.Q[0, 1]) and np.isnan(tab.Q[1, 0]) and tab.Q[0, 0] == 3.0 and tab.Q[1, 1] == 1.0
    with pytest.raises(ValueError, match="tail"):
        return_table(traj, 2, 2, tail=1.5)


def test_sampled_answers_use_v_hat_where_q_is_unknown():
    mdp = mdps.sutton_barto_grid()
    policy = tpg.Direct(25, 4)
    pi = np.zeros((25, 4))
    pi[:, 0] = 1.0  # only action 0 is ever sampled
    ans = SampledOracle(mdp, 5, rng=np.random.default_rng(0)).query(policy, pi.reshape(-1))
    assert not ans.Q_seen[:, 1:].any()
    seen_states = ans.returns.V_counts > 0
    assert np.all(ans.A[seen_states, 1:] == 0.0)                            # unknown: no evidence of an advantage
    greedy = tpg.algorithms.greedy_policy(ans)
    np.testing.assert_array_equal(greedy, pi)                               # nothing known beats pi: keep it


def test_cpi_defaults_on_the_sutton_barto_grid_progress_and_reach_99_percent():
    # measured (seeds 0..4, n = 50): 0.99 J* after 18-22 iterations (900-1,100 trajectories); budget 30 (+36%)
    mdp = mdps.sutton_barto_grid()
    J_star = tpg.exact.planning.optimum(mdp).J
    policy = tpg.Direct(25, 4)
    for seed in range(5):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)               # no no-op on the way
            hist = run(ConservativePolicyIteration(), mdp, policy, policy.initial(),
                       SampledOracle(mdp, 50, rng=np.random.default_rng(seed)), 30, target=0.99 * J_star)
        assert hist.J[-1] >= 0.99 * J_star
        moved = np.abs(np.diff(hist.pi.reshape(hist.iterations + 1, -1), axis=0)).max(axis=1) > 0
        assert moved.all()
        assert (np.diff(hist.J) > 0).mean() >= 0.8                            # progress on most iterations


def test_cpi_warns_when_the_greedy_policy_is_pi():
    mdp = mdps.bandit([0.2, 0.5, 0.9])
    policy = tpg.Direct(1, 3)
    pi = np.array([0.0, 0.0, 1.0])                                           # already greedy
    oracle = SampledOracle(mdp, 20, rng=np.random.default_rng(0))
    with pytest.warns(ConvergenceWarning, match="greedy policy equals"):
        theta, _ = ConservativePolicyIteration().update(policy, pi, oracle, None, None)
    np.testing.assert_array_equal(theta, pi)


def test_cpi_line_search_warns_when_no_mixture_improves():
    mdp = mdps.bandit([0.2, 0.5, 0.9])
    policy = tpg.Direct(1, 3)
    pi = np.array([0.0, 0.0, 1.0])
    oracle = tpg.oracles.ExactOracle(mdp)

    ans = oracle.query(policy, pi)
    pi_new = np.array([[1.0, 0.0, 0.0]])                                     # every mixture is worse than pi
    with pytest.warns(ConvergenceWarning, match="no mixture weight"):
        alpha = ConservativePolicyIteration("line_search").step_size(ans, pi_new, policy, oracle)
    assert alpha == 0.0


def test_table_gradient_of_exact_answers_is_the_exact_gradient(rng):
    # the policy-gradient theorem on exact tables vs tabular_pg.policy_gradient (independent code path), 1e-10
    mdp = random_mdp(rng, S=5, A=3, gamma=0.9)
    policy = tpg.TabularSoftmax(5, 3)
    theta = rng.normal(size=15)
    g = table_gradient(tpg.oracles.ExactOracle(mdp).query(policy, theta))
    np.testing.assert_allclose(g, tpg.policy_gradient(mdp, policy, theta), rtol=1e-10, atol=1e-12)


def test_policy_gradient_warns_on_a_zero_gradient():
    mdp = mdps.bandit([0.5, 0.5])                                            # every action is as good: g = 0
    policy = tpg.TabularSoftmax(1, 2)
    with pytest.warns(ConvergenceWarning, match="cannot move"):
        theta, _ = PolicyGradient().update(policy, policy.initial(), tpg.oracles.ExactOracle(mdp), None, None)
    np.testing.assert_array_equal(theta, policy.initial())


def test_sampled_policy_gradient_defaults_reach_99_percent_on_the_garnet():
    # measured (seeds 0..4, n = 50): 0.99 J* after 7 iterations (350 trajectories) on every seed; budget 12
    mdp = mdps.from_spec("garnet:S=10,A=3,b=3,seed=0,gamma=0.9")
    J_star = tpg.exact.planning.optimum(mdp).J
    policy = tpg.TabularSoftmax(10, 3)
    for seed in (0, 1):
        hist = run(PolicyGradient(), mdp, policy, policy.initial(),
                   SampledOracle(mdp, 50, rng=np.random.default_rng(seed)), 12, target=0.99 * J_star)
        assert hist.J[-1] >= 0.99 * J_star
