"""Rollouts: reproducibility, distribution of the samples, truncation, terminals, the chain."""
import numpy as np
import pytest
import scipy.sparse as sp
from conftest import episodic_mdp, random_mdp, random_policy

import tabular_pg as tpg
from tabular_pg.sampled.estimators import reinforce
from tabular_pg.sampled.rollout import Trajectories, reward_bound, rollout, sample_visitation, truncation_horizon


def chain(H: int) -> tpg.FiniteMDP:
    """The chain of "Policy Gradient (continued)": states 0..H-1 and an absorbing goal H; action 0 advances, actions 1,
    2
    return to 0; reward 1 for advancing from H-1; horizon H, gamma 1."""
    S = H + 1
    P = np.zeros((S, 3, S))
    P[np.arange(H), 0, np.arange(1, S)] = 1.0
    P[:H, 1:, 0] = 1.0
    P[H, :, H] = 1.0
    R = np.zeros((S, 3))
    R[H - 1, 0] = 1.0
    return tpg.FiniteMDP(P, R, np.eye(S)[0], gamma=1.0, horizon=H)


def test_chain_matches_the_zoo():
    from mdps import chain as zoo_chain
    for H in (1, 3, 6):
        mine, zoo = chain(H), zoo_chain(H)
        assert np.array_equal(np.asarray(sp.csr_matrix(zoo.P_sa).todense()), mine.P_sa)
        assert np.array_equal(zoo.R, mine.R) and np.array_equal(zoo.mu, mine.mu) and zoo.horizon == H


def within(p_hat, p, n, k=5.0):
    """Binomial frequencies within k standard errors (plus rounding slack)."""
    return np.all(np.abs(p_hat - p) <= k * np.sqrt(p * (1 - p) / n) + 1e-12)


