"""Entropy-regularised ("soft") values: the policy entropy, the soft Bellman operators, soft value iteration.

Conventions of Cen, Cheng, Chen, Wei & Chi (2021), "Fast Global Convergence of Natural Policy
Gradient Methods with Entropy Regularization", §2 (with temperature :math:`\\tau > 0`):

.. math:: V_\\tau^\\pi(s)
          = \\mathbb E\\Big[\\sum_t \\gamma^t\\big(r(s_t,a_t) - \\tau\\log\\pi(a_t|s_t)\\big)\\,\\Big|\\,s_0=s\\Big],
          \\qquad Q_\\tau^\\pi(s,a) = r(s,a) + \\gamma\\,\\mathbb E_{s'\\sim P(\\cdot|s,a)}V_\\tau^\\pi(s'),

so :math:`V_\\tau(s) = \\sum_a\\pi(a|s)(Q_\\tau(s,a) - \\tau\\log\\pi(a|s))`, the soft advantage is
:math:`A_\\tau = Q_\\tau - \\tau\\log\\pi - V_\\tau` (with :math:`\\mathbb E_\\pi A_\\tau = 0`) and
:math:`J_\\tau = \\mu^\\top V_\\tau = J + \\tau\\,\\mathbb E[\\sum_t\\gamma^t\\mathcal H(\\pi(\\cdot|s_t))]`.  The
soft optimum is the fixed point :math:`\\pi^*_\\tau = \\mathrm{softmax}(Q^*_\\tau/\\tau)`,
:math:`V^*_\\tau = \\tau\\log\\sum_a e^{Q^*_\\tau(s,a)/\\tau}` (Haarnoja et al. 2017, "Reinforcement
Learning with Deep Energy-Based Policies", Thm 1; Cen et al. 2021, eq. 12).

Where the entropy counts: every state and step for ``gamma < 1`` or a finite horizon; for
``gamma = 1`` episodic tasks not at the terminal states (the episode has ended there; counting
it would make every value infinite).  ``0 log 0 = 0``.  This module imports only the model, so
that :mod:`~tabular_pg.exact.evaluation` and :mod:`~tabular_pg.exact.planning` can build on it.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.special import entr, logsumexp

from tabular_pg._checks import positive_int, positive_number
from tabular_pg.exact.linsolve import ConvergenceWarning
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import softmax

__all__ = ["check_entropy", "policy_entropy", "entropy_weights", "log_policy", "soft_advantage",
           "soft_max", "soft_greedy", "soft_backup", "soft_value_iteration", "contraction_fixed_point",
           "soft_backward_induction", "soft_finite_values"]


def check_entropy(entropy) -> float:
    """The temperature :math:`\\tau` as a float >= 0 (TypeError for a non-number, else ValueError)."""
    return positive_number("entropy", entropy, allow_zero=True)


def policy_entropy(pi: np.ndarray) -> np.ndarray:
    """:math:`\\mathcal H(\\pi(\\cdot|s)) = -\\sum_a\\pi(a|s)\\log\\pi(a|s)`, shape ``pi.shape[:-1]`` (0 log 0 = 0).

    Examples
    --------
    >>> float(policy_entropy(np.array([0.5, 0.5]))) == float(np.log(2))
    True
    """
    return entr(pi).sum(axis=-1)


def entropy_weights(mdp: FiniteMDP) -> np.ndarray:
    """``(S,)``: 1 where the policy's entropy counts, 0 at the terminal states of a ``gamma = 1`` episodic task."""
    w = np.ones(mdp.n_states)
    if mdp.horizon is None and mdp.gamma >= 1:
        w[mdp.terminal_states()] = 0.0
    return w


def log_policy(pi: np.ndarray) -> np.ndarray:
    """:math:`\\log\\pi`, with 0 where :math:`\\pi = 0` (those entries always carry the weight :math:`\\pi = 0`)."""
    out = np.zeros_like(pi)
    np.log(pi, out=out, where=pi > 0)
    return out


def soft_advantage(mdp: FiniteMDP, Q: np.ndarray, V: np.ndarray, pi: np.ndarray, tau: float) -> np.ndarray:
    """:math:`A_\\tau = Q_\\tau - \\tau\\log\\pi - V_\\tau` (no entropy term where it does not count), shape of ``Q``.

    The policy-gradient theorem of the regularised objective is then
    :math:`\\nabla J_\\tau = \\sum_s\\tilde d(s)\\sum_a\\nabla\\pi(a|s)A_\\tau(s,a)` (Mei, Xiao, Szepesvári &
    Schuurmans 2020, "On the Global Convergence Rates of Softmax Policy Gradient Methods",
    Lemma 10 for the softmax): the :math:`-\\tau` of
    :math:`\\partial(-\\pi\\log\\pi)/\\partial\\pi` drops out since :math:`\\sum_a\\nabla\\pi = 0`.
    At :math:`\\pi(a|s) = 0` the term :math:`-\\tau\\log\\pi` is left out (it is infinite; a softmax
    multiplies it by :math:`\\pi = 0`).
    """
    return Q - tau * entropy_weights(mdp)[:, None] * log_policy(np.broadcast_to(pi, Q.shape)) - V[..., None]


