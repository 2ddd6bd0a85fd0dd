"""Exact policy evaluation: V, Q, A, the visitation and J of a policy (gradients: :mod:`~tabular_pg.exact.gradient`).

Conventions: :math:`J(\\pi)=\\mathbb E[\\sum_{t<H}\\gamma^t r(s_t,a_t)]`,
:math:`s_0\\sim\\mu`; unnormalised visitation :math:`\\tilde d(s)=\\sum_t\\gamma^t P(s_t=s)`
(``visits``); normalised :math:`d=(1-\\gamma)\\tilde d` for an infinite horizon,
:math:`d=\\tilde d/\\sum\\tilde d` for ``gamma = 1`` episodic tasks, and the per-step
occupancy :math:`d_h(s)=P(s_h=s)` for a finite horizon (then ``visits[h] = gamma^h d_h``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tabular_pg.exact.blas import one_blas_thread
from tabular_pg.exact.linsolve import RESIDUAL_WARN, IdentityMinusGammaP, PrecisionWarning, choose_solver, factorize
from tabular_pg.exact.matvec import RowBlocks
from tabular_pg._checks import as_float_array, check_distributions, freeze_fields, sealed
from tabular_pg.mdp import FiniteMDP, reachable

__all__ = ["Evaluation", "evaluate", "check_policy", "transition_matrix", "policy_transitions", "q_from_v",
           "policy_values", "never_terminating_states", "VALUE_LIMIT"]


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Exact evaluation of a policy; arrays read-only.

    Infinite horizon: ``V (S,)``, ``Q, A, d_sa (S, A)``, ``d, visits (S,)``.
    Finite horizon ``H``: ``V (H, S)``, ``Q, A, d_sa (H, S, A)``, ``d, visits (H, S)``.
    ``residual`` is the larger relative residual of the value and visitation solves
    (0 for the exact finite-horizon recursions); ``solver`` names the method used;
    ``pi`` is a copy of the evaluated policy (no array here aliases the caller's).
    ``products`` is ``(forward, transposed)``, the sparse products with :math:`P_\\pi` and
    :math:`P_\\pi^\\top` the value and visitation solves made on the Krylov path (the cost of a
    large evaluation; ``(0, 0)`` for a factorisation or a recursion); Q takes one more with ``P``.
    """

    V: np.ndarray
    Q: np.ndarray
    A: np.ndarray
    d: np.ndarray
    d_sa: np.ndarray
    visits: np.ndarray
    J: float
    residual: float
    solver: str
    pi: np.ndarray
    products: tuple[int, int] = (0, 0)

    def __post_init__(self):
        freeze_fields(self)


def check_policy(mdp: FiniteMDP, pi, name: str = "pi") -> np.ndarray:
    """Validate a policy ``pi (S, A)`` (or ``(H, S, A)`` for a finite horizon) for ``mdp``."""
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    pi = as_float_array(name, pi)
    S, A = mdp.n_states, mdp.n_actions
    shapes = [(S, A)] + ([(mdp.horizon, S, A)] if mdp.horizon is not None else [])
    if pi.shape not in shapes:
        raise ValueError(f"{name} must have shape {' or '.join(map(str, shapes))}; got {pi.shape}")
    check_distributions(name, pi)
    return pi


def transition_matrix(mdp: FiniteMDP, pi: np.ndarray, canonical: bool = True):
    """:math:`P_\\pi(s'|s) = \\sum_a \\pi(a|s) P(s'|s,a)`, shape ``(S, S)`` (CSR if ``mdp`` is sparse).

    The rows ``s*A .. s*A+A-1`` of the sparse ``(S*A, S)`` transitions are contiguous, so
    ``P_pi`` is those rows weighted by ``pi`` under the row pointer ``indptr[::A]``; with
    ``canonical=False`` the duplicate entries are left unsummed and the column indices are
    the MDP's own read-only array (fine for products, not for in-place format changes).
    ``pi`` is validated (:func:`check_policy`); the solvers call :func:`policy_transitions`.
    """
    pi = check_policy(mdp, pi)
    if pi.ndim != 2:
        raise ValueError(f"pi must have shape (S, A) = {(mdp.n_states, mdp.n_actions)} here; got {pi.shape}")
    return policy_transitions(mdp, pi, canonical)


