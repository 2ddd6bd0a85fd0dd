"""The exact Hessian of :math:`J(\\pi_\\theta)` and its product with a vector, by differentiating the policy-gradient
theorem.

The gradient is :math:`\\nabla J = \\sum_s \\tilde d(s) \\sum_a \\nabla\\pi(a|s) A(s,a)`
(:func:`~tabular_pg.exact.gradient.policy_gradient`).  Its derivative along a direction
:math:`v \\in \\mathbb R^d`, with :math:`\\dot\\pi(s,a) = \\nabla\\pi(a|s)^\\top v`, is

.. math::
    Hv = \\underbrace{\\sum_{s,a} \\big[\\dot{\\tilde d}(s) A(s,a) + \\tilde d(s) \\dot Q(s,a)\\big]\\nabla\\pi(a|s)}
         _{\\text{the state and action values move}}
       + \\underbrace{\\sum_{s,a} \\tilde d(s) A(s,a)\\, \\nabla^2\\pi(a|s)\\, v}_{\\text{the policy curves}},

where, from :math:`V = r_\\pi + \\gamma P_\\pi V` and
:math:`\\tilde d^\\top = \\mu^\\top + \\gamma \\tilde d^\\top P_\\pi`,

.. math::
    \\dot V = (I-\\gamma P_\\pi)^{-1} \\Big[\\sum_a \\dot\\pi(s,a) Q(s,a)\\Big]_s, \\quad
    \\dot Q = \\gamma P \\dot V, \\quad
    \\dot{\\tilde d} = (I-\\gamma P_\\pi)^{-\\top}
                      \\Big[\\gamma \\sum_{s,a} \\tilde d(s)\\dot\\pi(s,a) P(s'|s,a)\\Big]_{s'}.

(Per-state constants drop out of the first sum since :math:`\\sum_a\\nabla\\pi(a|s) = 0`, so
:math:`\\dot Q` may stand for :math:`\\dot A`.)  This is the Hessian of Furmston, Lever & Barber
2016, "Approximate Newton Methods for Policy Search in MDPs" (their
:math:`\\mathcal H_1 + \\mathcal H_2 + \\mathcal H_{12} + \\mathcal H_{12}^\\top`), and of Shen et al.
2019, "Hessian Aided Policy Gradient" (an expectation over trajectories there), written
with the resolvent instead of sums over trajectories.  One product costs two linear solves with :math:`I-\\gamma P_\\pi`
(one of them transposed) besides the evaluation of the policy: ``O(solve)``, never ``d`` of them (measured on
garnet(10^4, 4, 5), gamma = 0.99, d = 4·10^4, matrix-free GMRES: 18 ms a product against 17 ms
for the evaluation itself); the ``(d, d)`` matrix is ``d`` products whose solves share one
factorisation.

Finite horizon: :math:`\\dot V_h = \\sum_a (\\dot\\pi_h Q_h + \\pi_h \\dot Q_h)`,
:math:`\\dot Q_h = \\gamma P \\dot V_{h+1}` backwards and
:math:`\\dot x_{h+1} = \\gamma P^\\top(\\dot x_h \\pi_h + x_h \\dot\\pi_h)` forwards for the
visits :math:`x_h = \\gamma^h d_h` ("Policy Gradient (continued)", the per-step values).
Episodic (:math:`\\gamma = 1`, no horizon): the solves on the non-terminal states.

Parameterisations: for a softmax with logits :math:`z` (tabular :math:`z = \\theta`, log-linear
:math:`z = \\phi\\theta`), :math:`\\dot\\pi = \\pi(\\dot z - \\pi^\\top\\dot z)` and the curvature
term is :math:`\\sum_{s,a}\\omega(s,a)\\nabla z(s,a)` with
:math:`\\omega = \\dot\\pi(W - \\pi^\\top W) - \\pi\\,(\\dot\\pi^\\top W)`, ``W = d̃ A``.  A
:class:`~tabular_pg.policies.Direct` policy lives on the product of simplices: its Hessian is
that of :math:`J` restricted to the affine hull, :math:`\\Pi H_J \\Pi` with :math:`\\Pi` the
per-state projection onto :math:`\\sum_a v(s,a) = 0` (the same bilinear form on tangent
directions as the derivative of its gradient :math:`\\tilde d A`).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tabular_pg._checks import as_float_array, check_finite
from tabular_pg.exact.evaluation import Evaluation, evaluate, policy_transitions
from tabular_pg.exact.gradient import check_policy_fits
from tabular_pg.exact.linsolve import DENSE_MAX, IdentityMinusGammaP, choose_solver, factorize
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import MAX_DENSE_ENTRIES, Direct, LogLinear, Policy, TabularSoftmax

__all__ = ["hessian", "hessian_vector_product", "policy_jvp", "resolvent"]


# ------------------------------------------------------------ the policy's derivatives
def policy_jvp(policy: Policy, theta: np.ndarray, Vs: np.ndarray) -> np.ndarray:
    """:math:`\\dot\\pi(s,a) = \\nabla\\pi(a|s)^\\top v` for each column ``v`` of ``Vs (d, k)``:
    ``probs_shape + (k,)``."""
    pi = policy.probs(theta)
    if isinstance(policy, Direct):
        V = Vs.reshape(*pi.shape, -1)
        return V - V.mean(axis=1, keepdims=True)
    if isinstance(policy, TabularSoftmax):
        zdot = Vs.reshape(*pi.shape, -1)
    elif isinstance(policy, LogLinear):
        zdot = np.einsum("sai,ik->sak", policy.features, Vs)
    else:
        raise TypeError("the Hessian is implemented for TabularSoftmax, LogLinear and Direct; "
                        f"got {type(policy).__name__}")
    return pi[..., None] * (zdot - (pi[..., None] * zdot).sum(axis=-2, keepdims=True))


def _logit_vjp(policy: Policy, omega: np.ndarray) -> np.ndarray:
    """:math:`\\sum_{s,a}\\omega(s,a,k)\\nabla z(s,a)`, shape ``(d, k)``."""
    if isinstance(policy, LogLinear):
        return np.einsum("sai,sak->ik", policy.features, omega)
    return omega.reshape(policy.n_params, -1)


def _policy_vjp(policy: Policy, pi: np.ndarray, X: np.ndarray) -> np.ndarray:
    """:math:`\\sum_{s,a}X(s,a,k)\\nabla\\pi(a|s)` for each ``k``, shape ``(d, k)`` (``X``: ``probs_shape + (k,)``)."""
    if isinstance(policy, Direct):
        return (X - X.mean(axis=1, keepdims=True)).reshape(policy.n_params, -1)
    p = pi[..., None]
    return _logit_vjp(policy, p * (X - (p * X).sum(axis=-2, keepdims=True)))


def _curvature(policy: Policy, pi: np.ndarray, W: np.ndarray, pidot: np.ndarray) -> np.ndarray:
    """:math:`\\sum_{s,a} W(s,a)\\nabla^2\\pi(a|s)v` for each direction, shape ``(d, k)`` (0 for Direct)."""
    if isinstance(policy, Direct):
        return np.zeros((policy.n_params, pidot.shape[-1]))
    W = W[..., None]
    Wbar = (pi[..., None] * W).sum(axis=-2, keepdims=True)
    omega = pidot * (W - Wbar) - pi[..., None] * (pidot * W).sum(axis=-2, keepdims=True)
    return _logit_vjp(policy, omega)


# ------------------------------------------------------------ the values' derivatives
def resolvent(mdp: FiniteMDP, pi: np.ndarray, columns: int = 1):
    """``(factorisation, keep)``: :math:`I - \\gamma P_\\pi` on the states ``keep`` (all when gamma < 1,
    the non-terminal ones when gamma = 1), for ``columns`` right-hand sides at a time.

    The evaluation's matrix-free GMRES for one right-hand side on a large unstructured MDP
    (:func:`~tabular_pg.exact.linsolve.choose_solver`), LU otherwise (dense up to ``DENSE_MAX`` states).
    """
    S, gamma = mdp.n_states, mdp.gamma
    P_pi = policy_transitions(mdp, pi)
    keep = np.arange(S) if gamma < 1 else np.setdiff1d(np.arange(S), mdp.terminal_states())
    if keep.size < S:
        P_pi = P_pi[np.ix_(keep, keep)] if not sp.issparse(P_pi) else P_pi[keep][:, keep]
    n = keep.size
    if sp.issparse(P_pi) and n > DENSE_MAX and columns == 1 and choose_solver(n, mdp.bandwidth, gamma) == "gmres":
        return factorize(IdentityMinusGammaP(P_pi, gamma), "gmres", gamma), keep
    M = (sp.identity(n, format="csr") - gamma * P_pi) if sp.issparse(P_pi) else np.eye(n) - gamma * P_pi
    return factorize(M, "dense" if n <= DENSE_MAX else "splu", gamma), keep


def _solve(fac, B: np.ndarray, transpose: bool) -> np.ndarray:
    """``X (n, k)`` with ``M X = B`` (``M^T X = B``): one call for LU, column by column for GMRES."""
    if B.shape[1] == 1:
        return fac.solve(B[:, 0], transpose)[:, None]
    if fac.name in ("dense", "splu"):
        return fac.solve(B, transpose)
    return np.stack([fac.solve(b, transpose) for b in B.T], axis=1)


def _stationary_derivatives(mdp: FiniteMDP, ev: Evaluation, pidot: np.ndarray):
    """``(visits_dot (S, k), Q_dot (S, A, k))`` by two solves (on the non-terminal states if gamma = 1)."""
    S, A, k = pidot.shape
    gamma = mdp.gamma
    b = np.einsum("sak,sa->sk", pidot, ev.Q)
    c = gamma * (mdp.P_sa.T @ (ev.visits[:, None, None] * pidot).reshape(S * A, k))
    fac, keep = resolvent(mdp, ev.pi, k)
    V_dot, x_dot = np.zeros((S, k)), np.zeros((S, k))
    V_dot[keep] = _solve(fac, b[keep], transpose=False)
    x_dot[keep] = _solve(fac, c[keep], transpose=True)
    Q_dot = gamma * (mdp.P_sa @ V_dot).reshape(S, A, k)
    return x_dot, Q_dot


def _finite_derivatives(mdp: FiniteMDP, ev: Evaluation, pidot: np.ndarray):
    """``(visits_dot (H, S, k), Q_dot (H, S, A, k))`` by the backward and forward recursions."""
    H, S, A = ev.Q.shape
    k = pidot.shape[-1]
    pis, pidots = np.broadcast_to(ev.pi, (H, S, A)), np.broadcast_to(pidot, (H, S, A, k))
    Q_dot, V_next = np.empty((H, S, A, k)), np.zeros((S, k))
    for h in range(H - 1, -1, -1):
        Q_dot[h] = mdp.gamma * (mdp.P_sa @ V_next).reshape(S, A, k)
        V_next = np.einsum("sak,sa->sk", pidots[h], ev.Q[h]) + np.einsum("sa,sak->sk", pis[h], Q_dot[h])
    x_dot = np.zeros((H, S, k))
    for h in range(H - 1):
        flow = x_dot[h][:, None, :] * pis[h][..., None] + ev.visits[h][:, None, None] * pidots[h]
        x_dot[h + 1] = mdp.gamma * (mdp.P_sa.T @ flow.reshape(S * A, k))
    return x_dot, Q_dot


# ------------------------------------------------------------ the products
def _stepwise_sum(X: np.ndarray, ev: Evaluation, policy: Policy) -> np.ndarray:
    """Sum per-step weights over steps when a stationary policy meets a finite horizon."""
    return X.sum(axis=0) if policy.horizon is None and ev.d.ndim == 2 else X


def _columns(mdp: FiniteMDP, policy: Policy, theta: np.ndarray, ev: Evaluation, Vs: np.ndarray) -> np.ndarray:
    """:math:`H v` for every column of ``Vs (d, k)``: ``(d, k)``."""
    pi = policy.probs(theta)
    pidot = policy_jvp(policy, theta, Vs)
    derivatives = _finite_derivatives if mdp.horizon is not None else _stationary_derivatives
    x_dot, Q_dot = derivatives(mdp, ev, pidot)
    X = _stepwise_sum(x_dot[..., None, :] * ev.A[..., None] + ev.visits[..., None, None] * Q_dot, ev, policy)
    W = _stepwise_sum(ev.visits[..., None] * ev.A, ev, policy)
    return _policy_vjp(policy, pi, X) + _curvature(policy, pi, W, pidot)


def _prepare(mdp: FiniteMDP, policy: Policy, theta, evaluation: Evaluation | None):
    check_policy_fits(mdp, policy)
    theta = policy.check_theta(theta)
    if evaluation is None:
        return theta, evaluate(mdp, policy.probs(theta))
    if not isinstance(evaluation, Evaluation):
        raise TypeError("evaluation must be None or an Evaluation (tabular_pg.evaluate); "
                        f"got {type(evaluation).__name__}")
    return theta, evaluation


def hessian_vector_product(mdp: FiniteMDP, policy: Policy, theta, v,
                           evaluation: Evaluation | None = None) -> np.ndarray:
    """Exact :math:`\\nabla^2 J(\\pi_\\theta)\\, v`, shape ``(d,)``, without forming the ``(d, d)`` matrix.

    Parameters
    ----------
    mdp : FiniteMDP
        Discounted, finite-horizon or episodic (``gamma = 1`` with terminal states).
    policy : TabularSoftmax, LogLinear or Direct
    theta : array_like (d,)
    v : array_like (d,)
        The direction.  For a Direct policy only its per-state sum-zero part counts.
    evaluation : Evaluation, optional
        :func:`~tabular_pg.exact.evaluate` of :math:`\\pi_\\theta`, if already at hand.

    Notes
    -----
    The module's formula (Furmston, Lever & Barber 2016; Shen et al. 2019): two linear
    solves with :math:`I-\\gamma P_\\pi` (``O(H)`` sweeps on a finite horizon) beside the
    evaluation, whatever ``d``.

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.garnet(5, 3, 2, seed=0); pol = tpg.TabularSoftmax(5, 3); th = np.linspace(-1, 1, 15)
    >>> v = np.random.default_rng(0).normal(size=15)
    >>> bool(np.allclose(hessian_vector_product(mdp, pol, th, v), hessian(mdp, pol, th) @ v, rtol=1e-12, atol=0))
    True
    """
    theta, ev = _prepare(mdp, policy, theta, evaluation)
    v = as_float_array("v", v)
    if v.shape != (policy.n_params,):
        raise ValueError(f"v must have shape ({policy.n_params},) like theta; got {v.shape}")
    check_finite("v", v)
    return _columns(mdp, policy, theta, ev, v[:, None])[:, 0]


def hessian(mdp: FiniteMDP, policy: Policy, theta, evaluation: Evaluation | None = None) -> np.ndarray:
    """Exact :math:`\\nabla^2_\\theta J(\\pi_\\theta)`, shape ``(d, d)``, symmetric.

    ``d`` Hessian-vector products (:func:`hessian_vector_product`) in column blocks that share
    one LU factorisation of :math:`I-\\gamma P_\\pi`.  A tabular softmax has a null space
    (a constant added to the logits of one state), and so does a Direct policy (the
    directions leaving its simplices).  Refuses (ValueError) a matrix beyond
    ``tabular_pg.policies.MAX_DENSE_ENTRIES`` entries; use the product instead.

    Examples
    --------
    >>> import mdps, tabular_pg as tpg
    >>> mdp = mdps.bandit([0.2, 0.5, 0.9]); pol = tpg.TabularSoftmax(1, 3)
    >>> H = hessian(mdp, pol, np.zeros(3))            # J = sum_a softmax(theta)_a r_a
    >>> bool(np.allclose(H, H.T)), bool(np.allclose(H @ np.ones(3), 0))
    (True, True)
    """
    theta, ev = _prepare(mdp, policy, theta, evaluation)
    d = policy.n_params
    if d * d > MAX_DENSE_ENTRIES:
        raise ValueError(f"the Hessian would be a dense ({d}, {d}) matrix beyond {MAX_DENSE_ENTRIES:,} entries; "
                         "use hessian_vector_product")
    per_column = max(1, int(np.prod(ev.Q.shape)))
    block = max(1, min(d, 2 * 10**7 // per_column))
    eye = np.eye(d)
    return np.hstack([_columns(mdp, policy, theta, ev, eye[:, i:i + block]) for i in range(0, d, block)])
