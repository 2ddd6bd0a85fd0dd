"""The MDP zoo: structure of each constructor and known values from the literature."""
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from mdps import (
    ZOO,
    agarwal_chain,
    bandit,
    chain,
    from_spec,
    garnet,
    grid_cells,
    gridworld,
    russell_norvig_grid,
    sutton_barto_grid,
)
from mdps.gridworld import RUSSELL_NORVIG_LAYOUT
from tabular_pg.mdp import FiniteMDP


def dense_P(mdp):
    P = mdp.P.toarray() if mdp.is_sparse else mdp.P.reshape(-1, mdp.n_states)
    return P.reshape(mdp.n_states, mdp.n_actions, mdp.n_states)


def finite_horizon_J(mdp, pi):
    """Independent backward recursion V_h = sum_a pi (r + gamma P V_{h+1})."""
    P, V = dense_P(mdp), np.zeros(mdp.n_states)
    for _ in range(mdp.horizon):
        V = (pi * (mdp.R + mdp.gamma * P @ V)).sum(axis=1)
    return mdp.mu @ V


def discounted_V(mdp, pi):
    P = dense_P(mdp)
    P_pi, r_pi = np.einsum("sa,sat->st", pi, P), (pi * mdp.R).sum(axis=1)
    return np.linalg.solve(np.eye(mdp.n_states) - mdp.gamma * P_pi, r_pi)


def optimal_V(mdp, iterations=5000):
    P, V = dense_P(mdp), np.zeros(mdp.n_states)
    for _ in range(iterations):
        V_new = (mdp.R + mdp.gamma * P @ V).max(axis=1)
        if np.max(np.abs(V_new - V)) < 1e-12:
            break
        V = V_new
    return V_new


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_zoo_entry_builds_a_valid_mdp(name):
    mdp = from_spec(name)
    assert isinstance(mdp, FiniteMDP)
    assert np.allclose(dense_P(mdp).sum(axis=2), 1) and np.isclose(mdp.mu.sum(), 1)
    assert ZOO[name].description and callable(ZOO[name].constructor)


# ---------------------------------------------------------------- chain
@pytest.mark.parametrize("H", [1, 2, 5, 9])
@pytest.mark.parametrize("A", [2, 3, 4])
def test_chain_uniform_policy_reaches_the_reward_with_probability_A_to_minus_H(H, A):
    mdp = chain(H, n_actions=A)
    uniform = np.full((mdp.n_states, A), 1 / A)
    assert np.isclose(finite_horizon_J(mdp, uniform), float(A) ** -H, rtol=1e-12, atol=0)


def test_chain_structure_and_optimum():
    mdp = chain(6)
    assert mdp.horizon == 6 and mdp.n_states == 7
    assert mdp.terminal_states().tolist() == [6]
    advance = np.zeros((7, 3))
    advance[:, 0] = 1
    assert finite_horizon_J(mdp, advance) == 1.0
    P = dense_P(mdp)
    assert (P[:6, 1:, 0] == 1).all()                          # the other actions reset


def test_chain_uniform_reset_averages_over_start_states():
    H = 5
    mdp = chain(H, reset="uniform")
    uniform = np.full((H + 1, 3), 1 / 3)
    expected = np.mean([3.0 ** -(H - i) for i in range(H)])    # from s_i: H - i advances
    # from s_i the horizon leaves i spare steps, so paths may also reset and retry
    assert finite_horizon_J(mdp, uniform) >= expected
    assert np.allclose(mdp.mu[:H], 1 / H) and mdp.mu[H] == 0


def test_chain_sparse_equals_dense():
    a, b = chain(7, sparse=True), chain(7, sparse=False)
    assert a.is_sparse and not b.is_sparse
    assert np.array_equal(dense_P(a), dense_P(b)) and np.array_equal(a.R, b.R)


@pytest.mark.parametrize("kwargs, name, exc", [({"H": 0}, "H", ValueError), ({"H": 2.5}, "H", TypeError),
                                               ({"H": "3"}, "H", TypeError),
                                               ({"H": 3, "n_actions": 0}, "n_actions", ValueError),
                                               ({"H": 3, "reset": "middle"}, "reset", ValueError),
                                               ({"H": 3, "sparse": "yes"}, "sparse", ValueError)])
def test_chain_rejects_bad_arguments(kwargs, name, exc):
    """A wrong type is a TypeError, a wrong value a ValueError (issue 20: one rule for the whole library)."""
    with pytest.raises(exc, match=name):
        chain(**kwargs)


# ---------------------------------------------------------------- garnet
def test_garnet_rows_have_exactly_branching_successors():
    mdp = garnet(40, 3, branching=5, seed=1)
    P = dense_P(mdp)
    assert ((P > 0).sum(axis=2) == 5).all()
    assert np.allclose(P.sum(axis=2), 1)
    assert (0 <= mdp.R).all() and (mdp.R <= 1).all() and np.allclose(mdp.mu, 1 / 40)