def policy_transitions(mdp: FiniteMDP, pi: np.ndarray, canonical: bool = True):
    """:func:`transition_matrix` of an already validated ``pi (S, A)``."""
    if not mdp.is_sparse:
        return np.einsum("sa,sat->st", pi, mdp.P)
    P, A = mdp.P, mdp.n_actions
    data = np.repeat(pi.reshape(-1), np.diff(P.indptr))
    data *= P.data
    if not canonical:      # for products only: share the MDP's read-only column indices
        return sp.csr_matrix((data, P.indices, np.ascontiguousarray(P.indptr[::A])), shape=(mdp.n_states,) * 2, copy=False)
    P_pi = sp.csr_matrix((data, P.indices.copy(), P.indptr[::A].copy()), shape=(mdp.n_states,) * 2)
    P_pi.sum_duplicates()
    P_pi.eliminate_zeros()
    return P_pi


def q_from_v(mdp: FiniteMDP, V: np.ndarray) -> np.ndarray:
    """:math:`Q(s,a) = r(s,a) + \\gamma \\sum_{s'} P(s'|s,a) V(s')`: ``V (S,)`` gives ``(S, A)``, a batch ``V (B, S)`` gives ``(B, S, A)``."""
    S, A = mdp.n_states, mdp.n_actions
    if V.ndim == 2:
        return mdp.R + mdp.gamma * (mdp.P_sa @ V.T).T.reshape(V.shape[0], S, A)
    PV = RowBlocks(mdp.P) @ V if mdp.is_sparse else mdp.P_sa @ V
    return mdp.R + mdp.gamma * PV.reshape(S, A)


def _identity_minus(P_pi, gamma: float):
    S = P_pi.shape[0]
    if sp.issparse(P_pi):
        return (sp.identity(S, format="csr") - gamma * P_pi).tocsr()
    return np.eye(S) - gamma * P_pi


def _solve_pair(M, b: np.ndarray, c: np.ndarray, solver: str, gamma: float):
    """Solve ``M x = b`` and ``M^T y = c`` with one factorisation; return x, y, residual, name, products."""
    fac = factorize(M, solver, gamma=gamma)
    (x, res_x), (y, res_y) = fac.solve_with_residual(b), fac.solve_with_residual(c, transpose=True)
    residual = max(res_x, res_y)
    if residual > RESIDUAL_WARN:
        warnings.warn(f"evaluate: relative residual {residual:.2e} exceeds {RESIDUAL_WARN:g} "
                      f"(solver {fac.name})", PrecisionWarning, stacklevel=5)
    return x, y, residual, fac.name, fac.products


def _discounted_system(mdp: FiniteMDP, pi: np.ndarray, solver: str):
    """``M = I - gamma P_pi`` (matrix-free on the Krylov path) and the solver to use."""
    if solver == "auto" and mdp.is_sparse:
        solver = choose_solver(mdp.n_states, mdp.bandwidth, mdp.gamma)
    if solver == "gmres" and mdp.is_sparse:
        return IdentityMinusGammaP(policy_transitions(mdp, pi, canonical=False), mdp.gamma), solver
    return _identity_minus(policy_transitions(mdp, pi), mdp.gamma), solver


def _evaluate_discounted(mdp: FiniteMDP, pi: np.ndarray, solver: str) -> Evaluation:
    """Eq. (Bellman) :math:`(I-\\gamma P_\\pi)V = r_\\pi` and :math:`(I-\\gamma P_\\pi)^\\top\\tilde d = \\mu`."""
    r_pi = (pi * mdp.R).sum(axis=1)
    M, solver = _discounted_system(mdp, pi, solver)
    V, visits, residual, name, products = _solve_pair(M, r_pi, mdp.mu, solver, mdp.gamma)
    return _assemble(mdp, pi, V, visits, (1 - mdp.gamma) * visits, residual, name, products)


