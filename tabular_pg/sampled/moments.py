"""Exact mean and covariance of every sampled gradient estimator, without sampling.

A trajectory estimator of :mod:`tabular_pg.sampled.estimators` is :math:`\\hat g = Y_0` where,
backwards over steps,

.. math::
    Z_h = \\rho_h + \\zeta Z_{h+1}, \\qquad X_h = \\psi_h + X_{h+1}, \\qquad
    Y_h = \\psi_h\\,(u_h + \\beta_h Z_h) + \\eta\\,\\rho_h X_{h+1} + Y_{h+1},

with :math:`Z_T = X_T = Y_T = 0`; :math:`\\rho_h = \\rho_h(s_h,a_h,s_{h+1})` a per-step signal
(discounted reward, or the TD error of GAE), :math:`u_h(s_h,a_h)` a per-step weight
(baseline, exact critic) and :math:`\\eta = 1` only for the total return, whose past rewards
:math:`\\sum_{t'<t}\\rho_{t'}` multiply the later scores.  Given :math:`s_h = s` the
conditional moments :math:`\\mathbb E[Z], \\mathbb E[Z^2], \\mathbb E[X], \\mathbb E[XZ],
\\mathbb E[Y], \\mathbb E[YZ], \\mathbb E[XX^\\top], \\mathbb E[XY^\\top], \\mathbb E[YY^\\top]`
follow from those at step ``h+1`` by one sparse product with :math:`P`,
:math:`P\\circ\\rho` and :math:`P\\circ\\rho^2` each: cost :math:`O(T\\,(\\mathrm{nnz}(P) + SA)\\,d^2)`,
polynomial, never an enumeration.  Episodes stop at terminal states (moments 0 there).
Infinite horizons are truncated at ``T`` steps (:func:`truncation_bias_bound`).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from tabular_pg._checks import integer, positive_int
from tabular_pg.exact.evaluation import evaluate
from tabular_pg.exact.gradient import check_policy_fits
from tabular_pg.mdp import FiniteMDP
from tabular_pg.policies import Policy
from tabular_pg.sampled.baselines import is_number
from tabular_pg.sampled.estimators import (
    check_baseline,
    check_critic,
    check_lam,
    optimal_baseline,
    step_evaluation,
    value_table,
)
from tabular_pg.sampled.importance import check_importance, check_truncation, importance_spec
from tabular_pg.sampled.moments_blocks import linear_moments
from tabular_pg.sampled.moments_recursion import LinearSpec
from tabular_pg.sampled.rollout import TRUNCATION_TOL, reward_bound, truncation_horizon
from tabular_pg.sampled.samplers import rewards_on_support

__all__ = ["truncation_bias_bound", "fitted_baseline_mean", "fisher_moments",
           "visitation_moments", "LinearSpec", "linear_moments", "moment_horizon", "reinforce_spec",
           "qvalue_spec", "gae_spec", "check_samples", "FISHER_SAMPLES", "reward_exponent", "scaled_rewards",
           "scale_value", "scaled_moments", "SAFE_EXPONENT"]


#: Rewards with :math:`\\max|r|` outside :math:`[2^{-64}, 2^{64}]` are rescaled before the moments are computed.
SAFE_EXPONENT = 64


def reward_exponent(mdp: FiniteMDP) -> int:
    """``k`` with :math:`2^k \\le \\max|r| < 2^{k+1}` when that lies outside :math:`2^{\\pm}` :data:`SAFE_EXPONENT`;
    else 0.

    The moments are homogeneous in the rewards (the mean of degree 1, the covariance of degree
    2), so they can be computed with the rewards divided by :math:`2^k` (exact in binary
    floating point) and multiplied back: nothing inside overflows, e.g. :math:`r^2` at
    :math:`|r| \\ge 10^{155}`.

    Examples
    --------
    >>> import numpy as np, tabular_pg as tpg
    >>> reward_exponent(tpg.FiniteMDP(np.ones((1, 1, 1)), [[3e160]], [1.], 0.5)), reward_exponent(
    ...     tpg.FiniteMDP(np.ones((1, 1, 1)), [[3.0]], [1.], 0.5))
    (533, 0)
    """
    rmax = reward_bound(mdp)
    k = int(np.frexp(rmax)[1]) - 1 if rmax > 0 else 0
    return k if abs(k) > SAFE_EXPONENT else 0


def scaled_rewards(mdp: FiniteMDP, k: int) -> FiniteMDP:
    """``mdp`` with every reward (full rewards if given) multiplied by :math:`2^k`."""
    R = mdp.R if mdp.R_full is None else mdp.R_full
    return mdp.with_(R=R * np.ldexp(1.0, k))


def scale_value(value, k: int):
    """A number or array in reward units times :math:`2^k`; strings and None (named choices) as they are."""
    if value is None or isinstance(value, str):
        return value
    return np.ldexp(np.asarray(value, dtype=float), k)


def scaled_moments(mean: np.ndarray, cov: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(mean * 2^k, cov * 4^k)``; ValueError if either leaves the float64 range."""
    with np.errstate(over="ignore"):
        out = np.ldexp(mean, k), np.ldexp(cov, 2 * k)
    for name, scaled, value, degree in (("mean", out[0], mean, 1), ("covariance", out[1], cov, 2)):
        if not np.all(np.isfinite(scaled)):
            size = np.log10(np.abs(value).max()) + degree * k * np.log10(2)
            raise ValueError(f"the exact {name} of this estimator exceeds the float64 range (largest entry "
                             f"about 1e{size:.0f} > 1.8e308); it is homogeneous of degree {degree} in the "
                             f"rewards: divide the rewards by c (e.g. their maximum) and multiply the {name} "
                             f"by c{'' if degree == 1 else '^2'}")
    return out