def test_bad_n_and_rng(rng):
    mdp = random_mdp(rng, S=3, A=2, horizon=3)
    pi = random_policy(rng, 3, 2)
    for n, exc in ((0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(exc, match="n must be"):      # a wrong type is a TypeError, a wrong value a ValueError
            rollout(mdp, pi, n, rng)
    with pytest.raises(TypeError, match="rng"):
        rollout(mdp, pi, 5, 0)
    with pytest.raises(ValueError, match="pi"):
        rollout(mdp, pi[:, :1], 5, rng)


def test_same_seed_same_trajectories_dense_and_sparse(rng):
    mdp = random_mdp(rng, S=5, A=3, gamma=0.9, branching=2)
    sparse = tpg.FiniteMDP(sp.csr_matrix(mdp.P_sa), mdp.R, mdp.mu, gamma=0.9)
    pi = random_policy(rng, 5, 3)
    a = rollout(mdp, pi, 50, np.random.default_rng(7), tol=1e-3)
    b = rollout(mdp, pi, 50, np.random.default_rng(7), tol=1e-3)
    c = rollout(sparse, pi, 50, np.random.default_rng(7), tol=1e-3)
    for x in (b, c):
        for name in ("states", "actions", "rewards", "mask"):
            assert np.array_equal(getattr(a, name), getattr(x, name))
    assert not rollout(mdp, pi, 50, np.random.default_rng(8), tol=1e-3).states.tolist() == a.states.tolist()
    with pytest.raises(ValueError):
        a.states[0, 0] = 1
    x, y = (sample_visitation(sparse, pi, 300, np.random.default_rng(3)) for _ in range(2))
    assert all(np.array_equal(getattr(x, k), getattr(y, k)) for k in ("states", "actions", "q_returns"))


def test_state_action_frequencies_match_occupancy(rng):
    H, S, A, n = 4, 4, 3, 40000
    mdp = random_mdp(rng, S=S, A=A, gamma=0.9, horizon=H, sparse=True, branching=2)
    pi = random_policy(rng, S, A, H=H)                      # per-step policy
    traj = rollout(mdp, pi, n, np.random.default_rng(1))
    ev = tpg.evaluate(mdp, pi)
    keys = np.arange(H)[None, :] * S * A + traj.states * A + traj.actions
    freq = np.bincount(keys.ravel(), minlength=H * S * A) / n
    assert within(freq, ev.d_sa.reshape(-1), n)
    assert traj.mask.all() and traj.lengths.tolist() == [H] * n


def test_full_rewards_are_sampled_per_successor(rng):
    S, A = 3, 2
    P = rng.random((S, A, S))
    P /= P.sum(axis=2, keepdims=True)
    R = rng.normal(size=(S, A, S))
    mdp = tpg.FiniteMDP(P, R, np.ones(S) / S, gamma=0.9, horizon=2)
    traj = rollout(mdp, np.full((S, A), 0.5), 200, np.random.default_rng(3))
    nxt = traj.states[:, 1]
    assert np.allclose(traj.rewards[:, 0], R[traj.states[:, 0], traj.actions[:, 0], nxt])


def test_mean_return_matches_J_infinite_horizon(rng):
    mdp = random_mdp(rng, S=4, A=2, gamma=0.8, sparse=True)
    pi = random_policy(rng, 4, 2)
    traj = rollout(mdp, pi, 30000, np.random.default_rng(4), tol=1e-6)
    G = traj.returns()
    assert abs(G.mean() - tpg.evaluate(mdp, pi).J) <= 5 * G.std() / np.sqrt(G.size) + 1e-6


def test_episodic_return_matches_J(rng):
    epi = episodic_mdp(rng, S=5, A=2)
    pi = random_policy(rng, 5, 2)
    traj = rollout(epi, pi, 40000, np.random.default_rng(6))
    G = traj.returns()
    assert abs(G.mean() - tpg.evaluate(epi, pi).J) <= 5 * G.std() / np.sqrt(G.size)
    assert traj.lengths.max() == traj.T                                # ran until the last episode ended
    terminal = epi.terminal_states()
    assert np.all(np.isin(traj.states[~traj.mask], terminal))         # padding sits in the terminal
    assert np.all(np.diff(traj.mask.astype(int), axis=1) <= 0)        # once stopped, stopped
    assert np.array_equal(traj.lengths, traj.mask.sum(axis=1))


def test_truncation_horizon_bounds_the_neglected_return(rng):
    for gamma in (0.5, 0.9, 0.99):
        for rmax in (0.1, 1.0, 50.0):
            T = truncation_horizon(gamma, rmax, 1e-6)
            assert gamma ** T * rmax / (1 - gamma) <= 1e-6
            assert T == 1 or gamma ** (T - 1) * rmax / (1 - gamma) > 1e-6
    mdp = random_mdp(rng, S=3, A=2, gamma=0.9)
    traj = rollout(mdp, random_policy(rng, 3, 2), 3, rng, tol=1e-4)
    assert traj.T == truncation_horizon(0.9, reward_bound(mdp), 1e-4)
    with pytest.raises(ValueError, match="gamma"):
        truncation_horizon(1.0, 1.0)
    with pytest.raises(ValueError, match="tol"):
        truncation_horizon(0.9, 1.0, 0.0)


def test_geometric_stopping_samples_visitation(rng):
    S, A, n = 4, 2, 60000
    mdp = random_mdp(rng, S=S, A=A, gamma=0.7, sparse=True)
    pi = random_policy(rng, S, A)
    x = sample_visitation(mdp, pi, n, np.random.default_rng(9))
    ev = tpg.evaluate(mdp, pi)
    freq = np.bincount(x.states * A + x.actions, minlength=S * A) / n
    assert within(freq, ev.d_sa.reshape(-1), n)
    with pytest.raises(ValueError, match="gamma < 1"):
        sample_visitation(random_mdp(rng, S=S, A=A, horizon=3), pi, 5, rng)


def test_chain_zero_gradient_probability():
    """By "Policy Gradient (continued)", a batch of n gives an exactly zero gradient w.p. (1 - 3^-H)^n."""
    H, n, batches = 3, 12, 4000
    mdp = chain(H)
    pol = tpg.TabularSoftmax(H + 1, 3)
    th = pol.initial()
    traj = rollout(mdp, pol.probs(th), n * batches, np.random.default_rng(11))
    g = reinforce(traj, pol, th, per_trajectory=True).reshape(batches, n, -1).sum(axis=1)
    zero = np.all(g == 0.0, axis=1)
    p = (1 - 3.0 ** -H) ** n
    assert within(zero.mean(), p, batches)
    reached = traj.returns().reshape(batches, n).max(axis=1) > 0
    assert np.array_equal(zero, ~reached)


def test_trajectories_validate_shapes():
    with pytest.raises(ValueError, match="actions"):
        Trajectories(np.zeros((2, 3)), np.zeros((2, 2)), np.zeros((2, 3)), np.ones((2, 3)), 0.9)