def test_garnet_full_branching_and_single_successor():
    assert ((dense_P(garnet(6, 2, 6, seed=0)) > 0).sum(axis=2) == 6).all()
    P = dense_P(garnet(6, 2, 1, seed=0))
    assert ((P == 1).sum(axis=2) == 1).all()


def test_garnet_is_a_function_of_the_seed():
    a, b, c = garnet(30, 2, 3, seed=7), garnet(30, 2, 3, seed=7), garnet(30, 2, 3, seed=8)
    assert np.array_equal(a.P, b.P) and np.array_equal(a.R, b.R)
    assert not np.array_equal(a.P, c.P)


def test_garnet_sparse_and_dense_agree():
    a, b = garnet(25, 3, 4, seed=3, sparse=True), garnet(25, 3, 4, seed=3, sparse=False)
    assert a.is_sparse and sp.isspmatrix_csr(a.P) and not b.is_sparse
    assert np.array_equal(dense_P(a), b.P) and np.array_equal(a.R, b.R)


def test_garnet_is_sparse_by_default_when_large():
    mdp = garnet(5000, 2, 3, seed=0)
    assert mdp.is_sparse and mdp.P.shape == (10000, 5000) and mdp.P.nnz == 30000


def test_garnet_successor_subsets_are_uniform():
    """Each state is a successor with probability b/S (Floyd's sampler is unbiased)."""
    S, b, rows = 6, 2, 60000
    mdp = garnet(S, rows // S, b, seed=11, sparse=True)
    freq = np.bincount(mdp.P.indices, minlength=S) / rows
    assert np.allclose(freq, b / S, atol=5 * np.sqrt(b / S / rows))


@pytest.mark.parametrize("kwargs, name", [({"branching": 0}, "branching"), ({"branching": 11}, "branching"),
                                          ({"S": 0}, "S"), ({"gamma": 1.0}, "gamma"), ({"gamma": "x"}, "gamma"),
                                          ({"S": 10 ** 5, "sparse": False}, "sparse")])
def test_garnet_rejects_bad_arguments(kwargs, name):
    args = {"S": 10, "A": 2, "branching": 2, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=name):
        garnet(**args)


# ---------------------------------------------------------------- gridworlds
SB_RANDOM = [[3.3, 8.8, 4.4, 5.3, 1.5], [1.5, 3.0, 2.3, 1.9, 0.5], [0.1, 0.7, 0.7, 0.4, -0.4],
             [-1.0, -0.4, -0.4, -0.6, -1.2], [-1.9, -1.3, -1.2, -1.4, -2.0]]
SB_OPTIMAL = [[22.0, 24.4, 22.0, 19.4, 17.5], [19.8, 22.0, 19.8, 17.8, 16.0], [17.8, 19.8, 17.8, 16.0, 14.4],
              [16.0, 17.8, 16.0, 14.4, 13.0], [14.4, 16.0, 14.4, 13.0, 11.7]]


def test_sutton_barto_random_policy_values_match_figure_3_2():
    mdp = sutton_barto_grid()
    V = discounted_V(mdp, np.full((25, 4), 0.25))
    assert np.array_equal(np.round(V, 1).reshape(5, 5), SB_RANDOM)


def test_sutton_barto_optimal_values_match_figure_3_5():
    assert np.array_equal(np.round(optimal_V(sutton_barto_grid()), 1).reshape(5, 5), SB_OPTIMAL)


def test_russell_norvig_optimal_utilities_match_figure_17_3():
    mdp = russell_norvig_grid()
    U = dict(zip(map(tuple, grid_cells(RUSSELL_NORVIG_LAYOUT).tolist()), optimal_V(mdp)))
    book = {(0, 0): 0.812, (0, 1): 0.868, (0, 2): 0.918, (1, 0): 0.762, (1, 2): 0.660,
            (2, 0): 0.705, (2, 1): 0.655, (2, 2): 0.611, (2, 3): 0.388}
    assert all(round(U[c], 3) == v for c, v in book.items())
    assert U[(0, 3)] == 0 and U[(1, 3)] == 0                   # terminals are absorbing, 0 after entry


def test_russell_norvig_slip_probabilities():
    P = dense_P(russell_norvig_grid())
    # from the start (2,0) = state 7, "up" reaches (1,0) = state 4 w.p. 0.8, bumps left edge
    # (stays) w.p. 0.1 and goes right to (2,1) = state 8 w.p. 0.1
    assert np.allclose(P[7, 0, [4, 7, 8]], [0.8, 0.1, 0.1])


def test_gridworld_walls_block_and_off_grid_penalises():
    mdp = gridworld(["S#G"], terminals={"G": 2.0}, step_reward=-1.0, off_grid_reward=-5.0, gamma=1.0)
    P = dense_P(mdp)
    assert mdp.n_states == 2 and (P[0, :, 0] == 1).all()
    assert mdp.R[0].tolist() == [-6.0, -1.0, -6.0, -6.0]        # up/down/left leave the grid
    assert mdp.terminal_states().tolist() == [1]


def test_gridworld_large_is_sparse_and_agrees_with_dense():
    layout = ["S" + "." * 39] + ["." * 40] * 29
    big = gridworld(layout, terminals={}, slip=0.2, step_reward=-1.0, off_grid_reward=-1.0)
    assert big.is_sparse and big.n_states == 1200
    small = gridworld(layout, slip=0.2, step_reward=-1.0, off_grid_reward=-1.0, sparse=False)
    assert np.array_equal(dense_P(big), small.P) and np.allclose(big.R, small.R)


@pytest.mark.parametrize("kwargs, match", [
    ({"layout": ["S.X"]}, "X"), ({"layout": ["S.", "."]}, "layout"), ({"layout": "S.."}, "layout"),
    ({"layout": ["SA."], "teleports": {"A": ("a", 1.0)}}, "a"), ({"layout": ["S.."], "slip": 1.5}, "slip"),
    ({"layout": ["GG"], "terminals": {"G": 1.0}}, "start")])
def test_gridworld_rejects_bad_layouts(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gridworld(**kwargs)


# ---------------------------------------------------------------- bandit
def test_bandit_value_is_policy_dot_means():
    means = np.array([0.3, -1.0, 2.5, 0.0])
    mdp = bandit(means)
    pi = np.array([[0.1, 0.2, 0.3, 0.4]])
    assert mdp.n_states == 1 and mdp.horizon == 1
    assert np.isclose(finite_horizon_J(mdp, pi), pi[0] @ means)


@pytest.mark.parametrize("means", [[], [[1.0]], [1.0, np.nan]])
def test_bandit_rejects_bad_means(means):
    with pytest.raises(ValueError, match="means"):
        bandit(means)


# ---------------------------------------------------------------- Agarwal et al. chain
def test_agarwal_chain_structure():
    H = 6
    mdp = agarwal_chain(H)
    P = dense_P(mdp)
    assert mdp.n_states == H + 2 and mdp.n_actions == 4 and np.isclose(mdp.gamma, H / (H + 1))
    assert mdp.mu[0] == 1 and (P[0, :, 1] == 1).all()           # s_0 -> s_1
    for h in range(1, H + 1):
        assert P[h, 0, h + 1] == 1 and (P[h, 1:, h - 1] == 1).all()
    assert mdp.absorbing_states().tolist() == [H + 1] and (mdp.R[H + 1] == 1).all()
    assert (mdp.R[: H + 1] == 0).all()


@pytest.mark.parametrize("H", [4, 8, 12])
def test_agarwal_chain_proposition_4_1_value_gap(H):
    """V*(s_0) = (H+1) gamma^(H+1) and V*(s_0) - V^pi(s_0) >= (H+1)/8 - (H+1)^2/3^H for pi(a_1) < 1/4."""
    mdp = agarwal_chain(H)
    V_star = optimal_V(mdp)[0]
    assert np.isclose(V_star, (H + 1) * mdp.gamma ** (H + 1))
    rng = np.random.default_rng(H)
    for _ in range(5):
        pi = rng.dirichlet(np.ones(4), size=mdp.n_states)
        pi[:, 0] = rng.uniform(0, 0.25, mdp.n_states)
        pi[:, 1:] *= (1 - pi[:, :1]) / pi[:, 1:].sum(axis=1, keepdims=True)
        assert V_star - discounted_V(mdp, pi)[0] >= (H + 1) / 8 - (H + 1) ** 2 / 3 ** H


# ---------------------------------------------------------------- specs
def test_from_spec_parses_parameters_and_aliases():
    mdp = from_spec("garnet:S=50,A=4,b=3,seed=0")
    assert mdp.n_states == 50 and mdp.n_actions == 4
    assert np.array_equal(mdp.P, garnet(50, 4, 3, seed=0).P)
    assert from_spec("chain:H=10").horizon == 10
    assert from_spec("bandit:means=[1, 2]").n_actions == 2
    assert from_spec("chain:H=4, reset=uniform").mu[3] == 0.25


@pytest.mark.parametrize("spec, match", [("nope:H=3", "nope"), ("chain:K=3", "K"), ("chain:H", "H"), ("", "spec")])
def test_from_spec_errors_name_the_problem(spec, match):
    with pytest.raises(ValueError, match=match):
        from_spec(spec)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 30), st.integers(1, 4), st.data(), st.integers(0, 10 ** 6))
def test_garnet_branching_holds_for_generated_sizes(S, A, data, seed):
    b = data.draw(st.integers(1, S))
    P = dense_P(garnet(S, A, b, seed=seed))
    assert ((P > 0).sum(axis=2) == b).all() and np.allclose(P.sum(axis=2), 1)
