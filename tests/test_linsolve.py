"""The Krylov path of the solver: the fixed-point iteration's free residuals, its stopping
rule and hand-over to GMRES, against direct solves."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import mdps
import tabular_pg as tpg
from tabular_pg.exact import fixed_point
from tabular_pg.exact import linsolve as L
from tabular_pg.exact.evaluation import transition_matrix


def operator(mdp, seed=0):
    pi = tpg.policies.softmax(np.random.default_rng(seed).normal(size=(mdp.n_states, mdp.n_actions)))
    P_pi = transition_matrix(mdp, pi, canonical=False)
    return pi, L.IdentityMinusGammaP(P_pi, mdp.gamma), P_pi


def test_shifted_residual_is_the_true_residual_of_the_previous_estimate():
    mdp = mdps.garnet(400, 3, 4, seed=2, gamma=0.95)
    pi, M, _ = operator(mdp)
    b = (pi * mdp.R).sum(axis=1)
    x, est, c = b.copy(), b, 0.0
    for _ in range(12):
        x_new = b + (x - M @ x)
        delta = x_new - x
        free = fixed_point._shifted_residual(delta, c, mdp.gamma)
        np.testing.assert_allclose(free, b - M @ est, rtol=0, atol=1e-13 * np.abs(est).max())
        est, c = fixed_point._slow_mode_step(x_new, delta, mdp.gamma)
        x = x_new


@pytest.mark.parametrize("x0", [None, "guess"])
def test_the_visitation_iteration_starts_and_stays_at_the_exact_mass(x0):
    """1^T d = 1^T mu / (1 - gamma) is the slow mode's coefficient: the start has it (a
    guess is shifted to it) and every step keeps it, to rounding."""
    mdp = mdps.garnet(400, 3, 4, seed=2, gamma=0.99)
    _, M, _ = operator(mdp)
    mass = mdp.mu.sum() / (1 - mdp.gamma)
    guess = None if x0 is None else np.random.default_rng(0).random(400)
    x = fixed_point._left_start(mdp.mu, mdp.gamma, guess)
    for _ in range(5):
        assert abs(x.sum() - mass) <= 1e-12 * mass
        x = mdp.mu + (x - M.T @ x)


@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_iteration_alone_solves_well_mixing_systems(gamma):
    """(At gamma = 0.9999 the d-system meets the rounding floor first and GMRES refines:
    covered by the evaluate test below.)"""
    mdp = mdps.garnet(3000, 4, 5, seed=0, gamma=gamma)
    pi, M, P_pi = operator(mdp)
    dense = np.eye(3000) - gamma * P_pi.toarray()
    for left, b in ((False, (pi * mdp.R).sum(axis=1)), (True, mdp.mu)):
        Mx = M.T if left else M
        x = fixed_point.extrapolated_iteration(Mx, b, gamma, left)
        assert fixed_point.converged(b - Mx @ x, x, np.abs(b).max())
        ref = np.linalg.solve(dense.T if left else dense, b)
        cond = (1 + gamma) / (1 - gamma)
        assert np.abs(x - ref).max() <= 1e-13 * cond * np.abs(ref).max()


def test_slow_mixing_hands_over_to_gmres_and_still_converges():
    """A directed cycle mixes slowly (all eigenvalues of P on the unit circle): the
    iteration stops early and the refined GMRES finishes the solve."""
    S, gamma = 2500, 0.9
    P = sp.csr_matrix((np.ones(S), (np.arange(S), (np.arange(S) + 1) % S)), shape=(S, S))
    M = L.IdentityMinusGammaP(P, gamma)
    b = np.random.default_rng(0).random(S)
    x = fixed_point.extrapolated_iteration(M, b, gamma, left=False)
    assert not fixed_point.converged(b - M @ x, x, np.abs(b).max())
    x = L.factorize(M, "gmres", gamma=gamma).solve(b)
    assert L.relative_residual(M, x, b) <= fixed_point.REFINED_RTOL * 10


def test_converged_keeps_the_relative_residual_below_the_warning():
    x = np.full(4, 1e4)
    r = np.full(4, 1e-11)                        # backward error 5e-16, relative residual 1e-11
    assert fixed_point.converged(r, x, 1.0)
    assert not fixed_point.converged(np.full(4, 5e-10), x, 1.0)


@pytest.mark.parametrize("gamma", [0.99, 0.9999])
def test_evaluate_on_a_large_garnet_agrees_with_sparse_lu(gamma):
    mdp = mdps.garnet(2500, 2, 3, seed=5, gamma=gamma)
    pi = tpg.policies.softmax(np.random.default_rng(1).normal(size=(2500, 2)))
    ev = tpg.evaluate(mdp, pi)
    ref = tpg.evaluate(mdp, pi, solver="splu")
    assert ev.solver == "gmres" and ev.residual < L.RESIDUAL_WARN
    cond = (1 + gamma) / (1 - gamma)
    tol = 10 * cond * max(ev.residual, ref.residual)
    assert np.abs(ev.V - ref.V).max() <= tol * np.abs(ref.V).max()
    assert np.abs(ev.d - ref.d).max() <= tol * np.abs(ref.d).max()


@pytest.mark.parametrize("gamma", [0.99, 1.0])
def test_sparse_lu_of_a_slippery_grid_matches_dense_lu(gamma):
    """gamma < 1: pivot-free minimum-degree LU (diagonally dominant); gamma = 1: the
    transient block of an episodic grid, pivoting kept."""
    layout = ["G" + "." * 29] + ["." * 30] * 29
    mdp = mdps.gridworld(layout, terminals={"G": 1.0}, step_reward=-0.01, slip=0.2, gamma=gamma)
    pi = tpg.policies.softmax(np.random.default_rng(2).normal(size=(mdp.n_states, 4)))
    ev = tpg.evaluate(mdp, pi, solver="splu")
    ref = tpg.evaluate(mdp, pi, solver="dense")
    assert ev.solver == "splu" and ev.residual < L.RESIDUAL_WARN
    # forward error <= cond * backward error; cond grows like the expected episode length
    tol = 1e-7 if gamma == 1 else 1e-10
    np.testing.assert_allclose(ev.V, ref.V, rtol=tol, atol=tol * np.abs(ref.V).max())
    np.testing.assert_allclose(ev.visits, ref.visits, rtol=tol, atol=tol * np.abs(ref.visits).max())


def cycle_mdp(S, gamma):
    """A directed cycle (one action): every eigenvalue of P on the unit circle."""
    P = sp.csr_matrix((np.ones(S), (np.arange(S), (np.arange(S) + 1) % S)), shape=(S, S))
    R = np.random.default_rng(0).random((S, 1))
    return tpg.FiniteMDP(P, R, np.full(S, 1 / S), gamma=gamma)


def test_small_slowly_mixing_systems_switch_to_dense_lu():
    mdp = cycle_mdp(1000, 0.99)                     # not banded (the wrap-around entry)
    assert L.choose_solver(1000, mdp.bandwidth, 0.99) == "gmres"
    ev = tpg.evaluate(mdp, np.ones((1000, 1)))
    assert ev.solver == "dense" and ev.residual < 1e-13
    # V(s) = sum_k gamma^k r(s + k mod S), summed in closed form over the cycle
    r = mdp.R[:, 0]
    V = np.array([np.dot(0.99 ** np.arange(1000), np.roll(r, -s)) for s in range(0, 1000, 97)]) / (1 - 0.99 ** 1000)
    np.testing.assert_allclose(ev.V[::97], V, rtol=1e-12)


def test_large_cycles_in_random_order_switch_to_sparse_lu():
    """A directed cycle through 5000 states in random order at gamma = 0.99: every
    eigenvalue of gamma P on a circle of radius 0.99, where restarted GMRES stagnated (at a
    relative residual of 5e-5 before the switch).  V against the closed form over the
    cycle, d against a dense solve, both to 1e-12 relative."""
    S, gamma = 5000, 0.99
    order = np.random.default_rng(1).permutation(S)
    successor = np.empty(S, dtype=int)
    successor[order] = np.roll(order, -1)
    P = sp.csr_matrix((np.ones(S), successor, np.arange(S + 1)), shape=(S, S))
    mu = np.random.default_rng(2).dirichlet(np.ones(S))
    mdp = tpg.FiniteMDP(P, np.random.default_rng(0).random((S, 1)), mu, gamma=gamma)
    assert L.choose_solver(S, mdp.bandwidth, gamma) == "gmres"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ev = tpg.evaluate(mdp, np.ones((S, 1)))
    assert ev.solver == "splu" and ev.residual < 1e-13
    r_along = mdp.R[order, 0]                       # rewards in cycle order
    discounts = gamma ** np.arange(S)
    for i in range(0, S, 499):
        V = discounts @ np.roll(r_along, -i) / (1 - gamma ** S)
        assert abs(ev.V[order[i]] - V) <= 1e-12 * abs(V)
    M = np.eye(S) - gamma * P.toarray()
    d = (1 - gamma) * np.linalg.solve(M.T, mu)
    np.testing.assert_allclose(ev.d, d, rtol=1e-12, atol=0)


def test_solver_choice_by_size_pattern_and_discount():
    assert L.choose_solver(L.KRYLOV_MIN, 10**6, 0.99) == "dense"
    assert L.choose_solver(1000, 10**6, 0.99) == "gmres"
    assert L.choose_solver(1000, 10**6, 1.0) == L.choose_solver(1000, 10**6) == "dense"
    assert L.choose_solver(1000, 20, 0.99) == "splu"
    assert L.choose_solver(10**5, 10**5, None) == "gmres"


def test_a_starting_guess_changes_nothing_but_the_work():
    mdp = mdps.garnet(2000, 4, 5, seed=3, gamma=0.99)
    pi, M, _ = operator(mdp)
    b = (pi * mdp.R).sum(axis=1)
    fac = L.factorize(M, "gmres", gamma=0.99)
    cold = fac.solve(b)
    n = {"warm": 0}

    class Counting(L.IdentityMinusGammaP):
        def __matmul__(self, x):
            n["warm"] += 1
            return super().__matmul__(x)

    warm = L.factorize(Counting(M.P_pi, 0.99), "gmres", gamma=0.99).solve(b, x0=cold * (1 + 1e-9))
    assert L.relative_residual(M, warm, b) < 1e-12
    np.testing.assert_allclose(warm, cold, rtol=1e-11)
    assert n["warm"] <= 12                      # a 1e-9 perturbation: a few steps, not ~30
    np.testing.assert_array_equal(fac.solve(np.zeros(2000), x0=cold), 0.0)


@pytest.mark.parametrize("gamma, bar", [(0.99, 66), (0.9999, 66)])
def test_evaluation_counts_its_sparse_products_and_needs_fewer(gamma, bar, monkeypatch):
    """``Evaluation.products`` against an independent count of the sparse kernels' calls
    (RowBlocks: the solves, plus one forward product for Q); before the visitation
    iteration started at its exact mass the S = 1e4 garnet took (29, 36) products at
    gamma = 0.99 and (27, 80) at 0.9999 (``bench/exact_scaling.py``, column "products").  Residuals are
    re-measured here with the canonical P_pi."""
    from tabular_pg.exact import matvec
    calls = {"forward": 0, "transposed": 0}
    matmul, rmatvec = matvec.RowBlocks.__matmul__, matvec.RowBlocks.rmatvec

    def counted_matmul(self, x):
        calls["forward"] += 1
        return matmul(self, x)

    def counted_rmatvec(self, y):
        calls["transposed"] += 1
        return rmatvec(self, y)

    monkeypatch.setattr(matvec.RowBlocks, "__matmul__", counted_matmul)
    monkeypatch.setattr(matvec.RowBlocks, "rmatvec", counted_rmatvec)
    mdp = mdps.garnet(10_000, 4, 5, seed=20261122, gamma=gamma, sparse=True)
    pi = tpg.policies.softmax(np.random.default_rng(20261123).normal(size=(10_000, 4)))
    ev = tpg.evaluate(mdp, pi)
    assert ev.solver == "gmres"
    assert ev.products == (calls["forward"] - 1, calls["transposed"])
    assert sum(ev.products) + 1 < bar
    P = transition_matrix(mdp, pi)
    r = (pi * mdp.R).sum(axis=1)
    assert np.abs(r - ev.V + gamma * (P @ ev.V)).max() <= L.RESIDUAL_WARN * np.abs(r).max()
    assert np.abs(mdp.mu - ev.visits + gamma * (P.T @ ev.visits)).max() <= L.RESIDUAL_WARN * np.abs(mdp.mu).max()


def test_direct_solves_count_no_products():
    mdp = mdps.garnet(50, 2, 3, seed=0, gamma=0.9)
    assert tpg.evaluate(mdp, np.full((50, 2), 0.5)).products == (0, 0)