def moment_horizon(mdp: FiniteMDP, tol: float = TRUNCATION_TOL) -> int:
    """Steps of the recursion: the MDP's horizon, or the rollout truncation at ``tol``."""
    if mdp.horizon is not None:
        return mdp.horizon
    if mdp.gamma >= 1:
        raise ValueError("moments of gamma = 1 episodic tasks need a horizon (mdp.with_(horizon=...))")
    return truncation_horizon(mdp.gamma, reward_bound(mdp), tol)


def _baseline_table(mdp, policy, theta, baseline, T, reward_to_go) -> np.ndarray:
    """Baseline ``b_t(s)``, shape ``(T, S)``, for the baselines of :data:`~tabular_pg.sampled.estimators.BASELINES`
    (not "fitted")."""
    S = mdp.n_states
    if baseline is None:
        return np.zeros((T, S))
    check_baseline(baseline)
    if is_number(baseline):
        return np.full((T, S), float(baseline))
    if baseline == "value":
        return step_evaluation(mdp, policy.probs(theta), T).V
    if baseline == "optimal":
        return optimal_baseline(mdp, policy, theta, T, reward_to_go)
    raise ValueError("baseline='fitted' depends on the whole batch, so it has no per-trajectory "
                     "moments; use fitted_baseline_mean(mdp, policy, theta, n) for its exact mean")


def _spec(T, S, A, u=None, beta=0.0, zeta=0.0, eta=0.0, c=None, e=None, f=None) -> LinearSpec:
    return LinearSpec(np.zeros((T, S, A)) if u is None else u, np.broadcast_to(np.asarray(beta, float), (T,)),
                      zeta, eta, np.zeros(T) if c is None else c, np.zeros((T, S)) if e is None else e,
                      np.zeros((T, S, A)) if f is None else f)


def reinforce_spec(mdp, policy, theta, T, reward_to_go=False, baseline=None, behaviour=None,
                   importance="per_decision", truncation=None) -> LinearSpec:
    """Weights of "Lecture 6: The Policy Gradient" eqs. 21 (total return: ``eta = 1``) and 26 (reward-to-go), baseline
    :math:`-\\gamma^t b_t(s)`.

    With ``behaviour`` (or ``truncation``): importance weighted
    (:func:`~tabular_pg.sampled.importance.importance_spec`).
    """
    S, A = mdp.n_states, mdp.n_actions
    disc = mdp.gamma ** np.arange(T)
    b = _baseline_table(mdp, policy, theta, baseline, T, reward_to_go)
    u = np.broadcast_to(-(disc[:, None] * b)[:, :, None], (T, S, A))
    spec = _spec(T, S, A, u=u, beta=1.0, zeta=1.0, eta=0.0 if reward_to_go else 1.0, c=disc)
    check_importance(importance)
    if behaviour is None and truncation is None:
        return spec
    check_truncation(truncation)
    return importance_spec(spec, policy.probs(theta), behaviour, reward_to_go, importance, truncation)