@one_blas_thread()
def policy_values(mdp: FiniteMDP, pi: np.ndarray, solver: str = "auto", V0: np.ndarray | None = None):
    """Only :math:`V = (I-\\gamma P_\\pi)^{-1} r_\\pi` (gamma < 1, no horizon), from the guess ``V0``.

    Half of :func:`evaluate` (no visitation solve), for policy iteration, whose
    consecutive policies have close values.  Returns ``(V (S,), relative residual)``.
    """
    r_pi = (pi * mdp.R).sum(axis=1)
    M, solver = _discounted_system(mdp, pi, solver)
    V, residual = factorize(M, solver, gamma=mdp.gamma).solve_with_residual(r_pi, x0=V0)
    if residual > RESIDUAL_WARN:
        warnings.warn(f"policy_values: relative residual {residual:.2e} exceeds {RESIDUAL_WARN:g}",
                      PrecisionWarning, stacklevel=3)
    return V, residual


def _assemble(mdp, pi, V, visits, d, residual, name, products=(0, 0)) -> Evaluation:
    Q = q_from_v(mdp, V)
    A = Q - V[:, None]
    J = float(mdp.mu @ V)
    return Evaluation(**sealed(V=V, Q=Q, A=A, d=d, d_sa=d[:, None] * pi, visits=visits), J=J, residual=residual,
                      solver=name, pi=pi, products=products)


def never_terminating_states(mdp: FiniteMDP, pi: np.ndarray, P_pi=None) -> np.ndarray:
    """Non-terminal states from which no terminal state is reachable under ``pi``.

    Terminal states are the zero-reward absorbing states; from the returned states the
    chain under ``pi`` cycles forever with probability 1 among non-terminal states.
    """
    P_pi = policy_transitions(mdp, pi) if P_pi is None else P_pi
    can_end = reachable(sp.csr_matrix(P_pi).T, mdp.terminal_states())
    return np.setdiff1d(np.arange(mdp.n_states), can_end)


def _evaluate_episodic(mdp: FiniteMDP, pi: np.ndarray, solver: str) -> Evaluation:
    """gamma = 1, no horizon: solve :math:`(I - P_{TT})V_T = r_T` on the transient states T."""
    P_pi = policy_transitions(mdp, pi)
    if mdp.terminal_states().size == 0:
        raise ValueError("gamma = 1 with horizon=None needs zero-reward absorbing (terminal) states; "
                         "this MDP has none (give a horizon or gamma < 1)")
    stuck = never_terminating_states(mdp, pi, P_pi)
    if stuck.size:
        raise ValueError(f"gamma = 1 with horizon=None: under this policy the states {stuck[:10].tolist()}"
                         f"{' ...' if stuck.size > 10 else ''} ({stuck.size} in all) never reach a terminal "
                         "state, so values and visits are infinite")
    T = np.setdiff1d(np.arange(mdp.n_states), mdp.terminal_states())
    P_TT = P_pi[np.ix_(T, T)] if not sp.issparse(P_pi) else P_pi[T][:, T]
    r_pi = (pi * mdp.R).sum(axis=1)
    V_T, visits_T, residual, name, products = _solve_pair(_identity_minus(P_TT, 1.0), r_pi[T], mdp.mu[T], solver, 1.0)
    if not (np.all(np.abs(V_T) <= VALUE_LIMIT) and np.all(visits_T <= VALUE_LIMIT)):
        raise ValueError(f"gamma = 1: values or expected visits exceed {VALUE_LIMIT:g} (max |V| = {np.abs(V_T).max():.3g}, "
                         f"max visits = {visits_T.max():.3g}); episodes are too long for these rewards")
    V, visits = np.zeros(mdp.n_states), np.zeros(mdp.n_states)
    V[T], visits[T] = V_T, visits_T
    total = visits.sum()
    d = visits / total if total > 0 else visits.copy()
    return _assemble(mdp, pi, V, visits, d, residual, name, products)


def _evaluate_finite(mdp: FiniteMDP, pi: np.ndarray) -> Evaluation:
    """Backward recursion :math:`V_h = \\sum_a\\pi_h(Q_h)`, :math:`Q_h = r + \\gamma P V_{h+1}`;
    forward :math:`d_{h+1}(s') = \\sum_{s,a} d_h(s)\\pi_h(a|s)P(s'|s,a)` ("Policy Gradient (continued)")."""
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    pis = np.broadcast_to(pi, (H, S, A))
    Q, V = np.empty((H, S, A)), np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        Q[h] = q_from_v(mdp, V[h + 1])
        V[h] = (pis[h] * Q[h]).sum(axis=1)
    d = np.empty((H, S))
    d[0] = mdp.mu
    P_T = mdp.P_sa.T
    for h in range(H - 1):
        d[h + 1] = P_T @ (d[h][:, None] * pis[h]).reshape(-1)
    V = V[:H]
    visits = mdp.gamma ** np.arange(H)[:, None] * d
    return Evaluation(**sealed(V=V, Q=Q, A=Q - V[:, :, None], d=d, d_sa=d[:, :, None] * pis, visits=visits),
                      J=float(mdp.mu @ V[0]), residual=0.0, solver="recursion", pi=pi)


