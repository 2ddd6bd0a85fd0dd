"""The solver chosen per MDP, and its answers against a dense LU solve."""
import numpy as np
import pytest

import mdps
import tabular_pg as tpg


def grid(width, gamma=0.99):
    layout = ["G" + "." * (width - 1)] + ["." * width] * (width - 1)
    return mdps.gridworld(layout, terminals={"G": 1.0}, step_reward=-0.01, slip=0.2, gamma=gamma)


@pytest.mark.parametrize("make, solver", [
    (lambda: mdps.garnet(3000, 3, 4, seed=1, gamma=0.99), "gmres"),
    (lambda: mdps.garnet(3000, 3, 4, seed=1, gamma=0.9999), "gmres"),
    (lambda: grid(60), "splu"),
    (lambda: mdps.garnet(500, 3, 4, seed=1, gamma=0.99), "dense"),
])
def test_auto_solver_choice_and_agreement_with_dense_lu(make, solver):
    mdp = make()
    pi = tpg.policies.softmax(np.random.default_rng(0).normal(size=(mdp.n_states, mdp.n_actions)))
    ev = tpg.evaluate(mdp, pi)
    assert ev.solver == solver
    ref = tpg.evaluate(mdp, pi, solver="dense")
    assert ev.residual < 1e-10 and ref.residual < 1e-10
    # forward error <= cond * backward error; cond_inf(I - gamma P) <= (1+gamma)/(1-gamma)
    cond = (1 + mdp.gamma) / (1 - mdp.gamma)
    tol = 10 * cond * max(ev.residual, ref.residual, 1e-16)
    assert np.abs(ev.V - ref.V).max() <= tol * np.abs(ref.V).max()
    assert np.abs(ev.visits - ref.visits).max() <= tol * np.abs(ref.visits).max()


def test_matrix_free_operator_rejects_direct_solvers():
    op = tpg.exact.linsolve.IdentityMinusGammaP(np.eye(3), 0.5)
    with pytest.raises(ValueError, match="only be solved with 'gmres'"):
        tpg.exact.linsolve.factorize(op, "splu")


def test_unknown_solver_name():
    with pytest.raises(ValueError, match="solver must be one of"):
        tpg.evaluate(mdps.garnet(5, 2, 2, seed=0), np.full((5, 2), 0.5), solver="cholesky")


def test_sparse_episodic_system_is_solved_on_transient_states():
    mdp = grid(50, gamma=1.0)                       # gamma = 1: the goal cell is terminal
    pi = np.full((mdp.n_states, 4), 0.25)
    ev = tpg.evaluate(mdp, pi)
    assert ev.residual < 1e-10 and abs(ev.d.sum() - 1) < 1e-12
    terminal = mdp.terminal_states()
    assert terminal.size == 1 and ev.V[terminal[0]] == 0.0 and ev.visits[terminal[0]] == 0.0
    np.testing.assert_allclose((pi * ev.A).sum(axis=1), 0, atol=1e-9 * np.abs(ev.V).max())