def qvalue_spec(mdp, policy, theta, T, critic="exact", advantage=False) -> LinearSpec:
    """Weights of "Policy Gradient (continued)": :math:`u_t = \\gamma^t Q_t` or :math:`\\gamma^t A_t` (exact critic);
    Monte Carlo = reward-to-go."""
    if critic == "monte_carlo":
        return reinforce_spec(mdp, policy, theta, T, True, "value" if advantage else None)
    check_critic(critic)
    ev = step_evaluation(mdp, policy.probs(theta), T)
    disc = mdp.gamma ** np.arange(T)
    return _spec(T, mdp.n_states, mdp.n_actions, u=disc[:, None, None] * (ev.A if advantage else ev.Q))


def gae_spec(mdp, policy, theta, T, lam, values="exact") -> LinearSpec:
    """Schulman et al. (2016) eq. 16: :math:`\\rho_t = \\delta_t`, :math:`\\zeta = \\gamma\\lambda`,
    :math:`\\beta_t = \\gamma^t`."""
    S, A = mdp.n_states, mdp.n_actions
    check_lam(lam)
    if isinstance(values, str):
        if values != "exact":
            raise ValueError(f"values must be 'exact' or an array (S,) / (T, S) for moments; got {values!r}")
        V = step_evaluation(mdp, policy.probs(theta), T).V.copy()
    else:
        V = value_table(values, T, S)
    V[:, mdp.terminal_states()] = 0.0
    V_next = np.vstack([V[1:], np.zeros((1, S))])
    f = np.broadcast_to(-V[:, :, None], (T, S, A))
    return _spec(T, S, A, beta=mdp.gamma ** np.arange(T), zeta=mdp.gamma * lam, c=np.ones(T),
                 e=mdp.gamma * V_next, f=f)


def _second_return_moment(mdp: FiniteMDP, pi: np.ndarray, V: np.ndarray) -> np.ndarray:
    """:math:`U(s,a) = \\mathbb E[\\hat Q^2 | s, a]` of the geometric-length return, shape ``(S, A)``.

    :math:`U = \\mathbb E[r^2] + 2\\gamma\\,\\mathbb E[r V(s')] + \\gamma P_\\pi U` (one sparse solve).
    """
    S, A = mdp.n_states, mdp.n_actions
    P = sp.csr_matrix(mdp.P_sa, copy=True)
    rows = np.repeat(np.arange(S * A), np.diff(P.indptr))
    r = rewards_on_support(mdp, P, rows)
    rhs = np.bincount(rows, weights=P.data * (r ** 2 + 2 * mdp.gamma * r * V[P.indices]), minlength=S * A)
    Pi = sp.csr_matrix((pi.reshape(-1), (np.repeat(np.arange(S), A), np.arange(S * A))), shape=(S, S * A))
    M = (sp.identity(S * A, format="csc") - mdp.gamma * (P @ Pi)).tocsc()
    return spla.spsolve(M, rhs).reshape(S, A)