def soft_max(mdp: FiniteMDP, Q: np.ndarray, tau: float) -> np.ndarray:
    """The soft Bellman maximum :math:`\\tau\\log\\sum_a e^{Q(s,a)/\\tau}` (the hard max where the entropy does not
    count)."""
    w = entropy_weights(mdp)
    return np.where(w > 0, tau * logsumexp(Q / tau, axis=-1), Q.max(axis=-1))


def soft_greedy(Q: np.ndarray, tau: float) -> np.ndarray:
    """:math:`\\mathrm{softmax}(Q/\\tau)` over the last axis: the maximiser of
    :math:`\\langle p, Q\\rangle + \\tau\\mathcal H(p)`."""
    return softmax(Q / tau)


def soft_backup(mdp: FiniteMDP, V: np.ndarray) -> np.ndarray:
    """:math:`r(s,a) + \\gamma\\sum_{s'}P(s'|s,a)V(s')`, shape ``(S, A)`` (written out: no import of evaluation)."""
    return mdp.R + mdp.gamma * np.asarray(mdp.P_sa @ V).reshape(mdp.n_states, mdp.n_actions)


def soft_value_iteration(mdp: FiniteMDP, tau: float, tol: float = 1e-12, max_iterations: int = 1_000_000) -> np.ndarray:
    """:math:`V^*_\\tau` by iterating :math:`V \\leftarrow \\tau\\log\\sum_a e^{(r+\\gamma PV)/\\tau}` (gamma < 1).

    The soft Bellman operator is a :math:`\\gamma`-contraction in the sup norm (Haarnoja et al.
    2017, Thm 1), so stopping at :math:`\\|V_{k+1}-V_k\\|_\\infty \\le tol(1-\\gamma)/\\gamma` gives
    :math:`\\|V_{k+1}-V^*_\\tau\\|_\\infty \\le tol`.  An independent reference for
    :func:`tabular_pg.optimum` with ``entropy=tau`` (which uses soft policy iteration).
    """
    tau, tol = positive_number("tau", tau), positive_number("tol", tol)
    positive_int("max_iterations", max_iterations)
    if mdp.horizon is not None or mdp.gamma >= 1:
        raise ValueError(f"soft_value_iteration needs gamma < 1 and no horizon; got gamma={mdp.gamma}, "
                         f"horizon={mdp.horizon}")
    return contraction_fixed_point(lambda V: soft_max(mdp, soft_backup(mdp, V), tau), mdp.n_states, mdp.gamma, tol,
                                   max_iterations, "soft value iteration")


def contraction_fixed_point(operator, n: int, gamma: float, tol: float, max_iterations: int, name: str) -> np.ndarray:
    """Iterate the :math:`\\gamma`-contraction ``operator`` from ``zeros(n)`` to within ``tol`` of its fixed point.

    Stops at :math:`\\|V_{k+1}-V_k\\|_\\infty \\le tol(1-\\gamma)/\\gamma`, so that
    :math:`\\|V_{k+1}-V^*\\|_\\infty \\le tol` (Puterman 1994, Thm. 6.3.1); a
    :class:`~tabular_pg.exact.linsolve.ConvergenceWarning` naming ``name`` if ``max_iterations`` run out.
    """
    V, stop = np.zeros(n), tol * (1 - gamma) / max(gamma, 1e-300)
    for _ in range(max_iterations):
        V_new = operator(V)
        if np.abs(V_new - V).max() <= stop:
            return V_new
        V = V_new
    warnings.warn(f"{name} did not reach tol={tol} in {max_iterations} iterations", ConvergenceWarning, stacklevel=3)
    return V


def soft_finite_values(mdp: FiniteMDP, pis: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray]:
    """Soft ``V (H, S)`` and ``Q (H, S, A)`` of the per-step policy ``pis (H, S, A)`` on a finite horizon.

    Backward recursion :math:`Q_h = r + \\gamma PV_{h+1}`,
    :math:`V_h = \\sum_a\\pi_h(Q_h) + \\tau\\mathcal H(\\pi_h)` ("Policy Gradient (continued)",
    finite-horizon recursions, with the entropy reward of Cen et al. 2021).
    """
    H, S = mdp.finite_horizon, mdp.n_states
    V, Q = np.zeros((H + 1, S)), np.empty(pis.shape)
    bonus = tau * policy_entropy(pis)
    for h in range(H - 1, -1, -1):
        Q[h] = soft_backup(mdp, V[h + 1])
        V[h] = (pis[h] * Q[h]).sum(axis=1) + bonus[h]
    return V[:H], Q


def soft_backward_induction(mdp: FiniteMDP, tau: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The soft optimum on a finite horizon: ``V* (H, S)``, ``Q* (H, S, A)`` and ``pi* (H, S, A)``.

    :math:`Q^*_h = r + \\gamma PV^*_{h+1}`, :math:`V^*_h = \\tau\\log\\sum_a e^{Q^*_h/\\tau}`,
    :math:`\\pi^*_h = \\mathrm{softmax}(Q^*_h/\\tau)`: exact in one backward pass.
    """
    H, S = mdp.finite_horizon, mdp.n_states
    V, Q = np.zeros((H + 1, S)), np.empty((H, S, mdp.n_actions))
    for h in range(H - 1, -1, -1):
        Q[h] = soft_backup(mdp, V[h + 1])
        V[h] = tau * logsumexp(Q[h] / tau, axis=-1)
    return V[:H], Q, soft_greedy(Q, tau)