#: Largest value bound :math:`r_{\\max} H` (``H`` the horizon or :math:`1/(1-\\gamma)`) evaluated;
#: beyond it V, Q or J could overflow to inf and A = Q - V become NaN.
VALUE_LIMIT = 1e300


def _check_value_range(mdp: FiniteMDP) -> None:
    """ValueError if :math:`|V| \\le r_{\\max} H` may leave the float range (a priori, gamma < 1 or a horizon)."""
    if mdp.horizon is None and mdp.gamma >= 1:
        return                                  # episodic: checked after the solve
    rmax = float(np.abs(mdp.R).max(initial=0.0))
    span = mdp.horizon if mdp.horizon is not None else 1.0 / (1.0 - mdp.gamma)
    if rmax * span > VALUE_LIMIT:
        raise ValueError(f"R is too large for this MDP: values reach max|r| * H = {rmax:.3g} * {span:.3g}, beyond "
                         f"{VALUE_LIMIT:g} (V, Q, J would overflow); rescale the rewards")


@one_blas_thread()
def evaluate(mdp: FiniteMDP, pi, solver: str = "auto") -> Evaluation:
    """Exact V, Q, A, visitation and J of the policy ``pi`` on ``mdp``.

    Parameters
    ----------
    mdp : FiniteMDP
    pi : array_like (S, A), or (H, S, A) for a per-step policy on a finite horizon
    solver : {'auto', 'dense', 'splu', 'gmres'}
        Linear solver for infinite horizons (see :mod:`tabular_pg.exact.linsolve`).

    Returns
    -------
    Evaluation

    Notes
    -----
    Infinite horizon: :math:`V = (I-\\gamma P_\\pi)^{-1} r_\\pi`,
    :math:`Q = r + \\gamma P V`, :math:`A = Q - V`,
    :math:`\\tilde d^\\top = \\mu^\\top (I-\\gamma P_\\pi)^{-1}`, :math:`d = (1-\\gamma)\\tilde d`,
    :math:`J = \\mu^\\top V = \\tfrac{1}{1-\\gamma}\\mathbb E_{s\\sim d}[r_\\pi(s)]`
    ("Lecture 15: Policy Optimization with Trust Regions" §1, definition of :math:`d^{\\pi}_{\\mu_0}`).  Finite horizon: the
    recursions of "Policy Gradient (continued)" (:math:`Q_h = r + \\mathbb E V_{h+1}`).

    Examples
    --------
    >>> from tabular_pg import FiniteMDP
    >>> P = np.zeros((2, 2, 2)); P[:, 0, 0] = 1; P[:, 1, 1] = 1
    >>> mdp = FiniteMDP(P, np.array([[1., 0.], [0., 2.]]), np.array([.5, .5]), gamma=0.9)
    >>> ev = evaluate(mdp, np.full((2, 2), 0.5))
    >>> bool(np.isclose(ev.d.sum(), 1)), bool(np.allclose((ev.pi * ev.A).sum(axis=1), 0))
    (True, True)
    >>> bool(np.isclose(ev.J, (ev.d * (ev.pi * mdp.R).sum(1)).sum() / (1 - mdp.gamma)))
    True
    """
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    pi = check_policy(mdp, pi)
    _check_value_range(mdp)
    if mdp.horizon is not None:
        return _evaluate_finite(mdp, pi)
    if pi.ndim == 3:
        raise ValueError("a per-step policy (H, S, A) needs a finite-horizon MDP")
    if mdp.gamma < 1:
        return _evaluate_discounted(mdp, pi, solver)
    return _evaluate_episodic(mdp, pi, solver)