def visitation_moments(mdp: FiniteMDP, policy: Policy, theta, critic: str = "exact",
                       advantage: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and covariance of :math:`\\frac{1}{1-\\gamma}\\psi(s,a)(\\hat Q - b(s))`, :math:`(s,a)\\sim d`.

    Notes
    -----
    "Lecture 15: Policy Optimization with Trust Regions" §1.  Mean :math:`\\frac{1}{1-\\gamma}\\sum d(s,a)\\psi Q`;
    second moment :math:`\\frac{1}{(1-\\gamma)^2}\\sum d(s,a)\\,\\mathbb E[(\\hat Q-b)^2|s,a]\\,\\psi\\psi^\\top`.

    Examples
    --------
    >>> import numpy as np, tabular_pg as tpg
    >>> mdp = tpg.FiniteMDP(np.full((2, 2, 2), .5), [[1., 0.], [0., 2.]], [.5, .5], gamma=0.8)
    >>> pol = tpg.TabularSoftmax(2, 2); th = np.array([.3, -.2, .1, .5])
    >>> m, C = visitation_moments(mdp, pol, th, critic="monte_carlo", advantage=True)
    >>> bool(np.allclose(m, tpg.policy_gradient(mdp, pol, th)))
    True
    """
    check_critic(critic)
    if mdp.horizon is not None or not mdp.gamma < 1:
        raise ValueError("the (s,a)~d estimator needs an infinite horizon with gamma < 1")
    pi = policy.probs(theta)
    ev = evaluate(mdp, pi)
    b = ev.V[:, None] if advantage else np.zeros((mdp.n_states, 1))
    q = ev.Q - b
    sq = q ** 2 if critic == "exact" else _second_return_moment(mdp, pi, ev.V) - 2 * b * ev.Q + b ** 2
    psi = policy.score(theta)
    scale = 1 / (1 - mdp.gamma)
    mean = scale * np.einsum("sa,sai->i", ev.d_sa * q, psi)
    second = scale ** 2 * np.einsum("sa,sai,saj->ij", ev.d_sa * sq, psi, psi)
    cov = second - np.outer(mean, mean)
    return mean, (cov + cov.T) / 2


#: What a sampled Fisher term is computed from (:func:`fisher_moments`).
FISHER_SAMPLES = ("trajectories", "visitation")


def check_samples(samples) -> None:
    """ValueError unless ``samples`` is one of :data:`FISHER_SAMPLES`."""
    if not (isinstance(samples, str) and samples in FISHER_SAMPLES):
        raise ValueError(f"samples must be one of {FISHER_SAMPLES}; got {samples!r}")


def fisher_moments(mdp: FiniteMDP, policy: Policy, theta, samples: str = "trajectories",
                   tol: float = TRUNCATION_TOL) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean ``(d, d)`` and covariance ``(d*d, d*d)`` (of the row-major vec) of one sampled Fisher term.

    Notes
    -----
    "Lecture 15: Policy Optimization with Trust Regions" §3.  ``samples="visitation"``: :math:`\\psi\\psi^\\top` at
    :math:`(s,a)\\sim d`
    (closed form).  ``"trajectories"``: the additive functional :math:`\\sum_t w_t\\,\\psi_t\\psi_t^\\top`
    with :math:`w_t = 1` (finite horizon) or :math:`(1-\\gamma)\\gamma^t` (truncated infinite
    horizon), by the recursion of the module docstring with
    :math:`\\mathrm{vec}(w_t\\psi\\psi^\\top)` in place of the score.  Its mean is
    :func:`tabular_pg.fisher_information` (of the truncation).  Cost grows as :math:`d^4`.

    Examples
    --------
    >>> import numpy as np, tabular_pg as tpg
    >>> mdp = tpg.FiniteMDP(np.full((2, 2, 2), .5), [[1., 0.], [0., 2.]], [1., 0.], 0.9, horizon=3)
    >>> pol = tpg.TabularSoftmax(2, 2); th = np.array([.3, -.2, .1, .5])
    >>> F, C = fisher_moments(mdp, pol, th)
    >>> bool(np.allclose(F, tpg.fisher_information(mdp, pol, th)))
    True
    """
    check_samples(samples)
    theta = policy.check_theta(theta)
    psi = policy.score(theta)
    d = psi.shape[-1]
    outer = (psi[..., :, None] * psi[..., None, :]).reshape(*psi.shape[:-1], d * d)
    if samples == "visitation":
        if mdp.horizon is not None or not mdp.gamma < 1:
            raise ValueError("samples='visitation' needs an infinite horizon with gamma < 1")
        d_sa = evaluate(mdp, policy.probs(theta)).d_sa
        mean = np.einsum("sa,sai->i", d_sa, outer)
        cov = np.einsum("sa,sai,saj->ij", d_sa, outer, outer) - np.outer(mean, mean)
        return mean.reshape(d, d), (cov + cov.T) / 2
    T = moment_horizon(mdp, tol)
    w = np.ones(T) if mdp.horizon is not None else (1 - mdp.gamma) * mdp.gamma ** np.arange(T)
    features = w[:, None, None, None] * np.broadcast_to(outer, (T, *outer.shape[-3:]))
    spec = _spec(T, mdp.n_states, mdp.n_actions, u=np.ones((T, mdp.n_states, mdp.n_actions)))
    mean, cov = linear_moments(mdp, policy, theta, spec, features)
    return mean.reshape(d, d), cov


def fitted_baseline_mean(mdp: FiniteMDP, policy: Policy, theta, n: int, tol: float = TRUNCATION_TOL) -> np.ndarray:
    """Exact mean of the batch REINFORCE estimate with the per-(step, state) fitted baseline.

    Notes
    -----
    With :math:`\\hat b_t(s)` the average of the batch's weights at ``(t, s)``, the term of
    episode ``i`` itself survives in :math:`\\mathbb E[\\psi_{it}\\hat b_t(s_{it})]`: with
    :math:`N = 1 + \\mathrm{Bin}(n-1, d_t(s))` visitors, :math:`\\mathbb E[1/N] = (1-(1-d_t(s))^n)/(n\\,d_t(s))`,

    .. math:: \\mathbb E[\\hat g] = \\nabla J - \\frac1n\\sum_t\\gamma^t\\sum_s (1-(1-d_t(s))^n)
              \\sum_a \\nabla\\pi_t(a|s) Q_t(s,a),

    for both total return and reward-to-go (past rewards are independent of :math:`a_t`).

    Examples
    --------
    >>> import numpy as np, tabular_pg as tpg
    >>> mdp = tpg.FiniteMDP(np.full((2, 2, 2), .5), [[1., 0.], [0., 2.]], [1., 0.], 0.9, horizon=2)
    >>> pol = tpg.TabularSoftmax(2, 2); th = np.array([.3, -.2, .1, .5])
    >>> bool(np.allclose(fitted_baseline_mean(mdp, pol, th, 1), 0))    # n = 1: the baseline is the return
    True
    """
    positive_int("n", n)
    check_policy_fits(mdp, policy)
    theta = policy.check_theta(theta)
    T = moment_horizon(mdp, tol)
    ev = step_evaluation(mdp, policy.probs(theta), T)
    disc = mdp.gamma ** np.arange(T)
    shrink = np.where(ev.d > 0, 1 - (1 - ev.d) ** n, 0.0)
    W = (disc[:, None] * (ev.d - shrink / n))[:, :, None] * ev.pi * ev.Q
    psi = np.broadcast_to(policy.score(theta), (*ev.Q.shape, policy.n_params))
    return np.einsum("tsa,tsai->i", W, psi)


def truncation_bias_bound(mdp: FiniteMDP, policy: Policy, theta, T: int) -> float:
    """Bound on :math:`\\|\\nabla J - \\nabla J_T\\|` for the ``T``-step truncation (infinite horizon).

    Notes
    -----
    :math:`\\nabla J - \\nabla J_T = \\sum_{t<T}\\gamma^t\\mathbb E[\\psi_t(Q - Q^{(T-t)})] +
    \\sum_{t\\ge T}\\gamma^t \\mathbb E[\\psi_t Q]` with :math:`|Q-Q^{(k)}|\\le\\gamma^k r_{\\max}/(1-\\gamma)`:

    .. math:: \\|\\nabla J - \\nabla J_T\\| \\le \\gamma^T \\bar\\psi\\, r_{\\max}
              \\frac{T + 1/(1-\\gamma)}{1-\\gamma}, \\quad
              \\bar\\psi = \\max_s \\mathbb E_{a\\sim\\pi}\\|\\psi(s,a)\\|.

    Examples
    --------
    >>> import numpy as np, tabular_pg as tpg
    >>> mdp = tpg.FiniteMDP(np.full((2, 2, 2), .5), [[1., 0.], [0., 2.]], [.5, .5], gamma=0.5)
    >>> pol = tpg.TabularSoftmax(2, 2); th = np.array([.3, -.2, .1, .5])
    >>> m, _ = tpg.estimator_moments(mdp, pol, th, "qvalue", tol=1e-3)
    >>> T = moment_horizon(mdp, 1e-3)
    >>> bool(np.linalg.norm(m - tpg.policy_gradient(mdp, pol, th)) <= truncation_bias_bound(mdp, pol, th, T))
    True
    """
    check_policy_fits(mdp, policy)
    if mdp.horizon is not None or not mdp.gamma < 1:
        raise ValueError("truncation_bias_bound is for infinite horizons with gamma < 1")
    integer("T", T, 0, "an int >= 0 (number of steps kept)")
    theta = policy.check_theta(theta)
    psi_bar = float(np.max((policy.probs(theta) * np.linalg.norm(policy.score(theta), axis=-1)).sum(axis=-1)))
    g = mdp.gamma
    return g ** T * psi_bar * reward_bound(mdp) * (T + 1 / (1 - g)) / (1 - g)
