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
from typing import cast

import numpy as np
import scipy.sparse as sp

from tabular_pg._checks import as_float_array, check_distributions, freeze_fields, sealed
from tabular_pg.exact.blas import one_blas_thread
from tabular_pg.exact.linsolve import RESIDUAL_WARN, IdentityMinusGammaP, PrecisionWarning, choose_solver, factorize
from tabular_pg.exact.matvec import RowBlocks
from tabular_pg.exact.soft import check_entropy, entropy_weights, policy_entropy, soft_advantage, soft_finite_values
from tabular_pg.mdp import FiniteMDP, reachable

__all__ = ["Evaluation", "evaluate", "check_policy", "transition_matrix", "policy_transitions", "q_from_v",
           "policy_values", "never_terminating_states", "check_feasible", "VALUE_LIMIT", "evaluate_soft",
           "MAX_AUTO_KRYLOV_WORK", "check_horizon_size", "MAX_HORIZON_ENTRIES"]


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Exact evaluation of a policy; arrays read-only.

    Infinite horizon: ``V (S,)``, ``Q, A, d_sa (S, A)``, ``d, visits (S,)``.
    Finite horizon ``H``: ``V (H, S)``, ``Q, A, d_sa (H, S, A)``, ``d, visits (H, S)``.
    ``residual`` is the larger relative residual of the value and visitation solves
    (0 for the exact finite-horizon recursions); ``solver`` names the method used;
    ``pi`` is a copy of the evaluated policy (no array here aliases the caller's).
    ``entropy`` is the temperature :math:`\\tau`: when > 0, ``V, Q, A, J`` are the soft
    :math:`V_\\tau, Q_\\tau, A_\\tau, J_\\tau` of :mod:`tabular_pg.exact.soft` (``d``, ``visits`` unchanged).

    For ``gamma = 1`` episodic tasks ``V`` is NaN on states ``mu`` never reaches that may
    never terminate, and ``d`` is all zeros (not a distribution) when ``mu`` starts every
    episode in a terminal state.

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
    entropy: float = 0.0
    products: tuple[int, int] = (0, 0)

    def __post_init__(self):
        freeze_fields(self)


def check_policy(mdp: FiniteMDP, pi, name: str = "pi") -> np.ndarray:
    """Validate a policy ``pi (S, A)`` (or ``(H, S, A)`` for a finite horizon) for ``mdp``.

    With an action mask (:attr:`FiniteMDP.mask`), a positive probability on an infeasible
    action is a ValueError naming the state and action.
    """
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    pi = as_float_array(name, pi)
    S, A = mdp.n_states, mdp.n_actions
    shapes = [(S, A)] + ([(mdp.horizon, S, A)] if mdp.horizon is not None else [])
    if pi.shape not in shapes:
        raise ValueError(f"{name} must have shape {' or '.join(map(str, shapes))}; got {pi.shape}")
    check_distributions(name, pi)
    check_feasible(mdp, pi, name)
    return pi


def check_feasible(mdp: FiniteMDP, pi: np.ndarray, name: str = "pi", leading: tuple = ("step",)) -> None:
    """ValueError when ``pi (..., S, A)`` puts probability on an action :attr:`FiniteMDP.mask` forbids.

    ``leading`` names the axes before ``(S, A)`` (a step, a policy of a batch) in the message.

    Examples
    --------
    >>> mdp = FiniteMDP(np.full((1, 2, 1), 1.0), np.zeros((1, 2)), [1.0], gamma=0.5, mask=[[True, False]])
    >>> check_feasible(mdp, np.array([[0.5, 0.5]]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: pi puts probability 0.5 on the infeasible action a=1 in state s=0 (mdp.mask is False there; ...)
    """
    if mdp.mask is None:
        return
    bad = (np.asarray(pi) > 0) & ~mdp.mask
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        lead = idx[:-2]
        where = "".join(f"{label} {i}, " for label, i in zip(leading[len(leading) - len(lead):], lead))
        raise ValueError(f"{name} puts probability {float(np.asarray(pi)[idx])!r} on the infeasible action a={idx[-1]} "
                         f"in state s={idx[-2]} ({where}mdp.mask is False there; {int(bad.sum())} such pairs)")


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
    P, A = cast(sp.csr_matrix, mdp.P), mdp.n_actions          # is_sparse: a sparse P is stored as CSR
    data = np.repeat(pi.reshape(-1), np.diff(P.indptr))
    data *= P.data
    if not canonical:      # for products only: share the MDP's read-only column indices
        return sp.csr_matrix((data, P.indices, np.ascontiguousarray(P.indptr[::A])), shape=(mdp.n_states,) * 2,
                             copy=False)
    P_pi = sp.csr_matrix((data, P.indices.copy(), P.indptr[::A].copy()), shape=(mdp.n_states,) * 2)
    P_pi.sum_duplicates()
    P_pi.eliminate_zeros()
    return P_pi


def q_from_v(mdp: FiniteMDP, V: np.ndarray) -> np.ndarray:
    """:math:`Q(s,a) = r(s,a) + \\gamma \\sum_{s'} P(s'|s,a) V(s')`: ``V (S,)`` gives ``(S, A)``, a batch ``V (B, S)``
    gives ``(B, S, A)``."""
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


#: Largest ``nnz(P) / (1 - gamma)`` that ``solver='auto'`` takes to the Krylov path; beyond it
#: restarted GMRES was measured to stall and fall back to a sparse LU of exploding fill
#: (garnet S = 1e5, 4 actions, 5 successors: 0.5 s at gamma = 0.9999, i.e. 2e10, and > 600 s
#: at 0.99999; S = 1e4 at gamma = 0.999999: 48 s and 0.9 GB).
MAX_AUTO_KRYLOV_WORK = 1e11
#: Largest ``H * S * A`` of a finite-horizon evaluation (it holds ~6 arrays of that size).
MAX_HORIZON_ENTRIES = 10**8


def _discounted_system(mdp: FiniteMDP, pi: np.ndarray, solver: str):
    """``M = I - gamma P_pi`` (matrix-free on the Krylov path) and the solver to use."""
    if solver == "auto" and mdp.is_sparse:
        solver = choose_solver(mdp.n_states, mdp.bandwidth, mdp.gamma)
        _check_krylov_budget(mdp, solver)
    if solver == "gmres" and mdp.is_sparse:
        return IdentityMinusGammaP(policy_transitions(mdp, pi, canonical=False), mdp.gamma), solver
    return _identity_minus(policy_transitions(mdp, pi), mdp.gamma), solver


def _evaluate_discounted(mdp: FiniteMDP, pi: np.ndarray, solver: str) -> Evaluation:
    """Eq. (Bellman) :math:`(I-\\gamma P_\\pi)V = r_\\pi` and :math:`(I-\\gamma P_\\pi)^\\top\\tilde d = \\mu`."""
    r_pi = (pi * mdp.R).sum(axis=1)
    M, solver = _discounted_system(mdp, pi, solver)
    V, visits, residual, name, products = _solve_pair(M, r_pi, mdp.mu, solver, mdp.gamma)
    return _assemble(mdp, pi, V, visits, (1 - mdp.gamma) * visits, residual, name, products=products)


def _check_krylov_budget(mdp: FiniteMDP, solver: str) -> None:
    """ValueError, at once, where the automatic path was measured to take minutes (see
    :data:`MAX_AUTO_KRYLOV_WORK`); an explicit ``solver=`` runs it anyway."""
    nnz = mdp.P.nnz if isinstance(mdp.P, sp.csr_matrix) else mdp.P.size
    work = nnz / (1.0 - mdp.gamma)
    if solver == "gmres" and work > MAX_AUTO_KRYLOV_WORK:
        raise ValueError(f"evaluate: nnz(P) / (1 - gamma) = {nnz} / {1 - mdp.gamma:.3g} = {work:.3g} exceeds "
                         f"{MAX_AUTO_KRYLOV_WORK:g}, where solver='auto' was measured to stall for minutes; lower "
                         "gamma, give a horizon, or pass solver='gmres' or 'splu' to run it anyway")


def check_horizon_size(mdp: FiniteMDP) -> None:
    """ValueError before allocating the ``(H, S, A)`` arrays of a finite-horizon evaluation."""
    entries = mdp.finite_horizon * mdp.n_states * mdp.n_actions
    if entries > MAX_HORIZON_ENTRIES:
        raise ValueError(f"evaluate: horizon H = {mdp.horizon} with S = {mdp.n_states}, A = {mdp.n_actions} needs "
                         f"arrays of H*S*A = {entries} entries, beyond the limit {MAX_HORIZON_ENTRIES}")


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


def _assemble(mdp, pi, V, visits, d, residual, name, undefined=None, products=(0, 0)) -> Evaluation:
    """The Evaluation of ``V``; ``undefined`` (bool ``(S,)``) marks states whose value is
    undefined (NaN in V and in Q of every action that may lead there, never elsewhere)."""
    if undefined is not None and undefined.any():
        Q = q_from_v(mdp, np.where(undefined, 0.0, V))
        P_sa = mdp.P_sa
        Q[np.asarray(P_sa @ undefined.astype(float)).reshape(Q.shape) > 0] = np.nan
    else:
        Q = q_from_v(mdp, V)
    A = Q - V[:, None]
    J = float(mdp.mu @ np.where(mdp.mu > 0, V, 0.0))        # V may be NaN where mu never goes (gamma = 1)
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
    """gamma = 1, no horizon: solve :math:`(I - P_{TT})V_T = r_T` on the transient states T.

    Only the states reachable from ``mu`` must reach a terminal state with probability 1;
    on states that ``mu`` never reaches and from which the chain may never terminate, V is
    undefined and returned as NaN (and so are Q, A of actions leading there).  When ``mu``
    puts all its mass on terminal states no step is taken: J = 0 and ``d`` is all zeros.
    """
    P_pi = policy_transitions(mdp, pi)
    if mdp.terminal_states().size == 0:
        raise ValueError("gamma = 1 with horizon=None needs zero-reward absorbing (terminal) states; "
                         "this MDP has none (give a horizon or gamma < 1)")
    stuck = never_terminating_states(mdp, pi, P_pi)
    seen = np.intersect1d(stuck, reachable(P_pi, np.flatnonzero(mdp.mu > 0)))
    if seen.size:
        raise ValueError(f"gamma = 1 with horizon=None: under this policy the states {seen[:10].tolist()}"
                         f"{' ...' if seen.size > 10 else ''} ({seen.size} in all), reachable from mu, never reach "
                         "a terminal state, so values and visits are infinite")
    endless = reachable(sp.csr_matrix(P_pi).T, stuck)          # may never terminate: values undefined
    T = np.setdiff1d(np.arange(mdp.n_states), np.union1d(mdp.terminal_states(), endless))
    P_TT = P_pi[np.ix_(T, T)] if not sp.issparse(P_pi) else P_pi[T][:, T]
    r_pi = (pi * mdp.R).sum(axis=1)
    V_T, visits_T, residual, name, products = _solve_pair(_identity_minus(P_TT, 1.0), r_pi[T], mdp.mu[T], solver, 1.0)
    if not (np.all(np.abs(V_T) <= VALUE_LIMIT) and np.all(visits_T <= VALUE_LIMIT)):
        raise ValueError(f"gamma = 1: values or expected visits exceed {VALUE_LIMIT:g} "
                         f"(max |V| = {np.abs(V_T).max():.3g}, max visits = {visits_T.max():.3g}); "
                         "episodes are too long for these rewards")
    V, visits = np.zeros(mdp.n_states), np.zeros(mdp.n_states)
    V[T], visits[T], V[endless] = V_T, visits_T, np.nan
    total = visits.sum()
    d = visits / total if total > 0 else visits.copy()
    return _assemble(mdp, pi, V, visits, d, residual, name, undefined=np.isin(np.arange(mdp.n_states), endless),
                     products=products)


def _evaluate_finite(mdp: FiniteMDP, pi: np.ndarray) -> Evaluation:
    """Backward recursion :math:`V_h = \\sum_a\\pi_h(Q_h)`, :math:`Q_h = r + \\gamma P V_{h+1}`;
    forward :math:`d_{h+1}(s') = \\sum_{s,a} d_h(s)\\pi_h(a|s)P(s'|s,a)` ("Policy Gradient (continued)")."""
    H, S, A = mdp.finite_horizon, mdp.n_states, mdp.n_actions
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
def evaluate(mdp: FiniteMDP, pi, solver: str = "auto", entropy: float = 0.0) -> Evaluation:
    """Exact V, Q, A, visitation and J of the policy ``pi`` on ``mdp``.

    Parameters
    ----------
    mdp : FiniteMDP
    pi : array_like (S, A), or (H, S, A) for a per-step policy on a finite horizon
    solver : {'auto', 'dense', 'splu', 'gmres'}
        Linear solver for infinite horizons (see :mod:`tabular_pg.exact.linsolve`).
        ``'auto'`` refuses (ValueError, at once) a sparse system with
        ``nnz(P) / (1 - gamma)`` above :data:`MAX_AUTO_KRYLOV_WORK`, where it was measured
        to take minutes; a finite horizon is refused when ``H * S * A`` exceeds
        :data:`MAX_HORIZON_ENTRIES`.
    entropy : float >= 0
        Temperature :math:`\\tau` of the entropy regularisation (default 0: none); see
        :func:`evaluate_soft`.

    Returns
    -------
    Evaluation

    Notes
    -----
    Infinite horizon: :math:`V = (I-\\gamma P_\\pi)^{-1} r_\\pi`,
    :math:`Q = r + \\gamma P V`, :math:`A = Q - V`,
    :math:`\\tilde d^\\top = \\mu^\\top (I-\\gamma P_\\pi)^{-1}`, :math:`d = (1-\\gamma)\\tilde d`,
    :math:`J = \\mu^\\top V = \\tfrac{1}{1-\\gamma}\\mathbb E_{s\\sim d}[r_\\pi(s)]`
    ("Lecture 15: Policy Optimization with Trust Regions" §1, definition of :math:`d^{\\pi}_{\\mu_0}`).  Finite
    horizon: the
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
    if check_entropy(entropy) > 0:
        return evaluate_soft(mdp, pi, float(entropy), solver)
    _check_value_range(mdp)
    if mdp.horizon is not None:
        check_horizon_size(mdp)
        return _evaluate_finite(mdp, pi)
    if pi.ndim == 3:
        raise ValueError("a per-step policy (H, S, A) needs a finite-horizon MDP")
    if mdp.gamma < 1:
        return _evaluate_discounted(mdp, pi, solver)
    return _evaluate_episodic(mdp, pi, solver)


def evaluate_soft(mdp: FiniteMDP, pi: np.ndarray, tau: float, solver: str = "auto") -> Evaluation:
    """The entropy-regularised evaluation of a validated ``pi``: soft ``V, Q, A`` and :math:`J_\\tau`.

    Notes
    -----
    Cen, Cheng, Chen, Wei & Chi (2021), "Fast Global Convergence of Natural Policy Gradient
    Methods with Entropy Regularization", §2: :math:`V_\\tau` is the value of the reward
    :math:`r(s,a) + \\tau\\mathcal H(\\pi(\\cdot|s))` (the entropy reward, zero at the terminal
    states of a ``gamma = 1`` task), :math:`Q_\\tau = r + \\gamma PV_\\tau`,
    :math:`A_\\tau = Q_\\tau - \\tau\\log\\pi - V_\\tau`, and
    :math:`J_\\tau = \\mu^\\top V_\\tau = J + \\tau\\mathbb E[\\sum_t\\gamma^t\\mathcal H(\\pi(\\cdot|s_t))]`.  A
    stationary
    policy is evaluated on the MDP with that reward (the same solvers); a finite horizon by the
    backward recursion of :func:`tabular_pg.exact.soft.soft_finite_values`.

    Examples
    --------
    >>> import mdps
    >>> mdp = mdps.garnet(5, 3, 2, seed=0); pi = np.full((5, 3), 1 / 3)
    >>> ev, ev0 = evaluate(mdp, pi, entropy=0.1), evaluate(mdp, pi)
    >>> bool(np.isclose(ev.J, ev0.J + 0.1 * np.log(3) / (1 - mdp.gamma)))   # H = log 3 in every state
    True
    """
    if mdp.horizon is not None:
        ev = evaluate(mdp, pi)
        V, Q = soft_finite_values(mdp, np.broadcast_to(pi, ev.Q.shape), tau)
        J = float(mdp.mu @ V[0])
    else:
        bonus = tau * entropy_weights(mdp) * policy_entropy(pi)
        ev = evaluate(mdp.with_(R=mdp.R + bonus[:, None]), pi, solver)
        V, Q = ev.V, ev.Q - bonus[:, None]
        J = ev.J
    A = soft_advantage(mdp, Q, V, pi, tau)
    return Evaluation(**sealed(Q=Q, A=A), V=V, d=ev.d, d_sa=ev.d_sa, visits=ev.visits, J=J,
                      residual=ev.residual, solver=ev.solver, pi=pi, entropy=tau, products=ev.products)
