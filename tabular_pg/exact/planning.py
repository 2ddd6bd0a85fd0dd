"""The reference optimum: policy iteration with exact evaluation, backward induction,
and value iteration (for cross-checks).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tabular_pg._checks import positive_int
from tabular_pg.exact.evaluation import check_horizon_size, evaluate, policy_values, q_from_v
from tabular_pg.exact.linsolve import ConvergenceWarning
from tabular_pg.exact.soft import check_entropy, contraction_fixed_point, soft_backward_induction, soft_greedy, soft_max
from tabular_pg.mdp import FiniteMDP

__all__ = ["Optimum", "optimum", "value_iteration", "greedy", "feasible_q", "soft_policy_iteration", "SOFT_TOL"]

#: Soft policy iteration stops when the soft Bellman residual is at most this times max(1, |V|).
SOFT_TOL = 1e-13


@dataclass(frozen=True, eq=False)
class Optimum:
    """The optimal values and a deterministic optimal policy.

    ``V*``, ``Q*`` and ``pi`` (one-hot ``(S, A)``, or ``(H, S, A)`` on a finite horizon),
    :math:`J^* = \\mu^\\top V^*`, and the iterations taken.

    ``proper_only`` is True when the optimum is taken over *proper* policies only (those
    that reach a terminal state with probability 1): ``gamma = 1`` without a horizon, where
    an improper policy (one that loops forever, e.g. in a zero-reward cycle) has no finite
    value in general and is not considered, even where looping would earn more.
    """

    V: np.ndarray
    Q: np.ndarray
    pi: np.ndarray
    J: float
    iterations: int
    proper_only: bool = False


def greedy(Q: np.ndarray, current: np.ndarray | None = None, tol: float = 0.0) -> np.ndarray:
    """Indices of the greedy actions of ``Q (..., A)``; keep ``current`` unless beaten by ``tol``.

    Examples
    --------
    >>> greedy(np.array([[1., 2.], [3., 3.]]), current=np.array([0, 1])).tolist()
    [1, 1]
    """
    best = Q.argmax(axis=-1)
    if current is None:
        return best
    keep = np.take_along_axis(Q, current[..., None], -1)[..., 0] >= Q.max(axis=-1) - tol
    return np.where(keep, current, best)


def feasible_q(mdp: FiniteMDP, Q: np.ndarray) -> np.ndarray:
    """``Q (..., S, A)`` with ``-inf`` on the infeasible actions of ``mdp.mask`` (no max or argmax picks them)."""
    return Q if mdp.mask is None else np.where(mdp.mask, Q, -np.inf)


def _one_hot(actions: np.ndarray, n_actions: int) -> np.ndarray:
    return np.eye(n_actions)[actions]


def _backward_induction(mdp: FiniteMDP) -> Optimum:
    """:math:`Q^*_h = r + \\gamma P V^*_{h+1}`, :math:`V^*_h = \\max_a Q^*_h` (Bellman, 1957)."""
    H, S, A = mdp.finite_horizon, mdp.n_states, mdp.n_actions
    V, Q = np.zeros((H + 1, S)), np.empty((H, S, A))
    for h in range(H - 1, -1, -1):
        Q[h] = feasible_q(mdp, q_from_v(mdp, V[h + 1]))
        V[h] = Q[h].max(axis=1)
    pi = _one_hot(Q.argmax(axis=2), A)
    return Optimum(V=V[:H], Q=Q, pi=pi, J=float(mdp.mu @ V[0]), iterations=H)


def _proper_policy(mdp: FiniteMDP) -> np.ndarray:
    """Actions that move, with positive probability, strictly closer to a terminal state.

    Breadth-first over levels from the terminal states: any such policy reaches a
    terminal state with probability 1, which policy iteration with gamma = 1 needs to start.
    States that cannot terminate are allowed only where ``mu`` never leads, under any policy.
    """
    S, A = mdp.n_states, mdp.n_actions
    terminal = mdp.terminal_states()
    if terminal.size == 0:
        raise ValueError("gamma = 1 with horizon=None needs zero-reward absorbing (terminal) states; none found")
    P = sp.csr_matrix(mdp.P_sa)
    action = np.zeros(S, dtype=int)
    done = np.zeros(S, dtype=bool)
    done[terminal] = True
    while not done.all():
        hits = (P @ done.astype(float)).reshape(S, A) > 0
        hits &= True if mdp.mask is None else mdp.mask
        new = ~done & hits.any(axis=1)
        if not new.any():
            stuck = np.flatnonzero(~done)
            if np.isin(stuck, mdp.reachable_states()).any():
                stuck = np.intersect1d(stuck, mdp.reachable_states())
                raise ValueError(f"gamma = 1 with horizon=None: states {stuck[:10].tolist()}, reachable from mu, "
                                 "cannot reach a terminal state under any policy")
            break              # only states mu never reaches are left: their values are undefined (NaN), J is not
        action[new] = hits[new].argmax(axis=1)
        done |= new
    return action


def _values_and_q(mdp: FiniteMDP, actions: np.ndarray, solver: str, V0: np.ndarray | None):
    """``V`` and ``Q`` of the deterministic policy ``actions``: only the value solve when
    gamma < 1 (warm-started from ``V0``), the full episodic evaluation when gamma = 1."""
    pi = _one_hot(actions, mdp.n_actions)
    if mdp.gamma < 1:
        V, _ = policy_values(mdp, pi, solver=solver, V0=V0)
        return V, feasible_q(mdp, q_from_v(mdp, V))
    ev = evaluate(mdp, pi, solver=solver)
    return ev.V, feasible_q(mdp, ev.Q)


def _start_value(mdp: FiniteMDP, V: np.ndarray) -> float:
    """:math:`J = \\mu^\\top V` over the support of ``mu`` (V is NaN where it is undefined, off it)."""
    start = mdp.mu > 0
    return float(mdp.mu[start] @ V[start])


def _policy_iteration(mdp: FiniteMDP, solver: str, max_iterations: int) -> Optimum:
    """Howard's policy iteration; each evaluation starts from the previous policy's V
    (measured at S = 1e4: 349 ms with full evaluations, 72 ms with warm value-only solves)."""
    A = mdp.n_actions
    actions = _proper_policy(mdp) if mdp.gamma == 1 else feasible_q(mdp, mdp.R).argmax(axis=1)
    V0 = None                               # the warm start: the previous policy's V
    for it in range(1, max_iterations + 1):      # max_iterations >= 1 (optimum checks it)
        V, Q = _values_and_q(mdp, actions, solver, V0)
        V0 = V
        new = greedy(Q, actions, tol=1e-12 * max(1.0, np.abs(Q[np.isfinite(Q)]).max()))
        if np.array_equal(new, actions):
            return Optimum(V=V, Q=Q, pi=_one_hot(actions, A), J=_start_value(mdp, V), iterations=it,
                           proper_only=mdp.gamma == 1)
        if it == max_iterations:            # the last evaluated policy, with its own V and Q
            break
        actions = new
    warnings.warn(f"policy iteration did not converge in {max_iterations} iterations", ConvergenceWarning,
                  stacklevel=3)
    return Optimum(V=V, Q=Q, pi=_one_hot(actions, A), J=_start_value(mdp, V), iterations=max_iterations,
                   proper_only=mdp.gamma == 1)


def _check_iterations(max_iterations) -> None:
    positive_int("max_iterations", max_iterations)


def optimum(mdp: FiniteMDP, solver: str = "auto", max_iterations: int = 1000, entropy: float = 0.0) -> Optimum:
    """The exact optimum ``V*, Q*, pi*`` of ``mdp`` (of its entropy-regularised objective if ``entropy > 0``).

    Notes
    -----
    Infinite horizons: Howard's policy iteration with exact evaluation (every step a
    linear solve); it stops when the greedy policy is unchanged, so ``V*`` is exact to
    solver precision — not an epsilon-approximate value iteration.  ``gamma = 1``
    episodic tasks (no horizon) start from a proper policy and evaluate only proper ones (an
    improvement step that would make an episode endless fails in :func:`evaluate` with a
    ValueError), so the result is the best *proper* policy (Bertsekas & Tsitsiklis 1991,
    "An Analysis of Stochastic Shortest Path Problems"): a policy that never terminates,
    such as a zero-reward loop that beats terminating with negative return, is not
    considered; ``Optimum.proper_only`` is then True.  Finite horizons: backward induction.
    With ``entropy = tau > 0``: the soft optimum :math:`\\pi^*_\\tau = \\mathrm{softmax}(Q^*_\\tau/\\tau)`
    by :func:`soft_policy_iteration` (soft backward induction on a finite horizon); ``V, Q, J``
    are then :math:`V^*_\\tau, Q^*_\\tau, J^*_\\tau` and ``pi`` has full support (so an action
    mask and ``entropy > 0`` together are refused).
    With an action mask, maxima run over the feasible actions only and ``Q*`` is ``-inf``
    on the infeasible ones (QuantEcon's convention), so ``pi*`` never picks one.

    Examples
    --------
    >>> import mdps
    >>> mdp = mdps.garnet(8, 3, 3, seed=0)
    >>> opt = optimum(mdp)
    >>> bool(np.allclose(opt.Q.max(axis=1), opt.V, atol=1e-12))   # Bellman optimality
    True
    """
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    _check_iterations(max_iterations)
    tau = check_entropy(entropy)
    if tau > 0:
        if mdp.mask is not None:
            raise ValueError("optimum(entropy > 0) on an MDP with an action mask is not supported: the soft "
                             "optimum softmax(Q/tau) puts mass on every action")
        return soft_policy_iteration(mdp, tau, solver, max_iterations)
    if mdp.horizon is not None:
        check_horizon_size(mdp)
        return _backward_induction(mdp)
    return _policy_iteration(mdp, solver, max_iterations)


def _check_soft_episodic(mdp: FiniteMDP, tau: float, solve_residual: float) -> None:
    """ValueError when soft policy iteration on a ``gamma = 1`` task runs away: the entropy reward
    outweighs the cost of not terminating, so :math:`V^*_\\tau` is infinite (episodes grow without bound)."""
    if mdp.gamma >= 1 and solve_residual > 1e-8:
        raise ValueError(f"gamma = 1: the entropy-regularised optimum with entropy={tau!r} is unbounded on this "
                         "MDP (soft policy iteration makes episodes ever longer: the entropy reward outweighs the "
                         "rewards); use a smaller entropy or gamma < 1")


def soft_policy_iteration(mdp: FiniteMDP, tau: float, solver: str = "auto", max_iterations: int = 1000) -> Optimum:
    """The soft optimum by soft policy iteration: :math:`\\pi_{k+1} = \\mathrm{softmax}(Q_\\tau^{\\pi_k}/\\tau)`.

    Notes
    -----
    Haarnoja et al. (2018), "Soft Actor-Critic", Lemma 2 (soft policy improvement) and
    Theorem 1; Cen et al. (2021), "Fast Global Convergence of Natural Policy Gradient
    Methods with Entropy Regularization": entropy-regularised NPG with step
    :math:`\\eta = (1-\\gamma)/\\tau` is this iteration, and
    :math:`\\|Q^*_\\tau - Q^{(k)}_\\tau\\|_\\infty \\le \\gamma^k\\|Q^*_\\tau - Q^{(0)}_\\tau\\|_\\infty` (their Thm 1).
    Each step is an exact soft evaluation; it stops when the soft Bellman residual
    :math:`\\|\\tau\\log\\sum_a e^{Q_\\tau/\\tau} - V_\\tau\\|_\\infty` is at most ``SOFT_TOL * max(1, |V|)``, or
    is below ``1e3 * SOFT_TOL * max(1, |V|)`` when ``V`` (which increases monotonically, soft policy
    improvement) stops increasing at float precision; it starts from the uniform policy.  The
    returned ``pi`` is :math:`\\mathrm{softmax}(Q/\\tau)` of the returned ``Q`` (the fixed-point relation).

    Examples
    --------
    >>> import mdps
    >>> mdp = mdps.garnet(6, 3, 2, seed=0)
    >>> opt = soft_policy_iteration(mdp, 0.5)
    >>> bool(np.allclose(opt.pi, np.exp((opt.Q - opt.V[:, None]) / 0.5), atol=1e-12))   # softmax(Q*/tau)
    True
    """
    if mdp.horizon is not None:
        V, Q, pi = soft_backward_induction(mdp, tau)
        return Optimum(V=V, Q=Q, pi=pi, J=float(mdp.mu @ V[0]), iterations=mdp.horizon)
    pi = np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)
    V_old = None
    for it in range(1, max_iterations + 1):
        ev = evaluate(mdp, pi, solver=solver, entropy=tau)
        residual = float(np.abs(soft_max(mdp, ev.Q, tau) - ev.V).max())
        scale = max(1.0, float(np.abs(ev.V).max()))
        stalled = V_old is not None and float((ev.V - V_old).max()) <= 8 * np.finfo(float).eps * scale
        _check_soft_episodic(mdp, tau, ev.residual)
        if residual <= SOFT_TOL * scale or (stalled and residual <= 1e3 * SOFT_TOL * scale):
            return Optimum(V=ev.V, Q=ev.Q, pi=soft_greedy(ev.Q, tau), J=ev.J, iterations=it,
                           proper_only=mdp.gamma == 1)
        V_old, pi = ev.V, soft_greedy(ev.Q, tau)
    warnings.warn(f"soft policy iteration did not converge in {max_iterations} iterations (soft Bellman "
                  f"residual {residual:.3g})", ConvergenceWarning, stacklevel=3)
    return Optimum(V=ev.V, Q=ev.Q, pi=ev.pi, J=ev.J, iterations=max_iterations, proper_only=mdp.gamma == 1)


def value_iteration(mdp: FiniteMDP, tol: float = 1e-12, max_iterations: int = 100_000) -> np.ndarray:
    """``V*`` by value iteration :math:`V \\leftarrow \\max_a r + \\gamma P V` (gamma < 1).

    Stops when :math:`\\|V_{k+1}-V_k\\|_\\infty \\le tol (1-\\gamma)/\\gamma`, so that
    :math:`\\|V_{k+1}-V^*\\|_\\infty \\le tol` (Puterman 1994, Thm. 6.3.1).  An independent
    reference for :func:`optimum`.
    """
    if not isinstance(mdp, FiniteMDP):
        raise TypeError(f"mdp must be a FiniteMDP; got {type(mdp).__name__}")
    _check_iterations(max_iterations)
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)):
        raise TypeError(f"tol must be a real number > 0; got {type(tol).__name__} {tol!r}")
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a finite number > 0; got {tol!r}")
    if mdp.horizon is not None or mdp.gamma >= 1:
        raise ValueError("value_iteration needs an infinite-horizon MDP with gamma < 1; "
                         f"got gamma={mdp.gamma}, horizon={mdp.horizon}")
    return contraction_fixed_point(lambda V: feasible_q(mdp, q_from_v(mdp, V)).max(axis=1), mdp.n_states,
                                   mdp.gamma, tol, max_iterations, "value iteration")
